"""Spoken narration for the synthetic web videos: espeak-ng speech, placed and muxed.

The training-data pipeline finds action names in a transcript (Whisper word times) and
matches them to localized clips, so the web videos need a real speech track whose
words fall where the ground truth says.  Each line of a narration script is synthesised
with ``espeak-ng --stdout``, placed at its desired time without overlapping the previous
line (pushed later, or earlier when it would run past the end), mixed into one mono
track and muxed as AAC next to the silent H.264 video with the ``ffmpeg`` CLI.

Both tools are deterministic for the same input, and the mux uses ``-fflags +bitexact``
and drops metadata, so the same script gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LINE_GAP",
    "NarrationError",
    "check_tools",
    "mix",
    "mux_audio",
    "parse_wav",
    "place_lines",
    "speak",
]

LINE_GAP = 0.2  # seconds of silence kept between two lines
END_MARGIN = 0.05  # a line must end this long before the video does


class NarrationError(RuntimeError):
    """espeak-ng or ffmpeg failed; the message names the tool, the input and its stderr."""


def check_tools() -> None:
    """Fail early (before any rendering) when the narration tools are missing."""
    missing = [t for t in ("espeak-ng", "ffmpeg") if shutil.which(t) is None]
    if missing:
        raise NarrationError(
            f"narrated web videos need {' and '.join(missing)} on PATH "
            "(Debian/Ubuntu: apt-get install espeak-ng ffmpeg; or pass --web-videos 0)"
        )


def parse_wav(data: bytes, text: str) -> tuple[np.ndarray, int]:
    """Parse espeak-ng's streamed WAV.  Its size fields are placeholders (0x7fff....)
    because it writes to a pipe, so the ``wave`` module cannot be used: take the format
    from the ``fmt`` chunk and everything after the ``data`` header as samples."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NarrationError(f"espeak-ng returned no WAV data for {text!r}")
    pos, rate, channels, bits = 12, 0, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
        elif cid == b"data":
            if channels != 1 or bits != 16:
                raise NarrationError(
                    f"espeak-ng WAV for {text!r} is {channels} ch / {bits} bit, expected mono 16-bit"
                )
            raw = data[pos + 8 :]
            raw = raw[: len(raw) - len(raw) % 2]
            return np.frombuffer(raw, dtype="<i2").astype(np.int16), rate
        pos += 8 + size + (size & 1)
    raise NarrationError(f"espeak-ng WAV for {text!r} has no data chunk")


def speak(text: str, voice: str = "en-us", speed: int = 160) -> tuple[np.ndarray, int]:
    """Synthesise one line: int16 mono samples and their sample rate."""
    cmd = ["espeak-ng", "--stdout", "-v", voice, "-s", str(int(speed)), text]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
    except FileNotFoundError as e:
        raise NarrationError("espeak-ng not found on PATH (apt-get install espeak-ng)") from e
    if proc.returncode != 0:
        raise NarrationError(f"espeak-ng failed on {text!r}: {proc.stderr.decode(errors='replace').strip()}")
    samples, rate = parse_wav(proc.stdout, text)
    nz = np.nonzero(np.abs(samples.astype(np.int32)) > 64)[0]  # trim espeak's silent padding
    if len(nz):
        samples = samples[max(0, nz[0] - rate // 100) : nz[-1] + rate // 100]
    return samples, rate


def place_lines(
    script: Sequence[dict[str, Any]],
    lengths: Sequence[float],
    duration: float,
) -> tuple[list[tuple[int, float]], int]:
    """Decide where each line starts.

    ``script`` items carry the desired start ``t``; ``lengths`` are the spoken durations.
    Lines keep their order, start no earlier than ``LINE_GAP`` after the previous line
    and end ``END_MARGIN`` before the video does; a line that cannot fit is dropped and
    counted (the ground truth lists only what is actually heard).  Returns
    ``[(script index, start)]`` and the number of dropped lines.
    """
    order = sorted(range(len(script)), key=lambda i: (float(script[i]["t"]), i))
    placed: list[tuple[int, float]] = []
    dropped = 0
    prev_end = -LINE_GAP
    for i in order:
        start = max(float(script[i]["t"]), prev_end + LINE_GAP, 0.0)
        latest = duration - END_MARGIN - lengths[i]
        if start > latest:
            start = latest
        if start < max(prev_end + LINE_GAP, 0.0) - 1e-9:
            dropped += 1
            continue
        placed.append((i, start))
        prev_end = start + lengths[i]
    return placed, dropped


def mix(
    clips: Sequence[tuple[float, np.ndarray]],
    duration: float,
    rate: int,
    *,
    noise_seed: int | None = None,
    noise_level: float = 0.002,
) -> np.ndarray:
    """One int16 track of exactly ``duration`` seconds with each ``(start, samples)``
    added in, plus (optionally) a faint seeded room noise so silence is not digital zero."""
    n = int(round(duration * rate))
    track = np.zeros(n, dtype=np.float32)
    if noise_seed is not None and noise_level > 0:
        track += np.random.default_rng(noise_seed).normal(0.0, noise_level * 32767.0, n).astype(np.float32)
    for start, samples in clips:
        i = int(round(start * rate))
        j = min(n, i + len(samples))
        if i < n and j > i:
            track[i:j] += samples[: j - i].astype(np.float32)
    return np.clip(np.rint(track), -32768, 32767).astype(np.int16)


def mux_audio(
    video: str | os.PathLike, audio: np.ndarray, rate: int, out: str | os.PathLike, *, bitrate: str = "48k"
) -> Path:
    """Write ``out`` = ``video``'s H.264 stream (copied) + ``audio`` as AAC, atomically."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.mp4")
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-i", str(video),
        "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "copy", "-c:a", "aac", "-b:a", bitrate,
        "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", "-map_chapters", "-1",
        str(tmp),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, input=audio.astype("<i2").tobytes(), capture_output=True, check=False, timeout=300
        )
        if proc.returncode != 0:
            raise NarrationError(
                f"ffmpeg could not mux audio into {out}: {proc.stderr.decode(errors='replace').strip()}"
            )
        os.replace(tmp, out)
    except FileNotFoundError as e:
        raise NarrationError("ffmpeg not found on PATH (apt-get install ffmpeg)") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return out

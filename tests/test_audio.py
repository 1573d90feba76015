"""The sound on the video's timeline (videonet_datasets.audio), in the containers crawls
bring: WebM/Opus, MP4/AAC (yt-dlp's merged m4a), MPEG-TS with MP2 or AAC, Matroska; with
the video starting before or after the sound.

Each file carries a 1 kHz beep that starts at a known time of the *video's* timeline
(seconds from its first displayed frame); the decoded samples must put it there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videonet_datasets.audio import decode_audio
from videonet_datasets.video import VideoDecodeError, probe_video

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

BEEP = 1.5  # seconds into the sound track


def _make(
    path: Path, video: list[str], audio: list[str], *, video_delay: float = 0.0, audio_delay: float = 0.0
) -> Path:
    cmd = ["ffmpeg", "-v", "error", "-y"]
    cmd += ["-itsoffset", str(video_delay), "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=3"]
    cmd += ["-itsoffset", str(audio_delay), "-f", "lavfi", "-i",
            f"sine=frequency=1000:sample_rate=48000:duration=3,volume='between(t,{BEEP},{BEEP + 0.4})':eval=frame"]  # fmt: skip
    cmd += ["-map", "0:v", "-map", "1:a", *video, *audio, str(path)]
    subprocess.run(cmd, check=True)
    return path


def _onset(samples: np.ndarray, rate: int) -> float:
    loud = np.flatnonzero(np.abs(samples) > 0.06)  # the sine peaks at 0.125
    assert len(loud), "no beep in the decoded audio"
    return loud[0] / rate


H264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-pix_fmt", "yuv420p"]


@pytest.mark.parametrize(
    "name, video, audio, video_delay, audio_delay",
    [
        ("web.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime"], ["-c:a", "libopus"], 0.0, 0.0),
        ("merged_m4a.mp4", H264, ["-c:a", "aac"], 0.0, 0.0),
        ("broadcast.ts", H264, ["-c:a", "mp2"], 0.0, 0.0),
        ("broadcast_aac.ts", H264, ["-c:a", "aac"], 0.0, 0.0),
        ("video_later.mkv", H264, ["-c:a", "aac"], 0.6, 0.0),
        ("video_later.ts", H264, ["-c:a", "mp2"], 0.6, 0.0),
        ("audio_later.mkv", H264, ["-c:a", "libopus"], 0.0, 0.45),
        (
            "audio_later.webm",
            ["-c:v", "libvpx-vp9", "-deadline", "realtime"],
            ["-c:a", "libvorbis"],
            0.0,
            0.45,
        ),
    ],
)
def test_beep_lands_on_the_video_timeline(
    tmp_path: Path, name: str, video: list[str], audio: list[str], video_delay: float, audio_delay: float
) -> None:
    path = _make(tmp_path / name, video, audio, video_delay=video_delay, audio_delay=audio_delay)
    got = decode_audio(path)
    assert got is not None and got.sample_rate == 16000 and got.samples.dtype == np.float32
    # On the video's timeline (0 = its first frame) the beep is where the sound put it.
    want = BEEP + audio_delay - video_delay
    assert got.start + _onset(got.samples, got.sample_rate) == pytest.approx(want, abs=0.02)
    assert got.seconds == pytest.approx(3.0, abs=0.1)
    assert probe_video(path).duration == pytest.approx(3.0, abs=0.05)


def test_gap_in_the_sound_is_kept_as_silence(tmp_path: Path) -> None:
    # Two pieces of sound 1 s apart in one stream (a capture that lost its signal).
    a = _make(tmp_path / "a.ts", H264, ["-c:a", "mp2"])
    cut = tmp_path / "gap.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(a), "-map", "0", "-c", "copy",
         "-bsf:a", "noise=drop='between(pts*tb,0.5,1.0)'", str(cut)],
        check=True,
    )  # fmt: skip
    got = decode_audio(cut)
    assert got is not None
    assert got.start + _onset(got.samples, got.sample_rate) == pytest.approx(BEEP, abs=0.03)


def test_no_audio_and_bad_files(tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:duration=1", *H264, str(silent)],
        check=True,
    )
    assert decode_audio(silent) is None
    with pytest.raises(FileNotFoundError):
        decode_audio(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoDecodeError) as e:
        decode_audio(junk)
    assert str(junk) in str(e.value)
    # An audio-only file: its own sound is its timeline.
    tone = tmp_path / "tone.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(tone)],
        check=True,
    )
    got = decode_audio(tone)
    assert (
        got is not None
        and got.start == pytest.approx(0.0, abs=0.03)
        and got.seconds == pytest.approx(1.0, abs=0.05)
    )

"""A video's sound on the video's own timeline, for speech recognition.

Word times must land on the same axis as the windows they are matched with: seconds from
the video's first displayed frame (:mod:`videonet_datasets.video`).  A file's audio does
not start there: an MPEG-TS capture's audio leads its video by a few frames, an edited MP4
may start its video half a second after its sound, AAC and Opus hide encoder priming
behind an edit list or a codec delay.  :func:`decode_audio` decodes the first audio stream
(WebM/Opus, MP4/M4A/AAC, MPEG-TS/MP2/AAC/AC-3, anything FFmpeg reads) to 16 kHz mono and
says where its first sample sits on the video's timeline; gaps in the stream's timestamps
are filled with silence so that every later sample stays in place.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import av
import numpy as np

from videonet_datasets.video import VideoDecodeError, probe_video

__all__ = ["Audio", "decode_audio"]

log = logging.getLogger(__name__)

# A jump in the audio's timestamps longer than this is a gap (filled with silence); shorter
# ones are rounding and resampler latency.
_GAP_SECONDS = 0.2


@dataclass
class Audio:
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    start: float  # seconds on the video's timeline of samples[0] (< 0: the sound starts first)
    skipped_packets: int = 0  # undecodable packets left out (counted, their time kept as silence)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(path: str | os.PathLike, sample_rate: int = 16000) -> Audio | None:
    """The first audio stream of ``path`` as 16 kHz mono float32 on the video's timeline,
    or ``None`` when the file has no audio stream.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`~videonet_datasets.video.VideoDecodeError` for a file FFmpeg cannot open.
    """
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise
    except (av.FFmpegError, OSError) as e:
        raise VideoDecodeError(path, f"cannot open ({e})") from e
    with container:
        if not container.streams.audio:
            return None
        has_video = bool(container.streams.video)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        written = 0
        first: float | None = None  # the stream's time of samples[0]
        skipped = 0

        def add(frames: list[av.AudioFrame]) -> None:
            nonlocal written
            for out in frames:
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                written += len(chunks[-1])

        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                skipped += 1  # a corrupt packet: its time becomes silence below
                continue
            for frame in decoded:
                t = frame.time
                if first is None:
                    first = t if t is not None else 0.0
                elif t is not None:
                    gap = round((t - first) * sample_rate) - written
                    if gap > _GAP_SECONDS * sample_rate:
                        chunks.append(np.zeros(gap, np.float32))
                        written += gap
                add(resampler.resample(frame))
        add(resampler.resample(None))
    if first is None:
        return Audio(np.zeros(0, np.float32), sample_rate, 0.0, skipped)
    # The video's timeline starts at its first displayed frame; an audio-only file's at its sound.
    origin = probe_video(path).start_time if has_video else first
    if skipped:
        log.debug("%s: %d undecodable audio packets skipped", path, skipped)
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Audio(samples, sample_rate, first - origin, skipped)

"""The project's one frame sampler, plus probing, trimming and writing of videos (PyAV).

Every part of the toolkit (benchmark builder, lmms-eval tasks, training-data pipeline,
fine-tuning) decodes through :func:`sample_frames`, so that evaluation and training see
exactly the same frames for the same clip.

Sampling rules (VideoNet paper, App. C.2 and §4.2):

* ``fps=S, max_frames=F``: one frame every ``1/S`` seconds from the clip start; when the
  clip is longer than ``F/S`` seconds, ``F`` frames uniformly instead.
* ``num_frames=N``: ``N`` frames uniformly (InternVL-style segment mid-points, so
  ``N=1`` is the middle frame).
* ``middle=True``: the single middle frame (the paper's image-bias ablation).

"The frame at time t" is the frame on screen at t (the last frame whose presentation
time is <= t), so a returned timestamp is never more than one frame period before the
requested time and never after it.  Frames are picked by presentation timestamp, not by
index, which keeps variable-frame-rate videos exact.

Decoding seeks to the keyframe before the window and, when the next requested time is
far ahead, seeks again instead of decoding the gap: a 6 s window of a long source video
costs a few GOPs, not the whole file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.codec.context
import numpy as np

__all__ = [
    "Frames",
    "VideoDecodeError",
    "VideoInfo",
    "probe_video",
    "sample_frames",
    "sample_times",
    "trim_clip",
    "write_video",
]

PathLike = str | os.PathLike


class VideoDecodeError(RuntimeError):
    """A video file that cannot be opened or decoded; the message names the file."""

    def __init__(self, path: PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns from a file's headers (and its first frame)."""

    path: str
    duration: float  # seconds, from the first frame's start to the end of the stream
    fps: float  # average frame rate
    width: int
    height: int
    num_frames: int  # from the header when present, else estimated as duration * fps
    start_time: float  # presentation time of the first frame, seconds
    codec: str
    has_audio: bool


@dataclass
class Frames:
    """Frames returned by :func:`sample_frames`.

    ``timestamps`` are the presentation times of the returned frames in seconds relative
    to the clip start (clamped at 0 for the frame already on screen when the clip
    starts); ``requested`` are the times that were asked for.  Both are what models that
    take per-frame timestamps (Molmo2, Qwen3-VL) need.
    """

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    timestamps: np.ndarray  # (N,) float64, seconds relative to the clip start
    requested: np.ndarray  # (N,) float64, seconds relative to the clip start
    clip_start: float  # absolute seconds in the source video
    clip_end: float  # absolute seconds in the source video
    video_fps: float
    source: str = ""
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        return self.clip_end - self.clip_start


def sample_times(
    duration: float,
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    num_frames: int | None = None,
    middle: bool = False,
) -> np.ndarray:
    """Times (seconds from the clip start) at which frames are taken.

    Pure function of the clip duration, so the rule is testable without any video and
    identical wherever it is used.  Exactly one of ``fps``, ``num_frames`` or
    ``middle`` selects the mode; ``max_frames`` caps ``fps`` sampling by switching to
    uniform sampling of ``max_frames`` frames (the paper's "S fps, max F").
    """
    modes = sum(x is not None and x is not False for x in (fps, num_frames, middle or None))
    if modes != 1:
        raise ValueError("give exactly one of fps=, num_frames= or middle=True")
    if not (duration > 0 and math.isfinite(duration)):
        raise ValueError(f"clip duration must be a positive number of seconds, got {duration!r}")
    if middle:
        return np.array([duration / 2.0])
    if num_frames is not None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        return _uniform(duration, int(num_frames))
    assert fps is not None
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    # A tiny epsilon keeps 5.0 s at 4 fps at exactly 20 frames despite float error.
    n = max(1, math.ceil(duration * fps - 1e-9))
    if max_frames is not None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        if n > max_frames:
            return _uniform(duration, int(max_frames))
    return np.arange(n, dtype=np.float64) / float(fps)


def _uniform(duration: float, n: int) -> np.ndarray:
    # Segment mid-points: symmetric over the clip, and n=1 is the middle frame.
    return (np.arange(n, dtype=np.float64) + 0.5) * (duration / n)


# ----------------------------------------------------------------------------- probing


def _open(path: PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: video file not found")
    if p.is_dir():
        raise VideoDecodeError(path, "is a directory, not a video file")
    try:
        return av.open(str(p), mode="r")
    except av.FFmpegError as e:  # InvalidDataError, etc.
        raise VideoDecodeError(path, f"cannot open as a video ({_ffmpeg_reason(e)})") from e


def _ffmpeg_reason(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(":")[-1].strip() if isinstance(msg, str) and ":" in msg else str(msg)


def _video_stream(container: av.container.InputContainer, path: PathLike) -> av.video.stream.VideoStream:
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "has no video stream")
    return container.streams.video[0]


def _stream_start(stream: av.video.stream.VideoStream) -> float:
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _stream_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


def probe_video(path: PathLike, *, decode_check: bool = True) -> VideoInfo:
    """Read a video's duration, frame rate and size; with ``decode_check``, decode its
    first frame too (a file whose header parses can still be undecodable)."""
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        fps = _stream_fps(stream)
        start = _stream_start(stream)
        duration = _stream_duration(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        if decode_check:
            try:
                first = next(container.decode(stream), None)
            except av.FFmpegError as e:
                raise VideoDecodeError(path, f"cannot decode its frames ({_ffmpeg_reason(e)})") from e
            if first is None:
                raise VideoDecodeError(path, "contains no decodable video frames")
            width, height = first.width, first.height
        if duration is None or duration <= 0:
            raise VideoDecodeError(path, "has no usable duration in its header")
        n = stream.frames or round(duration * fps)
        return VideoInfo(
            path=str(path),
            duration=duration,
            fps=fps,
            width=int(width),
            height=int(height),
            num_frames=int(n),
            start_time=start,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )
    finally:
        container.close()


# ---------------------------------------------------------------------------- decoding


def _frame_time(frame: av.VideoFrame, fallback_index: int, fps: float) -> float:
    t = frame.time
    if t is None:
        return fallback_index / fps if fps else float(fallback_index)
    return float(t)


def _iter_decoded(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: PathLike,
) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"decoding failed ({_ffmpeg_reason(e)})") from e


def _seek(container: av.container.InputContainer, stream: av.video.stream.VideoStream, t: float, path: PathLike) -> None:
    """Seek to the keyframe at or before absolute time ``t`` (seconds)."""
    try:
        container.seek(max(0, int(t / stream.time_base)), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"seeking to {t:.3f}s failed ({_ffmpeg_reason(e)})") from e


def _pick(
    path: PathLike,
    targets: np.ndarray,
    *,
    window_start: float,
    window_end: float,
    threads: int,
) -> tuple[list[av.VideoFrame], list[float], float]:
    """Decode the frames on screen at each absolute time in ``targets`` (ascending).

    Returns the frames, their presentation times and the stream's frame rate.  Seeks to
    the keyframe before the first target, and again whenever the next target lies more
    than two GOPs ahead of the decoder (measured from the keyframes seen so far).
    """
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        if threads == 1:
            stream.thread_type = "SLICE"
            stream.thread_count = 1
        else:
            stream.thread_type = "AUTO"
            stream.thread_count = threads  # 0 = FFmpeg's choice
        fps = _stream_fps(stream)
        period = 1.0 / fps if fps else 0.04
        first_pts = _stream_start(stream)
        picked: list[av.VideoFrame] = []
        times: list[float] = []
        j, n = 0, len(targets)
        # No seek for a window at the very beginning: saves a demuxer reset.
        if targets[0] - first_pts > 2 * period:
            _seek(container, stream, float(targets[0]), path)
        prev: av.VideoFrame | None = None
        prev_t = -math.inf
        last_key_t: float | None = None
        gop = 0.0  # largest keyframe interval seen
        count = 0
        for frame in _iter_decoded(container, stream, path):
            t = _frame_time(frame, count, fps)
            count += 1
            if frame.key_frame:
                if last_key_t is not None and t > last_key_t:
                    gop = max(gop, t - last_key_t)
                last_key_t = t
            if t >= window_end and prev is not None and prev_t >= window_start - period:
                # Past the clip: every remaining target gets the last frame inside it.
                break
            while j < n and targets[j] < t:
                # ``prev`` is on screen at targets[j]; before the first frame, use this one.
                if prev is not None and prev_t <= targets[j]:
                    picked.append(prev)
                    times.append(prev_t)
                else:
                    picked.append(frame)
                    times.append(t)
                j += 1
            if j >= n:
                break
            prev, prev_t = frame, t
            nxt = float(targets[j])
            if gop > 0 and nxt - t > 2 * gop + period:
                _seek(container, stream, nxt, path)
                prev, prev_t = None, -math.inf
        while j < n:
            if prev is None:
                raise VideoDecodeError(
                    path, f"no frame at or before {float(targets[j]):.3f}s (window {window_start:.3f}-{window_end:.3f}s)"
                )
            picked.append(prev)
            times.append(prev_t)
            j += 1
        return picked, times, fps
    finally:
        container.close()


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format="rgb24")
    h, w = size
    # sws_scale resizes and converts colour in one pass (far cheaper than PIL).
    return frame.reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR").to_ndarray()


def _resolve_size(size: int | tuple[int, int] | None, width: int, height: int) -> tuple[int, int] | None:
    """``size``: ``(H, W)``, or an int for the short side (aspect kept, even dimensions)."""
    if size is None:
        return None
    if isinstance(size, int):
        scale = size / min(width, height)
        h = max(2, int(round(height * scale / 2)) * 2)
        w = max(2, int(round(width * scale / 2)) * 2)
        return h, w
    h, w = size
    return int(h), int(w)


def sample_frames(
    path: PathLike,
    fps: float | None = None,
    max_frames: int | None = None,
    start: float | None = None,
    end: float | None = None,
    *,
    num_frames: int | None = None,
    middle: bool = False,
    size: int | tuple[int, int] | None = None,
    threads: int = 0,
) -> Frames:
    """Decode the frames of ``path`` between ``start`` and ``end`` (seconds in the
    source video; ``None`` = its beginning / end) by the paper's sampling rules.

    ``size`` resizes during colour conversion: an int is the short side, a tuple is
    ``(H, W)``.  ``threads=0`` lets FFmpeg use every core (fastest for one clip);
    data loaders that decode one clip per core should pass ``threads=1``.

    Raises ``FileNotFoundError`` for a missing file, :class:`VideoDecodeError` for a
    corrupt one or a window that holds no frame, ``ValueError`` for bad arguments.
    """
    if fps is None and num_frames is None and not middle:
        raise ValueError("give fps= (optionally with max_frames=), num_frames= or middle=True")
    if max_frames is not None and fps is None:
        raise ValueError("max_frames= caps fps= sampling; for a fixed count use num_frames=")
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        first_pts = _stream_start(stream)
        total = _stream_duration(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
    finally:
        container.close()
    clip_start = first_pts if start is None else float(start)
    if end is None:
        if total is None:
            raise VideoDecodeError(path, "has no duration in its header; pass end= explicitly")
        clip_end = first_pts + total
    else:
        clip_end = float(end)
    if clip_start < 0:
        raise ValueError(f"{path}: start must be >= 0, got {clip_start}")
    if clip_end <= clip_start:
        raise ValueError(f"{path}: end ({clip_end}) must be greater than start ({clip_start})")
    rel = sample_times(clip_end - clip_start, fps=fps, max_frames=max_frames, num_frames=num_frames, middle=middle)
    targets = clip_start + rel
    picked, times, video_fps = _pick(path, targets, window_start=clip_start, window_end=clip_end, threads=threads)
    out_size = _resolve_size(size, picked[0].width or width, picked[0].height or height)
    # Convert each distinct frame once (short clips at high fps repeat frames).
    cache: dict[int, np.ndarray] = {}
    arrays = []
    for f in picked:
        key = id(f)
        if key not in cache:
            cache[key] = _to_rgb(f, out_size)
        arrays.append(cache[key])
    ts = np.maximum(np.asarray(times, dtype=np.float64) - clip_start, 0.0)
    indices = np.rint(np.asarray(times) * video_fps).astype(np.int64) if video_fps else np.zeros(len(times), np.int64)
    return Frames(
        frames=np.stack(arrays),
        timestamps=ts,
        requested=rel,
        clip_start=clip_start,
        clip_end=clip_end,
        video_fps=video_fps,
        source=str(path),
        indices=indices,
    )


# ---------------------------------------------------------------------------- writing


def _encoder_options(crf: int, preset: str, gop: int) -> dict[str, str]:
    return {
        "crf": str(crf),
        "preset": preset,
        "g": str(max(1, gop)),
        "bf": "0",
        # x264's own multi-threading is deterministic; bitexact drops version strings
        # that would make rebuilt files differ between machines.
        "flags": "+bitexact",
    }


def write_video(
    path: PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    gop_seconds: float = 1.0,
    time_base_fps: Fraction | None = None,
) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 mp4 at a constant ``fps``.

    Written to a temporary name and renamed, so an interrupted job never leaves a
    half-written file under the final name.  Deterministic for the same frames.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.mp4")
    rate = time_base_fps or Fraction(fps).limit_denominator(1001)
    n = 0
    try:
        with av.open(str(tmp), mode="w", options={"fflags": "+bitexact"}) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.options = _encoder_options(crf, preset, int(round(float(rate) * gop_seconds)))
            stream.codec_context.flags |= av.codec.context.Flags.bitexact
            for arr in frames:
                if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
                    raise ValueError(f"frames must be (H, W, 3) uint8, got {arr.shape} {arr.dtype}")
                if n == 0:
                    h, w = arr.shape[:2]
                    if h % 2 or w % 2:
                        raise ValueError(f"H.264 needs even frame sizes, got {w}x{h}")
                    stream.width, stream.height = w, h
                frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
                frame.pts = n
                frame.time_base = Fraction(1, 1) / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
                n += 1
            if n == 0:
                raise ValueError(f"{out}: no frames to write")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def trim_clip(
    src: PathLike,
    dst: PathLike,
    start: float | None = None,
    end: float | None = None,
    *,
    crf: int = 20,
    preset: str = "veryfast",
    gop_seconds: float = 1.0,
    short_side: int | None = None,
    threads: int = 0,
) -> Path:
    """Cut ``[start, end)`` of ``src`` into a new, silent, H.264 file ``dst``.

    Re-encodes (rather than ``-c copy``) so the clip starts on its own keyframe with a
    short GOP: every later load samples it cheaply and exactly, and no hidden frames
    from before ``start`` ride along behind an edit list.  Frame times are kept (the
    output's first frame is at 0 s), so variable-frame-rate sources stay exact.
    The file appears atomically under its final name.
    """
    info = probe_video(src, decode_check=False)
    t0 = info.start_time if start is None else float(start)
    t1 = info.start_time + info.duration if end is None else float(end)
    if t1 <= t0:
        raise ValueError(f"{src}: end ({t1}) must be greater than start ({t0})")
    out = Path(dst)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.mp4")
    in_c = _open(src)
    try:
        in_s = _video_stream(in_c, src)
        in_s.thread_type = "AUTO"
        in_s.thread_count = threads
        fps = _stream_fps(in_s) or 25.0
        period = 1.0 / fps
        if t0 - info.start_time > 2 * period:
            _seek(in_c, in_s, t0, src)
        rate = Fraction(fps).limit_denominator(1001)
        tb = Fraction(1, 90000)
        size: tuple[int, int] | None = None
        n = 0
        with av.open(str(tmp), mode="w", options={"fflags": "+bitexact"}) as out_c:
            out_s = out_c.add_stream("libx264", rate=rate)
            out_s.pix_fmt = "yuv420p"
            out_s.time_base = tb
            out_s.options = _encoder_options(crf, preset, int(round(fps * gop_seconds)))
            out_s.codec_context.flags |= av.codec.context.Flags.bitexact
            prev: av.VideoFrame | None = None
            prev_t = -math.inf
            origin: float | None = None  # source time of the output's first frame

            def emit(frame: av.VideoFrame, t: float) -> None:
                nonlocal size, n, origin
                if origin is None:
                    origin = t
                if size is None:
                    if short_side:
                        size = _resolve_size(short_side, frame.width, frame.height)
                    else:
                        size = (frame.height - frame.height % 2, frame.width - frame.width % 2)
                    out_s.height, out_s.width = size
                img = frame.reformat(width=size[1], height=size[0], format="yuv420p", interpolation="BILINEAR")
                # Rebase on the first emitted frame: frame spacing stays exactly as in
                # the source (an unaligned ``start`` would otherwise jitter it).
                img.pts = int(round((t - origin) / tb))
                img.time_base = tb
                for packet in out_s.encode(img):
                    out_c.mux(packet)
                n += 1

            last_t = -math.inf
            for frame in _iter_decoded(in_c, in_s, src):
                t = _frame_time(frame, n, fps)
                if t >= t1:
                    break
                if t <= t0:
                    prev, prev_t = frame, t  # the frame on screen at t0
                    continue
                if prev is not None:
                    emit(prev, prev_t)
                    last_t = prev_t
                    prev = None
                if t <= last_t:
                    continue  # a repeated timestamp
                emit(frame, t)
                last_t = t
            if prev is not None:  # the window holds a single (still) frame
                emit(prev, prev_t)
            if n == 0:
                raise VideoDecodeError(src, f"no frames between {t0:.3f}s and {t1:.3f}s")
            for packet in out_s.encode():
                out_c.mux(packet)
        os.replace(tmp, out)
    finally:
        in_c.close()
        if tmp.exists():
            tmp.unlink()
    return out

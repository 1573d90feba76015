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

Decoding is planned from the packets (:class:`_GopPlanner`): the demuxer runs one
keyframe group ahead of the decoder, so every frame's presentation time is known before
anything is decoded.  Groups without a requested frame are never decoded (long gaps are
sought over), a group is fed only up to the packet of its last requested frame, and
non-reference frames nobody asked for are skipped by the decoder (``skip_frame``).  A 6 s
window of a long source video costs about its own GOPs at roughly half the decode work;
64 frames spread over a minute cost well under a full decode.  Streams without packet
timestamps or keyframe flags fall back to decoding in order from one seek.  The
benchmark (``python -m bench sampler``) compares this with torchcodec, decord, OpenCV
and the ffmpeg CLI.
"""

from __future__ import annotations

import bisect
import itertools
import logging
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
log = logging.getLogger(__name__)


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


def _stream_duration(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
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

# A frame requested this far past the last frame of the stream is not "the last frame
# still on screen": the file stops early (truncated) or the window ends past the video.
_END_TOLERANCE_S = 1.0
# A group of packets larger than this means the keyframe flags are missing or useless;
# planning would hold the whole file in memory, so decode sequentially instead.
_MAX_GROUP_BYTES = 256 << 20


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


def _seek(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, t: float, path: PathLike
) -> None:
    """Seek to the keyframe at or before absolute time ``t`` (seconds)."""
    _seek_pts(container, stream, max(0, int(t / stream.time_base)), path)


def _seek_pts(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, pts: int, path: PathLike
) -> None:
    try:
        container.seek(int(pts), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError as e:
        raise VideoDecodeError(
            path, f"seeking to {float(pts * stream.time_base):.3f}s failed ({_ffmpeg_reason(e)})"
        ) from e


def _configure_threads(stream: av.video.stream.VideoStream, threads: int) -> None:
    if threads == 1:
        stream.thread_type = "SLICE"
        stream.thread_count = 1
    else:
        stream.thread_type = "AUTO"  # frame + slice threads
        stream.thread_count = threads  # 0 = FFmpeg's choice


def _to_pts(t: float, time_base: Fraction) -> int:
    """The largest pts whose time is <= ``t`` (exact rational arithmetic, tiny slack for
    float noise in ``t``)."""
    return math.floor(t * time_base.denominator / time_base.numerator + 1e-3)


def _past_end_error(path: PathLike, want: float, last: float, header_end: float | None) -> VideoDecodeError:
    if header_end is not None and last + _END_TOLERANCE_S < header_end:
        why = f"although its header says it lasts until {header_end:.3f}s: the file is truncated or corrupt"
    else:
        why = "the window ends past the end of the video"
    return VideoDecodeError(
        path, f"a frame at {want:.3f}s was requested but the video's frames stop at {last:.3f}s; {why}"
    )


class _Collector:
    """Output slots of :func:`sample_frames`.

    Each distinct frame is converted to RGB once, the moment the decoder produces it, and
    copied into every slot that asked for it; decoded pictures are never held, so peak
    memory is the output array plus the decoder's own buffers.
    """

    def __init__(self, n: int, size: int | tuple[int, int] | None, time_base: Fraction):
        self.n = n
        self.size = size
        self.time_base = time_base
        self.frames: np.ndarray | None = None
        self.pts = np.zeros(n, dtype=np.int64)
        self.filled = np.zeros(n, dtype=bool)

    def put(self, frame: av.VideoFrame, slots: list[int], pts: int) -> None:
        if self.frames is None:
            shape = _resolve_size(self.size, frame.width, frame.height) or (frame.height, frame.width)
            self.frames = np.empty((self.n, *shape, 3), dtype=np.uint8)
        h, w = self.frames.shape[1:3]
        # A resize is only requested when needed (also covers mid-stream size changes).
        rgb = _to_rgb(frame, None if (frame.height, frame.width) == (h, w) else (h, w))
        for s in slots:
            self.frames[s] = rgb
            self.pts[s] = pts
            self.filled[s] = True

    @property
    def times(self) -> np.ndarray:
        """Presentation times of the collected frames, seconds (absolute)."""
        tb = self.time_base
        return np.array([float(int(p) * tb) for p in self.pts], dtype=np.float64)


class _Unplannable(Exception):
    """The packets lack what GOP planning needs; decode sequentially instead."""


@dataclass
class _Group:
    """The packets from one keyframe up to the next, in decode order."""

    packets: list[av.Packet]
    shown: list[int]  # sorted pts of the frames the decoder will output (not discarded)

    @property
    def key_pts(self) -> int:
        return int(self.packets[0].pts)

    @property
    def start(self) -> int:  # where this group's display span begins
        return self.shown[0] if self.shown else self.key_pts

    @property
    def end(self) -> int:
        return self.shown[-1] if self.shown else self.key_pts


class _GroupReader:
    """Demuxes one video stream into keyframe-led groups of packets (no decoding)."""

    def __init__(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: PathLike
    ):
        self.container, self.stream, self.path = container, stream, path
        self._packets: Iterator[av.Packet] | None = None
        self._held: av.Packet | None = None  # the keyframe that opens the next group
        self.orphans = 0  # packets before the first keyframe after a seek (undecodable)

    def seek(self, pts: int) -> None:
        _seek_pts(self.container, self.stream, pts, self.path)
        self._packets, self._held = None, None

    def next_group(self) -> _Group | None:
        packets: list[av.Packet] = [self._held] if self._held is not None else []
        self._held = None
        nbytes = sum(p.size for p in packets)
        if self._packets is None:
            self._packets = self.container.demux(self.stream)
        try:
            for packet in self._packets:
                if packet.size == 0:
                    continue  # end-of-stream marker
                if packet.pts is None:
                    raise _Unplannable("packets without presentation timestamps")
                if packet.is_keyframe:
                    if packets:
                        self._held = packet
                        break
                elif not packets:
                    self.orphans += 1
                    continue
                packets.append(packet)
                nbytes += packet.size
                if nbytes > _MAX_GROUP_BYTES:
                    raise _Unplannable("no keyframe in more than 256 MB of packets")
        except av.FFmpegError as e:
            raise VideoDecodeError(self.path, f"reading packets failed ({_ffmpeg_reason(e)})") from e
        if not packets:
            return None
        return _Group(packets, sorted(int(p.pts) for p in packets if not p.is_discard))


class _GopPlanner:
    """Decodes only what the requested frames need.

    Packets are demuxed (cheap) one keyframe group ahead of decoding (expensive), so
    before a group is decoded the planner knows the presentation time of every frame in
    it and where the next group's display span begins.  Hence it can

    * skip whole groups that hold no requested frame (not even feed them to the decoder),
      and seek over long gaps instead of reading them;
    * stop feeding a group after the packet of its last requested frame and drain;
    * tell the decoder to skip non-reference frames that are not requested
      (``skip_frame=NONREF``; about half of an H.264 stream with B-frames), which changes
      no other frame's pixels.

    Frames are matched by presentation timestamp, so the result equals a full decode.
    Open GOPs (leading pictures of a group that show before its keyframe) are handled by
    feeding the previous group whole when such a picture is requested.
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        path: PathLike,
        targets: list[int],
        collector: _Collector,
        header_end: float | None,
    ):
        self.stream, self.path, self.targets, self.out = stream, path, targets, collector
        self.cc = stream.codec_context
        self.reader = _GroupReader(container, stream, path)
        self.header_end = header_end
        tb = stream.time_base
        self.tb = tb
        self.first_pts = int(stream.start_time) if stream.start_time is not None else 0
        self.second = max(1, _to_pts(1.0, tb))
        fps = _stream_fps(stream)
        self.period = max(1, _to_pts(1.0 / fps, tb)) if fps else self.second // 25
        self.j = 0  # first target not yet assigned to a frame
        self.want: dict[int, list[int]] = {}  # pts -> slots waiting for that frame
        self.at_start = True  # the current run of groups began at the stream's start
        self.seekable = True
        self.continuous = False  # the decoder has consumed every packet before the current group
        self.busy = False  # packets were fed since the last flush
        self.skip = self.cc.skip_frame
        self.gop = 0  # longest keyframe interval seen, pts
        self.packets_fed = 0  # work done, for the debug log
        self.frames_decoded = 0

    # -- positioning ---------------------------------------------------------------
    def _seek_before(self, t: int, after: int | None) -> _Group | None:
        """The first group of a run that starts at or before pts ``t``.

        Seeks to ``t``; a demuxer that lands after ``t`` (no index, coarse seeking) is
        asked again further back, and as a last resort the stream is read from its start.
        ``after`` (the group being left) guards against seeks that do not move forward.
        """
        self.continuous = False
        target = t
        for attempt in range(3):
            self.reader.seek(target)
            group = self.reader.next_group()
            if group is None:
                break
            if after is not None and group.key_pts <= after:
                self.seekable = False  # the index does not help; just read on from here
            if group.start <= t:
                self.at_start = False
                return group
            target = min(target, group.key_pts) - (attempt + 1) * max(self.gop, self.second)
            if target <= self.first_pts:
                break
        self.seekable = False
        self.at_start = True
        self.reader.seek(self.first_pts)
        return self.reader.next_group()

    def _far(self, nxt: _Group) -> bool:
        """Is the next target so far past ``nxt`` that seeking beats reading on?"""
        if not self.seekable or self.j >= len(self.targets):
            return False
        return self.targets[self.j] - nxt.end > 2 * max(self.gop, self.second)

    # -- decoding ------------------------------------------------------------------
    def _decode(self, packet: av.Packet | None) -> None:
        try:
            frames = self.cc.decode(packet)
        except av.FFmpegError as e:
            where = (
                f" near {float(packet.pts * self.tb):.3f}s"
                if packet is not None and packet.pts is not None
                else ""
            )
            raise VideoDecodeError(self.path, f"decoding failed{where} ({_ffmpeg_reason(e)})") from e
        if packet is not None:
            self.busy = True
            self.packets_fed += 1
        for frame in frames:
            self.frames_decoded += 1
            slots = self.want.pop(frame.pts, None) if frame.pts is not None else None
            if slots:
                self.out.put(frame, slots, int(frame.pts))

    def _break(self) -> None:
        """Drain the frames still inside the decoder and reset it (before a jump)."""
        if self.busy:
            self._decode(None)
            self.cc.flush_buffers()
            self.busy = False

    def _set_skip(self, value: str) -> None:
        if value != self.skip:
            self.cc.skip_frame = value
            self.skip = value

    def _feed(self, group: _Group, needed: dict[int, list[int]], whole: bool) -> None:
        if not self.continuous:
            self._break()
        for pts, slots in needed.items():
            self.want.setdefault(pts, []).extend(slots)
        stop = len(group.packets)
        if not whole:
            stop = 1 + max(i for i, p in enumerate(group.packets) if p.pts in needed)
        for packet in group.packets[:stop]:
            self._set_skip("DEFAULT" if packet.pts in needed else "NONREF")
            self._decode(packet)
        self._set_skip("DEFAULT")
        self.continuous = stop == len(group.packets)

    # -- planning ------------------------------------------------------------------
    def _decide(self, cur: _Group, nxt: _Group | None) -> None:
        """Assign the targets inside ``cur``'s display span to its frames and feed it
        (or not)."""
        if not cur.shown:
            self.continuous = False
            return  # every frame of the group is discarded (before an edit list's start)
        span_end = nxt.start if nxt is not None else math.inf
        needed: dict[int, list[int]] = {}
        n = len(self.targets)
        while self.j < n and self.targets[self.j] < span_end:
            t = self.targets[self.j]
            k = bisect.bisect_right(cur.shown, t) - 1
            if k < 0:
                if not self.at_start:
                    raise _Unplannable("a group starts after the time it was sought for")
                k = 0  # before the stream's first frame: that frame
            if nxt is None and t - cur.shown[k] > _to_pts(_END_TOLERANCE_S, self.tb) + self.period:
                raise _past_end_error(
                    self.path, float(t * self.tb), float(cur.shown[k] * self.tb), self.header_end
                )
            needed.setdefault(cur.shown[k], []).append(self.j)
            self.j += 1
        # Leading pictures of an open GOP show before nxt's keyframe but reference cur.
        lead = nxt is not None and self.j < n and self.targets[self.j] < nxt.key_pts
        if needed or lead:
            self._feed(cur, needed, whole=lead)
        else:
            self.continuous = False

    def run(self) -> None:
        first = self.targets[0]
        if first - self.first_pts > 2 * self.period:
            cur = self._seek_before(first, after=None)
        else:
            cur = self.reader.next_group()
        if cur is None:
            if self.reader.orphans:
                raise _Unplannable("no packet is flagged as a keyframe")
            raise VideoDecodeError(self.path, "contains no video packets")
        while cur is not None and self.j < len(self.targets):
            nxt = self.reader.next_group()
            if nxt is not None and nxt.key_pts > cur.key_pts:
                self.gop = max(self.gop, nxt.key_pts - cur.key_pts)
            self._decide(cur, nxt)
            if nxt is not None and self._far(nxt):
                cur = self._seek_before(self.targets[self.j], after=nxt.key_pts)
            else:
                cur = nxt
        self._break()
        log.debug("%s: fed %d packets, decoded %d frames", self.path, self.packets_fed, self.frames_decoded)
        if not self.out.filled.all():
            raise _Unplannable(
                f"{int((~self.out.filled).sum())} planned frames did not come out of the decoder"
            )


def _decode_sequential(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: PathLike,
    targets: list[int],
    collector: _Collector,
    header_end: float | None,
) -> None:
    """The fallback for streams the planner cannot read ahead in (packets without
    timestamps or keyframe flags): seek once, then decode every frame in order and keep
    the one on screen at each target."""
    tb = stream.time_base
    fps = _stream_fps(stream) or 25.0
    first_pts = int(stream.start_time) if stream.start_time is not None else 0
    decoded: Iterator[av.VideoFrame] = _iter_decoded(container, stream, path)
    if targets[0] - first_pts > _to_pts(2.0 / fps, tb):
        _seek_pts(container, stream, targets[0], path)
        decoded = _iter_decoded(container, stream, path)
        head = next(decoded, None)
        if head is None or head.pts is None or head.pts > targets[0]:
            _seek_pts(container, stream, first_pts, path)  # the demuxer overshot: start over
            decoded = _iter_decoded(container, stream, path)
        else:
            decoded = itertools.chain([head], decoded)
    j, n = 0, len(targets)
    prev: av.VideoFrame | None = None
    prev_pts = 0
    for i, frame in enumerate(decoded):
        pts = int(frame.pts) if frame.pts is not None else _to_pts(i / fps, tb)
        slots: list[int] = []
        while j < n and targets[j] < pts:
            if prev is not None and prev_pts <= targets[j]:
                slots.append(j)
            else:
                collector.put(frame, [j], pts)  # before the first frame: the first frame
            j += 1
        if slots:
            collector.put(prev, slots, prev_pts)
        if j >= n:
            return
        prev, prev_pts = frame, pts
    if prev is None:
        raise VideoDecodeError(path, "contains no decodable video frames")
    if targets[-1] - prev_pts > _to_pts(_END_TOLERANCE_S + 1.0 / fps, tb):
        raise _past_end_error(path, float(targets[-1] * tb), float(prev_pts * tb), header_end)
    collector.put(prev, list(range(j, n)), prev_pts)


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
        if size < 2:
            raise ValueError(f"size must be >= 2 pixels, got {size}")
        scale = size / min(width, height)
        h = max(2, int(round(height * scale / 2)) * 2)
        w = max(2, int(round(width * scale / 2)) * 2)
        return h, w
    h, w = size
    if int(h) < 1 or int(w) < 1:
        raise ValueError(f"size must be positive, got {size}")
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
    corrupt or truncated one or a window past the end of the video, ``ValueError`` for
    bad arguments.
    """
    if fps is None and num_frames is None and not middle:
        raise ValueError("give fps= (optionally with max_frames=), num_frames= or middle=True")
    if max_frames is not None and fps is None:
        raise ValueError("max_frames= caps fps= sampling; for a fixed count use num_frames=")
    if size is not None and not isinstance(size, int) and len(size) != 2:
        raise ValueError(f"size must be an int (short side) or (H, W), got {size!r}")
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        first_pts = _stream_start(stream)
        total = _stream_duration(container, stream)
        header_end = first_pts + total if total else None
        clip_start = first_pts if start is None else float(start)
        if end is None:
            if header_end is None:
                raise VideoDecodeError(path, "has no duration in its header; pass end= explicitly")
            clip_end = header_end
        else:
            clip_end = float(end)
        if clip_start < 0:
            raise ValueError(f"{path}: start must be >= 0, got {clip_start}")
        if clip_end <= clip_start:
            raise ValueError(f"{path}: end ({clip_end}) must be greater than start ({clip_start})")
        rel = sample_times(
            clip_end - clip_start, fps=fps, max_frames=max_frames, num_frames=num_frames, middle=middle
        )
        tb = stream.time_base
        targets = [_to_pts(clip_start + float(r), tb) for r in rel]
        collector = _Collector(len(targets), size, tb)
        _configure_threads(stream, threads)
        try:
            _GopPlanner(container, stream, path, targets, collector, header_end).run()
        except _Unplannable as why:
            log.debug("%s: decoding sequentially (%s)", path, why)
            container.close()
            container = _open(path)
            stream = _video_stream(container, path)
            _configure_threads(stream, threads)
            collector = _Collector(len(targets), size, tb)
            _decode_sequential(container, stream, path, targets, collector, header_end)
        video_fps = _stream_fps(stream)
    finally:
        container.close()
    assert collector.frames is not None and collector.filled.all()
    times = collector.times
    indices = np.rint(times * video_fps).astype(np.int64) if video_fps else np.zeros(len(times), np.int64)
    return Frames(
        frames=collector.frames,
        timestamps=np.maximum(times - clip_start, 0.0),
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
        # x264's output depends on its thread count (frame threading limits motion search),
        # and "auto" means "cores": fix it so the same frames give the same bytes on every
        # machine.  Builders run one encoder per core, so nothing is lost.  bitexact drops
        # version strings for the same reason.
        "threads": "1",
        "flags": "+bitexact",
        # x264's macroblock-tree rate control reads memory it never initialised: with it on,
        # the same frames gave different bytes from one process to the next (1-38 of 230
        # VideoNet-mini videos per run; tests/test_video.py provokes it by dirtying the heap).
        "mbtree": "0",
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
            # Encode in the fine time base too: in 1/fps ticks variable frame times would
            # be rounded (and could collide).
            out_s.codec_context.time_base = tb
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
                img = frame.reformat(
                    width=size[1], height=size[0], format="yuv420p", interpolation="BILINEAR"
                )
                # Rebase on the first emitted frame: frame spacing stays exactly as in
                # the source (an unaligned ``start`` would otherwise jitter it).
                img.pts = int(round((t - origin) / tb))
                img.time_base = tb
                for packet in out_s.encode(img):
                    out_c.mux(packet)
                n += 1

            last_t = -math.inf
            reached_end = False
            for i, frame in enumerate(_iter_decoded(in_c, in_s, src)):
                t = _frame_time(frame, i, fps)
                if t >= t1:
                    reached_end = True
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
            last_seen = max(last_t, prev_t)
            if not reached_end and t1 - last_seen > _END_TOLERANCE_S + period:
                raise _past_end_error(src, t1, last_seen, info.start_time + info.duration)
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

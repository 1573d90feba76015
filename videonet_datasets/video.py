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

Every frame as a player shows it:

* **One time axis, the player's.**  Times (``start``/``end`` here, in ``clips.csv``, in
  :func:`trim_clip`, in the training-data windows) are seconds from the first displayed
  frame, whatever the stream's start time, edit list or container: an MPEG-TS capture
  whose video starts at 1.47 s, an MP4 shifted by 10 s, a ``-c copy`` cut with hidden
  frames behind an edit list all start at 0.  (A file whose audio starts before its
  video is the one place where this differs from ffmpeg's ``-ss``, which counts from
  the earliest stream.)  AVI stores no presentation times, so its frames are timed by
  decode order as FFmpeg's best-effort timestamps are.
* **Upright frames.**  The display matrix (MP4/MOV ``tkhd``, Matroska projection, an
  H.264/HEVC display-orientation message at the start of the stream) or a legacy
  ``rotate`` tag is applied: quarter turns and mirror images.  :func:`probe_video`
  reports the displayed size and the rotation; :func:`trim_clip` writes the rotation into
  the pixels, so a trimmed clip is upright in every decoder.

"The frame at time t" is the frame on screen at t (the last frame whose presentation
time is <= t), so a returned timestamp is never more than one frame period before the
requested time and never after it.  Frames are picked by presentation timestamp, not by
index, which keeps variable-frame-rate videos exact.

Decoding is planned from the packets (:class:`_GopPlanner`): the demuxer runs one
keyframe group ahead of the decoder, so every frame's presentation time is known before
anything is decoded.  Groups without a requested frame are never decoded (long gaps are
sought over), a group is fed only up to the packet of its last requested frame, and
non-reference frames nobody asked for are not fed (H.264 ``nal_ref_idc`` 0) or skipped by
the decoder (``skip_frame``): what is decoded is what the requested frames depend on, the
physical bound the benchmark measures.  A 6 s window of a long source video costs about
its own GOPs at roughly half the decode work;
64 frames spread over a minute cost well under a full decode.  Streams without packet
timestamps or keyframe flags, and AVI, are decoded in order from one seek.  The
benchmark (``python -m bench sampler``) compares this with torchcodec, decord, OpenCV,
the ffmpeg CLI and the physical bound (decoding only the packets each frame depends on).
"""

from __future__ import annotations

import bisect
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
    "SAMPLER_VERSION",
    "Frames",
    "VideoDecodeError",
    "VideoInfo",
    "frame_times",
    "probe_video",
    "sample_frames",
    "sample_times",
    "trim_clip",
    "write_video",
]

PathLike = str | os.PathLike
log = logging.getLogger(__name__)

#: What :func:`sample_frames` returns for a given file and arguments.  Anything that stores
#: its results across runs (the decoded-frame cache) keys on it; bump it when the frames or
#: their times change for some file.  2: the player's timeline and upright frames (stream
#: start offsets, edit lists, display matrices were ignored before).
SAMPLER_VERSION = 2


class VideoDecodeError(RuntimeError):
    """A video file that cannot be opened or decoded; the message names the file."""

    def __init__(self, path: PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns from a file's headers and its first frame.

    Times are on the player's timeline: the video runs from 0 to ``duration`` seconds,
    whatever its stream start time (kept in ``start_time`` for reference only).
    """

    path: str
    duration: float  # seconds, from the first displayed frame to the end of the stream
    fps: float  # average frame rate
    width: int  # displayed (rotation applied)
    height: int
    num_frames: int  # from the header when present, else estimated as duration * fps
    start_time: float  # presentation time of the first displayed frame in the stream's own clock
    codec: str
    has_audio: bool
    rotation: int = 0  # clockwise quarter turn applied for display: 0, 90, 180 or 270
    mirrored: bool = False  # mirrored left-right (before the rotation)


@dataclass
class Frames:
    """Frames returned by :func:`sample_frames`.

    ``timestamps`` are the presentation times of the returned frames in seconds relative
    to the clip start (clamped at 0 for the frame already on screen when the clip
    starts); ``requested`` are the times that were asked for.  Both are what models that
    take per-frame timestamps (Molmo2, Qwen3-VL) need.
    """

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB, upright
    timestamps: np.ndarray  # (N,) float64, seconds relative to the clip start
    requested: np.ndarray  # (N,) float64, seconds relative to the clip start
    clip_start: float  # seconds on the source's timeline (0 = its first displayed frame)
    clip_end: float  # seconds on the source's timeline
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


# ---------------------------------------------------------------------------- opening


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
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        what = "has no video stream" + (" (only a cover picture)" if container.streams.video else "")
        container.close()
        raise VideoDecodeError(path, what)
    if container.format.name.split(",")[0] in _IMAGE_FORMATS:
        container.close()
        raise VideoDecodeError(path, f"is a still image ({container.format.name}), not a video")
    return streams[0]


# Demuxers of single pictures and picture sequences: a file they open is not a video.
_IMAGE_FORMATS = frozenset(
    {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "svg_pipe",
     "jpegls_pipe", "j2k_pipe", "dpx_pipe", "exr_pipe", "pam_pipe", "pbm_pipe", "pgm_pipe", "ppm_pipe",
     "qoi_pipe", "psd_pipe", "sgi_pipe", "xpm_pipe", "pictor_pipe", "jpegxl_pipe", "hdr_pipe"}
)  # fmt: skip


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


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


# ------------------------------------------------------------------------ orientation


@dataclass(frozen=True)
class _Orientation:
    """How the decoded picture becomes the displayed one: a transpose, then flips of the
    rows and columns (the eight quarter-turn/mirror combinations)."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> _Orientation:
        """From FFmpeg's display matrix ``[a b u; c d v; x y w]``, which maps a source
        pixel ``(x, y)`` (y down) to ``(a x + c y, b x + d y)``.  Other angles than
        quarter turns (rare) are snapped to the nearest quarter turn."""
        a, b, c, d = (float(m[i]) for i in (0, 1, 3, 4))
        if abs(a) + abs(d) >= abs(b) + abs(c):
            return cls(False, flip_rows=d < 0, flip_cols=a < 0)
        return cls(True, flip_rows=b < 0, flip_cols=c < 0)

    @classmethod
    def clockwise(cls, degrees: float) -> _Orientation:
        """A clockwise rotation (the legacy ``rotate`` tag's meaning)."""
        quarter = round(degrees / 90.0) % 4
        return (cls(), cls(True, False, True), cls(False, True, True), cls(True, True, False))[quarter]

    @property
    def mirrored(self) -> bool:
        return (self.transpose + self.flip_rows + self.flip_cols) % 2 == 1

    @property
    def rotation(self) -> int:
        """Clockwise degrees, applied after mirroring left-right (if ``mirrored``)."""
        return _ROTATION[(self.transpose, self.flip_rows, self.flip_cols)]

    def displayed(self, height: int, width: int) -> tuple[int, int]:
        return (width, height) if self.transpose else (height, width)

    def apply(self, img: np.ndarray) -> np.ndarray:
        """The displayed picture of an (H, W, ...) array (a view; copied on assignment)."""
        if self.transpose:
            img = img.swapaxes(0, 1)
        if self.flip_rows:
            img = img[::-1]
        if self.flip_cols:
            img = img[:, ::-1]
        return img


_UPRIGHT = _Orientation()
_ROTATION = {
    (False, False, False): 0,
    (False, False, True): 0,
    (False, True, True): 180,
    (False, True, False): 180,
    (True, False, True): 90,
    (True, True, True): 90,
    (True, True, False): 270,
    (True, False, False): 270,
}


def _frame_orientation(frame: av.VideoFrame) -> _Orientation | None:
    """The display matrix FFmpeg attached to a decoded frame (the container's matrix is
    attached to every frame; a display-orientation SEI to the frame that carries it)."""
    sd = frame.side_data.get("DISPLAYMATRIX")
    if sd is None:
        return None
    m = np.frombuffer(bytes(sd), dtype="=i4")
    return _Orientation.from_matrix(m) if len(m) == 9 else None


def _tag_orientation(stream: av.video.stream.VideoStream) -> _Orientation | None:
    """The legacy ``rotate`` tag (clockwise degrees) of files muxed before display matrices."""
    tag = stream.metadata.get("rotate") or stream.metadata.get("ROTATE")
    try:
        return _Orientation.clockwise(float(tag)) if tag else None
    except ValueError:
        return None


# H.264 and HEVC carry a display orientation in an SEI message (payload type 47 in both).
_ORIENTATION_SEI = 47


def _nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    if length_size is None:  # Annex B: 00 00 01 start codes
        starts = []
        i = data.find(b"\x00\x00\x01")
        while i >= 0:
            starts.append(i + 3)
            i = data.find(b"\x00\x00\x01", i + 3)
        for s, nxt in zip(starts, [*starts[1:], len(data) + 3]):
            yield data[s : nxt - 3]
        return
    i = 0
    while i + length_size <= len(data):
        n = int.from_bytes(data[i : i + length_size], "big")
        i += length_size
        yield data[i : i + n]
        i += n


def _sei_payload_types(rbsp: bytes) -> Iterator[int]:
    rbsp = rbsp.replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
    i = 0
    while i + 1 < len(rbsp) and rbsp[i] != 0x80:
        kind = 0
        while i < len(rbsp) and rbsp[i] == 0xFF:
            kind, i = kind + 255, i + 1
        if i >= len(rbsp):
            return
        kind, i = kind + rbsp[i], i + 1
        size = 0
        while i < len(rbsp) and rbsp[i] == 0xFF:
            size, i = size + 255, i + 1
        if i >= len(rbsp):
            return
        size, i = size + rbsp[i], i + 1
        yield kind
        i += size


class _Nal:
    """The NAL units of H.264/HEVC packets: length-prefixed (MP4, MKV: the size is in the
    avcC/hvcC extradata) or after Annex B start codes (MPEG-TS, raw streams)."""

    def __init__(self, stream: av.video.stream.VideoStream):
        self.codec = stream.codec_context.name
        extra = stream.codec_context.extradata or b""
        offset = 4 if self.codec == "h264" else 21  # avcC / hvcC lengthSizeMinusOne
        self.length_size = (extra[offset] & 3) + 1 if extra[:1] == b"\x01" and len(extra) > offset else 4

    def units(self, packet: av.Packet) -> Iterator[bytes]:
        data = bytes(packet)
        annex_b = data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
        return _nal_units(data, None if annex_b else self.length_size)


def _has_orientation_sei(packet: av.Packet, stream: av.video.stream.VideoStream) -> bool:
    """Does this H.264/HEVC packet carry a display-orientation SEI?  A byte scan, so the
    sampler knows without decoding whether the first frame orients the whole stream."""
    nal = _Nal(stream)
    if nal.codec not in ("h264", "hevc"):
        return False
    for unit in nal.units(packet):
        if nal.codec == "h264" and unit[:1] and unit[0] & 0x1F == 6:
            payload = unit[1:]
        elif nal.codec == "hevc" and len(unit) > 2 and (unit[0] >> 1) & 0x3F in (39, 40):
            payload = unit[2:]
        else:
            continue
        if _ORIENTATION_SEI in _sei_payload_types(payload):
            return True
    return False


def _unreferenced(packet: av.Packet, nal: _Nal | None) -> bool:
    """A picture no other picture predicts from: flagged so by the container, or an H.264
    slice with ``nal_ref_idc`` 0.  Not fed at all when nobody asked for it."""
    if packet.is_disposable:
        return True
    if nal is None:
        return False
    for unit in nal.units(packet):
        if unit[:1] and unit[0] & 0x1F in (1, 5):  # the first coded slice decides
            return (unit[0] >> 5) & 3 == 0
    return False


# --------------------------------------------------------------------- the timeline

# A frame requested this far past the last frame of the stream is not "the last frame
# still on screen": the file stops early (truncated) or the window ends past the video.
_END_TOLERANCE_S = 1.0
# A group of packets larger than this means the keyframe flags are missing or useless;
# planning would hold the whole file in memory, so decode sequentially instead.
_MAX_GROUP_BYTES = 256 << 20
# Containers without presentation times: frames are timed by decode order (their dts).
_DTS_TIMED_FORMATS = frozenset({"avi"})


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


def _display_start(group: _Group) -> int:
    """The pts of the first frame a player shows from the stream's first group.

    Leading pictures of an open GOP (shown before their keyframe, decoded after it)
    reference a group that is not in the file when the stream starts with them (a
    broadcast capture cut mid-stream): decoders drop them, so they are not on the
    timeline."""
    i = bisect.bisect_left(group.shown, group.key_pts)
    return group.shown[i] if i < len(group.shown) else group.key_pts


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


def _seek_pts(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, pts: int, path: PathLike
) -> None:
    """Seek to the keyframe at or before ``pts`` (demuxers without an index may land after)."""
    try:
        container.seek(int(pts), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError as e:
        raise VideoDecodeError(
            path, f"seeking to {float(pts * stream.time_base):.3f}s failed ({_ffmpeg_reason(e)})"
        ) from e


class _Source:
    """One open video stream on the player's timeline.

    Opening reads the stream's first keyframe group (packets only, no decoding) to find
    the first displayed frame: its presentation time is the timeline's 0.  Streams the
    planner cannot read (no timestamps or keyframe flags, AVI) decode their first frame
    instead.  The display orientation is settled by the first frame decoded.
    """

    def __init__(self, path: PathLike, threads: int):
        self.path, self.threads = path, threads
        self.container = _open(path)
        self.stream = _video_stream(self.container, path)
        try:
            _configure_threads(self.stream, threads)
            self.tb: Fraction = self.stream.time_base
            self.fps = _stream_fps(self.stream)
            second = max(1, _to_pts(1.0, self.tb))
            self.period = max(1, _to_pts(1.0 / self.fps, self.tb)) if self.fps else max(1, second // 25)
            self.by_dts = self.container.format.name in _DTS_TIMED_FORMATS
            self.reader = _GroupReader(self.container, self.stream, path)
            self.first: _Group | None = None  # the stream's first group with a displayed frame
            self.first_frame: av.VideoFrame | None = None  # decoded by the sequential start
            self.orientation: _Orientation | None = None
            self.seekable = True
            self.plannable = not self.by_dts
            if self.plannable:
                try:
                    self.first = self._first_group()
                except _Unplannable as why:
                    log.debug("%s: decoding sequentially (%s)", path, why)
                    self.plannable = False
            if self.first is not None:
                self.origin = _display_start(self.first)
            else:
                self._start_sequential()
            self.end = self._header_end()
        except BaseException:
            self.container.close()
            raise

    # -- the timeline ----------------------------------------------------------------
    def _first_group(self) -> _Group:
        group = self.reader.next_group()
        while group is not None and not group.shown:  # wholly hidden behind an edit list
            group = self.reader.next_group()
        if group is None:
            if self.reader.orphans:
                raise _Unplannable("no packet is flagged as a keyframe")
            raise VideoDecodeError(self.path, "contains no video packets")
        return group

    def _start_sequential(self) -> None:
        """The timeline's origin from the first frame the decoder outputs."""
        self.reopen()
        for t, frame in self._timed(self._decoded(), first=True):
            self.origin, self.first_frame = t, frame
            self.orientation = self._orientation_of(frame, t)
            return
        raise VideoDecodeError(self.path, "contains no decodable video frames")

    def _header_end(self) -> int | None:
        """Where the stream ends per its header, as a pts (``None`` when unknown)."""
        s, c = self.stream, self.container
        end: int | None = None
        if s.duration is not None:
            # AVI's header counts frames from its first frame, whatever that frame's time.
            start = self.origin if self.by_dts or s.start_time is None else int(s.start_time)
            end = start + int(s.duration)
        elif c.format.name.startswith("matroska"):
            # Matroska (and WebM) end times count from 0: the track's DURATION tag (ffmpeg,
            # mkvmerge), else the segment's Duration (the end of its longest track).
            tag = _clock_seconds(s.metadata.get("DURATION") or s.metadata.get("duration"))
            seconds = (
                tag if tag is not None else c.duration / av.time_base if c.duration is not None else None
            )
            end = _to_pts(seconds, self.tb) if seconds is not None else None
            if end is not None and end <= self.origin:
                end = None  # a writer that counted from the first block after all
        if end is None and c.duration is not None:
            start = c.start_time if c.start_time is not None else 0
            end = _to_pts((start + c.duration) / av.time_base, self.tb)
        return end if end is not None and end > self.origin else None

    def seconds(self, pts: int) -> float:
        """Seconds on the player's timeline of a pts."""
        return float((pts - self.origin) * self.tb)

    @property
    def duration(self) -> float | None:
        return self.seconds(self.end) if self.end is not None else None

    # -- orientation -----------------------------------------------------------------
    def _orientation_of(self, frame: av.VideoFrame, pts: int) -> _Orientation:
        o = _frame_orientation(frame) or _tag_orientation(self.stream)
        if o is not None:
            return o
        if (
            pts != self.origin
            and self.first is not None
            and _has_orientation_sei(self.first.packets[0], self.stream)
        ):
            # A display-orientation SEI on the stream's first frame orients the whole stream,
            # but FFmpeg attaches it to that frame only: decode that frame (rare).
            with _Source(self.path, 1) as head:
                return _frame_orientation(head.decode_first()) or _UPRIGHT
        return _UPRIGHT

    def orientation_for(self, frame: av.VideoFrame, pts: int) -> _Orientation:
        """The stream's display orientation, settled by the first frame decoded."""
        if self.orientation is None:
            self.orientation = self._orientation_of(frame, pts)
        return self.orientation

    def decode_first(self) -> av.VideoFrame:
        """The first displayed frame (the decoder is reset afterwards)."""
        if self.first_frame is not None:
            return self.first_frame
        assert self.first is not None
        cc = self.stream.codec_context
        stop = next(i for i, p in enumerate(self.first.packets) if p.pts == self.origin)
        out: av.VideoFrame | None = None
        try:
            for packet in [*self.first.packets[: stop + 1], None]:
                for frame in cc.decode(packet):
                    if out is None and frame.pts is not None and frame.pts >= self.origin:
                        out = frame
                if out is not None:
                    break
        except av.FFmpegError as e:
            raise VideoDecodeError(self.path, f"cannot decode its frames ({_ffmpeg_reason(e)})") from e
        finally:
            cc.flush_buffers()
        if out is None:
            raise VideoDecodeError(self.path, "contains no decodable video frames")
        self.first_frame = out
        return out

    # -- sequential decoding -----------------------------------------------------------
    def reopen(self) -> None:
        """A fresh container at the start of the file (seeking back is not exact everywhere)."""
        self.container.close()
        self.container = _open(self.path)
        self.stream = _video_stream(self.container, self.path)
        _configure_threads(self.stream, self.threads)
        self.reader = _GroupReader(self.container, self.stream, self.path)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        try:
            yield from self.container.decode(self.stream)
        except av.FFmpegError as e:
            raise VideoDecodeError(self.path, f"decoding failed ({_ffmpeg_reason(e)})") from e

    def _timed(
        self, frames: Iterable[av.VideoFrame], first: bool = False
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """Frames with their times: the pts (the dts where the container has no pts, as
        FFmpeg's best-effort timestamp), else one frame period after the previous frame."""
        last: int | None = None
        for frame in frames:
            # (Frames drained at the end of an AVI have no dts, and their pts are not times.)
            t = frame.dts if self.by_dts else frame.pts if frame.pts is not None else frame.dts
            if t is None:
                if first:
                    self.seekable = False  # no timestamps to seek by
                t = last + self.period if last is not None else (0 if first else self.origin)
            last = int(t)
            yield last, frame

    def frames_from(self, t: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded frames with their times in display order, from the frame on screen at
        pts ``t`` (or the stream's first frame).  Seeks when ``t`` is far from the start and
        checks where the demuxer landed; reads from the start when seeking cannot help."""
        if self.seekable and t - self.origin > 2 * self.period:
            target, back = t, max(1, _to_pts(2.0, self.tb))
            for attempt in range(3):
                _seek_pts(self.container, self.stream, target, self.path)
                timed = self._timed(self._decoded())
                head = next(timed, None)
                if head is None:
                    break
                if head[0] <= t:
                    yield head
                    yield from timed
                    return
                target = min(target, head[0]) - (attempt + 1) * back
                if target <= self.origin:
                    break
        self.reopen()
        yield from self._timed(self._decoded())

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clock_seconds(text: str | None) -> float | None:
    """``HH:MM:SS.fraction`` (Matroska's DURATION tag) in seconds."""
    try:
        h, m, sec = (text or "").split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _past_end_error(path: PathLike, want: float, last: float, duration: float | None) -> VideoDecodeError:
    """Times on the player's timeline."""
    if duration is not None and last + _END_TOLERANCE_S < duration:
        why = f"although its header says it lasts {duration:.3f}s: the file is truncated or corrupt"
    else:
        why = "the window ends past the end of the video"
    return VideoDecodeError(
        path, f"a frame at {want:.3f}s was requested but the video's frames stop at {last:.3f}s; {why}"
    )


# ---------------------------------------------------------------------------- probing


def probe_video(path: PathLike, *, decode_check: bool = True) -> VideoInfo:
    """Read a video's duration, frame rate, displayed size and orientation.

    The first displayed frame is decoded: it fixes the timeline's 0 and carries the display
    matrix (a file whose header parses can still be undecodable).  ``decode_check=False``
    reports what the header says when that frame cannot be decoded instead of raising.
    """
    with _Source(path, threads=1) as src:
        stream = src.stream
        frame: av.VideoFrame | None = None
        try:
            frame = src.decode_first()
        except VideoDecodeError:
            if decode_check:
                raise
        if frame is not None:
            orient = src.orientation_for(frame, src.origin)
            height, width = orient.displayed(frame.height, frame.width)
        else:
            orient = _tag_orientation(stream) or _UPRIGHT
            height, width = orient.displayed(stream.codec_context.height, stream.codec_context.width)
        duration = src.duration
        if duration is None or duration <= 0:
            raise VideoDecodeError(path, "has no usable duration in its header")
        n = stream.frames or round(duration * src.fps)
        return VideoInfo(
            path=str(path),
            duration=duration,
            fps=src.fps,
            width=int(width),
            height=int(height),
            num_frames=int(n),
            start_time=float(src.origin * src.tb),
            codec=stream.codec_context.name,
            has_audio=bool(src.container.streams.audio),
            rotation=orient.rotation,
            mirrored=orient.mirrored,
        )


def frame_times(path: PathLike) -> np.ndarray:
    """The time of every displayed frame of ``path`` on the player's timeline (seconds from
    the first displayed frame), ascending: what a frame-accurate player steps through.

    Read from the packets (no decoding) where the container has presentation times, from
    the decode order in AVI; decoded only when the packets carry no timestamps."""
    with _Source(path, threads=1) as src:
        if src.by_dts:
            src.reopen()
            dts = sorted(int(p.dts) for p in src.container.demux(src.stream) if p.size and p.dts is not None)
            if dts:  # one frame per packet, timed by decode order from the first
                return np.array([float((d - dts[0]) * src.tb) for d in dts])
        elif src.first is not None:
            shown: set[int] = set()
            group: _Group | None = src.first
            try:
                while group is not None:
                    shown.update(p for p in group.shown if p >= src.origin)
                    group = src.reader.next_group()
                return np.array([src.seconds(p) for p in sorted(shown)])
            except _Unplannable:
                pass
        src.reopen()
        return np.array(sorted({src.seconds(t) for t, _ in src.frames_from(src.origin)}))


# ---------------------------------------------------------------------------- decoding


class _Collector:
    """Output slots of :func:`sample_frames`.

    Each distinct frame is converted to RGB once, the moment the decoder produces it, turned
    upright and copied into every slot that asked for it; decoded pictures are never held,
    so peak memory is the output array plus the decoder's own buffers.
    """

    def __init__(self, n: int, size: int | tuple[int, int] | None, src: _Source):
        self.n = n
        self.size = size
        self.src = src
        self.frames: np.ndarray | None = None
        self.pts = np.zeros(n, dtype=np.int64)
        self.filled = np.zeros(n, dtype=bool)

    def put(self, frame: av.VideoFrame, slots: list[int], pts: int) -> None:
        orient = self.src.orientation_for(frame, pts)
        if self.frames is None:
            shown = orient.displayed(frame.height, frame.width)
            shape = _resolve_size(self.size, shown[1], shown[0]) or shown
            self.frames = np.empty((self.n, *shape, 3), dtype=np.uint8)
        h, w = orient.displayed(*self.frames.shape[1:3])  # the decoded picture's target size
        # A resize is only requested when needed (also covers mid-stream size changes).
        rgb = orient.apply(_to_rgb(frame, None if (frame.height, frame.width) == (h, w) else (h, w)))
        for s in slots:
            self.frames[s] = rgb
            self.pts[s] = pts
            self.filled[s] = True

    @property
    def times(self) -> np.ndarray:
        """Times of the collected frames on the player's timeline, seconds."""
        return np.array([self.src.seconds(int(p)) for p in self.pts], dtype=np.float64)


class _GopPlanner:
    """Decodes only what the requested frames need.

    Packets are demuxed (cheap) one keyframe group ahead of decoding (expensive), so
    before a group is decoded the planner knows the presentation time of every frame in
    it and where the next group's display span begins.  Hence it can

    * skip whole groups that hold no requested frame (not even feed them to the decoder),
      and seek over long gaps instead of reading them;
    * stop feeding a group after the packet of its last requested frame and drain;
    * leave out the non-reference frames nobody asked for (about half of an H.264 stream
      with B-frames): not fed at all when the packet says so (H.264 ``nal_ref_idc`` 0,
      the container's disposable flag), else dropped by the decoder
      (``skip_frame=NONREF``).  No other frame's pixels change.

    Frames are matched by presentation timestamp, so the result equals a full decode.
    Open GOPs (leading pictures of a group that show before its keyframe) are handled by
    feeding the previous group whole when such a picture is requested.
    """

    def __init__(self, src: _Source, targets: list[int], collector: _Collector):
        assert src.first is not None
        self.src, self.path, self.targets, self.out = src, src.path, targets, collector
        self.cc = src.stream.codec_context
        self.nal = _Nal(src.stream) if self.cc.name == "h264" else None
        self.reader = src.reader
        self.tb = src.tb
        self.second = max(1, _to_pts(1.0, self.tb))
        self.period = src.period
        self.j = 0  # first target not yet assigned to a frame
        self.want: dict[int, list[int]] = {}  # pts -> slots waiting for that frame
        self.at_start = True  # the current run of groups began at the stream's start
        self.seekable = True
        self.continuous = False  # the decoder has consumed every packet before the current group
        self.busy = False  # packets were fed since the last flush
        self.last_out: int | None = None  # pts of the last frame out since the last flush
        self.skip = self.cc.skip_frame
        self.gop = 0  # longest keyframe interval seen, pts
        self.packets_fed = 0  # work done, for the debug log
        self.frames_decoded = 0

    # -- positioning ---------------------------------------------------------------
    def _rewind(self) -> _Group:
        """The stream's first group again (seeks to it and checks the landing)."""
        first = self.src.first
        assert first is not None
        self.reader.seek(first.key_pts)
        group = self.reader.next_group()
        while group is not None and group.key_pts < first.key_pts:
            group = self.reader.next_group()
        if group is None or group.key_pts != first.key_pts:
            raise _Unplannable("seeking back to the start of the stream lands elsewhere")
        self.at_start, self.seekable, self.continuous = True, False, False
        return group

    def _seek_before(self, t: int, after: int | None) -> _Group | None:
        """The first group of a run that starts at or before pts ``t``.

        Seeks to ``t``; a demuxer that lands after ``t`` (no index, coarse seeking) is
        asked again further back, and as a last resort the stream is read from its start.
        ``after`` (the group being left) guards against seeks that do not move forward.
        """
        self._break()  # a seek resets the decoder: drain the frames still inside it first
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
            if target <= self.src.origin:
                break
        return self._rewind()

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
                f" near {self.src.seconds(packet.pts):.3f}s"
                if packet is not None and packet.pts is not None
                else ""
            )
            raise VideoDecodeError(self.path, f"decoding failed{where} ({_ffmpeg_reason(e)})") from e
        if packet is not None:
            self.busy = True
            self.packets_fed += 1
        for frame in frames:
            self.frames_decoded += 1
            if frame.pts is None:
                continue
            if self.last_out is not None and frame.pts <= self.last_out:
                # The container's presentation times are not the display order (H.264 in
                # AVI remuxed as is, for example): only a sequential decode can time it.
                raise _Unplannable("presentation timestamps out of display order")
            self.last_out = int(frame.pts)
            slots = self.want.pop(frame.pts, None)
            if slots:
                self.out.put(frame, slots, int(frame.pts))

    def _break(self) -> None:
        """Drain the frames still inside the decoder and reset it (before a jump)."""
        if self.busy:
            self._decode(None)
            self.cc.flush_buffers()
            self.busy = False
        self.last_out = None

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
            if packet.pts in needed:
                self._set_skip("DEFAULT")
            elif _unreferenced(packet, self.nal):
                continue  # neither asked for nor predicted from
            else:
                self._set_skip("NONREF")  # the decoder drops what the container cannot tell
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
                    self.path, self.src.seconds(t), self.src.seconds(cur.shown[k]), self.src.duration
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
        cur: _Group | None
        if first - self.src.origin > 2 * self.period:
            cur = self._seek_before(first, after=None)
        else:
            cur = self.src.first  # already read: the reader continues after it
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


def _decode_sequential(src: _Source, targets: list[int], collector: _Collector) -> None:
    """The fallback for streams the planner cannot read ahead in (packets without
    timestamps or keyframe flags, AVI): decode every frame in order from one seek and keep
    the one on screen at each target."""
    j, n = 0, len(targets)
    prev: av.VideoFrame | None = None
    prev_pts = 0
    for pts, frame in src.frames_from(targets[0]):
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
        raise VideoDecodeError(src.path, "contains no decodable video frames")
    if targets[-1] - prev_pts > _to_pts(_END_TOLERANCE_S, src.tb) + src.period:
        raise _past_end_error(src.path, src.seconds(targets[-1]), src.seconds(prev_pts), src.duration)
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
    """Decode the upright frames of ``path`` between ``start`` and ``end`` (seconds on
    the player's timeline, 0 = the first displayed frame; ``None`` = the video's
    beginning / end) by the paper's sampling rules.

    ``size`` resizes during colour conversion: an int is the short side, a tuple is
    ``(H, W)`` of the displayed (upright) frame.  ``threads=0`` lets FFmpeg use every core
    (fastest for one clip); data loaders that decode one clip per core should pass
    ``threads=1``.

    Raises ``FileNotFoundError`` for a missing file, :class:`VideoDecodeError` for a
    corrupt or truncated one, a file without video, or a window past the end of the
    video, ``ValueError`` for bad arguments.
    """
    if fps is None and num_frames is None and not middle:
        raise ValueError("give fps= (optionally with max_frames=), num_frames= or middle=True")
    if max_frames is not None and fps is None:
        raise ValueError("max_frames= caps fps= sampling; for a fixed count use num_frames=")
    if size is not None and not isinstance(size, int) and len(size) != 2:
        raise ValueError(f"size must be an int (short side) or (H, W), got {size!r}")
    src = _Source(path, threads)
    try:
        clip_start = 0.0 if start is None else float(start)
        if end is None:
            if src.duration is None:
                raise VideoDecodeError(path, "has no duration in its header; pass end= explicitly")
            clip_end = src.duration
        else:
            clip_end = float(end)
        if clip_start < 0:
            raise ValueError(f"{path}: start must be >= 0, got {clip_start}")
        if clip_end <= clip_start:
            raise ValueError(f"{path}: end ({clip_end}) must be greater than start ({clip_start})")
        rel = sample_times(
            clip_end - clip_start, fps=fps, max_frames=max_frames, num_frames=num_frames, middle=middle
        )
        targets = [src.origin + _to_pts(clip_start + float(r), src.tb) for r in rel]
        collector = _Collector(len(targets), size, src)
        if src.plannable:
            try:
                _GopPlanner(src, targets, collector).run()
            except _Unplannable as why:
                log.debug("%s: decoding sequentially (%s)", path, why)
                src.plannable = False
                src.reopen()
                collector = _Collector(len(targets), size, src)
        if not src.plannable:
            _decode_sequential(src, targets, collector)
        video_fps = src.fps
    finally:
        src.close()
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


def _upright_yuv(frame: av.VideoFrame, orient: _Orientation, height: int, width: int) -> av.VideoFrame:
    """``frame`` as an upright yuv420p picture of the displayed size ``height x width``:
    the planes are turned (a copy of bytes, no second colour conversion)."""
    ch, cw = orient.displayed(height, width)  # the decoded picture's target size
    img = frame.reformat(width=cw, height=ch, format="yuv420p", interpolation="BILINEAR")
    if orient == _UPRIGHT:
        return img
    planes = [
        np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:ph, :pw]
        for p, (ph, pw) in zip(img.planes, ((ch, cw), (ch // 2, cw // 2), (ch // 2, cw // 2)))
    ]
    data = np.concatenate([orient.apply(p).reshape(-1) for p in planes])
    return av.VideoFrame.from_ndarray(data.reshape(height * 3 // 2, width), format="yuv420p")


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
    """Cut ``[start, end)`` (seconds on the player's timeline) of ``src`` into a new,
    silent, upright H.264 file ``dst``.

    Re-encodes (rather than ``-c copy``) so the clip starts on its own keyframe with a
    short GOP: every later load samples it cheaply and exactly, and no hidden frames
    from before ``start`` ride along behind an edit list.  The display rotation is written
    into the pixels (no display matrix), so every decoder shows the clip upright.  Frame
    times are kept (the output's first frame is at 0 s), so variable-frame-rate sources
    stay exact.  The file appears atomically under its final name.
    """
    out = Path(dst)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}.mp4")
    source = _Source(src, threads)
    try:
        t0 = 0.0 if start is None else float(start)
        if end is None:
            if source.duration is None:
                raise VideoDecodeError(src, "has no duration in its header; pass end= explicitly")
            t1 = source.duration
        else:
            t1 = float(end)
        if t1 <= t0:
            raise ValueError(f"{src}: end ({t1}) must be greater than start ({t0})")
        p0 = source.origin + _to_pts(t0, source.tb)
        p1 = source.origin + math.ceil(
            t1 * source.tb.denominator / source.tb.numerator - 1e-3
        )  # first pts >= t1
        out.parent.mkdir(parents=True, exist_ok=True)
        fps = source.fps or 25.0
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
            origin: int | None = None  # source pts of the output's first frame

            def emit(frame: av.VideoFrame, t: int) -> None:
                nonlocal size, n, origin
                if origin is None:
                    origin = t
                orient = source.orientation_for(frame, t)
                if size is None:
                    h, w = orient.displayed(frame.height, frame.width)
                    size = _resolve_size(short_side, w, h) if short_side else (h - h % 2, w - w % 2)
                    out_s.height, out_s.width = size
                img = _upright_yuv(frame, orient, *size)
                # Rebase on the first emitted frame: frame spacing stays exactly as in
                # the source (an unaligned ``start`` would otherwise jitter it).
                img.pts = int(round(float((t - origin) * source.tb) / tb))
                img.time_base = tb
                for packet in out_s.encode(img):
                    out_c.mux(packet)
                n += 1

            last_t = -math.inf
            reached_end = False
            for t, frame in source.frames_from(p0):
                if t >= p1:
                    reached_end = True
                    break
                if t <= p0:
                    prev, prev_t = frame, t  # the frame on screen at t0
                    continue
                if prev is not None:
                    emit(prev, int(prev_t))
                    last_t = prev_t
                    prev = None
                if t <= last_t:
                    continue  # a repeated timestamp
                emit(frame, t)
                last_t = t
            last_seen = max(last_t, prev_t)
            if not reached_end and p1 - last_seen > _to_pts(_END_TOLERANCE_S, source.tb) + source.period:
                last = source.seconds(int(last_seen)) if last_seen > -math.inf else 0.0
                raise _past_end_error(src, t1, last, source.duration)
            if prev is not None:  # the window holds a single (still) frame
                emit(prev, int(prev_t))
            if n == 0:
                raise VideoDecodeError(src, f"no frames between {t0:.3f}s and {t1:.3f}s")
            for packet in out_s.encode():
                out_c.mux(packet)
        os.replace(tmp, out)
    finally:
        source.close()
        if tmp.exists():
            tmp.unlink()
    return out

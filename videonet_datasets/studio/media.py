"""Source videos: which files may be used and served, what the browser can play, thumbnails.

**Paths.**  Media is served by database id, never by a path taken from a request.  A path
a person types (a local source video) must, after normalisation *and* after resolving
symbolic links, lie inside the annotation directory and outside hidden folders (the store
lives in ``.studio/``); paths the owner wrote into ``clips.csv`` are trusted as far as
``videonet validate`` trusts them (relative and not escaping the directory) and anything
else is imported but never served.

**Playback.**  The browser plays H.264/VP8/VP9/AV1 in MP4/WebM whose first frame is at time
0; anything else the sampler reads (MPEG-4 part 2 in AVI, a stream that starts at 1.4 s, ...)
gets a browser copy made once by the project's trimmer (``video.trim_clip``: H.264, upright,
the source's frame times kept, shifted so the first frame is at 0) under ``.studio/proxies/``.
Marks are always stored on the *source's* player timeline: seconds from its first
displayed frame, the axis of ``clips.csv``, the sampler and the trimmer.

**Frame accuracy.**  The player steps through the served file's real frame times (the
presentation times of its packets, sorted - no decoding), so "the frame at time t" is the
sampler's definition: the last frame whose time is <= t.  A window ``[start, end)`` marked
from frame i to frame j is ``start = t_i`` and ``end = t_{j+1}`` (or the end of the video),
which is what ``trim_clip`` and the sampler cut.

**Thumbnails** come from the sampler (``sample_frames(middle=True)``), cached as JPEG.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import av

from videonet_datasets.studio.db import STORE_DIR
from videonet_datasets.video import VideoDecodeError, VideoInfo, probe_video, sample_frames, trim_clip
from videonet_datasets.video import frame_times as video_frame_times

__all__ = [
    "VIDEO_EXTENSIONS",
    "UnsafePath",
    "browser_playable",
    "frame_times",
    "is_servable",
    "list_local_videos",
    "make_proxy",
    "owner_path",
    "person_path",
    "fmt_seconds",
    "probe",
    "snap_window",
    "source_frame_times",
    "thumbnail_jpeg",
]

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv".split()
)
BROWSER_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_CONTAINERS = frozenset({".mp4", ".m4v", ".webm", ".mov"})
MAX_LISTED = 5000


class UnsafePath(ValueError):
    """A path that points outside the annotation directory (or into its hidden folders)."""


def _lexical(root: Path, rel: str) -> Path:
    if not rel or "\x00" in rel:
        raise UnsafePath("empty path")
    p = Path(rel)
    if p.is_absolute() or rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise UnsafePath(f"{rel!r}: give a path relative to the annotation directory")
    base = Path(os.path.abspath(root))
    joined = Path(os.path.normpath(base / p))
    try:
        inside = joined.relative_to(base)
    except ValueError:
        raise UnsafePath(f"{rel!r} is outside the annotation directory") from None
    if any(part.startswith(".") for part in inside.parts):
        raise UnsafePath(f"{rel!r} is inside a hidden folder")
    return joined


def person_path(root: Path, rel: str) -> tuple[Path, str]:
    """Check a path typed by a person; returns (absolute path, normalised relative path).

    Raises :class:`UnsafePath` unless the file lies inside ``root`` both as written and with
    every symbolic link resolved, outside hidden folders; ``FileNotFoundError`` when absent."""
    joined = _lexical(root, rel.replace("\\", "/"))
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(joined))
    try:
        real.relative_to(real_root)
    except ValueError:
        raise UnsafePath(f"{rel!r} leads outside the annotation directory (through a link)") from None
    if not real.is_file():
        raise FileNotFoundError(f"{rel!r}: no such file in the annotation directory")
    return joined, joined.relative_to(Path(os.path.abspath(root))).as_posix()


def owner_path(root: Path, video: str) -> tuple[Path, bool]:
    """A ``clips.csv`` video: its absolute path and whether the studio may serve it."""
    p = Path(video)
    if p.is_absolute():
        return p, False
    try:
        return _lexical(root, video), True
    except UnsafePath:
        return Path(os.path.normpath(Path(os.path.abspath(root)) / p)), False


def is_servable(root: Path, path: Path) -> bool:
    """Serving-time check (defence in depth): the file is inside the annotation directory."""
    base = Path(os.path.abspath(root))
    try:
        Path(os.path.normpath(os.path.abspath(path))).relative_to(base)
    except ValueError:
        return False
    return path.is_file()


def list_local_videos(root: Path) -> list[str]:
    """Video files under ``root`` (relative, sorted), hidden folders and the store skipped."""
    out: list[str] = []
    base = Path(os.path.abspath(root))
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != STORE_DIR)
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            out.append((Path(dirpath) / name).relative_to(base).as_posix())
            if len(out) >= MAX_LISTED:
                return out
    return out


def probe(path: Path) -> VideoInfo:
    """The sampler's probe, with a first-frame decode (raises ``VideoDecodeError``)."""
    return probe_video(path, decode_check=True)


def browser_playable(path: Path, info: VideoInfo) -> bool:
    frame = 1.0 / info.fps if info.fps > 0 else 0.04
    return (
        info.codec in BROWSER_CODECS
        and path.suffix.lower() in BROWSER_CONTAINERS
        and abs(info.start_time) < frame / 2
    )


def make_proxy(src: Path, dst: Path) -> Path:
    """A browser copy of ``src`` (H.264 in MP4, frame times kept, first frame at 0)."""
    return trim_clip(src, dst, crf=23, gop_seconds=1.0)


def source_frame_times(path: Path) -> list[float]:
    """The source's frame times on its player timeline, where marks are snapped."""
    return video_frame_times(path).tolist()


def frame_times(path: Path) -> list[float]:
    """Presentation times (seconds) of every frame of the first video stream, sorted, in
    the served file's own clock (what the browser seeks in).

    Read from the packets (demuxing only, no decoding: ~1 ms per thousand frames)."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"cannot open as a video ({e})") from e
    try:
        if not container.streams.video:
            raise VideoDecodeError(path, "has no video stream")
        stream = container.streams.video[0]
        tb = stream.time_base
        pts = sorted({p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0})
        if not pts:
            raise VideoDecodeError(path, "has no video packets with timestamps")
        return [float(p * tb) for p in pts]
    finally:
        container.close()


def _ceil6(t: float) -> float:
    return math.ceil(t * 1e6 - 1e-6) / 1e6


def _floor6(t: float) -> float:
    return math.floor(t * 1e6 + 1e-6) / 1e6


def snap_window(times: list[float], video_end: float, start: float, end: float) -> tuple[float, float]:
    """Snap a marked window to frame boundaries of the source: ``start`` to the frame on
    screen at ``start`` (its time rounded *up* to the microsecond, so that frame - not the one
    before - is on screen there), ``end`` to the nearest frame start after ``start`` or the end
    of the video (rounded *down*, so the next frame stays out).  The browser's times are
    rounded; the stored window is exact for ``trim_clip`` and the sampler."""
    import bisect

    if not times:
        raise ValueError("the video has no frames")
    if end <= start:
        raise ValueError("the window must hold at least one frame (out after in)")
    i = max(0, bisect.bisect_right(times, start + 1e-4) - 1)
    boundaries = times[i + 1 :] + [video_end]
    j = min(range(len(boundaries)), key=lambda k: abs(boundaries[k] - end))
    s, e = _ceil6(times[i]), _floor6(boundaries[j])
    if e <= s:
        raise ValueError("the window must hold at least one frame (out after in)")
    return s, e


def thumbnail_jpeg(path: Path, start: float, end: float | None, size: int = 180) -> bytes:
    """The middle frame of ``[start, end)`` as a JPEG, short side ``size`` (the sampler's frame)."""
    from PIL import Image

    frames = sample_frames(path, start=start, end=end, middle=True, size=size, threads=1)
    buf = io.BytesIO()
    Image.fromarray(frames.frames[0]).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def fmt_seconds(t: float | None) -> str:
    """Seconds as written to ``clips.csv``: at most 6 decimals, no trailing zeros."""
    if t is None:
        return ""
    if not math.isfinite(t):
        raise ValueError(f"not a finite time: {t}")
    text = f"{t:.6f}".rstrip("0").rstrip(".")
    return text or "0"

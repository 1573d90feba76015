"""The explorer's clips: a poster frame per clip (the project's sampler) and a link to the clip.

Posters are the clip's middle frame - :func:`videonet_datasets.video.sample_frames` with
``middle=True``, the frame the paper's middle-frame ablation shows - as small JPEGs under
``posters/``; one that exists is kept (a rerun only decodes new clips).  Clips are linked by a
path relative to the site, or copied to ``videos/`` with ``--copy-videos`` (a site to publish).
A clip that is missing or cannot be decoded gets no poster and is counted, never dropped silently.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from videonet_datasets.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

__all__ = ["MediaSummary", "prepare_media"]

POSTER_SHORT_SIDE = 112


@dataclass
class MediaSummary:
    posters: int = 0  # clips with a poster (written now or kept from an earlier run)
    written: int = 0  # posters decoded in this run
    copied: int = 0
    missing: list[str] = field(default_factory=list)  # clips whose file is not there
    failed: list[str] = field(default_factory=list)  # clips that did not decode ("path: reason")
    hrefs: list[str | None] = field(default_factory=list)  # per clip: its link from the site (None: missing)
    poster_hrefs: list[str | None] = field(default_factory=list)


def _poster(path: Path) -> bytes:
    from PIL import Image

    from videonet_datasets.video import sample_frames

    frames = sample_frames(path, middle=True, size=POSTER_SHORT_SIDE, threads=1)
    buf = io.BytesIO()
    Image.fromarray(frames.frames[0]).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def prepare_media(
    clip_paths: Sequence[str],
    data_root: Path | None,
    out: Path,
    *,
    posters: bool = True,
    copy_videos: bool = False,
    progress: bool = True,
) -> MediaSummary:
    """Links (or copies) and posters of every clip; ``clip_paths`` are the rows' ``video`` values."""
    from tqdm import tqdm

    from videonet_datasets.benchmark import resolve_video
    from videonet_datasets.video import VideoDecodeError

    summary = MediaSummary()
    for rel in tqdm(clip_paths, desc="explore: clips", unit="clip", disable=not progress):
        src = resolve_video(data_root, rel) if data_root is not None else Path(rel)
        if not src.is_file():
            summary.missing.append(str(src))
            summary.hrefs.append(None)
            summary.poster_hrefs.append(None)
            continue
        # Named by the clip's file, not its place in the table: a rerun on other runs keeps posters right.
        name = hashlib.sha1(str(src.resolve()).encode()).hexdigest()[:16]
        if copy_videos:
            target = out / "videos" / f"{src.stem[:40]}-{name}{src.suffix}"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".part")
                shutil.copyfile(src, tmp)
                os.replace(tmp, target)
                summary.copied += 1
            summary.hrefs.append(target.relative_to(out).as_posix())
        else:
            summary.hrefs.append(Path(os.path.relpath(src.resolve(), out.resolve())).as_posix())
        poster = out / "posters" / f"{name}.jpg"
        if posters and not poster.exists():
            try:
                atomic_write_bytes(poster, _poster(src))
                summary.written += 1
            except (VideoDecodeError, ValueError, OSError) as e:
                summary.failed.append(f"{src}: {e}")
                summary.poster_hrefs.append(None)
                continue
        if poster.exists():
            summary.posters += 1
            summary.poster_hrefs.append(poster.relative_to(out).as_posix())
        else:
            summary.poster_hrefs.append(None)
    for what, items in (("missing", summary.missing), ("undecodable", summary.failed)):
        if items:
            log.warning("%d clip(s) %s, shown without a poster (e.g. %s)", len(items), what, items[0])
    return summary

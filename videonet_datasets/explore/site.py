"""Write the explorer site: ``index.html``, ``app.js``, ``style.css``, ``data.js``, posters, exports.

The folder opens from disk (``file://``: no server) and publishes as a static Hugging Face Space
as it is.  The data is a script (``data.js`` sets ``window.VIDEONET_EXPLORE``) because a page
opened from disk may not ``fetch`` a JSON file but may load a script; it is compact JSON inside.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from videonet_datasets.explore.answers import read_answers
from videonet_datasets.explore.data import TaskView, build_data, default_view
from videonet_datasets.explore.leaderboard import leaderboard_rows, write_leaderboard
from videonet_datasets.explore.media import MediaSummary, prepare_media
from videonet_datasets.fsutil import atomic_write_text

__all__ = ["STATIC_FILES", "SiteSummary", "build_site", "write_data_script"]

STATIC_FILES = ("index.html", "app.js", "style.css")
DATA_GLOBAL = "VIDEONET_EXPLORE"


@dataclass
class SiteSummary:
    index: Path
    models: list[str]
    tasks: list[str]
    questions: int
    data_bytes: int
    media: MediaSummary
    notes: list[str] = field(default_factory=list)
    exports: list[Path] = field(default_factory=list)


def _annotation_pairs(root: Path | None) -> set[tuple[str, str, str]]:
    """(domain, action, negative) from the benchmark's ``annotations/hard_negatives.csv``, when it has one."""
    path = root / "annotations" / "hard_negatives.csv" if root is not None else None
    if path is None or not path.is_file():
        return set()
    pairs = set()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if key and key.startswith("negative") and value:
                    pairs.add((row["domain"], row["action"], value))
    return pairs


def write_data_script(doc: Mapping[str, object], path: Path) -> int:
    """``window.VIDEONET_EXPLORE = {...};`` (compact JSON); returns its size in bytes."""
    text = f"window.{DATA_GLOBAL} = " + json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + ";\n"
    atomic_write_text(path, text)
    return len(text.encode("utf-8"))


def copy_static(out: Path) -> None:
    """The page itself (the same three files for every site)."""
    static = resources.files("videonet_datasets.explore") / "static"
    for name in STATIC_FILES:
        atomic_write_text(out / name, (static / name).read_text(encoding="utf-8"))


def build_site(
    specs: Sequence[str | os.PathLike],
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    views: Mapping[str, TaskView] | None = None,
    copy_videos: bool = False,
    posters: bool = True,
    progress: bool = True,
) -> SiteSummary:
    """Build the explorer for the runs ``specs`` (``[NAME=]DIR``) on the benchmark ``data``.

    ``views`` says how each task's prompt reads (``videonet explore`` passes the task suite's);
    tasks missing from it are known by name (:func:`videonet_datasets.explore.data.default_view`).
    """
    from videonet_datasets.report import QuestionData, load_results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs, notes = read_answers(specs)
    results, more = load_results(specs, data)
    notes += more
    all_views = dict(views or {})
    for r in runs:
        if r.task not in all_views and (view := default_view(r.task)) is not None:
            all_views[r.task] = view
    questions = QuestionData(data)
    root = Path(data) if Path(data).is_dir() else None
    built = build_data(
        runs,
        questions.questions.rows,
        all_views,
        results,
        hard_pairs=_annotation_pairs(root),
    )
    notes += built.notes
    media = prepare_media(
        built.clip_paths, root, out, posters=posters, copy_videos=copy_videos, progress=progress
    )
    built.doc["clips"]["href"] = media.hrefs
    built.doc["clips"]["poster"] = media.poster_hrefs
    if media.missing:
        notes.append(f"{len(media.missing)} clip(s) not found (e.g. {media.missing[0]}): shown without video")
    if media.failed:
        notes.append(
            f"{len(media.failed)} clip(s) could not be decoded for a poster (e.g. {media.failed[0]})"
        )
    exports = write_leaderboard(leaderboard_rows(results, built, all_views), out)
    built.doc["meta"] = {
        "data": os.fspath(data),
        "runs": [os.fspath(s) for s in specs],
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "exports": [p.relative_to(out).as_posix() for p in exports],
    }
    built.doc["notes"] = notes
    size = write_data_script(built.doc, out / "data.js")
    copy_static(out)
    return SiteSummary(
        index=out / "index.html",
        models=list(built.doc["models"]),
        tasks=list(built.doc["tasks"]),
        questions=len(built.rows),
        data_bytes=size,
        media=media,
        notes=notes,
        exports=exports,
    )

"""Writing a VideoNet-mini world's tables: the annotation CSVs, the web manifest, the
ground truth and ``world.json``.

Every file is rendered to a string first and written atomically, with ``\\n`` line ends
and fixed float formatting, so two runs with the same seed give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_text

__all__ = [
    "ACTIONS_HEADER",
    "CLIPS_HEADER",
    "MANIFEST_HEADER",
    "NEGATIVES_HEADER",
    "fmt_seconds",
    "write_csv",
    "write_json",
    "write_jsonl",
]

ACTIONS_HEADER = ("category", "domain", "action", "subdomain", "definition")
NEGATIVES_HEADER = ("domain", "action", "negative_1", "negative_2", "negative_3")
CLIPS_HEADER = ("clip_id", "domain", "action", "video", "start", "end")
MANIFEST_HEADER = ("video_id", "path", "title", "domain", "channel", "upload_date")


def fmt_seconds(x: float | None) -> str:
    """Seconds with millisecond precision and no trailing zeros ("" for None)."""
    if x is None:
        return ""
    text = f"{float(x):.3f}".rstrip("0").rstrip(".")
    return text or "0"


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"{path}: row {row!r} has {len(row)} fields, header has {len(header)}")
        w.writerow(row)
    return atomic_write_text(path, buf.getvalue())


def write_jsonl(path: Path, objects: Iterable[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(o, ensure_ascii=False, sort_keys=False) + "\n" for o in objects)
    return atomic_write_text(path, text)


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")

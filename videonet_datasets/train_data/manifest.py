"""The pipeline's inputs: the crawl manifest and the training taxonomy.

Crawl manifest (CSV, UTF-8, header first), one row per crawled video::

    video_id,path,title,domain,channel,upload_date      (downloaded videos)
    video_id,url,title,domain,channel,upload_date       (to be fetched by the download stage)

``path`` is relative to the manifest's folder (or absolute); a row may carry both ``path``
and ``url``.  ``channel`` and ``upload_date`` are optional metadata, kept for provenance.
The taxonomy is an ``actions.csv`` in the annotation format (read by the annotation
loader's own reader); the training list may be larger than the benchmark's and needs no
clips or hard negatives.

Like the annotation validator, the reader reports every problem at once, each naming the
file, the line and the value.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from videonet_datasets.annotations import (
    ACTIONS_FILE,
    Action,
    Problem,
    did_you_mean,
    load_actions,
    read_csv_rows,
)

__all__ = [
    "MANIFEST_COLUMNS",
    "ManifestError",
    "Taxonomy",
    "VideoRow",
    "read_manifest",
    "read_taxonomy",
]

MANIFEST_COLUMNS = ("video_id", "path", "url", "title", "domain", "channel", "upload_date")
_REQUIRED = ("video_id", "title", "domain")


class ManifestError(ValueError):
    """Every problem of a manifest, not just the first."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: {len(problems)} manifest problem(s):\n{lines}{more}")


@dataclass(frozen=True)
class VideoRow:
    """One crawled video.  ``path`` is absolute (resolved against the manifest folder)
    or None for a URL still to be downloaded."""

    video_id: str
    title: str
    domain: str
    path: str | None = None
    url: str | None = None
    channel: str = ""
    upload_date: str = ""
    line: int = 0  # line in the manifest (header = 1), or the row of an Action100M file
    # Byte offset of the video's record in the build's annotation store (``--source action100m``).
    annotation: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "video_id": self.video_id,
            "title": self.title,
            "domain": self.domain,
            "path": self.path,
            "url": self.url,
            "channel": self.channel,
            "upload_date": self.upload_date,
            "line": self.line,
            "annotation": self.annotation,
        }

    @classmethod
    def from_dict(cls, d: dict) -> VideoRow:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Taxonomy:
    """The training action list, grouped by domain, in file order."""

    actions: dict[tuple[str, str], Action]
    path: Path | None = None
    _by_domain: dict[str, list[Action]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for a in self.actions.values():
            self._by_domain.setdefault(a.domain, []).append(a)

    @property
    def domains(self) -> list[str]:
        return list(self._by_domain)

    def actions_of(self, domain: str) -> list[Action]:
        return list(self._by_domain.get(domain, []))

    def names_of(self, domain: str) -> list[str]:
        return [a.name for a in self._by_domain.get(domain, [])]

    def category_of(self, domain: str) -> str:
        return self._by_domain[domain][0].category

    def action(self, domain: str, name: str) -> Action:
        return self.actions[(domain, name)]


def read_taxonomy(path: str | os.PathLike) -> Taxonomy:
    """Read ``actions.csv`` (a file of that name, or a directory holding one)."""
    p = Path(path)
    root = p if p.is_dir() else p.parent
    if not p.is_dir() and p.name != ACTIONS_FILE:
        raise ValueError(
            f"{p}: the taxonomy must be an {ACTIONS_FILE} (annotation format) or a folder holding one"
        )
    return Taxonomy(actions=load_actions(root), path=root / ACTIONS_FILE)


def read_manifest(path: str | os.PathLike, taxonomy: Taxonomy | None = None) -> list[VideoRow]:
    """Read and check a crawl manifest; raise :class:`ManifestError` listing every problem.

    Checks: required columns, a ``path`` or ``url`` per row, non-empty ids and domains,
    unique ids, and (given a taxonomy) that each domain is one of its domains.  Video
    files are not opened here: a missing or broken file is a per-video failure that the
    pipeline records and counts.
    """
    p = Path(path)
    problems: list[Problem] = []
    rows_raw = _read_manifest_csv(p, problems)
    domains = set(taxonomy.domains) if taxonomy is not None else None
    seen: dict[str, int] = {}
    rows: list[VideoRow] = []
    for line, row in rows_raw:
        bad = False
        for col in ("video_id", "domain"):
            if not row.get(col):
                problems.append(
                    Problem(p.name, line, "must not be empty", column=col, value=row.get(col, ""))
                )
                bad = True
        vid, domain = row.get("video_id", ""), row.get("domain", "")
        if vid and vid in seen:
            problems.append(
                Problem(
                    p.name,
                    line,
                    f"duplicate video_id (first on line {seen[vid]})",
                    column="video_id",
                    value=vid,
                )
            )
            bad = True
        if domains is not None and domain and domain not in domains:
            problems.append(
                Problem(
                    p.name,
                    line,
                    "domain not in the taxonomy" + did_you_mean(domain, domains),
                    column="domain",
                    value=domain,
                )
            )
            bad = True
        path_v, url_v = row.get("path", ""), row.get("url", "")
        if not path_v and not url_v:
            problems.append(Problem(p.name, line, "needs a path or a url", column="path", value=""))
            bad = True
        if bad:
            continue
        seen[vid] = line
        resolved = None
        if path_v:
            q = Path(path_v)
            resolved = str(q if q.is_absolute() else (p.parent / q).resolve())
        rows.append(
            VideoRow(
                video_id=vid,
                title=row.get("title", ""),
                domain=domain,
                path=resolved,
                url=url_v or None,
                channel=row.get("channel", ""),
                upload_date=row.get("upload_date", ""),
                line=line,
            )
        )
    if problems:
        raise ManifestError(p, problems)
    if not rows:
        raise ManifestError(p, [Problem(p.name, 0, "no videos")])
    return rows


def _read_manifest_csv(p: Path, problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a manifest; the header must hold the required columns and path or url."""
    if not p.exists():
        raise FileNotFoundError(f"{p}: manifest not found")
    with open(p, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f), None)
    if header is None:
        problems.append(
            Problem(p.name, 0, "file is empty (expected a header: " + ",".join(MANIFEST_COLUMNS) + ")")
        )
        return []
    header = [h.strip() for h in header]
    present = tuple(c for c in MANIFEST_COLUMNS if c in header)
    missing = [c for c in _REQUIRED if c not in header]
    if "path" not in header and "url" not in header:
        missing.append("path or url")
    if missing:
        problems.append(
            Problem(
                p.name, 1, f"missing column(s) {', '.join(missing)}; columns: {','.join(MANIFEST_COLUMNS)}"
            )
        )
        return []
    # The annotation reader's CSV parser (field counts, blank lines, BOM) on the known columns.
    rows = read_csv_rows(p, present, problems)
    # Extra columns (a crawler's own metadata) are fine: drop that reader's warning.
    problems[:] = [q for q in problems if not (q.severity == "warning" and "unknown column" in q.message)]
    return rows

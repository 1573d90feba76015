"""``--source action100m``: Action100M rows as the input of ``videonet build-train``.

The release already holds what the paper's filters need, for every video, without running
a localizer or a speech recognizer: the title, timed speech (caption lines) and candidate
windows (the tree of segments) - and a second, visual label source, the segments' action
texts.  :func:`ingest_action100m` maps the rows onto the existing stages:

* **domain**: the release is open-domain, so each video is put in a domain of the taxonomy
  by its title and description naming a domain, else by which domain's action names its
  title and action texts mention most (``--a100m-domain`` puts every video in one domain);
  a video that names no domain's action is left out, counted (on the real release this is
  almost every video);
* **windows**: the tree's segments at the chosen level (``segments.level``; default the
  finest annotated segments, see :func:`action100m.window_nodes`), less those whose own
  annotation says "N/A" (counted; ``--keep-na-windows`` keeps them);
* **speech**: the caption lines as words with interpolated times
  (:func:`action100m.caption_transcript`);
* **segments**: every annotated node with the domain's action names its text mentions
  (the ``segment_action_match`` filter's input);
* **video**: ``<video_uid>.<ext>`` in ``--videos-dir``, else fetched by id through the
  download stage (``https://www.youtube.com/watch?v=<id>``), else counted as missing.

The per-video annotation is written once to ``WORK/action100m/annotations.jsonl`` and each
video row carries the byte offset of its record: the rows stay small however big the
release is, and a worker (local or Ray) reads only its own videos' records
(:class:`AnnotationLocalizer`).  Malformed rows stop the build with every problem listed
(file, row, video id and what is wrong), or with ``--skip-invalid-rows`` are left out and
listed in ``failures.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from videonet_datasets.train_data.action100m import (
    Action100MError,
    Row,
    action_text,
    annotated_segments,
    caption_transcript,
    input_files,
    read_rows,
    window_nodes,
    without_na,
)
from videonet_datasets.train_data.config import BuildConfig, WindowPolicy
from videonet_datasets.train_data.localize import LocalizeError, Localizer, LocalizeResult, clean_windows
from videonet_datasets.train_data.manifest import Taxonomy, VideoRow
from videonet_datasets.train_data.match import ActionMatcher, key, tokenize

__all__ = [
    "VIDEO_SUFFIXES",
    "AnnotationLocalizer",
    "DomainFinder",
    "IngestResult",
    "ingest_action100m",
    "read_annotation",
    "store_path",
]

#: Local video files looked for, in order of preference, as ``<video_uid><suffix>``.
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".m4v")


@dataclass
class IngestResult:
    rows: list[VideoRow]
    counts: Counter
    failures: list[dict[str, Any]] = field(default_factory=list)
    videos_dir: Path | None = None


def store_path(work: Path) -> Path:
    return work / "action100m" / "annotations.jsonl"


class DomainFinder:
    """Which domain of the taxonomy a row belongs to, from its texts (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy):
        self.domain_names = ActionMatcher(taxonomy.domains)
        # One matcher over every domain's names (a name shared by two domains votes for both).
        owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
        spelling: dict[tuple[str, ...], str] = {}
        for d in taxonomy.domains:
            for name in taxonomy.names_of(d):
                k = tuple(key(t) for t in tokenize(name))
                owners[k].add(d)
                spelling.setdefault(k, name)
        self.names = ActionMatcher(list(spelling.values()))
        self.owners = [sorted(owners[k]) for k in spelling]

    def find(self, row: Row) -> tuple[str | None, str]:
        """(domain, how): how is ``named`` (title/description names it), ``actions`` (its action
        names win the vote), ``ambiguous`` (a tie) or ``unrelated`` (no evidence)."""
        meta = f"{row.title}\n{row.description}"
        named = self.domain_names.actions_in(meta)
        if len(named) == 1:
            return named[0], "named"
        votes: Counter = Counter()
        texts = [row.title] + [action_text(n.gpt, ("action.brief",)) for n in row.nodes if n.gpt is not None]
        for text in texts:
            for m in self.names.find_in_text(text):
                votes.update(self.owners[m.action])
        if named:
            votes = Counter({d: v for d, v in votes.items() if d in named})
        if not votes:
            return None, "ambiguous" if named else "unrelated"
        ranked = votes.most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None, "ambiguous"
        return ranked[0][0], "actions"


def _local_videos(folder: Path | None) -> dict[str, Path]:
    """``video_uid -> file`` for every video file in ``folder`` (preferred suffix first)."""
    if folder is None or not folder.is_dir():
        return {}
    rank = {s: i for i, s in enumerate(VIDEO_SUFFIXES)}
    found: dict[str, Path] = {}
    for p in folder.iterdir():
        s = p.suffix.lower()
        if s in rank and p.is_file() and not p.name.startswith("."):
            prev = found.get(p.stem)
            if prev is None or rank[s] < rank[prev.suffix.lower()]:
                found[p.stem] = p.resolve()
    return found


def default_videos_dir(source: Path) -> Path | None:
    """A ``videos`` folder beside the rows (the layout VideoNet-mini writes), if there is one."""
    base = source if source.is_dir() else source.parent
    return base / "videos" if (base / "videos").is_dir() else None


def ingest_action100m(settings: BuildConfig, taxonomy: Taxonomy) -> IngestResult:
    """Read and check every row, put each in a domain, write the annotation store, and return
    one :class:`VideoRow` per kept video (with its local path or its download URL)."""
    cfg, seg = settings.action100m, settings.segments
    source = Path(settings.manifest)
    input_files(source)  # a missing or unreadable input fails before anything is written
    if cfg.domain is not None and cfg.domain not in taxonomy.domains:
        raise ValueError(f"--a100m-domain {cfg.domain!r} is not a domain of {taxonomy.path}")
    videos_dir = cfg.videos_dir if cfg.videos_dir is not None else default_videos_dir(source)
    if cfg.videos_dir is not None and not Path(cfg.videos_dir).is_dir():
        raise FileNotFoundError(f"--videos-dir {cfg.videos_dir}: no such folder")
    local = _local_videos(Path(videos_dir) if videos_dir else None)
    finder = DomainFinder(taxonomy)
    matchers = {d: ActionMatcher(taxonomy.names_of(d)) for d in taxonomy.domains}
    counts: Counter = Counter()
    problems = []
    failures: list[dict[str, Any]] = []
    rows: list[VideoRow] = []
    store = store_path(settings.work)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    bar = tqdm(desc="read Action100M rows", unit="row", disable=not settings.progress)
    try:
        with open(tmp, "wb") as out:
            for row, row_problems in read_rows(source):
                bar.update(1)
                counts["action100m:rows"] += 1
                if row is None:
                    counts["action100m:invalid_rows"] += 1
                    problems.extend(row_problems)
                    failures += [
                        {"video_id": None, "stage": "input", "reason": str(p), "line": p.line}
                        for p in row_problems
                    ]
                    continue
                domain, how = (cfg.domain, "given") if cfg.domain else finder.find(row)
                counts[f"action100m:domain_{how}"] += 1
                if domain is None:
                    continue
                duration = row.duration if row.duration else max(n.end for n in row.nodes)
                wins, na = window_nodes(row.nodes, seg.level), 0
                if not seg.keep_na:
                    wins, na = without_na(wins)
                rec = {
                    "video_id": row.video_uid,
                    "windows": [[round(n.start, 3), round(n.end, 3)] for n in wins],
                    "window_nodes": [n.node_id for n in wins],
                    "windows_na": na,
                    "segments": annotated_segments(row.nodes, matchers[domain], seg.text),
                    "transcript": caption_transcript(row.transcript, duration).to_dict(),
                }
                offset = out.tell()
                out.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
                path = local.get(row.video_uid)
                counts["action100m:videos_local" if path else "action100m:videos_not_local"] += 1
                url = None
                if path is None and cfg.download:
                    url = cfg.url_template.format(video_uid=row.video_uid)
                rows.append(
                    VideoRow(
                        video_id=row.video_uid,
                        title=row.title,
                        domain=domain,
                        path=str(path) if path else None,
                        url=url,
                        upload_date=row.upload_date,
                        line=int(row.where.rsplit(":", 1)[1]),
                        annotation=offset,
                    )
                )
            out.flush()
            os.fsync(out.fileno())
        if problems and not cfg.skip_invalid_rows:
            raise Action100MError(source, problems)
        os.replace(tmp, store)
    finally:
        bar.close()
        tmp.unlink(missing_ok=True)
    counts["action100m:videos_kept"] = len(rows)
    if not rows:
        raise ValueError(
            f"{source}: none of the {counts['action100m:rows']:,} rows belongs to a domain of {taxonomy.path} "
            "(no title, description or action text names one of its domains or actions); "
            "--a100m-domain puts every video in one domain"
        )
    return IngestResult(rows, counts, failures if cfg.skip_invalid_rows else [], videos_dir)


def read_annotation(work: Path, offset: int) -> dict[str, Any]:
    """The annotation record written by :func:`ingest_action100m` at ``offset``."""
    with open(store_path(work), "rb") as f:
        f.seek(offset)
        line = f.readline()
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise LocalizeError(f"annotation store {store_path(work)} has no record at byte {offset}") from e


class AnnotationLocalizer(Localizer):
    """The windows, segments and speech of an Action100M row (from the annotation store),
    clamped to the video as it is on disk."""

    name = "action100m-annotations"

    def __init__(self, work: Path, policy: WindowPolicy = WindowPolicy()):
        self.work = work
        self.policy = policy

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        if video.annotation is None:
            raise LocalizeError(f"{video.video_id}: no Action100M annotation for this video")
        rec = read_annotation(self.work, video.annotation)
        if rec.get("video_id") != video.video_id:
            raise LocalizeError(
                f"annotation store: the record at byte {video.annotation} is not {video.video_id!r}"
            )
        windows, drops = clean_windows(rec["windows"], duration, self.policy)
        if rec.get("windows_na"):
            drops["dropped:not_an_action"] += rec["windows_na"]
        return LocalizeResult(windows, drops, segments=rec["segments"], transcript=rec["transcript"])

"""Pre-upload checks of a dataset folder: what is published must load, be complete and
carry nothing of the author's machine.

Checked, each problem naming the file and the row/column/key:

* the card parses; its ``configs`` resolve (as ``load_dataset`` resolves them) to parquet
  files that exist; every parquet file belongs to some config (a stray shard would be
  uploaded but unreachable - or, under a glob, silently duplicate rows); sharded splits
  are complete (``-00000-of-00004`` ... ``-00003-of-00004``, no leftovers of another count);
* ``dataset_info`` agrees with the files: the same features and, per split, the same
  number of rows;
* every video a row references (``video``/``example_videos`` columns and any ``Video``
  feature) exists in the folder, as a relative path that stays inside it;
* no local absolute path in any string of any data file, nor in the card, JSON, CSV or
  YAML files (see :mod:`.paths`; the bundle has already rewritten paths in JSON/YAML
  build metadata, so what remains here is in data, tables or the card).

Warnings (published anyway, but reported): card fields the Hub shows (license, task
categories, ...) missing, configs the toolkit does not know for this kind of dataset,
video files no row references.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from videonet_datasets.publish.dataset_card import (
    SHARD_NAME_RE,
    CardError,
    data_file_features,
    read_card,
    resolve_configs,
)
from videonet_datasets.publish.paths import PathScanner

__all__ = [
    "BENCHMARK",
    "TRAIN",
    "DatasetKind",
    "DatasetReport",
    "Finding",
    "SplitStats",
    "check_dataset",
    "list_files",
    "scan_text_files",
]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
TEXT_EXTENSIONS = (".md", ".json", ".jsonl", ".csv", ".tsv", ".yaml", ".yml", ".txt")
REMOTE_PREFIXES = ("http://", "https://", "hf://", "s3://", "gs://")
CARD_FIELDS = ("license", "pretty_name", "task_categories", "size_categories")
_MAX_PER_FILE = 5  # findings of one kind listed per file; the rest are counted


@dataclass(frozen=True)
class DatasetKind:
    """What a kind of VideoNet dataset is expected to look like."""

    name: str
    video_columns: tuple[str, ...]
    known_configs: tuple[str, ...]
    builder: str  # the command that writes such a folder (and its card)


def _benchmark_configs() -> tuple[str, ...]:
    from videonet_datasets.benchmark.schema import ALL_CONFIGS

    return ALL_CONFIGS


def _train_configs() -> tuple[str, ...]:
    try:
        from videonet_datasets.train_data.filters import ALL_FILTERS
    except ImportError:  # the training-data package is optional here
        return (
            "transcript_localized",
            "transcript_localized_title_match",
            "single_action",
            "segment_action_match",
        )
    return tuple(ALL_FILTERS)


BENCHMARK = DatasetKind(
    "benchmark", ("video", "example_videos"), _benchmark_configs(), "videonet build-benchmark"
)
TRAIN = DatasetKind("train", ("video", "videos", "example_videos"), _train_configs(), "videonet build-train")
#: The results explorer's leaderboard export (``OUT/leaderboard/``: one CSV config, no videos).
LEADERBOARD = DatasetKind("leaderboard", (), ("default",), "videonet explore")


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the folder; "" for the folder itself
    where: str  # "row 12, column 'video'", "config 'mc', split 'test'", "line 3", "$.key"
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        loc = ": ".join(x for x in (self.file, self.where) if x)
        tag = "" if self.severity == "error" else " [warning]"
        return f"{loc}: {self.message}{tag}" if loc else f"{self.message}{tag}"


@dataclass
class SplitStats:
    rows: int
    files: int
    bytes: int


class Findings:
    """Shared by the dataset and model reports: collected findings and their verdict."""

    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, file: str, where: str, message: str, severity: str = "error") -> None:
        self.findings.append(Finding(file, where, message, severity))

    def format_findings(self, limit: int = 50) -> list[str]:
        """The errors, then the warnings (at most ``limit`` of each), as indented report lines."""
        lines = []
        for title, items in (("errors", self.errors), ("warnings", self.warnings)):
            if items:
                lines.append(f"  {title} ({len(items)}):")
                lines += [f"    - {f}" for f in items[:limit]]
                if len(items) > limit:
                    lines.append(f"    ... and {len(items) - limit} more")
        if not self.findings:
            lines.append("  no problems found")
        return lines


@dataclass
class DatasetReport(Findings):
    root: Path
    kind: str
    findings: list[Finding] = field(default_factory=list)
    splits: dict[str, dict[str, SplitStats]] = field(default_factory=dict)
    videos_referenced: int = 0
    videos_present: int = 0
    remote_videos: int = 0
    num_files: int = 0
    num_bytes: int = 0

    def format(self, limit: int = 50) -> str:
        lines = [
            f"Checked {self.kind} dataset {self.root}: {self.num_files} files, {self.num_bytes / 1e6:.1f} MB"
        ]
        for config, splits in self.splits.items():
            lines.append(
                f"  {config:<34}"
                + "  ".join(
                    f"{s}={st.rows:,} ({st.files} file{'s' * (st.files != 1)})" for s, st in splits.items()
                )
            )
        lines.append(
            f"  videos: {self.videos_referenced} referenced, {self.videos_present} in the folder"
            + (f", {self.remote_videos} remote URLs (not checked)" if self.remote_videos else "")
        )
        return "\n".join(lines + self.format_findings(limit))


def list_files(root: Path) -> tuple[list[str], list[str]]:
    """(published files, skipped hidden files) under ``root``, relative and "/"-separated.

    Hidden files and directories (``.building``, ``.trimmed.jsonl``, hash caches, ``.git``)
    are working state, never data: ``load_dataset`` ignores them too.
    """
    files, hidden = [], []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in rel.split("/")):
            hidden.append(rel)
        else:
            files.append(rel)
    return files, hidden


def _video_columns(kind: DatasetKind, features: datasets.Features) -> list[str]:
    cols = [c for c in features if c in kind.video_columns]

    def is_video(f: object) -> bool:
        if isinstance(f, datasets.Video):
            return True
        inner = getattr(f, "feature", None)
        return inner is not None and is_video(inner)

    cols += [c for c, f in features.items() if c not in cols and is_video(f)]
    return cols


def _video_refs(arr: pa.Array, rows: pa.Array) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(path strings, row ids) of a video column: strings, lists of strings, or ``Video``
    structs ``{bytes, path}`` (a path only counts when no bytes are embedded)."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        yield arr, rows
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        yield from _video_refs(arr.flatten(), pc.take(rows, pc.list_parent_indices(arr)))
    elif pa.types.is_struct(t) and t.get_field_index("path") >= 0:
        children = dict(zip([t.field(i).name for i in range(t.num_fields)], arr.flatten()))
        keep = pc.is_null(children["bytes"]) if "bytes" in children else pa.array([True] * len(arr))
        keep = pc.and_(keep, pc.is_valid(arr))
        yield from _video_refs(pc.filter(children["path"], keep), pc.filter(rows, keep))


def _check_videos(
    report: DatasetReport,
    root: Path,
    rel: str,
    columns: list[str],
    present: set[str],
    referenced: set[str],
    bad: dict[str, list[tuple[str, int, str]]],
) -> None:
    """Collect the video references of one data file; invalid ones go to ``bad`` (problem ->
    [(file, row, column)]) so that one missing clip used by 40 rows is one finding."""
    pf = pq.ParquetFile(root / rel)
    offset = 0
    for batch in pf.iter_batches(columns=columns, batch_size=65536):
        rows = pa.array(range(offset, offset + batch.num_rows), type=pa.int64())
        for name in columns:
            for arr, row_ids in _video_refs(batch.column(name), rows):
                for value, row in zip(arr.to_pylist(), row_ids.to_pylist()):
                    if value is None:
                        continue
                    if value.startswith(REMOTE_PREFIXES):
                        report.remote_videos += 1
                        continue
                    referenced.add(value)
                    if value in present:
                        continue
                    if not value:
                        problem = "empty video path"
                    elif value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
                        problem = f"video path {value!r} is absolute; it must be relative to the dataset root"
                    elif ".." in value.replace("\\", "/").split("/"):
                        problem = f"video path {value!r} leaves the dataset folder"
                    else:
                        problem = f"video {value!r} does not exist in the folder"
                    bad.setdefault(problem, []).append((rel, offset + row, name))
        offset += batch.num_rows


def _report_bad_videos(
    report: DatasetReport, bad: dict[str, list[tuple[str, int, str]]], limit: int = 50
) -> None:
    for problem, refs in list(bad.items())[:limit]:
        rel, row, col = refs[0]
        files = len({r[0] for r in refs})
        more = (
            f" (referenced by {len(refs)} rows in {files} file{'s' * (files != 1)})" if len(refs) > 1 else ""
        )
        report.add(rel, f"row {row}, column {col!r}", problem + more)
    if len(bad) > limit:
        report.add("", "", f"... and {len(bad) - limit} more missing or invalid videos")


def _check_leaks_parquet(report: DatasetReport, scanner: PathScanner, root: Path, rel: str) -> None:
    hits, total = scanner.scan_parquet(root / rel, max_hits=_MAX_PER_FILE)
    for h in hits:
        report.add(rel, h.where, f"local path {h.match!r} in value {h.value[:120]!r}")
    if total > len(hits):
        report.add(rel, "", f"... {total - len(hits)} more local paths in this file")


def scan_text_files(
    root: Path, rels: list[str], scanner: PathScanner, skip: tuple[str, ...] = ()
) -> list[Finding]:
    """Local paths in the text files among ``rels`` (JSON/YAML located by key, others by line)."""
    findings: list[Finding] = []
    for rel in rels:
        if not rel.lower().endswith(TEXT_EXTENSIONS) or Path(rel).name in skip:
            continue
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            findings.append(Finding(rel, "", "not UTF-8 text", "warning"))
            continue
        hits = []
        if rel.endswith(".json"):
            try:
                hits = scanner.scan_json(json.loads(text))
            except json.JSONDecodeError:
                hits = []
        if not hits:  # line-based for everything else (and as a fallback)
            hits = scanner.scan_strings((f"line {i}", line) for i, line in enumerate(text.splitlines(), 1))
        for h in hits[:_MAX_PER_FILE]:
            findings.append(Finding(rel, h.where, f"local path {h.match!r} in {h.value.strip()[:120]!r}"))
        if len(hits) > _MAX_PER_FILE:
            findings.append(
                Finding(rel, "", f"... {len(hits) - _MAX_PER_FILE} more local paths in this file")
            )
    return findings


def _check_card_fields(report: DatasetReport, meta: dict) -> None:
    for key in CARD_FIELDS:
        if not meta.get(key):
            report.add(
                "README.md", "YAML", f"no `{key}` (shown on the Hub and used by its search)", "warning"
            )
    if meta.get("license") == "other" and not (meta.get("license_name") and meta.get("license_link")):
        report.add(
            "README.md",
            "YAML",
            "license is 'other' without license_name/license_link; the Hub asks for both",
            "warning",
        )


def _check_shards(report: DatasetReport, config: str, split: str, files: list[str]) -> None:
    counts: dict[tuple[str, str], set[int]] = defaultdict(set)
    for rel in files:
        m = SHARD_NAME_RE.match(Path(rel).name)
        if m and m.group("n"):
            counts[(str(Path(rel).parent), m.group("n"))].add(int(m.group("idx")))
    by_dir: dict[str, list[str]] = defaultdict(list)
    for d, n in counts:
        by_dir[d].append(n)
    for d, ns in by_dir.items():
        if len(ns) > 1:
            report.add(
                d,
                f"config {config!r}, split {split!r}",
                f"shards of different counts ({', '.join('of-' + n for n in sorted(ns))}): leftovers of an older build?",
            )
    for (d, n), idx in counts.items():
        missing = sorted(set(range(int(n))) - idx)
        if missing:
            report.add(
                d, f"config {config!r}, split {split!r}", f"missing shard(s) {missing[:10]} of {int(n)}"
            )


@dataclass
class _Scan:
    """What one check run accumulates across configs."""

    root: Path
    kind: DatasetKind
    present: set[str]
    scanner: PathScanner
    claimed: set[str] = field(default_factory=set)
    referenced: set[str] = field(default_factory=set)
    scanned: set[str] = field(default_factory=set)
    bad_videos: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)


def _read_card_metadata(
    report: DatasetReport, root: Path
) -> tuple[dict, dict[str, dict[str, list[str]]], DatasetInfosDict] | None:
    """The card's metadata, its resolved configs and its dataset_info (None: no usable card)."""
    if not (root / "README.md").is_file():
        report.add(
            "README.md", "", "missing: the card's YAML `configs` is what makes load_dataset find the configs"
        )
        return None
    try:
        meta = read_card(root / "README.md").metadata
    except CardError as e:
        report.add("README.md", "", str(e))
        return None
    _check_card_fields(report, meta)
    resolved, problems = resolve_configs(root, meta)
    for p in problems:
        report.add("README.md", "configs", p)
    if not meta.get("configs"):
        report.add("README.md", "YAML", "no `configs`: load_dataset(FOLDER, CONFIG) cannot find any config")
    try:
        MetadataConfigs.from_dataset_card_data(DatasetCardData(**meta)).get_default_config_name()
    except ValueError as e:
        report.add("README.md", "configs", str(e))
    try:
        infos = DatasetInfosDict.from_dataset_card_data(DatasetCardData(**meta))
    except (ValueError, TypeError, KeyError, yaml.YAMLError) as e:
        report.add("README.md", "dataset_info", f"cannot be read: {e}")
        infos = DatasetInfosDict()
    for extra in sorted(set(infos) - set(resolved)):
        report.add("README.md", "dataset_info", f"describes config {extra!r}, which is not in `configs`")
    return meta, resolved, infos


def _check_split(
    report: DatasetReport,
    scan: _Scan,
    config: str,
    split: str,
    rels: list[str],
    info: datasets.DatasetInfo | None,
) -> SplitStats:
    """Files, features, videos and leaks of one split; its size against the card."""
    where = f"config {config!r}, split {split!r}"
    scan.claimed.update(rels)
    _check_shards(report, config, split, rels)
    rows, nbytes = 0, 0
    split_features: datasets.Features | None = None
    for rel in rels:
        if not rel.endswith(".parquet"):
            report.add(rel, where, "not a parquet file (this toolkit publishes parquet configs only)")
            continue
        try:
            feats, n = data_file_features(scan.root / rel)
        except (pa.ArrowInvalid, OSError) as e:
            report.add(rel, where, f"unreadable parquet: {e}")
            continue
        rows += n
        nbytes += (scan.root / rel).stat().st_size
        if split_features is None:
            split_features = feats
        elif feats != split_features:
            report.add(rel, where, "schema differs from the split's other files")
        if info is not None and info.features is not None and feats != info.features:
            report.add(
                rel,
                where,
                f"features differ from the card's dataset_info: {_feature_diff(info.features, feats)}",
            )
        if rel not in scan.scanned:
            scan.scanned.add(rel)
            cols = _video_columns(scan.kind, feats)
            if cols:
                _check_videos(report, scan.root, rel, cols, scan.present, scan.referenced, scan.bad_videos)
            _check_leaks_parquet(report, scan.scanner, scan.root, rel)
    if rels and rows == 0:
        report.add("README.md", where, "the split has no rows (🤗 datasets cannot load an empty split)")
    if info is not None and info.splits is not None and split in info.splits:
        stated = info.splits[split].num_examples
        if stated != rows:
            report.add("README.md", where, f"dataset_info says {stated:,} rows, the data files have {rows:,}")
    return SplitStats(rows=rows, files=len(rels), bytes=nbytes)


def check_dataset(
    root: str | Path, kind: DatasetKind, *, scanner: PathScanner | None = None
) -> DatasetReport:
    """Every check of the module docstring on the folder ``root``."""
    root = Path(root)
    report = DatasetReport(root=root, kind=kind.name)
    files, _hidden = list_files(root)
    report.num_files = len(files)
    report.num_bytes = sum((root / f).stat().st_size for f in files)
    card = _read_card_metadata(report, root)
    if card is None:
        return report
    _meta, resolved, infos = card
    scan = _Scan(
        root=root, kind=kind, present=set(files), scanner=scanner or PathScanner(extra=[root.resolve()])
    )
    for config, splits in resolved.items():
        if kind.known_configs and config not in kind.known_configs:
            known = ", ".join(kind.known_configs)
            report.add(
                "README.md",
                f"config {config!r}",
                f"not a {kind.name} config of this toolkit ({known})",
                "warning",
            )
        info = infos.get(config)
        if info is None:
            report.add(
                "README.md",
                f"config {config!r}",
                "no `dataset_info` entry: features and split sizes are undocumented",
            )
        elif info.splits is not None:
            for s in sorted(set(info.splits) - set(splits)):
                report.add(
                    "README.md",
                    f"config {config!r}",
                    f"dataset_info lists split {s!r}, which has no data_files",
                )
        report.splits[config] = {
            split: _check_split(report, scan, config, split, rels, info) for split, rels in splits.items()
        }

    _report_bad_videos(report, scan.bad_videos)
    for rel in files:
        if rel.endswith(".parquet") and rel not in scan.claimed:
            report.add(
                rel, "", "parquet file in no config of the card: uploaded but unreachable (stale shard?)"
            )
    pool = {f for f in files if f.lower().endswith(VIDEO_EXTENSIONS)}
    report.videos_referenced = len(scan.referenced)
    report.videos_present = len(pool)
    unused = sorted(pool - scan.referenced)
    if unused:
        report.add(
            "",
            "",
            f"{len(unused)} video file(s) referenced by no row (uploaded anyway), e.g. {', '.join(unused[:3])}",
            "warning",
        )
    report.findings += scan_text_files(root, files, scan.scanner)
    return report


def _feature_diff(card: datasets.Features, data: datasets.Features) -> str:
    parts = []
    for col in card.keys() | data.keys():
        if col not in data:
            parts.append(f"{col!r} only in the card")
        elif col not in card:
            parts.append(f"{col!r} only in the data")
        elif card[col] != data[col]:
            parts.append(f"{col!r}: card {card[col]} vs data {data[col]}")
    return "; ".join(sorted(parts)) or "column order differs"

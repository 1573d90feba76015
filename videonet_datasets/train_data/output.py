"""The training dataset directory: one 🤗 config per filter, parquet shards, a card.

Layout (one repo = one loader: every config is parquet)::

    OUT/README.md                                   card: YAML ``configs`` + yield/precision tables
    OUT/data/<filter>/train-00000-of-0000N.parquet  one row per labeled clip
    OUT/videos/<clip_uid>.mp4                       the clip pool, each clip trimmed once
    OUT/stats.json                                  the build summary (machine-readable)

``video`` is a path relative to OUT, not embedded bytes: a clip labeled by two filters
is stored once, and ``load_dataset(OUT, "single_action")`` works offline without a
video decoder (the fine-tuning recipe opens the file with the project's sampler).
Shards are bounded in bytes (``max_shard_bytes``, estimated from the Arrow size) and
each config's folder is swapped in whole, so a reader never sees half a config.
datasets 5.2 cannot load a split with no rows, so a filter that labeled nothing gets no
data files and no YAML entry; the card says so.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, List, Value

from hub_cards import render_card
from videonet_datasets.fsutil import atomic_write_text, swap_in_directory
from videonet_datasets.train_data.filters import FILTERS
from videonet_datasets.train_data.manifest import Taxonomy

__all__ = ["DEFAULT_CONFIG", "FEATURES", "config_yaml", "write_card", "write_config"]

DEFAULT_CONFIG = "single_action"  # the paper's best filter (Table 6)
_TITLES = {
    "transcript_localized": "Transcript Localized",
    "transcript_localized_title_match": "Transcript Localized Title Match",
    "single_action": "Single Action",
}

QA_FEATURE = {
    "kind": Value("string"),
    "asked_action": Value("string"),
    "prompt": Value("string"),
    "answer": Value("string"),
    "options": List(Value("string")),
}
#: The training schema (the fine-tuning recipe reads it).
FEATURES = Features(
    {
        "clip_uid": Value("string"),
        "video": Value("string"),
        "duration": Value("float64"),
        "source_video_id": Value("string"),
        "source_start": Value("float64"),
        "source_end": Value("float64"),
        "category": Value("string"),
        "domain": Value("string"),
        "action": Value("string"),
        "filter": Value("string"),
        "title": Value("string"),
        "qa": List(QA_FEATURE),
    }
)


def _shard_rows(table: pa.Table, max_shard_bytes: int) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1.0, table.nbytes / table.num_rows)
    return max(1, int(max_shard_bytes // per_row))


def write_config(root: Path, config: str, rows: Sequence[dict[str, Any]], max_shard_bytes: int) -> list[str]:
    """Write one config's rows (sorted by ``clip_uid``) as bounded parquet shards.

    Returns the shard paths relative to ``root``; an empty config removes the folder.
    """
    final = root / "data" / config
    if not rows:
        if final.exists():
            shutil.rmtree(final)
        return []
    ordered = sorted(rows, key=lambda r: r["clip_uid"])
    table = pa.Table.from_pylist([{k: r[k] for k in FEATURES} for r in ordered], schema=FEATURES.arrow_schema)
    per = _shard_rows(table, max_shard_bytes)
    n = math.ceil(table.num_rows / per)
    staging = root / "data" / f".{config}.staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    names = []
    for i in range(n):
        name = f"train-{i:05d}-of-{n:05d}.parquet"
        pq.write_table(table.slice(i * per, per), staging / name, compression="zstd")
        names.append(f"data/{config}/{name}")
    swap_in_directory(staging, final)
    return names


def config_yaml(configs: Sequence[str]) -> str:
    lines = ["configs:"]
    for c in configs:
        lines.append(f"- config_name: {c}")
        if c == DEFAULT_CONFIG or (DEFAULT_CONFIG not in configs and c == configs[0]):
            lines.append("  default: true")
        lines += ["  data_files:", "  - split: train", f"    path: data/{c}/train-*.parquet"]
    return "\n".join(lines)


def _by_category(taxonomy: Taxonomy, domains: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Domains grouped by category, both in first-appearance order (the paper's tables)."""
    by_cat: dict[str, list[str]] = defaultdict(list)
    for d in domains:
        by_cat[taxonomy.category_of(d)].append(d)
    return list(by_cat.items())


def yield_table(taxonomy: Taxonomy, rows_by_config: dict[str, Sequence[dict]], domains: Sequence[str]) -> str:
    """Per-domain clip yields in the layout of the paper's Table 20."""
    counts = {c: Counter(r["domain"] for r in rows_by_config.get(c, [])) for c in FILTERS}
    head = "| Category Name | Domain Name | # Actions | " + " | ".join(_TITLES[c] for c in FILTERS) + " |"
    lines = [head, "|" + "---|" * (3 + len(FILTERS))]
    n_actions = 0
    for cat, ds in _by_category(taxonomy, domains):
        for i, d in enumerate(ds):
            na = len(taxonomy.actions_of(d))
            n_actions += na
            cells = [cat if i == 0 else "", d, str(na), *(f"{counts[c][d]:,}" for c in FILTERS)]
            lines.append("| " + " | ".join(cells) + " |")
    totals = [f"**{sum(counts[c].values()):,}**" for c in FILTERS]
    lines.append("| **All** | **All** | " + f"**{n_actions:,}** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def domain_precision_table(
    taxonomy: Taxonomy, precision: dict[str, dict[str, Any]], domains: Sequence[str]
) -> str:
    """Label precision per domain and filter, in the same layout as the yield table."""
    head = "| Category Name | Domain Name | " + " | ".join(_TITLES[c] for c in FILTERS) + " |"
    lines = [head, "|" + "---|" * (2 + len(FILTERS))]
    for cat, ds in _by_category(taxonomy, domains):
        for i, d in enumerate(ds):
            cells = [cat if i == 0 else "", d]
            for c in FILTERS:
                p = precision.get(c, {}).get("by_domain", {}).get(d)
                cells.append(f"{100 * p['precision']:.0f}% of {p['evaluated']:,}" if p else "-")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def precision_table(precision: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| Filter | Labeled clips | With ground truth | Correct | Precision |",
        "|---|---|---|---|---|",
    ]
    for c in FILTERS:
        p = precision.get(c)
        if not p:
            continue
        prec = f"{100 * p['precision']:.1f}%" if p["precision"] is not None else "-"
        lines.append(f"| {c} | {p['labeled']:,} | {p['evaluated']:,} | {p['correct']:,} | {prec} |")
    return "\n".join(lines)


def write_card(
    root: Path,
    *,
    configs: Sequence[str],
    taxonomy: Taxonomy,
    domains: Sequence[str],
    rows_by_config: dict[str, Sequence[dict]],
    precision: dict[str, dict[str, Any]] | None,
    localization: dict[str, Any] | None,
    summary_text: str,
    settings: dict[str, Any],
) -> Path:
    empty = [c for c in FILTERS if c not in configs]
    metadata = "\n".join(
        [
            "pretty_name: VideoNet weakly-labeled training clips",
            "license: other",
            "task_categories:",
            "- video-classification",
            "- visual-question-answering",
            "tags:",
            "- videonet",
            "- action-recognition",
            "- weak-supervision",
            config_yaml(configs) if configs else "configs: []",
        ]
    )
    parts = [""]
    if empty:
        parts += [
            f"No clips for: {', '.join(f'`{c}`' for c in empty)} - these configs have no data files "
            "(🤗 datasets cannot load an empty split).",
            "",
        ]
    if precision:
        parts += [
            "## Label precision against ground truth",
            "",
            "A clip is correct when the true action segment covering most of it has the clip's label and "
            "covers at least half of the clip.",
            "",
            precision_table(precision),
            "",
            "Per domain:",
            "",
            domain_precision_table(taxonomy, precision, domains),
            "",
        ]
    if localization and localization.get("windows"):
        wp, sr = localization["window_precision"], localization["segment_recall"]
        parts += [
            f"Localizer (`{settings.get('localizer')}`): {localization['windows']:,} windows, "
            f"{100 * wp:.1f}% mostly inside a true action segment; "
            f"{100 * sr:.1f}% of {localization['true_segments']:,} true segments found."
            if wp is not None and sr is not None
            else "",
            "",
        ]
    card = render_card(
        "train",
        metadata,
        T=f"{settings.get('T', 1.0):g}",
        balanced=", after balancing" if settings.get("balanced") else "",
        yield_table=yield_table(taxonomy, rows_by_config, domains),
        results_sections="\n".join(parts),
        summary=summary_text.rstrip(),
    )
    return atomic_write_text(root / "README.md", card)

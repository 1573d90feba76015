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
from videonet_datasets.train_data.action100m import LICENSE_LINK, LICENSE_NAME, MAX_SECONDS_PER_WORD
from videonet_datasets.train_data.filters import FILTERS
from videonet_datasets.train_data.manifest import Taxonomy

__all__ = ["DEFAULT_CONFIG", "FEATURES", "config_yaml", "write_card", "write_config"]

DEFAULT_CONFIG = "single_action"  # the paper's best filter (Table 6)
_TITLES = {
    "transcript_localized": "Transcript Localized",
    "transcript_localized_title_match": "Transcript Localized Title Match",
    "single_action": "Single Action",
    "segment_action_match": "Segment Action Match",
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


def yield_table(
    taxonomy: Taxonomy,
    rows_by_config: dict[str, Sequence[dict]],
    domains: Sequence[str],
    filters: Sequence[str] = FILTERS,
) -> str:
    """Per-domain clip yields in the layout of the paper's Table 20."""
    cols = tuple(filters)
    counts = {c: Counter(r["domain"] for r in rows_by_config.get(c, [])) for c in cols}
    head = "| Category Name | Domain Name | # Actions | " + " | ".join(_TITLES[c] for c in cols) + " |"
    lines = [head, "|" + "---|" * (3 + len(cols))]
    n_actions = 0
    for cat, ds in _by_category(taxonomy, domains):
        for i, d in enumerate(ds):
            na = len(taxonomy.actions_of(d))
            n_actions += na
            cells = [cat if i == 0 else "", d, str(na), *(f"{counts[c][d]:,}" for c in cols)]
            lines.append("| " + " | ".join(cells) + " |")
    totals = [f"**{sum(counts[c].values()):,}**" for c in cols]
    lines.append("| **All** | **All** | " + f"**{n_actions:,}** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def domain_precision_table(
    taxonomy: Taxonomy,
    precision: dict[str, dict[str, Any]],
    domains: Sequence[str],
    filters: Sequence[str] = FILTERS,
) -> str:
    """Label precision per domain and filter, in the same layout as the yield table."""
    cols = tuple(filters)
    head = "| Category Name | Domain Name | " + " | ".join(_TITLES[c] for c in cols) + " |"
    lines = [head, "|" + "---|" * (2 + len(cols))]
    for cat, ds in _by_category(taxonomy, domains):
        for i, d in enumerate(ds):
            cells = [cat if i == 0 else "", d]
            for c in cols:
                p = precision.get(c, {}).get("by_domain", {}).get(d)
                cells.append(f"{100 * p['precision']:.0f}% of {p['evaluated']:,}" if p else "-")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def precision_table(precision: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| Filter | Labeled clips | With ground truth | Correct | Precision |",
        "|---|---|---|---|---|",
    ]
    for c in precision:
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
    filters: Sequence[str] = FILTERS,
) -> Path:
    empty = [c for c in filters if c not in configs]
    from_action100m = settings.get("source") == "action100m"
    license_lines = ["license: other"]
    if from_action100m:  # derived from Action100M: its license travels with the data
        license_lines += [
            f"license_name: {LICENSE_NAME}",
            f"license_link: {LICENSE_LINK}",
            "source_datasets:",
            "- facebook/action100m-preview",
        ]
    metadata = "\n".join(
        [
            "pretty_name: VideoNet weakly-labeled training clips",
            *license_lines,
            "task_categories:",
            "- video-classification",
            "- visual-question-answering",
            "tags:",
            "- videonet",
            "- action-recognition",
            "- weak-supervision",
            *(
                ["- action100m"]
                if settings.get("source") == "action100m" or settings.get("localizer") == "action100m"
                else []
            ),
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
            domain_precision_table(taxonomy, precision, domains, filters),
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
        segment_filter=_segment_filter_text(settings) if "segment_action_match" in filters else "",
        source_section=_source_section(settings),
        yield_table=yield_table(taxonomy, rows_by_config, domains, filters),
        results_sections="\n".join(parts),
        summary=summary_text.rstrip(),
        license_section=_license_section(from_action100m),
    )
    return atomic_write_text(root / "README.md", card)


def _segment_filter_text(settings: dict[str, Any]) -> str:
    fields = ", ".join(f"`{f}`" for f in settings.get("segment_text") or ())
    return (
        " A fourth filter, `segment_action_match`, labels a clip whose annotated segment's action text "
        f"({fields}) names exactly one action of the domain (segments whose ends are within T of the "
        "clip's; a text naming two actions labels nothing)."
    )


def _source_section(settings: dict[str, Any]) -> str:
    level = settings.get("segment_level")
    cut = (
        "the finest annotated segments (annotated tree nodes with no annotated node below them)"
        if level is None
        else f"the segments of tree level {level} (and leaves above it)"
    )
    if settings.get("source") == "action100m":
        return (
            "## Source: Action100M annotations\n\n"
            "The videos, titles, speech and candidate clips come from "
            "[Action100M](https://github.com/facebookresearch/Action100M) rows, not from a crawl run through a "
            "localizer and a speech recognizer:\n\n"
            f"- **clips** are {cut} of each video's tree of segments (hierarchical clustering of V-JEPA 2 "
            "features; the release annotates nodes of at least 4 s)"
            + (
                ""
                if settings.get("keep_na")
                else ', less those whose annotation says no action happens ("N/A")'
            )
            + ";\n"
            "- **speech** is the video's timed caption lines. A caption line has only a start time, so **word "
            "times are interpolated**: a line lasts until the next one starts (at most "
            f"{MAX_SECONDS_PER_WORD:g} s per word) and each word starts at its share of the line's characters. "
            "A spoken name's time can be off by a few tenths of a second where the speech was uneven; the "
            "transcript filters' T absorbs most of it;\n"
            "- **segment texts** are the release's LLM-aggregated `gpt.action` fields (automatic, not verified "
            "by people);\n"
            "- **domains**: each video was put in a domain of the taxonomy by its title and description, or "
            "by the action names its title and action texts mention.\n"
        )
    if settings.get("localizer") == "action100m":
        return (
            "## Labeler: Action100M's caption tree\n\n"
            "Clips and segment texts come from this project's implementation of Action100M's pipeline: a "
            "hierarchical (Ward, temporally contiguous) segmentation of frame embeddings, a caption per segment "
            "by a VLM, and one LLM aggregation per video into Action100M's annotation fields; clips are "
            f"{cut}"
            + (
                ""
                if settings.get("keep_na")
                else ', less those whose annotation says no action happens ("N/A")'
            )
            + ".\n"
        )
    return ""


def _license_section(from_action100m: bool) -> str:
    if not from_action100m:
        return "Source videos belong to their owners; this folder holds derived clips for research use."
    return (
        "## License\n\n"
        "Derived from Action100M, which is released under the **FAIR Noncommercial Research License** "
        f"([text]({LICENSE_LINK})): use it for noncommercial research only. Anyone who redistributes this "
        "data, or works derived from it, must do so under that license and provide a copy of it (put the "
        "license text in a `LICENSE` file beside this card before publishing). Source videos belong to their "
        "owners."
    )

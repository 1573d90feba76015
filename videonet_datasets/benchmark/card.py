"""The benchmark's dataset card: YAML metadata that 🤗 datasets reads (``configs`` with
``data_files`` per split, ``dataset_info`` with features and split sizes) and a body
rendered from ``hub_cards/benchmark.md`` with the real statistics of the build."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import datasets
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

from hub_cards import render_card as render_template
from videonet_datasets import __version__
from videonet_datasets.annotations import AnnotationSet
from videonet_datasets.benchmark import stats
from videonet_datasets.benchmark.schema import (
    ALL_CONFIGS,
    BINARY_FEATURES,
    COLUMN_DOCS,
    MC_CONFIG,
    MC_FEATURES,
    SPLITS,
    data_file,
    features_for,
)


@dataclass
class CardInputs:
    ann: AnnotationSet
    rows: dict[str, dict[str, list[dict[str, Any]]]]  # config -> split -> rows
    num_bytes: dict[tuple[str, str], int]  # (config, split) -> parquet size
    seed: int | None  # None: not built here (imported)
    pretty_name: str = "VideoNet"
    license: str = "other"
    load_path: str = "videonet"
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: str | None = None  # how the rows were made; default: built here with `seed`


def _size_category(n: int) -> str:
    for bound, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < bound:
            return name
    return "1M<n<10M"


def card_metadata(inp: CardInputs) -> DatasetCardData:
    configs = []
    infos = DatasetInfosDict()
    for config in ALL_CONFIGS:
        if config not in inp.rows:
            continue
        splits = [s for s in SPLITS[config] if s in inp.rows[config]]
        entry: dict[str, Any] = {
            "config_name": config,
            "data_files": [{"split": s, "path": data_file(config, s)} for s in splits],
        }
        if config == MC_CONFIG:
            entry["default"] = True
        configs.append(entry)
        split_dict = datasets.SplitDict()
        for s in splits:
            split_dict.add(
                datasets.SplitInfo(
                    name=s, num_bytes=inp.num_bytes.get((config, s), 0), num_examples=len(inp.rows[config][s])
                )
            )
        infos[config] = datasets.DatasetInfo(features=features_for(config), splits=split_dict)
    n_rows = max((len(r) for c in inp.rows.values() for r in c.values()), default=0)
    data = DatasetCardData(
        pretty_name=inp.pretty_name,
        license=inp.license,
        language=["en"],
        task_categories=["video-classification", "visual-question-answering"],
        size_categories=[_size_category(n_rows)],
        tags=["video", "action-recognition", "fine-grained", "few-shot", "videonet"],
        configs=configs,
    )
    infos.to_dataset_card_data(data)
    return data


def _fmt(x: float, digits: int = 1) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def render_card(inp: CardInputs) -> str:
    ann = inp.ann
    used = {r["clip_id"] for split in inp.rows.get(MC_CONFIG, {}).values() for r in split}
    durations = [float(c.duration) for c in ann.clips if c.clip_id in used and c.duration is not None]
    d = stats.DurationStats.of(durations)

    config_lines = []
    what = {MC_CONFIG: "4-way multiple choice"}
    for config in ALL_CONFIGS:
        for split in SPLITS[config]:
            rows = inp.rows.get(config, {}).get(split)
            if rows is None:
                continue
            desc = what.get(config) or (
                f"binary, {rows[0]['k'] if rows else '?'}-shot, "
                + ("random negatives" if "random" in config else "hard negatives")
            )
            config_lines.append(f"| `{config}` | {split} | {len(rows):,} | {desc} |")

    schema_lines = []
    mc_cols, bin_cols = set(MC_FEATURES), set(BINARY_FEATURES)
    for col, doc in COLUMN_DOCS.items():
        where = "all" if col in mc_cols and col in bin_cols else ("mc" if col in mc_cols else "binary")
        schema_lines.append(f"| `{col}` | {where} | {doc} |")

    domain_lines = [
        f"| {r['category']} | {r['domain']} | {r['actions']} | {r['clips']} | {_fmt(r['mean_s'])} | {_fmt(r['median_s'])} |"
        for r in stats.domain_table(ann, used)
    ]
    domain_lines.append(
        f"| All | All | {len(ann.actions)} | {len(durations)} | {_fmt(d.mean)} | {_fmt(d.median)} |"
    )

    mc_test = inp.rows.get(MC_CONFIG, {}).get("test", [])
    baseline = stats.best_single_answer(mc_test, "answer")
    if baseline:
        cats = list(baseline)
        random_table = (
            "| "
            + " | ".join(cats)
            + " |\n|"
            + "---|" * len(cats)
            + "\n| "
            + " | ".join(_fmt(baseline[c]) for c in cats)
            + " |"
        )
    else:
        random_table = "(no `mc` test questions)"

    hist = stats.usage_histogram(ann)
    max_use = max((k for h in hist.values() for k in h), default=0)
    neg_lines = [
        "| domain | " + " | ".join(str(i) for i in range(max_use + 1)) + " |",
        "|---|" + "---|" * (max_use + 1),
    ]
    for domain, h in hist.items():
        neg_lines.append(f"| {domain} | " + " | ".join(str(h.get(i, 0)) for i in range(max_use + 1)) + " |")

    warn = ""
    notes = [*inp.skipped, *inp.warnings]
    if notes:
        warn = "\n## Build notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"

    return render_template(
        "benchmark",
        card_metadata(inp).to_yaml(),
        pretty_name=inp.pretty_name,
        n_actions=len(ann.actions),
        n_domains=len(ann.domains),
        n_categories=len(ann.categories),
        n_clips=len(durations),
        total_minutes=_fmt(sum(durations) / 60.0),
        provenance=inp.provenance
        or (
            f"It was built with the VideoNet toolkit (`videonet build-benchmark`, seed {inp.seed}, version "
            f"{__version__}) in the structure and wording of the official release."
        ),
        load_path=inp.load_path,
        config_table="\n".join(config_lines),
        schema_table="\n".join(schema_lines),
        duration_row=f"| {d.count} | {_fmt(d.min, 2)} | {_fmt(d.max, 1)} | {_fmt(d.mean)} | {_fmt(d.median)} | "
        f"{_fmt(d.std)} | {_fmt(d.kurtosis)} |",
        domain_table="\n".join(domain_lines),
        random_table=random_table,
        negative_table="\n".join(neg_lines),
        warnings_section=warn,
        license=inp.license,
    )

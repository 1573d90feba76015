"""The leaderboard export: every run's accuracy per category, domain and action, both conventions.

Written three ways from one list of rows: ``leaderboard.csv``, ``leaderboard.md`` and a small
🤗 dataset folder ``leaderboard/`` (``README.md`` declaring the config + one parquet shard) that
``videonet publish leaderboard`` uploads as a dataset repo.  Overall, category and domain numbers are the results
files' (the numbers ``videonet report`` prints); per-action numbers aggregate the per-question
values of the same scorer over the action's questions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videonet_datasets.explore.data import ExplorerData, TaskView, per_action
from videonet_datasets.fsutil import atomic_write_bytes, atomic_write_text
from videonet_datasets.report import CONVENTIONS, TaskResult

__all__ = ["COLUMNS", "leaderboard_rows", "write_leaderboard"]

COLUMNS = ["model", "task", "scoring", "level", "category", "domain", "action", "accuracy", "questions"]


def leaderboard_rows(
    results: Sequence[TaskResult], data: ExplorerData, views: Mapping[str, TaskView]
) -> list[dict[str, Any]]:
    """One row per (model, task, convention, overall | category | domain | action)."""
    rows: list[dict[str, Any]] = []
    models = set(data.doc["models"])
    for r in results:
        if r.model not in models:
            continue
        for conv in CONVENTIONS.values():
            base = {"model": r.model, "task": r.task, "scoring": conv.name}
            overall = r.value(conv.accuracy)
            if overall is not None:
                rows.append({**base, "level": "overall", "accuracy": overall, "questions": r.n})
            for cat in r.categories():
                if (v := r.value(conv.accuracy, cat)) is not None:
                    rows.append({**base, "level": "category", "category": cat, "accuracy": v})
            for cat, dom in r.domains():
                if (v := r.value(conv.accuracy, cat, dom)) is not None:
                    rows.append({**base, "level": "domain", "category": cat, "domain": dom, "accuracy": v})
    for model, task, cat, dom, action, metrics, n in per_action(data, views):
        for conv in CONVENTIONS.values():
            v = metrics.get(conv.accuracy)
            if v is None:
                continue
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "scoring": conv.name,
                    "level": "action",
                    "category": cat,
                    "domain": dom,
                    "action": action,
                    "accuracy": v,
                    "questions": n,
                }
            )
    return [{c: row.get(c, "") for c in COLUMNS} for row in rows]


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (f"{100 * v:.4f}" if k == "accuracy" else v) for k, v in row.items()})
    return buf.getvalue()


def _markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The overall, category and domain rows as a table (the per-action rows are in the CSV)."""
    lines = [
        "# VideoNet leaderboard",
        "",
        "Accuracy in %. official: the authors' convention (accuracy over parsed answers, the paper's tables); "
        "robust: this toolkit's parser, unparsed answers wrong. Per-action rows: `leaderboard.csv`.",
        "",
        "| Model | Task | Scoring | Category | Domain | Accuracy | Questions |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for row in rows:
        if row["level"] == "action":
            continue
        cat = row["category"] or "(all)"
        lines.append(
            f"| {row['model']} | {row['task']} | {row['scoring']} | {cat} | {row['domain']} | "
            f"{100 * row['accuracy']:.1f} | {row['questions']} |"
        )
    return "\n".join(lines) + "\n"


CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-00000-of-00001.parquet
tags:
- videonet
- leaderboard
---

# VideoNet leaderboard

Accuracy of {n_models} model(s) on the VideoNet benchmark ({tasks}), written by `videonet explore`.
One row per model, task, scoring convention and level (`overall`, `category`, `domain`, `action`);
`accuracy` is in percent, `questions` the number of questions the row covers (overall and action rows).

* `official` - the VideoNet authors' convention (last line of the answer; accuracy over the answers it
  could parse): the paper's tables.
* `robust` - the toolkit's parser (letters in any common form, option text, reasoning blocks); an
  answer it cannot read counts as wrong.

```python
from datasets import load_dataset
board = load_dataset("<this repo>", split="train")
```
"""


def _parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The rows as the dataset folder's one parquet shard (accuracy in percent, as in the CSV)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for row in rows:
        for c in COLUMNS:
            v = row[c]
            if c == "accuracy":
                v = 100 * v
            elif c == "questions":
                v = int(v) if v not in ("", None) else None
            columns[c].append(v)
    types = {c: pa.string() for c in COLUMNS} | {"accuracy": pa.float64(), "questions": pa.int64()}
    table = pa.table({c: pa.array(columns[c], type=types[c]) for c in COLUMNS})
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return atomic_write_bytes(path, buf.getvalue().to_pybytes())


def write_leaderboard(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """``leaderboard.csv``, ``leaderboard.md`` and the dataset folder ``leaderboard/`` under ``out``."""
    text = _csv(rows)
    models = sorted({r["model"] for r in rows})
    tasks = ", ".join(sorted({r["task"] for r in rows})) or "no tasks"
    return [
        atomic_write_text(out / "leaderboard.csv", text),
        atomic_write_text(out / "leaderboard.md", _markdown(rows)),
        _parquet(rows, out / "leaderboard" / "data" / "train-00000-of-00001.parquet"),
        atomic_write_text(out / "leaderboard" / "README.md", CARD.format(n_models=len(models), tasks=tasks)),
    ]

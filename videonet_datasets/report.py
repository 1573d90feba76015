"""The paper's result tables and plots from lmms-eval output of the VideoNet tasks.

``videonet report RESULTS_DIR...`` reads the ``*_results.json`` files lmms-eval writes under
``--output_path`` (one or more models; a directory may be given a label as ``NAME=DIR``) and
writes, as Markdown and CSV (percentages):

* ``table3_mc`` - multiple choice by category, with the "Random" row (best single letter);
* ``table4_binary_0shot`` - binary 0-shot by category, with its "Random" row;
* ``table12_kshot`` - binary k-shot (k = 0..3) by category, with the change from k-1;
* ``table17_positive_negative`` - accuracy on positive and negative clips, yes-rate, per k;
* ``table5_hard_vs_random`` - hard vs random negatives per k (when both were run);
* ``table11_inputs`` / ``table16_prompts`` - the ablations (middle frame, definition;
  balanced/lenient prompts) when they were run;
* ``domains`` - accuracy per domain, MC and binary 0-shot;
* ``summary`` - every task and model: accuracy, unparsed rate, questions;

and the plots ``fig5_kshot.png`` (accuracy vs k per model, like the paper's Figure 5),
``fig18_positive_negative.png``, ``mc_by_category.png`` and ``binary_0shot_by_category.png``.

Everything is read from the results JSON (the tasks store every breakdown as a metric
key; see ``videonet_datasets/metric_keys.py``), so ``--log_samples`` is not needed.  When a
model has several results files for a task, the newest one is used and the others are
listed; runs made with ``--limit`` are marked partial.

**Two scoring conventions, both reported and labelled.**  Every table is written twice: under
the ``official`` convention (the authors' scorer - last line, accuracy over the *parsed*
answers, the unparsable count beside it; :mod:`videonet_datasets.official`), which is what
the paper's tables use, as ``<table>_official``; and under the toolkit's ``robust`` parser
(:mod:`videonet_datasets.parsing`; an unparsed answer is wrong), as ``<table>``.  The summary
shows both side by side, and what the authors' published code would print when its defects
change the number.

**The authors' result files** (``results/<model>/{mcq_test,mcq_val,zero,one,two,three}.json``,
``key -> {accurate, prediction, response}``) are read too (:mod:`videonet_datasets.official_results`):
given the questions (``--data``), their responses are re-scored exactly as the tasks score them,
so published runs and ours share one table.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.config import ConfigError, split_key_values
from videonet_datasets.fsutil import atomic_write_bytes, atomic_write_text, labelled_path
from videonet_datasets.metric_keys import category_key, domain_key, order_categories, parse_metric_key

log = logging.getLogger(__name__)

__all__ = [
    "CONVENTIONS",
    "Convention",
    "Report",
    "Table",
    "TaskResult",
    "load_results",
    "results_from_dict",
    "summary_markdown",
    "write_report",
]

# Task names of the suite (kept as strings so this module needs neither lmms-eval nor the tasks).
MC = "videonet_mc"
BINARY = "videonet_binary_hard_{k}shot"
BINARY_RANDOM = "videonet_binary_random_{k}shot"
SHOTS = (0, 1, 2, 3)
OVERALL = "Overall"


@dataclass(frozen=True)
class Convention:
    """Which metric keys a table reads: the robust parser's or the official convention's."""

    name: str
    label: str
    accuracy: str
    positive: str
    negative: str
    unparsed: str
    unparsed_header: str
    suffix: str  # added to table and plot file names

    def title(self, title: str) -> str:
        return f"{title} ({self.label})"


CONVENTIONS: dict[str, Convention] = {
    "official": Convention(
        "official",
        "official scoring: the authors' convention, accuracy over parsed answers",
        "official_accuracy",
        "official_accuracy_positive",
        "official_accuracy_negative",
        "official_unparsable",
        "Unparsable (count)",
        "_official",
    ),
    "robust": Convention(
        "robust",
        "robust scoring: this toolkit's parser, unparsed answers wrong",
        "accuracy",
        "accuracy_positive",
        "accuracy_negative",
        "unparsed_rate",
        "Unparsed",
        "",
    ),
}


@dataclass
class TaskResult:
    """One task's aggregated metrics for one model, as lmms-eval saved them."""

    model: str
    task: str
    metrics: dict[str, Any]  # metric key without the ",none" filter suffix -> value
    n: int | None = None  # questions evaluated
    n_total: int | None = None  # questions in the split
    source: str = ""
    date: float = 0.0
    superseded: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.n is not None and self.n_total is not None and self.n < self.n_total

    def value(self, base: str, category: str | None = None, domain: str | None = None) -> float | None:
        if category is None:
            key = base
        elif domain is None:
            key = category_key(base, category)
        else:
            key = domain_key(base, category, domain)
        v = self.metrics.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def categories(self) -> list[str]:
        cats = [
            c for base, c, d in map(parse_metric_key, self.metrics) if base == "accuracy" and c and d is None
        ]
        return order_categories(cats)

    def domains(self) -> list[tuple[str, str]]:
        return sorted(
            {(c, d) for base, c, d in map(parse_metric_key, self.metrics) if base == "accuracy" and c and d}
        )


# ----------------------------------------------------------------------------- loading


def _label_from_config(results: Mapping[str, Any]) -> str:
    cfg = results.get("config") or {}
    model = str(cfg.get("model") or results.get("model_name") or "model")
    try:
        args = split_key_values(str(cfg.get("model_args") or ""), where="model_args")
    except ConfigError:  # another tool's free-form model_args: label by the model alone
        args = []
    for key, value in args:
        if key in ("pretrained", "model", "model_version", "model_name") and value:
            return f"{model}:{Path(value.rstrip('/')).name}"
    return model


def results_from_dict(
    results: Mapping[str, Any], label: str | None = None, source: str = ""
) -> list[TaskResult]:
    """The VideoNet task results inside one lmms-eval results dictionary."""
    label = label or _label_from_config(results)
    n_samples = results.get("n-samples") or {}
    out = []
    for task, values in (results.get("results") or {}).items():
        if not isinstance(values, Mapping):
            continue
        metrics = {}
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if filt in ("", "none") and "_stderr" not in metric and metric != "alias":
                metrics[metric] = value
        counts = n_samples.get(task) or {}
        out.append(
            TaskResult(
                model=label,
                task=task,
                metrics=metrics,
                n=counts.get("effective"),
                n_total=counts.get("original"),
                source=source,
                date=float(results.get("date") or 0.0),
            )
        )
    return out


def _result_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such results directory or file")
    return sorted(path.rglob("*_results.json")) + sorted(p for p in path.rglob("results*.json"))


def _official_files(path: Path) -> list[Path]:
    """Candidate authors' result files under ``path`` (JSON files that are not lmms-eval results)."""
    if path.is_file():
        return [path] if path.suffix == ".json" and not path.name.endswith("_results.json") else []
    return sorted(
        p
        for p in path.rglob("*.json")
        if not p.name.endswith("_results.json") and not p.name.startswith("results")
    )


class QuestionData:
    """The benchmark questions (question_id -> row) a report re-scores authors' result files with."""

    def __init__(self, spec: str | os.PathLike):
        from videonet_datasets.benchmark.questions import Questions

        self.questions = Questions(spec)

    def rows(self, task: str) -> dict[str, dict[str, Any]] | None:
        """question_id -> row of the config/split ``task`` evaluates, or None if unknown."""
        from videonet_datasets.publish.model_card import benchmark_config_of

        where = benchmark_config_of(task)
        return None if where is None else self.questions.rows(*where)


def official_file_results(
    path: Path, label: str, data: QuestionData | None
) -> tuple[TaskResult | None, list[str]]:
    """One authors' result file as a :class:`TaskResult` (both conventions), and notes."""
    from videonet_datasets.official_results import read_file, rescore

    try:
        run = read_file(path)
    except ValueError as e:
        return None, [str(e)]
    if run is None:
        return None, []
    questions = data.rows(run.task) if data is not None else None
    metrics, notes = rescore(run, questions)
    result = TaskResult(
        model=label,
        task=run.task,
        metrics=metrics,
        n=len(run.entries) if questions is None else sum(1 for k in run.entries if k in questions),
        n_total=len(questions) if questions is not None else None,
        source=str(path),
        date=path.stat().st_mtime,
    )
    return result, notes


def load_results(
    specs: Sequence[str | os.PathLike], data: str | os.PathLike | None = None
) -> tuple[list[TaskResult], list[str]]:
    """Read every results file under ``specs`` (``DIR``, ``FILE`` or ``LABEL=DIR``): lmms-eval's
    ``*_results.json`` and the authors' result files (``mcq_test.json``, ``zero.json``, ...;
    re-scored with the questions of ``data`` - a benchmark directory, the official release or a
    Hub id - when given).

    Returns the newest result per (model, task) and notes (superseded or unreadable files).
    """
    notes: list[str] = []
    found: dict[tuple[str, str], TaskResult] = {}
    questions = QuestionData(data) if data is not None else None

    def keep(r: TaskResult) -> None:
        key = (r.model, r.task)
        old = found.get(key)
        if old is None:
            found[key] = r
        elif r.date >= old.date:
            r.superseded = [*old.superseded, old.source]
            found[key] = r
        else:
            old.superseded.append(r.source)

    for spec in specs:
        label, path = labelled_path(spec)
        files = _result_files(path)
        n_official = 0
        for f in _official_files(path):  # the authors' layout: results/<model>/<file>.json
            r, more = official_file_results(f, label or f.parent.name, questions)
            notes += more
            if r is not None:
                n_official += 1
                keep(r)
                if f in files:
                    files.remove(f)
        if not files and not n_official:
            raise FileNotFoundError(
                f"{path}: no lmms-eval *_results.json files nor authors' result files "
                "(mcq_test.json, mcq_val.json, zero.json ... three.json) found"
            )
        for f in dict.fromkeys(files):
            try:
                data_doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                notes.append(f"skipped {f}: not a readable JSON file ({e})")
                continue
            if not isinstance(data_doc, dict) or "results" not in data_doc:
                notes.append(f"skipped {f}: no 'results' (not an lmms-eval results file)")
                continue
            for r in results_from_dict(data_doc, label=label, source=str(f)):
                r.date = r.date or f.stat().st_mtime
                keep(r)
    for r in found.values():
        if r.superseded:
            notes.append(f"{r.model} / {r.task}: using {r.source}; older: {', '.join(r.superseded)}")
        if r.partial:
            notes.append(f"{r.model} / {r.task}: partial run ({r.n} of {r.n_total} questions, --limit?)")
    return list(found.values()), notes


# ----------------------------------------------------------------------------- tables


def _pct(v: float | None, digits: int = 1) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100.0 * v:.{digits}f}"


@dataclass
class Table:
    """A titled table; cells are strings (Markdown) or numbers (CSV keeps full precision)."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""

    def _cell(self, v: Any, digits: int) -> str:
        if isinstance(v, float):
            return _pct(v, digits)
        return "" if v is None else str(v)

    def _is_text(self, col: int) -> bool:
        """Left-align columns of names; right-align numbers."""
        cells = [row[col] for row in self.rows if col < len(row) and row[col] not in (None, "")]
        return col == 0 or any(
            isinstance(v, str) and not v.lstrip("+-").replace(".", "", 1).isdigit() for v in cells
        )

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append(
            "|" + "|".join("---" if self._is_text(i) else "---:" for i in range(len(self.headers))) + "|"
        )
        for row in self.rows:
            lines.append("| " + " | ".join(self._cell(v, 1).replace("|", "\\|") for v in row) + " |")
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.headers)
        for row in self.rows:
            w.writerow([self._cell(v, 2) for v in row])
        return buf.getvalue()


def _delta(cur: float | None, prev: float | None) -> str:
    if cur is None or prev is None:
        return ""
    return f"{100.0 * (cur - prev):+.1f}"


class Report:
    """Builds the tables and plots from :class:`TaskResult` objects of one or more models,
    under one scoring :class:`Convention` (``"robust"`` or ``"official"``)."""

    def __init__(self, results: Iterable[TaskResult], convention: str = "robust"):
        self.results = list(results)
        self.by = {(r.model, r.task): r for r in self.results}
        self.models = list(dict.fromkeys(r.model for r in self.results))
        self.conv = CONVENTIONS[convention]
        self.notes: list[str] = []

    def get(self, model: str, task: str) -> TaskResult | None:
        return self.by.get((model, task))

    def _with(self, task: str) -> list[TaskResult]:
        return [r for m in self.models if (r := self.get(m, task)) is not None]

    def _acc(self, r: TaskResult, category: str | None = None, domain: str | None = None) -> float | None:
        return r.value(self.conv.accuracy, category, domain)

    def _table(
        self, name: str, title: str, headers: list[str], rows: list[list[Any]], note: str = ""
    ) -> Table:
        return Table(name + self.conv.suffix, self.conv.title(title), headers, rows, note=note)

    def categories(self, tasks: Iterable[str]) -> list[str]:
        cats: list[str] = []
        for task in tasks:
            for r in self._with(task):
                cats += r.categories()
        return order_categories(cats)

    def _random_row(self, task: str, cats: list[str]) -> list[Any] | None:
        rows = [r for r in self._with(task) if r.value("random_baseline") is not None]
        if not rows:
            return None
        first = rows[0]
        row = ["Random", *[first.value("random_baseline", c) for c in cats], first.value("random_baseline")]
        for other in rows[1:]:
            if other.value("random_baseline") != first.value("random_baseline"):
                self.notes.append(
                    f"{task}: models were evaluated on different questions (random baselines differ); "
                    f"the Random row is {first.model}'s"
                )
                break
        return row

    def by_category(self, name: str, title: str, task: str) -> Table | None:
        rows = self._with(task)
        if not rows:
            return None
        cats = self.categories([task])
        table = [r for r in [self._random_row(task, cats)] if r]
        for r in rows:
            table.append([r.model, *[self._acc(r, c) for c in cats], self._acc(r)])
        return self._table(
            name, title, ["Model", *cats, OVERALL], table, note=f"Task `{task}`; accuracy in %."
        )

    def kshot(self) -> Table | None:
        tasks = [BINARY.format(k=k) for k in SHOTS]
        if not any(self._with(t) for t in tasks):
            return None
        cats = self.categories(tasks)
        rows = []
        for model in self.models:
            prev = None
            for k, task in zip(SHOTS, tasks):
                r = self.get(model, task)
                if r is None:
                    continue
                acc = self._acc(r)
                rows.append([model, k, *[self._acc(r, c) for c in cats], acc, _delta(acc, prev)])
                prev = acc
        return self._table(
            "table12_kshot",
            "Table 12 - binary few-shot accuracy by category",
            ["Model", "k", *cats, OVERALL, "Δ vs k-1"],
            rows,
            note="Tasks `videonet_binary_hard_{k}shot` (hard negatives); the same test questions for every k.",
        )

    def positive_negative(self) -> Table | None:
        rows = []
        robust = self.conv.name == "robust"
        for model in self.models:
            for k in SHOTS:
                r = self.get(model, BINARY.format(k=k))
                if r is None:
                    continue
                row = [model, k, r.value(self.conv.positive), r.value(self.conv.negative), self._acc(r)]
                if robust:
                    row.append(r.value("yes_rate"))
                unparsed = r.value(self.conv.unparsed)
                row.append(unparsed if robust or unparsed is None else int(unparsed))
                rows.append(row)
        if not rows:
            return None
        headers = ["Model", "k", "Positive clips", "Negative clips", OVERALL]
        headers += ["Yes-rate"] if robust else []
        return self._table(
            "table17_positive_negative",
            "Table 17 - positive vs negative clips",
            [*headers, self.conv.unparsed_header],
            rows,
            note="Positive clips: the answer is yes; negative clips: no."
            + (" Yes-rate over all questions." if robust else " Each over its parsed answers."),
        )

    def hard_vs_random(self) -> Table | None:
        if not any(self._with(BINARY_RANDOM.format(k=k)) for k in SHOTS):
            return None
        rows = []
        for model in self.models:
            for k in SHOTS:
                hard, rnd = self.get(model, BINARY.format(k=k)), self.get(model, BINARY_RANDOM.format(k=k))
                if hard is None and rnd is None:
                    continue
                h = self._acc(hard) if hard else None
                r = self._acc(rnd) if rnd else None
                rows.append([model, k, h, r, _delta(r, h)])
        return self._table(
            "table5_hard_vs_random",
            "Table 5 - hard vs random negatives (binary)",
            ["Model", "k", "Hard negatives", "Random negatives", "Δ"],
            rows,
        )

    def inputs(self) -> Table | None:
        variants = [
            ("Middle frame", "videonet_binary_hard_0shot_middle_frame"),
            ("Video", BINARY.format(k=0)),
            ("Video w/ definition", "videonet_binary_hard_0shot_definition"),
        ]
        mc_variants = [("MC middle frame", "videonet_mc_middle_frame"), ("MC video", MC)]
        if (
            not self._with(variants[0][1])
            and not self._with(variants[2][1])
            and not self._with(mc_variants[0][1])
        ):
            return None
        cats = self.categories([t for _, t in variants + mc_variants])
        rows = []
        for model in self.models:
            for group in (variants, mc_variants):
                prev = None
                for label, task in group:
                    r = self.get(model, task)
                    if r is None:
                        continue
                    acc = self._acc(r)
                    rows.append([model, label, *[self._acc(r, c) for c in cats], acc, _delta(acc, prev)])
                    prev = acc
        return self._table(
            "table11_inputs",
            "Table 11 - video inputs (binary 0-shot; and MC)",
            ["Model", "Input", *cats, OVERALL, "Δ vs previous"],
            rows,
        )

    def prompts(self) -> Table | None:
        rows = []
        for model in self.models:
            for k in SHOTS:
                for label, task in (
                    ("Default", BINARY.format(k=k)),
                    ("Balanced", f"videonet_binary_hard_{k}shot_balanced"),
                    ("Lenient", f"videonet_binary_hard_{k}shot_lenient"),
                ):
                    r = self.get(model, task)
                    if r is not None and (label != "Default" or self._has_variants(model, k)):
                        rows.append(
                            [
                                model,
                                k,
                                label,
                                r.value(self.conv.positive),
                                r.value(self.conv.negative),
                                self._acc(r),
                            ]
                        )
        if not rows:
            return None
        return self._table(
            "table16_prompts",
            "Table 16 - prompt variants (binary)",
            ["Model", "k", "Prompt", "Positive clips", "Negative clips", "All clips"],
            rows,
        )

    def _has_variants(self, model: str, k: int) -> bool:
        return any(self.get(model, f"videonet_binary_hard_{k}shot_{v}") for v in ("balanced", "lenient"))

    def domains(self) -> Table | None:
        tasks = [(MC, "MC"), (BINARY.format(k=0), "binary 0-shot")]
        present = [(t, label) for t, label in tasks if self._with(t)]
        if not present:
            return None
        doms: set[tuple[str, str]] = set()
        for t, _ in present:
            for r in self._with(t):
                doms |= set(r.domains())
        if not doms:
            return None
        order = order_categories(c for c, _ in doms)
        headers = ["Category", "Domain"]
        columns = []
        for t, label in present:
            for model in self.models:
                if self.get(model, t) is not None:
                    headers.append(f"{model} ({label})")
                    columns.append(self.get(model, t))
        rows = [
            [c, d, *[self._acc(r, c, d) for r in columns]]
            for c, d in sorted(doms, key=lambda cd: (order.index(cd[0]), cd[1]))
        ]
        return self._table("domains", "Accuracy per domain", headers, rows)

    def summary(self) -> Table:
        """Every task and model in both conventions (not per convention: one table)."""
        tasks = list(dict.fromkeys(r.task for r in self.results))
        rows = []
        for task in tasks:
            for model in self.models:
                r = self.get(model, task)
                if r is None:
                    continue
                off = r.value("official_accuracy")
                published = r.value("official_as_published")
                unparsable = r.value("official_unparsable")
                rows.append(
                    [
                        task,
                        model,
                        off,
                        int(unparsable) if unparsable is not None else None,
                        published
                        if published is not None and off is not None and abs(published - off) > 5e-5
                        else None,
                        r.value("accuracy"),
                        r.value("unparsed_rate"),
                        r.value("random_baseline"),
                        r.n if r.n is not None else "",
                        "partial" if r.partial else "",
                    ]
                )
        return Table(
            "summary",
            "All tasks, both scoring conventions",
            [
                "Task",
                "Model",
                "Official",
                "Unparsable (count)",
                "As published",
                "Robust",
                "Unparsed",
                "Random",
                "Questions",
                "",
            ],
            rows,
            note="Official: the authors' convention (last line; accuracy over parsed answers), what the paper's "
            "tables use. As published: what the authors' released code would print for the same answers, "
            "shown only where its defects change the number. Robust: this toolkit's parser; unparsed "
            "answers count as wrong. Accuracy in %.",
        )

    def tables(self) -> list[Table]:
        """This convention's tables (the summary, shared by both, is :meth:`summary`)."""
        candidates = [
            self.by_category("table3_mc", "Table 3 - multiple choice by category", MC),
            self.by_category(
                "table4_binary_0shot", "Table 4 - binary 0-shot by category", BINARY.format(k=0)
            ),
            self.kshot(),
            self.positive_negative(),
            self.hard_vs_random(),
            self.inputs(),
            self.prompts(),
            self.domains(),
        ]
        return [t for t in candidates if t is not None and any(_has_number(row) for row in t.rows)]

    # ------------------------------------------------------------------------- plots

    def plots(self, out_dir: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        written = []
        for fn in (self._plot_kshot, self._plot_posneg, self._plot_mc, self._plot_binary0):
            path = fn(out_dir)
            if path is not None:
                written.append(path)
        return written

    def _plot_name(self, out_dir: Path, stem: str) -> Path:
        return out_dir / f"{stem}{self.conv.suffix}.png"

    def _plot_title(self, title: str) -> str:
        return f"{title} - {self.conv.name} scoring"

    def _colors(self) -> dict[str, Any]:
        import matplotlib.pyplot as plt

        cmap = plt.get_cmap("tab10")
        return {m: cmap(i % 10) for i, m in enumerate(self.models)}

    def _save(self, fig, path: Path) -> Path:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def _plot_kshot(self, out_dir: Path) -> Path | None:
        import matplotlib.pyplot as plt

        series = {}
        for model in self.models:
            for kind, pattern in (("hard", BINARY), ("random", BINARY_RANDOM)):
                pts = [
                    (k, 100 * acc)
                    for k in SHOTS
                    if (r := self.get(model, pattern.format(k=k))) is not None
                    and (acc := self._acc(r)) is not None
                ]
                if pts:
                    series[(model, kind)] = pts
        if not series:
            return None
        colors = self._colors()
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for (model, kind), pts in series.items():
            ks, accs = zip(*pts)
            label = model if kind == "hard" else f"{model} (random negatives)"
            ax.plot(ks, accs, "-o" if kind == "hard" else "--s", color=colors[model], label=label, lw=2, ms=6)
        ax.axhline(50, color="grey", lw=1, ls=":", label="chance (50%)")
        ax.set_xticks(list(SHOTS))
        ax.set_xlabel("in-context examples k")
        ax.set_ylabel("binary accuracy (%)")
        ax.set_title(self._plot_title("VideoNet binary few-shot accuracy (Figure 5)"))
        lo = min(a for pts in series.values() for _, a in pts)
        hi = max(a for pts in series.values() for _, a in pts)
        ax.set_ylim(max(0, min(lo, 50) - 5), min(100, max(hi, 50) + 5))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return self._save(fig, self._plot_name(out_dir, "fig5_kshot"))

    def _plot_posneg(self, out_dir: Path) -> Path | None:
        """One panel per model (as in the paper's Figure 18): positive and negative clips vs k."""
        import matplotlib.pyplot as plt

        data = {}
        for model in self.models:
            pts = [
                (k, r.value(self.conv.positive), r.value(self.conv.negative))
                for k in SHOTS
                if (r := self.get(model, BINARY.format(k=k))) is not None
            ]
            pts = [(k, p, n) for k, p, n in pts if p is not None and n is not None]
            if pts:
                data[model] = pts
        if not data:
            return None
        ncols = min(3, len(data))
        nrows = math.ceil(len(data) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
        for ax, (model, pts) in zip(axes.flat, data.items()):
            ks = [k for k, _, _ in pts]
            ax.plot(ks, [100 * p for _, p, _ in pts], "-o", color="tab:green", lw=2, label="positive clips")
            ax.plot(ks, [100 * n for _, _, n in pts], "-s", color="tab:red", lw=2, label="negative clips")
            ax.set_title(model, fontsize=10)
            ax.set_xticks(list(SHOTS))
            ax.set_ylim(0, 100)
            ax.set_xlabel("in-context examples k")
            ax.grid(alpha=0.3)
        for ax in axes.flat[len(data) :]:
            ax.axis("off")
        for ax in axes[:, 0]:
            ax.set_ylabel("accuracy (%)")
        axes.flat[0].legend(fontsize=8, loc="lower left")
        fig.suptitle(self._plot_title("Positive vs negative clips (Figure 18)"))
        fig.tight_layout()
        return self._save(fig, self._plot_name(out_dir, "fig18_positive_negative"))

    def _plot_categories(self, task: str, title: str, path: Path) -> Path | None:
        import matplotlib.pyplot as plt
        import numpy as np

        rows = [r for r in self._with(task) if self._acc(r) is not None]
        if not rows:
            return None
        cats = [*self.categories([task]), OVERALL]
        n = len(rows)
        width = 0.8 / max(n, 1)
        x = np.arange(len(cats))
        fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(cats) + 1.5), 4.4))
        colors = self._colors()
        for i, r in enumerate(rows):
            vals = [self._acc(r, c) if c != OVERALL else self._acc(r) for c in cats]
            heights = [100 * v if v is not None else 0 for v in vals]
            bars = ax.bar(x - 0.4 + width * (i + 0.5), heights, width, label=r.model, color=colors[r.model])
            for bar, v in zip(bars, vals):
                if v is not None and n <= 4:  # value labels stay legible up to 4 models
                    ax.annotate(
                        f"{100 * v:.0f}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        zorder=5,
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
                    )
        base = rows[0]
        rnd = [
            base.value("random_baseline", c) if c != OVERALL else base.value("random_baseline") for c in cats
        ]
        for xi, v in zip(x, rnd):
            if v is not None:
                ax.hlines(100 * v, xi - 0.45, xi + 0.45, colors="black", linestyles="--", lw=1.2)
        ax.plot([], [], "k--", lw=1.2, label="random (best single answer)")
        ax.set_xticks(x)
        ax.set_xticklabels(cats, rotation=20, ha="right")
        ax.set_ylim(0, 105)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(self._plot_title(title))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", alpha=0.3)
        return self._save(fig, path)

    def _plot_mc(self, out_dir: Path) -> Path | None:
        return self._plot_categories(
            MC, "Multiple choice by category", self._plot_name(out_dir, "mc_by_category")
        )

    def _plot_binary0(self, out_dir: Path) -> Path | None:
        return self._plot_categories(
            BINARY.format(k=0),
            "Binary 0-shot by category",
            self._plot_name(out_dir, "binary_0shot_by_category"),
        )


def _has_number(row: Sequence[Any]) -> bool:
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row[1:])


def summary_markdown(results: Sequence[TaskResult]) -> str:
    """Per-task table for terminals: accuracy by category and overall under the official and the
    robust convention, unparsable/unparsed, random baseline, positive/negative/yes-rate."""
    report = Report(results)
    tasks = list(dict.fromkeys(r.task for r in results))
    cats = report.categories(tasks)
    headers = [
        "Task",
        "Model",
        "Scoring",
        *cats,
        OVERALL,
        "Random",
        "Unparsed",
        "Pos / Neg / Yes-rate",
    ]
    rows = []
    for r in results:
        for conv in (CONVENTIONS["official"], CONVENTIONS["robust"]):
            posneg = ""
            if r.value(conv.positive) is not None or r.value(conv.negative) is not None:
                keys = [conv.positive, conv.negative] + (["yes_rate"] if conv.name == "robust" else [])
                posneg = " / ".join(_pct(r.value(k)) for k in keys)
            unparsed = r.value(conv.unparsed)
            rows.append(
                [
                    r.task,
                    r.model,
                    conv.name,
                    *[r.value(conv.accuracy, c) for c in cats],
                    r.value(conv.accuracy),
                    r.value("random_baseline"),
                    (f"{int(unparsed)} answers" if conv.name == "official" else unparsed)
                    if unparsed is not None
                    else None,
                    posneg,
                ]
            )
    note = (
        "official: the authors' convention (last line only; accuracy over the parsed answers, the paper's "
        "tables); robust: this toolkit's parser (unparsed answers count as wrong)."
    )
    return Table("summary", "", headers, rows).markdown().split("\n", 2)[2] + "\n" + note + "\n"


def write_report(
    results: Sequence[TaskResult], out_dir: str | os.PathLike, notes: Sequence[str] = ()
) -> list[Path]:
    """Write every table (``.md`` + ``.csv``) under both conventions, the summary, ``report.md``
    with all of them, and the plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    parts = [
        "# VideoNet results",
        "",
        "Models: " + ", ".join(f"`{m}`" for m in dict.fromkeys(r.model for r in results)),
        "",
        "Every number is given under two scoring conventions. **Official** is the VideoNet authors' "
        "convention - the paper's tables use it: only the last line of an answer is read (a bare letter or "
        "`\\boxed{X}` for multiple choice; a few yes/no forms, then the whole text, for binary), and accuracy "
        "is over the answers it could parse, with the unparsable count beside it. **Robust** is this toolkit's "
        "parser (letters in any common form, option text, reasoning blocks, 'Final answer:'), and an answer "
        "it cannot read counts as wrong. They differ when answers are not in the requested format: official "
        "drops them from the denominator, robust reads most of them and counts the rest as wrong.",
        "",
    ]
    all_notes = list(notes)
    shared = Report(results)
    summary = shared.summary()
    written.append(atomic_write_text(out / f"{summary.name}.md", summary.markdown()))
    written.append(atomic_write_text(out / f"{summary.name}.csv", summary.csv()))
    parts += [summary.markdown()]
    plots: list[Path] = []
    for name in ("official", "robust"):
        report = Report(results, name)
        tables = report.tables()
        if not tables:
            continue
        parts += [f"## {report.conv.label[0].upper()}{report.conv.label[1:]}", ""]
        for t in tables:
            written.append(atomic_write_text(out / f"{t.name}.md", t.markdown()))
            written.append(atomic_write_text(out / f"{t.name}.csv", t.csv()))
            parts.append(t.markdown())
        plots += report.plots(out)
        all_notes += [n for n in report.notes if n not in all_notes]
    written += plots
    if plots:
        parts += ["### Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    if all_notes:
        parts += ["### Notes", ""] + [f"- {n}" for n in all_notes] + [""]
    written.append(atomic_write_text(out / "report.md", "\n".join(parts)))
    return written

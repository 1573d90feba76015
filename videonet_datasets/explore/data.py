"""The explorer's data: questions joined with every model's answer, scored once, in compact columns.

Every answer is scored by :func:`videonet_datasets.scoring.score_mc` / :func:`~videonet_datasets.scoring.score_binary`
- the functions the lmms-eval tasks call - so the parsed answer, the rule that parsed it and
both conventions' verdicts are the ones the numbers were computed from.  The per-domain and
per-k tables are :class:`videonet_datasets.report.Report`'s, built from the same results files
``videonet report`` reads; per-action accuracy and the run-vs-run differences aggregate the
per-question values with :func:`videonet_datasets.scoring.aggregate` /
:func:`~videonet_datasets.scoring.paired_difference`.  Nothing computes an accuracy a second way.

The page gets the data column-wise (one array per field, strings interned in tables), which
keeps 40,000 questions x several models a few megabytes and lets the page filter with plain loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from videonet_datasets import scoring
from videonet_datasets.explore.answers import RunAnswers
from videonet_datasets.metric_keys import order_categories
from videonet_datasets.report import CONVENTIONS, Report, TaskResult

__all__ = ["ExplorerData", "TaskView", "build_data", "default_view"]

#: How a question's rule / status are shown when the model gave no answer to it.
MISSING = -1


@dataclass(frozen=True)
class TaskView:
    """What the explorer needs to know of a task: its benchmark config/split and how its prompt reads."""

    config: str
    split: str
    prompt: Callable[[Mapping[str, Any]], str]
    middle_frame: bool = False

    @property
    def binary(self) -> bool:
        return self.config != "mc"


def stored_prompt(row: Mapping[str, Any]) -> str:
    """The row's stored question with ``<video>`` where each clip goes (the default tasks send it as stored)."""
    from videonet_datasets.prompts import Prompt

    return Prompt.from_question(row["question"]).render("<video>")


def default_view(task: str) -> TaskView | None:
    """A task known by name only (no task catalog at hand): its config, and the stored prompt."""
    from videonet_datasets.publish.model_card import benchmark_config_of

    where = benchmark_config_of(task)
    return None if where is None else TaskView(where[0], where[1], stored_prompt)


class _Interner:
    """Strings -> indices into one table (most answers, actions and prompts repeat)."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.table)
            self.table.append(s)
        return i


@dataclass
class ExplorerData:
    """The site's data (:attr:`doc`, JSON-ready) and what the exports need."""

    doc: dict[str, Any]
    values: dict[
        tuple[str, str], list[dict[str, Any] | None]
    ]  # (model, task) -> per question (None: no answer)
    rows: list[Mapping[str, Any]]  # the question rows, in the order of ``doc["q"]``
    tasks_of_row: list[str]
    clip_paths: list[str]  # clip table index -> the video's path (relative to the data root or absolute)
    notes: list[str] = field(default_factory=list)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 6)
    return v


def _table(t: Any) -> dict[str, Any]:
    return {
        "name": t.name,
        "title": t.title,
        "headers": t.headers,
        "rows": [[_round(v) for v in row] for row in t.rows],
        "note": t.note,
    }


def build_data(
    runs: Sequence[RunAnswers],
    questions: Callable[[str, str], Mapping[str, Mapping[str, Any]]],
    views: Mapping[str, TaskView],
    results: Sequence[TaskResult],
    hard_pairs: set[tuple[str, str, str]] = frozenset(),  # type: ignore[assignment]
) -> ExplorerData:
    """Join ``runs`` with the benchmark rows (``questions(config, split)`` -> question_id -> row).

    ``results`` are the aggregated results of the same runs (:func:`videonet_datasets.report.load_results`)
    the per-domain / per-k tables are built from; ``hard_pairs`` are (domain, action, negative)
    hard-negative pairs the confusion matrices mark.
    """
    notes: list[str] = []
    models = list(dict.fromkeys(r.model for r in runs))
    tasks: list[str] = []
    by_task: dict[str, list[RunAnswers]] = {}
    for r in runs:
        if r.task not in views:
            notes.append(
                f"{r.model} / {r.task}: not a VideoNet task the explorer knows; skipped ({r.source})"
            )
            continue
        by_task.setdefault(r.task, []).append(r)
        if r.task not in tasks:
            tasks.append(r.task)

    # MC first, then binary by k (the report's order), ablations after their base task.
    tasks.sort(key=lambda t: (views[t].binary, _k_of(views[t]) or 0, views[t].split != "test", len(t), t))
    strings = _Interner()
    prompts = _Interner()
    clip_index: dict[str, int] = {}
    clips: dict[str, list[Any]] = {"id": [], "duration": []}
    clip_paths: list[str] = []

    def clip(clip_id: str, video: str, duration: Any) -> int:
        i = clip_index.get(video)
        if i is None:
            i = clip_index[video] = len(clip_paths)
            clip_paths.append(video)
            clips["id"].append(clip_id)
            clips["duration"].append(_round(float(duration)) if isinstance(duration, (int, float)) else None)
        return i

    q: dict[str, list[Any]] = {
        k: []
        for k in (
            "task",
            "qid",
            "category",
            "domain",
            "action",
            "clipAction",
            "clip",
            "examples",
            "gold",
            "options",
            "negType",
            "prompt",
        )
    }
    answers: dict[str, dict[str, list[Any]]] = {
        m: {k: [] for k in ("raw", "parsed", "rule", "status", "ok", "official")} for m in models
    }
    values: dict[tuple[str, str], list[dict[str, Any] | None]] = {}
    rows: list[Mapping[str, Any]] = []
    tasks_of_row: list[str] = []
    for t, task in enumerate(tasks):
        view = views[task]
        table = questions(view.config, view.split)
        task_runs = {r.model: r for r in by_task[task]}
        qids = list(dict.fromkeys(qid for r in by_task[task] for qid in r.answers))
        unknown = [qid for qid in qids if qid not in table]
        if unknown:
            notes.append(
                f"{task}: {len(unknown)} answered question(s) are not in the data's {view.config}/{view.split} "
                f"(e.g. {unknown[0]}); left out"
            )
        scorer = scoring.score_binary if view.binary else scoring.score_mc
        for qid in (qid for qid in qids if qid in table):
            row = table[qid]
            rows.append(row)
            tasks_of_row.append(task)
            q["task"].append(t)
            q["qid"].append(qid)
            q["category"].append(strings(row["category"]))
            q["domain"].append(strings(row["domain"]))
            q["action"].append(strings(row["action"]))
            q["clipAction"].append(strings(row["clip_action"]))
            q["clip"].append(clip(row["clip_id"], row["video"], row.get("duration")))
            examples = list(row.get("example_videos") or [])
            example_ids = list(row.get("example_clip_ids") or examples)
            q["examples"].append([clip(cid, v, None) for cid, v in zip(example_ids, examples)])
            q["gold"].append(str(row["label"] if view.binary else row["answer"]))
            q["options"].append(None if view.binary else [strings(o) for o in row["options"]])
            q["negType"].append(strings(str(row.get("negative_type") or "")) if view.binary else None)
            q["prompt"].append(prompts(view.prompt(row)))
            for model in models:
                a = answers[model]
                run = task_runs.get(model)
                if run is None or qid not in run.answers:
                    for k in ("raw", "rule", "status"):
                        a[k].append(MISSING)
                    a["parsed"].append(None)
                    a["ok"].append(None)
                    a["official"].append(None)
                    values.setdefault((model, task), []).append(None)
                    continue
                v = scorer(row, run.answers[qid])
                values.setdefault((model, task), []).append(v)
                record = v["answer_counts"]
                a["raw"].append(strings(run.answers[qid]))
                a["parsed"].append(record["answer"])
                a["rule"].append(strings(record["rule"] or ""))
                a["status"].append(strings(record["status"] or ""))
                a["ok"].append(int(v["accuracy"]))
                a["official"].append(int(record["official_accurate"]))

    doc: dict[str, Any] = {
        "models": models,
        "tasks": tasks,
        "taskBinary": [views[t].binary for t in tasks],
        "taskMiddleFrame": [views[t].middle_frame for t in tasks],
        "taskK": [_k_of(views[t]) for t in tasks],
        "strings": strings.table,
        "prompts": prompts.table,
        "clips": clips,
        "q": q,
        "answers": answers,
        "hardPairs": sorted(
            [strings(d), strings(a), strings(n)]
            for d, a, n in _hard_pairs(rows, tasks_of_row, views, hard_pairs)
        ),
    }
    doc["tables"], more = tables(results, models)
    notes += more
    doc["comparisons"] = comparisons(models, tasks, values, rows, tasks_of_row)
    notes += consistency(values, rows, tasks_of_row, views, results)
    doc["notes"] = notes
    return ExplorerData(doc, values, rows, tasks_of_row, clip_paths, notes)


def _hard_pairs(
    rows: Sequence[Mapping[str, Any]],
    tasks_of_row: Sequence[str],
    views: Mapping[str, TaskView],
    given: set[tuple[str, str, str]],
) -> set[tuple[str, str, str]]:
    """(domain, action, hard negative): the given ones (the annotations' table) and every binary
    question asking about an action on a clip of its hard negative."""
    pairs = set(given)
    for row, task in zip(rows, tasks_of_row):
        if views[task].binary and row.get("negative_type") == "hard":
            pairs.add((row["domain"], row["action"], row["clip_action"]))
    return pairs


def _k_of(view: TaskView) -> int | None:
    if not view.binary:
        return None
    digits = [c for c in view.config if c.isdigit()]
    return int(digits[0]) if digits else None


def tables(results: Sequence[TaskResult], models: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """``videonet report``'s tables for the explored models, both conventions, and its notes."""
    mine = [r for r in results if r.model in models]
    out: dict[str, Any] = {"summary": _table(Report(mine).summary())}
    notes: list[str] = []
    for name in CONVENTIONS:
        report = Report(mine, name)
        out[name] = [_table(t) for t in report.tables()]
        notes += [n for n in report.notes if n not in notes]
    return out, notes


def _selected(
    values: Mapping[tuple[str, str], list[dict[str, Any] | None]],
    rows: Sequence[Mapping[str, Any]],
    tasks_of_row: Sequence[str],
    model: str,
    task: str,
) -> list[tuple[Mapping[str, Any], dict[str, Any]]]:
    """(row, scored values) of the questions of ``task`` that ``model`` answered."""
    vals = values.get((model, task), [])
    picked = [i for i, t in enumerate(tasks_of_row) if t == task]
    return [(rows[i], v) for i, v in zip(picked, vals) if v is not None]


def comparisons(
    models: Sequence[str],
    tasks: Sequence[str],
    values: Mapping[tuple[str, str], list[dict[str, Any] | None]],
    rows: Sequence[Mapping[str, Any]],
    tasks_of_row: Sequence[str],
) -> list[dict[str, Any]]:
    """Every pair of models, every task: robust accuracy A - B overall, per category and per domain,
    on the questions both answered, with standard errors clustered by action."""
    out = []
    for a, b in combinations(models, 2):
        for task in tasks:
            va = dict(_by_qid(_selected(values, rows, tasks_of_row, a, task)))
            vb = dict(_by_qid(_selected(values, rows, tasks_of_row, b, task)))
            shared = [qid for qid in va if qid in vb]
            if not shared:
                continue
            groups: dict[tuple[str, str], list[str]] = {("", ""): shared}
            for qid in shared:
                row = va[qid][0]
                groups.setdefault((row["category"], ""), []).append(qid)
                groups.setdefault((row["category"], row["domain"]), []).append(qid)
            cats = order_categories(c for c, _ in groups if c)
            order = sorted(groups, key=lambda cd: (cats.index(cd[0]) if cd[0] else -1, cd[1]))
            lines = []
            for cat, dom in order:
                diff = scoring.paired_difference(
                    (va[q][0]["action"], va[q][1]["accuracy"], vb[q][1]["accuracy"])
                    for q in groups[(cat, dom)]
                )
                assert diff is not None
                lines.append(
                    {
                        "category": cat,
                        "domain": dom,
                        "a": _round(diff.a),
                        "b": _round(diff.b),
                        "delta": _round(diff.delta),
                        "se": _round(diff.stderr),
                        "n": diff.n,
                        "clusters": diff.clusters,
                        "differ": sum(
                            1 for q in groups[(cat, dom)] if va[q][1]["accuracy"] != vb[q][1]["accuracy"]
                        ),
                    }
                )
            out.append({"a": a, "b": b, "task": task, "rows": lines})
    return out


def _by_qid(pairs: list[tuple[Mapping[str, Any], dict[str, Any]]]):
    for row, v in pairs:
        yield row["question_id"], (row, v)


def per_action(
    data: ExplorerData, views: Mapping[str, TaskView]
) -> list[tuple[str, str, str, str, str, dict[str, Any], int]]:
    """(model, task, category, domain, action, aggregated metrics, questions) per action, each
    aggregated by :func:`videonet_datasets.scoring.aggregate` over that action's questions."""
    out = []
    for (model, task), vals in data.values.items():
        binary = views[task].binary
        entries = scoring.metric_list(binary, [], [])
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        picked = [i for i, t in enumerate(data.tasks_of_row) if t == task]
        for i, v in zip(picked, vals):
            if v is None:
                continue
            row = data.rows[i]
            groups.setdefault((row["category"], row["domain"], row["action"]), []).append(v)
        for (cat, dom, action), vs in sorted(groups.items()):
            out.append((model, task, cat, dom, action, scoring.aggregate(vs, entries), len(vs)))
    return out


def consistency(
    values: Mapping[tuple[str, str], list[dict[str, Any] | None]],
    rows: Sequence[Mapping[str, Any]],
    tasks_of_row: Sequence[str],
    views: Mapping[str, TaskView],
    results: Sequence[TaskResult],
) -> list[str]:
    """Notes where the answers shown differ from the results the tables report (a samples file and a
    results file of different runs, or a results file with no samples beside it)."""
    notes = []
    by = {(r.model, r.task): r for r in results}
    for (model, task), vals in values.items():
        r = by.get((model, task))
        answered = [v for v in vals if v is not None]
        if not answered:
            continue
        if r is None:
            notes.append(f"{model} / {task}: answers shown, but no results file: the tables leave it out")
            continue
        agg = scoring.aggregate(answered, scoring.metric_list(views[task].binary, [], []))
        reported = r.value("accuracy")
        if reported is None or abs(agg.get("accuracy", math.nan) - reported) > 1e-9:
            notes.append(
                f"{model} / {task}: the {len(answered)} answers shown give accuracy "
                f"{agg.get('accuracy')!r}, the results file {reported!r} ({r.source}): not the same run?"
            )
    for model, task in by:
        if task in views and (model, task) not in values:
            notes.append(
                f"{model} / {task}: in the tables, but no per-question answers (run with --log_samples)"
            )
    return notes

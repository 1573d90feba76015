"""Scoring of one answer and the metric list of the VideoNet tasks (pure Python, no lmms-eval).

It lives in the library so that everything that scores answers - the lmms-eval tasks
(``videonet_lmms_tasks.metrics`` re-exports it) and ``videonet report`` re-scoring the authors'
result files - scores them the same way, with imports running one way (tasks -> library).

lmms-eval keeps only the keys ``process_results`` returns that are declared in the task's
``metric_list``, and aggregates each key over the documents that returned it.  So every
breakdown is its own key, returned only by the documents it covers, with ``mean``
aggregation (which also gets lmms-eval's standard error):

===============================  ==========================================================
``accuracy``                     all questions; an unparsed or empty answer is wrong
``accuracy[<category>]``         questions of one category (paper Tables 3, 4, 12)
``accuracy[<category> > <domain>]``  questions of one domain
``unparsed_rate``                share of answers the parser could not read (or empty/failed)
``random_baseline``              best accuracy of always giving one answer (Table 3 "Random")
``random_baseline[<category>]``  the same within a category
``accuracy_positive``            binary: questions whose answer is "yes" (Table 17)
``accuracy_negative``            binary: questions whose answer is "no"
``yes_rate``                     binary: share of all questions answered "yes"
``answer_counts``                how often each answer / failure status occurred
===============================  ==========================================================

Those are the ``robust`` convention (:mod:`videonet_datasets.parsing`; an unparsed answer is
wrong).  Every question is also scored under the ``official`` convention - the authors'
scorer (:mod:`videonet_datasets.official`: last line only, accuracy over *parsed* answers):

=====================================  ====================================================
``official_accuracy``                  over the parsed answers only (the paper's convention)
``official_accuracy[<category>]``      ... within a category; ``[<category> > <domain>]`` too
``official_unparsable``                how many answers it could not parse (a count)
``official_accuracy_positive``         binary: parsed answers on "yes" questions
``official_accuracy_negative``         binary: parsed answers on "no" questions
``official_as_published``              what the authors' published code would print for these
                                       answers, its defects included (differs when they matter)
=====================================  ====================================================

Official accuracy keys are returned only by the questions whose answer parsed, so lmms-eval's
``mean`` is the accuracy over parsed answers (and its standard error is over them too).

The category and domain keys depend on the data, so the metric list is built when the
task loads (:func:`metric_list`, from the categories and domains of the loaded config).
The key format itself is :mod:`videonet_datasets.metric_keys`.
Group aggregation is not used (lmms-eval's matches metric names by substring); the suite's
tag runs the tasks side by side.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from videonet_datasets import official
from videonet_datasets.metric_keys import category_key, domain_key, order_categories
from videonet_datasets.parsing import ParseResult, parse_binary, parse_mc
from videonet_datasets.prompts import option_letters

__all__ = [
    "OFFICIAL_PREFIX",
    "PairedDifference",
    "aggregate",
    "answer_counts",
    "best_single_answer",
    "binary_answer",
    "count",
    "metric_list",
    "paired_difference",
    "published_binary_accuracy",
    "published_mc_accuracy",
    "score_binary",
    "score_mc",
]

#: Metric keys of the official convention start with this (``official_accuracy`` ...).
OFFICIAL_PREFIX = "official_"


# ----------------------------------------------------------------------------- aggregations


def best_single_answer(items: Sequence[str]) -> float:
    """Best accuracy reachable by giving one fixed answer to every question (0 if empty)."""
    if not items:
        return 0.0
    return max(Counter(items).values()) / len(items)


def answer_counts(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How often each parsed answer, and each failure status, occurred."""
    counts: Counter[str] = Counter()
    for item in items:
        counts[item.get("answer") or item.get("status") or "unparsed"] += 1
    return dict(sorted(counts.items()))


def count(items: Sequence[float]) -> int:
    """How many questions had the property (the items are 0/1)."""
    return int(sum(items))


def published_mc_accuracy(items: Sequence[tuple[int, str]]) -> float | None:
    """The MC accuracy the authors' published summary prints for these per-question
    ``(accurate, prediction)`` pairs (it tells unparsable answers by their prediction)."""
    pairs = [(int(code), str(pred)) for code, pred in items]
    return official.summarize(
        [c for c, _ in pairs], published=True, predictions=[p for _, p in pairs]
    ).accuracy


def published_binary_accuracy(items: Sequence[int]) -> float | None:
    """The binary accuracy the authors' published summary prints for these per-question codes."""
    return official.summarize(items).accuracy


# ----------------------------------------------------------------------------- scoring


def _record(doc: Mapping[str, Any], parsed: ParseResult) -> dict[str, Any]:
    """The per-question record behind ``answer_counts``.  lmms-eval's sample logs keep it (they
    drop the document), so it also names the question and its official scoring - what
    ``videonet export-results`` writes to the authors' result files."""
    return {
        "answer": parsed.answer,
        "status": parsed.status,
        "rule": parsed.rule,
        "question_id": doc.get("question_id"),
    }


def _common(doc: Mapping[str, Any], correct: float, parsed: ParseResult, gold: str) -> dict[str, Any]:
    category, domain = doc["category"], doc["domain"]
    return {
        "accuracy": correct,
        category_key("accuracy", category): correct,
        domain_key("accuracy", category, domain): correct,
        "unparsed_rate": 0.0 if parsed.ok else 1.0,
        "random_baseline": gold,
        category_key("random_baseline", category): gold,
        "answer_counts": _record(doc, parsed),
    }


def _official(
    doc: Mapping[str, Any],
    output: object,
    fixed: official.OfficialScore,
    published: official.OfficialScore,
    doc_values: Mapping[str, Any],
    binary: bool,
) -> dict[str, Any]:
    values: dict[str, Any] = {"official_unparsable": 0 if fixed.parsed else 1}
    if isinstance(record := doc_values.get("answer_counts"), dict):
        record.update(official_accurate=fixed.accurate, official_prediction=fixed.prediction)
    if not official.is_failed_output(output):
        # The published code stores no result for a question the model never answered.
        # MC: the published summary also needs the stored prediction (official.summarize).
        values["official_as_published"] = (
            published.accurate if binary else (published.accurate, published.prediction)
        )
    if fixed.parsed:
        category, domain = doc["category"], doc["domain"]
        ok = float(fixed.accurate)
        values["official_accuracy"] = ok
        values[category_key("official_accuracy", category)] = ok
        values[domain_key("official_accuracy", category, domain)] = ok
    return values


def score_mc(doc: Mapping[str, Any], output: object) -> dict[str, Any]:
    """Metric values of one multiple-choice question (never raises on the model's output)."""
    parsed = parse_mc(output, options=list(doc["options"]))
    gold = str(doc["answer"]).strip().upper()
    values = _common(doc, 1.0 if parsed.answer == gold else 0.0, parsed, gold)
    letters = option_letters(len(doc["options"]))
    values.update(
        _official(
            doc,
            output,
            official.score_mc(output, gold, letters),
            official.score_mc(output, gold, letters, published=True),
            values,
            binary=False,
        )
    )
    return values


def binary_answer(doc: Mapping[str, Any]) -> str:
    label = str(doc["label"]).strip().lower()
    if label not in ("yes", "no"):
        raise ValueError(
            f"question {doc.get('question_id')!r}: label must be 'yes' or 'no', got {doc['label']!r}"
        )
    return label


def score_binary(doc: Mapping[str, Any], output: object) -> dict[str, Any]:
    """Metric values of one binary question (never raises on the model's output)."""
    parsed = parse_binary(output)
    gold = binary_answer(doc)
    correct = 1.0 if parsed.answer == gold else 0.0
    values = _common(doc, correct, parsed, gold)
    values["accuracy_positive" if gold == "yes" else "accuracy_negative"] = correct
    values["yes_rate"] = 1.0 if parsed.answer == "yes" else 0.0
    fixed = official.score_binary(output, gold)
    published = official.score_binary(output, gold, published=True)
    values.update(_official(doc, output, fixed, published, values, binary=True))
    if fixed.parsed:
        key = "official_accuracy_positive" if gold == "yes" else "official_accuracy_negative"
        values[key] = float(fixed.accurate)
    return values


# ----------------------------------------------------------------------------- metric_list


def _entry(metric: str, aggregation: Any = "mean", higher_is_better: bool | None = True) -> dict[str, Any]:
    return {"metric": metric, "aggregation": aggregation, "higher_is_better": higher_is_better}


def metric_list(
    binary: bool, categories: Iterable[str], domains: Iterable[tuple[str, str]]
) -> list[dict[str, Any]]:
    """lmms-eval ``metric_list`` covering every key :func:`score_mc` / :func:`score_binary` returns
    for data with these categories and (category, domain) pairs."""
    entries = [
        _entry("accuracy"),
        _entry("unparsed_rate", higher_is_better=False),
        _entry("random_baseline", best_single_answer, None),
        _entry("answer_counts", answer_counts, None),
        _entry("official_accuracy"),
        _entry("official_unparsable", count, False),
        _entry("official_as_published", published_binary_accuracy if binary else published_mc_accuracy),
    ]
    if binary:
        entries += [
            _entry("accuracy_positive"),
            _entry("accuracy_negative"),
            _entry("yes_rate", higher_is_better=None),
            _entry("official_accuracy_positive"),
            _entry("official_accuracy_negative"),
        ]
    cats = order_categories(categories)
    doms = sorted(set(domains), key=lambda cd: (cats.index(cd[0]) if cd[0] in cats else len(cats), cd[1]))
    for base in ("accuracy", "official_accuracy"):
        entries += [_entry(category_key(base, c)) for c in cats]
        entries += [_entry(domain_key(base, c, d)) for c, d in doms]
    entries += [_entry(category_key("random_baseline", c), best_single_answer, None) for c in cats]
    return entries


def aggregate(values: Iterable[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per-question values the way lmms-eval does: each declared key over the
    questions that returned it (``"mean"`` or the entry's function); keys no question
    returned are absent.  For re-scoring answers outside lmms-eval (authors' result files)."""
    collected: dict[str, list[Any]] = {}
    for v in values:
        for key, value in v.items():
            collected.setdefault(key, []).append(value)
    out: dict[str, Any] = {}
    for entry in entries:
        items = collected.get(entry["metric"])
        if not items:
            continue
        agg = entry["aggregation"]
        out[entry["metric"]] = sum(items) / len(items) if agg == "mean" else agg(items)
    return out


# ----------------------------------------------------------------------------- comparing runs


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of run A minus run B on the same questions, with a cluster-robust standard error."""

    a: float
    b: float
    delta: float
    stderr: float | None  # None with fewer than two clusters
    n: int  # questions both runs answered
    clusters: int


def paired_difference(pairs: Iterable[tuple[Hashable, float, float]]) -> PairedDifference | None:
    """``mean(a) - mean(b)`` over ``(cluster, a, b)`` per-question scores (0/1) of two runs.

    The questions of one action share its clips and its definition, so they are not independent;
    the standard error is the cluster-robust (Liang-Zeger, CR1 small-sample factor G/(G-1)) one
    of the mean paired difference, clustered by ``cluster`` (the action):
    ``sqrt(G/(G-1) * sum_g (sum_{i in g} (d_i - mean d))^2) / n``.  None when there are no pairs.
    """
    by_cluster: dict[Hashable, list[float]] = {}
    sum_a = sum_b = 0.0
    n = 0
    for cluster, a, b in pairs:
        by_cluster.setdefault(cluster, []).append(float(a) - float(b))
        sum_a += float(a)
        sum_b += float(b)
        n += 1
    if not n:
        return None
    mean_d = (sum_a - sum_b) / n
    g = len(by_cluster)
    stderr = None
    if g > 1:
        total = sum(sum(d - mean_d for d in ds) ** 2 for ds in by_cluster.values())
        stderr = math.sqrt(g / (g - 1) * total) / n
    return PairedDifference(sum_a / n, sum_b / n, mean_d, stderr, n, g)

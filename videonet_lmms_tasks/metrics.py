"""Scoring of one answer and the metric list of the VideoNet tasks (pure Python, no lmms-eval).

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

The category and domain keys depend on the data, so the metric list is built when the
task loads (:func:`metric_list`, from the categories and domains of the loaded config).
The key format itself is :mod:`videonet_datasets.metric_keys` (re-exported here).
Group aggregation is not used (lmms-eval's matches metric names by substring); the suite's
tag runs the tasks side by side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from videonet_datasets.metric_keys import (
    CATEGORY_ORDER,
    DOMAIN_SEP,
    category_key,
    domain_key,
    order_categories,
    parse_metric_key,
)
from videonet_datasets.parsing import ParseResult, parse_binary, parse_mc

__all__ = [
    "CATEGORY_ORDER",
    "DOMAIN_SEP",
    "answer_counts",
    "best_single_answer",
    "binary_answer",
    "category_key",
    "domain_key",
    "metric_list",
    "order_categories",
    "parse_metric_key",
    "score_binary",
    "score_mc",
]

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


# ----------------------------------------------------------------------------- scoring


def _record(parsed: ParseResult) -> dict[str, Any]:
    return {"answer": parsed.answer, "status": parsed.status, "rule": parsed.rule}


def _common(doc: Mapping[str, Any], correct: float, parsed: ParseResult, gold: str) -> dict[str, Any]:
    category, domain = doc["category"], doc["domain"]
    return {
        "accuracy": correct,
        category_key("accuracy", category): correct,
        domain_key("accuracy", category, domain): correct,
        "unparsed_rate": 0.0 if parsed.ok else 1.0,
        "random_baseline": gold,
        category_key("random_baseline", category): gold,
        "answer_counts": _record(parsed),
    }


def score_mc(doc: Mapping[str, Any], output: object) -> dict[str, Any]:
    """Metric values of one multiple-choice question (never raises on the model's output)."""
    parsed = parse_mc(output, options=list(doc["options"]))
    gold = str(doc["answer"]).strip().upper()
    return _common(doc, 1.0 if parsed.answer == gold else 0.0, parsed, gold)


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
    ]
    if binary:
        entries += [
            _entry("accuracy_positive"),
            _entry("accuracy_negative"),
            _entry("yes_rate", higher_is_better=None),
        ]
    cats = order_categories(categories)
    doms = sorted(set(domains), key=lambda cd: (cats.index(cd[0]) if cd[0] in cats else len(cats), cd[1]))
    entries += [_entry(category_key("accuracy", c)) for c in cats]
    entries += [_entry(domain_key("accuracy", c, d)) for c, d in doms]
    entries += [_entry(category_key("random_baseline", c), best_single_answer, None) for c in cats]
    return entries

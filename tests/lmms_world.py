"""A tiny built benchmark, scripted model answers in messy styles, and their expected scores.

Shared by the lmms-eval task tests and the report tests.  The expected metric values are
computed here by hand from the script (which answer each reply states, or that it states
none) - never by calling the tasks' scoring code.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from conftest import make_annotation_dir

from videonet_datasets.benchmark.build import build_benchmark
from videonet_datasets.benchmark.schema import data_file

# Two categories, so per-category keys are really split.
CATEGORY_OF_DOMAIN = {"Domain 0": "Sports", "Domain 1": "Dance"}


def build_world(root: Path) -> Path:
    """Annotations of 2 domains x 4 actions x 5 one-second clips, built into ``root/videonet``."""
    ann = make_annotation_dir(root / "ann", domains=2, actions_per_domain=4)
    rows = list(csv.reader(open(ann / "actions.csv", encoding="utf-8")))
    for row in rows[1:]:
        row[0] = CATEGORY_OF_DOMAIN[row[1]]
    with open(ann / "actions.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    out = root / "videonet"
    build_benchmark(ann, out, seed=0, progress=False, workers=1)
    return out


def read_rows(data: Path, config: str, split: str = "test") -> list[dict]:
    return pq.read_table(data / data_file(config, split)).to_pylist()


# ----------------------------------------------------------------------------- reply styles
# Each style renders the answer the "model" means, and says - judged by hand, from the rules
# as stated - whether each convention reads it:
#   MC:     (name, render, robust, official, published)  published: the authors' code as released
#   binary: (name, render, robust, official, whole_text) whole_text: the official reading comes
#           from the whole-text fallback (where the published code expects "yes" for every question)

MC_STYLES: list[tuple[str, Callable[[str, str], str], bool, bool, bool]] = [
    ("bare", lambda letter, text: letter, True, True, True),
    ("parenthesized", lambda letter, text: f"({letter})", True, False, False),
    ("answer_colon", lambda letter, text: f"Answer: {letter}", True, False, False),
    ("the_answer_is", lambda letter, text: f"The answer is {letter}.", True, False, False),
    ("markdown", lambda letter, text: f"**{letter}**", True, True, True),
    ("letter_and_text", lambda letter, text: f"{letter}. {text}", True, False, False),
    (
        "reasoning_block",
        lambda letter, text: f"<think>Could it be A? Or C?</think>\n{letter}",
        True,
        True,
        True,
    ),
    ("option_text", lambda letter, text: text, True, False, False),
    (
        "final_answer",
        lambda letter, text: f"The motion matches the definition best.\nFinal answer: ({letter})",
        True,
        False,
        False,
    ),
    ("boxed", lambda letter, text: f"\\boxed{{{letter}}}", True, True, False),
    ("empty", lambda letter, text: "", False, False, False),
    (
        "failed_request",
        lambda letter, text: "[LMMS_EVAL_REQUEST_FAILED after 3 retries]",
        False,
        False,
        False,
    ),
    ("no_answer", lambda letter, text: "I am not sure what this video shows.", False, False, False),
]

BINARY_STYLES: list[tuple[str, Callable[[str], str], bool, bool, bool]] = [
    ("bare", lambda yn: yn, True, True, False),
    ("capitalized", lambda yn: yn.capitalize() + ".", True, True, False),
    ("markdown", lambda yn: f"**{yn.capitalize()}**", True, True, False),
    (
        "final_answer",
        lambda yn: f"The skater turns twice before landing.\nFinal answer: {yn}",
        True,
        True,
        False,
    ),
    (
        "therefore",
        lambda yn: f"Looking at the footwork closely, I conclude. Therefore, {yn}.",
        True,
        True,
        False,
    ),
    (
        "reasoning_block",
        lambda yn: f"<think>{'no' if yn == 'yes' else 'yes'}</think>\n{yn.capitalize()}",
        True,
        True,
        False,
    ),
    ("answer_colon", lambda yn: f"Answer: {yn.capitalize()}", True, True, False),
    (
        "verdict_first",
        lambda yn: f"{yn.capitalize()}, the skater turns twice.\nThe landing is clean.",
        True,
        True,
        True,
    ),
    ("empty", lambda yn: "", False, False, False),
    ("hedge", lambda yn: "It might be, it is hard to say.", False, False, False),
]


@dataclass
class Expected:
    """Hand-computed metrics of one task under a script, in both scoring conventions."""

    n: int = 0
    correct: int = 0
    unparsed: int = 0
    by_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_domain: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    gold: list[str] = field(default_factory=list)
    gold_by_category: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    positive: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)
    said_yes: int = 0
    answers: Counter = field(default_factory=Counter)
    # official convention: per parsed answer 1/0; per category/domain; published codes
    off: list[int] = field(default_factory=list)
    off_unparsable: int = 0
    off_by_category: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    off_by_domain: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    off_positive: list[int] = field(default_factory=list)
    off_negative: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)  # 1/0/-1 of answered questions
    binary: bool = False
    # per question, for export/report round trips: question_id -> (official accurate code, reply)
    codes: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        row: dict,
        gold: str,
        said: str | None,
        readable: bool,
        status: str,
        official: bool,
        published: int | None,
    ) -> None:
        ok = int(readable and said == gold)
        self.n += 1
        self.correct += ok
        self.unparsed += int(not readable)
        self.by_category[row["category"]].append(ok)
        self.by_domain[(row["category"], row["domain"])].append(ok)
        self.gold.append(gold)
        self.gold_by_category[row["category"]].append(gold)
        self.answers[said if readable else status] += 1
        if gold in ("yes", "no"):
            self.binary = True
            (self.positive if gold == "yes" else self.negative).append(ok)
            self.said_yes += int(readable and said == "yes")
        if official:
            off_ok = int(said == gold)
            self.off.append(off_ok)
            self.off_by_category[row["category"]].append(off_ok)
            self.off_by_domain[(row["category"], row["domain"])].append(off_ok)
            if gold in ("yes", "no"):
                (self.off_positive if gold == "yes" else self.off_negative).append(off_ok)
            self.codes[row["question_id"]] = off_ok
        else:
            self.off_unparsable += 1
            self.codes[row["question_id"]] = -1
        if published is not None:
            self.published.append(published)

    def metrics(self) -> dict[str, float]:
        def best(golds: list[str]) -> float:
            return max(Counter(golds).values()) / len(golds)

        def mean(xs: list[int]) -> float:
            return sum(xs) / len(xs)

        out = {
            "accuracy": self.correct / self.n,
            "unparsed_rate": self.unparsed / self.n,
            "random_baseline": best(self.gold),
            "official_unparsable": self.off_unparsable,
        }
        for cat, oks in self.by_category.items():
            out[f"accuracy[{cat}]"] = sum(oks) / len(oks)
            out[f"random_baseline[{cat}]"] = best(self.gold_by_category[cat])
        for (cat, dom), oks in self.by_domain.items():
            out[f"accuracy[{cat} > {dom}]"] = sum(oks) / len(oks)
        if self.off:
            out["official_accuracy"] = mean(self.off)
        for cat, oks in self.off_by_category.items():
            out[f"official_accuracy[{cat}]"] = mean(oks)
        for (cat, dom), oks in self.off_by_domain.items():
            out[f"official_accuracy[{cat} > {dom}]"] = mean(oks)
        parsed = [c for c in self.published if c != -1]
        if parsed:
            unparsable = len(self.published) - len(parsed)
            # The published MC summary counts unparsable answers as correct (defect 1).
            extra = 0 if self.binary else unparsable
            out["official_as_published"] = (parsed.count(1) + extra) / len(parsed)
        if self.positive or self.negative:
            out["accuracy_positive"] = sum(self.positive) / len(self.positive)
            out["accuracy_negative"] = sum(self.negative) / len(self.negative)
            out["yes_rate"] = self.said_yes / self.n
            if self.off_positive:
                out["official_accuracy_positive"] = mean(self.off_positive)
            if self.off_negative:
                out["official_accuracy_negative"] = mean(self.off_negative)
        return out


def _status(style: str) -> str:
    return {"empty": "empty", "failed_request": "failed_request"}.get(style, "unparsed")


def script_mc(rows: list[dict], shift: int = 0) -> tuple[dict[str, str], Expected]:
    """Replies for MC rows: every 3rd (offset by ``shift``) states a wrong letter; styles cycle."""
    replies, exp = {}, Expected()
    for i, row in enumerate(rows):
        letters = "ABCD"
        gold = row["answer"]
        said = gold if (i + shift) % 3 else letters[(letters.index(gold) + 1) % 4]
        name, render, readable, official, published = MC_STYLES[(i + shift) % len(MC_STYLES)]
        replies[row["question_id"]] = render(said, row["options"][letters.index(said)])
        answered = name not in ("empty", "failed_request")  # the published code stores no result
        pub = (int(said == gold) if published else -1) if answered else None
        exp.add(row, gold, said, readable, _status(name), official, pub)
    return replies, exp


def script_binary(rows: list[dict], shift: int = 0) -> tuple[dict[str, str], Expected]:
    replies, exp = {}, Expected()
    for i, row in enumerate(rows):
        gold = row["label"]
        said = gold if (i + shift) % 3 else ("no" if gold == "yes" else "yes")
        name, render, readable, official, whole_text = BINARY_STYLES[(i + shift) % len(BINARY_STYLES)]
        replies[row["question_id"]] = render(said)
        if name == "empty":
            pub = None
        elif not official:
            pub = -1
        else:  # the published fallback scores as if every answer were "yes"
            pub = int(said == ("yes" if whole_text else gold))
        exp.add(row, gold, said, readable, _status(name), official, pub)
    return replies, exp


def write_script(
    path: Path, *scripts: dict[str, str], per_task: dict[str, dict[str, str]] | None = None
) -> Path:
    """One JSON answers file: bare question ids, plus ``task:question_id`` entries."""
    merged: dict[str, str] = {}
    for s in scripts:
        merged.update(s)
    for task, s in (per_task or {}).items():
        merged.update({f"{task}:{qid}": reply for qid, reply in s.items()})
    path.write_text(json.dumps(merged, indent=1), encoding="utf-8")
    return path


def task_metrics(results: dict, task: str) -> dict:
    """``results["results"][task]`` without the ``,none`` filter suffix and stderr keys."""
    return {
        k.split(",", 1)[0]: v
        for k, v in results["results"][task].items()
        if k.endswith(",none") and "_stderr" not in k
    }

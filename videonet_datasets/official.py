"""The ``official`` scoring convention: how the VideoNet authors score answers, reimplemented.

The paper's numbers were computed by the authors' evaluation code (``RAIVNLab/VideoNet``,
``src/eval.py`` + ``src/utils.py``).  This module reimplements its *behaviour* from the
description below (no code is copied: the repository states no license), so that runs of
this toolkit can be compared with the paper's tables question by question.  The project's
own, more lenient parser is :mod:`videonet_datasets.parsing` (the ``robust`` convention);
every report shows both, labelled.

The convention
--------------
Only the **last line** of the answer counts (``str.splitlines()[-1]``: a reply ending in a
blank line has an empty last line).  It is stripped, lower-cased and cleaned of the
characters ``* # , . :``.

* **Multiple choice** - the cleaned line, upper-cased, must be exactly one option letter
  ("B"), or contain ``BOXED{B}`` (``\\boxed{B}``).  Anything else ("(B)", "Answer: B",
  "B. Kickflip") is *unparsable*.
* **Binary** - in this order: the line is "yes"/"no"; its first or last word (split on
  single spaces, when there are several) is "yes"/"no"; it contains ``boxed{yes}`` /
  ``boxed{no}``; "does not show" or "does not depict" means "no"; "the answer is yes",
  ``is "yes"``, ``is 'yes'`` mean "yes"; ``is "no"``, ``is 'no'`` mean "no".  When the line
  gives no yes/no, the **whole text** decides: with ``, ; : . * #`` removed and
  lower-cased, its first or last word is "yes", or it contains ``the answer is yes`` /
  ``the answer is "yes`` -> "yes"; otherwise its first or last word is "no", or it contains
  ``answer is no`` / ``answer is "no`` -> "no"; otherwise unparsable.  (The published code
  also looks for ``answer: yes`` after removing every colon, which can never match; it is
  therefore not a rule.)

The extracted answer is compared with the correct one after stripping surrounding
whitespace: removing ``* # , . :`` can leave some ("## B" -> " B", "Yes\t." -> "yes\t"), and
the authors' comparison strips it, so those read as "B" and "yes".  Each question gets
``accurate`` = 1 (correct), 0 (wrong) or -1 (unparsable) and a ``prediction`` (the extracted
answer as extracted, or the cleaned last line when there is none) - the authors' result-file
fields (:mod:`videonet_datasets.official_results`).  A summary reports
**accuracy over the parsed answers only**, with the number of unparsable answers beside it;
binary questions also per positive ("yes") and negative ("no") clip.

Defects of the published code, fixed here
-----------------------------------------
1. **Unparsable MC answers counted as correct.**  The published MC summary counts every
   answer whose stored ``accurate`` is truthy - and -1 is truthy - as correct, while also
   removing the unparsable answers from the denominator: it prints ``(correct +
   unparsable) / parsed``.  (It tells unparsable answers by their stored prediction not
   being a bare letter, so a "## C" answer - prediction " C", scored wrong - leaves the
   denominator too: :func:`summarize` takes the predictions to reproduce that exactly.)  Fixed: ``correct / parsed``.  Effect: published MC accuracies
   are too high by ``unparsable / parsed``; for models that answer with a bare letter (the
   prompt asks for one) the unparsable count is small and so is the error, but every
   unparsable answer adds to it.
2. **The binary whole-text fallback always expects "yes".**  When the last line gives no
   yes/no, the published code scores the whole text as if every question's answer were
   "yes": a negative clip answered "No, ..." over several lines scores *wrong* and one
   answered "Yes, ..." scores *right*.  Fixed: the fallback compares with the question's
   real answer.  Effect: only answers whose last line is not a yes/no (multi-line replies
   that put the verdict first) are affected - on negative clips their correctness is
   inverted; positive-clip numbers are unaffected.
3. **``boxed{X}`` never matches in multiple choice.**  The published code upper-cases the
   line and then looks for the lower-case ``boxed{A}``, so ``\\boxed{A}`` answers are
   unparsable (and, through defect 1, counted as correct).  Fixed: ``\\boxed{A}`` is "A", as
   the code intends.

A question the published code never stored (its model call returned nothing three times)
is missing from its results file and from both of its counts; here an empty or failed
answer is *unparsable*: excluded from the accuracy like there, but counted.  (A binary reply
of only whitespace makes the published code raise - its whole-text fallback indexes the
first word of an empty text - and so stops its run; here it is unparsable too.)  Under lmms-eval
the text scored is the one lmms-eval hands to the task (reasoning blocks such as
``<think>...</think>`` already removed); the published code reads the model's raw text -
the same last line unless a reply ends inside an unclosed reasoning block.

:func:`score_mc` / :func:`score_binary` score one answer (``published=True`` reproduces the
published per-question behaviour, defects 2 and 3); :func:`summarize` aggregates
(``published=True`` reproduces defect 1), so reports can say when a published number is
affected and by how much.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONVENTION",
    "OfficialScore",
    "OfficialSummary",
    "extract_binary",
    "extract_mc",
    "is_failed_output",
    "score_binary",
    "score_mc",
    "summarize",
    "whole_text_verdict",
]

#: The label of this convention in metric keys, tables and cards.
CONVENTION = "official"

_LINE_DROP = str.maketrans("", "", "*#,.:")
_TEXT_DROP = str.maketrans("", "", ",;:.*#")
_FAILED_PREFIX = "[LMMS_EVAL_REQUEST_FAILED"


@dataclass(frozen=True)
class OfficialScore:
    """One answer under the convention: the authors' result-file fields."""

    accurate: int  # 1 correct, 0 wrong, -1 unparsable
    prediction: str  # the extracted answer, or the cleaned last line when there is none

    @property
    def parsed(self) -> bool:
        return self.accurate != -1


def is_failed_output(output: object) -> bool:
    """No answer to score: None, not text, only whitespace, or lmms-eval's failed-request text."""
    return not isinstance(output, str) or not output.strip() or output.lstrip().startswith(_FAILED_PREFIX)


def _last_line(text: str) -> str:
    lines = text.splitlines()
    return lines[-1].strip().lower().translate(_LINE_DROP) if lines else ""


def _as_text(output: object) -> str:
    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if isinstance(output, (bytes, bytearray)):
        output = bytes(output).decode("utf-8", errors="replace")
    return output if isinstance(output, str) else ""


def extract_mc(output: object, letters: Sequence[str] = ("A", "B", "C", "D"), published: bool = False) -> str:
    """The MC prediction: an option letter, or the cleaned (upper-cased) last line when none.

    ``published=True`` keeps defect 3 (``boxed{X}`` never matches)."""
    line = _last_line(_as_text(output)).upper()
    if line in letters:
        return line
    if not published:
        for letter in letters:
            if f"BOXED{{{letter}}}" in line:
                return letter
    return line


def extract_binary(output: object) -> str:
    """The binary prediction from the last line: "yes", "no", or the cleaned line when neither."""
    line = _last_line(_as_text(output))
    if line in ("yes", "no"):
        return line
    words = line.split(" ")
    if len(words) > 1:
        if words[0] in ("yes", "no"):
            return words[0]
        if words[-1] in ("yes", "no"):
            return words[-1]
    if "boxed{yes}" in line:
        return "yes"
    if "boxed{no}" in line:
        return "no"
    if "does not show" in line or "does not depict" in line:
        return "no"
    if "the answer is yes" in line or 'is "yes"' in line or "is 'yes'" in line:
        return "yes"
    if 'is "no"' in line or "is 'no'" in line:
        return "no"
    return line


def whole_text_verdict(output: object) -> Literal["yes", "no"] | None:
    """The binary fallback: what the whole text says, "yes" checked first (module docstring)."""
    text = _as_text(output).translate(_TEXT_DROP).lower()
    words = text.split()
    if not words:
        return None
    first, last = words[0], words[-1]
    if first == "yes" or last == "yes" or 'the answer is "yes' in text or "the answer is yes" in text:
        return "yes"
    if first == "no" or last == "no" or 'answer is "no' in text or "answer is no" in text:
        return "no"
    return None


def score_mc(
    output: object, answer: str, letters: Sequence[str] = ("A", "B", "C", "D"), published: bool = False
) -> OfficialScore:
    """One multiple-choice answer; ``answer`` is the correct letter."""
    if is_failed_output(output):
        return OfficialScore(-1, "")
    gold = str(answer).strip().upper()
    prediction = extract_mc(output, letters, published=published)
    said = prediction.strip()  # "## B" extracts " B", which compares as "B"
    if said == gold:
        return OfficialScore(1, prediction)
    return OfficialScore(0 if said in letters else -1, prediction)


def score_binary(output: object, label: str, published: bool = False) -> OfficialScore:
    """One binary answer; ``label`` is "yes" or "no".  ``published=True`` keeps defect 2."""
    gold = str(label).strip().lower()
    if gold not in ("yes", "no"):
        raise ValueError(f"a binary label is 'yes' or 'no', got {label!r}")
    if is_failed_output(output):
        return OfficialScore(-1, "")
    prediction = extract_binary(output)
    said = prediction.strip()  # "Yes\t." extracts "yes\t", which compares as "yes"
    if said in ("yes", "no"):
        return OfficialScore(int(said == gold), prediction)
    verdict = whole_text_verdict(output)
    if verdict is None:
        return OfficialScore(-1, prediction)
    expected = "yes" if published else gold
    return OfficialScore(int(verdict == expected), prediction)


@dataclass(frozen=True)
class OfficialSummary:
    """Accuracy over parsed answers, with the unparsable count beside it."""

    correct: int
    parsed: int
    unparsable: int
    accuracy: float | None  # None when nothing parsed
    positive: tuple[int, int] | None = None  # binary: (correct, parsed) on "yes" questions
    negative: tuple[int, int] | None = None  # binary: (correct, parsed) on "no" questions

    @staticmethod
    def _rate(pair: tuple[int, int] | None) -> float | None:
        return pair[0] / pair[1] if pair and pair[1] else None

    @property
    def accuracy_positive(self) -> float | None:
        return self._rate(self.positive)

    @property
    def accuracy_negative(self) -> float | None:
        return self._rate(self.negative)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accuracy": self.accuracy,
            "correct": self.correct,
            "parsed": self.parsed,
            "unparsable": self.unparsable,
        }
        if self.positive is not None:
            out["accuracy_positive"] = self.accuracy_positive
            out["accuracy_negative"] = self.accuracy_negative
        return out


def summarize(
    codes: Iterable[int],
    labels: Iterable[str] | None = None,
    published: bool = False,
    predictions: Iterable[str] | None = None,
    letters: Sequence[str] = ("A", "B", "C", "D"),
) -> OfficialSummary:
    """Aggregate ``accurate`` codes (1/0/-1); ``labels`` ("yes"/"no" per question) make it binary.

    ``published=True`` reproduces the published MC summary (defect 1: unparsable answers
    counted as correct); binary summaries are the same either way.  The published MC summary
    tells unparsable answers by their stored prediction (not a bare letter); with
    ``predictions`` (as stored, one per code) it is reproduced exactly, without them the
    codes stand in (they differ only for a prediction with whitespace around a letter).
    """
    codes = list(codes)
    bad = [c for c in codes if c not in (1, 0, -1)]
    if bad:
        raise ValueError(f"accurate codes are 1, 0 or -1, got {bad[:3]}")
    binary = labels is not None
    if published and not binary:
        if predictions is None:
            unparsable = codes.count(-1)
        else:
            preds = [str(p) for p in predictions]
            if len(preds) != len(codes):
                raise ValueError(f"{len(codes)} codes but {len(preds)} predictions")
            unparsable = sum(p.upper() not in letters for p in preds)
        correct = sum(c != 0 for c in codes)  # -1 is truthy in the published code
        parsed = len(codes) - unparsable
        return OfficialSummary(correct, parsed, unparsable, correct / parsed if parsed else None)
    unparsable = codes.count(-1)
    parsed = len(codes) - unparsable
    correct = codes.count(1)
    acc = correct / parsed if parsed else None
    if not binary:
        return OfficialSummary(correct, parsed, unparsable, acc)
    labels = [str(x).strip().lower() for x in labels]  # type: ignore[union-attr]
    if len(labels) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(labels)} labels")

    def pair(want: str) -> tuple[int, int]:
        sel = [c for c, lab in zip(codes, labels) if lab == want]
        return sel.count(1), len(sel) - sel.count(-1)

    return OfficialSummary(correct, parsed, unparsable, acc, pair("yes"), pair("no"))

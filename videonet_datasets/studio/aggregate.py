"""From raters' votes to a decision, and the numbers that say how much to trust them.

Pure functions (no store, no web), so every rule is tested on its own.

**The rubric** (paper §3.2, Figure 16): *correct and well trimmed* (``good``), *correct, trim
can improve* (``trim``), *wrong action* (``wrong``), plus ``unsure`` (an abstention), and a
separate flag for on-screen text that names the action.

**The decision** of one verification round, with ``N = raters_per_clip`` and
``m = N // 2 + 1`` (a strict majority of N):

1. Nothing is decided before N votes are in (a rater who was handed the clip never loses
   their vote to an early decision).
2. *Does the clip show the action?* "shows it" = ``good`` + ``trim`` votes, "does not" =
   ``wrong`` votes; ``unsure`` counts for neither.  The side with at least m votes wins.
   Neither side at m (unsure votes, or an even split) -> one more rater is asked, one at a
   time, up to ``max_votes``; still neither -> **rejected** (a clip enters the benchmark only
   on a majority that it shows the action).
3. "Does not" wins -> **rejected** (the votes are kept).
4. On-screen text naming the action flagged by at least m raters -> **rejected** (a caption
   would give the answer away); flagged by fewer -> the decision stands and the clip is
   marked for the admin to look at.
5. Otherwise ``good`` > ``trim`` -> **accepted**; ``trim`` >= ``good`` -> **re-trim** (a tie
   goes to re-trimming: a re-trimmer can keep a good window, a skipped re-trim cannot be
   undone).

**Agreement**: Fleiss' kappa over the rubric's three labels (``unsure`` left out), in the
form for a varying number of raters per item; and over the binary "shows the action" split.
**Audit**: the share of clips an expert found correct, with a Wilson score interval.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "LABELS",
    "RUBRIC",
    "Decision",
    "decide",
    "fleiss_kappa",
    "wilson_interval",
]

LABELS = ("good", "trim", "wrong", "unsure")
RUBRIC = {
    "good": "Correct action, well trimmed",
    "trim": "Correct action, trim can improve",
    "wrong": "Wrong action",
    "unsure": "Unsure",
}


@dataclass(frozen=True)
class Decision:
    status: str  # "pending", "accepted", "retrim" or "rejected"
    reason: str
    counts: dict[str, int]
    text_flags: int
    votes_needed: int  # more votes this round still needs (0 once decided)

    @property
    def decided(self) -> bool:
        return self.status != "pending"


def decide(labels: Sequence[str], text_flags: int, raters: int, max_votes: int) -> Decision:
    """The decision of one round from its votes (see the module docstring for the rules)."""
    bad = [x for x in labels if x not in LABELS]
    if bad:
        raise ValueError(f"unknown vote label(s) {bad}; expected one of {LABELS}")
    counts = Counter(labels)
    c = {k: counts.get(k, 0) for k in LABELS}
    total = len(labels)
    m = raters // 2 + 1
    shows, wrong = c["good"] + c["trim"], c["wrong"]

    def out(status: str, reason: str, needed: int = 0) -> Decision:
        return Decision(status, reason, c, text_flags, needed)

    if total < raters:
        return out("pending", f"{total} of {raters} votes", raters - total)
    if shows < m and wrong < m:
        if total < max_votes:
            why = "unsure votes" if c["unsure"] else "a tie"
            return out("pending", f"no majority yet ({why}): asking one more rater", 1)
        return out(
            "rejected",
            f"no majority of {m} on whether it shows the action after {total} votes "
            f"({shows} yes, {wrong} no, {c['unsure']} unsure)",
        )
    if wrong >= m:
        return out("rejected", f"majority: wrong action ({wrong} of {total})")
    if text_flags >= m:
        return out("rejected", f"on-screen text names the action (flagged by {text_flags} of {total})")
    if c["good"] > c["trim"]:
        return out(
            "accepted", f"majority: correct and well trimmed ({c['good']} well trimmed, {c['trim']} trim)"
        )
    if c["good"] == c["trim"]:
        return out(
            "retrim", f"tie between well trimmed and trim can improve ({c['good']}-{c['trim']}): re-trim"
        )
    return out("retrim", f"majority: trim can improve ({c['trim']} trim, {c['good']} well trimmed)")


def fleiss_kappa(items: Iterable[Sequence[str]], categories: Sequence[str]) -> float | None:
    """Fleiss' kappa for items rated by possibly different numbers of raters.

    ``items`` holds each item's labels; labels outside ``categories`` are left out and items
    with fewer than two remaining labels do not count.  ``None`` when undefined (no item, or
    every label the same category, where chance agreement is 1).
    """
    per_item = []
    for labels in items:
        kept = [x for x in labels if x in categories]
        if len(kept) >= 2:
            per_item.append(Counter(kept))
    if not per_item:
        return None
    total = sum(sum(c.values()) for c in per_item)
    p_j = [sum(c[k] for c in per_item) / total for k in categories]
    p_e = sum(p * p for p in p_j)
    if p_e >= 1.0 - 1e-12:
        return None
    agreement = []
    for c in per_item:
        n = sum(c.values())
        agreement.append((sum(v * v for v in c.values()) - n) / (n * (n - 1)))
    p_bar = sum(agreement) / len(agreement)
    return (p_bar - p_e) / (1.0 - p_e)


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default) of a proportion; ``None`` when ``n == 0``.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 97/100 or 5/5,
    which is where an audit of good annotations lands."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)

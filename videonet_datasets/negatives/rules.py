"""The rules every hard-negative table obeys, checked in one place for both miners.

The LLM miner feeds a model's reply through :func:`check_table` and turns the problems
into correction messages; the offline miner runs its optimal assignment through the same
function as a proof before anything is written.  Messages are complete sentences that
name the row, the value and (when one is close) the intended name, because they are read
by people *and* sent back verbatim to a model that has to fix them.

Hard rules (errors - a table that breaks one is never written):
every action of the domain has exactly one row; each row names 3 negatives that are exact
action names of the same domain, not the action itself, pairwise distinct, and not a pair
the user listed as co-occurring.

Balance (warnings - reported, never blocking): each action should be *used* as a negative
2-5 times across its domain (paper App. B.4, Figure 11).  The arithmetic behind that range:
with ``n`` actions there are ``3n`` negative slots, so the mean use is exactly 3 whatever
``n`` is.  Every action needs 3 distinct *other* actions, so a domain needs ``n >= 4``.
With ``n == 4`` the table is forced (each action takes the three others, every use is 3);
for any ``n >= 4`` the circulant table ``i -> i+1, i+2, i+3 (mod n)`` uses every action
exactly 3 times, so 2-5 is always reachable when nothing is excluded.  Excluded pairs can
make it unreachable (or make the table impossible outright: an action with fewer than 3
allowed partners); the offline miner then minimises the total distance outside 2-5.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "BALANCE_RANGE",
    "NUM_NEGATIVES",
    "CheckResult",
    "RuleProblem",
    "balance_problems",
    "check_table",
    "histogram",
    "suggest",
    "use_counts",
]

NUM_NEGATIVES = 3
BALANCE_RANGE = (2, 5)  # times each action should be used as a negative (paper Fig. 11)
MIN_DOMAIN_SIZE = NUM_NEGATIVES + 1

Table = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class RuleProblem:
    """One broken rule.  ``row`` is the 1-based data row of the checked table (header not
    counted), ``None`` for table-wide problems."""

    message: str
    kind: str  # field_count, unknown_name, self, repeat, excluded, duplicate_row, missing_row, balance, ...
    row: int | None = None
    action: str | None = None
    value: str | None = None
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, object]:
        return {
            "message": self.message,
            "kind": self.kind,
            "row": self.row,
            "action": self.action,
            "value": self.value,
            "severity": self.severity,
        }


@dataclass
class CheckResult:
    problems: list[RuleProblem]
    table: Table | None  # in the domain's action order; None when any error was found

    @property
    def errors(self) -> list[RuleProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return self.table is not None


def suggest(value: str, names: Sequence[str]) -> str | None:
    """The name the writer most likely meant: a near spelling, else a case-insensitive or
    whitespace-insensitive match."""
    folded = {" ".join(n.lower().split()): n for n in names}
    key = " ".join(value.lower().split())
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(value, list(names), n=1, cutoff=0.75)
    if close:
        return close[0]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _not_a_name(row: int, value: str, domain: str, names: Sequence[str], what: str = "") -> RuleProblem:
    hint = suggest(value, names)
    tail = f" - did you mean {hint!r}?" if hint else ""
    return RuleProblem(
        f"row {row}: {value!r} is not an action of {domain}{what}{tail}",
        "unknown_name",
        row=row,
        value=value,
    )


def check_table(
    domain: str,
    names: Sequence[str],
    rows: Sequence[Sequence[str]],
    excluded: Iterable[frozenset[str]] = (),
) -> CheckResult:
    """Check ``rows`` (each ``[action, negative_1, negative_2, negative_3]``, already
    stripped) against the domain's action ``names``; ``excluded`` holds the co-occurring
    pairs (symmetric).  Returns every problem, not just the first."""
    name_set = set(names)
    excluded = set(excluded)
    problems: list[RuleProblem] = []
    if len(names) < MIN_DOMAIN_SIZE:
        problems.append(
            RuleProblem(
                f"{domain} has {len(names)} action(s); every action needs {NUM_NEGATIVES} distinct other actions "
                f"of its domain as negatives, so a domain needs at least {MIN_DOMAIN_SIZE}",
                "domain_too_small",
            )
        )
    seen_rows: dict[str, int] = {}
    table: Table = {}
    for r, fields in enumerate(rows, start=1):
        fields = [f.strip() for f in fields]
        if len(fields) != 1 + NUM_NEGATIVES:
            problems.append(
                RuleProblem(
                    f"row {r}: expected {1 + NUM_NEGATIVES} fields (action,negative_1,negative_2,negative_3), "
                    f"got {len(fields)}: {','.join(fields)!r}",
                    "field_count",
                    row=r,
                    value=",".join(fields),
                )
            )
            continue
        action, negs = fields[0], fields[1:]
        if action not in name_set:
            problems.append(_not_a_name(r, action, domain, names))
            continue
        if action in seen_rows:
            problems.append(
                RuleProblem(
                    f"row {r}: {action!r} already has a row (row {seen_rows[action]}); give each action exactly one row",
                    "duplicate_row",
                    row=r,
                    action=action,
                    value=action,
                )
            )
            continue
        seen_rows[action] = r
        ok = True
        used: set[str] = set()
        for neg in negs:
            if not neg:
                problems.append(
                    RuleProblem(
                        f"row {r}: {action!r} has an empty negative", "empty", row=r, action=action, value=neg
                    )
                )
                ok = False
            elif neg == action:
                problems.append(
                    RuleProblem(
                        f"row {r}: {action!r} cannot be its own negative; choose another action",
                        "self",
                        row=r,
                        action=action,
                        value=neg,
                    )
                )
                ok = False
            elif neg not in name_set:
                problems.append(_not_a_name(r, neg, domain, names))
                ok = False
            elif neg in used:
                problems.append(
                    RuleProblem(
                        f"row {r}: {neg!r} appears twice among the negatives of {action!r}; the 3 negatives must be distinct",
                        "repeat",
                        row=r,
                        action=action,
                        value=neg,
                    )
                )
                ok = False
            elif frozenset((action, neg)) in excluded:
                problems.append(
                    RuleProblem(
                        f"row {r}: {action!r} and {neg!r} can occur together in one clip (listed as co-occurring); "
                        f"choose another negative for {action!r}",
                        "excluded",
                        row=r,
                        action=action,
                        value=neg,
                    )
                )
                ok = False
            used.add(neg)
        if ok:
            table[action] = tuple(negs)
    missing = [n for n in names if n not in seen_rows]
    if missing:
        problems.append(
            RuleProblem(
                f"missing row(s) for {len(missing)} action(s) of {domain}: "
                + ", ".join(repr(m) for m in missing),
                "missing_row",
                value="; ".join(missing),
            )
        )
    ok = not any(p.severity == "error" for p in problems)
    return CheckResult(problems, {n: table[n] for n in names} if ok else None)


def use_counts(names: Sequence[str], table: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """How many times each action of the domain is used as a negative (0 included)."""
    counts = Counter(neg for negs in table.values() for neg in negs)
    return {n: counts.get(n, 0) for n in names}


def histogram(counts: Mapping[str, int]) -> dict[int, int]:
    """{times used: number of actions}, every value from 0 to the maximum present, so a
    report shows the gaps as well as the peaks."""
    c = Counter(counts.values())
    top = max(c, default=0)
    return {k: c.get(k, 0) for k in range(top + 1)}


def balance_problems(
    domain: str, counts: Mapping[str, int], bounds: tuple[int, int] = BALANCE_RANGE
) -> list[RuleProblem]:
    lo, hi = bounds
    return [
        RuleProblem(
            f"{name!r} of {domain} is used as a negative {n} time(s); the paper asks for {lo}-{hi}",
            "balance",
            action=name,
            value=str(n),
            severity="warning",
        )
        for name, n in counts.items()
        if not lo <= n <= hi
    ]

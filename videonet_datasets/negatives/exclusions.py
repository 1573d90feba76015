"""``--exclude pairs.csv``: action pairs the user knows can occur in the same clip.

Such a pair must never be positive/negative of each other (the paper's reasoning round
exists to catch exactly these, e.g. a dribble before a lay-up).  The file has the header
``domain,action_a,action_b``; a pair is symmetric.  Every row is checked against
``actions.csv`` and all problems are reported at once, with file, line and a suggestion.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from videonet_datasets.annotations import AnnotationError, Problem
from videonet_datasets.negatives.rules import suggest

__all__ = ["EXCLUDE_COLUMNS", "Exclusions", "read_exclusions"]

EXCLUDE_COLUMNS = ("domain", "action_a", "action_b")

Exclusions = dict[str, set[frozenset[str]]]  # domain -> unordered pairs


def _hint(value: str, names: Sequence[str]) -> str:
    s = suggest(value, names)
    return f" (did you mean {s!r}?)" if s else ""


def read_exclusions(
    path: str | Path, names_by_domain: Mapping[str, Sequence[str]]
) -> tuple[Exclusions, list[Problem]]:
    """Parse and check the pairs file.  Returns the pairs per domain and the warnings
    (duplicate pairs); raises :class:`AnnotationError` listing every error."""
    path = Path(path)
    fname = str(path)
    problems: list[Problem] = []
    out: Exclusions = {}
    if not path.is_file():
        raise AnnotationError(path.parent, [Problem(fname, 0, "exclusions file not found")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise AnnotationError(path.parent, [Problem(fname, 0, f"not UTF-8 text ({e})")]) from e
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in EXCLUDE_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            path.parent,
            [
                Problem(
                    fname,
                    1,
                    f"missing column(s) {', '.join(missing)}; expected header: {','.join(EXCLUDE_COLUMNS)}",
                )
            ],
        )
    idx = {c: header.index(c) for c in EXCLUDE_COLUMNS}
    first: dict[tuple[str, frozenset[str]], int] = {}
    for line, raw in enumerate(reader, start=2):
        if not raw or all(not c.strip() for c in raw):
            continue
        if len(raw) != len(header):
            problems.append(
                Problem(fname, line, f"has {len(raw)} fields, header has {len(header)}", value=",".join(raw))
            )
            continue
        domain, a, b = (raw[idx[c]].strip() for c in EXCLUDE_COLUMNS)
        if domain not in names_by_domain:
            problems.append(
                Problem(
                    fname,
                    line,
                    "unknown domain" + _hint(domain, list(names_by_domain)),
                    column="domain",
                    value=domain,
                )
            )
            continue
        names = names_by_domain[domain]
        bad = False
        for col, v in (("action_a", a), ("action_b", b)):
            if v not in names:
                problems.append(
                    Problem(
                        fname, line, f"not an action of {domain!r}" + _hint(v, names), column=col, value=v
                    )
                )
                bad = True
        if bad:
            continue
        if a == b:
            problems.append(
                Problem(fname, line, "a pair needs two different actions", column="action_b", value=b)
            )
            continue
        pair = frozenset((a, b))
        if (domain, pair) in first:
            problems.append(
                Problem(
                    fname,
                    line,
                    f"same pair as line {first[(domain, pair)]} (pairs are symmetric)",
                    severity="warning",
                )
            )
            continue
        first[(domain, pair)] = line
        out.setdefault(domain, set()).add(pair)
    if any(p.severity == "error" for p in problems):
        raise AnnotationError(path, problems)
    return out, problems

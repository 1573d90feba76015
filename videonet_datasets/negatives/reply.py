"""Finding the CSV in a chat model's reply.

Models wrap the table in code fences, put prose before and after it, add or drop the
header, quote names, or answer with a Markdown table; round 3 explains its changes and
then gives the CSV.  The extractor takes, in order of trust: the fenced block with the
most table rows (the last on a tie - the final answer comes last), else the longest run
of consecutive table rows.  A line counts as a row when it is the header or at least two
of its comma- (or ``|``-) separated fields are action names of the domain or near
misspellings of them, so prose that happens to contain commas ("For Triple Lutz, I
swapped...") is not mistaken for a row while a row with a typo still is (and is then
reported).  It never fixes a *name*: a misspelling is reported back
to the model by :mod:`.rules`.  It only undoes one formatting slip - a name that itself
contains a comma written unquoted, which splits a row into more than 4 fields - and only
when exactly one way of re-joining the fields yields 4 exact action names.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from videonet_datasets.negatives.rules import NUM_NEGATIVES, suggest

__all__ = ["ExtractedTable", "extract_table"]

WIDTH = 1 + NUM_NEGATIVES
MAX_EXTRA_COMMAS = 8  # beyond this a row is garbage, not a slip: report it, don't search
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.S | re.M)
_MD_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


@dataclass(frozen=True)
class ExtractedTable:
    rows: list[list[str]]  # data rows (header dropped), fields stripped
    source: str  # "fenced", "plain" or "none"
    had_header: bool
    notes: list[str]  # formatting repairs made (for the audit log)

    @property
    def found(self) -> bool:
        return bool(self.rows)


def _fields(line: str) -> list[str] | None:
    """A line's fields if it splits like a table row (CSV or Markdown), else None."""
    s = line.strip()
    if not s or _MD_RULE.match(s):
        return None
    if s.startswith("|") and s.endswith("|") and s.count("|") >= 3:
        return [f.strip() for f in s.strip("|").split("|")]
    if "," not in s:
        return None
    try:
        row = next(csv.reader([s], skipinitialspace=True))
    except (csv.Error, StopIteration):
        return None
    return [f.strip() for f in row] if len(row) >= 2 else None


class _RowTest:
    """Tells table rows from prose that happens to contain commas: a row is the header,
    or has at least 2 fields that are (or nearly are) action names of the domain; with no
    names known, any line of at least 4 fields."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        self.exact = set(names)

    def _named(self, field: str) -> bool:
        return field in self.exact or (
            len(field) <= 3 * max(map(len, self.names)) and suggest(field, self.names) is not None
        )

    def __call__(self, fields: list[str]) -> bool:
        if _is_header(fields):
            return True
        if not self.names:
            return len(fields) >= WIDTH
        return sum(self._named(f) for f in fields[: WIDTH + 3]) >= 2


def _is_header(fields: list[str]) -> bool:
    return (
        len(fields) >= 2
        and fields[0].strip().lower() == "action"
        and fields[1].strip().lower().startswith("negative")
    )


def _runs(lines: list[str], is_row: _RowTest) -> list[list[list[str]]]:
    """Maximal runs of consecutive table rows (blank lines and Markdown rules inside a
    run are allowed; any other line ends it)."""
    runs: list[list[list[str]]] = []
    cur: list[list[str]] = []
    for line in lines:
        f = _fields(line)
        if f is not None and is_row(f):
            cur.append(f)
        elif line.strip() and not _MD_RULE.match(line.strip()):
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def _data_rows(rows: list[list[str]]) -> tuple[list[list[str]], bool]:
    header = any(_is_header(r) for r in rows)
    return [r for r in rows if not _is_header(r)], header


def _rejoin(fields: list[str], names: set[str]) -> list[str] | None:
    """Re-join an over-long row into 4 exact names, if exactly one way does it (the
    spaces after the split commas were lost by the CSV reader, hence the comma key)."""
    by_key = {re.sub(r"\s*,\s*", ",", nm): nm for nm in names if "," in nm}
    if not by_key:
        return None
    n = len(fields)
    found = []
    for cuts in itertools.combinations(range(1, n), WIDTH - 1):
        bounds = (0, *cuts, n)
        parts = [",".join(fields[a:b]) for a, b in itertools.pairwise(bounds)]
        parts = [p if p in names else by_key.get(p, p) for p in parts]
        if all(p in names for p in parts):
            found.append(parts)
            if len(found) > 1:
                return None
    return found[0] if found else None


def extract_table(text: str, names: Sequence[str] = ()) -> ExtractedTable:
    """The table rows in ``text``.  ``names`` (the domain's actions) enables re-joining
    rows split by an unquoted comma inside a name."""
    is_row = _RowTest(names)
    best: list[list[str]] = []
    had_header = False
    source = "none"
    for m in _FENCE.finditer(text):
        for run in _runs(m.group(2).splitlines(), is_row):
            rows, hdr = _data_rows(run)
            if rows and len(rows) >= len(best):
                best, had_header, source = rows, hdr, "fenced"
    if not best:
        for run in _runs(text.splitlines(), is_row):
            rows, hdr = _data_rows(run)
            if rows and len(rows) >= len(best):
                best, had_header, source = rows, hdr, "plain"
    notes: list[str] = []
    name_set = set(names)
    out = []
    for i, row in enumerate(best, start=1):
        if WIDTH < len(row) <= WIDTH + MAX_EXTRA_COMMAS and name_set:
            joined = _rejoin(row, name_set)
            if joined is not None:
                notes.append(f"row {i}: re-joined {len(row)} fields split by unquoted commas inside names")
                row = joined
        out.append(row)
    return ExtractedTable(out, source, had_header, notes)

"""Reading the actions to mine for and writing ``hard_negatives.csv``.

Mining needs only ``actions.csv`` - a user extending VideoNet to a new domain makes the
negatives before (or while) collecting clips - so the actions are read with the
annotation module's own reader and checks, not through the full directory validator
(which would also demand finished clips).  The written file is the annotation format's
``hard_negatives.csv``; it is re-checked with the shared rules right before the atomic
write, so no code path can put an invalid table on disk.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from videonet_datasets.annotations import (
    ACTIONS_FILE,
    NEGATIVES_COLUMNS,
    Action,
    AnnotationError,
    Problem,
    load_actions,
)
from videonet_datasets.fsutil import atomic_write_text
from videonet_datasets.negatives.rules import Table, check_table

__all__ = ["read_domain_actions", "render_negatives_csv", "write_negatives_csv"]


def read_domain_actions(root: str | Path) -> dict[str, list[Action]]:
    """The actions of ``root/actions.csv`` grouped by domain, both in file order; raises
    :class:`AnnotationError` naming every bad line."""
    root = Path(root)
    actions = load_actions(root)
    out: dict[str, list[Action]] = {}
    for a in actions.values():
        out.setdefault(a.domain, []).append(a)
    if not out:
        raise AnnotationError(root, [Problem(ACTIONS_FILE, 0, "no actions")])
    return out


def render_negatives_csv(
    domains: Mapping[str, list[Action]],
    tables: Mapping[str, Table],
    excluded: Mapping[str, set[frozenset[str]]] | None = None,
) -> str:
    """The CSV text for ``tables`` (domain -> action -> negatives), rows in actions.csv
    order.  Raises ``ValueError`` if any table breaks a hard rule (including an excluded
    pair) or a domain is missing."""
    excluded = excluded or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(NEGATIVES_COLUMNS)
    for domain, actions in domains.items():
        if domain not in tables:
            raise ValueError(f"no hard negatives for domain {domain!r}")
        names = [a.name for a in actions]
        table = tables[domain]
        rows = [[n, *table[n]] if n in table else [n] for n in names]
        result = check_table(domain, names, rows, excluded.get(domain, ()))
        if not result.ok:
            raise ValueError(
                f"refusing to write an invalid table for {domain!r}: " + "; ".join(map(str, result.errors))
            )
        for n in names:
            w.writerow([domain, n, *table[n]])
    return buf.getvalue()


def write_negatives_csv(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Atomically write ``text`` to ``path``; an existing file is replaced only with
    ``force`` (the hard negatives of a released benchmark are hand-checked work)."""
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
    return atomic_write_text(path, text)

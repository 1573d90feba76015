"""The expert audit: how often is an accepted clip's label right? (paper §3.3, Table 1)

The admin draws a random sample of accepted clips (seeded, so it can be redrawn the same
way); an expert labels each clip *correct* or *incorrect* for its action; the studio reports
the share correct with a 95% Wilson interval, overall and per domain.  The paper's expert
found 93.8-100% per domain.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.studio import leases
from videonet_datasets.studio.aggregate import wilson_interval
from videonet_datasets.studio.db import now
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings

__all__ = ["audit_results", "draw_sample", "label_item", "next_item"]


def draw_sample(conn: sqlite3.Connection, person: Person, settings: StudioSettings) -> tuple[int, int]:
    """A new sample of accepted clips; returns (sample id, clips in it)."""
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT c.id FROM candidates c JOIN actions a ON a.id = c.action_id JOIN videos v ON v.id = c.video_id "
            "WHERE c.status = 'accepted' AND a.removed = 0 AND v.servable = 1 ORDER BY c.id"
        )
    ]
    if not ids:
        raise ValueError("no accepted clips to audit yet")
    number = conn.execute("SELECT COUNT(*) FROM audit_samples").fetchone()[0] + 1
    n = min(settings.audit_sample_size, len(ids))
    picked = sorted(
        stable_rng(settings.seed, "audit", number).choice(len(ids), size=n, replace=False).tolist()
    )
    cur = conn.execute(
        "INSERT INTO audit_samples (size, seed, created_by, created) VALUES (?, ?, ?, ?)",
        (n, settings.seed, person.id, now()),
    )
    sample_id = int(cur.lastrowid)
    order = stable_rng(settings.seed, "audit-order", number).permutation(n)
    for position, k in enumerate(order):
        conn.execute(
            "INSERT INTO audit_items (sample_id, candidate_id, position) VALUES (?, ?, ?)",
            (sample_id, ids[picked[k]], position),
        )
    return sample_id, n


def next_item(conn: sqlite3.Connection, person: Person, settings: StudioSettings) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT i.* FROM audit_items i WHERE i.sample_id = (SELECT MAX(id) FROM audit_samples) AND i.label IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.kind = 'audit' AND l.item_id = i.id AND l.person_id != ? "
        "AND l.expires > ?) ORDER BY i.position LIMIT 1",
        (person.id, now()),
    ).fetchone()
    if row is None:
        return None
    leases.take(conn, "audit", row["id"], person.id, settings.lease_minutes)
    return dict(row)


def label_item(conn: sqlite3.Connection, person: Person, item_id: int, label: str) -> None:
    if label not in ("correct", "incorrect"):
        raise ValueError("label must be 'correct' or 'incorrect'")
    row = conn.execute("SELECT * FROM audit_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise ValueError("no such audit item")
    if row["label"] is not None:
        raise ValueError("this clip of the sample is already labelled")
    conn.execute(
        "UPDATE audit_items SET label = ?, person_id = ?, labeled_at = ? WHERE id = ?",
        (label, person.id, now(), item_id),
    )
    leases.release_all(conn, "audit", item_id)


def _summary(correct: int, n: int) -> dict[str, Any]:
    ci = wilson_interval(correct, n)
    return {
        "correct": correct,
        "labeled": n,
        "accuracy": correct / n if n else None,
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
    }


def audit_results(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The latest sample: size, labelled, accuracy with its 95% interval, and per domain."""
    sample = conn.execute("SELECT * FROM audit_samples ORDER BY id DESC LIMIT 1").fetchone()
    if sample is None:
        return None
    items = conn.execute(
        "SELECT i.label, a.domain FROM audit_items i JOIN candidates c ON c.id = i.candidate_id "
        "JOIN actions a ON a.id = c.action_id WHERE i.sample_id = ?",
        (sample["id"],),
    ).fetchall()
    labeled = [i for i in items if i["label"]]
    domains: dict[str, list[str]] = {}
    for i in labeled:
        domains.setdefault(i["domain"], []).append(i["label"])
    return {
        "sample_id": sample["id"],
        "size": sample["size"],
        **_summary(sum(i["label"] == "correct" for i in labeled), len(labeled)),
        "domains": {
            d: _summary(sum(x == "correct" for x in ls), len(ls)) for d, ls in sorted(domains.items())
        },
    }

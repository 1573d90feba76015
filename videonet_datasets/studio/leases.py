"""Task reservations: who is working on which clip, action or question right now.

A page that hands a person a task takes a lease on it (``lease_minutes`` long, renewed when
the page is opened again).  Leases are how the studio gives different raters different clips
and stops a clip from collecting more votes than it needs while its raters are still
watching; they are advisory - a vote is accepted without a lease when the clip still has an
open slot - and expire on their own when someone walks away.
"""

from __future__ import annotations

import sqlite3

from videonet_datasets.studio.db import now

__all__ = ["holds", "others", "release", "release_all", "take"]


def take(conn: sqlite3.Connection, kind: str, item_id: int, person_id: int, minutes: float) -> None:
    conn.execute(
        "INSERT INTO leases (kind, item_id, person_id, expires) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(kind, item_id, person_id) DO UPDATE SET expires = excluded.expires",
        (kind, item_id, person_id, now() + minutes * 60.0),
    )


def holds(conn: sqlite3.Connection, kind: str, item_id: int, person_id: int) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM leases WHERE kind = ? AND item_id = ? AND person_id = ? AND expires > ?",
            (kind, item_id, person_id, now()),
        ).fetchone()
        is not None
    )


def others(conn: sqlite3.Connection, kind: str, item_id: int, person_id: int) -> int:
    """Valid leases on the item held by other people."""
    return conn.execute(
        "SELECT COUNT(*) FROM leases WHERE kind = ? AND item_id = ? AND person_id != ? AND expires > ?",
        (kind, item_id, person_id, now()),
    ).fetchone()[0]


def release(conn: sqlite3.Connection, kind: str, item_id: int, person_id: int) -> None:
    conn.execute(
        "DELETE FROM leases WHERE kind = ? AND item_id = ? AND person_id = ?", (kind, item_id, person_id)
    )


def release_all(conn: sqlite3.Connection, kind: str, item_id: int) -> None:
    conn.execute("DELETE FROM leases WHERE kind = ? AND item_id = ?", (kind, item_id))

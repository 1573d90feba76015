"""The action list: ``actions.csv`` mirrored in the store, edits with their history, and the
drafted suggestions a person accepts, edits or rejects before they reach the file.

``actions.csv`` stays the source of truth that every other command reads.  The store keeps a
copy (plus what the file cannot hold: who changed which definition when, suggestions, removed
actions) and the file is rewritten - atomically, in its own order - after every accepted
change.  Before writing, the file's hash is compared with the one last read or written: an
edit made by hand while the studio runs is imported first (and recorded as such), never
overwritten.  Renaming an action is not offered: names are keys in ``hard_negatives.csv``
and ``clips.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonet_datasets.annotations import (
    ACTIONS_COLUMNS,
    ACTIONS_FILE,
    NEGATIVES_COLUMNS,
    NEGATIVES_FILE,
    Problem,
    load_actions,
    read_csv_rows,
)
from videonet_datasets.fsutil import atomic_write_text
from videonet_datasets.studio.db import get_meta, now, rows, set_meta
from videonet_datasets.studio.people import Person

__all__ = [
    "ActionRow",
    "accept_suggestion",
    "action_history",
    "add_suggestion",
    "domain_actions",
    "edit_action",
    "get_action",
    "list_actions",
    "list_suggestions",
    "read_negatives",
    "reject_suggestion",
    "sync_actions",
    "write_actions_csv",
]

MAX_DEFINITION = 5000
_FILE_LOCK = threading.Lock()  # one writer of actions.csv per process


@dataclass(frozen=True)
class ActionRow:
    id: int
    category: str
    domain: str
    name: str
    subdomain: str
    definition: str
    position: int
    removed: bool

    @classmethod
    def of(cls, row: sqlite3.Row | dict[str, Any]) -> ActionRow:
        return cls(
            row["id"],
            row["category"],
            row["domain"],
            row["name"],
            row["subdomain"],
            row["definition"],
            row["position"],
            bool(row["removed"]),
        )


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _history(
    conn: sqlite3.Connection,
    action_id: int,
    field: str,
    old: Any,
    new: Any,
    person: Person | None,
    source: str,
) -> None:
    conn.execute(
        "INSERT INTO action_history (action_id, field, old, new, person_id, source, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (action_id, field, old, new, person.id if person else None, source, now()),
    )


def sync_actions(conn: sqlite3.Connection, root: Path) -> list[str]:
    """Bring the store's copy in line with ``actions.csv`` (the file wins); returns what changed.

    Raises :class:`videonet_datasets.annotations.AnnotationError` naming every bad line when
    the file is invalid - the studio does not start on a broken taxonomy.
    """
    path = root / ACTIONS_FILE
    sha = _sha(path)
    if sha is not None and sha == get_meta(conn, "actions_sha"):
        return []
    load_actions(root)  # validates; raises with every problem
    problems: list[Problem] = []
    raw = read_csv_rows(path, ACTIONS_COLUMNS, problems)
    changes: list[str] = []
    seen: set[int] = set()
    first = conn.execute("SELECT COUNT(*) FROM actions").fetchone()[0] == 0
    for position, (_, row) in enumerate(raw):
        existing = conn.execute(
            "SELECT * FROM actions WHERE domain = ? AND name = ?", (row["domain"], row["action"])
        ).fetchone()
        if existing is None:
            cur = conn.execute(
                "INSERT INTO actions (category, domain, name, subdomain, definition, position) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row["category"],
                    row["domain"],
                    row["action"],
                    row["subdomain"],
                    row["definition"],
                    position,
                ),
            )
            seen.add(int(cur.lastrowid))
            _history(conn, int(cur.lastrowid), "created", None, row["action"], None, ACTIONS_FILE)
            changes.append(f"new action {row['domain']} / {row['action']}")
            continue
        seen.add(existing["id"])
        updates = {"position": position, "removed": 0}
        for field, column in (
            ("category", "category"),
            ("subdomain", "subdomain"),
            ("definition", "definition"),
        ):
            if existing[field] != row[column]:
                updates[field] = row[column]
                _history(conn, existing["id"], field, existing[field], row[column], None, ACTIONS_FILE)
                changes.append(f"{field} of {row['domain']} / {row['action']} changed in {ACTIONS_FILE}")
        if existing["removed"]:
            _history(conn, existing["id"], "restored", None, None, None, ACTIONS_FILE)
            changes.append(f"{row['domain']} / {row['action']} is back in {ACTIONS_FILE}")
        sets = ", ".join(f"{k} = ?" for k in updates)
        conn.execute(f"UPDATE actions SET {sets} WHERE id = ?", (*updates.values(), existing["id"]))
    for row in conn.execute("SELECT * FROM actions WHERE removed = 0").fetchall():
        if row["id"] not in seen:
            conn.execute("UPDATE actions SET removed = 1 WHERE id = ?", (row["id"],))
            _history(conn, row["id"], "removed", row["name"], None, None, ACTIONS_FILE)
            changes.append(f"{row['domain']} / {row['name']} is no longer in {ACTIONS_FILE}")
    set_meta(conn, "actions_sha", sha or "")
    if first:
        return [f"imported {len(raw)} actions from {ACTIONS_FILE}"]
    return changes


def _render_csv(conn: sqlite3.Connection) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(ACTIONS_COLUMNS)
    for a in conn.execute("SELECT * FROM actions WHERE removed = 0 ORDER BY position, id").fetchall():
        writer.writerow([a["category"], a["domain"], a["name"], a["subdomain"], a["definition"]])
    return buf.getvalue()


def write_actions_csv(conn: sqlite3.Connection, root: Path) -> None:
    """Rewrite ``actions.csv`` from the store (atomically), call inside the write transaction
    that made the change - if the file cannot be written, the change is rolled back too."""
    text = _render_csv(conn)
    atomic_write_text(root / ACTIONS_FILE, text)
    set_meta(conn, "actions_sha", hashlib.sha256(text.encode("utf-8")).hexdigest())


class _FileGuard:
    """Serialises actions.csv writers of this process and imports a hand edit first."""

    def __init__(self, conn: sqlite3.Connection, root: Path):
        self.conn, self.root = conn, root

    def __enter__(self) -> list[str]:
        _FILE_LOCK.acquire()
        try:
            return sync_actions(self.conn, self.root)
        except BaseException:
            _FILE_LOCK.release()
            raise

    def __exit__(self, *exc: object) -> None:
        _FILE_LOCK.release()


# ----------------------------------------------------------------------------- reading


def list_actions(conn: sqlite3.Connection, include_removed: bool = False) -> list[ActionRow]:
    where = "" if include_removed else "WHERE removed = 0"
    return [ActionRow.of(r) for r in conn.execute(f"SELECT * FROM actions {where} ORDER BY position, id")]


def get_action(conn: sqlite3.Connection, action_id: int) -> ActionRow | None:
    row = conn.execute("SELECT * FROM actions WHERE id = ?", (action_id,)).fetchone()
    return ActionRow.of(row) if row else None


def domain_actions(conn: sqlite3.Connection, domain: str) -> list[ActionRow]:
    return [
        ActionRow.of(r)
        for r in conn.execute(
            "SELECT * FROM actions WHERE domain = ? AND removed = 0 ORDER BY position, id", (domain,)
        )
    ]


def action_history(conn: sqlite3.Connection, action_id: int) -> list[dict[str, Any]]:
    return rows(
        conn.execute(
            "SELECT h.*, p.name AS person FROM action_history h LEFT JOIN people p ON p.id = h.person_id "
            "WHERE action_id = ? ORDER BY h.id",
            (action_id,),
        )
    )


def read_negatives(root: Path) -> dict[tuple[str, str], list[str]]:
    """``hard_negatives.csv`` as shown beside each action (read as is; ``videonet validate``
    judges it)."""
    path = root / NEGATIVES_FILE
    if not path.exists():
        return {}
    problems: list[Problem] = []
    return {
        (r["domain"], r["action"]): [r[f"negative_{i}"] for i in (1, 2, 3)]
        for _, r in read_csv_rows(path, NEGATIVES_COLUMNS, problems)
    }


# ----------------------------------------------------------------------------- edits


def _clean_definition(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) > MAX_DEFINITION:
        raise ValueError(f"a definition has at most {MAX_DEFINITION} characters, got {len(text)}")
    return text


def _clean_word(text: str, what: str) -> str:
    text = " ".join(str(text).split())
    if len(text) > 100:
        raise ValueError(f"{what} has at most 100 characters")
    return text


def edit_action(
    conn: sqlite3.Connection,
    root: Path,
    action_id: int,
    person: Person,
    *,
    definition: str | None = None,
    subdomain: str | None = None,
    source: str = "studio",
) -> list[str]:
    """Change an action's definition and/or subdomain, record who did it, rewrite actions.csv.
    Returns the fields that changed."""
    with _FileGuard(conn, root):
        action = get_action(conn, action_id)
        if action is None or action.removed:
            raise ValueError("no such action (it may have been removed from actions.csv)")
        changed = []
        for field, value in (
            ("definition", None if definition is None else _clean_definition(definition)),
            ("subdomain", None if subdomain is None else _clean_word(subdomain, "a subdomain")),
        ):
            if value is None or value == getattr(action, field):
                continue
            conn.execute(f"UPDATE actions SET {field} = ? WHERE id = ?", (value, action_id))
            _history(conn, action_id, field, getattr(action, field), value, person, source)
            changed.append(field)
        if changed:
            write_actions_csv(conn, root)
        return changed


def _renumber(conn: sqlite3.Connection) -> None:
    ids = [r[0] for r in conn.execute("SELECT id FROM actions ORDER BY position, id")]
    for i, action_id in enumerate(ids):
        conn.execute("UPDATE actions SET position = ? WHERE id = ?", (i, action_id))


def _add_action(
    conn: sqlite3.Connection, domain: str, name: str, subdomain: str, definition: str, person: Person
) -> int:
    name = _clean_word(name, "an action name")
    if not name:
        raise ValueError("an action needs a name")
    row = conn.execute(
        "SELECT category, MAX(position) AS last FROM actions WHERE domain = ? AND removed = 0", (domain,)
    ).fetchone()
    if row is None or row["category"] is None:
        raise ValueError(f"no domain {domain!r} in actions.csv")
    existing = conn.execute("SELECT * FROM actions WHERE domain = ? AND name = ?", (domain, name)).fetchone()
    if existing is not None and not existing["removed"]:
        raise ValueError(f"{domain!r} already has an action {name!r}")
    values = (row["category"], _clean_word(subdomain, "a subdomain"), _clean_definition(definition))
    if existing is not None:
        conn.execute(
            "UPDATE actions SET category = ?, subdomain = ?, definition = ?, removed = 0, position = ? WHERE id = ?",
            (*values, row["last"] + 0.5, existing["id"]),
        )
        action_id = existing["id"]
        _history(conn, action_id, "restored", None, name, person, "suggestion")
    else:
        cur = conn.execute(
            "INSERT INTO actions (category, domain, name, subdomain, definition, position) VALUES (?, ?, ?, ?, ?, ?)",
            (values[0], domain, name, values[1], values[2], row["last"] + 0.5),
        )
        action_id = int(cur.lastrowid)
        _history(conn, action_id, "created", None, name, person, "suggestion")
    _renumber(conn)
    return action_id


# ----------------------------------------------------------------------------- suggestions


def add_suggestion(
    conn: sqlite3.Connection, domain: str, kind: str, payload: dict[str, Any], run_id: int | None = None
) -> int | None:
    """Store one suggestion unless the same one is already pending; returns its id (or None)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    for row in conn.execute(
        "SELECT payload FROM suggestions WHERE domain = ? AND kind = ? AND status = 'pending'", (domain, kind)
    ):
        old = json.loads(row["payload"])
        same = (
            old.get("name", "").lower() == payload.get("name", "").lower()
            if kind == "add"
            else old.get("action") == payload.get("action")
            if kind == "definition"
            else sorted(old.get("group", [])) == sorted(payload.get("group", []))
        )
        if same:
            return None
    cur = conn.execute(
        "INSERT INTO suggestions (run_id, domain, kind, payload, created) VALUES (?, ?, ?, ?, ?)",
        (run_id, domain, kind, text, now()),
    )
    return int(cur.lastrowid)


def list_suggestions(conn: sqlite3.Connection, status: str | None = "pending") -> list[dict[str, Any]]:
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    out = []
    for row in conn.execute(f"SELECT * FROM suggestions {where} ORDER BY domain, kind, id", args):
        d = dict(row)
        d["payload"] = json.loads(d["payload"])
        out.append(d)
    return out


def _pending(conn: sqlite3.Connection, suggestion_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM suggestions WHERE id = ?", (suggestion_id,)).fetchone()
    if row is None:
        raise ValueError("no such suggestion")
    if row["status"] != "pending":
        raise ValueError(f"this suggestion was already {row['status']}")
    d = dict(row)
    d["payload"] = json.loads(d["payload"])
    return d


def _decide(conn: sqlite3.Connection, suggestion_id: int, status: str, person: Person) -> None:
    conn.execute(
        "UPDATE suggestions SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
        (status, person.id, now(), suggestion_id),
    )


def reject_suggestion(conn: sqlite3.Connection, suggestion_id: int, person: Person) -> None:
    _pending(conn, suggestion_id)
    _decide(conn, suggestion_id, "rejected", person)


def accept_suggestion(
    conn: sqlite3.Connection, root: Path, suggestion_id: int, person: Person, form: dict[str, Any]
) -> str:
    """Apply a suggestion as the person left it in the form; returns a one-line summary.

    ``add``: ``name``, ``subdomain``, ``definition`` -> a new action at the end of its domain.
    ``duplicate``: ``drop`` (names) -> those actions leave actions.csv (refused for an action
    that already has clips), pending additions of those names are rejected.
    ``definition``: ``definition`` -> the action's definition.
    The suggestion is recorded as ``accepted`` when taken as drafted, ``edited`` otherwise.
    """
    s = _pending(conn, suggestion_id)
    payload, domain = s["payload"], s["domain"]
    with _FileGuard(conn, root):
        if s["kind"] == "add":
            name = str(form.get("name", payload["name"]))
            subdomain = str(form.get("subdomain", payload.get("subdomain", "")))
            definition = str(form.get("definition", payload.get("definition", "")))
            _add_action(conn, domain, name, subdomain, definition, person)
            edited = (
                " ".join(name.split()) != payload["name"]
                or " ".join(subdomain.split()) != payload.get("subdomain", "")
                or _clean_definition(definition) != _clean_definition(payload.get("definition", ""))
            )
            summary = f"added {name!r} to {domain}"
        elif s["kind"] == "duplicate":
            drop = [str(x) for x in form.get("drop", payload.get("drop", []))]
            unknown = [x for x in drop if x not in payload["group"]]
            if unknown:
                raise ValueError(f"{unknown} are not in this group")
            for name in drop:
                row = conn.execute(
                    "SELECT * FROM actions WHERE domain = ? AND name = ? AND removed = 0", (domain, name)
                ).fetchone()
                if row is None:
                    for p in list_suggestions(conn):
                        if p["kind"] == "add" and p["domain"] == domain and p["payload"]["name"] == name:
                            _decide(conn, p["id"], "rejected", person)
                    continue
                n = conn.execute(
                    "SELECT COUNT(*) FROM candidates WHERE action_id = ? AND status NOT IN ('rejected', 'withdrawn')",
                    (row["id"],),
                ).fetchone()[0]
                if n:
                    raise ValueError(f"{name!r} already has {n} clip(s); it cannot be dropped as a duplicate")
                conn.execute("UPDATE actions SET removed = 1 WHERE id = ?", (row["id"],))
                _history(conn, row["id"], "removed", name, None, person, "duplicate suggestion")
            edited = sorted(drop) != sorted(payload.get("drop", []))
            summary = f"dropped {', '.join(map(repr, drop)) or 'nothing'} from {domain}"
        elif s["kind"] == "definition":
            row = conn.execute(
                "SELECT id FROM actions WHERE domain = ? AND name = ? AND removed = 0",
                (domain, payload["action"]),
            ).fetchone()
            if row is None:
                raise ValueError(f"{payload['action']!r} is not (or no longer) an action of {domain}")
            definition = str(form.get("definition", payload["definition"]))
            action = get_action(conn, row["id"])
            assert action is not None
            new = _clean_definition(definition)
            if new != action.definition:
                conn.execute("UPDATE actions SET definition = ? WHERE id = ?", (new, row["id"]))
                _history(conn, row["id"], "definition", action.definition, new, person, "suggestion")
            edited = new != _clean_definition(payload["definition"])
            summary = f"definition of {payload['action']!r} set"
        else:  # pragma: no cover - the schema's CHECK rules it out
            raise ValueError(f"unknown suggestion kind {s['kind']!r}")
        write_actions_csv(conn, root)
        _decide(conn, suggestion_id, "edited" if edited else "accepted", person)
    return summary

"""Who may do what: people with opaque link tokens, Prolific studies, and CSRF tokens.

Everyone reaches the studio through a personal link (``/t/<token>``, 32 random bytes in
URL-safe base64) that the admin hands out; the link sets a cookie and is never needed in the
address bar again.  Roles: ``admin`` (everything: actions, settings, people, export),
``annotator`` (collect, verify, re-trim, answer the human baseline) and ``expert`` (the
audit, plus what annotators do).

Crowd workers come through a study link instead: ``/p/<study token>?PROLIFIC_PID=...`` (the
form Prolific's study URL takes).  The Prolific id becomes the person's rater id - the same
id always maps to the same person, so a worker who returns keeps their history and never
rates a clip twice - and after ``quota`` tasks of the study's stage (or when none are left)
the page shows the study's completion code.

Votes and exports name people by their numeric id and name, never by token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass

from videonet_datasets.studio.db import get_meta, now, set_meta

__all__ = [
    "ROLES",
    "STAGES",
    "Person",
    "Study",
    "create_person",
    "create_study",
    "csrf_secret",
    "csrf_token",
    "ensure_admin",
    "new_token",
    "person_by_token",
    "prolific_person",
    "study_by_token",
]

ROLES = ("admin", "annotator", "expert")
STAGES = ("collect", "verify", "retrim", "baseline")
_PID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: str
    token: str
    prolific_pid: str | None = None
    study_id: int | None = None

    def can(self, role: str) -> bool:
        """Admins can do everything; experts also do what annotators do."""
        if self.role == "admin":
            return True
        if role == "annotator":
            return self.role in ("annotator", "expert")
        return self.role == role

    @property
    def label(self) -> str:
        return f"{self.name} (#{self.id})"


@dataclass(frozen=True)
class Study:
    id: int
    token: str
    name: str
    stage: str
    quota: int
    completion_code: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _person(row: sqlite3.Row | None) -> Person | None:
    if row is None:
        return None
    return Person(row["id"], row["name"], row["role"], row["token"], row["prolific_pid"], row["study_id"])


def person_by_token(conn: sqlite3.Connection, token: str | None) -> Person | None:
    if not token or len(token) > 200:
        return None
    return _person(conn.execute("SELECT * FROM people WHERE token = ?", (token,)).fetchone())


def create_person(conn: sqlite3.Connection, name: str, role: str) -> Person:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ValueError("a person needs a name of 1-100 characters")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    token = new_token()
    cur = conn.execute(
        "INSERT INTO people (token, name, role, created) VALUES (?, ?, ?, ?)", (token, name, role, now())
    )
    return Person(int(cur.lastrowid), name, role, token)


def ensure_admin(conn: sqlite3.Connection) -> Person:
    """The first admin (created with the store); its link is printed when the studio starts."""
    row = conn.execute("SELECT * FROM people WHERE role = 'admin' ORDER BY id LIMIT 1").fetchone()
    if row is not None:
        return _person(row)  # type: ignore[return-value]
    return create_person(conn, "admin", "admin")


def create_study(conn: sqlite3.Connection, name: str, stage: str, quota: int, completion_code: str) -> Study:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise ValueError("a study needs a name of 1-100 characters")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if quota < 1:
        raise ValueError(f"quota must be >= 1, got {quota}")
    code = completion_code.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        raise ValueError(
            "the completion code must be 1-64 letters, digits, '-' or '_' (Prolific's codes are)"
        )
    token = new_token()
    cur = conn.execute(
        "INSERT INTO studies (token, name, stage, quota, completion_code, created) VALUES (?, ?, ?, ?, ?, ?)",
        (token, name, stage, quota, code, now()),
    )
    return Study(int(cur.lastrowid), token, name, stage, quota, code)


def study_by_token(conn: sqlite3.Connection, token: str | None) -> Study | None:
    if not token or len(token) > 200:
        return None
    row = conn.execute("SELECT * FROM studies WHERE token = ?", (token,)).fetchone()
    if row is None:
        return None
    return Study(row["id"], row["token"], row["name"], row["stage"], row["quota"], row["completion_code"])


def prolific_person(conn: sqlite3.Connection, study: Study, pid: str) -> Person:
    """The person behind a Prolific id (created on first visit; the same id -> the same person)."""
    if not _PID.match(pid or ""):
        raise ValueError("PROLIFIC_PID must be 1-64 letters, digits, '-' or '_'")
    row = conn.execute("SELECT * FROM people WHERE prolific_pid = ?", (pid,)).fetchone()
    if row is not None:
        if row["study_id"] != study.id:
            conn.execute("UPDATE people SET study_id = ? WHERE id = ?", (study.id, row["id"]))
            row = conn.execute("SELECT * FROM people WHERE id = ?", (row["id"],)).fetchone()
        return _person(row)  # type: ignore[return-value]
    token = new_token()
    cur = conn.execute(
        "INSERT INTO people (token, name, role, prolific_pid, study_id, created) VALUES (?, ?, 'annotator', ?, ?, ?)",
        (token, f"prolific:{pid}", pid, study.id, now()),
    )
    return Person(int(cur.lastrowid), f"prolific:{pid}", "annotator", token, pid, study.id)


def _secret(conn: sqlite3.Connection) -> bytes:
    value = get_meta(conn, "csrf_secret")
    if value is None:
        value = secrets.token_hex(32)
        set_meta(conn, "csrf_secret", value)
    return bytes.fromhex(value)


def csrf_token(secret: bytes, person: Person) -> str:
    """The form token of a person's session: an HMAC of their link token under the store's
    secret, so a page from another site cannot know it."""
    return hmac.new(secret, f"csrf:{person.token}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_secret(conn: sqlite3.Connection) -> bytes:
    """The store's CSRF secret (created on first use, inside the caller's write transaction)."""
    return _secret(conn)

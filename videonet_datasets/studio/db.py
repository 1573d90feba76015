"""The studio's store: one SQLite file beside the annotations, the only state the app keeps.

SQLite in WAL mode with ``synchronous=FULL``: readers never block the writer, and a
transaction is on disk when ``COMMIT`` returns - the web layer answers a request only after
that, so killing the server (or the machine) at any moment loses nothing that was
acknowledged.  Every write is one short transaction opened with ``BEGIN IMMEDIATE``: the
write lock is taken up front, so concurrent votes queue behind each other (``busy_timeout``)
instead of failing half-way with "database is locked", and the checks a write depends on
(how many votes a clip already has, who holds which task) are read inside the same
transaction that writes.  Uniqueness that matters - one vote per person and clip, one answer
per person and question - is also a ``UNIQUE`` constraint, so no code path can double-count.

Each request opens its own connection (cheap for SQLite) and closes it; nothing is shared
between threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videonet_datasets.studio.settings import StudioSettings

__all__ = [
    "SCHEMA_VERSION",
    "STORE_DIR",
    "STORE_FILE",
    "Store",
    "StoreError",
    "get_meta",
    "load_settings",
    "now",
    "rows",
    "save_settings",
    "set_meta",
]

SCHEMA_VERSION = 1
STORE_DIR = ".studio"  # inside the annotation directory; never served, never listed as a source
STORE_FILE = "studio.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'annotator', 'expert')),
    prolific_pid TEXT UNIQUE,
    study_id INTEGER REFERENCES studies(id),
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('collect', 'verify', 'retrim', 'baseline')),
    quota INTEGER NOT NULL,
    completion_code TEXT NOT NULL,
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    domain TEXT NOT NULL,
    name TEXT NOT NULL,
    subdomain TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (domain, name)
);

CREATE TABLE IF NOT EXISTS action_history (
    id INTEGER PRIMARY KEY,
    action_id INTEGER NOT NULL REFERENCES actions(id),
    field TEXT NOT NULL,
    old TEXT,
    new TEXT,
    person_id INTEGER REFERENCES people(id),
    source TEXT NOT NULL,
    time REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS draft_runs (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL,
    step TEXT NOT NULL,
    params TEXT NOT NULL,
    messages TEXT NOT NULL,
    reply TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS suggestions (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES draft_runs(id),
    domain TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('add', 'duplicate', 'definition')),
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'edited', 'rejected')),
    decided_by INTEGER REFERENCES people(id),
    decided_at REAL,
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    url TEXT UNIQUE,
    fingerprint TEXT,
    status TEXT NOT NULL CHECK (status IN ('ready', 'downloading', 'preparing', 'failed')),
    error TEXT,
    duration REAL,
    fps REAL,
    width INTEGER,
    height INTEGER,
    start_time REAL,
    codec TEXT,
    playable TEXT,
    servable INTEGER NOT NULL DEFAULT 0,
    added_by INTEGER REFERENCES people(id),
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    clip_id TEXT NOT NULL UNIQUE,
    action_id INTEGER NOT NULL REFERENCES actions(id),
    video_id INTEGER NOT NULL REFERENCES videos(id),
    start REAL NOT NULL,
    "end" REAL,
    collector_id INTEGER REFERENCES people(id),
    origin TEXT NOT NULL CHECK (origin IN ('studio', 'clips.csv')),
    import_line INTEGER,
    status TEXT NOT NULL CHECK (status IN ('verifying', 'retrim', 'accepted', 'rejected', 'withdrawn')),
    round INTEGER NOT NULL DEFAULT 1,
    decision TEXT,
    text_flag INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    decided_at REAL
);
CREATE INDEX IF NOT EXISTS candidates_action ON candidates(action_id, status);

CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    round INTEGER NOT NULL,
    rater_id INTEGER NOT NULL REFERENCES people(id),
    label TEXT NOT NULL CHECK (label IN ('good', 'trim', 'wrong', 'unsure')),
    text_flag INTEGER NOT NULL DEFAULT 0,
    start REAL NOT NULL,
    "end" REAL,
    created REAL NOT NULL,
    UNIQUE (candidate_id, rater_id)
);

CREATE TABLE IF NOT EXISTS leases (
    kind TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id),
    expires REAL NOT NULL,
    PRIMARY KEY (kind, item_id, person_id)
);

CREATE TABLE IF NOT EXISTS trims (
    id INTEGER PRIMARY KEY,
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    round INTEGER NOT NULL,
    old_start REAL NOT NULL,
    old_end REAL,
    new_start REAL NOT NULL,
    new_end REAL NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id),
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_samples (
    id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    created_by INTEGER REFERENCES people(id),
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_items (
    id INTEGER PRIMARY KEY,
    sample_id INTEGER NOT NULL REFERENCES audit_samples(id),
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    position INTEGER NOT NULL,
    label TEXT CHECK (label IN ('correct', 'incorrect')),
    person_id INTEGER REFERENCES people(id),
    labeled_at REAL,
    UNIQUE (sample_id, candidate_id)
);

CREATE TABLE IF NOT EXISTS baseline_sessions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    benchmark TEXT NOT NULL,
    config TEXT NOT NULL,
    definition INTEGER NOT NULL,
    task TEXT NOT NULL,
    answers_per_question INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    questions_total INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS baseline_items (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES baseline_sessions(id),
    question_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (session_id, question_id)
);

CREATE TABLE IF NOT EXISTS baseline_answers (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES baseline_items(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    answer TEXT NOT NULL,
    seconds REAL,
    created REAL NOT NULL,
    UNIQUE (item_id, person_id)
);

CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('download', 'proxy')),
    video_id INTEGER NOT NULL REFERENCES videos(id),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES people(id),
    clips INTEGER NOT NULL,
    reserve INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    report TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class StoreError(RuntimeError):
    """The store cannot be used (another schema version, an unwritable directory)."""


def now() -> float:
    return time.time()


class Store:
    """The SQLite file and how to talk to it (``read()`` / ``write()`` connections)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create {self.path.parent}: {e}") from None
        conn = self.connect()
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network drive?"
                )
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: made by a studio with schema version {row[0]}, this one reads {SCHEMA_VERSION}"
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        try:  # the store holds everyone's access tokens
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    def connect(self) -> sqlite3.Connection:
        """A new connection in autocommit mode (transactions are explicit, see :meth:`write`)."""
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection whose statements all see one snapshot (a deferred read transaction)."""
        conn = self.connect()
        try:
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; committed (durably) when the block ends without an exception."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


# ----------------------------------------------------------------------------- meta


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def load_settings(conn: sqlite3.Connection) -> StudioSettings:
    raw = get_meta(conn, "settings")
    if not raw:
        return StudioSettings()
    return StudioSettings().updated(json.loads(raw))


def save_settings(conn: sqlite3.Connection, settings: StudioSettings) -> None:
    set_meta(conn, "settings", json.dumps(settings.validate().to_dict(), sort_keys=True))


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cursor.fetchall()]

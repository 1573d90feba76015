"""Export: the accepted clips as ``clips.csv`` in a stated order, every vote as ``votes.csv``,
then ``videonet validate`` on the result.

**The order** (reproducible: the same store gives the same bytes).  Actions keep their
``actions.csv`` order.  Within an action the accepted clips are ranked:

1. clips imported from ``clips.csv`` first, in their old file order - today's benchmark keeps
   its clips 1..5 (a rebuilt benchmark asks the same questions);
2. then the studio's clips, best first: the highest share of "well trimmed" among the votes
   that accepted the clip, then clips never re-trimmed before re-trimmed ones, then the time of
   acceptance, then the clip id.

The first ``clips_per_action`` (5) go to ``clips.csv``: clips 1-3 are the binary in-context
examples - so the best-verified, cleanest-trimmed clips are the ones shown as examples - and
clips 4-5 the positive test clips.  Accepted clips beyond 5 go to ``clips_reserve.csv`` (same
columns), never silently dropped; an action with fewer than 5 is exported with what it has
and the validator says what is missing.

``votes.csv`` has every vote ever cast (rejected clips' included): clip, round, rater id and
name, label, on-screen-text flag, the window voted on and the time (UTC, ISO 8601).  All
three files are written to temporary names and renamed into place, so a killed export leaves
the old files.  A ``clips.csv`` changed by hand since the studio last read or wrote it is
not overwritten (the export stops and says so; restart the studio to import the edit).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from videonet_datasets.annotations import CLIPS_COLUMNS, CLIPS_FILE, NEGATIVES_FILE
from videonet_datasets.fsutil import atomic_write_text
from videonet_datasets.studio.db import Store, get_meta, now, rows, set_meta
from videonet_datasets.studio.media import fmt_seconds
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings

__all__ = [
    "RESERVE_FILE",
    "VOTES_COLUMNS",
    "VOTES_FILE",
    "ExportError",
    "ExportResult",
    "export",
    "ordered_clips",
]

RESERVE_FILE = "clips_reserve.csv"
VOTES_FILE = "votes.csv"
VOTES_COLUMNS = (
    "clip_id", "domain", "action", "round", "rater_id", "rater", "label", "text_flag", "start", "end", "time",
    "clip_status",
)  # fmt: skip
_LOCK = threading.Lock()


class ExportError(RuntimeError):
    """The export cannot run (a hand-edited clips.csv); nothing was written."""


@dataclass
class ExportResult:
    clips: int
    reserve: int
    votes: int
    valid: bool
    report: str
    short: list[str]  # actions with fewer clips than needed


def _rank(c: dict[str, Any]) -> tuple:
    decision = json.loads(c["decision"] or "{}")
    counts = decision.get("counts") or {}
    decisive = counts.get("good", 0) + counts.get("trim", 0) + counts.get("wrong", 0)
    good_share = counts.get("good", 0) / decisive if decisive else 0.0
    imported = c["origin"] == "clips.csv"
    return (
        0 if imported else 1,
        c["import_line"] or 0 if imported else 0,
        -round(good_share, 9),
        1 if decision.get("retrimmed") else 0,
        c["decided_at"] or 0.0,
        c["clip_id"],
    )


def ordered_clips(
    conn, settings: StudioSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(clips.csv rows, reserve rows, actions short of clips) in the export order."""
    accepted = rows(
        conn.execute(
            "SELECT c.*, a.domain, a.name AS action, a.position, v.path AS video FROM candidates c "
            "JOIN actions a ON a.id = c.action_id JOIN videos v ON v.id = c.video_id "
            "WHERE c.status = 'accepted' AND a.removed = 0"
        )
    )
    by_action: dict[int, list[dict[str, Any]]] = {}
    for c in accepted:
        by_action.setdefault(c["action_id"], []).append(c)
    main, reserve, short = [], [], []
    for a in conn.execute("SELECT * FROM actions WHERE removed = 0 ORDER BY position, id"):
        clips = sorted(by_action.get(a["id"], []), key=_rank)
        main += clips[: settings.clips_per_action]
        reserve += clips[settings.clips_per_action :]
        if len(clips) < settings.clips_per_action:
            short.append(f"{a['domain']} / {a['name']}: {len(clips)} of {settings.clips_per_action}")
    return main, reserve, short


def _clips_csv(clips: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CLIPS_COLUMNS)
    for c in clips:
        w.writerow(
            [
                c["clip_id"],
                c["domain"],
                c["action"],
                c["video"],
                fmt_seconds(c["start"]),
                fmt_seconds(c["end"]),
            ]
        )
    return buf.getvalue()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds")


def _votes_csv(conn) -> tuple[str, int]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(VOTES_COLUMNS)
    n = 0
    for v in conn.execute(
        "SELECT v.*, c.clip_id, c.status AS clip_status, a.domain, a.name AS action, p.name AS rater "
        "FROM votes v JOIN candidates c ON c.id = v.candidate_id JOIN actions a ON a.id = c.action_id "
        "JOIN people p ON p.id = v.rater_id ORDER BY v.id"
    ):
        w.writerow(
            [
                v["clip_id"], v["domain"], v["action"], v["round"], v["rater_id"], v["rater"], v["label"],
                v["text_flag"], fmt_seconds(v["start"]), fmt_seconds(v["end"]), _iso(v["created"]), v["clip_status"],
            ]
        )  # fmt: skip
        n += 1
    return buf.getvalue(), n


def validate_report(root: Path, timeout: float = 900.0) -> tuple[bool, str]:
    """Run ``videonet validate`` on the directory - the same command, the same report a user
    gets on the command line - and return (valid, its output)."""
    cmd = [sys.executable, "-m", "videonet_datasets.cli", "validate", str(root)]
    if not (root / NEGATIVES_FILE).exists():
        cmd.append("--no-negatives")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout.strip()
    err = "\n".join(
        line
        for line in proc.stderr.splitlines()
        if line.strip() and "checking videos" not in line and "\r" not in line
    )
    if proc.returncode not in (0, 1) and err:
        out = (out + "\n" + err).strip()
    shown = " ".join(cmd[3:4] + [root.name] + cmd[5:])
    return proc.returncode == 0, f"$ videonet {shown}\n{out}"


def export(
    store: Store, root: Path, person: Person | None, settings: StudioSettings, *, validate: bool = True
) -> ExportResult:
    """Write clips.csv, clips_reserve.csv and votes.csv from one consistent snapshot of the
    store, then validate; records the export (and its report) in the store."""
    with _LOCK:
        path = root / CLIPS_FILE
        with store.read() as conn:
            known = get_meta(conn, "clips_sha")
            if path.exists():
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                if known is not None and sha != known:
                    raise ExportError(
                        f"{CLIPS_FILE} was changed outside the studio since it last read or wrote it; "
                        "nothing was written. Restart the studio to import the change (or move the file away)."
                    )
            main, reserve, short = ordered_clips(conn, settings)
            votes_text, n_votes = _votes_csv(conn)
        clips_text = _clips_csv(main)
        atomic_write_text(root / VOTES_FILE, votes_text)
        if reserve:
            atomic_write_text(root / RESERVE_FILE, _clips_csv(reserve))
        elif (root / RESERVE_FILE).exists():
            (root / RESERVE_FILE).unlink()
        atomic_write_text(path, clips_text)
        with store.write() as conn:
            set_meta(conn, "clips_sha", hashlib.sha256(clips_text.encode("utf-8")).hexdigest())
        valid, report = validate_report(root) if validate else (False, "(not validated)")
        if short:
            report += "\n\nActions short of accepted clips:\n  " + "\n  ".join(short)
        with store.write() as conn:
            conn.execute(
                "INSERT INTO exports (person_id, clips, reserve, votes, valid, report, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (person.id if person else None, len(main), len(reserve), n_votes, int(valid), report, now()),
            )
        return ExportResult(len(main), len(reserve), n_votes, valid, report, short)

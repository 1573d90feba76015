"""Collecting candidate clips: source videos (local files or URLs) and marked windows.

As in the paper (§3.2), a collector gets one action at a time - name, domain, definition - and
gathers ``candidates_per_action`` (7) candidate clips for it, each from a *different* source
video (the same file under two names, or the same URL, counts as one source), so that
``clips_per_action`` (5) survive verification.  An action is handed to one collector at a time
(a lease); it comes back to collection when rejections leave it short.

Existing ``clips.csv`` rows are imported once as accepted clips (origin ``clips.csv``, no
votes): they are the benchmark's clips today and keep their places on export.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from videonet_datasets.annotations import CLIPS_COLUMNS, CLIPS_FILE, MAX_CLIP_SECONDS, Problem, read_csv_rows
from videonet_datasets.fsutil import file_fingerprint
from videonet_datasets.studio import leases, media
from videonet_datasets.studio.db import get_meta, now, rows, set_meta
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings
from videonet_datasets.video import VideoDecodeError

__all__ = [
    "ACTIVE",
    "CollectError",
    "action_progress",
    "add_candidate",
    "candidates_of",
    "enqueue_job",
    "finish_video",
    "get_video",
    "import_clips",
    "next_collect_action",
    "register_local_video",
    "register_url",
    "slug",
    "video_file",
    "withdraw_candidate",
]

ACTIVE = ("verifying", "retrim", "accepted")  # candidates that still count for their action


class CollectError(ValueError):
    """A candidate or source video that cannot be taken; the message says why."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


# ----------------------------------------------------------------------------- videos


def get_video(conn: sqlite3.Connection, video_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM videos WHERE id = ?", (video_id,)).fetchone()
    return dict(row) if row else None


def video_file(root: Path, video: dict[str, Any], playable: bool = False) -> Path:
    """Absolute path of a video row's source file (or of its browser copy)."""
    rel = video["playable"] if playable and video["playable"] else video["path"]
    p = Path(rel)
    return p if p.is_absolute() else Path(root) / p


def enqueue_job(conn: sqlite3.Connection, kind: str, video_id: int) -> int:
    t = now()
    cur = conn.execute(
        "INSERT INTO jobs (kind, video_id, status, created, updated) VALUES (?, ?, 'queued', ?, ?)",
        (kind, video_id, t, t),
    )
    return int(cur.lastrowid)


def finish_video(conn: sqlite3.Connection, root: Path, video_id: int, path: Path) -> str:
    """Probe a downloaded or registered file and record what the player needs; returns the
    new status (``ready``, or ``preparing`` with a proxy job queued)."""
    info = media.probe(path)
    playable = "" if media.browser_playable(path, info) else None
    status = "ready" if playable == "" else "preparing"
    conn.execute(
        "UPDATE videos SET status = ?, error = NULL, duration = ?, fps = ?, width = ?, height = ?, start_time = ?, "
        "codec = ?, playable = ?, fingerprint = ? WHERE id = ?",
        (
            status,
            info.duration,
            info.fps,
            info.width,
            info.height,
            info.start_time,
            info.codec,
            playable,
            file_fingerprint(path),
            video_id,
        ),
    )
    if status == "preparing":
        enqueue_job(conn, "proxy", video_id)
    return status


def register_local_video(conn: sqlite3.Connection, root: Path, rel: str, person: Person) -> dict[str, Any]:
    """A file under the annotation directory as a source (checked and probed once)."""
    try:
        path, rel = media.person_path(root, rel)
    except (media.UnsafePath, FileNotFoundError) as e:
        raise CollectError(str(e)) from None
    row = conn.execute("SELECT * FROM videos WHERE path = ?", (rel,)).fetchone()
    if row is not None:
        if row["status"] == "failed":
            raise CollectError(f"{rel}: {row['error']}")
        return dict(row)
    cur = conn.execute(
        "INSERT INTO videos (path, status, servable, added_by, created) VALUES (?, 'preparing', 1, ?, ?)",
        (rel, person.id, now()),
    )
    video_id = int(cur.lastrowid)
    try:
        finish_video(conn, root, video_id, path)
    except VideoDecodeError as e:
        raise CollectError(f"{rel}: the sampler cannot read it ({e.reason})") from None
    return get_video(conn, video_id)  # type: ignore[return-value]


def register_url(conn: sqlite3.Connection, url: str, person: Person) -> dict[str, Any]:
    """A web video as a source: downloaded in the background by the project's download stage."""
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise CollectError("give an http(s) URL of a video page or file")
    row = conn.execute("SELECT * FROM videos WHERE url = ?", (url,)).fetchone()
    if row is not None:
        if row["status"] == "failed":  # try again
            conn.execute("UPDATE videos SET status = 'downloading', error = NULL WHERE id = ?", (row["id"],))
            enqueue_job(conn, "download", row["id"])
            return get_video(conn, row["id"])  # type: ignore[return-value]
        return dict(row)
    key = "u" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]
    cur = conn.execute(
        "INSERT INTO videos (path, url, status, servable, added_by, created) VALUES (?, ?, 'downloading', 1, ?, ?)",
        (f"downloads/videos/{key}.pending", url, person.id, now()),
    )
    enqueue_job(conn, "download", int(cur.lastrowid))
    return get_video(conn, int(cur.lastrowid))  # type: ignore[return-value]


# ----------------------------------------------------------------------------- clips.csv import


def import_clips(conn: sqlite3.Connection, root: Path) -> list[str]:
    """Import ``clips.csv`` rows the store does not know yet as accepted clips; returns notes.

    Runs when the file changed since it was last read or written by the studio.  Rows for
    unknown actions or with unreadable windows are skipped and named (``videonet validate``
    explains them in full)."""
    path = root / CLIPS_FILE
    if not path.exists():
        return []
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha == get_meta(conn, "clips_sha"):
        return []
    problems: list[Problem] = []
    notes: list[str] = []
    imported = 0
    for line, row in read_csv_rows(path, CLIPS_COLUMNS, problems):
        if conn.execute("SELECT 1 FROM candidates WHERE clip_id = ?", (row["clip_id"],)).fetchone():
            continue
        action = conn.execute(
            "SELECT id FROM actions WHERE domain = ? AND name = ? AND removed = 0",
            (row["domain"], row["action"]),
        ).fetchone()
        try:
            start = float(row["start"])
            end = float(row["end"]) if row["end"] else None
        except ValueError:
            notes.append(f"{CLIPS_FILE}:{line}: skipped (start/end are not numbers)")
            continue
        if action is None or not row["clip_id"] or not row["video"]:
            notes.append(f"{CLIPS_FILE}:{line}: skipped (unknown action or empty field)")
            continue
        abs_path, servable = media.owner_path(root, row["video"])
        video = conn.execute("SELECT id FROM videos WHERE path = ?", (row["video"],)).fetchone()
        if video is None:
            cur = conn.execute(
                "INSERT INTO videos (path, status, servable, created) VALUES (?, 'preparing', ?, ?)",
                (row["video"], int(servable), now()),
            )
            video_id = int(cur.lastrowid)
            try:
                finish_video(conn, root, video_id, abs_path)
            except (VideoDecodeError, FileNotFoundError, OSError) as e:
                conn.execute(
                    "UPDATE videos SET status = 'failed', error = ? WHERE id = ?", (str(e)[:500], video_id)
                )
                notes.append(f"{CLIPS_FILE}:{line}: video {row['video']!r} cannot be read ({e})")
        else:
            video_id = video["id"]
        conn.execute(
            'INSERT INTO candidates (clip_id, action_id, video_id, start, "end", origin, import_line, status, '
            "decision, created, decided_at) VALUES (?, ?, ?, ?, ?, 'clips.csv', ?, 'accepted', ?, ?, ?)",
            (
                row["clip_id"],
                action["id"],
                video_id,
                start,
                end,
                line,
                json.dumps({"status": "accepted", "reason": f"imported from {CLIPS_FILE}", "counts": {}}),
                now(),
                now(),
            ),
        )
        imported += 1
    notes += [str(p) for p in problems if p.severity == "error"]
    if imported:
        notes.insert(0, f"imported {imported} clip(s) from {CLIPS_FILE} as accepted")
    set_meta(conn, "clips_sha", sha)
    return notes


# ----------------------------------------------------------------------------- candidates


def candidates_of(conn: sqlite3.Connection, action_id: int) -> list[dict[str, Any]]:
    return rows(
        conn.execute(
            "SELECT c.*, v.path AS video_path, v.url AS video_url, p.name AS collector "
            "FROM candidates c JOIN videos v ON v.id = c.video_id LEFT JOIN people p ON p.id = c.collector_id "
            "WHERE c.action_id = ? ORDER BY c.id",
            (action_id,),
        )
    )


def action_progress(conn: sqlite3.Connection, settings: StudioSettings) -> dict[int, dict[str, int]]:
    """Per action id: candidates by status and how many more candidates it needs."""
    out: dict[int, dict[str, int]] = {}
    for a in conn.execute("SELECT id FROM actions WHERE removed = 0"):
        out[a["id"]] = {s: 0 for s in ("verifying", "retrim", "accepted", "rejected", "withdrawn")}
    for r in conn.execute(
        "SELECT action_id, status, COUNT(*) AS n FROM candidates GROUP BY action_id, status"
    ).fetchall():
        if r["action_id"] in out:
            out[r["action_id"]][r["status"]] = r["n"]
    for counts in out.values():
        active = sum(counts[s] for s in ACTIVE)
        counts["active"] = active
        counts["need"] = (
            0
            if counts["accepted"] >= settings.clips_per_action
            else max(0, settings.candidates_per_action - active)
        )
    return out


def next_collect_action(conn: sqlite3.Connection, person: Person, settings: StudioSettings) -> int | None:
    """The action this collector works on: the one they hold, else the first (in actions.csv
    order) that needs candidates and nobody else holds.  Takes the lease."""
    progress = action_progress(conn, settings)
    held = conn.execute(
        "SELECT item_id FROM leases WHERE kind = 'collect' AND person_id = ? AND expires > ? ORDER BY expires DESC",
        (person.id, now()),
    ).fetchall()
    for r in held:
        if progress.get(r["item_id"], {}).get("need"):
            leases.take(conn, "collect", r["item_id"], person.id, settings.lease_minutes)
            return int(r["item_id"])
        leases.release(conn, "collect", r["item_id"], person.id)
    skipped = {
        r[0]
        for r in conn.execute(
            "SELECT item_id FROM leases WHERE kind = 'collect-skip' AND person_id = ? AND expires > ?",
            (person.id, now()),
        )
    }
    for a in conn.execute("SELECT id FROM actions WHERE removed = 0 ORDER BY position, id"):
        if a["id"] in skipped:
            continue
        if progress[a["id"]]["need"] and not leases.others(conn, "collect", a["id"], person.id):
            leases.take(conn, "collect", a["id"], person.id, settings.lease_minutes)
            return int(a["id"])
    return None


def add_candidate(
    conn: sqlite3.Connection,
    root: Path,
    person: Person,
    settings: StudioSettings,
    action_id: int,
    video_id: int,
    start: float,
    end: float,
) -> dict[str, Any]:
    """Save a marked window of a source video as a candidate of an action.

    The window is snapped to the source's frames (``media.snap_window``); refused when the
    action has all the candidates it needs, when another candidate of the action already
    comes from this source, or when the window is empty or longer than 5 minutes."""
    action = conn.execute("SELECT * FROM actions WHERE id = ? AND removed = 0", (action_id,)).fetchone()
    if action is None:
        raise CollectError("no such action")
    video = get_video(conn, video_id)
    if video is None or video["status"] != "ready":
        raise CollectError("the source video is not ready (still downloading or preparing, or failed)")
    need = action_progress(conn, settings)[action_id]["need"]
    if need <= 0:
        raise CollectError(f"{action['name']!r} already has the candidates it needs")
    same = conn.execute(
        "SELECT c.clip_id, v.path FROM candidates c JOIN videos v ON v.id = c.video_id "
        "WHERE c.action_id = ? AND c.status IN ('verifying', 'retrim', 'accepted') "
        "AND (c.video_id = ? OR (v.fingerprint IS NOT NULL AND v.fingerprint = ?))",
        (action_id, video_id, video["fingerprint"]),
    ).fetchone()
    if same is not None:
        raise CollectError(
            f"candidate {same['clip_id']} of this action already comes from this source video ({same['path']}); "
            "the candidates of an action come from distinct videos"
        )
    source = video_file(root, video)
    try:
        times = media.source_frame_times(source)
    except (VideoDecodeError, FileNotFoundError) as e:
        raise CollectError(f"cannot read the source's frames: {e}") from None
    try:
        s, e = media.snap_window(times, float(video["duration"]), float(start), float(end))
    except ValueError as err:
        raise CollectError(str(err)) from None
    if e - s > MAX_CLIP_SECONDS:
        raise CollectError(
            f"the window lasts {e - s:.1f}s; VideoNet clips are at most {MAX_CLIP_SECONDS:.0f}s"
        )
    base = f"{slug(action['domain'])}-{slug(action['name'])}-s"
    n = conn.execute("SELECT COUNT(*) FROM candidates WHERE action_id = ?", (action_id,)).fetchone()[0] + 1
    while conn.execute("SELECT 1 FROM candidates WHERE clip_id = ?", (f"{base}{n}",)).fetchone():
        n += 1
    cur = conn.execute(
        'INSERT INTO candidates (clip_id, action_id, video_id, start, "end", collector_id, origin, status, created) '
        "VALUES (?, ?, ?, ?, ?, ?, 'studio', 'verifying', ?)",
        (f"{base}{n}", action_id, video_id, s, e, person.id, now()),
    )
    if need <= 1:
        leases.release(conn, "collect", action_id, person.id)
    return dict(conn.execute("SELECT * FROM candidates WHERE id = ?", (cur.lastrowid,)).fetchone())


def withdraw_candidate(conn: sqlite3.Connection, person: Person, candidate_id: int) -> None:
    """A collector takes back their own candidate before anyone voted on it."""
    c = conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
    if c is None or (c["collector_id"] != person.id and person.role != "admin"):
        raise CollectError("not your candidate")
    if (
        c["status"] != "verifying"
        or conn.execute("SELECT 1 FROM votes WHERE candidate_id = ?", (candidate_id,)).fetchone()
    ):
        raise CollectError("raters have already seen this candidate; it can no longer be withdrawn")
    conn.execute(
        "UPDATE candidates SET status = 'withdrawn', decided_at = ? WHERE id = ?", (now(), candidate_id)
    )
    leases.release_all(conn, "vote", candidate_id)

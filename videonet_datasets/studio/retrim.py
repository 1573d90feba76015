"""Re-trimming: clips whose raters said "trim can improve" get a new window.

The re-trimmer sees the source from ``cushion_seconds`` before the current window to as much
after it, beside the action's well-trimmed clips - the paper trains its trimmers on exactly
these examples (§3.2, Figure 17) - and marks a new window inside that range.  The new window
replaces the old one (both are kept in ``trims``); with ``reverify_retrims`` the clip goes back
to verification as a new round with new raters, otherwise it is accepted.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from videonet_datasets.studio import leases, media
from videonet_datasets.studio.collect import CollectError, get_video, video_file
from videonet_datasets.studio.db import now, rows
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings
from videonet_datasets.video import VideoDecodeError

__all__ = ["apply_retrim", "cushion", "examples_for", "next_retrim", "well_trimmed"]


def well_trimmed(candidate: dict[str, Any]) -> bool:
    """Accepted with more "well trimmed" than "trim can improve" votes, or imported from the
    annotation's clips.csv (the benchmark's clips) - the examples a re-trimmer is shown."""
    if candidate["status"] != "accepted":
        return False
    decision = json.loads(candidate["decision"] or "{}")
    counts = decision.get("counts") or {}
    if candidate["origin"] == "clips.csv" and not counts:
        return True
    return not decision.get("retrimmed") and counts.get("good", 0) > counts.get("trim", 0)


def examples_for(conn: sqlite3.Connection, action_id: int, limit: int = 5) -> list[dict[str, Any]]:
    cands = rows(
        conn.execute(
            "SELECT c.* FROM candidates c JOIN videos v ON v.id = c.video_id "
            "WHERE c.action_id = ? AND c.status = 'accepted' AND v.servable = 1 AND v.status = 'ready' ORDER BY c.id",
            (action_id,),
        )
    )
    return [c for c in cands if well_trimmed(c)][:limit]


def cushion(
    candidate: dict[str, Any], video: dict[str, Any], settings: StudioSettings
) -> tuple[float, float]:
    """The range the re-trimmer may mark in: the window +- the cushion, inside the video."""
    v1 = float(video["duration"])  # the source's player timeline runs from 0 to its duration
    end = candidate["end"] if candidate["end"] is not None else v1
    return max(0.0, candidate["start"] - settings.cushion_seconds), min(v1, end + settings.cushion_seconds)


def next_retrim(conn: sqlite3.Connection, person: Person, settings: StudioSettings) -> dict[str, Any] | None:
    """The clip this person re-trims now (one they hold, else the first free one); leased."""
    found = conn.execute(
        "SELECT c.* FROM candidates c JOIN actions a ON a.id = c.action_id JOIN videos v ON v.id = c.video_id "
        "WHERE c.status = 'retrim' AND a.removed = 0 AND v.servable = 1 AND v.status = 'ready' "
        "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.kind = 'retrim' AND l.item_id = c.id "
        "AND l.person_id != ? AND l.expires > ?) "
        "ORDER BY EXISTS (SELECT 1 FROM leases l WHERE l.kind = 'retrim' AND l.item_id = c.id AND l.person_id = ?) DESC, "
        "a.position, c.id LIMIT 1",
        (person.id, now(), person.id),
    ).fetchone()
    if found is None:
        return None
    leases.take(conn, "retrim", found["id"], person.id, settings.lease_minutes)
    return dict(found)


def apply_retrim(
    conn: sqlite3.Connection,
    root: Path,
    person: Person,
    settings: StudioSettings,
    candidate_id: int,
    start: float,
    end: float,
) -> dict[str, Any]:
    """Replace a clip's window by the re-trimmed one (snapped to frames, inside the cushion)."""
    c = conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
    if c is None or c["status"] != "retrim":
        raise CollectError("this clip is not waiting for a re-trim (someone may have done it)")
    if leases.others(conn, "retrim", candidate_id, person.id) and not leases.holds(
        conn, "retrim", candidate_id, person.id
    ):
        raise CollectError("someone else is re-trimming this clip")
    c = dict(c)
    video = get_video(conn, c["video_id"])
    assert video is not None
    lo, hi = cushion(c, video, settings)
    try:
        times = media.source_frame_times(video_file(root, video))
        s, e = media.snap_window(times, float(video["duration"]), start, end)
    except (VideoDecodeError, ValueError) as err:
        raise CollectError(str(err)) from None
    frame = 1.0 / float(video["fps"] or 25.0)
    if s < lo - frame or e > hi + frame:
        raise CollectError(
            f"the new window [{s:.3f}, {e:.3f}] leaves the range shown ([{lo:.3f}, {hi:.3f}]: "
            f"the old window +- {settings.cushion_seconds:g} s)"
        )
    conn.execute(
        "INSERT INTO trims (candidate_id, round, old_start, old_end, new_start, new_end, person_id, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (candidate_id, c["round"], c["start"], c["end"], s, e, person.id, now()),
    )
    decision = json.loads(c["decision"] or "{}")
    decision["retrimmed"] = True
    if settings.reverify_retrims:
        conn.execute(
            "UPDATE candidates SET start = ?, \"end\" = ?, status = 'verifying', round = round + 1, decision = ?, "
            "decided_at = NULL WHERE id = ?",
            (s, e, json.dumps(decision), candidate_id),
        )
    else:
        decision.update(status="accepted", reason=decision.get("reason", "") + "; re-trimmed")
        conn.execute(
            "UPDATE candidates SET start = ?, \"end\" = ?, status = 'accepted', decision = ?, decided_at = ? WHERE id = ?",
            (s, e, json.dumps(decision), now(), candidate_id),
        )
    leases.release_all(conn, "retrim", candidate_id)
    return dict(conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone())

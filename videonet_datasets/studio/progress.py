"""The admin page's numbers: progress per stage and per person, agreement, collector quality.

* **Agreement** per domain: Fleiss' kappa over the rubric (well trimmed / trim can improve /
  wrong; unsure left out) and over the binary question the decision turns on (shows the
  action or not), every verification round of every clip one item.
* **Collector quality** (paper App. B.6): the share of a collector's decided clips that
  verification accepted (re-trims count as accepted: the action was there), next to the share
  of "shows the action" votes their clips received - the paper's own measure, with which it
  kept its top fifth of collectors.  The top fifth (by accepted share, at least one decided
  clip) is marked.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from typing import Any

from videonet_datasets.studio.aggregate import fleiss_kappa
from videonet_datasets.studio.collect import action_progress
from videonet_datasets.studio.settings import StudioSettings

__all__ = ["agreement", "collector_scores", "people_progress", "stage_progress"]


def stage_progress(conn: sqlite3.Connection, settings: StudioSettings) -> dict[str, Any]:
    per_action = action_progress(conn, settings)
    status = defaultdict(int)
    for r in conn.execute("SELECT status, COUNT(*) AS n FROM candidates GROUP BY status"):
        status[r["status"]] = r["n"]
    return {
        "actions": len(per_action),
        "actions_collected": sum(1 for p in per_action.values() if p["need"] == 0),
        "actions_complete": sum(1 for p in per_action.values() if p["accepted"] >= settings.clips_per_action),
        "candidates": dict(status),
        "votes": conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0],
        "votes_open": conn.execute(
            "SELECT COALESCE(SUM(CASE WHEN n < ? THEN ? - n ELSE 1 END), 0) FROM ("
            "SELECT c.id, (SELECT COUNT(*) FROM votes v WHERE v.candidate_id = c.id AND v.round = c.round) AS n "
            "FROM candidates c WHERE c.status = 'verifying')",
            (settings.raters_per_clip, settings.raters_per_clip),
        ).fetchone()[0],
        "retrims": conn.execute("SELECT COUNT(*) FROM trims").fetchone()[0],
        "text_flagged": conn.execute(
            "SELECT COUNT(*) FROM candidates WHERE text_flag = 1 AND status = 'accepted'"
        ).fetchone()[0],
    }


def people_progress(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    out = []
    for p in conn.execute("SELECT * FROM people ORDER BY id").fetchall():
        pid = p["id"]
        out.append(
            {
                **{k: p[k] for k in ("id", "name", "role", "prolific_pid", "token")},
                "collected": conn.execute(
                    "SELECT COUNT(*) FROM candidates WHERE collector_id = ?", (pid,)
                ).fetchone()[0],
                "votes": conn.execute("SELECT COUNT(*) FROM votes WHERE rater_id = ?", (pid,)).fetchone()[0],
                "retrims": conn.execute("SELECT COUNT(*) FROM trims WHERE person_id = ?", (pid,)).fetchone()[
                    0
                ],
                "answers": conn.execute(
                    "SELECT COUNT(*) FROM baseline_answers WHERE person_id = ?", (pid,)
                ).fetchone()[0],
                "audited": conn.execute(
                    "SELECT COUNT(*) FROM audit_items WHERE person_id = ?", (pid,)
                ).fetchone()[0],
            }
        )
    return out


def collector_scores(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(
        "SELECT p.id, p.name, "
        "SUM(c.status IN ('accepted', 'retrim')) AS accepted, SUM(c.status = 'rejected') AS rejected, "
        "SUM(c.status = 'verifying') AS open, COUNT(c.id) AS total "
        "FROM people p JOIN candidates c ON c.collector_id = p.id GROUP BY p.id ORDER BY p.id"
    ).fetchall():
        votes = conn.execute(
            "SELECT SUM(v.label IN ('good', 'trim')) AS yes, SUM(v.label = 'wrong') AS no FROM votes v "
            "JOIN candidates c ON c.id = v.candidate_id WHERE c.collector_id = ?",
            (r["id"],),
        ).fetchone()
        decided = (r["accepted"] or 0) + (r["rejected"] or 0)
        yes, no = votes["yes"] or 0, votes["no"] or 0
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "total": r["total"],
                "open": r["open"] or 0,
                "decided": decided,
                "accepted": r["accepted"] or 0,
                "score": (r["accepted"] or 0) / decided if decided else None,
                "yes_share": yes / (yes + no) if yes + no else None,
                "top_fifth": False,
            }
        )
    ranked = sorted(
        (c for c in out if c["score"] is not None), key=lambda c: (-c["score"], -c["decided"], c["id"])
    )
    for c in ranked[: math.ceil(len(ranked) / 5)]:
        c["top_fifth"] = True
    return out


def agreement(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per domain (and overall): items, votes, kappa over the rubric and over shows/does not."""
    items: dict[str, dict[tuple[int, int], list[str]]] = defaultdict(lambda: defaultdict(list))
    for v in conn.execute(
        "SELECT v.candidate_id, v.round, v.label, a.domain FROM votes v JOIN candidates c ON c.id = v.candidate_id "
        "JOIN actions a ON a.id = c.action_id ORDER BY v.id"
    ):
        items[v["domain"]][(v["candidate_id"], v["round"])].append(v["label"])
        items["(all domains)"][(v["candidate_id"], v["round"])].append(v["label"])
    out = []
    for domain in sorted(items, key=lambda d: (d == "(all domains)", d)):
        groups = list(items[domain].values())
        binary = [["yes" if x in ("good", "trim") else x for x in g] for g in groups]
        out.append(
            {
                "domain": domain,
                "items": sum(1 for g in groups if len([x for x in g if x != "unsure"]) >= 2),
                "votes": sum(len(g) for g in groups),
                "kappa": fleiss_kappa(groups, ("good", "trim", "wrong")),
                "kappa_shows": fleiss_kappa(binary, ("yes", "wrong")),
            }
        )
    return out

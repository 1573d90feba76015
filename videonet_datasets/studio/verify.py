"""Verification: blind votes from different raters, and the decision they lead to.

A rater asks for work and gets the open candidates of one action - the paper's verification
page shows an action's candidates together, with its name and definition - in an order
shuffled for them, never with anyone's votes.  They never see candidates they collected or
already rated (a rater rates a clip once, in any round: ``UNIQUE (candidate_id, rater_id)``).

Each candidate takes ``raters_per_clip`` votes per round (more when the first ones leave it
undecided, see :mod:`.aggregate`); a page reserves its candidates for the rater (leases) so
that concurrent raters are spread over different clips.  A vote is checked and written in one
``BEGIN IMMEDIATE`` transaction - is the clip still being verified, is there a slot for this
rater, have they rated it before - and the round's decision is recomputed in the same
transaction, so 20 raters pressing "submit" at once give exactly the votes the clip needs:
none lost, none counted twice, no decision made twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.studio import leases
from videonet_datasets.studio.aggregate import LABELS, Decision, decide
from videonet_datasets.studio.db import now
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings

__all__ = ["VoteRefused", "next_batch", "record_vote", "round_decision"]


class VoteRefused(Exception):
    """A vote that cannot be taken; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def _votes_needed(n_votes: int, settings: StudioSettings) -> int:
    # A candidate still 'verifying' is undecided: below N votes it needs the rest, after N one more.
    return settings.raters_per_clip - n_votes if n_votes < settings.raters_per_clip else 1


def round_decision(
    conn: sqlite3.Connection, candidate: sqlite3.Row | dict[str, Any], settings: StudioSettings
) -> Decision:
    votes = conn.execute(
        "SELECT label, text_flag FROM votes WHERE candidate_id = ? AND round = ? ORDER BY id",
        (candidate["id"], candidate["round"]),
    ).fetchall()
    return decide(
        [v["label"] for v in votes],
        sum(v["text_flag"] for v in votes),
        settings.raters_per_clip,
        settings.max_votes,
    )


_OPEN = """
SELECT c.*, a.position AS action_position,
  (SELECT COUNT(*) FROM votes v WHERE v.candidate_id = c.id AND v.round = c.round) AS n_votes,
  (SELECT COUNT(*) FROM leases l WHERE l.kind = 'vote' AND l.item_id = c.id AND l.person_id != :me
     AND l.expires > :t) AS other_leases,
  EXISTS (SELECT 1 FROM leases l WHERE l.kind = 'vote' AND l.item_id = c.id AND l.person_id = :me
     AND l.expires > :t) AS mine
FROM candidates c JOIN actions a ON a.id = c.action_id JOIN videos vid ON vid.id = c.video_id
WHERE c.status = 'verifying' AND a.removed = 0 AND vid.status = 'ready' AND vid.servable = 1
  AND (c.collector_id IS NULL OR c.collector_id != :me)
  AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.candidate_id = c.id AND v.rater_id = :me)
"""


def next_batch(
    conn: sqlite3.Connection, person: Person, settings: StudioSettings
) -> tuple[int, list[dict[str, Any]]] | None:
    """(action id, candidates) this rater should rate now, reserved for them; None if nothing.

    Preference: an action they already hold candidates of; else the action whose open
    candidates have the most votes already (finish clips before starting new ones), then
    actions.csv order."""
    open_ = [dict(r) for r in conn.execute(_OPEN, {"me": person.id, "t": now()})]
    eligible = [
        c for c in open_ if c["mine"] or _votes_needed(c["n_votes"], settings) - c["other_leases"] > 0
    ]
    if not eligible:
        return None
    by_action: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in eligible:
        by_action[c["action_id"]].append(c)

    def rank(action_id: int) -> tuple:
        cs = by_action[action_id]
        return (
            -sum(c["mine"] for c in cs),
            -sum(c["n_votes"] for c in cs),
            cs[0]["action_position"],
            action_id,
        )

    action_id = min(by_action, key=rank)
    batch = sorted(by_action[action_id], key=lambda c: c["id"])
    order = stable_rng(settings.seed, "verify-order", person.id, action_id).permutation(len(batch))
    batch = [batch[i] for i in order]
    for c in batch:
        leases.take(conn, "vote", c["id"], person.id, settings.lease_minutes)
    return action_id, batch


def record_vote(
    conn: sqlite3.Connection,
    person: Person,
    settings: StudioSettings,
    candidate_id: int,
    label: str,
    text_flag: bool,
) -> Decision:
    """Take one vote (inside the caller's write transaction) and apply the round's decision.

    Raises :class:`VoteRefused` when the clip is not being verified, the rater collected it or
    already rated it, or every slot of the round is taken by other raters."""
    if label not in LABELS:
        raise VoteRefused(f"unknown answer {label!r}; expected one of {', '.join(LABELS)}", 400)
    c = conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
    if c is None:
        raise VoteRefused("no such clip", 404)
    if c["status"] != "verifying":
        raise VoteRefused("this clip is no longer being verified (its votes are in)")
    if c["collector_id"] == person.id:
        raise VoteRefused("you collected this clip; others verify it", 403)
    if conn.execute(
        "SELECT 1 FROM votes WHERE candidate_id = ? AND rater_id = ?", (candidate_id, person.id)
    ).fetchone():
        raise VoteRefused("you already rated this clip")
    n_votes = conn.execute(
        "SELECT COUNT(*) FROM votes WHERE candidate_id = ? AND round = ?", (candidate_id, c["round"])
    ).fetchone()[0]
    if not leases.holds(conn, "vote", candidate_id, person.id):
        free = _votes_needed(n_votes, settings) - leases.others(conn, "vote", candidate_id, person.id)
        if free <= 0:
            raise VoteRefused("this clip already has all the raters it needs")
    conn.execute(
        'INSERT INTO votes (candidate_id, round, rater_id, label, text_flag, start, "end", created) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (candidate_id, c["round"], person.id, label, int(bool(text_flag)), c["start"], c["end"], now()),
    )
    leases.release(conn, "vote", candidate_id, person.id)
    decision = round_decision(conn, c, settings)
    if decision.decided:
        conn.execute(
            "UPDATE candidates SET status = ?, decision = ?, text_flag = ?, decided_at = ? WHERE id = ?",
            (
                decision.status,
                json.dumps(
                    {
                        "status": decision.status,
                        "reason": decision.reason,
                        "counts": decision.counts,
                        "text_flags": decision.text_flags,
                        "round": c["round"],
                    }
                ),
                int(decision.text_flags > 0),
                now(),
                candidate_id,
            ),
        )
        leases.release_all(conn, "vote", candidate_id)
    return decision

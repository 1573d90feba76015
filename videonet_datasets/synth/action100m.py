"""An Action100M-style annotation file for the narrated web videos (``web/action100m.jsonl``).

Action100M annotates a video with a tree of segments, LLM-written action texts on the
segments of at least 4 s, and the video's caption lines; ``videonet build-train --source
action100m`` turns such rows into training clips.  This writes the same rows for the
world's web videos, built from what the world knows, with the imperfections of the real
thing (all seeded, so the same world gives the same file):

* **caption lines, not word times**: the narration's words regrouped into lines of 5-8
  words (a line also breaks at a pause of a second), lower case without punctuation, each
  line with only its start time, as YouTube's automatic captions are;
* **a tree of segments** like Ward clustering's: the root is the video, split first at
  shot cuts (exact), then at the starts and ends of performances (each off by ~0.2 s, the
  segmentation is not perfect), then inside performances and long idle stretches; nodes
  shorter than 0.5 s are not kept;
* **action texts** on the nodes of at least ``4 s x duration_scale`` (the release's
  threshold, on the world's time scale): a node names the performances it mostly holds,
  as the annotator *perceived* each one - its own name (about 58%), a generic description
  without a name (30%: the captioner does not know the jargon) or the name of one of its
  hard negatives (12%: the captioner confused two similar motions); a node holding no
  performance says "N/A" or describes idling; a node holding several performances names
  them all, or only the longest (the LLM summarised).

What each performance was perceived as is recorded in ``ground_truth.jsonl``
(``action100m``), so the label precision of each source can be explained.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.synth.taxonomy import DomainDef, a_or_an
from videonet_datasets.train_data.action100m import Node, Row

__all__ = ["P_MISSING", "P_WRONG", "annotate_web_video"]

P_MISSING = 0.30  # a performance the annotator describes without naming it
P_WRONG = 0.12  # ... or names as one of its hard negatives
BOUNDARY_JITTER = 0.2  # seconds (sd) a performance's start or end is off in the tree
MIN_NODE = 0.5  # the release keeps nodes longer than 0.5 s
ANNOTATE_MIN = 4.0  # the release annotates nodes of at least 4 s (times the world's duration scale)

_ACTORS = {
    "skater": "a figure skater",
    "dancer": "a ballet dancer",
    "yoyo": "a yo-yo player",
    "ball": "a juggler",
    "rope": "a person tying a rope",
}
_NAMED_BRIEF = ("Perform {an} {a}", "Do {an} {a}", "Execute {an} {a}")
_GENERIC_BRIEF = ("Move across the frame", "Perform a quick movement", "Turn and move across the scene")
_IDLE_BRIEF = ("Stand still", "Wait in place", "Face the camera")


@dataclass
class _Perceived:
    start: float
    end: float
    action: str
    name: str | None  # what the annotator calls it (None: described without a name)
    kind: str  # correct | missing | wrong


def _caption_lines(narration: list[dict[str, Any]], rng: np.random.Generator) -> list[tuple[float, str]]:
    """The narration's words (times spread over each spoken line) regrouped into caption lines."""
    words: list[tuple[float, float, str]] = []
    for line in narration:
        toks = ["".join(ch for ch in t.lower() if ch.isalnum() or ch in "'-") for t in line["text"].split()]
        toks = [t for t in toks if t]
        total = sum(len(t) for t in toks) + len(toks) - 1
        pos = 0
        for t in toks:
            s = line["start"] + (line["end"] - line["start"]) * pos / max(1, total)
            e = line["start"] + (line["end"] - line["start"]) * (pos + len(t)) / max(1, total)
            words.append((s, e, t))
            pos += len(t) + 1
    lines: list[tuple[float, str]] = []
    cur: list[tuple[float, float, str]] = []
    limit = int(rng.integers(5, 9))
    for w in words:
        if cur and (len(cur) >= limit or w[0] - cur[-1][1] > 1.0):
            lines.append((round(cur[0][0], 2), "  ".join(x[2] for x in cur)))
            cur, limit = [], int(rng.integers(5, 9))
        cur.append(w)
    if cur:
        lines.append((round(cur[0][0], 2), "  ".join(x[2] for x in cur)))
    return lines


def _boundaries(
    duration: float, shots: list[list[float]], segments: list[dict[str, Any]], rng: np.random.Generator
) -> list[tuple[float, float]]:
    """(time, strength) of every place the tree may split."""
    out: list[tuple[float, float]] = [(float(t0), 3.0) for t0, _ in shots[1:]]
    for seg in segments:
        s = seg["start"] + rng.normal(0.0, BOUNDARY_JITTER)
        e = seg["end"] + rng.normal(0.0, BOUNDARY_JITTER)
        out += [(s, 2.0), (e, 2.0)]
        parts = int(rng.integers(2, 4))  # motion phases inside a performance
        out += [(s + (e - s) * k / parts, 1.0) for k in range(1, parts)]
    marks = sorted({0.0, duration, *(t for t, _ in out)})
    for a, b in zip(marks[:-1], marks[1:]):  # long idle stretches split too (weakest)
        if b - a > 2.0:
            out.append(((a + b) / 2, 0.5))
    return [(round(float(min(max(t, 0.0), duration)), 3), w) for t, w in out]


def _tree(video_id: str, duration: float, cuts: list[tuple[float, float]]) -> list[Node]:
    """Split top-down at the strongest boundary (the one nearest the middle on a tie)."""
    nodes: list[Node] = []

    def nid(a: float, b: float) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"videonet-mini-a100m:{video_id}:{a:.3f}:{b:.3f}"))

    stack: list[tuple[float, float, str | None, int]] = [(0.0, round(duration, 3), None, 0)]
    while stack:
        a, b, parent, level = stack.pop()
        me = nid(a, b)
        nodes.append(Node(me, parent, level, a, b))
        inside = [(t, w) for t, w in cuts if a + MIN_NODE <= t <= b - MIN_NODE]
        if not inside:
            continue
        mid = (a + b) / 2
        t, _ = max(inside, key=lambda tw: (tw[1], -abs(tw[0] - mid)))
        stack += [(t, b, me, level + 1), (a, t, me, level + 1)]  # the earlier half is popped first
    return nodes


def _perceive(
    segments: list[dict[str, Any]], negatives: dict[str, tuple[str, ...]], rng: np.random.Generator
) -> list[_Perceived]:
    out = []
    for seg in segments:
        u = rng.random()
        if u < P_WRONG:
            name, kind = negatives[seg["action"]][int(rng.integers(3))], "wrong"
        elif u < P_WRONG + P_MISSING:
            name, kind = None, "missing"
        else:
            name, kind = seg["action"], "correct"
        out.append(_Perceived(seg["start"], seg["end"], seg["action"], name, kind))
    return out


def _gpt(node: Node, seen: list[_Perceived], actor: str, rng: np.random.Generator) -> dict[str, Any]:
    """The node's action fields: the performances it mostly holds, as perceived."""
    inside = [p for p in seen if min(node.end, p.end) - max(node.start, p.start) >= 0.5 * (p.end - p.start)]
    if len(inside) > 1 and rng.random() < 0.4:  # the summary names only the longest
        inside = [max(inside, key=lambda p: p.end - p.start)]
    names = list(dict.fromkeys(p.name for p in inside if p.name))
    if not inside:
        if rng.random() < 0.5:
            action = {"brief": "N/A", "detailed": "N/A", "actor": "N/A"}
        else:
            brief = _IDLE_BRIEF[int(rng.integers(len(_IDLE_BRIEF)))]
            action = {"brief": brief, "detailed": f"{brief} without moving much.", "actor": actor}
        summary = f"{actor.capitalize()} stays in place in front of a plain background."
    elif names:
        first = _NAMED_BRIEF[int(rng.integers(len(_NAMED_BRIEF)))].format(a=names[0], an=a_or_an(names[0]))
        brief = first + "".join(f", then {a_or_an(n)} {n}" for n in names[1:])
        action = {
            "brief": brief,
            "detailed": f"{brief} with control, keeping the movement smooth, and finish in balance.",
            "actor": actor,
        }
        summary = f"{actor.capitalize()} performs " + ", then ".join(f"{a_or_an(n)} {n}" for n in names) + "."
    else:
        brief = _GENERIC_BRIEF[int(rng.integers(len(_GENERIC_BRIEF)))]
        action = {"brief": brief, "detailed": f"{brief}, turning once before coming to rest.", "actor": actor}
        summary = f"{actor.capitalize()} moves across a plain background."
    return {
        "summary": {"brief": summary, "detailed": summary + " The background stays the same throughout."},
        "action": action,
    }


def annotate_web_video(
    *,
    seed: int,
    video_id: str,
    title: str,
    channel: str,
    upload_date: str,
    domain: DomainDef,
    negatives: dict[str, tuple[str, ...]],
    duration: float,
    shots: list[list[float]],
    segments: list[dict[str, Any]],
    narration: list[dict[str, Any]],
    duration_scale: float = 1.0,
) -> tuple[Row, dict[str, Any]]:
    """The video's Action100M-style row, and what its annotation got right and wrong."""
    rng = stable_rng(seed, "action100m", video_id)
    actor = _ACTORS.get(domain.actor, f"a {domain.name.lower()} performer")
    seen = _perceive(segments, negatives, rng)
    nodes = _tree(video_id, duration, _boundaries(duration, shots, segments, rng))
    parents = {n.parent_id for n in nodes}
    annotate_min = ANNOTATE_MIN * duration_scale
    full = []
    for n in nodes:
        gpt = _gpt(n, seen, actor, rng) if n.end - n.start >= annotate_min else None
        leaf = n.node_id not in parents
        full.append(
            Node(
                n.node_id, n.parent_id, n.level, n.start, n.end, gpt,
                plm_caption=None if leaf else f"The video shows {actor} against a plain background.",
                plm_action=None if leaf else "Moving",
                llama3_caption=f"The image shows {actor} in the middle of the frame." if leaf else None,
            )
        )  # fmt: skip
    row = Row(
        video_uid=video_id,
        title=title,
        nodes=full,
        transcript=_caption_lines(narration, rng),
        description=f"{domain.name} video by {channel}. Like and subscribe for more!",
        duration=float(math.floor(duration + 0.5)),
        upload_date=upload_date.replace("-", ""),
        extra_metadata={
            "view_count": int(rng.integers(50, 50_000)),
            "like_count": int(rng.integers(0, 2_000)),
        },
    )
    truth = {
        "performances": [
            {"start": p.start, "end": p.end, "action": p.action, "perceived_as": p.name, "kind": p.kind}
            for p in seen
        ],
        "annotated_nodes": sum(n.gpt is not None for n in full),
    }
    return row, truth

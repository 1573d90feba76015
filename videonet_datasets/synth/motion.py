"""Motion programs: how the synthetic world's actor moves during one action.

An action of VideoNet-mini is *defined* by a motion, never by appearance, so this module
is the heart of the world.  A motion program is a list of segments (plain JSON dicts, so
they go into ``world.json`` and the render specs unchanged), played one after the other
over the action's normalised time ``u`` in [0, 1]:

``{"move": [dx, dy]}``
    a straight glide by (dx, dy) in normalised frame units (the frame spans [-1, 1] on
    its short side; ``y`` points down, as on screen), easing in and out so the actor
    visibly stops between two moves (that is what makes "order of two moves" readable);
``{"loop": {"turns": n, "dir": +1|-1, "r": radius, "at": degrees}}``
    ``n`` full circles that start and end at the current point; ``dir`` +1 is clockwise
    on screen, -1 counter-clockwise; the circle's centre lies ``r`` away in direction
    ``at`` (a per-clip phase rotates it, which changes where the loop sits but never its
    handedness);
``{"eight": {"dir": +1|-1, "w": half_width, "h": half_height}}``
    one figure-eight (lemniscate) through the current point, first heading right and
    down for ``dir`` +1, left and up for -1;
``"spin": turns``  (on any segment)
    rotate the actor's pointer arm by ``turns`` full turns (positive = clockwise);
``"hops": n, "hop": height``  (on any segment)
    ``n`` equal hops straight up during the segment;
``"w": weight``
    the segment's share of the action's duration (default 1).

A segment with none of ``move``/``loop``/``eight`` holds position (it may still spin or
hop).  :func:`evaluate` turns a program into positions and angles for any array of
``u``; :func:`centre_on_midpoint` re-anchors a trajectory so the actor sits at the same
place at the action's temporal midpoint whatever the action - which is what keeps a
single middle frame from telling an action apart from its hard negatives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Pose",
    "centre_on_midpoint",
    "evaluate",
    "max_extent",
    "motion_signature",
    "validate_program",
]

Segment = dict[str, Any]
_PATH_KEYS = ("move", "loop", "eight")
_ALLOWED_KEYS = {"move", "loop", "eight", "spin", "hops", "hop", "w"}


@dataclass(frozen=True)
class Pose:
    """Actor poses at a batch of times: positions (normalised units, y down) and the
    pointer arm's angle in radians (increasing = clockwise on screen)."""

    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray


def _ease(s: np.ndarray) -> np.ndarray:
    """Smoothstep: zero speed at both ends, so consecutive moves read as separate."""
    return s * s * (3.0 - 2.0 * s)


def validate_program(segments: Sequence[Segment], name: str = "motion") -> None:
    """Raise ``ValueError`` naming the action and the segment when a program is malformed
    (taxonomy typos would otherwise surface as odd renders, far from their cause)."""
    if not segments:
        raise ValueError(f"{name}: a motion program needs at least one segment")
    for i, seg in enumerate(segments):
        unknown = set(seg) - _ALLOWED_KEYS
        if unknown:
            raise ValueError(f"{name}: segment {i} has unknown keys {sorted(unknown)}")
        paths = [k for k in _PATH_KEYS if k in seg]
        if len(paths) > 1:
            raise ValueError(f"{name}: segment {i} mixes {paths}; use one path per segment")
        if float(seg.get("w", 1.0)) <= 0:
            raise ValueError(f"{name}: segment {i} has a non-positive weight {seg.get('w')}")
        if "loop" in seg:
            loop = seg["loop"]
            if (
                loop.get("dir") not in (1, -1)
                or int(loop.get("turns", 0)) < 1
                or float(loop.get("r", 0)) <= 0
            ):
                raise ValueError(f"{name}: segment {i} loop needs dir=+1/-1, turns>=1, r>0, got {loop}")
        if "eight" in seg and seg["eight"].get("dir") not in (1, -1):
            raise ValueError(f"{name}: segment {i} eight needs dir=+1/-1, got {seg['eight']}")
        if "move" in seg and len(seg["move"]) != 2:
            raise ValueError(f"{name}: segment {i} move needs [dx, dy], got {seg['move']}")
        if int(seg.get("hops", 0)) < 0:
            raise ValueError(f"{name}: segment {i} has negative hops")


def _segment_path(seg: Segment, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Displacement from the segment's start point at local times ``s`` in [0, 1]."""
    if "move" in seg:
        e = _ease(s)
        dx, dy = seg["move"]
        return dx * e, dy * e
    if "loop" in seg:
        loop = seg["loop"]
        r = float(loop["r"])
        at = math.radians(float(loop.get("at", 0.0)))
        cx, cy = r * math.cos(at), r * math.sin(at)
        phi = at + math.pi + loop["dir"] * 2.0 * math.pi * int(loop["turns"]) * _ease(s)
        return cx + r * np.cos(phi), cy + r * np.sin(phi)
    if "eight" in seg:
        eight = seg["eight"]
        t = eight["dir"] * 2.0 * math.pi * _ease(s)
        return float(eight.get("w", 0.5)) * np.sin(t), float(eight.get("h", 0.3)) * np.sin(2.0 * t)
    return np.zeros_like(s), np.zeros_like(s)


def _segment_end(seg: Segment) -> tuple[float, float]:
    if "move" in seg:
        return float(seg["move"][0]), float(seg["move"][1])
    return 0.0, 0.0  # loops and eights return to their start point


def evaluate(segments: Sequence[Segment], u: np.ndarray | Sequence[float]) -> Pose:
    """Poses of a motion program at normalised action times ``u`` (clamped to [0, 1]),
    starting from the origin with the arm at angle 0."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    weights = np.array([float(seg.get("w", 1.0)) for seg in segments])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    x = np.zeros_like(u)
    y = np.zeros_like(u)
    theta = np.zeros_like(u)
    px = py = pt = 0.0
    for i, seg in enumerate(segments):
        lo, hi = bounds[i], bounds[i + 1]
        last = i == len(segments) - 1
        mask = (u >= lo) & ((u <= hi) if last else (u < hi))
        s = np.clip((u[mask] - lo) / (hi - lo), 0.0, 1.0)
        dx, dy = _segment_path(seg, s)
        hops = int(seg.get("hops", 0))
        if hops:
            dy = dy - float(seg.get("hop", 0.3)) * np.abs(np.sin(math.pi * hops * s))
        spin = float(seg.get("spin", 0.0))
        x[mask] = px + dx
        y[mask] = py + dy
        theta[mask] = pt + 2.0 * math.pi * spin * s
        ex, ey = _segment_end(seg)
        px, py, pt = px + ex, py + ey, pt + 2.0 * math.pi * spin
    return Pose(x=x, y=y, theta=theta)


def centre_on_midpoint(pose: Pose, mid: Pose) -> Pose:
    """Shift a trajectory so that its pose at the action's temporal midpoint (``mid``,
    one evaluated time) is at the origin; the arm angle is left absolute."""
    return Pose(x=pose.x - float(mid.x[0]), y=pose.y - float(mid.y[0]), theta=pose.theta)


def max_extent(segments: Sequence[Segment], samples: int = 401) -> float:
    """Largest distance of the actor from its midpoint position during the action: the
    planner keeps ``extent * amplitude + jitter + actor size`` inside the frame."""
    u = np.linspace(0.0, 1.0, samples)
    pose = centre_on_midpoint(evaluate(segments, u), evaluate(segments, [0.5]))
    return float(np.max(np.hypot(pose.x, pose.y)))


def motion_signature(segments: Sequence[Segment], samples: int = 16) -> np.ndarray:
    """A compact description of the motion (centred path at ``samples`` times plus the
    total signed turn of the arm): what the tests compare against a middle-frame
    feature, and a sanity check that no two actions of a domain share a motion."""
    u = np.linspace(0.0, 1.0, samples)
    pose = centre_on_midpoint(evaluate(segments, u), evaluate(segments, [0.5]))
    turns = (pose.theta[-1] - pose.theta[0]) / (2.0 * math.pi)
    return np.concatenate([pose.x, pose.y, [turns]])

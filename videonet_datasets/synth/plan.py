"""Planning the benchmark clips of VideoNet-mini: every random choice, no pixels.

The planner turns (seed, config, taxonomy) into render specs - plain JSON - and the
rows of ``clips.csv``.  Every item draws from its own generator keyed by its identity
(:func:`videonet_datasets.fsutil.stable_rng`), so the world is identical for a seed
whatever the process pool does, and changing one count does not reshuffle the rest.

What varies per clip (never per action, so a frame's looks carry no label): background
kind and colours, the actor's colours and size, the speed (the clip's duration is drawn
independently of the action, and the motion is stretched to fit), start position, arm
angle and loop phase, the segments' relative timing, and whether the clip is a window
cut from a longer source video with idle time and another action around it.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.synth.config import SynthConfig
from videonet_datasets.synth.motion import max_extent
from videonet_datasets.synth.render import num_frames, random_appearance, random_background
from videonet_datasets.synth.taxonomy import ActionDef, DomainDef

__all__ = [
    "TABLE8_RANGE",
    "ClipPlan",
    "clip_durations",
    "make_event",
    "plan_clips",
    "plan_one",
    "slug",
]

Spec = dict[str, Any]
ORIGIN_JITTER = 0.12  # the actor's midpoint position varies by this much (normalised units)
FIT = 0.6  # motions are scaled so the actor stays within this distance of its midpoint


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def make_event(
    rng: np.random.Generator,
    action: ActionDef,
    t0: float,
    t1: float,
    *,
    origin: tuple[float, float] | None = None,
) -> Spec:
    """One performance of ``action`` over ``[t0, t1]`` seconds: the motion program with
    per-performance timing jitter and loop phase, scaled to stay inside the frame,
    anchored at a jittered midpoint (identical distribution for every action)."""
    segments = copy.deepcopy(list(action.motion))
    for seg in segments:
        seg["w"] = _r(float(seg.get("w", 1.0)) * rng.uniform(0.85, 1.18))
    if action.phase:
        phase = float(rng.uniform(0.0, 360.0))
        for seg in segments:
            if "loop" in seg:
                seg["loop"]["at"] = _r((float(seg["loop"].get("at", 0.0)) + phase) % 360.0, 2)
    extent = max_extent(segments)
    amp = min(1.0, FIT / extent) if extent > 0 else 1.0
    amp *= float(rng.uniform(0.88, 1.04))
    if origin is None:
        origin = (rng.uniform(-ORIGIN_JITTER, ORIGIN_JITTER), rng.uniform(-ORIGIN_JITTER, ORIGIN_JITTER))
    return {
        "t0": _r(t0),
        "t1": _r(t1),
        "action": action.name,
        "segments": segments,
        "origin": [_r(origin[0]), _r(origin[1])],
        "theta0": _r(rng.uniform(0.0, 2.0 * math.pi)),
        "amp": _r(amp),
    }


def new_shot(
    rng: np.random.Generator, t0: float, t1: float, actor: Spec, dark: bool, events: list[Spec]
) -> Spec:
    """A shot with a fresh background (a hard cut) in the video's luminance band."""
    shot: Spec = {
        "t0": _r(t0),
        "t1": _r(t1),
        "background": random_background(rng, dark),
        "actor": actor,
        "events": events,
    }
    if not events:
        shot["rest"] = [
            _r(rng.uniform(-0.3, 0.3)),
            _r(rng.uniform(-0.3, 0.3)),
            _r(rng.uniform(0, 2 * math.pi)),
        ]
    return shot


#: The benchmark's clip-length range (paper Table 8), used by taxonomies that give a mean.
TABLE8_RANGE = (0.26, 260.0)


def clip_durations(domain: DomainDef, n: int, seed: int, scale: float, sigma: float = 0.9) -> list[float]:
    """``n`` clip durations for a domain: a log-normal around the domain's median,
    stratified (one draw per quantile band, in random order) so even a small domain
    gets its share of sub-second clips and of the long tail, as in the paper.

    A domain that also gives its mean (the full taxonomy) gets the log-normal with that
    median and mean (sigma = sqrt(2 ln(mean / median))) over the paper's range, 0.26-260 s;
    the others keep ``sigma`` and 0.4-45 s (short videos: cheap to render)."""
    rng = stable_rng(seed, "durations", domain.name)
    q = (rng.permutation(n) + rng.uniform(0.05, 0.95, n)) / n
    lo, hi = 0.4, 45.0
    if domain.clip_mean is not None:
        sigma = math.sqrt(2.0 * math.log(domain.clip_mean / domain.clip_median))
        lo, hi = TABLE8_RANGE
    nd = NormalDist()
    out = []
    for qi in q:
        d = domain.clip_median * math.exp(sigma * nd.inv_cdf(float(qi)))
        out.append(_r(max(lo, min(hi, d) * scale), 3))
    return out


@dataclass
class ClipPlan:
    """One row of clips.csv and the video it lives in."""

    clip_id: str
    domain: str
    action: str
    index: int  # 1..5
    video: str  # path relative to the annotation directory
    start: float
    end: float | None  # None = to the end of the video
    duration: float  # seconds of the clip window
    windowed: bool
    spec: Spec = field(repr=False)


def _other_shot(
    rng: np.random.Generator, domain: DomainDef, exclude: str, t: float, actor: Spec, dark: bool, scale: float
) -> Spec:
    """A shot of some other action of the domain (what surrounds a clip in its source)."""
    others = [a for a in domain.actions if a.name != exclude]
    other = others[int(rng.integers(len(others)))]
    lead, length, tail = rng.uniform(0.3, 1.0), max(0.5, rng.uniform(1.0, 3.5) * scale), rng.uniform(0.3, 1.0)
    event = make_event(rng, other, t + lead, t + lead + length)
    return new_shot(rng, t, t + lead + length + tail, actor, dark, [event])


def plan_one(
    config: SynthConfig, domain: DomainDef, action: ActionDef, index: int, duration: float
) -> ClipPlan:
    rng = stable_rng(config.seed, "clip", domain.name, action.name, index)
    clip_id = f"{domain.slug}-{slug(action.name)}-{index}"
    dark = bool(rng.random() < 0.5)
    actor = random_appearance(rng, domain.actor, dark)
    # Idle margins around the performance, nearly equal: the clip's middle frame then
    # shows the action's midpoint, where every action of the domain puts the actor at the
    # same (jittered) place - so a single middle frame carries no label.
    margin = duration * rng.uniform(0.04, 0.14)
    skew = duration * rng.uniform(-0.01, 0.01)
    pre, post = margin + skew, margin - skew
    fps = config.fps
    windowed = bool(rng.random() < config.window_fraction)
    shots: list[Spec] = []
    if not windowed:
        n = num_frames(duration, fps)
        total = n / fps
        event = make_event(rng, action, pre * total / duration, total - post * total / duration)
        shots.append(new_shot(rng, 0.0, total, actor, dark, [event]))
        start, end, length = 0.0, None, total
        video = f"videos/{clip_id}.mp4"
    else:
        t = 0.0
        if rng.random() < 0.7:
            shots.append(_other_shot(rng, domain, action.name, t, actor, dark, config.duration_scale))
            t = shots[-1]["t1"]
        lead, tail = rng.uniform(0.5, 2.5), rng.uniform(0.5, 2.5)
        ws = _r(t + lead, 3)
        we = _r(ws + duration, 3)
        event = make_event(rng, action, ws + pre, we - post)
        shots.append(new_shot(rng, t, we + tail, actor, dark, [event]))
        t = shots[-1]["t1"]
        if rng.random() < 0.5:
            shots.append(_other_shot(rng, domain, action.name, t, actor, dark, config.duration_scale))
            t = shots[-1]["t1"]
        total = num_frames(t, fps) / fps
        shots[-1]["t1"] = _r(total)
        start, end, length = ws, we, we - ws
        video = f"videos/{clip_id}_source.mp4"
    spec = {"size": list(config.size), "fps": fps, "duration": total, "crf": config.crf, "shots": shots}
    return ClipPlan(
        clip_id, domain.name, action.name, index, video, start, end, _r(length, 3), windowed, spec
    )


def plan_clips(config: SynthConfig, domains: list[DomainDef], clips_per_action: int = 5) -> list[ClipPlan]:
    """All benchmark clips, in clips.csv order (domain, action, clip 1..5)."""
    plans: list[ClipPlan] = []
    for domain in domains:
        durations = clip_durations(
            domain, len(domain.actions) * clips_per_action, config.seed, config.duration_scale
        )
        k = 0
        for action in domain.actions:
            for index in range(1, clips_per_action + 1):
                plans.append(plan_one(config, domain, action, index, durations[k]))
                k += 1
    return plans

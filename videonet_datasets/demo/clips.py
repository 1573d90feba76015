"""True-labelled clips of VideoNet-mini, rendered in memory (no video files).

The research probe (``research/probe.py``) asks "can a tiny Molmo2 learn this world's
motion-defined actions at all, and how fast?", and the demo's generic pretraining
(:mod:`.pretrain`) teaches it generic motion words, both before the weak-label pipeline adds
its own noise.  It needs many clips with *true* labels drawn from exactly the benchmark's
distribution, but not the benchmark's clips.  The synth planner gives that for free: a
world seed other than the benchmark's plans new clips (new looks, speeds, windows,
surrounding actions) of the same actions, and the renderer is a pure function of a plan,
so the frames can be produced straight at the sampler's times without writing and
decoding an mp4.

The frames are rendered at the world's size and resized with OpenCV's area filter to the
model's frame size (the benchmark path resizes with swscale's bilinear while decoding;
both average the pixels they shrink, the H.264 noise of the benchmark clips is the
remaining difference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videonet_datasets.synth.config import SynthConfig
from videonet_datasets.synth.plan import ClipPlan, plan_clips
from videonet_datasets.synth.render import render_at, shot_poses
from videonet_datasets.synth.taxonomies import select_domains
from videonet_datasets.synth.taxonomy import DomainDef
from videonet_datasets.video import Frames, sample_times

__all__ = ["LabeledClip", "actor_positions", "render_plan", "render_training_clips", "world_domains"]


@dataclass(frozen=True)
class LabeledClip:
    """A clip's frames and its true action."""

    uid: str
    domain: str
    action: str
    frames: Frames
    positions: np.ndarray | None = None  # (N, 2) actor x, y per frame (normalised, y down)


def world_domains(config: SynthConfig) -> list[DomainDef]:
    """The domains (with their action subsets) of a world configuration."""
    return select_domains(config.domains, config.actions_per_domain, config.taxonomy)


def actor_positions(plan: ClipPlan, times: np.ndarray) -> np.ndarray:
    """(N, 2) actor positions at absolute ``times`` of the plan's video (what the renderer draws)."""
    shots = sorted(plan.spec["shots"], key=lambda s: s["t0"])
    out = np.zeros((len(times), 2))
    owner = np.zeros(len(times), dtype=int)
    for k, shot in enumerate(shots):
        owner[times >= shot["t0"] - 1e-9] = k
    for k in np.unique(owner):
        m = owner == k
        x, y, _ = shot_poses(shots[int(k)], times[m])
        out[m, 0], out[m, 1] = x, y
    return out


def render_plan(
    plan: ClipPlan,
    *,
    fps: float = 4.0,
    max_frames: int = 16,
    size: int | None = 56,
    middle: bool = False,
) -> Frames:
    """The frames the project's sampler would return for ``plan``'s clip window, rendered
    directly: "``fps``, max ``max_frames``" (or the middle frame), square ``size`` pixels."""
    times = (
        sample_times(plan.duration, middle=True)
        if middle
        else sample_times(plan.duration, fps=fps, max_frames=max_frames)
    )
    video_fps = float(plan.spec["fps"])
    # The sampler returns the frame on screen at each requested time (frame i shows i / fps).
    shown = np.floor((times + plan.start) * video_fps + 1e-6) / video_fps
    frames = np.stack(list(render_at(plan.spec, shown)))
    if size is not None and frames.shape[1:3] != (size, size):
        try:
            import cv2  # optional: the localize / bench extras install it; the demo renders at size
        except ImportError as e:
            raise ImportError(
                f"resizing rendered frames to {size}x{size} needs OpenCV: pip install opencv-python-headless"
            ) from e
        frames = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return Frames(
        frames=frames,
        timestamps=np.maximum(shown - plan.start, 0.0),
        requested=times,
        clip_start=plan.start,
        clip_end=plan.start + plan.duration,
        video_fps=video_fps,
        source=plan.clip_id,
    )


def render_training_clips(
    config: SynthConfig,
    seeds: Sequence[int],
    clips_per_action: int = 5,
    *,
    fps: float = 4.0,
    max_frames: int = 16,
    size: int | None = 56,
) -> list[LabeledClip]:
    """``clips_per_action`` clips of every action of ``config``'s world for each seed.

    Seeds must differ from the benchmark's world seed, or these are the benchmark clips.
    """
    if config.seed in seeds:
        raise ValueError(f"seed {config.seed} is the benchmark world's own seed: its clips are the test set")
    out: list[LabeledClip] = []
    domains = world_domains(config)
    for seed in seeds:
        cfg = dataclasses.replace(config, seed=int(seed))
        for plan in plan_clips(cfg, domains, clips_per_action=clips_per_action):
            frames = render_plan(plan, fps=fps, max_frames=max_frames, size=size)
            positions = actor_positions(plan, frames.timestamps + plan.start)
            out.append(LabeledClip(f"s{seed}-{plan.clip_id}", plan.domain, plan.action, frames, positions))
    return out

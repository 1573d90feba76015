"""Per-model frame-sampling presets (paper App. C.2) and how a video reaches the model.

The paper samples each model's frames differently: InternVL3.5 uniform 48 frames, Qwen3-VL
2 fps, Molmo2 4 fps with at most 64, Gemini 1 fps, GPT-5 1 fps with at most 56, GPT-5.4 1 fps
with at most 256 ("S fps, max F": F frames uniformly when the clip is longer than F/S s).

A preset says two things:

* ``visual`` - ``"video"``: the chat content carries the clip's path and the model (or the
  server behind it) decodes it; the preset's numbers travel as hints on the video item
  (``fps``/``max_frames``/``num_frames``), which this suite's models honour; for lmms-eval's
  own backends the same numbers must be given as their model arguments (the recipes do).
  ``"frames"``: the task decodes the clip with the project's one sampler
  (:func:`videonet_datasets.video.sample_frames`) and sends the frames as images, the way
  API models are evaluated - so every backend sees exactly the paper's frames.
* the sampling numbers.

Presets are chosen per lmms-eval model name through the tasks' ``lmms_eval_specific_kwargs``
(``MODEL_PRESETS``, written into the task YAMLs), and can be overridden for any run with
``VIDEONET_PRESET`` (``videonet eval --preset``): a preset name, optionally followed by
``key=value`` overrides, e.g. ``gpt5``, ``api,fps=2`` (the paper's fps ablation) or
``molmo2,max_frames=32``.  One ``VIDEONET_PRESET`` applies to every task of the run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from videonet_datasets.config import split_key_values

__all__ = [
    "ENV_PRESET",
    "MODEL_PRESETS",
    "PRESETS",
    "Sampling",
    "parse_preset",
    "resolve_sampling",
]

ENV_PRESET = "VIDEONET_PRESET"
Visual = Literal["video", "frames"]


@dataclass(frozen=True)
class Sampling:
    """How the clips of a question reach the model."""

    name: str
    visual: Visual = "video"
    fps: float | None = None
    max_frames: int | None = None
    num_frames: int | None = None
    short_side: int | None = None  # frames mode: resize so the short side is this (None = as stored)
    note: str = ""

    def __post_init__(self) -> None:
        if self.visual not in ("video", "frames"):
            raise ValueError(f"preset {self.name!r}: visual must be 'video' or 'frames', got {self.visual!r}")
        if self.fps is not None and self.num_frames is not None:
            raise ValueError(
                f"preset {self.name!r}: give fps (with optional max_frames) or num_frames, not both"
            )
        if self.max_frames is not None and self.fps is None:
            raise ValueError(
                f"preset {self.name!r}: max_frames caps fps sampling; for a fixed count use num_frames"
            )
        for key in ("fps", "max_frames", "num_frames", "short_side"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ValueError(f"preset {self.name!r}: {key} must be > 0, got {value!r}")
        if self.visual == "frames" and self.fps is None and self.num_frames is None:
            raise ValueError(f"preset {self.name!r}: frames mode needs fps= or num_frames=")

    @property
    def has_rule(self) -> bool:
        return self.fps is not None or self.num_frames is not None

    def hints(self) -> dict[str, Any]:
        """The sampling numbers to attach to a video item (empty: the model decides)."""
        return {k: v for k in ("fps", "max_frames", "num_frames") if (v := getattr(self, k)) is not None}

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`videonet_datasets.video.sample_frames`."""
        if not self.has_rule:
            raise ValueError(f"preset {self.name!r} has no sampling rule (fps or num_frames)")
        kwargs = self.hints()
        if self.short_side is not None:
            kwargs["size"] = int(self.short_side)
        return kwargs

    def describe(self) -> str:
        rule = ", ".join(f"{k}={v}" for k, v in self.hints().items()) or "model's own sampling"
        return f"{self.name}: {self.visual} ({rule})"


PRESETS: dict[str, Sampling] = {
    p.name: p
    for p in (
        Sampling("native", "video", note="the clip's path; the model samples frames its own way"),
        Sampling("qwen3_vl", "video", fps=2.0, note="Qwen3-VL: 2 fps"),
        Sampling("internvl3_5", "video", num_frames=48, note="InternVL3.5: 48 frames uniformly"),
        Sampling(
            "molmo2", "video", fps=4.0, max_frames=64, note="Molmo2: 4 fps, max 64 (timestamps as text)"
        ),
        Sampling("gemini", "video", fps=1.0, note="Gemini: the video itself, sampled at 1 fps by the API"),
        Sampling("api", "frames", fps=1.0, note="API models that take images: 1 fps"),
        Sampling("gpt5", "frames", fps=1.0, max_frames=56, note="GPT-5: 1 fps, max 56 frames"),
        Sampling("gpt5_4", "frames", fps=1.0, max_frames=256, note="GPT-5.4: 1 fps, max 256 frames"),
    )
}

#: lmms-eval model name -> preset, written into every task's ``lmms_eval_specific_kwargs``.
#: Server backends (vllm, sglang) decode the clip themselves: their sampling is set where the
#: server or the backend is configured (see ``recipes/vllm``), so they get the path.
MODEL_PRESETS: dict[str, str] = {
    "qwen3_vl": "qwen3_vl",
    "internvl3_5": "internvl3_5",
    "internvl_hf": "internvl3_5",
    "videonet_molmo2": "molmo2",
    "gemini": "gemini",
    "openai": "api",
    "async_openai": "api",
    "litellm": "api",
    "gpt4v": "api",
    "vllm": "native",
    "vllm_generate": "native",
    "sglang": "native",
}

_INT_KEYS = ("max_frames", "num_frames", "short_side")


def _with_overrides(base: Sampling, overrides: Mapping[str, Any], origin: str) -> Sampling:
    fields = {f.name for f in dataclasses.fields(Sampling)} - {"name", "note"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"{origin}: unknown sampling option(s) {unknown}; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for key, raw in overrides.items():
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")):
            values[key] = None
        elif key == "visual":
            values[key] = str(raw).strip()
        else:
            try:
                values[key] = int(raw) if key in _INT_KEYS else float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{origin}: {key}={raw!r} is not a number") from None
    # Choosing one rule replaces the other: "internvl3_5,fps=2" means 2 fps, not both.
    if values.get("fps") is not None and "num_frames" not in values:
        values["num_frames"] = None
    if values.get("num_frames") is not None:
        values.setdefault("fps", None)
        values.setdefault("max_frames", None)
    name = base.name if not values else f"{base.name}+" + ",".join(f"{k}={v}" for k, v in values.items())
    try:
        return dataclasses.replace(base, name=name, **values)
    except ValueError as e:
        raise ValueError(f"{origin}: {e}") from None


@lru_cache(maxsize=64)
def parse_preset(text: str) -> Sampling:
    """``"name"`` or ``"name,key=value,..."`` -> :class:`Sampling` (the ``VIDEONET_PRESET`` syntax)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or "=" in parts[0]:
        raise ValueError(f"{ENV_PRESET}={text!r}: start with a preset name ({', '.join(PRESETS)})")
    name = parts[0]
    if name not in PRESETS:
        raise ValueError(
            f"{ENV_PRESET}={text!r}: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        )
    overrides = dict(split_key_values(",".join(parts[1:]), where=f"{ENV_PRESET}={text!r}", form="key=value"))
    return _with_overrides(PRESETS[name], overrides, f"{ENV_PRESET}={text!r}")


def resolve_sampling(lmms_eval_specific_kwargs: Mapping[str, Any] | None) -> Sampling:
    """The sampling for this run: ``$VIDEONET_PRESET`` if set, else the task's per-model kwargs.

    ``lmms_eval_specific_kwargs`` is what lmms-eval hands the task functions: the entry of the
    running model's name, or the ``default`` entry merged into the whole mapping.  Its
    ``preset`` names a preset; ``fps``/``max_frames``/``num_frames``/``visual``/``short_side``
    keys next to it override the preset's numbers.
    """
    env = os.environ.get(ENV_PRESET, "").strip()
    if env:
        return parse_preset(env)
    kwargs = dict(lmms_eval_specific_kwargs or {})
    name = kwargs.get("preset") or "native"
    if name not in PRESETS:
        raise ValueError(
            f"lmms_eval_specific_kwargs: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        )
    overrides = {
        k: kwargs[k] for k in ("visual", "fps", "max_frames", "num_frames", "short_side") if k in kwargs
    }
    return (
        _with_overrides(PRESETS[name], overrides, "lmms_eval_specific_kwargs") if overrides else PRESETS[name]
    )

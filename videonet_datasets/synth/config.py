"""Settings of a VideoNet-mini world, and the named presets.

``default`` is the full world (all five domains, 40 narrated web videos, 128x128 at 15 fps:
under a minute on two cores).  ``tiny`` is for tests.  ``train`` keeps the benchmark the
same and adds many more narrated videos - mostly single-action ones, the material of the
``single_action`` filter - for fine-tuning.  ``full`` has VideoNet's real shape (37 domains,
1,000 actions, 5,000 clips with the paper's clip lengths) in 32x32 frames at 4 fps and no web
videos, for measuring the toolkit at full size (``python -m bench eval``).  ``demo`` is what ``make demo`` generates: the
``coarse`` taxonomy (:mod:`.coarse`), smaller frames and shorter videos.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

from videonet_datasets.config import setting, split_key_values
from videonet_datasets.synth.taxonomies import taxonomy_names

__all__ = ["PRESETS", "WEB_KINDS", "SynthConfig", "parse_mix", "preset"]

WEB_KINDS = ("single", "multi", "howto", "compilation")


def parse_size(text: str) -> tuple[int, int]:
    """``"128x96"`` -> ``(128, 96)`` (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as e:
        raise ValueError(f"size must look like 128x128, got {text!r}") from e
    return w, h


@dataclass(frozen=True)
class SynthConfig:
    """A world's settings; the fields with a ``flag`` are ``videonet synth``'s options."""

    seed: int = setting(0, "random seed (default 0)", flag="--seed")
    taxonomy: str = setting(
        "default",
        "which actions: default (told apart by fine motion attributes, the paper's difficulty), coarse "
        "(told apart by direction of travel; the demo preset's) or full (VideoNet's 37 domains and 1,000 "
        "actions; the full preset's)",
        flag="--taxonomy", choices=taxonomy_names(),
    )  # fmt: skip
    domains: tuple[str, ...] | None = setting(
        None, "comma-separated domain names or slugs (default: all)", flag="--domains"
    )
    actions_per_domain: int | None = setting(
        None, "keep each domain's first N actions (default: all)", flag="--actions-per-domain"
    )
    size: tuple[int, int] = setting(
        (128, 128), "frame size (even), default 128x128", flag="--size", metavar="WxH", parse=parse_size
    )
    fps: float = setting(15.0, "frame rate (default 15)", flag="--fps")
    duration_scale: float = setting(1.0, "multiply all clip/segment durations", flag="--duration-scale")
    window_fraction: float = setting(
        0.4, "share of clips cut from longer source videos (default 0.4)", flag="--window-fraction"
    )
    web_videos: int = setting(40, "number of narrated web videos", flag="--web-videos", metavar="N")
    web_mix: dict[str, float] = setting(
        {"single": 0.5, "multi": 0.2, "howto": 0.15, "compilation": 0.15},
        "shares of web video kinds, e.g. single=0.7,multi=0.1,howto=0.1,compilation=0.1",
        flag="--web-mix", metavar="KIND=W,...", parse=lambda text: parse_mix(text),
    )  # fmt: skip
    crf: int = 23
    jobs: int = setting(0, "worker processes (default: one per CPU core)", flag="--jobs")

    def __post_init__(self) -> None:
        w, h = self.size
        if w % 2 or h % 2 or w < 16 or h < 16:
            raise ValueError(f"size must be even and at least 16x16, got {w}x{h}")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps must be in [1, 60], got {self.fps}")
        if self.taxonomy not in taxonomy_names():
            raise ValueError(f"taxonomy must be one of {taxonomy_names()}, got {self.taxonomy!r}")
        if self.web_videos < 0:
            raise ValueError(f"web_videos must be >= 0, got {self.web_videos}")
        if self.duration_scale <= 0:
            raise ValueError(f"duration_scale must be > 0, got {self.duration_scale}")
        if not 0 <= self.window_fraction <= 1:
            raise ValueError(f"window_fraction must be in [0, 1], got {self.window_fraction}")
        unknown = set(self.web_mix) - set(WEB_KINDS)
        if (
            unknown
            or not self.web_mix
            or any(v < 0 for v in self.web_mix.values())
            or sum(self.web_mix.values()) <= 0
        ):
            raise ValueError(f"web_mix must give non-negative weights to {WEB_KINDS}, got {self.web_mix}")

    @property
    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        d["domains"] = list(self.domains) if self.domains else None
        d.pop("jobs")  # how fast, not what: never part of the world's identity
        return d


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "tiny": {
        "domains": ("Figure Skating", "Ballet"),
        "actions_per_domain": 6,
        "size": (64, 64),
        "fps": 10.0,
        "duration_scale": 0.25,
        "web_videos": 4,
        "web_mix": {"single": 1, "multi": 1, "howto": 1, "compilation": 1},
    },
    "train": {
        "web_videos": 400,
        "web_mix": {"single": 0.7, "multi": 0.15, "howto": 0.1, "compilation": 0.05},
    },
    # VideoNet's real shape for throughput work (``python -m bench eval``): the ``full`` taxonomy's 37
    # domains, 1,000 actions and 5,000 clips with Table 8's lengths; tiny frames at a low rate so the
    # ~20 hours of clips render in minutes; no web videos (the benchmark side; --web-videos adds them).
    "full": {
        "taxonomy": "full",
        "size": (32, 32),
        "fps": 4.0,
        "web_videos": 0,
    },
    # ``videonet demo`` (videonet_datasets/demo): the coarse taxonomy (actions told apart by their
    # direction of travel, which a tiny model learns on a CPU), shorter clips (ASR time is the
    # demo's largest data cost) and mostly single-action web videos (the single_action filter).
    "demo": {
        "taxonomy": "coarse",
        "size": (96, 96),
        "duration_scale": 0.5,
        "web_videos": 120,
        "web_mix": {"single": 0.7, "multi": 0.1, "howto": 0.1, "compilation": 0.1},
    },
}


def preset(name: str, **overrides: Any) -> SynthConfig:
    """A preset with some fields overridden (``None`` overrides are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    cfg = SynthConfig(**PRESETS[name])
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(cfg, **given) if given else cfg


def parse_mix(text: str) -> dict[str, float]:
    """``"single=0.7,multi=0.1,howto=0.1,compilation=0.1"`` -> weights (kinds left out get 0)."""
    out: dict[str, float] = {}
    for k, v in split_key_values(
        text, where="--web-mix", form=f"KIND=WEIGHT (kinds: {', '.join(WEB_KINDS)})"
    ):
        if k not in WEB_KINDS:
            raise ValueError(f"--web-mix: unknown kind {k!r}; kinds: {', '.join(WEB_KINDS)}")
        try:
            out[k] = float(v)
        except ValueError as e:
            raise ValueError(f"--web-mix: weight of {k!r} is not a number: {v!r}") from e
    return out

"""``videonet synth --out DIR [--seed N]``: generate the synthetic VideoNet-mini world."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import RunFailed, UsageError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"size must look like 128x128, got {text!r}") from e
    return w, h


def add_parser(sub: argparse._SubParsersAction) -> None:
    from videonet_datasets.synth.config import PRESETS

    p = sub.add_parser(
        "synth",
        help="generate VideoNet-mini, a synthetic annotation directory + narrated web videos",
        description="Write a synthetic VideoNet-style world: actions.csv, hard_negatives.csv, clips.csv and "
        "videos/ (actions defined by the motion of a rendered actor), plus web/ (narrated videos, manifest and "
        "ground truth) for the training-data pipeline. Deterministic for a seed; rerunning skips finished videos.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument(
        "--preset",
        default="default",
        choices=sorted(PRESETS),
        help="default: the demo world; tiny: tests; train: 400 narrated videos for fine-tuning",
    )
    p.add_argument(
        "--taxonomy",
        default=None,
        choices=("default", "coarse"),
        help="which actions: default (told apart by fine motion attributes, the paper's difficulty) or coarse "
        "(told apart by direction of travel; the demo preset's)",
    )
    p.add_argument("--domains", default=None, help="comma-separated domain names or slugs (default: all)")
    p.add_argument("--actions-per-domain", type=int, default=None, help="keep each domain's first N actions")
    p.add_argument("--web-videos", type=int, default=None, metavar="N", help="number of narrated web videos")
    p.add_argument(
        "--web-mix",
        default=None,
        metavar="KIND=W,...",
        help="shares of web video kinds, e.g. single=0.7,multi=0.1,howto=0.1,compilation=0.1",
    )
    p.add_argument(
        "--size", type=_size, default=None, metavar="WxH", help="frame size (even), default 128x128"
    )
    p.add_argument("--fps", type=float, default=None, help="frame rate (default 15)")
    p.add_argument("--duration-scale", type=float, default=None, help="multiply all clip/segment durations")
    p.add_argument(
        "--window-fraction",
        type=float,
        default=None,
        help="share of clips cut from longer source videos (default 0.4)",
    )
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per CPU core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.synth import SynthError, generate_world, preset
    from videonet_datasets.synth.config import parse_mix

    try:
        config = preset(
            args.preset,
            seed=args.seed,
            taxonomy=args.taxonomy,
            domains=tuple(d.strip() for d in args.domains.split(",")) if args.domains else None,
            actions_per_domain=args.actions_per_domain,
            web_videos=args.web_videos,
            web_mix=parse_mix(args.web_mix) if args.web_mix else None,
            size=args.size,
            fps=args.fps,
            duration_scale=args.duration_scale,
            window_fraction=args.window_fraction,
            jobs=args.jobs,
        )
        summary = generate_world(args.out, config, progress=not args.quiet)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except SynthError as e:
        raise RunFailed(str(e)) from None
    print(summary.format())
    return 0

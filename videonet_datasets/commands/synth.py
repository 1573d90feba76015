"""``videonet synth --out DIR [--seed N]``: generate the synthetic VideoNet-mini world."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import RunFailed, UsageError
from videonet_datasets.config import add_flags, flag_values, load_config_file


def add_parser(sub: argparse._SubParsersAction) -> None:
    from videonet_datasets.synth.config import PRESETS, SynthConfig

    p = sub.add_parser(
        "synth",
        help="generate VideoNet-mini, a synthetic annotation directory + narrated web videos",
        description="Write a synthetic VideoNet-style world: actions.csv, hard_negatives.csv, clips.csv and "
        "videos/ (actions defined by the motion of a rendered actor), plus web/ (narrated videos, manifest and "
        "ground truth) for the training-data pipeline. Deterministic for a seed; rerunning skips finished videos.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--preset",
        default="default",
        choices=sorted(PRESETS),
        help="default: the demo world; tiny: tests; train: 400 narrated videos for fine-tuning; demo: make "
        "demo's; full: VideoNet's real shape (37 domains, 1,000 actions, 5,000 clips), tiny frames, no web videos",
    )
    p.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="SynthConfig settings as YAML, over the preset's; options given here override it",
    )
    add_flags(p, SynthConfig)  # every other option is a SynthConfig field's flag
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.synth import SynthConfig, SynthError, generate_world, preset

    try:
        values = load_config_file(SynthConfig, args.config) if args.config else {}
        config = preset(args.preset, **{**values, **flag_values(args, SynthConfig)})
        summary = generate_world(args.out, config, progress=not args.quiet)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except SynthError as e:
        raise RunFailed(str(e)) from None
    print(summary.format())
    return 0

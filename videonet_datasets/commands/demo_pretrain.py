"""``videonet demo-pretrain``: the demo's generic motion pretraining (a step of ``videonet demo``; not
listed in ``videonet --help``)."""

from __future__ import annotations

import argparse
import dataclasses
import json

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-pretrain",
        description="Generic pretraining of a tiny Molmo2 (videonet_datasets.demo.pretrain): the stand-in for "
        "the pretrained VLM the paper fine-tunes.",
    )
    p.add_argument("--model", required=True, help="the model directory to start from (e.g. the random base)")
    p.add_argument("--out", required=True, help="where to save_pretrained the result")
    p.add_argument("--world", help="a `videonet synth` output directory: its world.json says which world")
    p.add_argument("--preset", default="demo", help="without --world: the synth preset of the world")
    p.add_argument("--domains", help="without --world: comma-separated subset of the preset's domains")
    p.add_argument("--steps", help="steps per stage, e.g. 3000,4000 (generic_classify, generic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips-per-action", type=int, help="clips per action and world seed per epoch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.demo.pretrain import PretrainConfig, pretrain, world_config
    from videonet_datasets.synth.config import preset

    cfg = PretrainConfig(seed=args.seed)
    if args.steps:
        try:
            counts = [int(x) for x in args.steps.split(",")]
        except ValueError:
            raise UsageError(f"--steps must be comma-separated integers, got {args.steps!r}") from None
        if len(counts) != len(cfg.stages):
            raise UsageError(
                f"--steps needs {len(cfg.stages)} numbers ({', '.join(s for s, _ in cfg.stages)})"
            )
        cfg = dataclasses.replace(cfg, stages=tuple((s, n) for (s, _), n in zip(cfg.stages, counts)))
    if args.clips_per_action:
        cfg = dataclasses.replace(cfg, clips_per_action=args.clips_per_action)
    try:
        if args.world:
            world = world_config(args.world)
        else:
            domains = tuple(d.strip() for d in args.domains.split(",")) if args.domains else None
            world = preset(args.preset, domains=domains)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    record = pretrain(args.model, args.out, world, cfg, progress=not args.quiet)
    print(json.dumps({"out": args.out, "history": record["history"], "seconds": record["seconds_this_run"]}))
    return 0

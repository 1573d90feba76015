"""``videonet demo --out demo_output``: the whole system on VideoNet-mini, on a CPU (``make demo``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from videonet_datasets.demo.pipeline import DEFAULT_SEEDS, FILTERS

    p = sub.add_parser(
        "demo",
        help="generate VideoNet-mini, build the benchmark and training data, fine-tune a tiny Molmo2, "
        "evaluate and report",
        description="Run every step of the project on VideoNet-mini with the project's own commands "
        "(synth, mine-negatives, build-benchmark, build-train, recipes/finetune_molmo2.py, eval, report), "
        "print the headline table and check it against the paper's finding (fine-tuned >= base + 15 "
        "points on videonet_mc and videonet_binary_hard_0shot, and above its middle-frame score). "
        "Reruns resume after the last finished step.",
    )
    p.add_argument("--out", default="demo_output", help="output directory (default: demo_output)")
    p.add_argument("--preset", default="demo", help="synth preset of the world (default: demo)")
    p.add_argument("--seed", type=int, default=0, help="the world's and the data steps' seed (default: 0)")
    p.add_argument(
        "--seeds",
        default=",".join(str(s) for s in DEFAULT_SEEDS),
        help="fine-tuning seeds, one fine-tuned model each; the data steps run once "
        f"(default: {','.join(str(s) for s in DEFAULT_SEEDS)})",
    )
    p.add_argument(
        "--base",
        default="shipped",
        help="the base model: 'shipped' (the packaged checkpoint videonet-mini-base; pretrains one if it does "
        "not fit the world), 'pretrain' (rebuild it from random weights and compare with the shipped one: "
        "make reproduce), or a checkpoint directory",
    )
    p.add_argument("--until", choices=["base"], help="stop after this step (base: build a base checkpoint)")
    p.add_argument(
        "--filters",
        default="single_action",
        help=f"comma-separated training filters, one fine-tuned model each (any of {', '.join(FILTERS)}; "
        "all three = the paper's Table 6 in miniature)",
    )
    p.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: the recipe config's)")
    p.add_argument(
        "--pretrain-steps",
        default=None,
        help="generic pretraining steps per stage, N,M (generic_classify, generic; default: "
        "videonet_datasets.demo.pretrain.PretrainConfig)",
    )
    p.add_argument("--eval-limit", type=int, default=None, help="questions per task (quick checks)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.demo.pipeline import FILTERS, DemoConfig, run_demo

    filters = tuple(f.strip() for f in args.filters.split(",") if f.strip())
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown or not filters:
        raise UsageError(f"--filters: unknown {unknown}; choose from {', '.join(FILTERS)}")
    pretrain_steps = None
    if args.pretrain_steps:
        try:
            pretrain_steps = tuple(int(x) for x in args.pretrain_steps.split(","))
        except ValueError:
            raise UsageError(
                f"--pretrain-steps must be comma-separated integers, got {args.pretrain_steps!r}"
            ) from None
    try:
        seeds = tuple(int(x) for x in args.seeds.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds needs at least one seed and no repeats, got {args.seeds!r}")
    if args.base not in ("shipped", "pretrain") and not Path(args.base).is_dir():
        raise UsageError(f"--base: {args.base!r} is neither 'shipped', 'pretrain' nor a checkpoint directory")
    settings = DemoConfig(
        out=Path(args.out), preset=args.preset, seed=args.seed, seeds=seeds, base=args.base, until=args.until,
        filters=filters, steps=args.steps, eval_limit=args.eval_limit, pretrain_steps=pretrain_steps,
    )  # fmt: skip
    try:
        run_demo(settings)
    except RuntimeError as e:
        raise RunFailed(str(e)) from None
    return 0

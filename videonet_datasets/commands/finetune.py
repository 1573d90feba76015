"""``videonet finetune``: train (the recipe), export a checkpoint, evaluate a model.

* ``videonet finetune train --config FILE.yaml [--flag value ...]`` - the same as
  ``recipes/finetune_molmo2.py`` (every setting a flag); under several processes launch it
  with ``accelerate launch -m videonet_datasets.cli finetune train ...``.
* ``videonet finetune grpo --config FILE.yaml [--flag value ...]`` - the same as
  ``recipes/grpo_molmo2.py``: reinforcement fine-tuning with GRPO and verifiable rewards.
* ``videonet finetune export CHECKPOINT OUT`` - a ``checkpoint-{step}`` folder (also a sharded
  FSDP / DeepSpeed one) to a ``save_pretrained`` directory (merged, or ``--adapter`` for LoRA).
* ``videonet finetune eval MODEL --data BENCHMARK`` - the evaluation hook on any saved model or
  checkpoint (exported first): lmms-eval's ``videonet_mc_val`` by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError, pass_through


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune Molmo2 (the paper's recipe), export checkpoints, evaluate",
        description="Fine-tune Molmo2 on VideoNet data (recipes/finetune_molmo2.py), export a checkpoint to a "
        "transformers directory, or run the lmms-eval evaluation hook on a model.",
    )
    actions = p.add_subparsers(dest="finetune_action", metavar="ACTION")

    train = actions.add_parser(
        "train",
        help="train (all options of recipes/finetune_molmo2.py; see `videonet finetune train --help`)",
        add_help=False,
    )
    train.set_defaults(func=run_train)
    pass_through(train, "args")  # every option after `train` (--help too) goes to the recipe's parser

    grpo = actions.add_parser(
        "grpo",
        help="reinforcement fine-tuning with GRPO (all options of recipes/grpo_molmo2.py; see --help)",
        add_help=False,
    )
    grpo.set_defaults(func=run_grpo)
    pass_through(grpo, "args")

    export = actions.add_parser("export", help="checkpoint-{step} -> save_pretrained directory")
    export.add_argument("checkpoint", type=Path, help="a checkpoint-{step} folder")
    export.add_argument("out", type=Path, help="output directory (replaced)")
    export.add_argument(
        "--adapter", action="store_true", help="LoRA runs: save the adapter instead of merging"
    )
    export.set_defaults(func=run_export)

    ev = actions.add_parser("eval", help="evaluate a saved model or a checkpoint with lmms-eval")
    ev.add_argument("model", type=Path, help="a save_pretrained directory or a checkpoint-{step} folder")
    ev.add_argument("--data", required=True, help="the benchmark: a built directory or a Hub id")
    ev.add_argument("--tasks", default="videonet_mc_val", help="lmms-eval tasks (default: videonet_mc_val)")
    ev.add_argument("--output_path", type=Path, help="where lmms-eval writes (default: MODEL/../eval-<name>)")
    ev.add_argument("--limit", type=int, help="questions per task (quick checks)")
    ev.add_argument("--model_args", default="", help="extra lmms-eval model arguments, e.g. device=cuda:0")
    ev.add_argument("--lmms_model", default="videonet_molmo2", help="lmms-eval model name")
    ev.set_defaults(func=run_eval)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_train(args: argparse.Namespace) -> int:
    from videonet_datasets.finetune import main

    return main(list(args.args))


def run_grpo(args: argparse.Namespace) -> int:
    from videonet_datasets.finetune.grpo_trainer import main

    return main(list(args.args))


def run_export(args: argparse.Namespace) -> int:
    from videonet_datasets.finetune.export import export_checkpoint

    try:
        out = export_checkpoint(args.checkpoint, args.out, lora_merge=False if args.adapter else None)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    print(f"exported {args.checkpoint} -> {out}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from videonet_datasets.finetune.checkpoint import TRAINER_STATE
    from videonet_datasets.finetune.evaluate import EvalError, run_lmms_eval
    from videonet_datasets.finetune.export import export_checkpoint

    model_dir: Path = args.model
    output = args.output_path or model_dir.resolve().parent / f"eval-{model_dir.name}"
    if (model_dir / TRAINER_STATE).is_file():
        model_dir = export_checkpoint(model_dir, output / "model")
        print(f"exported {args.model} -> {model_dir}")
    elif not (model_dir / "config.json").is_file():
        raise UsageError(f"{model_dir} is neither a save_pretrained directory nor a checkpoint")
    try:
        result = run_lmms_eval(
            model_dir, data=args.data, tasks=args.tasks, output_path=output, model=args.lmms_model,
            model_args=args.model_args, limit=args.limit,
        )  # fmt: skip
    except EvalError as e:
        raise RunFailed(str(e)) from None
    for key, value in sorted(result.scores.items()):
        print(f"{key}: {value:.4f}")
    print(f"results: {result.results_file}")
    return 0

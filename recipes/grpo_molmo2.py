#!/usr/bin/env python
"""Reinforcement fine-tuning of Molmo2 on VideoNet questions: GRPO with verifiable rewards (and tools).

    accelerate launch recipes/grpo_molmo2.py --config recipes/configs/grpo_molmo2_4b.yaml
    accelerate launch --config_file recipes/accelerate/multi_gpu.yaml recipes/grpo_molmo2.py \\
        --config recipes/configs/grpo_video_star.yaml --model_name_or_path runs/molmo2-4b-videonet/final

Every setting is a flag (``--help``); ``--config FILE.yaml`` supplies defaults that flags
override.  The supervised recipe's settings mean the same here (model, data, LoRA, freezing,
learning rates, checkpoints, trackers, evaluation); GRPO adds the group size, sampling, the
objective, rewards and tools.  See ``recipes/README.md`` ("Reinforcement fine-tuning") for when
to use it, the GPU arithmetic and the Video-STAR configuration.

The script reads top to bottom like ``recipes/finetune_molmo2.py`` - and uses the same library
(``videonet_datasets/finetune/``): only the questions, the reference model, the generation
backend and the trainer's step are GRPO's own.
"""

from __future__ import annotations

import logging
import sys

from videonet_datasets.finetune import ConfigError, DataError
from videonet_datasets.finetune.grpo_config import parse_grpo_config
from videonet_datasets.finetune.grpo_trainer import GRPOTrainer, load_questions, load_reference_model
from videonet_datasets.finetune.schedule import make_optimizer, make_scheduler
from videonet_datasets.finetune.trainer import load_model, load_train_data, start_run


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # 1. Settings: the defaults < --config FILE.yaml < flags, checked as a whole (reward and tool
        # names against their registries).
        config = parse_grpo_config(argv)
        # accelerate for this launch, the output directory, and the checkpoint to continue from.
        run = start_run(config)

        # 2. Data: the training clips (or benchmark rows), one question per QA pair, with the action
        # definitions the relevance reward and the definition tool read.
        source = load_train_data(config, run)
        questions, definitions = load_questions(config, source)

        # 3. Models: the policy (usually the supervised recipe's output: --model_name_or_path
        # runs/.../final) with freezing / LoRA as set, and the frozen reference for the KL term
        # (none when beta is 0; under LoRA the policy with its adapters off).
        model, processor = load_model(config, run, source)
        reference = load_reference_model(config, run)

        # 4. Optimizer and schedule, as in the supervised recipe.
        optimizer = make_optimizer(model, config)
        scheduler = make_scheduler(optimizer, config)

        # 5. The loop: every num_iterations steps a generation round (num_generations answers per
        # question, tools, rewards, group advantages), then the clipped policy-gradient step;
        # step-end hooks log, checkpoint and evaluate (trainer.add_hook(fn) adds yours).
        trainer = GRPOTrainer(config, run, model, processor, optimizer, scheduler, source, questions,
                              definitions=definitions, reference=reference)  # fmt: skip
        trainer.train()

        # 6. Save and evaluate: the last checkpoint, OUTPUT/final, and lmms-eval's tasks on it.
        trainer.finish()
    except (ConfigError, DataError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

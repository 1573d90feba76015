#!/usr/bin/env python
"""Fine-tune Molmo2 on VideoNet data: the paper's recipe (§4.2, App. G.2), one GPU to many nodes.

    accelerate launch recipes/finetune_molmo2.py --config recipes/configs/molmo2_4b_videonet.yaml
    accelerate launch --config_file recipes/accelerate/multi_gpu.yaml recipes/finetune_molmo2.py \\
        --config recipes/configs/molmo2_4b_videonet.yaml --dataset path/to/videonet-train --llm_lr 2e-5

Every setting is a flag (``--help``); ``--config FILE.yaml`` supplies defaults that flags
override.  Gradient accumulation follows from ``global_batch_size`` and the number of
processes.  See ``recipes/README.md`` for launch configurations, resuming, LoRA, memory
arithmetic and evaluation.

The script reads top to bottom like TRL's example scripts - settings, data, model, optimizer,
the training loop, save and evaluate - over the library in ``videonet_datasets/finetune/``
(``videonet finetune train`` runs the same steps as ``finetune.trainer.train``).
"""

from __future__ import annotations

import logging
import sys

from videonet_datasets.finetune import ConfigError, DataError, parse_config
from videonet_datasets.finetune.schedule import make_optimizer, make_scheduler
from videonet_datasets.finetune.trainer import Trainer, load_model, load_train_data, start_run


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # 1. Settings: the paper's defaults < --config FILE.yaml < flags, checked as a whole.
        config = parse_config(argv)
        # accelerate for this launch (1 process to many nodes), the output directory, and the
        # checkpoint to continue from (resume_from_checkpoint=auto finds the latest one).
        run = start_run(config)

        # 2. Data: training clips with their 3 QA pairs (or benchmark rows), local or from the Hub.
        source = load_train_data(config, run)

        # 3. Model: Molmo2 + processor; frozen components, LoRA and activation checkpointing as set.
        model, processor = load_model(config, run, source)

        # 4. Optimizer: AdamW with one learning rate per component (ViT / connector / LLM), and
        # the schedule (warmup, then cosine to min_lr_ratio).
        optimizer = make_optimizer(model, config)
        scheduler = make_scheduler(optimizer, config)

        # 5. The loop: each optimizer step is Trainer.training_step (the loss over every answer
        # token of the step's global_batch_size clips); step-end hooks log, checkpoint and
        # evaluate (trainer.add_hook(fn) adds yours).
        trainer = Trainer(config, run, model, processor, optimizer, scheduler, source)
        trainer.train()

        # 6. Save and evaluate: the last checkpoint, save_pretrained of model + processor to
        # OUTPUT/final, and lmms-eval's videonet tasks on it when eval_data is set.
        trainer.finish()
    except (ConfigError, DataError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Fine-tune Molmo2 on VideoNet data: the paper's recipe (§4.2, App. G.2), one GPU to many nodes.

    accelerate launch recipes/finetune_molmo2.py --config recipes/configs/molmo2_4b_videonet.yaml
    accelerate launch --config_file recipes/accelerate/multi_gpu.yaml recipes/finetune_molmo2.py \\
        --config recipes/configs/molmo2_4b_videonet.yaml --dataset path/to/videonet-train --llm_lr 2e-5

Every setting is a flag (``--help``); ``--config FILE.yaml`` supplies defaults that flags
override.  Gradient accumulation follows from ``global_batch_size`` and the number of
processes.  See ``recipes/README.md`` for launch configurations, resuming, LoRA, memory
arithmetic and evaluation; the code lives in ``videonet_datasets/finetune/``.
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> int:
    from videonet_datasets.finetune import main as finetune_main

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return finetune_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""Optimizer and learning-rate schedule of the recipe.

* AdamW over one parameter group per component (ViT / connector / LLM, each with its own
  learning rate: the paper's 5e-6 / 5e-6 / 1e-5), built by
  :func:`videonet_datasets.molmo2.param_groups`, which refuses a parameter that fits no
  group or several.
* The schedule is transformers' (``get_scheduler``), so every name the HF ``Trainer`` knows
  works; the paper's is ``cosine_with_min_lr``: linear warmup from 0, then a half cosine from
  each group's rate down to ``min_lr_ratio`` (0.1) of it at ``max_steps``.
  :func:`cosine_with_min_lr_factor` is that formula written out (the tests compare the two).

The scheduler is *not* handed to ``accelerator.prepare``: a prepared scheduler steps once per
process per optimizer step unless ``step_scheduler_with_optimizer=False``; the training loop
steps it itself once per optimizer step and registers it for checkpointing.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from videonet_datasets.molmo2 import param_groups

from .config import FinetuneConfig

__all__ = ["cosine_with_min_lr_factor", "make_optimizer", "make_scheduler"]


def make_optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.AdamW:
    """AdamW with one named group per trainable component (frozen components get none)."""
    groups = param_groups(model, config.lrs(), weight_decay=config.weight_decay)
    if not groups:
        raise ValueError("the model has no trainable parameter")
    return torch.optim.AdamW(
        groups,
        lr=config.llm_lr,  # every group sets its own; this is only the API's required default
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: FinetuneConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    from transformers import get_scheduler

    kwargs = {"min_lr_rate": config.min_lr_ratio} if config.lr_scheduler_type == "cosine_with_min_lr" else {}
    return get_scheduler(
        config.lr_scheduler_type,
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=config.max_steps,
        scheduler_specific_kwargs=kwargs,
    )


def cosine_with_min_lr_factor(step: int, *, warmup_steps: int, max_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of each group's learning rate for optimizer step ``step`` (0-based).

    ``step / warmup`` during warmup; then ``r + (1 - r) * (1 + cos(pi * p)) / 2`` with
    ``p = (step - warmup) / (max_steps - warmup)``, so the rate is the full one right after
    warmup and ``r`` times it at ``max_steps``.
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

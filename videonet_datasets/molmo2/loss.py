"""Answer-only loss that never materialises the full (sequence x vocabulary) logits.

Molmo2-4B's vocabulary is 151,936: the logits of a 5,000-token packed row are ~3 GB in
float32, although only a handful of answer tokens carry labels.  ``logits_to_keep`` with
a boolean (B, L) mask makes the model apply ``lm_head`` to those positions only.  The
call goes through the model's own ``forward`` (not ``model.model``), so DDP/FSDP/PEFT
wrappers see a normal forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .inputs import IGNORE_INDEX

__all__ = ["AnswerLoss", "answer_loss", "answer_positions", "model_inputs"]

#: Batch keys that are bookkeeping, not model arguments.
_NOT_MODEL_INPUTS = ("labels", "segment_ids")


@dataclass
class AnswerLoss:
    """``loss`` = mean over answer tokens (+ z-loss); ``loss_sum``/``n_tokens`` let gradient
    accumulation normalise by the tokens of the whole optimizer step."""

    loss: torch.Tensor
    loss_sum: torch.Tensor
    n_tokens: int
    logits: torch.Tensor  # (n_tokens, vocab), float32, in (row, position) order
    targets: torch.Tensor  # (n_tokens,)
    token_loss: torch.Tensor  # (n_tokens,) cross-entropy per answer token


def answer_positions(labels: torch.Tensor) -> torch.Tensor:
    """(B, L) bool: positions whose logits predict a labelled token (the next one)."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return keep


def model_inputs(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch without the keys the model does not take."""
    return {k: v for k, v in batch.items() if k not in _NOT_MODEL_INPUTS}


def answer_loss(
    model: nn.Module, batch: Mapping[str, torch.Tensor], *, z_loss_weight: float = 0.0
) -> AnswerLoss:
    """Cross-entropy on the answer tokens of a batch from ``collate_examples`` or ``collate_packed``.

    ``z_loss_weight`` adds ``w * mean(logsumexp(logits)^2)`` (allenai's SFT uses 1e-4) to keep
    the softmax normaliser near 1.
    """
    labels = batch["labels"]
    keep = answer_positions(labels)
    n_tokens = int(keep.sum())
    if n_tokens == 0:
        raise ValueError("the batch has no labelled answer tokens")
    out = model(**model_inputs(batch), logits_to_keep=keep, use_cache=False)
    logits = out.logits.float().reshape(n_tokens, -1)
    targets = labels[:, 1:][keep[:, :-1]]
    token_loss = F.cross_entropy(logits, targets, reduction="none")
    loss_sum = token_loss.sum()
    loss = loss_sum / n_tokens
    if z_loss_weight:
        loss = loss + z_loss_weight * torch.logsumexp(logits, dim=-1).pow(2).mean()
    return AnswerLoss(loss, loss_sum, n_tokens, logits, targets, token_loss)

"""GRPO's arithmetic: group-relative advantages, per-token log-probabilities, the clipped objective.

For a question ``q`` with ``G`` sampled answers ``o_1..o_G`` and rewards ``r_1..r_G``
(DeepSeekMath, Shao et al. 2024; DAPO, Yu et al. 2025; Dr. GRPO, Liu et al. 2025):

* advantage ``A_i = (r_i - mean(r)) / (std(r) + eps)`` (``scale_rewards="group"``; ``std`` is the
  sample standard deviation, as TRL's) or ``A_i = r_i - mean(r)`` (``"none"``, Dr. GRPO).  Every
  token of answer ``i`` gets ``A_i``; a group whose answers all score the same teaches nothing
  (``A = 0``) - the training log reports their share (``train/zero_std_frac``);
* the per-token ratio ``rho = pi_theta(o_t | ...) / pi_old(o_t | ...)`` (``pi_old`` = the policy that
  sampled; with one optimizer step per generation round ``rho = 1`` in value and only its gradient
  matters), and the per-token loss

      l_t = -min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A) + beta * KL_t,
      KL_t = exp(ref - logp) - (ref - logp) - 1          (Schulman's k3 estimator, >= 0)

* the step's objective ``sum_t w_t * l_t`` with the weight ``w_t`` of the token's answer:
  ``grpo`` ``1 / (|o_i| * N)`` (mean over an answer's tokens, then over answers), ``dapo``
  ``1 / T`` (every token of the step alike), ``dr_grpo`` ``1 / (N * L_max)``; ``N`` answers and
  ``T`` answer tokens are counted over the *whole step and every process*, so - as in the
  supervised loop - the update does not depend on micro-batching or the number of GPUs.

Log-probabilities are of the sampling distribution: logits divided by the temperature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from videonet_datasets.molmo2 import answer_positions, model_inputs

__all__ = [
    "PolicyLoss",
    "answer_weights",
    "group_advantages",
    "policy_loss",
    "token_logprobs",
]


def group_advantages(rewards: torch.Tensor, scale: str = "group", eps: float = 1e-4) -> torch.Tensor:
    """``rewards`` (questions, G) -> advantages of the same shape, relative to each row (group)."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (questions, G >= 2), got {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale == "group":
        return centred / (rewards.std(dim=1, keepdim=True) + eps)
    if scale == "none":
        return centred
    raise ValueError(f"scale must be 'group' or 'none', got {scale!r}")


def answer_weights(
    lengths: Sequence[int], loss_type: str, *, n_answers: int, n_tokens: int, max_completion_length: int
) -> list[float]:
    """The per-token weight of each answer (``lengths``: its trained tokens) for ``loss_type``;
    ``n_answers``/``n_tokens`` are the step's totals over all processes."""
    if loss_type == "grpo":
        return [1.0 / (n * n_answers) if n else 0.0 for n in lengths]
    if loss_type == "dapo":
        return [1.0 / n_tokens if n_tokens else 0.0 for _ in lengths]
    if loss_type == "dr_grpo":
        return [1.0 / (n_answers * max_completion_length) for _ in lengths]
    raise ValueError(f"unknown loss_type {loss_type!r}")


def token_logprobs(
    model: nn.Module, batch: Mapping[str, torch.Tensor], temperature: float = 1.0
) -> torch.Tensor:
    """log pi(token) of every labelled token of ``batch``, in (row, position) order.

    Only the labelled positions go through ``lm_head`` (``logits_to_keep``: no sequence x vocabulary
    tensor), and the log-softmax is a gather minus a logsumexp (no second vocabulary-sized tensor).
    """
    labels = batch["labels"]
    keep = answer_positions(labels)
    n_tokens = int(keep.sum())
    if n_tokens == 0:
        raise ValueError("the batch has no labelled tokens")
    out = model(**model_inputs(batch), logits_to_keep=keep, use_cache=False)
    logits = out.logits.float().reshape(n_tokens, -1) / temperature
    targets = labels[:, 1:][keep[:, :-1]]
    return logits.gather(-1, targets[:, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)


@dataclass
class PolicyLoss:
    """Per-token loss and what to log about it."""

    loss: torch.Tensor  # (n,) per-token l_t
    ratio: torch.Tensor  # (n,) rho, detached
    clipped: torch.Tensor  # (n,) bool: the clipped term was the smaller one (no gradient through rho)
    kl: torch.Tensor | None  # (n,) k3 estimate, detached


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    epsilon_low: float,
    epsilon_high: float,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
) -> PolicyLoss:
    """GRPO's per-token loss (see the module docstring); all inputs are (n,) over the labelled tokens."""
    ratio = torch.exp(logp - old_logp)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - epsilon_low, 1.0 + epsilon_high) * advantages
    loss = -torch.minimum(unclipped, clipped)
    kl = None
    if beta:
        if ref_logp is None:
            raise ValueError("beta > 0 needs the reference model's log-probabilities")
        delta = ref_logp - logp
        kl_t = torch.exp(delta) - delta - 1.0
        loss = loss + beta * kl_t
        kl = kl_t.detach()
    return PolicyLoss(loss, ratio.detach(), (clipped < unclipped).detach(), kl)

"""Is the visual pathway alive?  Measurements for tests and training logs.

A Molmo2 can lower its loss from the text alone (answer priors, option order) while the
pixels have no effect: with transformers' default init a tiny model's video features are
~3e-8 and its ViT gradients ~1e-7.  Any claim that the model "learns from video" should
come with these numbers: the scale of the video features against the token embeddings,
how much the answer logits move when the pixels change, and the gradient norm that
reaches each component.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from .loss import answer_loss
from .params import COMPONENTS, component_of

__all__ = [
    "VisualPathway",
    "component_grad_norms",
    "pixel_sensitivity",
    "probe_visual_pathway",
    "visual_feature_scale",
]


def _unwrap(model: nn.Module) -> nn.Module:
    """The Molmo2ForConditionalGeneration inside DDP/PEFT wrappers."""
    while not hasattr(model, "get_video_features"):
        inner = (
            getattr(model, "module", None)
            or getattr(model, "base_model", None)
            or getattr(model, "model", None)
        )
        if inner is None or inner is model:
            raise TypeError(f"{type(model).__name__} is not (a wrapper of) a Molmo2 model")
        model = inner
    return model


def _rms(x: torch.Tensor) -> float:
    return float(x.detach().float().pow(2).mean().sqrt())


@torch.no_grad()
def visual_feature_scale(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """RMS of the video features the adapter adds to the patch tokens, RMS of the text-token
    embeddings of the batch, and their ratio (features/embeddings; ~1e-6 means "blind")."""
    inner = _unwrap(model)
    if "pixel_values_videos" not in batch:
        raise ValueError("the batch has no video")
    features = inner.get_video_features(
        batch["pixel_values_videos"], batch["video_token_pooling"], batch["video_grids"]
    ).pooler_output
    embeddings = inner.get_input_embeddings()(batch["input_ids"])
    text = batch["mm_token_type_ids"] == 0
    if "attention_mask" in batch and batch["attention_mask"].dim() == 2:
        text &= batch["attention_mask"].bool()
    feature_rms = _rms(torch.cat(list(features)))
    embedding_rms = _rms(embeddings[text])
    return {"feature_rms": feature_rms, "embedding_rms": embedding_rms, "ratio": feature_rms / embedding_rms}


def component_grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of the current ``.grad`` of each component (0.0 where there is none)."""
    sums = dict.fromkeys(COMPONENTS, 0.0)
    for name, param in model.named_parameters():
        if param.grad is not None:
            sums[component_of(name)] += float(param.grad.detach().float().pow(2).sum())
    return {name: total**0.5 for name, total in sums.items()}


@torch.no_grad()
def pixel_sensitivity(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> float:
    """Largest change of the answer logits when every pixel is inverted (x -> -x in the
    normalised [-1, 1] space), relative to the logits' standard deviation."""
    base = answer_loss(model, batch).logits
    flipped = dict(batch)
    flipped["pixel_values_videos"] = -batch["pixel_values_videos"]
    other = answer_loss(model, flipped).logits
    return float((base - other).abs().max() / base.std().clamp_min(1e-12))


@dataclass
class VisualPathway:
    feature_rms: float
    embedding_rms: float
    feature_ratio: float
    pixel_sensitivity: float
    loss: float
    grad_norms: dict[str, float]


def probe_visual_pathway(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> VisualPathway:
    """All of the above on one batch: one forward/backward in the model's current mode.

    Gradients are cleared before and after, so call it between optimizer steps, not
    inside a gradient-accumulation window.
    """
    scale = visual_feature_scale(model, batch)
    sensitivity = pixel_sensitivity(model, batch)
    model.zero_grad(set_to_none=True)
    out = answer_loss(model, batch)
    out.loss.backward()
    norms = component_grad_norms(model)
    model.zero_grad(set_to_none=True)
    return VisualPathway(
        feature_rms=scale["feature_rms"],
        embedding_rms=scale["embedding_rms"],
        feature_ratio=scale["ratio"],
        pixel_sensitivity=sensitivity,
        loss=out.loss.item(),
        grad_norms=norms,
    )

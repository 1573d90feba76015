"""Load Molmo2 for training: base weights, processor, freezing, LoRA, activation checkpointing.

LoRA targets are anchored regexes per component, not bare module names: Molmo2's connector
reuses the LLM's ``q_proj`` / ``gate_proj`` names, so ``target_modules=["q_proj", ...]`` would
also put adapters in the connector, which the recipe trains fully instead (it is listed in
``modules_to_save``, so PEFT keeps a trainable copy and never adapts it).  Under LoRA a
component without adapters is frozen; the connector is trained unless ``freeze_connector``.

The processor is saved with the training's frame sampling (``max_fps``/``num_frames``) and
explicit ``do_rescale``/``do_normalize``, so a user who hands it a video file gets the frames
the model was trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from videonet_datasets.molmo2 import component_of

from .config import FinetuneConfig

log = logging.getLogger(__name__)

__all__ = [
    "CONNECTOR_MODULE",
    "LORA_TARGETS",
    "apply_freezing",
    "build_tiny_if_missing",
    "configure_processor",
    "load_model_and_processor",
    "lora_config",
    "prepare_model",
    "separate_shared_storage",
    "trainable_summary",
]

#: The connector's module (trained fully under LoRA).
CONNECTOR_MODULE = "multi_modal_projector"
#: Per component, the linear layers that get LoRA adapters (full-match regexes on module names).
LORA_TARGETS: dict[str, str] = {
    "llm": r"model\.language_model\.layers\.\d+\.(?:self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)",
    "vit": r"model\.vision_tower\.layers\.\d+\.(?:self_attn\.[qkvo]_proj|mlp\.fc[12])",
}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


def build_tiny_if_missing(config: FinetuneConfig, extra_corpus: Iterable[str] = ()) -> bool:
    """Build the tiny random Molmo2 at ``model_name_or_path`` unless one is there.  True if built."""
    from videonet_datasets.molmo2 import build_tiny_molmo2

    path = Path(config.model_name_or_path)
    if (path / "config.json").is_file():
        return False
    built = build_tiny_molmo2(
        path,
        seed=config.tiny_model_seed,
        extra_corpus=extra_corpus,
        embed_std=config.tiny_embed_std,
        **config.tiny_sizes(),
    )
    log.info("built a tiny random Molmo2 (%d parameters) at %s", built.num_parameters, path)
    return True


def configure_processor(processor: Any, config: FinetuneConfig) -> Any:
    """Training-time frame settings on the video processor (see the module docstring)."""
    video = processor.video_processor
    for name in ("do_rescale", "do_normalize"):
        if getattr(video, name, None) is None:
            setattr(video, name, True)
    video.max_fps = config.fps
    video.num_frames = config.max_frames
    return processor


def load_model_and_processor(config: FinetuneConfig) -> tuple[nn.Module, Any]:
    """The base model (``AutoModelForImageTextToText``) and its processor."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(config.model_name_or_path, revision=config.revision)
    model = AutoModelForImageTextToText.from_pretrained(
        config.model_name_or_path,
        revision=config.revision,
        dtype=_DTYPES[config.dtype],
        attn_implementation=config.attn_implementation,
    )
    separate_shared_storage(model)
    return model, configure_processor(processor, config)


def separate_shared_storage(model: nn.Module) -> int:
    """Give every parameter its own storage; returns how many were copied.

    Loading Molmo2 from the hub's key layout splits its fused tensors (``att_proj`` ->
    q/k/v, ``ff_proj`` -> gate/up) into *views* of one storage.  ``save_state`` (safetensors)
    keeps one name per storage and silently drops the others - k/v/up_proj would be missing
    from every checkpoint and a resumed run would train different weights.
    """
    seen: set[int] = set()
    copied = 0
    with torch.no_grad():
        for param in model.parameters():
            ptr = param.untyped_storage().data_ptr()
            if ptr in seen or param.untyped_storage().nbytes() != param.numel() * param.element_size():
                param.data = param.data.clone()
                copied += 1
            seen.add(param.untyped_storage().data_ptr())
    return copied


def apply_freezing(model: nn.Module, frozen: dict[str, bool]) -> None:
    """``requires_grad=False`` on every parameter of each frozen component."""
    for name, param in model.named_parameters():
        if frozen[component_of(name)]:
            param.requires_grad_(False)


def lora_config(config: FinetuneConfig):
    from peft import LoraConfig

    pattern = "|".join(f"(?:{LORA_TARGETS[c]})" for c in config.lora_components)
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=pattern,
        modules_to_save=None if config.freeze_connector else [CONNECTOR_MODULE],
        bias="none",
    )


def prepare_model(model: nn.Module, config: FinetuneConfig) -> nn.Module:
    """Freezing, activation checkpointing and LoRA as configured; returns the model to train."""
    model.config.use_cache = False
    if config.gradient_checkpointing:
        # Non-reentrant: works with frozen inputs (no enable_input_require_grads needed) and with FSDP2.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.use_lora:
        from peft import get_peft_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # LoRA's A matrices: the same on every process
            model = get_peft_model(model, lora_config(config))
        # PEFT freezes the base model; what stays trainable must also fit the component switches.
        apply_freezing(model, config.frozen())
    else:
        apply_freezing(model, config.frozen())
    model.train()
    return model


def trainable_summary(model: nn.Module) -> dict[str, dict[str, int]]:
    """``{component: {"trainable": n, "total": n}}`` in parameters."""
    out = {c: {"trainable": 0, "total": 0} for c in ("vit", "connector", "llm")}
    for name, param in model.named_parameters():
        entry = out[component_of(name)]
        entry["total"] += param.numel()
        if param.requires_grad:
            entry["trainable"] += param.numel()
    return out

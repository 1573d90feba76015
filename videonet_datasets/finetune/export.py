"""The trained model as a transformers directory: ``save_pretrained`` of model + processor.

The result loads with ``AutoModelForImageTextToText`` / ``AutoProcessor`` (and so with the
suite's lmms-eval model ``videonet_molmo2``): transformers 5.23 writes Molmo2 under the
hub's original key names, like ``allenai/Molmo2-4B``.  LoRA runs are saved merged (the
default: a plain Molmo2 directory) or as a PEFT adapter (``adapter_config.json`` +
``adapter_model.safetensors``, to load with ``PeftModel.from_pretrained`` on the base).
Merging reloads the base weights on the CPU and applies the saved adapter, so it works the
same whether training ran on one process or sharded (FSDP / DeepSpeed), and never touches
the model being trained.

:func:`export_checkpoint` turns any ``checkpoint-{step}`` folder into the same layout
(the evaluation hook uses it for intermediate checkpoints).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text

from .config import FinetuneConfig, config_to_dict

log = logging.getLogger(__name__)

__all__ = ["PROVENANCE_FILE", "export_checkpoint", "load_checkpoint_weights", "save_pretrained_model"]

PROVENANCE_FILE = "videonet_finetune.json"
_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def _cast(state_dict: Mapping[str, torch.Tensor], save_dtype: str) -> dict[str, torch.Tensor]:
    if save_dtype == "auto":
        return dict(state_dict)
    dtype = _DTYPES[save_dtype]
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}


def _record_dtype(model_dir: Path, save_dtype: str) -> None:
    """Make ``config.json`` say ``save_dtype``.

    ``save_pretrained`` writes the *live* model's dtype into the config, and
    ``from_pretrained``'s default (``dtype="auto"``) loads what the config says, whatever
    dtype the tensors were saved in: bf16 tensors under an fp32 config come back as fp32.
    """
    if save_dtype == "auto":
        return
    path = model_dir / "config.json"
    data = json.loads(path.read_text(encoding="utf-8"))

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if "dtype" in node:
                node["dtype"] = save_dtype
            for value in node.values():
                visit(value)

    visit(data)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _is_peft(model: nn.Module) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def save_pretrained_model(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    processor: Any,
    out_dir: str | Path,
    config: FinetuneConfig,
    *,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out_dir`` (replacing it): model (merged or adapter for LoRA) + processor + provenance.

    ``model`` is the unwrapped training model, ``state_dict`` its full weights (from
    ``accelerator.get_state_dict``, gathered when sharded).  Call on the main process only.
    """
    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    merged = False
    if _is_peft(model):
        if config.lora_merge:
            with tempfile.TemporaryDirectory(dir=staging.parent) as adapter_dir:
                model.save_pretrained(adapter_dir, state_dict=dict(state_dict))
                _merge_adapter(config, adapter_dir, staging)
            merged = True
        else:
            model.save_pretrained(staging, state_dict=_cast(state_dict, config.save_dtype))
    else:
        model.save_pretrained(staging, state_dict=_cast(state_dict, config.save_dtype))
    if not (_is_peft(model) and not config.lora_merge):
        _record_dtype(staging, config.save_dtype)
    processor.save_pretrained(staging)
    atomic_write_json(
        staging / PROVENANCE_FILE,
        {
            "base_model": config.model_name_or_path,
            "lora": config.use_lora,
            "lora_merged": merged,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **(dict(provenance) if provenance else {}),
            "config": config_to_dict(config),
        },
    )
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out


def _merge_adapter(config: FinetuneConfig, adapter_dir: str, out_dir: Path) -> None:
    """Base weights (CPU) + the saved adapter, merged, saved to ``out_dir``."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    # Merge at the training precision, then cast: merging in bf16 would round the small LoRA deltas.
    base = AutoModelForImageTextToText.from_pretrained(
        config.model_name_or_path, revision=config.revision, dtype=_DTYPES.get(config.dtype, "auto")
    )
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    if config.save_dtype != "auto":
        merged.to(_DTYPES[config.save_dtype])
    merged.save_pretrained(out_dir)


def load_checkpoint_weights(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """The full model weights of a ``checkpoint-{step}`` folder, wrapper prefixes removed.

    Single-process / DDP checkpoints hold ``model.safetensors``; FSDP checkpoints with a sharded
    state dict are merged with accelerate's ``merge_fsdp_weights``; DeepSpeed ZeRO ones with
    DeepSpeed's ``zero_to_fp32``.
    """
    from safetensors.torch import load_file

    ckpt = Path(checkpoint)
    if (ckpt / "model.safetensors").is_file():
        weights = load_file(ckpt / "model.safetensors")
    elif (ckpt / "pytorch_model_fsdp_0").is_dir():
        from accelerate.utils import merge_fsdp_weights

        with tempfile.TemporaryDirectory() as tmp:
            merge_fsdp_weights(str(ckpt / "pytorch_model_fsdp_0"), tmp, safe_serialization=True)
            weights = load_file(Path(tmp) / "model.safetensors")
    elif (ckpt / "pytorch_model").is_dir():
        try:
            from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
        except ImportError as e:
            raise ImportError(f"{ckpt} is a DeepSpeed checkpoint: install deepspeed to export it") from e
        weights = get_fp32_state_dict_from_zero_checkpoint(str(ckpt), tag="pytorch_model")
    else:
        raise FileNotFoundError(
            f"{ckpt}: no model weights (model.safetensors, pytorch_model_fsdp_0/ or pytorch_model/)"
        )
    out = {}
    for key, value in weights.items():
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, *, lora_merge: bool | None = None) -> Path:
    """``checkpoint-{step}`` -> a ``save_pretrained`` directory (the model rebuilt from its config)."""
    from .checkpoint import CONFIG_FILE, read_trainer_state
    from .config import FinetuneConfig, load_config_file
    from .model import load_model_and_processor, prepare_model

    ckpt = Path(checkpoint)
    state = read_trainer_state(ckpt)
    config_class: type[FinetuneConfig] = FinetuneConfig
    if state.get("trainer") == "grpo":  # the reinforcement fine-tuning's settings extend the supervised ones
        from .grpo_config import GRPOConfig

        config_class = GRPOConfig
    config = config_class(**load_config_file(ckpt / CONFIG_FILE, config_class))
    if lora_merge is not None:
        config.lora_merge = lora_merge
    model, processor = load_model_and_processor(config)
    model = prepare_model(model, config)
    weights = load_checkpoint_weights(ckpt)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{ckpt}: weights do not fit the model built from its config: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})"
        )
    return save_pretrained_model(
        model, model.state_dict(), processor, out_dir, config,
        provenance={"checkpoint": str(ckpt.resolve()), "step": state.get("step")},
    )  # fmt: skip

"""The fine-tuning recipe's settings: one dataclass, a YAML file, command-line overrides.

Same conventions as TRL's and transformers' example scripts: the fields of
:class:`FinetuneConfig` are the command-line flags (``--llm_lr 2e-5``, ``--no_packing``), and
``--config FILE.yaml`` supplies defaults that any flag overrides.  Unlike
``HfArgumentParser.set_defaults`` on raw YAML, every YAML value is checked and converted by the
project's one config loader (:mod:`videonet_datasets.config`): PyYAML reads ``5e-6`` (no dot) as a
*string*, and an unknown key (a typo such as ``lm_lr``) must fail with the file and the key.

The defaults are the paper's recipe (paper §4.2 and App. G.2) with allenai's SFT
optimizer settings (AdamW betas (0.9, 0.95), eps 1e-6, no weight decay, clip 1.0, 200 warmup
steps, z-loss 1e-4); ``recipes/configs/`` holds the paper config and a tiny CPU config.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from videonet_datasets import config as _config
from videonet_datasets.config import ConfigError, config_to_dict, dump_config, parse_key_values
from videonet_datasets.config import setting as _f

__all__ = [
    "COMPONENT_NAMES",
    "ConfigError",
    "FinetuneConfig",
    "config_to_dict",
    "dump_config",
    "load_config_file",
    "parse_config",
]

COMPONENT_NAMES = ("vit", "connector", "llm")
REPORT_TO = ("tensorboard", "wandb", "none", "all")


@dataclass
class FinetuneConfig:
    """Every setting of ``recipes/finetune_molmo2.py`` (defaults = the paper's Molmo2-4B run)."""

    DESCRIPTION: ClassVar[str] = "Fine-tune Molmo2 on VideoNet (paper §4.2)."

    # ------------------------------------------------------------------ model
    model_name_or_path: str = _f("allenai/Molmo2-4B", "Hub id or local directory of a Molmo2 checkpoint.")
    revision: str | None = _f(None, "Hub revision of the model.")
    build_tiny_model: bool = _f(
        False,
        "Build a tiny random Molmo2 at model_name_or_path if nothing is there yet (tests, CPU demo).",
    )
    tiny_model_spec: str = _f(
        "", "TinyMolmo2Config overrides for build_tiny_model, e.g. 'image_size=56,text_layers=2'."
    )
    tiny_model_seed: int = _f(0, "Seed of the tiny model's initialisation.")
    tiny_embed_std: float | None = _f(
        None,
        "build_tiny_model: re-draw the token and ViT position embeddings from N(0, this std) (1.0 lets a "
        "tiny random model learn from pixels; None keeps transformers' 0.02 - see molmo2/tiny.py).",
    )
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = _f(
        "float32",
        "Weight dtype when loading. float32 + mixed_precision=bf16 keeps fp32 master weights (the paper's "
        "learning rates of 5e-6 are below bf16 resolution for most weights).",
    )
    attn_implementation: str = _f(
        "sdpa",
        "Attention kernel: sdpa or eager (packing needs a 4D mask, which flash attention cannot take).",
    )
    gradient_checkpointing: bool = _f(False, "Activation checkpointing (recompute layer activations).")
    freeze_vit: bool = _f(False, "Do not train the vision transformer.")
    freeze_connector: bool = _f(False, "Do not train the connector (pooling attention + MLP).")
    freeze_llm: bool = _f(False, "Do not train the language model (and lm_head).")
    use_lora: bool = _f(False, "LoRA on the components in lora_components; the connector is trained fully.")
    lora_components: list[str] = _f(["llm"], "Components that get LoRA adapters: llm and/or vit.")
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA alpha.")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_merge: bool = _f(True, "Save the final model with the adapters merged (else the adapter alone).")

    # ------------------------------------------------------------------ data
    dataset: str = _f(
        "videonet-train",
        "Training data: a local dataset directory (training data or a built benchmark), or a Hub "
        "dataset id (namespace/name[@revision]).",
    )
    dataset_config: str = _f(
        "single_action",
        "Config name: a training filter (single_action, transcript_localized, "
        "transcript_localized_title_match) or benchmark configs, comma-separated (e.g. mc,binary_0shot).",
    )
    dataset_split: str = _f("train", "Split to train on.")
    dataset_format: Literal["auto", "train", "benchmark"] = _f(
        "auto", "Row format: training data (one row per clip with 3 QAs), benchmark rows, or detect."
    )
    streaming: bool = _f(False, "Stream the rows (large sets); videos are fetched per clip.")
    shuffle_buffer: int = _f(2048, "Shuffle buffer of a streamed dataset.")
    max_train_clips: int | None = _f(None, "Use only the first N clips (quick experiments).")
    skip_missing_videos: bool = _f(
        False, "Leave out (and count) clips whose video file is missing instead of stopping."
    )
    fps: float = _f(4.0, "Frames per second sampled from each clip (paper: 4).")
    max_frames: int = _f(64, "At most this many frames; longer clips are sampled uniformly (paper: 64).")
    decode_threads: int = _f(1, "FFmpeg threads per clip decode (1 is fastest per core with loader workers).")
    packing: bool = _f(True, "Pack the QA pairs of a clip in one sequence (paper App. G.2).")
    shuffle_options: bool = _f(
        False,
        "Re-draw the option order of every MC question per epoch, so the letter has to be read, not "
        "recalled (not in the paper, whose QA pairs are fixed; needed when a small set is seen for many "
        "epochs: docs/demo_experiments.md round 5).",
    )
    dataloader_num_workers: int = _f(0, "Data-loader worker processes per training process.")

    # ------------------------------------------------------------------ optimisation
    max_steps: int = _f(8000, "Optimizer steps (paper: 8,000).")
    global_batch_size: int = _f(
        128, "Clips per optimizer step over all processes (paper: 128); sets gradient accumulation."
    )
    per_device_batch_size: int = _f(1, "Clips per forward pass on each process.")
    vit_lr: float = _f(5e-6, "Learning rate of the vision transformer (paper: 5e-6).")
    connector_lr: float = _f(5e-6, "Learning rate of the connector (paper: 5e-6).")
    llm_lr: float = _f(1e-5, "Learning rate of the language model (paper: 1e-5).")
    lr_scheduler_type: str = _f(
        "cosine_with_min_lr", "A transformers scheduler name (cosine_with_min_lr, constant_with_warmup, ...)."
    )
    warmup_steps: int = _f(200, "Linear warmup steps.")
    min_lr_ratio: float = _f(0.1, "cosine_with_min_lr: final learning rate / initial (paper: 0.1).")
    adam_beta1: float = _f(0.9, "AdamW beta1.")
    adam_beta2: float = _f(0.95, "AdamW beta2.")
    adam_epsilon: float = _f(1e-6, "AdamW epsilon.")
    weight_decay: float = _f(0.0, "AdamW weight decay (not applied to biases, norms, embeddings).")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0 = off).")
    z_loss_weight: float = _f(1e-4, "Weight of the z-loss mean(logsumexp(logits)^2).")
    mixed_precision: Literal["no", "bf16", "fp16"] = _f("bf16", "accelerate mixed precision.")
    seed: int = _f(0, "Seed of the data order, LoRA init and dropout.")

    # ------------------------------------------------------------------ run
    output_dir: str = _f("runs/molmo2-4b-videonet", "Checkpoints, logs and the final model go here.")
    resume_from_checkpoint: str = _f(
        "auto",
        "auto: continue from the latest checkpoint in output_dir if there is one; none: start fresh "
        "(refused if output_dir has checkpoints, unless overwrite_output_dir); or a checkpoint path.",
    )
    overwrite_output_dir: bool = _f(False, "Allow a fresh run to delete the checkpoints in output_dir.")
    save_steps: int = _f(500, "Save a checkpoint every N optimizer steps (0 = only at the end).")
    save_total_limit: int | None = _f(3, "Keep only the newest N checkpoints.")
    save_final_model: bool = _f(True, "save_pretrained the model + processor to output_dir/final.")
    save_dtype: Literal["auto", "bfloat16", "float32", "float16"] = _f(
        "auto", "dtype of the saved model's weights (auto: as trained)."
    )
    logging_steps: int = _f(10, "Log loss, grad norm, learning rates and throughput every N steps.")
    report_to: list[str] = _f(["tensorboard"], "accelerate trackers: tensorboard, wandb, all or none.")
    run_name: str | None = _f(None, "Tracker run name (default: the output directory's name).")
    log_component_grad_norms: bool = _f(
        True, "Also log the gradient norm of the ViT / connector / LLM (not under FSDP/DeepSpeed)."
    )
    num_threads: int | None = _f(None, "torch.set_num_threads for each process (CPU runs).")
    find_unused_parameters: bool = _f(False, "DDP find_unused_parameters (frozen parts that still run).")
    ddp_timeout: int = _f(
        7200, "Seconds a process waits at a collective (the main process may be evaluating)."
    )
    progress_bar: bool = _f(True, "Show a tqdm bar on the main process.")

    # ------------------------------------------------------------------ evaluation
    eval_data: str | None = _f(
        None, "Benchmark directory or Hub id for the evaluation hook (unset: no evaluation)."
    )
    eval_tasks: str = _f("videonet_mc_val", "lmms-eval tasks of the evaluation hook, comma-separated.")
    eval_steps: int = _f(0, "Also evaluate every N steps (0: only after training).")
    eval_at_end: bool = _f(True, "Evaluate the final model (needs eval_data).")
    eval_limit: int | None = _f(None, "lmms-eval --limit (questions per task) for quick checks.")
    eval_model: str = _f("videonet_molmo2", "lmms-eval model name used by the hook.")
    eval_model_args: str = _f("", "Extra lmms-eval --model_args, comma-separated key=value.")

    # ------------------------------------------------------------------ derived / checks
    def lrs(self) -> dict[str, float]:
        """Learning rate per component, in the form ``param_groups`` takes."""
        return {"vit": self.vit_lr, "connector": self.connector_lr, "llm": self.llm_lr}

    def frozen(self) -> dict[str, bool]:
        return {"vit": self.freeze_vit, "connector": self.freeze_connector, "llm": self.freeze_llm}

    def gradient_accumulation_steps(self, num_processes: int) -> int:
        """Micro-batches per optimizer step on each process: global / (per-device x processes)."""
        per_step = self.per_device_batch_size * num_processes
        if self.global_batch_size % per_step:
            raise ConfigError(
                f"global_batch_size {self.global_batch_size} is not a multiple of per_device_batch_size "
                f"{self.per_device_batch_size} x {num_processes} process(es) = {per_step}"
            )
        return self.global_batch_size // per_step

    def validate(self) -> FinetuneConfig:
        """Check value ranges and combinations; returns self.  Raises :class:`ConfigError`."""
        errors: list[str] = []
        positive = ("max_steps", "global_batch_size", "per_device_batch_size", "fps", "max_frames",
                    "logging_steps", "lora_r", "shuffle_buffer", "decode_threads")  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                errors.append(f"{name} must be > 0, got {getattr(self, name)!r}")
        non_negative = ("warmup_steps", "save_steps", "eval_steps", "weight_decay", "max_grad_norm",
                        "z_loss_weight", "dataloader_num_workers", "lora_dropout")  # fmt: skip
        for name in non_negative:
            if getattr(self, name) < 0:
                errors.append(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("vit_lr", "connector_lr", "llm_lr"):
            if getattr(self, name) < 0:
                errors.append(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            errors.append(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.warmup_steps > self.max_steps:
            errors.append(f"warmup_steps ({self.warmup_steps}) exceeds max_steps ({self.max_steps})")
        if self.global_batch_size % self.per_device_batch_size:
            errors.append(
                f"global_batch_size {self.global_batch_size} is not a multiple of per_device_batch_size "
                f"{self.per_device_batch_size}"
            )
        bad = sorted(set(self.lora_components) - {"llm", "vit"})
        if bad:
            errors.append(
                f"lora_components must be among llm, vit (the connector is trained fully), got {bad}"
            )
        if self.use_lora and not self.lora_components:
            errors.append("use_lora needs at least one of lora_components: llm, vit")
        if self.use_lora:
            frozen = [c for c in self.lora_components if self.frozen()[c]]
            if frozen:
                errors.append(
                    f"LoRA on frozen component(s) {frozen}: unfreeze them or drop them from lora_components"
                )
        if all(self.frozen().values()):
            errors.append("every component is frozen: nothing to train")
        if self.packing and "flash" in self.attn_implementation:
            errors.append(
                f"packing needs a 4D attention mask, which {self.attn_implementation} cannot take: "
                "use attn_implementation=sdpa or eager, or --no_packing"
            )
        bad_report = sorted(set(self.report_to) - set(REPORT_TO))
        if bad_report:
            errors.append(f"report_to must be among {REPORT_TO}, got {bad_report}")
        if self.streaming and self.max_train_clips is not None:
            errors.append("max_train_clips needs a non-streamed dataset (take a slice of the data instead)")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            errors.append(f"save_total_limit must be >= 1 or unset, got {self.save_total_limit}")
        if self.eval_steps and not self.eval_data:
            errors.append("eval_steps is set but eval_data is not: the hook needs a benchmark")
        if self.num_threads is not None and self.num_threads < 1:
            errors.append(f"num_threads must be >= 1, got {self.num_threads}")
        if self.tiny_model_spec and not self.build_tiny_model:
            errors.append("tiny_model_spec is set but build_tiny_model is not")
        if self.tiny_embed_std is not None and not self.tiny_embed_std > 0:
            errors.append(f"tiny_embed_std must be > 0 (or null), got {self.tiny_embed_std}")
        if errors:
            raise ConfigError("invalid fine-tuning settings:\n  " + "\n  ".join(errors))
        return self

    def tiny_sizes(self) -> dict[str, Any]:
        """``tiny_model_spec`` parsed into TinyMolmo2Config keyword arguments."""
        from videonet_datasets.molmo2 import TinyMolmo2Config

        return parse_key_values(self.tiny_model_spec, TinyMolmo2Config, where="tiny_model_spec")


# ---------------------------------------------------------------------------- YAML + CLI


def load_config_file(path: str | Path, config_class: type[FinetuneConfig] | None = None) -> dict[str, Any]:
    """The settings of a YAML file, checked against ``config_class`` (default :class:`FinetuneConfig`) and typed."""
    return _config.load_config_file(config_class or FinetuneConfig, path)


def _parser(config_class: type[FinetuneConfig]) -> argparse.ArgumentParser:
    from transformers import HfArgumentParser

    parser = HfArgumentParser(config_class, description=config_class.DESCRIPTION)
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of settings; flags override it.")
    return parser


def parse_config(argv: list[str] | None = None, config_class: type[FinetuneConfig] | None = None) -> Any:
    """``--config FILE.yaml`` plus flag overrides -> a validated config (:class:`FinetuneConfig`, or
    ``config_class``: a subclass such as the reinforcement fine-tuning's ``GRPOConfig``)."""
    import sys

    config_class = config_class or FinetuneConfig
    argv = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    parser = _parser(config_class)
    if known.config:
        parser.set_defaults(**load_config_file(known.config, config_class))
    namespace, extra = parser.parse_known_args(argv)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    values = {k: v for k, v in vars(namespace).items() if k != "config"}
    return config_class(**values).validate()

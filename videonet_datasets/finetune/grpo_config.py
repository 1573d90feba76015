"""The reinforcement fine-tuning's settings: :class:`FinetuneConfig` plus GRPO's own.

``recipes/grpo_molmo2.py`` is the supervised recipe's sibling, so its settings are the same
dataclass extended (model, data, optimizer, schedule, checkpoints, trackers and evaluation
mean the same thing in both), read the same way: ``--config FILE.yaml`` then flags, through
the project's one config loader (:mod:`videonet_datasets.config`).  What changes meaning:

* ``global_batch_size`` counts *questions* per generation round over all processes (each
  gets ``num_generations`` sampled answers), ``per_device_batch_size`` the questions of one
  micro-batch; gradient accumulation follows as in the supervised recipe;
* one generation round feeds ``num_iterations`` optimizer steps (GRPO's mu), so ``max_steps``
  and ``save_steps`` must be multiples of it (a checkpoint never falls inside a round).

The defaults are a Molmo2-4B run (``recipes/configs/grpo_molmo2_4b.yaml`` spells them out);
``recipes/configs/grpo_video_star.yaml`` is Video-STAR's setting where it applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from videonet_datasets.config import ConfigError, split_key_values
from videonet_datasets.config import setting as _f

from .config import FinetuneConfig, parse_config

__all__ = ["GRPOConfig", "parse_grpo_config", "parse_reward_weights"]

LOSS_TYPES = ("grpo", "dapo", "dr_grpo")


def parse_reward_weights(text: str, where: str = "reward_weights") -> dict[str, float]:
    """``"correctness=1, format=0.5"`` -> ``{"correctness": 1.0, "format": 0.5}`` (the project's
    one ``key=value`` parser); names are checked against the reward registry by the caller."""
    out: dict[str, float] = {}
    for name, value in split_key_values(text, where=where, form="NAME=WEIGHT"):
        if name in out:
            raise ConfigError(f"{where}: {name!r} is given twice")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"{where}: weight of {name!r} must be a number, got {value!r}") from None
    return out


@dataclass
class GRPOConfig(FinetuneConfig):
    """Every setting of ``recipes/grpo_molmo2.py``: the supervised recipe's plus GRPO's."""

    DESCRIPTION: ClassVar[str] = (
        "Reinforcement fine-tuning of Molmo2 on VideoNet questions with GRPO and verifiable rewards."
    )

    # ------------------------------------------------------------------ defaults that differ from SFT
    max_steps: int = _f(500, "Optimizer steps (num_iterations per generation round).")
    global_batch_size: int = _f(
        64, "Questions per generation round over all processes (each gets num_generations answers)."
    )
    per_device_batch_size: int = _f(1, "Questions per micro-batch on each process.")
    vit_lr: float = _f(0.0, "Learning rate of the vision transformer (RL usually leaves it alone).")
    connector_lr: float = _f(1e-6, "Learning rate of the connector.")
    llm_lr: float = _f(1e-6, "Learning rate of the language model.")
    freeze_vit: bool = _f(True, "Do not train the vision transformer.")
    warmup_steps: int = _f(10, "Linear warmup steps.")
    lr_scheduler_type: str = _f("constant_with_warmup", "A transformers scheduler name.")
    z_loss_weight: float = _f(0.0, "Not used by GRPO's objective (kept at 0).")
    output_dir: str = _f("runs/molmo2-4b-grpo", "Checkpoints, logs and the final model go here.")
    save_steps: int = _f(50, "Save a checkpoint every N optimizer steps (a multiple of num_iterations).")
    logging_steps: int = _f(1, "Log rewards, loss, KL, lengths and throughput every N steps.")

    # ------------------------------------------------------------------ questions
    question_kinds: list[str] = _f(
        [],
        "Train on these question kinds only (training data: binary_yes, binary_no, mc; benchmark rows: "
        "mc, binary); empty = all.",
    )
    shuffle_options: bool = _f(
        True,
        "Re-draw the option order of every MC question per epoch (the letter has to be read, not recalled).",
    )
    definitions: str | None = _f(
        None,
        "Action definitions for the definition tool and the relevance reward: an annotation directory or its "
        "actions.csv (default: the dataset's annotations/ when it has one; benchmark rows carry their own).",
    )
    reasoning_prompt: str = _f(
        "",
        "Text appended to every question, e.g. asking for <think>...</think> before the answer (Video-R1 / "
        "Video-STAR style). Empty keeps the evaluation prompt word for word.",
    )

    # ------------------------------------------------------------------ sampling
    num_generations: int = _f(8, "G: answers sampled per question (the group of GRPO's advantages).")
    temperature: float = _f(1.0, "Sampling temperature (the log-probabilities use the same).")
    top_p: float = _f(1.0, "Nucleus sampling.")
    top_k: int = _f(0, "Top-k sampling (0 = off).")
    max_completion_length: int = _f(512, "New tokens per turn at most; longer answers are truncated.")
    generation_backend: Literal["transformers", "vllm"] = _f(
        "transformers", "transformers `generate` (anywhere), or a colocated vLLM engine (GPUs)."
    )
    generation_batch_size: int = _f(
        16, "transformers backend: sampled sequences per generate call (rows; G per question)."
    )
    vllm_gpu_memory_utilization: float = _f(0.3, "vLLM: share of GPU memory for its weights and KV cache.")
    vllm_tensor_parallel_size: int = _f(1, "vLLM: GPUs per engine (must divide the processes).")
    vllm_max_model_len: int | None = _f(
        None, "vLLM: context length (prompt + completion); default the model's."
    )
    vllm_enable_prefix_caching: bool = _f(True, "vLLM: reuse the video prefix across a question's G samples.")

    # ------------------------------------------------------------------ objective
    beta: float = _f(0.0, "KL coefficient to the frozen reference model (0: no reference model is loaded).")
    epsilon: float = _f(0.2, "Clipping range of the policy ratio: [1 - epsilon, 1 + epsilon_high].")
    epsilon_high: float | None = _f(None, "Upper clipping range (DAPO's clip-higher: 0.28); default epsilon.")
    num_iterations: int = _f(1, "mu: optimizer steps per generation round (>1 makes the clipping matter).")
    loss_type: Literal["grpo", "dapo", "dr_grpo"] = _f(
        "dapo",
        "grpo: mean over each answer's tokens, then over answers; dapo: sum over every token of the step / "
        "their number; dr_grpo: sum / (answers x max_completion_length).",
    )
    scale_rewards: Literal["group", "none"] = _f(
        "group", "Advantages: (r - group mean) / group std (group), or r - group mean (none, Dr. GRPO)."
    )
    mask_truncated_completions: bool = _f(
        False, "Leave answers cut at max_completion_length out of the loss (DAPO)."
    )

    # ------------------------------------------------------------------ rewards
    reward_weights: str = _f(
        "correctness=1.0,format=0.5",
        "Reward functions and their weights, NAME=WEIGHT comma-separated (videonet_datasets.finetune."
        "rewards: correctness, format, length, relevance, tool_bonus, tool_cost, or your own).",
    )
    require_think: bool = _f(
        False, "format reward: a <think>...</think> block must come before the answer on the final line."
    )
    length_buffer: int = _f(
        64,
        "length reward: the penalty ramps from 0 to -1 over the last N tokens before max_completion_length.",
    )

    # ------------------------------------------------------------------ tools
    tools: list[str] = _f(
        [], "Tools the model may call (videonet_datasets.finetune.tools: definition, zoom)."
    )
    max_tool_calls: int = _f(1, "Tool calls per answer at most (each one adds a turn).")
    zoom_fps: float = _f(8.0, "zoom tool: frames per second sampled from the window.")
    zoom_max_frames: int = _f(8, "zoom tool: at most this many frames added per call.")

    # ------------------------------------------------------------------ logging
    log_completions: int = _f(
        1, "Per logging step, write this many questions' sampled answers to OUTPUT/completions.jsonl."
    )

    def validate(self) -> GRPOConfig:
        """The supervised checks, then GRPO's; raises :class:`ConfigError` listing every problem."""
        errors: list[str] = []
        try:
            super().validate()
        except ConfigError as e:
            errors += [line.strip() for line in str(e).splitlines()[1:]]
        from .rewards import REWARDS
        from .tools import TOOLS

        if self.num_generations < 2:
            errors.append(
                f"num_generations must be >= 2 (advantages are relative to the group), got {self.num_generations}"
            )
        if not self.temperature > 0:
            errors.append(f"temperature must be > 0 (GRPO samples), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            errors.append(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            errors.append(f"top_k must be >= 0, got {self.top_k}")
        for name in ("max_completion_length", "num_iterations", "generation_batch_size", "zoom_max_frames"):
            if not getattr(self, name) > 0:
                errors.append(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_tool_calls < 0:
            errors.append(f"max_tool_calls must be >= 0, got {self.max_tool_calls}")
        if not self.zoom_fps > 0:
            errors.append(f"zoom_fps must be > 0, got {self.zoom_fps}")
        if self.beta < 0:
            errors.append(f"beta must be >= 0, got {self.beta}")
        if not self.epsilon > 0 or (self.epsilon_high is not None and not self.epsilon_high > 0):
            errors.append(f"epsilon / epsilon_high must be > 0, got {self.epsilon} / {self.epsilon_high}")
        if self.max_steps % self.num_iterations:
            errors.append(
                f"max_steps ({self.max_steps}) must be a multiple of num_iterations ({self.num_iterations})"
            )
        if self.save_steps % self.num_iterations:
            errors.append(
                f"save_steps ({self.save_steps}) must be a multiple of num_iterations ({self.num_iterations}): a "
                "checkpoint inside a generation round could not be resumed"
            )
        if self.eval_steps % self.num_iterations:
            errors.append(
                f"eval_steps ({self.eval_steps}) must be a multiple of num_iterations ({self.num_iterations})"
            )
        if self.streaming:
            errors.append(
                "GRPO reads its questions in memory: streaming is not supported (take a slice of the data)"
            )
        if self.z_loss_weight:
            errors.append(
                "z_loss_weight belongs to the supervised loss; GRPO's objective has none (set it to 0)"
            )
        try:
            weights = parse_reward_weights(self.reward_weights)
        except ConfigError as e:
            errors.append(str(e))
            weights = {}
        unknown = sorted(set(weights) - set(REWARDS))
        if unknown:
            errors.append(f"reward_weights: unknown reward(s) {unknown}; registered: {sorted(REWARDS)}")
        if weights.get("length") and not 0 <= self.length_buffer <= self.max_completion_length:
            errors.append(f"length_buffer must be in [0, max_completion_length], got {self.length_buffer}")
        if weights and not any(weights.values()):
            errors.append("reward_weights: every weight is 0: nothing to learn from")
        unknown_tools = sorted(set(self.tools) - set(TOOLS))
        if unknown_tools:
            errors.append(f"tools: unknown tool(s) {unknown_tools}; registered: {sorted(TOOLS)}")
        if self.tools and self.max_tool_calls == 0:
            errors.append("tools are enabled but max_tool_calls is 0")
        tool_rewards = sorted(n for n in ("tool_bonus", "tool_cost") if weights.get(n))
        if tool_rewards and not self.tools:
            errors.append(f"reward_weights: {tool_rewards} need tools (set tools: [definition, zoom])")
        if self.generation_backend == "vllm" and self.vllm_tensor_parallel_size < 1:
            errors.append(f"vllm_tensor_parallel_size must be >= 1, got {self.vllm_tensor_parallel_size}")
        if not 0 < self.vllm_gpu_memory_utilization <= 1:
            errors.append(
                f"vllm_gpu_memory_utilization must be in (0, 1], got {self.vllm_gpu_memory_utilization}"
            )
        if errors:
            raise ConfigError("invalid GRPO settings:\n  " + "\n  ".join(errors))
        return self

    @property
    def clip_high(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high

    def rewards(self) -> dict[str, float]:
        """The reward functions and their weights."""
        return parse_reward_weights(self.reward_weights)


def parse_grpo_config(argv: list[str] | None = None) -> GRPOConfig:
    """``--config FILE.yaml`` plus flag overrides -> a validated :class:`GRPOConfig`."""
    return parse_config(argv, GRPOConfig)

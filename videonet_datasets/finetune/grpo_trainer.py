"""GRPO's training loop: :class:`GRPOTrainer`, the supervised :class:`~.trainer.Trainer` with another step.

Same run set-up (accelerate, output directory, resume), data (:func:`~.trainer.load_train_data`),
model (:func:`~.trainer.load_model`: freezing, LoRA, activation checkpointing), optimizer and
schedule, checkpoints (``checkpoint-{step}``: model, optimizer, scheduler, RNG, data position),
step-end hooks (progress, logging to the trackers and ``history.jsonl``, checkpoints, the
lmms-eval hook), final ``save_pretrained`` and evaluation.  What differs is the step:

1. **a generation round** (every ``num_iterations`` steps): this process's
   ``global_batch_size / processes`` questions, ``per_device_batch_size`` at a time, each decoded
   by the project's sampler (data-loader workers, exact resume from the step number, MC options
   re-drawn per epoch), ``num_generations`` answers each (:func:`~.rollout.sample_rollouts`, tools
   included), every answer scored (:mod:`.rewards`), advantages per question
   (:func:`~.grpo.group_advantages`), and the answers packed behind their clip's video
   (:func:`videonet_datasets.molmo2.pack_segments`: one video encoding for the whole group);
   then the step's answer and token counts are summed over processes, and the reference model's
   (``beta > 0``) and the sampling policy's (``num_iterations > 1``) log-probabilities computed;
2. **an optimizer step** over the round's micro-batches: the clipped objective
   (:func:`~.grpo.policy_loss`) weighted so the step's loss does not depend on the micro-batching
   or the number of processes, one ``backward`` per micro-batch, gradient clipping, AdamW;
3. the generation backend is synced to the new weights.

Logged per step (``history.jsonl``, tensorboard / wandb): ``train/reward`` and each reward's mean
(``rewards/<name>``), ``train/reward_std`` (within groups), ``train/zero_std_frac`` (groups with
nothing to learn), ``train/completion_length``, ``train/truncated_frac``, ``train/tool_calls``,
``train/kl``, ``train/clip_frac``, the loss, gradient norm, learning rates and the time spent
generating vs training.  ``completions.jsonl`` keeps a few sampled answers per logging step.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from videonet_datasets.molmo2 import (
    answer_positions,
    encode_video_prefix,
    pack_segments,
    prompt_text_ids,
    sample_clip,
)
from videonet_datasets.molmo2.inputs import pad_sequences, processor_frame_size

from .batches import Collator, EncodedClip, MicroBatch
from .data import DataError, DataSource, VideoResolver
from .generation import SamplingSettings, TransformersGenerator, VLLMGenerator
from .grpo import answer_weights, group_advantages, policy_loss, token_logprobs
from .grpo_config import GRPOConfig
from .loader import DECODE_ERRORS, MAX_SUBSTITUTES, EpochStepSampler
from .questions import DefinitionBook, Question, find_definitions, questions_from_source, redraw_options
from .rewards import RewardSettings, score_rollout
from .rollout import EncodedVideo, Rollout, sample_rollouts
from .schedule import make_optimizer, make_scheduler
from .tools import ToolContext, tools_instruction
from .trainer import Run, StepOutput, Trainer, TrainResult, load_model, load_train_data, start_run

log = logging.getLogger(__name__)

__all__ = [
    "COMPLETIONS_FILE",
    "GRPOTrainer",
    "QuestionDataset",
    "QuestionSampler",
    "SampledQuestion",
    "load_questions",
    "load_reference_model",
    "main",
    "make_generator",
    "train_grpo",
]

COMPLETIONS_FILE = "completions.jsonl"


# -------------------------------------------------------------------- data


@dataclass
class SampledQuestion:
    """A question ready to ask: options in this epoch's order, the clip decoded and encoded."""

    question: Question
    video: EncodedVideo
    ids: list[int]  # the prompt's ids after the video prefix
    skipped: list[str] = field(default_factory=list)


class QuestionSampler(EpochStepSampler):
    """:class:`~.loader.EpochStepSampler` over questions; its "steps" are generation rounds."""


class QuestionDataset(Dataset):
    """Item ``(index, epoch)``: question ``index`` with its clip decoded (or the next decodable one's)."""

    def __init__(
        self,
        questions: Sequence[Question],
        processor: Any,
        resolver: VideoResolver,
        *,
        fps: float,
        max_frames: int,
        decode_threads: int = 1,
        seed: int = 0,
        shuffle_options: bool = True,
        suffix: str = "",
    ) -> None:
        if not questions:
            raise DataError("no questions to train on")
        self.questions = list(questions)
        self.processor = processor
        self.resolver = resolver
        self.fps, self.max_frames, self.decode_threads = fps, max_frames, decode_threads
        self.seed, self.shuffle_options, self.suffix = seed, shuffle_options, suffix

    def __len__(self) -> int:
        return len(self.questions)

    def prompt_text(self, question: Question) -> str:
        return f"{question.text}\n{self.suffix}" if self.suffix else question.text

    def __getitem__(self, item: tuple[int, int]) -> SampledQuestion:
        index, epoch = item
        skipped: list[str] = []
        for attempt in range(MAX_SUBSTITUTES):
            question = self.questions[(index + attempt) % len(self.questions)]
            if self.shuffle_options:
                question = redraw_options(question, self.seed, epoch)
            try:
                frames = sample_clip(self.resolver(question.video), self.processor, fps=self.fps,
                                     max_frames=self.max_frames, threads=self.decode_threads)  # fmt: skip
            except DECODE_ERRORS as e:
                skipped.append(f"{question.clip_uid}: {e}")
                continue
            video = EncodedVideo(frames, encode_video_prefix(self.processor, frames))
            ids = prompt_text_ids(self.processor, self.prompt_text(question))
            return SampledQuestion(question, video, ids, skipped)
        raise RuntimeError(f"{MAX_SUBSTITUTES} consecutive clips failed to decode from question {index}:\n  "
                           + "\n  ".join(skipped))  # fmt: skip


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # a loader worker decodes one clip at a time


def load_questions(config: GRPOConfig, source: DataSource) -> tuple[list[Question], DefinitionBook | None]:
    """The questions of ``source`` (kinds as configured) and the definitions the rewards/tools use."""
    definitions = find_definitions(config.definitions, config.dataset)
    questions = questions_from_source(
        source, kinds=config.question_kinds, definitions=definitions, shuffle_options=config.shuffle_options
    )
    needs = [n for n, w in config.rewards().items() if w and n == "relevance"] + [
        t for t in config.tools if t == "definition"
    ]
    if needs and not any(q.definition for q in questions):
        raise DataError(
            f"{', '.join(needs)} need action definitions, but none were found for the questions of {source.description}: "
            "set definitions to the annotation directory (or its actions.csv)"
        )
    return questions, definitions


# -------------------------------------------------------------------- model pieces


def load_reference_model(config: GRPOConfig, run: Run) -> torch.nn.Module | None:
    """The frozen reference for the KL term: None when ``beta`` is 0, or under LoRA (the policy with
    its adapters disabled *is* the base model); else a second copy of the base weights."""
    if not config.beta or config.use_lora:
        return None
    from transformers import AutoModelForImageTextToText

    from .model import separate_shared_storage

    model = AutoModelForImageTextToText.from_pretrained(
        config.model_name_or_path, revision=config.revision, attn_implementation=config.attn_implementation,
        dtype={"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(config.dtype, "auto"),
    )  # fmt: skip
    separate_shared_storage(model)
    model.requires_grad_(False)
    return model.eval().to(run.accelerator.device)


def make_generator(config: GRPOConfig, processor: Any, run: Run):
    """The configured generation backend (``sync`` it to the policy before sampling)."""
    settings = SamplingSettings(config.temperature, config.top_p, config.top_k, config.max_completion_length)
    if config.generation_backend == "vllm":
        return VLLMGenerator(
            config.model_name_or_path, processor, settings, process_index=run.accelerator.process_index,
            tensor_parallel_size=config.vllm_tensor_parallel_size,
            gpu_memory_utilization=config.vllm_gpu_memory_utilization, max_model_len=config.vllm_max_model_len,
            enable_prefix_caching=config.vllm_enable_prefix_caching,
            dtype={"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}.get(config.dtype, "auto"),
        )  # fmt: skip
    return TransformersGenerator(processor, settings, batch_rows=config.generation_batch_size,
                                 device=run.accelerator.device)  # fmt: skip


# -------------------------------------------------------------------- the trainer


@dataclass
class _RoundBatch:
    """One micro-batch of a generation round, ready for the forward pass."""

    batch: MicroBatch
    advantages: torch.Tensor  # (n,) per labelled token, (row, position) order
    weights: torch.Tensor  # (n,)
    old_logp: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None


class GRPOTrainer(Trainer):
    """:class:`~.trainer.Trainer` whose step is a GRPO update (see the module docstring)."""

    KIND = "grpo"

    def __init__(
        self,
        config: GRPOConfig,
        run: Run,
        model: torch.nn.Module,
        processor: Any,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        source: DataSource,
        questions: Sequence[Question],
        *,
        definitions: DefinitionBook | None = None,
        reference: torch.nn.Module | None = None,
        generator: Any = None,
    ) -> None:
        self.questions = list(questions)
        self.definitions = definitions
        super().__init__(config, run, model, processor, optimizer, scheduler, source)
        self.config: GRPOConfig = config
        if run.resume is None:
            # sampling draws from the global RNG: seeded per process (different answers on each), and
            # restored with the checkpoint on resume (load_state), so a resumed run samples the same
            from accelerate.utils import set_seed

            set_seed(config.seed, device_specific=True)
        if generator is None and config.generation_backend == "transformers" and self._sharded:
            raise ValueError(
                "generation_backend=transformers needs each process to hold the whole model; under FSDP / "
                "DeepSpeed the processes' forward passes must stay in step: use generation_backend=vllm"
            )
        self.reference = reference
        self.generator = generator if generator is not None else make_generator(config, processor, run)
        self.generator.sync(run.accelerator.unwrap_model(self.model))
        self.weights = config.rewards()
        self.reward_settings = RewardSettings(
            config.max_completion_length, config.length_buffer, config.require_think
        )
        self.frame_size = processor_frame_size(processor)
        self._round: list[_RoundBatch] | None = None
        self._round_steps = 0
        self.stats: dict[str, float] = defaultdict(float)
        self.samples: list[dict[str, Any]] = []
        if run.is_main:
            log.info("GRPO: %d questions, %d answers each, %s", len(self.questions), config.num_generations,
                     ", ".join(f"{k}={v:g}" for k, v in self.weights.items()))  # fmt: skip

    # ---------------------------------------------------------------- data

    def make_loader(self) -> DataLoader:
        config, run = self.config, self.run
        suffix = "\n".join(s for s in (config.reasoning_prompt.strip(), tools_instruction(config.tools)) if s)
        dataset = QuestionDataset(
            self.questions, self.processor, self.source.resolver, fps=config.fps, max_frames=config.max_frames,
            decode_threads=config.decode_threads, seed=config.seed, shuffle_options=config.shuffle_options,
            suffix=suffix,
        )  # fmt: skip
        sampler = QuestionSampler(
            len(self.questions), seed=config.seed, global_batch=config.global_batch_size,
            per_device=config.per_device_batch_size, rank=run.accelerator.process_index, world=run.world,
            start_step=self.start_step // config.num_iterations,
        )  # fmt: skip
        workers = config.dataloader_num_workers
        return DataLoader(
            dataset, sampler=sampler, batch_size=config.per_device_batch_size, collate_fn=list,
            num_workers=workers, worker_init_fn=_one_thread if workers else None,
            prefetch_factor=2 if workers else None,
            # its own generator: creating the iterator draws a seed, which must not shift the global RNG
            # that sampling uses (a resumed run creates it at another step than an uninterrupted one)
            generator=torch.Generator().manual_seed(config.seed),
        )  # fmt: skip

    def checkpoint_state(self) -> dict[str, Any]:
        return {**super().checkpoint_state(), "num_questions": len(self.questions),
                "num_generations": self.config.num_generations,
                "num_iterations": self.config.num_iterations}  # fmt: skip

    def check_resumable(self, state: dict[str, Any]) -> None:
        super().check_resumable(state)
        for name in ("num_generations", "num_iterations"):
            if state.get(name) not in (None, getattr(self.config, name)):
                raise ValueError(
                    f"the checkpoint was trained with {name} {state[name]}, this run has "
                    f"{getattr(self.config, name)}: the generation rounds would not match"
                )

    # ---------------------------------------------------------------- one generation round

    def _tool_context(self, question: Question, frames) -> ToolContext:
        c = self.config
        return ToolContext(question, frames, self.source.resolver(question.video), self.frame_size,
                           self.definitions, c.zoom_fps, c.zoom_max_frames)  # fmt: skip

    def _encode_video(self, frames) -> EncodedVideo:
        return EncodedVideo(frames, encode_video_prefix(self.processor, frames))

    def _tokenize(self, text: str) -> list[int]:
        return list(self.processor.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sample(self, items: Sequence[SampledQuestion]) -> list[list[Rollout]]:
        """Sample, score and rank the answers to ``items``: one group per question."""
        config = self.config
        groups = sample_rollouts(
            [(it.question, it.video, it.ids) for it in items], self.generator,
            num_generations=config.num_generations, tools=config.tools, max_tool_calls=config.max_tool_calls,
            tool_context=self._tool_context, encode_video=self._encode_video, tokenize=self._tokenize,
        )  # fmt: skip
        for group in groups:
            rewards = torch.tensor([[score_rollout(r, self.weights, self.reward_settings) for r in group]])
            for r, a in zip(group, group_advantages(rewards, config.scale_rewards)[0].tolist()):
                r.advantage = a
        return groups

    def _trained(self, rollout: Rollout) -> bool:
        return not (self.config.mask_truncated_completions and rollout.truncated)

    def _rows(self, groups: Sequence[Sequence[Rollout]], weight_of) -> tuple[list[EncodedClip], list, list]:
        """Packed rows (one per video: a group's answers share the clip's), with per-token advantages and weights."""
        clips, advs, wts = [], [], []
        for group in groups:
            by_video: dict[int, tuple[EncodedVideo, list]] = {}
            for rollout in group:
                if not self._trained(rollout):
                    continue
                for v, ids, targets in rollout.segments():
                    video = rollout.videos[v]
                    key = id(video) if self.config.packing else len(by_video)
                    by_video.setdefault(key, (video, []))[1].append((ids, targets, rollout))
            for video, segs in by_video.values():
                row = _pack(self.processor, video, segs)
                clips.append(EncodedClip(group[0].question.uid, [row]))
                seg_ids = row["segment_ids"]
                adv, wt = torch.zeros(len(seg_ids)), torch.zeros(len(seg_ids))
                for k, (_, _, rollout) in enumerate(segs, start=1):
                    adv[seg_ids == k] = rollout.advantage
                    wt[seg_ids == k] = weight_of(rollout)
                advs.append(adv)
                wts.append(wt)
        return clips, advs, wts

    def generate_round(self) -> list[_RoundBatch]:
        """This process's micro-batches of a round (see the module docstring), with the round's stats."""
        config, run, accelerator = self.config, self.run, self.run.accelerator
        if self._batches is None:
            self._batches = iter(self.loader)
        unwrapped = accelerator.unwrap_model(self.model)
        t0 = time.perf_counter()
        fetched = [next(self._batches) for _ in range(run.accumulation)]
        t_data = time.perf_counter() - t0
        unwrapped.eval()
        try:
            rounds = [self.sample(items) for items in fetched]
        finally:
            unwrapped.train()
        t_gen = time.perf_counter() - t0 - t_data
        # The step's answers and answer tokens over every process: the loss weights' denominators.
        trained = [r for groups in rounds for g in groups for r in g if self._trained(r)]
        counts = torch.tensor([len(trained), sum(r.n_completion_tokens for r in trained)], dtype=torch.float64,
                              device=accelerator.device)  # fmt: skip
        n_answers, n_tokens = (int(x) for x in accelerator.reduce(counts, "sum").tolist())
        lengths: dict[int, int] = {id(r): r.n_completion_tokens for r in trained}

        def weight_of(rollout: Rollout) -> float:
            return answer_weights([lengths[id(rollout)]], config.loss_type, n_answers=max(1, n_answers),
                                  n_tokens=max(1, n_tokens), max_completion_length=config.max_completion_length)[0]  # fmt: skip

        dtype = next(unwrapped.parameters()).dtype
        collator = Collator(self.processor.tokenizer.pad_token_id, packing=True,
                            attn_implementation=config.attn_implementation, dtype=dtype)  # fmt: skip
        out: list[_RoundBatch] = []
        for items, groups in zip(fetched, rounds):
            self._record(items, groups)
            clips, advs, wts = self._rows(groups, weight_of)
            if not clips:  # every answer masked out (truncated): nothing to train on in this micro-batch
                continue
            batch = collator(clips)
            keep = answer_positions(batch.inputs["labels"])[:, :-1]
            # per-token values, picked like the targets: the token at t + 1 is predicted at position t
            out.append(
                _RoundBatch(
                    batch, pad_sequences(advs, 0.0)[:, 1:][keep], pad_sequences(wts, 0.0)[:, 1:][keep]
                )
            )
        with torch.no_grad():
            for rb in out:
                rb.batch.to(accelerator.device)
                if config.beta:
                    rb.ref_logp = self._reference_logp(rb.batch.inputs)
                if config.num_iterations > 1:
                    rb.old_logp = token_logprobs(self.model, rb.batch.inputs, config.temperature).detach()
        self.stats["data_s"] += t_data
        self.stats["gen_s"] += t_gen
        return out

    def _reference_logp(self, inputs) -> torch.Tensor:
        config = self.config
        if self.reference is not None:
            return token_logprobs(self.reference, inputs, config.temperature)
        unwrapped = self.run.accelerator.unwrap_model(self.model)  # LoRA: adapters off = the base model
        with unwrapped.disable_adapter():
            return token_logprobs(self.model, inputs, config.temperature)

    def _record(self, items: Sequence[SampledQuestion], groups: Sequence[Sequence[Rollout]]) -> None:
        """Round statistics for the log (counted once per round, not per optimizer step)."""
        s = self.stats
        for item, group in zip(items, groups):
            for skip in item.skipped:
                log.warning("skipped an undecodable clip: %s", skip)
            self.skipped_total += len(item.skipped)
            rewards = [r.reward for r in group]
            s["groups"] += 1
            s["zero_std_groups"] += float(max(rewards) - min(rewards) < 1e-9)
            mean = sum(rewards) / len(rewards)
            s["group_std_sum"] += math.sqrt(sum((x - mean) ** 2 for x in rewards) / (len(rewards) - 1))
            for r in group:
                s["answers"] += 1
                s["reward_sum"] += r.reward
                s["length_sum"] += r.n_completion_tokens
                s["truncated"] += float(r.truncated)
                s["tool_calls"] += len(r.tool_calls)
                s["tool_failed"] += sum(not res.ok for _, res in r.tool_calls)
                for name, value in r.rewards.items():
                    s[f"reward/{name}"] += value
            if len(self.samples) < self.config.log_completions:
                self.samples.append({
                    "question": item.question.uid, "kind": item.question.kind, "answer": item.question.answer,
                    "prompt": item.question.text,
                    "completions": [{"text": r.text, "reward": r.reward, "rewards": r.rewards,
                                     "advantage": r.advantage} for r in group],
                })  # fmt: skip

    # ---------------------------------------------------------------- one optimizer step

    def training_step(self) -> StepOutput:
        """One GRPO optimizer step (a new generation round first when the last one is used up)."""
        config, accelerator, model = self.config, self.run.accelerator, self.model
        world, accumulation = self.run.world, self.run.accumulation
        t0 = time.perf_counter()
        if self._round is None or self._round_steps >= config.num_iterations:
            self._round, self._round_steps = self.generate_round(), 0
        t_train = time.perf_counter()
        log_now = (self.step + 1) % config.logging_steps == 0 or self.step + 1 == config.max_steps
        s = self.stats
        batches = self._round + [None] * (accumulation - len(self._round))  # keep accumulate() in step
        for rb in batches:
            with accelerator.accumulate(model):
                if rb is None:  # a micro-batch whose answers were all masked: a zero loss keeps DDP in step
                    objective = sum(p.sum() * 0.0 for p in self._trainable)
                else:
                    logp = token_logprobs(model, rb.batch.inputs, config.temperature)
                    old = rb.old_logp if rb.old_logp is not None else logp.detach()
                    terms = policy_loss(logp, old, rb.advantages.to(logp.device), epsilon_low=config.epsilon,
                                        epsilon_high=config.clip_high, beta=config.beta, ref_logp=rb.ref_logp)  # fmt: skip
                    objective = (terms.loss * rb.weights.to(logp.device)).sum()
                    s["loss_sum"] += float(objective.detach())
                    s["tokens"] += terms.loss.numel()
                    s["clipped"] += float(terms.clipped.sum())
                    if terms.kl is not None:
                        s["kl_sum"] += float(terms.kl.sum())
                # backward() divides by the accumulation steps and DDP averages over processes; the weights
                # already divide by the whole step's answers / tokens.
                accelerator.backward(objective * world * accumulation)
                if accelerator.sync_gradients:
                    max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf
                    self._grad_norm = accelerator.clip_grad_norm_(self._trainable, max_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            raise RuntimeError("gradient accumulation fell out of step with the optimizer steps")
        lrs = {
            group.get("name", str(i)): float(group["lr"])
            for i, group in enumerate(self.optimizer.param_groups)
        }
        self.scheduler.step()
        self.step += 1
        self._round_steps += 1
        self.clips_seen += config.global_batch_size if self._round_steps == 1 else 0
        self.generator.sync(accelerator.unwrap_model(model))
        s["steps"] += 1
        s["train_s"] += time.perf_counter() - t_train
        s["step_s"] += time.perf_counter() - t0
        return StepOutput(self.step, lrs, self._grad_norm, {}, log_now)

    # ---------------------------------------------------------------- logging

    def log_window(self, output: StepOutput) -> dict[str, float]:
        accelerator = self.run.accelerator
        names = sorted(self.stats)
        totals = accelerator.reduce(
            torch.tensor([self.stats[n] for n in names], dtype=torch.float64, device=accelerator.device),
            "sum",
        ).tolist()
        s = dict(zip(names, totals))
        answers, steps = max(1.0, s.get("answers", 0.0)), max(1.0, s.get("steps", 0.0))
        world = self.run.world
        entry: dict[str, float] = {
            "train/loss": s.get("loss_sum", 0.0) / world / steps,
            "train/clip_frac": s.get("clipped", 0.0) / max(1.0, s.get("tokens", 0.0)),
            "perf/step_s": s.get("step_s", 0.0) / world / steps,
            "perf/generate_s": s.get("gen_s", 0.0) / world / steps,
            "perf/train_s": s.get("train_s", 0.0) / world / steps,
            "perf/data_wait_frac": s.get("data_s", 0.0) / max(1e-9, s.get("step_s", 0.0)),
        }
        if self.config.beta:
            entry["train/kl"] = s.get("kl_sum", 0.0) / max(1.0, s.get("tokens", 0.0))
        if s.get(
            "answers", 0.0
        ):  # the window saw a generation round (not only its later steps, num_iterations > 1)
            groups = max(1.0, s.get("groups", 0.0))
            entry.update({
                "train/reward": s.get("reward_sum", 0.0) / answers,
                "train/reward_std": s.get("group_std_sum", 0.0) / groups,
                "train/zero_std_frac": s.get("zero_std_groups", 0.0) / groups,
                "train/completion_length": s.get("length_sum", 0.0) / answers,
                "train/truncated_frac": s.get("truncated", 0.0) / answers,
            })  # fmt: skip
            if self.config.tools:
                entry["train/tool_calls"] = s.get("tool_calls", 0.0) / answers
                entry["train/tool_failed_frac"] = s.get("tool_failed", 0.0) / max(
                    1.0, s.get("tool_calls", 0.0)
                )
            for name in self.weights:
                entry[f"rewards/{name}"] = s.get(f"reward/{name}", 0.0) / answers
        if output.grad_norm is not None:
            entry["train/grad_norm"] = float(output.grad_norm)
        for name, lr in output.lrs.items():
            entry[f"lr/{name}"] = lr
        accelerator.log(entry, step=output.step)
        entry["step"] = output.step
        if self.run.is_main and self.samples:
            with open(self.run.out / COMPLETIONS_FILE, "a", encoding="utf-8") as f:
                for sample in self.samples:
                    f.write(json.dumps({"step": output.step, **sample}) + "\n")
        self.samples = []
        self.stats = defaultdict(float)
        return entry

    def progress_postfix(self, entry: dict[str, float]) -> dict[str, str]:
        shown = {"loss": f"{entry['train/loss']:.4f}"}
        return {"reward": f"{entry['train/reward']:.3f}", **shown} if "train/reward" in entry else shown


def _pack(processor: Any, video: EncodedVideo, segs: Sequence[tuple[list[int], list[bool], Rollout]]) -> dict:
    """One packed row: the video's prefix, then each answer's segment (its prompt as context)."""
    return pack_segments(processor, video.prefix, [(ids, targets) for ids, targets, _ in segs],
                         where=segs[0][2].question.where)  # fmt: skip


# -------------------------------------------------------------------- the whole recipe


def train_grpo(config: GRPOConfig, *, generator: Any = None) -> TrainResult:
    """Run (or resume) the GRPO fine-tuning described by ``config``; every process calls this.

    The steps of ``recipes/grpo_molmo2.py`` in one call (what ``videonet finetune grpo`` runs)."""
    run = start_run(config)
    source = load_train_data(config, run)
    questions, definitions = load_questions(config, source)
    model, processor = load_model(config, run, source)
    reference = load_reference_model(config, run)
    optimizer = make_optimizer(model, config)
    trainer = GRPOTrainer(config, run, model, processor, optimizer, make_scheduler(optimizer, config), source,
                          questions, definitions=definitions, reference=reference, generator=generator)  # fmt: skip
    trainer.train()
    return trainer.finish()


def main(argv: list[str] | None = None) -> int:
    """``videonet finetune grpo``: settings (``--config FILE.yaml`` + flags), then :func:`train_grpo`.
    Bad settings or data end with one ``error:`` line and exit code 2."""
    import sys

    from videonet_datasets.config import ConfigError

    from .grpo_config import parse_grpo_config

    try:
        config = parse_grpo_config(argv)
        train_grpo(config)
    except (ConfigError, DataError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0

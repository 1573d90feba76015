"""The training loop of ``recipes/finetune_molmo2.py`` (accelerate: 1 process to many nodes).

One optimizer step = ``global_batch_size`` clips = ``G`` micro-batches on each of ``W``
processes (``G`` derived from ``W``).  The loss is the cross-entropy of every answer token
of the *whole step*, divided by the step's number of answer tokens over all processes (the
z-loss likewise): the micro-batches of a step are fetched first, their labelled tokens
counted and summed across processes (one all-reduce of a scalar), and each micro-batch's
summed loss is scaled by ``W / tokens`` before ``backward`` (DDP/FSDP average gradients
over processes, so the result is the token mean).  So the update does not depend on how
the clips are split into micro-batches or processes, nor on packing - which the tests check
- unlike a mean of per-micro-batch means.  This is transformers' ``num_items_in_batch``.

Each step logs loss, gradient norm (before clipping; per component on request), every
parameter group's learning rate, and throughput (clips/s, tokens/s, the share of the step
spent waiting for data) to the console and the accelerate trackers (tensorboard / wandb).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videonet_datasets.molmo2 import answer_loss, component_grad_norms

from .batches import ClipEncoder, Collator, MicroBatch
from .checkpoint import load_checkpoint, read_trainer_state, resolve_resume, save_checkpoint
from .config import FinetuneConfig, config_to_dict, dump_config
from .data import DataSource, open_source
from .export import save_pretrained_model
from .loader import make_train_loader
from .model import build_tiny_if_missing, load_model_and_processor, prepare_model, trainable_summary
from .schedule import make_optimizer, make_scheduler

log = logging.getLogger(__name__)

__all__ = [
    "Run",
    "StepHook",
    "StepOutput",
    "TrainResult",
    "Trainer",
    "load_model",
    "load_train_data",
    "start_run",
    "train",
]

FINAL_DIR = "final"
HISTORY_FILE = "history.jsonl"


@dataclass
class TrainResult:
    output_dir: Path
    start_step: int
    steps: int  # optimizer steps completed (total, including before a resume)
    final_model: Path | None
    history: list[dict[str, float]]  # one entry per logging step (main process)
    skipped_clips: int
    seconds: float
    eval_scores: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        last = self.history[-1] if self.history else {}
        lines = [
            f"Fine-tuning finished: steps {self.start_step} -> {self.steps} in {self.seconds:.1f} s",
            f"  output: {self.output_dir}",
        ]
        if last:
            reward = f"reward {last['train/reward']:.4f}, " if "train/reward" in last else ""
            lines.append(
                f"  last logged: {reward}loss {last.get('train/loss', float('nan')):.4f}, "
                f"grad norm {last.get('train/grad_norm', float('nan')):.3f}, "
                f"{last.get('perf/clips_per_s', 0):.2f} clips/s, {last.get('perf/step_s', 0):.3f} s/step, "
                f"data wait {100 * last.get('perf/data_wait_frac', 0):.0f}%"
            )
        lines.append(f"  clips skipped (undecodable): {self.skipped_clips}")
        if self.final_model:
            lines.append(f"  model: {self.final_model}")
        for key, value in sorted(self.eval_scores.items()):
            lines.append(f"  eval {key}: {value:.4f}")
        return "\n".join(lines)


def _trackers(config: FinetuneConfig) -> list[str] | str | None:
    chosen = [r for r in config.report_to if r != "none"]
    if not chosen:
        return None
    return "all" if "all" in chosen else chosen


def _make_accelerator(config: FinetuneConfig, world: int):
    from accelerate import Accelerator, DistributedDataParallelKwargs, InitProcessGroupKwargs
    from accelerate.utils import GradientAccumulationPlugin, ProjectConfiguration

    accumulation = config.gradient_accumulation_steps(world)
    out = Path(config.output_dir)
    return Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_plugin=GradientAccumulationPlugin(
            num_steps=accumulation, sync_with_dataloader=False
        ),
        log_with=_trackers(config),
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
        kwargs_handlers=[
            DistributedDataParallelKwargs(find_unused_parameters=config.find_unused_parameters),
            InitProcessGroupKwargs(timeout=datetime.timedelta(seconds=config.ddp_timeout)),
        ],
    )


def _tracker_config(config: FinetuneConfig, extra: dict[str, Any]) -> dict[str, Any]:
    """Settings as scalars/strings (tensorboard's hparams accept nothing else)."""
    flat = {**config_to_dict(config), **extra}
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in flat.items()}


class _Window:
    """Sums over the steps since the last log line (local to this process until reduced)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss_sum = 0.0
        self.answer_tokens = 0
        self.clips = 0
        self.tokens = 0
        self.padded = 0
        self.steps = 0
        self.data_s = 0.0
        self.step_s = 0.0


def _unwrapped_is_sharded(accelerator) -> bool:
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


@dataclass
class Run:
    """What every step of a run shares: the accelerator, its processes and where things go."""

    accelerator: Any
    world: int  # processes
    accumulation: int  # micro-batches per optimizer step on each process
    out: Path
    resume: Path | None  # the checkpoint this run continues from
    t_start: float = field(default_factory=time.perf_counter)

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)


def start_run(config: FinetuneConfig) -> Run:
    """accelerate for this launch, the output directory and the checkpoint to resume from."""
    t_start = time.perf_counter()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accelerator = _make_accelerator(config, world)
    if accelerator.num_processes != world:
        raise RuntimeError(f"WORLD_SIZE={world} but accelerate runs {accelerator.num_processes} processes")
    out = Path(config.output_dir)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    resume = resolve_resume(config, accelerator.is_main_process)
    accelerator.wait_for_everyone()
    return Run(accelerator, world, config.gradient_accumulation_steps(world), out, resume, t_start)


def load_train_data(config: FinetuneConfig, run: Run) -> DataSource:
    """The training clips and their QA pairs (the main process first: it writes the datasets cache)."""
    with run.accelerator.main_process_first():
        return open_source(
            config.dataset, config.dataset_config, config.dataset_split, fmt=config.dataset_format,
            streaming=config.streaming, max_clips=config.max_train_clips,
            skip_missing_videos=config.skip_missing_videos,
        )  # fmt: skip


def load_model(config: FinetuneConfig, run: Run, source: DataSource) -> tuple[torch.nn.Module, Any]:
    """The base model and processor, frozen / LoRA-wrapped as configured (a tiny random Molmo2 is
    built first when asked for, with the data's questions in its tokenizer)."""
    with run.accelerator.main_process_first():  # the others load what the main process built
        if config.build_tiny_model and run.is_main:
            build_tiny_if_missing(config, _corpus(source))
    model, processor = load_model_and_processor(config)
    return prepare_model(model, config), processor


@dataclass
class StepOutput:
    """What one optimizer step did, for the step-end hooks."""

    step: int  # optimizer steps done, this one included
    lrs: dict[str, float]  # each parameter group's learning rate used in this step
    grad_norm: torch.Tensor | float | None  # before clipping
    component_norms: dict[str, float]  # per component, on logging steps
    log_now: bool  # a logging step


#: A step-end hook: called after every optimizer step with the trainer and what the step did.
StepHook = Callable[["Trainer", StepOutput], None]


class Trainer:
    """The training loop: :meth:`training_step` (one optimizer step) and step-end hooks.

    The default hooks show progress, log (every ``logging_steps``), save a checkpoint (every
    ``save_steps``) and evaluate (every ``eval_steps``); :meth:`add_hook` appends one of yours.
    :meth:`train` runs the steps; :meth:`finish` saves the final checkpoint and the model and
    evaluates it.
    """

    #: What :meth:`checkpoint_state` records as ``trainer`` (a checkpoint resumes under the same kind).
    KIND = "sft"

    def __init__(
        self,
        config: FinetuneConfig,
        run: Run,
        model: torch.nn.Module,
        processor: Any,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        source: DataSource,
    ) -> None:
        self.config, self.run, self.processor, self.source = config, run, processor, source
        accelerator = run.accelerator
        if run.is_main:
            dump_config(config, run.out / "finetune_config.yaml")
            _log_setup(config, source, model, run.world, run.accumulation)
        _deepspeed_micro_batch(accelerator, config)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        self.scheduler = scheduler
        accelerator.register_for_checkpointing(scheduler)
        if accelerator.gradient_accumulation_steps != run.accumulation:  # e.g. a DeepSpeed config fixing it
            raise ValueError(
                f"the launch configuration sets gradient accumulation to {accelerator.gradient_accumulation_steps}, "
                f"the recipe needs {run.accumulation} (global_batch_size / (per_device_batch_size x processes)); "
                "leave gradient_accumulation_steps unset/auto in the accelerate config"
            )
        self.start_step, state, data_state = 0, {}, {}
        if run.resume is not None:
            self.check_resumable(
                read_trainer_state(run.resume)
            )  # before loading: the optimizer might not fit
            state, data_state = load_checkpoint(accelerator, run.resume)
            self.start_step = int(state["step"])
            if run.is_main:
                log.info("resumed from %s at step %d", run.resume, self.start_step)
        self.stream_positions = {int(w): tuple(p) for w, p in data_state.get("stream_positions", {}).items()}
        self.step = self.start_step
        self.clips_seen = int(state.get("clips_seen", 0))
        self.skipped_total = int(state.get("skipped_clips", 0))
        self.skipped_log = run.out / f"skipped_clips.rank{accelerator.process_index}.jsonl"
        self.history: list[dict[str, float]] = []
        self.eval_scores: dict[str, float] = {}
        self.window = _Window()
        self._sharded = _unwrapped_is_sharded(accelerator)
        self._trainable = [p for p in self.model.parameters() if p.requires_grad]
        self._grad_norm: torch.Tensor | float | None = None
        self.loader = self.make_loader()
        self._batches: Any = None
        self.hooks: list[StepHook] = [_progress_hook, _log_hook, _checkpoint_hook, _eval_hook]
        if _trackers(config):
            accelerator.init_trackers(config.run_name or run.out.resolve().name, config=_tracker_config(
                config, {"world_size": run.world, "grad_accumulation": run.accumulation}))  # fmt: skip
        self.progress = None
        if run.is_main and config.progress_bar and self.start_step < config.max_steps:
            from tqdm.auto import tqdm

            self.progress = tqdm(total=config.max_steps, initial=self.start_step, desc="fine-tuning",
                                 unit="step", dynamic_ncols=True)  # fmt: skip
        self.model.train()

    def check_resumable(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint this run cannot continue exactly (another trainer, another data order)."""
        written_by = state.get("trainer", "sft")
        if written_by != self.KIND:
            raise ValueError(
                f"the checkpoint was written by the {written_by} trainer; this is the {self.KIND} trainer "
                "(start from its exported model with --model_name_or_path instead)"
            )
        _check_resumable(state, self.config, self.run.world, self.source)

    def make_loader(self):
        """The data loader of this process (a subclass trains on other samples)."""
        config, run = self.config, self.run
        dtype = next(p.dtype for p in run.accelerator.unwrap_model(self.model).parameters())
        encoder = ClipEncoder(self.processor, self.source.resolver, fps=config.fps, max_frames=config.max_frames,
                              packing=config.packing, decode_threads=config.decode_threads)  # fmt: skip
        collator = Collator(self.processor.tokenizer.pad_token_id, packing=config.packing,
                            attn_implementation=config.attn_implementation, dtype=dtype)  # fmt: skip
        return make_train_loader(
            self.source, encoder, collator, seed=config.seed, global_batch=config.global_batch_size,
            per_device=config.per_device_batch_size, rank=run.accelerator.process_index, world=run.world,
            start_step=self.start_step, num_workers=config.dataloader_num_workers,
            shuffle_buffer=config.shuffle_buffer, stream_positions=self.stream_positions,
            pin_memory=run.accelerator.device.type == "cuda", shuffle_options=config.shuffle_options,
        )  # fmt: skip

    def log_window(self, output: StepOutput) -> dict[str, float]:
        """The logging step's entry: the window since the last one, reduced over processes and sent
        to the trackers (every process calls this); the window starts over."""
        entry = _log_window(self.run.accelerator, output.lrs, self.window, output.grad_norm,
                            output.component_norms, output.step)  # fmt: skip
        self.window.reset()
        return entry

    def progress_postfix(self, entry: dict[str, float]) -> dict[str, str]:
        """What the progress bar shows after a logging step."""
        return {"loss": f"{entry['train/loss']:.4f}"}

    def add_hook(self, hook: StepHook) -> None:
        """Call ``hook(trainer, output)`` after every optimizer step (after the default hooks)."""
        self.hooks.append(hook)

    def checkpoint_state(self) -> dict[str, Any]:
        """What a checkpoint records besides the weights, optimizer and scheduler."""
        config, source = self.config, self.source
        return {
            "trainer": self.KIND,
            "world_size": self.run.world,
            "num_workers": config.dataloader_num_workers,
            "streaming": config.streaming,
            "data": source.description,
            "num_clips": len(source.records) if source.records is not None else None,
            "clips_seen": self.clips_seen,
            "skipped_clips": self.skipped_total,
            "global_batch_size": config.global_batch_size,
            "seed": config.seed,
            "shuffle_options": config.shuffle_options,
        }

    def save_checkpoint(self) -> None:
        save_checkpoint(self.run.accelerator, self.config, self.step, self.checkpoint_state(),
                        {"stream_positions": self.stream_positions})  # fmt: skip

    def training_step(self) -> StepOutput:
        """One optimizer step: ``global_batch_size`` clips in ``accumulation`` micro-batches per process,
        the loss summed over every answer token of the step and divided by their number."""
        config, accelerator, model, window = self.config, self.run.accelerator, self.model, self.window
        world, accumulation = self.run.world, self.run.accumulation
        if self._batches is None:
            self._batches = iter(self.loader)
        t0 = time.perf_counter()
        micro: list[MicroBatch] = [next(self._batches) for _ in range(accumulation)]
        t_data = time.perf_counter() - t0
        local_tokens = sum(mb.n_answer_tokens for mb in micro)
        global_tokens = int(
            accelerator.reduce(torch.tensor(float(local_tokens), device=accelerator.device), "sum")
        )
        if global_tokens == 0:
            raise RuntimeError(f"step {self.step + 1}: the batch has no answer tokens")
        # backward() divides by the accumulation steps; the step's loss is sum / global tokens.
        scale = world * accumulation / global_tokens
        log_now = (self.step + 1) % config.logging_steps == 0 or self.step + 1 == config.max_steps
        component_norms: dict[str, float] = {}
        for mb in micro:
            mb.to(accelerator.device)
            with accelerator.accumulate(model):
                out_loss = answer_loss(model, mb.inputs)
                objective = out_loss.loss_sum
                if config.z_loss_weight:
                    lse = torch.logsumexp(out_loss.logits, dim=-1)
                    objective = objective + config.z_loss_weight * lse.pow(2).sum()
                accelerator.backward(objective * scale)
                window.loss_sum += float(out_loss.loss_sum.detach())
                if accelerator.sync_gradients:
                    if log_now and config.log_component_grad_norms and not self._sharded:
                        component_norms = component_grad_norms(model)
                    max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf
                    self._grad_norm = accelerator.clip_grad_norm_(self._trainable, max_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            for s in mb.skipped:
                _record_skip(self.skipped_log, self.step + 1, s)
            self.skipped_total += len(mb.skipped)
            for worker, epoch, read in mb.stream_positions:
                self.stream_positions[worker] = (epoch, read)
            window.answer_tokens += mb.n_answer_tokens
            window.clips += mb.n_clips
            window.tokens += mb.n_tokens
            window.padded += mb.n_padded_tokens
        if not accelerator.sync_gradients:
            raise RuntimeError("gradient accumulation fell out of step with the optimizer steps")
        lrs = {
            group.get("name", str(i)): float(group["lr"])
            for i, group in enumerate(self.optimizer.param_groups)
        }
        self.scheduler.step()
        self.step += 1
        self.clips_seen += config.global_batch_size
        window.steps += 1
        window.data_s += t_data
        window.step_s += time.perf_counter() - t0
        return StepOutput(self.step, lrs, self._grad_norm, component_norms, log_now)

    def train(self) -> None:
        """The loop: :meth:`training_step` until ``max_steps``, the step-end hooks after each."""
        try:
            while self.step < self.config.max_steps:
                output = self.training_step()
                for hook in self.hooks:
                    hook(self, output)
        finally:
            if self.progress is not None:
                self.progress.close()

    def finish(self) -> TrainResult:
        """After :meth:`train`: the final checkpoint, ``save_pretrained`` of the model and processor to
        ``OUTPUT/final`` and the evaluation at the end; returns (and prints) what the run did."""
        config, run, accelerator = self.config, self.run, self.run.accelerator
        if self.step > self.start_step or run.resume is None:
            self.save_checkpoint()
        final = None
        if config.save_final_model:
            final = _save_final(
                accelerator, self.model, self.processor, config, run.out / FINAL_DIR, self.step
            )
            if config.eval_data and config.eval_at_end and run.is_main:
                self.eval_scores.update(
                    _run_eval(final, config, run.out / "eval" / f"step-{self.step}", self.step, accelerator)
                )
        skipped_all = int(
            accelerator.reduce(torch.tensor(float(self.skipped_total), device=accelerator.device), "sum")
        )
        accelerator.wait_for_everyone()
        accelerator.end_training()
        result = TrainResult(run.out, self.start_step, self.step, final, self.history, skipped_all,
                             time.perf_counter() - run.t_start, self.eval_scores)  # fmt: skip
        if run.is_main:
            print(result.summary(), flush=True)
        return result


# -------------------------------------------------------------------- step-end hooks


def _progress_hook(trainer: Trainer, output: StepOutput) -> None:
    if trainer.progress is not None:
        trainer.progress.update(1)


def _log_hook(trainer: Trainer, output: StepOutput) -> None:
    """Every ``logging_steps``: reduce the window over processes, log it, append it to the history."""
    if not output.log_now:
        return
    entry = trainer.log_window(output)
    if trainer.run.is_main:
        trainer.history.append(entry)
        _append_history(trainer.run.out / HISTORY_FILE, entry)
        if trainer.progress is not None:
            trainer.progress.set_postfix(trainer.progress_postfix(entry), refresh=False)
        else:
            log.info("step %d: %s", output.step, _fmt(entry))


def _checkpoint_hook(trainer: Trainer, output: StepOutput) -> None:
    """Every ``save_steps`` (the last step's checkpoint is written by :meth:`Trainer.finish`)."""
    every = trainer.config.save_steps
    if every and output.step % every == 0 and output.step < trainer.config.max_steps:
        trainer.save_checkpoint()


def _eval_hook(trainer: Trainer, output: StepOutput) -> None:
    """Every ``eval_steps``: export the current weights and run the lmms-eval hook on them."""
    every, run = trainer.config.eval_steps, trainer.run
    if every and output.step % every == 0 and output.step < trainer.config.max_steps:
        out_dir = run.out / "eval" / f"step-{output.step}"
        scores = _evaluate(
            run.accelerator, trainer.model, trainer.processor, trainer.config, out_dir, output.step
        )
        trainer.eval_scores.update(scores)


# -------------------------------------------------------------------- the whole recipe


def train(config: FinetuneConfig) -> TrainResult:
    """Run (or resume) the fine-tuning described by ``config``; every process calls this.

    The steps of ``recipes/finetune_molmo2.py`` in one call (what ``videonet finetune train``
    runs): run set-up, data, model, optimizer and schedule, the loop, save and evaluate."""
    run = start_run(config)
    source = load_train_data(config, run)
    model, processor = load_model(config, run, source)
    optimizer = make_optimizer(model, config)
    trainer = Trainer(config, run, model, processor, optimizer, make_scheduler(optimizer, config), source)
    trainer.train()
    return trainer.finish()


# -------------------------------------------------------------------- helpers


def _corpus(source: DataSource) -> list[str]:
    """Question/answer text for a tiny model's tokenizer (so prompts encode compactly)."""
    if source.records is None:
        return []
    seen: dict[str, None] = {}
    for record in source.records:
        for qa in record.qas:
            seen.setdefault(qa.question, None)
            if len(seen) >= 4000:
                return list(seen)
    return list(seen)


def _deepspeed_micro_batch(accelerator, config: FinetuneConfig) -> None:
    """DeepSpeed reads ``train_micro_batch_size_per_gpu`` from a prepared data loader, and ours is not
    prepared (it shards itself): fill it in from the config."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is not None:
        ds = plugin.deepspeed_config
        if ds.get("train_micro_batch_size_per_gpu", "auto") == "auto":
            ds["train_micro_batch_size_per_gpu"] = config.per_device_batch_size
        if ds.get("gradient_clipping", "auto") == "auto":
            ds["gradient_clipping"] = config.max_grad_norm


def _check_resumable(state: dict[str, Any], config: FinetuneConfig, world: int, source: DataSource) -> None:
    if state.get("global_batch_size") not in (None, config.global_batch_size):
        raise ValueError(
            f"the checkpoint was trained with global_batch_size {state['global_batch_size']}, this run has "
            f"{config.global_batch_size}: the data position would not match"
        )
    if state.get("shuffle_options", config.shuffle_options) != config.shuffle_options:  # older: not recorded
        raise ValueError(
            f"the checkpoint was trained with shuffle_options {state['shuffle_options']}, this run "
            f"has {config.shuffle_options}: its questions would not match"
        )
    if config.streaming and (state.get("world_size"), state.get("num_workers")) != (
        world,
        config.dataloader_num_workers,
    ):
        raise ValueError(
            f"a streamed run resumes only with the same processes and loader workers: checkpoint "
            f"{state.get('world_size')} x {state.get('num_workers')}, now {world} x {config.dataloader_num_workers}"
        )
    n = len(source.records) if source.records is not None else None
    if state.get("num_clips") not in (None, n):
        log.warning("the dataset had %s clips when the checkpoint was written and has %s now: the data order "
                    "differs from the original run's", state.get("num_clips"), n)  # fmt: skip


def _log_setup(config: FinetuneConfig, source: DataSource, model, world: int, accumulation: int) -> None:
    summary = trainable_summary(model)
    n = len(source.records) if source.records is not None else "streamed"
    parts = ", ".join(f"{c} {v['trainable'] / 1e6:.2f}M/{v['total'] / 1e6:.2f}M" for c, v in summary.items())
    log.info(
        "data %s (%s format): %s clips%s | trainable parameters: %s | %d process(es) x %d clip(s) x %d "
        "accumulation = %d clips per step, %d steps",
        source.description, source.format, n,
        f" ({len(source.skipped)} left out)" if source.skipped else "",
        parts, world, config.per_device_batch_size, accumulation, config.global_batch_size, config.max_steps,
    )  # fmt: skip


def _log_window(
    accelerator, lrs: dict[str, float], window: _Window, grad_norm, component_norms, step: int
) -> dict[str, float]:
    """Reduce the window over processes; log it.  ``lrs``: each group's rate *used* in this step."""
    totals = torch.tensor(
        [window.loss_sum, window.answer_tokens, window.clips, window.tokens, window.padded],
        dtype=torch.float64, device=accelerator.device,
    )  # fmt: skip
    loss_sum, answer_tokens, clips, tokens, padded = accelerator.reduce(totals, "sum").tolist()
    steps = max(1, window.steps)
    entry: dict[str, float] = {
        "train/loss": loss_sum / max(1.0, answer_tokens),
        "train/answer_tokens_per_step": answer_tokens / steps,
        "perf/step_s": window.step_s / steps,
        "perf/data_wait_frac": window.data_s / max(1e-9, window.step_s),
        "perf/clips_per_s": clips / max(1e-9, window.step_s),
        "perf/tokens_per_s": tokens / max(1e-9, window.step_s),
        "perf/packing_efficiency": tokens / max(1.0, padded),
    }
    if grad_norm is not None:
        entry["train/grad_norm"] = float(grad_norm)
    for name, value in component_norms.items():
        entry[f"train/grad_norm_{name}"] = value
    for name, lr in lrs.items():
        entry[f"lr/{name}"] = lr
    accelerator.log(entry, step=step)
    entry["step"] = step
    return entry


def _fmt(entry: dict[str, float]) -> str:
    keys = ("train/loss", "train/reward", "train/grad_norm", "lr/llm", "perf/clips_per_s", "perf/step_s")
    return ", ".join(f"{k.split('/')[-1]}={entry[k]:.4g}" for k in keys if k in entry)


def _append_history(path: Path, entry: dict[str, float]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def _record_skip(path: Path, step: int, message: str) -> None:
    log.warning("step %d: skipped an undecodable clip: %s", step, message)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "clip": message}) + "\n")


def _save_final(accelerator, model, processor, config: FinetuneConfig, out_dir: Path, step: int) -> Path:
    state_dict = accelerator.get_state_dict(model)  # collective under FSDP / DeepSpeed
    if accelerator.is_main_process:
        save_pretrained_model(accelerator.unwrap_model(model), state_dict, processor, out_dir, config,
                              provenance={"step": step})  # fmt: skip
        log.info("saved the model and processor to %s", out_dir)
    accelerator.wait_for_everyone()
    return out_dir


def _run_eval(
    model_dir: Path, config: FinetuneConfig, out_dir: Path, step: int, accelerator
) -> dict[str, float]:
    from .evaluate import EvalError, run_lmms_eval

    try:
        result = run_lmms_eval(
            model_dir, data=config.eval_data or "", tasks=config.eval_tasks, output_path=out_dir,
            model=config.eval_model, model_args=config.eval_model_args, limit=config.eval_limit,
        )  # fmt: skip
    except EvalError as e:
        log.error("evaluation at step %d failed: %s", step, e)
        return {}
    scores = {f"eval/{k}": v for k, v in result.scores.items()}
    accelerator.log(scores, step=step)
    log.info("evaluation at step %d: %s", step, ", ".join(f"{k}={v:.4f}" for k, v in sorted(scores.items())))
    return scores


def _evaluate(
    accelerator, model, processor, config: FinetuneConfig, out_dir: Path, step: int
) -> dict[str, float]:
    """Export the current weights and evaluate them (main process; the others wait)."""
    model_dir = _save_final(accelerator, model, processor, config, out_dir / "model", step)
    scores: dict[str, float] = {}
    if accelerator.is_main_process:
        scores = _run_eval(model_dir, config, out_dir, step, accelerator)
    accelerator.wait_for_everyone()
    model.train()
    return scores

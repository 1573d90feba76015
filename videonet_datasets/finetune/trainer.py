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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from videonet_datasets.molmo2 import answer_loss, component_grad_norms

from .batches import ClipEncoder, Collator, MicroBatch
from .checkpoint import load_checkpoint, resolve_resume, save_checkpoint
from .config import FinetuneConfig, config_to_dict, dump_config
from .data import DataSource, open_source
from .export import save_pretrained_model
from .loader import make_train_loader
from .model import build_tiny_if_missing, load_model_and_processor, prepare_model, trainable_summary
from .schedule import make_optimizer, make_scheduler

log = logging.getLogger(__name__)

__all__ = ["TrainResult", "train"]

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
            lines.append(
                f"  last logged: loss {last.get('train/loss', float('nan')):.4f}, "
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


def train(config: FinetuneConfig) -> TrainResult:
    """Run (or resume) the fine-tuning described by ``config``; every process calls this."""
    t_start = time.perf_counter()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accelerator = _make_accelerator(config, world)
    if accelerator.num_processes != world:
        raise RuntimeError(f"WORLD_SIZE={world} but accelerate runs {accelerator.num_processes} processes")
    accumulation = config.gradient_accumulation_steps(world)
    out = Path(config.output_dir)
    is_main = accelerator.is_main_process
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    resume = resolve_resume(config, is_main)
    accelerator.wait_for_everyone()

    # ---------------------------------------------------------------- data, model
    with accelerator.main_process_first():  # the datasets cache is written once
        source = open_source(
            config.dataset, config.dataset_config, config.dataset_split, fmt=config.dataset_format,
            streaming=config.streaming, max_clips=config.max_train_clips,
            skip_missing_videos=config.skip_missing_videos,
        )  # fmt: skip
        if config.build_tiny_model and is_main:
            build_tiny_if_missing(config, _corpus(source))
    model, processor = load_model_and_processor(config)
    model = prepare_model(model, config)
    if is_main:
        dump_config(config, out / "finetune_config.yaml")
        _log_setup(config, source, model, world, accumulation)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    _deepspeed_micro_batch(accelerator, config)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if accelerator.gradient_accumulation_steps != accumulation:  # e.g. a DeepSpeed config that fixes it
        raise ValueError(
            f"the launch configuration sets gradient accumulation to {accelerator.gradient_accumulation_steps}, "
            f"the recipe needs {accumulation} (global_batch_size / (per_device_batch_size x processes)); "
            "leave gradient_accumulation_steps unset/auto in the accelerate config"
        )

    start_step, state, data_state = 0, {}, {}
    if resume is not None:
        state, data_state = load_checkpoint(accelerator, resume)
        start_step = int(state["step"])
        _check_resumable(state, config, world, source)
        if is_main:
            log.info("resumed from %s at step %d", resume, start_step)
    stream_positions = {int(w): tuple(p) for w, p in data_state.get("stream_positions", {}).items()}

    dtype = next(p.dtype for p in accelerator.unwrap_model(model).parameters())
    encoder = ClipEncoder(processor, source.resolver, fps=config.fps, max_frames=config.max_frames,
                          packing=config.packing, decode_threads=config.decode_threads)  # fmt: skip
    collator = Collator(processor.tokenizer.pad_token_id, packing=config.packing,
                        attn_implementation=config.attn_implementation, dtype=dtype)  # fmt: skip
    loader = make_train_loader(
        source, encoder, collator, seed=config.seed, global_batch=config.global_batch_size,
        per_device=config.per_device_batch_size, rank=accelerator.process_index, world=world,
        start_step=start_step, num_workers=config.dataloader_num_workers, shuffle_buffer=config.shuffle_buffer,
        stream_positions=stream_positions, pin_memory=accelerator.device.type == "cuda",
    )  # fmt: skip

    run_name = config.run_name or out.resolve().name
    if _trackers(config):
        accelerator.init_trackers(run_name, config=_tracker_config(config, {"world_size": world,
                                                                             "grad_accumulation": accumulation}))  # fmt: skip
    history: list[dict[str, float]] = []
    skipped_total = int(state.get("skipped_clips", 0))
    skipped_log = out / f"skipped_clips.rank{accelerator.process_index}.jsonl"
    clips_seen = int(state.get("clips_seen", 0))
    eval_scores: dict[str, float] = {}
    window = _Window()
    sharded = _unwrapped_is_sharded(accelerator)
    trainable = [p for p in model.parameters() if p.requires_grad]

    progress = None
    if is_main and config.progress_bar and start_step < config.max_steps:
        from tqdm.auto import tqdm

        progress = tqdm(
            total=config.max_steps, initial=start_step, desc="fine-tuning", unit="step", dynamic_ncols=True
        )

    def checkpoint_state() -> dict[str, Any]:
        return {
            "world_size": world,
            "num_workers": config.dataloader_num_workers,
            "streaming": config.streaming,
            "data": source.description,
            "num_clips": len(source.records) if source.records is not None else None,
            "clips_seen": clips_seen,
            "skipped_clips": skipped_total,
            "global_batch_size": config.global_batch_size,
            "seed": config.seed,
        }

    model.train()
    batches = iter(loader)
    step = start_step
    grad_norm: torch.Tensor | float | None = None
    try:
        while step < config.max_steps:
            t0 = time.perf_counter()
            micro: list[MicroBatch] = [next(batches) for _ in range(accumulation)]
            t_data = time.perf_counter() - t0
            local_tokens = sum(mb.n_answer_tokens for mb in micro)
            global_tokens = int(
                accelerator.reduce(torch.tensor(float(local_tokens), device=accelerator.device), "sum")
            )
            if global_tokens == 0:
                raise RuntimeError(f"step {step + 1}: the batch has no answer tokens")
            # backward() divides by the accumulation steps; the step's loss is sum / global tokens.
            scale = world * accumulation / global_tokens
            log_now = (step + 1) % config.logging_steps == 0 or step + 1 == config.max_steps
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
                        if log_now and config.log_component_grad_norms and not sharded:
                            component_norms = component_grad_norms(model)
                        max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf
                        grad_norm = accelerator.clip_grad_norm_(trainable, max_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                for s in mb.skipped:
                    _record_skip(skipped_log, step + 1, s)
                skipped_total += len(mb.skipped)
                for worker, epoch, read in mb.stream_positions:
                    stream_positions[worker] = (epoch, read)
                window.answer_tokens += mb.n_answer_tokens
                window.clips += mb.n_clips
                window.tokens += mb.n_tokens
                window.padded += mb.n_padded_tokens
            if not accelerator.sync_gradients:
                raise RuntimeError("gradient accumulation fell out of step with the optimizer steps")
            lrs = {
                group.get("name", str(i)): float(group["lr"])
                for i, group in enumerate(optimizer.param_groups)
            }
            scheduler.step()
            step += 1
            clips_seen += config.global_batch_size
            window.steps += 1
            window.data_s += t_data
            window.step_s += time.perf_counter() - t0
            if progress is not None:
                progress.update(1)
            if log_now:
                entry = _log_window(accelerator, lrs, window, grad_norm, component_norms, step)
                window.reset()
                if is_main:
                    history.append(entry)
                    _append_history(out / HISTORY_FILE, entry)
                    if progress is not None:
                        progress.set_postfix(loss=f"{entry['train/loss']:.4f}", refresh=False)
                    else:
                        log.info("step %d: %s", step, _fmt(entry))
            if config.save_steps and step % config.save_steps == 0 and step < config.max_steps:
                save_checkpoint(accelerator, config, step, checkpoint_state(),
                                {"stream_positions": stream_positions})  # fmt: skip
            if config.eval_steps and step % config.eval_steps == 0 and step < config.max_steps:
                scores = _evaluate(accelerator, model, processor, config, out / "eval" / f"step-{step}", step)
                eval_scores.update(scores)
    finally:
        if progress is not None:
            progress.close()

    # ---------------------------------------------------------------- the end
    if step > start_step or resume is None:
        save_checkpoint(accelerator, config, step, checkpoint_state(), {"stream_positions": stream_positions})
    final = None
    if config.save_final_model:
        final = _save_final(accelerator, model, processor, config, out / FINAL_DIR, step)
        if config.eval_data and config.eval_at_end and is_main:
            eval_scores.update(_run_eval(final, config, out / "eval" / f"step-{step}", step, accelerator))
    skipped_all = int(
        accelerator.reduce(torch.tensor(float(skipped_total), device=accelerator.device), "sum")
    )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    result = TrainResult(
        out, start_step, step, final, history, skipped_all, time.perf_counter() - t_start, eval_scores
    )
    if is_main:
        print(result.summary(), flush=True)
    return result


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
    keys = ("train/loss", "train/grad_norm", "lr/llm", "perf/clips_per_s", "perf/step_s")
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

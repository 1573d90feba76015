"""Research probe: can a tiny random Molmo2 learn VideoNet-mini's motion-defined actions?

``make demo`` promises a fine-tuned tiny model that beats its base model by 15 points on
held-out benchmark clips and beats its own middle-frame score.  Whether (and how fast)
that can happen depends on the world (which actions, frame size, frames per clip), the
model (sizes, learning rates) and the data (how many distinct clips, which questions).
This module measures it with *true* labels and in-memory clips (:mod:`.clips`), so the
answer is about learnability, not about the weak-label pipeline:

* training: clips of new world seeds, each packed with its 3 paper-style QA pairs
  (binary yes, binary no with a random other action of the domain, a 4-way MC with 3
  random others - :func:`videonet_datasets.train_data.qa.make_qa`, the pipeline's own
  builder), or with a still-image "where is the actor?" warm-up question;
* evaluation: the benchmark's ``mc`` test and ``binary_0shot`` questions (hard
  negatives), decoded from the built benchmark by the project's sampler, scored by the
  answer token with the highest logit among the allowed ones (the letters, or yes/no:
  what greedy decoding emits once the model answers in format), with the clip's full
  frames and with its middle frame only.

``python -m research.probe --bench DIR --out results.jsonl [--set key=value ...]``
runs one configuration and appends its measurements (one JSON line) to ``results.jsonl``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videonet_datasets.annotations import Action
from videonet_datasets.config import ConfigError, parse_key_values
from videonet_datasets.demo.clips import LabeledClip, render_training_clips, world_domains
from videonet_datasets.demo.pretrain import GENERIC_NAMES, heldout_accuracy, pretrain_qas
from videonet_datasets.finetune.data import question_text
from videonet_datasets.molmo2 import (
    TinyMolmo2Config,
    answer_loss,
    collate_examples,
    collate_packed,
    encode_packed_clip,
    encode_prompt,
    make_tiny_molmo2,
    param_groups,
    probe_visual_pathway,
    sample_clip,
)
from videonet_datasets.molmo2.inputs import video_messages
from videonet_datasets.prompts import binary_prompt, mc_prompt
from videonet_datasets.synth.config import SynthConfig, preset
from videonet_datasets.train_data.qa import make_qa
from videonet_datasets.video import Frames

__all__ = ["EvalQuestion", "ProbeConfig", "evaluate", "load_benchmark_questions", "run_probe"]

QUARTERS = ("top left", "top right", "bottom left", "bottom right")
DIRECTIONS = ("left", "right", "up", "down")
MC_INSTRUCTION = "Please respond with only the letter of the correct answer."
STILL_QUESTION = (
    "In which quarter of the frame is the actor?\n"
    + "\n".join(f"{letter}. {q}" for letter, q in zip("ABCD", QUARTERS))
    + "\n"
    + MC_INSTRUCTION
)
DIRECTION_QUESTION = (
    "Where does the actor end up, compared with where it starts?\n"
    + "\n".join(f"{letter}. {d}" for letter, d in zip("ABCD", DIRECTIONS))
    + "\n"
    + MC_INSTRUCTION
)
#: Training tasks (``ProbeConfig.stages``); "+" packs several tasks' questions in one row.
TASKS = ("paper", "still", "direction", "classify", "generic", "generic_classify")


@dataclass
class ProbeConfig:
    """One experiment.  World fields select the synthetic actions; model fields override
    :class:`TinyMolmo2Config`; training fields are the optimisation."""

    # world
    preset: str = "default"
    domains: tuple[str, ...] | None = None
    actions_per_domain: int | None = None
    # frames
    image_size: int = 56
    fps: float = 4.0
    max_frames: int = 16
    # model (TinyMolmo2Config overrides)
    model: dict[str, Any] = field(default_factory=dict)
    init_seed: int = 0
    embed_std: float | None = None  # re-draw token + ViT position embeddings with this std
    spaced_names: bool = False  # put " name" (as in prompts) in the tokenizer's corpus: whole-word tokens
    # data
    train_seeds: int = 4  # world seeds 1..N
    clips_per_action: int = 10  # per seed
    fresh_questions: bool = True  # redraw the random QA negatives every epoch
    fresh_clips: bool = False  # main stage: render new clips (new world seeds) every epoch
    stage_fresh_clips: bool = True  # the same for the ``stages`` before it (warm-up tasks)
    # optimisation
    steps: int = 2000
    batch_size: int = 4
    lr_vit: float = 1e-4
    lr_connector: float = 1e-4
    lr_llm: float = 1e-3
    warmup: int = 100
    schedule: str = "cosine"  # cosine (to 0.1) | constant
    stages: tuple[tuple[str, int], ...] = ()  # (task, steps) before the main ``task`` stage
    task: str = "paper"  # the main stage's task(s), e.g. "paper" or "paper+classify"
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 1
    eval_every: int = 500
    heldout_clips: int = 3  # per action, world seed 999: the training tasks' held-out check
    bench_in_history: bool = True  # also score the benchmark at every eval (slower)
    label: str = ""

    def world(self) -> SynthConfig:
        return preset(self.preset, domains=self.domains, actions_per_domain=self.actions_per_domain)

    def spec(self) -> TinyMolmo2Config:
        return dataclasses.replace(
            TinyMolmo2Config(), image_size=self.image_size, num_frames=self.max_frames, **self.model
        )


@dataclass(frozen=True)
class EvalQuestion:
    """A benchmark question with its decoded clip (full and middle frame)."""

    protocol: str  # "mc" | "binary"
    question: str
    answer: str  # letter or yes/no
    candidates: tuple[str, ...]
    frames: Frames
    middle: Frames
    domain: str
    label: str = ""  # binary: yes/no


# ----------------------------------------------------------------------------- data


def world_actions(config: SynthConfig) -> dict[str, list[Action]]:
    """Per domain, the world's actions as annotation ``Action`` s (what ``make_qa`` takes)."""
    out: dict[str, list[Action]] = {}
    for d in world_domains(config):
        out[d.name] = [Action(d.category, d.name, a.name, a.subdomain or "action", "") for a in d.actions]
    return out


def _qas(clip: LabeledClip, actions: Mapping[str, Sequence[Action]], seed: int) -> list[tuple[str, str]]:
    domain_actions = actions[clip.domain]
    action = next(a for a in domain_actions if a.name == clip.action)
    return [
        (question_text(qa["prompt"]), qa["answer"])
        for qa in make_qa(action, domain_actions, clip_uid=clip.uid, seed=seed)
    ]


#: ``generic`` / ``generic_classify``: the coarse world's six directions named in plain words - the
#: demo's pretraining questions (:mod:`.pretrain`, where they are defined).
_COARSE = SynthConfig(taxonomy="coarse")


def _generic_qas(clip: LabeledClip, seed: int) -> list[tuple[str, str]]:
    return pretrain_qas("generic", clip, _COARSE, seed)


def _first_frame(frames: Frames) -> Frames:
    return dataclasses.replace(
        frames, frames=frames.frames[:1], timestamps=frames.timestamps[:1], requested=frames.requested[:1]
    )


def task_qas(
    task: str, clip: LabeledClip, actions: Mapping[str, Sequence[Action]], seed: int
) -> list[tuple[str, str]] | None:
    """The (question, answer) pairs of one training task for ``clip``; None if the task
    does not apply to it (e.g. no clear net motion for "direction")."""
    if task == "paper":
        return _qas(clip, actions, seed)
    if task == "classify":
        return [(f"Which {clip.domain} action is shown in the video?", clip.action)]
    if task == "generic":
        return _generic_qas(clip, seed)
    if task == "generic_classify":  # the generic direction named directly (no matching, no letters)
        return pretrain_qas("generic_classify", clip, _COARSE, seed)
    if clip.positions is None:
        raise ValueError(f"task {task!r} needs the actor's positions")
    if task == "still":
        x, y = clip.positions[0]
        return [(STILL_QUESTION, "ABCD"[int(x >= 0) + 2 * int(y >= 0)])]
    if task == "direction":
        dx, dy = clip.positions[-1] - clip.positions[0]
        if max(abs(dx), abs(dy)) < 0.3:
            return None
        k = (0 if dx < 0 else 1) if abs(dx) >= abs(dy) else (2 if dy < 0 else 3)
        return [(DIRECTION_QUESTION, "ABCD"[k])]
    raise ValueError(f"unknown task {task!r}; tasks: {TASKS}")


def encode_task_rows(
    processor, clips: Sequence[LabeledClip], tasks: str, actions: Mapping[str, Sequence[Action]], seed: int
) -> list[dict[str, torch.Tensor]]:
    """Packed rows (one per clip that any of the ``+``-joined ``tasks`` applies to)."""
    names = tasks.split("+")
    rows = []
    for clip in clips:
        qas = [qa for name in names for qa in (task_qas(name, clip, actions, seed) or [])]
        if not qas:
            continue
        frames = _first_frame(clip.frames) if names == ["still"] else clip.frames
        rows.append(encode_packed_clip(processor, frames, qas))
    return rows


def load_benchmark_questions(
    bench_dir: str | Path,
    processor,
    *,
    fps: float,
    max_frames: int,
    configs: Iterable[str] = ("mc", "binary_0shot"),
) -> list[EvalQuestion]:
    """The benchmark's MC test and 0-shot binary questions with their clips decoded once."""
    from videonet_datasets.local_datasets import load_local_dataset

    root = Path(bench_dir)
    cache: dict[str, tuple[Frames, Frames]] = {}
    out: list[EvalQuestion] = []
    for config in configs:
        for row in load_local_dataset(root, config, split="test"):
            path = root / row["video"]
            if row["video"] not in cache:
                cache[row["video"]] = (
                    sample_clip(path, processor, fps=fps, max_frames=max_frames),
                    sample_clip(path, processor, middle=True),
                )
            full, mid = cache[row["video"]]
            if config == "mc":
                q = mc_prompt(row["domain"], row["options"]).plain_text()
                out.append(
                    EvalQuestion("mc", q, row["answer"], ("A", "B", "C", "D"), full, mid, row["domain"])
                )
            else:
                q = binary_prompt(row["action"], row["domain"], row["subdomain"]).plain_text()
                out.append(
                    EvalQuestion(
                        "binary", q, row["label"], ("yes", "no"), full, mid, row["domain"], row["label"]
                    )
                )
    return out


# ----------------------------------------------------------------------------- evaluation


def _candidate_ids(tokenizer, words: Sequence[str]) -> list[int]:
    ids = []
    for w in words:
        toks = tokenizer(w, add_special_tokens=False)["input_ids"]
        ids.append(toks[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"answers {list(words)} do not start with distinct tokens")
    return ids


@torch.no_grad()
def evaluate(
    model, processor, questions: Sequence[EvalQuestion], *, middle: bool = False, batch_size: int = 16
) -> dict[str, float]:
    """Accuracy per protocol (and binary yes-rate), scoring the allowed first answer tokens."""
    model.eval()
    tok = processor.tokenizer
    correct: dict[str, list[bool]] = {}
    yes: list[bool] = []
    for start in range(0, len(questions), batch_size):
        chunk = questions[start : start + batch_size]
        examples = []
        for q in chunk:
            enc = encode_prompt(processor, video_messages(q.question), q.middle if middle else q.frames)
            examples.append({k: (v[0] if k in ("input_ids", "attention_mask", "mm_token_type_ids") else v)
                             for k, v in enc.items()})  # fmt: skip
        batch = collate_examples(examples, tok.pad_token_id)
        lengths = batch["attention_mask"].sum(1)
        keep = torch.zeros_like(batch["attention_mask"], dtype=torch.bool)
        keep[torch.arange(len(chunk)), lengths - 1] = True
        logits = model(**batch, logits_to_keep=keep, use_cache=False).logits.reshape(len(chunk), -1)
        for q, row in zip(chunk, logits):
            ids = _candidate_ids(tok, q.candidates)
            pick = q.candidates[int(torch.argmax(row[ids]))]
            correct.setdefault(q.protocol, []).append(pick == q.answer)
            if q.protocol == "binary":
                yes.append(pick == "yes")
    out = {f"{p}_acc": 100.0 * float(np.mean(v)) for p, v in correct.items()}
    if yes:
        out["binary_yes_rate"] = 100.0 * float(np.mean(yes))
    return out


@torch.no_grad()
# ----------------------------------------------------------------------------- training


def _lr_factor(step: int, cfg: ProbeConfig, total: int) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return 1.0
    progress = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def run_probe(
    cfg: ProbeConfig,
    bench_dir: str | Path,
    *,
    log=print,
    questions: list[EvalQuestion] | None = None,
) -> dict[str, Any]:
    """Train one configuration from scratch and measure it; returns the result record."""
    torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    world = cfg.world()
    actions = world_actions(world)
    names = sorted({a.name for acts in actions.values() for a in acts})
    model, processor = make_tiny_molmo2(
        cfg.spec(),
        seed=cfg.init_seed,
        extra_corpus=[
            *(f" {n}" if cfg.spaced_names else n for n in names),
            *QUARTERS,
            *GENERIC_NAMES.values(),
        ],
        embed_std=cfg.embed_std,
    )
    n_params = sum(p.numel() for p in model.parameters())
    if questions is None:
        questions = load_benchmark_questions(bench_dir, processor, fps=cfg.fps, max_frames=cfg.max_frames)
    wanted = {d.name for d in world_domains(world)}
    questions = [q for q in questions if q.domain in wanted]

    t0 = time.perf_counter()
    clips = render_training_clips(
        world, list(range(1, cfg.train_seeds + 1)), cfg.clips_per_action,
        fps=cfg.fps, max_frames=cfg.max_frames, size=cfg.image_size,
    )  # fmt: skip
    render_s = time.perf_counter() - t0

    stages = [*cfg.stages, (cfg.task, cfg.steps)]
    heldout = render_training_clips(
        world, [999], cfg.heldout_clips, fps=cfg.fps, max_frames=cfg.max_frames, size=cfg.image_size
    )  # fmt: skip
    t0 = time.perf_counter()
    rows = encode_task_rows(processor, clips, stages[0][0], actions, cfg.seed)
    encode_s = time.perf_counter() - t0

    base = {**evaluate(model, processor, questions), **{f"mid_{k}": v for k, v in evaluate(
        model, processor, questions, middle=True).items()}}  # fmt: skip
    log(f"[{cfg.label}] {n_params} params, {len(clips)} clips, {len(questions)} eval questions; base {base}")

    model.train()
    groups = param_groups(model, {"vit": cfg.lr_vit, "connector": cfg.lr_connector, "llm": cfg.lr_llm})
    for g in groups:
        g["initial_lr"] = g["lr"]
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    pad = processor.tokenizer.pad_token_id
    history: list[dict[str, Any]] = []
    total = sum(n for _, n in stages)
    t_train = time.perf_counter()
    cpu0 = time.process_time()
    losses: list[float] = []
    probe = None
    step = 0
    epochs = 0
    fixed_clips = clips
    for stage_index, (task, n_steps) in enumerate(stages):
        fresh = cfg.fresh_clips if stage_index == len(stages) - 1 else cfg.stage_fresh_clips
        if stage_index:
            clips = fixed_clips
            rows = encode_task_rows(processor, clips, task, actions, cfg.seed)
        heldout_rows = encode_task_rows(processor, heldout, task, actions, 12345)
        order: list[int] = []
        refills = 0
        for _ in range(n_steps):
            if len(order) < cfg.batch_size:
                if refills and fresh:
                    first = 1000 + (stage_index * 1000 + refills) * cfg.train_seeds
                    clips = render_training_clips(
                        world, list(range(first, first + cfg.train_seeds)), cfg.clips_per_action,
                        fps=cfg.fps, max_frames=cfg.max_frames, size=cfg.image_size,
                    )  # fmt: skip
                if refills and (fresh or (cfg.fresh_questions and ("paper" in task or "generic" in task))):
                    rows = encode_task_rows(processor, clips, task, actions, cfg.seed + refills)
                refills += 1
                order = list(range(len(rows)))
                rng.shuffle(order)
            idx, order = order[: cfg.batch_size], order[cfg.batch_size :]
            batch = collate_packed([rows[i] for i in idx], pad)
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * _lr_factor(step, cfg, total)
            out = answer_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            losses.append(out.loss.item())
            step += 1
            if probe is None:
                probe = probe_visual_pathway(model, batch)
                model.train()
            if step % cfg.eval_every == 0 or step == total:
                train_s = time.perf_counter() - t_train
                metrics = (
                    evaluate(model, processor, questions) if cfg.bench_in_history or step == total else {}
                )
                by_qa = heldout_accuracy(model, heldout_rows, pad)
                metrics["heldout_task_acc"] = by_qa.pop("all")
                metrics["heldout_by_qa"] = {k: round(v, 1) for k, v in sorted(by_qa.items())}
                rec = {"step": step, "task": task, "loss": round(float(np.mean(losses[-cfg.eval_every :])), 4),
                       "train_s": round(train_s, 1), **metrics}  # fmt: skip
                history.append(rec)
                log(f"[{cfg.label}] {rec}")
                model.train()
                t_train = time.perf_counter() - train_s  # exclude evaluation time
        epochs += refills
    train_s = time.perf_counter() - t_train
    final = {**evaluate(model, processor, questions), **{f"mid_{k}": v for k, v in evaluate(
        model, processor, questions, middle=True).items()}}  # fmt: skip
    return {
        "label": cfg.label,
        "config": dataclasses.asdict(cfg),
        "params": n_params,
        "train_clips": len(clips),
        "eval_questions": len(questions),
        "render_s": round(render_s, 1),
        "encode_s": round(encode_s, 1),
        "train_s": round(train_s, 1),
        "step_ms": round(1000 * train_s / max(1, total), 1),
        "cpu_s": round(time.process_time() - cpu0, 1),  # includes the periodic evaluations
        "epochs": epochs,
        "base": base,
        "final": final,
        "history": history,
        "probe": dataclasses.asdict(probe) if probe else None,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }


def _changed(config: Mapping[str, Any]) -> str:
    """The fields of a result's config that differ from :class:`ProbeConfig`'s defaults."""
    defaults = dataclasses.asdict(ProbeConfig())
    skip = {"label", "eval_every", "bench_in_history", "threads"}
    parts = []
    for key, value in config.items():
        if key in skip or defaults.get(key) == value or (isinstance(value, list) and tuple(map(
                lambda v: tuple(v) if isinstance(v, list) else v, value)) == defaults.get(key)):  # fmt: skip
            continue
        parts.append(f"{key}={json.dumps(value, separators=(',', ':'))}")
    return " ".join(parts) or "(defaults)"


def results_table(path: str | Path) -> str:
    """A Markdown table of the results in a JSON-lines file written by :func:`main`."""
    head = ("| label | changed settings | params | steps | train s | ms/step | MC base→FT (mid) | "
            "binary base→FT (mid) | held-out task acc |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [head]
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        b, f = r["base"], r["final"]
        steps = r["history"][-1]["step"] if r["history"] else 0
        task_acc = r["history"][-1].get("heldout_task_acc") if r["history"] else None
        lines.append(
            f"| {r['label']} | {_changed(r['config'])} | {r['params']:,} | {steps} | {r['train_s']:.0f} | "
            f"{r['step_ms']:.0f} | {b['mc_acc']:.1f}→**{f['mc_acc']:.1f}** ({f['mid_mc_acc']:.1f}) | "
            f"{b['binary_acc']:.1f}→**{f['binary_acc']:.1f}** ({f['mid_binary_acc']:.1f}) | "
            f"{'' if task_acc is None else f'{task_acc:.1f}'} |"
        )
    return "\n".join(lines)


def probe_config(items: Sequence[str]) -> ProbeConfig:
    """``--set KEY=VALUE`` items (JSON/YAML values, e.g. ``stages=[["still", 500]]``) over the defaults."""
    overrides: dict[str, Any] = {}
    for item in items:
        overrides.update(parse_key_values(item, ProbeConfig, where="--set", sep=None))
    return ProbeConfig(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", help="benchmark directory built from the same world")
    p.add_argument("--out", required=True, help="JSON-lines file to append the result to")
    p.add_argument("--table", action="store_true", help="print the Markdown table of --out and exit")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="ProbeConfig field (JSON value)"
    )
    args = p.parse_args(argv)
    if args.table:
        print(results_table(args.out))
        return 0
    if not args.bench:
        p.error("--bench is required to run an experiment")
    try:
        cfg = probe_config(args.set)
    except ConfigError as e:
        p.error(str(e))
    result = run_probe(cfg, args.bench, log=lambda m: print(m, flush=True))
    with open(args.out, "a") as f:
        f.write(json.dumps(result) + "\n")
    print(json.dumps({k: result[k] for k in ("label", "params", "step_ms", "base", "final", "wall_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

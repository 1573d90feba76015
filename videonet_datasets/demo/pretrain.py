"""Generic pretraining of the demo's tiny Molmo2: the stand-in for what Molmo2 knows before VideoNet.

Why this stage exists.  The paper fine-tunes a *pretrained* VLM: Molmo2-4B already answers
yes/no and multiple-choice questions about what it sees and knows what "moves up and to the
right" looks like; what it lacks is the domain's jargon (which jump is a lutz).  A randomly
initialised tiny Molmo2 has neither, and two rounds of experiments
(``docs/demo_experiments.md``) showed that it does not learn the question formats, the motion
and thirty new action names all at once from a few dozen weakly labeled clips - nor from
thousands of true-labelled ones within the demo's budget: the paper's questions stayed at
chance on five domains.  With this stage first, fine-tuning on the weak labels only has to
teach what the paper's fine-tuning teaches: the names.

What it trains on.  Clips of VideoNet-mini rendered in memory from world seeds *other than
the benchmark's* (:func:`.clips.render_training_clips`; new clips every epoch), labelled with
the six **generic** directions of travel in plain words ("move up and right") - never a
domain's action names, never a benchmark clip.  Two stages, each a real question format:

1. ``generic_classify`` - "Which Motion action is shown in the video?" answered with the
   direction's words: direct supervision, so the vision tower and the LLM learn to see the
   direction at all (the paper's formats alone gave the tiny model no signal to start from);
2. ``generic`` - the paper's three questions (binary yes, binary no, 4-way MC with random
   option order; :func:`videonet_datasets.train_data.qa.make_qa`) about the generic names:
   matching a named direction against the video and answering with yes/no or the letter.

Saved like any model directory (``save_pretrained`` of model + processor, written to a
staging directory and renamed), with ``pretraining.json`` recording the schedule and the
held-out accuracy of each stage.  Checkpoints every ``save_steps`` make an interrupted run
resume where it stopped with the same batches (clips and orders are functions of the seed
and the epoch).

``videonet demo-pretrain --model DIR --out DIR [--preset demo] [--steps N,M]`` (a step of ``videonet demo``)
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videonet_datasets.annotations import Action
from videonet_datasets.config import config_from_dict
from videonet_datasets.demo.clips import LabeledClip, render_training_clips, world_domains
from videonet_datasets.finetune.data import question_text
from videonet_datasets.fsutil import atomic_write_json, stable_rng
from videonet_datasets.molmo2 import answer_loss, collate_packed, encode_packed_clip, param_groups
from videonet_datasets.synth.config import SynthConfig
from videonet_datasets.train_data.qa import make_qa

__all__ = [
    "GENERIC_ACTIONS",
    "GENERIC_DOMAIN",
    "GENERIC_NAMES",
    "GENERIC_SYNONYMS",
    "GENERIC_WORDS",
    "PretrainConfig",
    "generic_name",
    "generic_qas",
    "pretrain",
    "pretrain_qas",
    "world_config",
]

#: The generic vocabulary: the six directions of travel of the ``coarse`` taxonomy in plain words.
#: The first name of each direction is the canonical one (``generic_classify`` answers with it).
GENERIC_DOMAIN = "Motion"
GENERIC_SYNONYMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("up", "straight"): ("move up", "rise", "north"),
    ("up", "right"): ("move up and right", "climb east", "northeast"),
    ("down", "right"): ("move down and right", "sink east", "southeast"),
    ("down", "straight"): ("move down", "drop", "south"),
    ("down", "left"): ("move down and left", "sink west", "southwest"),
    ("up", "left"): ("move up and left", "climb west", "northwest"),
}
GENERIC_NAMES: dict[tuple[str, str], str] = {k: v[0] for k, v in GENERIC_SYNONYMS.items()}
GENERIC_WORDS: tuple[str, ...] = tuple(n for names in GENERIC_SYNONYMS.values() for n in names)
GENERIC_ACTIONS = [Action("General", GENERIC_DOMAIN, n, "movement", "") for n in GENERIC_NAMES.values()]
STAGES = ("generic_classify", "generic")


def _direction(clip: LabeledClip, config: SynthConfig) -> tuple[str, str]:
    for d in world_domains(config):
        if d.name == clip.domain:
            attrs = d.action(clip.action).attrs
            key = (attrs.get("vertical"), attrs.get("horizontal"))
            if key not in GENERIC_SYNONYMS:
                raise ValueError(
                    f"action {clip.action!r} of {clip.domain!r} has no direction of travel (attributes {attrs}); "
                    "generic pretraining needs a world of the 'coarse' taxonomy"
                )
            return key  # type: ignore[return-value]
    raise ValueError(f"clip {clip.uid}: domain {clip.domain!r} is not in the world")


def generic_name(clip: LabeledClip, config: SynthConfig) -> str:
    """The canonical generic direction name of a clip of a ``coarse``-taxonomy world."""
    return GENERIC_NAMES[_direction(clip, config)]


def generic_qas(clip: LabeledClip, config: SynthConfig, seed: int) -> list[tuple[str, str]]:
    """The paper's three questions (yes, no, MC) about the clip's direction, named with one
    synonym per direction drawn for this clip.

    Why synonyms: with one fixed name per direction, the multiple-choice question can be solved
    by matching *words* ("up", "right") between the options and what the video shows, a skill
    that does not carry over to opaque jargon ("salchow").  Names without shared words ("rise",
    "drop") make the model read what a *name* means, which is what fine-tuning on the domain's
    names needs (docs/demo_experiments.md, round 3).
    """
    key = _direction(clip, config)
    rng = stable_rng(seed, "generic-names", clip.uid)
    names = {k: v[int(rng.integers(len(v)))] for k, v in GENERIC_SYNONYMS.items()}
    actions = [Action("General", GENERIC_DOMAIN, n, "movement", "") for n in names.values()]
    action = next(a for a in actions if a.name == names[key])
    return [
        (question_text(qa["prompt"]), qa["answer"])
        for qa in make_qa(action, actions, clip_uid=clip.uid, seed=seed)
    ]


def pretrain_qas(stage: str, clip: LabeledClip, config: SynthConfig, seed: int) -> list[tuple[str, str]]:
    """The (question, answer) pairs of one pretraining stage for ``clip``."""
    if stage == "generic_classify":
        return [(f"Which {GENERIC_DOMAIN} action is shown in the video?", generic_name(clip, config))]
    if stage == "generic":
        return generic_qas(clip, config, seed)
    raise ValueError(f"unknown pretraining stage {stage!r}; stages: {STAGES}")


@dataclass
class PretrainConfig:
    """The schedule.  Defaults = what built the shipped base checkpoint and what ``make reproduce``
    reruns (``docs/demo_experiments.md``: 4,000 ``generic`` steps left the MC skill half-built)."""

    stages: tuple[tuple[str, int], ...] = (("generic_classify", 3000), ("generic", 8000))
    lr: float = 1e-3  # ViT, connector and LLM alike; 100 warmup steps, cosine to 0.1 over all stages
    warmup: int = 100
    batch_size: int = 4
    fps: float = 16.0  # with max_frames 8: 8 frames spread over the whole clip (the recipe's sampling)
    max_frames: int = 8
    train_seeds: int = 4  # world seeds per epoch
    clips_per_action: int = 10  # per seed: 4 x 10 x 30 actions = 1,200 new clips per epoch
    heldout_clips: int = 3  # per action, world seed 999
    seed: int = 0
    threads: int = 1
    grad_clip: float = 1.0
    save_steps: int = 500

    @property
    def total_steps(self) -> int:
        return sum(n for _, n in self.stages)

    def lr_factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total_steps - self.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _epoch_clips(
    world: SynthConfig, cfg: PretrainConfig, stage_index: int, epoch: int, size: int
) -> list[LabeledClip]:
    """Epoch ``epoch``'s clips: world seeds no other epoch (nor the benchmark, seed 0) uses."""
    first = 1000 + (stage_index * 1000 + epoch) * cfg.train_seeds
    return render_training_clips(
        world, list(range(first, first + cfg.train_seeds)), cfg.clips_per_action,
        fps=cfg.fps, max_frames=cfg.max_frames, size=size,
    )  # fmt: skip


def _rows(processor, clips: Sequence[LabeledClip], stage: str, world: SynthConfig, seed: int) -> list:
    return [encode_packed_clip(processor, c.frames, pretrain_qas(stage, c, world, seed)) for c in clips]


@torch.no_grad()
def heldout_accuracy(
    model, rows: Sequence[Mapping[str, torch.Tensor]], pad_token_id: int
) -> dict[str, float]:
    """Share of held-out QAs whose answer tokens are all the argmax (teacher forcing), overall and
    per QA position (for ``generic``: qa1 = binary yes, qa2 = binary no, qa3 = MC)."""
    model.eval()
    hits: dict[str, list[bool]] = {"all": []}
    for start in range(0, len(rows), 8):
        batch = collate_packed(rows[start : start + 8], pad_token_id)
        out = answer_loss(model, batch)
        keep = batch["labels"][:, 1:] != -100
        seg = batch["segment_ids"][:, :-1][keep]
        qa_of = (batch["segment_ids"][:, :-1] * 1000 + torch.arange(len(keep))[:, None] * 1_000_000)[keep]
        hit = out.logits.argmax(-1) == out.targets
        for qa in qa_of.unique():
            ok = bool(hit[qa_of == qa].all())
            hits["all"].append(ok)
            hits.setdefault(f"qa{int(seg[qa_of == qa][0])}", []).append(ok)
    model.train()
    return {k: round(100.0 * float(np.mean(v)), 1) for k, v in hits.items() if v}


def _frame_size(processor) -> int:
    from videonet_datasets.molmo2.inputs import processor_frame_size

    return processor_frame_size(processor)[0]


def pretrain(
    model_dir: str | Path,
    out_dir: str | Path,
    world: SynthConfig,
    cfg: PretrainConfig | None = None,
    *,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Pretrain the model in ``model_dir`` on generic motion questions; ``save_pretrained`` to
    ``out_dir``.  Returns (and writes to ``out_dir/pretraining.json``) what was done."""
    from tqdm.auto import tqdm
    from transformers import AutoModelForImageTextToText, AutoProcessor

    cfg = cfg or PretrainConfig()
    for stage, n in cfg.stages:
        if stage not in STAGES or n < 0:
            raise ValueError(f"bad pretraining stage ({stage!r}, {n}); stages are {STAGES} with steps >= 0")
    if world.seed in range(1000, 1000 + 1000 * (len(cfg.stages) + 1)):
        raise ValueError(f"world seed {world.seed} collides with the pretraining clip seeds (1000+)")
    for d in world_domains(world):  # fail before any training if a domain has no directions
        for a in d.actions:
            if (a.attrs.get("vertical"), a.attrs.get("horizontal")) not in GENERIC_NAMES:
                raise ValueError(f"{d.name} / {a.name}: no direction of travel; generic pretraining needs "
                                 "a world of the 'coarse' taxonomy (the demo preset)")  # fmt: skip
    torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    work = out.with_name(out.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint.pt"

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    size = _frame_size(processor)
    pad = processor.tokenizer.pad_token_id
    groups = param_groups(model, {"vit": cfg.lr, "connector": cfg.lr, "llm": cfg.lr})
    for g in groups:
        g["initial_lr"] = g["lr"]
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.0)
    step, history = 0, []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        if state["config"] != dataclasses.asdict(cfg):
            raise ValueError(f"{ckpt_path} was written with another schedule; delete {work} to start over")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history = state["step"], state["history"]
        log(f"pretrain: resuming at step {step} from {ckpt_path}")

    t0 = time.perf_counter()
    heldout_clips = render_training_clips(
        world, [999], cfg.heldout_clips, fps=cfg.fps, max_frames=cfg.max_frames, size=size
    )  # fmt: skip
    bar = tqdm(total=cfg.total_steps, initial=step, desc="pretrain", disable=not progress, file=sys.stdout)
    stage_start = 0
    for stage_index, (stage, n_steps) in enumerate(cfg.stages):
        stage_end = stage_start + n_steps
        if step >= stage_end:
            stage_start = stage_end
            continue
        n_actions = sum(len(d.actions) for d in world_domains(world))
        per_epoch = max(1, n_actions * cfg.train_seeds * cfg.clips_per_action // cfg.batch_size)
        epoch, rows, order = -1, [], []
        while step < stage_end:
            # The batch of step s is a function of (seed, stage, epoch, position): resumable exactly.
            if (step - stage_start) // per_epoch != epoch:
                epoch = (step - stage_start) // per_epoch
                clips = _epoch_clips(world, cfg, stage_index, epoch, size)
                rows = _rows(processor, clips, stage, world, cfg.seed + epoch)
                order = list(range(len(rows)))
                random.Random(f"{cfg.seed}/{stage_index}/{epoch}").shuffle(order)
            pos = (step - stage_start) % per_epoch
            batch = collate_packed(
                [rows[i] for i in order[pos * cfg.batch_size : (pos + 1) * cfg.batch_size]], pad
            )
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * cfg.lr_factor(step)
            loss = answer_loss(model, batch).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            bar.update(1)
            bar.set_postfix(stage=stage, loss=f"{loss.item():.3f}")
            if step == stage_end:
                acc = heldout_accuracy(model, _rows(processor, heldout_clips, stage, world, 12345), pad)
                history.append({"stage": stage, "step": step, "heldout_accuracy": acc})
                log(f"pretrain: {stage} done at step {step}; held-out accuracy {acc}")
            if step % cfg.save_steps == 0 or step == stage_end:
                tmp = ckpt_path.with_suffix(".tmp")
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                            "history": history, "config": dataclasses.asdict(cfg)}, tmp)  # fmt: skip
                tmp.replace(ckpt_path)
        stage_start = stage_end
    bar.close()

    record = {
        "what": "generic pretraining (docs/demo_experiments.md, round 3): plain direction names, never the "
        "domain's action names or the benchmark's clips",
        "config": dataclasses.asdict(cfg),
        "world": {"preset_taxonomy": world.taxonomy, "domains": [d.name for d in world_domains(world)]},
        "history": history,
        "seconds_this_run": round(time.perf_counter() - t0, 1),
    }
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    processor.save_pretrained(staging)
    atomic_write_json(staging / "pretraining.json", record)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    shutil.rmtree(work, ignore_errors=True)
    return record


def world_config(world_dir: str | Path) -> SynthConfig:
    """The :class:`SynthConfig` a ``videonet synth`` output directory was made with (its world.json)."""
    path = Path(world_dir) / "world.json"
    try:
        raw = dict(json.loads(path.read_text())["config"])
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: not found; --world must be a `videonet synth` output directory"
        ) from None
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: no readable 'config' object ({e})") from None
    return config_from_dict(SynthConfig, raw, str(path))

"""``videonet demo``: the whole system in miniature, each step by the project's own tools.

1. ``videonet synth``           VideoNet-mini (the ``demo`` preset): benchmark clips + narrated web videos
2. ``videonet mine-negatives``  hard negatives, offline; then ``videonet build-benchmark``
3. ``videonet build-train``     weakly-labeled clips: localizer -> Whisper tiny.en -> the three filters
4. the base model: the shipped checkpoint ``videonet-mini-base-v1`` (``.base_checkpoint``: a tiny
   Molmo2 pretrained on generic motion questions - plain direction names, never the domain's
   action names), installed like a Hub download with every sha256 checked - the stand-in for
   the pretrained VLM the paper starts from.  ``--base pretrain`` (``make reproduce``) rebuilds
   it from random weights (``.model`` + ``.pretrain``) and checks it reaches the shipped skill
5. ``recipes/finetune_molmo2.py`` the base model on the ``single_action`` clips, once per seed
6. ``videonet eval``            lmms-eval: ``videonet_mc``, ``videonet_binary_hard_0shot`` and their
                                middle-frame ablations, for the base and each fine-tuned model
7. ``videonet report``          tables and plots; the headline table is printed and checked against
                                the issue's bar (fine-tuned >= base + 15 on both, and > middle frame)
8. ``videonet explore``         the results explorer (``OUT/explore/index.html``): every question, clip,
                                answer and confusion of both models, and their comparison

Every step runs as a subprocess (the exact command a user would type is printed), its
output goes to the terminal and to ``OUT/logs/<step>.log`` (a pretraining step 4 runs in the
background, on one core while step 3 transcribes on the other, and writes to its log only), and a
finished step is recorded
in ``OUT/demo_state.json`` (written atomically), so a rerun resumes after the last finished
step.  Nothing is tuned to pass: the verdict is computed from lmms-eval's numbers, for every
fine-tuning seed, with the mean and spread over seeds.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text

__all__ = ["DEFAULT_SEEDS", "DemoConfig", "Headline", "choose_base", "headline", "recipe_path", "run_demo"]

MAIN_TASKS = ("videonet_mc", "videonet_binary_hard_0shot")
MIDDLE_TASKS = ("videonet_mc_middle_frame", "videonet_binary_hard_0shot_middle_frame")
FILTERS = ("single_action", "transcript_localized", "transcript_localized_title_match")
REQUIRED_GAIN = 15.0
#: Fine-tuning seeds of ``make demo``: three fit its 20-minute budget on 2 cores with the shipped
#: base (docs/demo_experiments.md, "The demo"), and one seed is an anecdote.
DEFAULT_SEEDS = (0, 1, 2)


def recipe_path() -> Path:
    """``recipes/finetune_molmo2.py`` of the source tree this package runs from."""
    return Path(__file__).resolve().parents[2] / "recipes" / "finetune_molmo2.py"


def recipe_config() -> Path:
    return Path(__file__).resolve().parents[2] / "recipes" / "configs" / "molmo2_demo_cpu.yaml"


@dataclass
class DemoConfig:
    out: Path
    preset: str = "demo"
    seed: int = 0  # the world's and the data steps' seed
    seeds: tuple[int, ...] = DEFAULT_SEEDS  # fine-tuning seeds: one fine-tuned model per filter and seed
    # "shipped" (the packaged checkpoint), "pretrain" (rebuild it), or a checkpoint directory
    base: str = "shipped"
    until: str | None = None  # "base": stop after step 4 (building a new base checkpoint)
    filters: tuple[str, ...] = ("single_action",)  # one fine-tuned model per filter (paper Table 6)
    steps: int | None = None  # override the recipe config's max_steps
    eval_limit: int | None = None  # lmms-eval --limit (tests)
    synth_args: tuple[str, ...] = ()  # extra `videonet synth` flags (tests: a smaller world)
    train_args: tuple[str, ...] = ()  # extra `videonet build-train` flags
    finetune_args: tuple[str, ...] = ()  # extra recipe flags
    pretrain_steps: tuple[int, ...] | None = None  # override the generic pretraining's steps per stage
    pretrain_args: tuple[str, ...] = ()  # extra `videonet demo-pretrain` flags
    fps: float = 16.0  # evaluation sampling, as the recipe config trains
    max_frames: int = 8
    python: str = field(default_factory=lambda: sys.executable)


@dataclass
class Headline:
    """The demo's headline numbers, in %: per model and task, ``accuracy``, ``random_baseline``
    (the split's best single-answer guess) and ``unparsed_rate`` (None where not run)."""

    rows: dict[str, dict[str, dict[str, float | None]]]

    def value(self, model: str, task: str, key: str = "accuracy") -> float | None:
        return self.rows.get(model, {}).get(task, {}).get(key)

    def reference(self, task: str, base: str = "base") -> float | None:
        """What a fine-tuned model has to beat: the base model, or the split's best
        single-answer guess when that is higher.  A *random* tiny base model mostly emits
        no parsable answer (0%), so "base + 15" alone would be passed by a model that only
        learned the answer format."""
        vals = [
            v for v in (self.value(base, task), self.value(base, task, "random_baseline")) if v is not None
        ]
        return max(vals) if vals else None

    def gain(self, model: str, task: str) -> float | None:
        a, ref = self.value(model, task), self.reference(task)
        return None if a is None or ref is None else a - ref

    def verdict(self, model: str) -> list[tuple[str, bool | None]]:
        """The issue's three checks for one fine-tuned model."""
        checks: list[tuple[str, bool | None]] = []
        for task in MAIN_TASKS:
            g = self.gain(model, task)
            text = f"{task}: fine-tuned >= max(base, best single answer) + {REQUIRED_GAIN:.0f}"
            checks.append((text, None if g is None else g >= REQUIRED_GAIN))
        for task, mid in zip(MAIN_TASKS, MIDDLE_TASKS):
            full, m = self.value(model, task), self.value(model, mid)
            margin = self.noise(model, task, mid)
            text = f"{task}: video > middle frame" + (
                f" by more than {margin:.1f} (2 standard errors)" if margin else ""
            )
            checks.append((text, None if full is None or m is None else full - m > margin))
        return checks

    def noise(self, model: str, task: str, other: str) -> float:
        """Two standard errors of the difference of two accuracies (points), 0 if the question
        counts are unknown: a model at chance "beats" its middle frame half of the time."""
        n1, n2 = self.value(model, task, "n"), self.value(model, other, "n")
        a, b = self.value(model, task), self.value(model, other)
        if not n1 or not n2 or a is None or b is None:
            return 0.0
        p1, p2 = a / 100.0, b / 100.0
        return 200.0 * (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) ** 0.5

    def markdown(self) -> str:
        tasks = [*MAIN_TASKS, *MIDDLE_TASKS]
        lines = ["| model | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        random_row = [self.value("base", t, "random_baseline") for t in tasks]
        lines.append(
            "| best single answer | "
            + " | ".join("-" if v is None else f"{v:.1f}" for v in random_row)
            + " |"
        )
        for model in self.rows:
            cells = []
            for t in tasks:
                v, u = self.value(model, t), self.value(model, t, "unparsed_rate")
                g = self.gain(model, t) if model != "base" and t in MAIN_TASKS else None
                cell = "-" if v is None else f"{v:.1f}" + (f" ({g:+.1f})" if g is not None else "")
                if u:
                    cell += f" [{u:.0f}% unparsed]"
                cells.append(cell)
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def seed_summary(self, groups: dict[str, list[str]]) -> str:
        """Per group of models (one filter, several fine-tuning seeds): mean ± standard deviation
        (and min-max) of each column - one seed is an anecdote."""
        tasks = [*MAIN_TASKS, *MIDDLE_TASKS]
        lines = ["| model (seeds) | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        for group, names in groups.items():
            cells = []
            for t in tasks:
                vals = [v for v in (self.value(n, t) for n in names) if v is not None]
                if not vals:
                    cells.append("-")
                    continue
                mean = sum(vals) / len(vals)
                sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else 0.0
                cells.append(f"{mean:.1f} ± {sd:.1f} ({min(vals):.1f}-{max(vals):.1f})")
            lines.append(f"| {group} ({len(names)}) | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def headline(results_dirs: dict[str, Path]) -> Headline:
    """Per model and task: accuracy, random baseline and unparsed rate from lmms-eval's results files."""
    from videonet_datasets.report import load_results

    keys = ("accuracy", "random_baseline", "unparsed_rate")
    rows: dict[str, dict[str, dict[str, float | None]]] = {}
    for model, path in results_dirs.items():
        results, _ = load_results([f"{model}={path}"])
        vals: dict[str, dict[str, float | None]] = {
            t: dict.fromkeys(keys) for t in (*MAIN_TASKS, *MIDDLE_TASKS)
        }
        for r in results:
            if r.task not in vals:
                continue
            for key in keys:
                v = r.metrics.get(key)
                if isinstance(v, (int, float)):
                    vals[r.task][key] = 100.0 * v if v <= 1.0 else float(v)
            vals[r.task]["n"] = float(r.n) if r.n else None
        rows[model] = vals
    return Headline(rows)


class _Runner:
    """Runs the steps with a narrative, logs, timing and a resumable state file."""

    def __init__(self, settings: DemoConfig, echo: Callable[[str], None]):
        self.s = settings
        self.echo = echo
        self.out = settings.out
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state_path = self.out / "demo_state.json"
        # A private 🤗 datasets cache: datasets 5.2 serves a *stale* cached copy when another local
        # dataset directory with the same name, config and file names was loaded before (two demo
        # outputs' "train/" or "benchmark/"), so a shared cache could train or evaluate on old data.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
                    "HF_DATASETS_CACHE": str((self.out / ".cache" / "hf_datasets").resolve())}  # fmt: skip
        self.state: dict[str, Any] = (
            json.loads(self.state_path.read_text()) if self.state_path.exists() else {"steps": {}}
        )

    def cli(self, *args: str) -> list[str]:
        return [self.s.python, "-m", "videonet_datasets.cli", *args]

    def step(
        self,
        name: str,
        story: str,
        commands: Sequence[Sequence[str]],
        after: Callable[[], dict] | None = None,
    ) -> dict:
        done = self.state["steps"].get(name)
        self.echo(f"\n=== {name}: {story}")
        if done:
            self.echo(
                f"    (done in an earlier run, {done['seconds']:.0f} s; delete {self.state_path} to redo)"
            )
            return done
        t0 = time.perf_counter()
        with open(self.logs / f"{name}.log", "w") as log:
            for cmd in commands:
                self.echo("$ " + shlex.join(cmd))
                log.write("$ " + shlex.join(cmd) + "\n")
                log.flush()
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                        env=self.env)  # fmt: skip
                assert proc.stdout is not None
                for line in proc.stdout:
                    sys.stdout.write(line)
                    log.write(line)
                if proc.wait() != 0:
                    raise RuntimeError(f"step {name!r} failed (exit {proc.returncode}): {shlex.join(cmd)}; "
                                       f"see {self.logs / (name + '.log')}")  # fmt: skip
        record = {"seconds": round(time.perf_counter() - t0, 1), **(after() if after else {})}
        self.state["steps"][name] = record
        atomic_write_json(self.state_path, self.state)
        self.echo(f"    {name} took {record['seconds']:.0f} s")
        return record

    def start(
        self,
        name: str,
        story: str,
        commands: Sequence[Sequence[str]],
        after: Callable[[], dict] | None = None,
    ) -> _Background | None:
        """Start a step in the background (its output goes to its log only); ``finish`` waits for
        it.  Why: the base model's pretraining needs only the world, so it runs on one core while
        the training-data step transcribes on the other.  None if done in an earlier run."""
        self.echo(f"\n=== {name} (in the background, log: {self.logs / (name + '.log')}): {story}")
        if self.state["steps"].get(name):
            self.echo(f"    (done in an earlier run, {self.state['steps'][name]['seconds']:.0f} s)")
            return None
        job = _Background(name, [list(c) for c in commands], self.logs / f"{name}.log", self.env, after)
        for cmd in commands:
            self.echo("$ " + shlex.join(cmd))
        job.thread.start()
        return job

    def finish(self, job: _Background | None) -> dict | None:
        if job is None:
            return None
        job.thread.join()
        if job.error:
            raise RuntimeError(f"step {job.name!r} failed: {job.error}; see {job.log}")
        record = {"seconds": job.seconds, **(job.after() if job.after else {})}
        self.state["steps"][job.name] = record
        atomic_write_json(self.state_path, self.state)
        self.echo(f"\n    {job.name} (background) took {record['seconds']:.0f} s")
        return record

    def stop(self, job: _Background | None) -> None:
        """Terminate a background step (another step failed)."""
        if job is not None and job.proc is not None and job.proc.poll() is None:
            job.proc.terminate()
            job.thread.join(timeout=30)


class _Background:
    """A step's commands run one after another in a thread, output to the step's log."""

    def __init__(self, name: str, commands: list[list[str]], log: Path, env: dict, after) -> None:
        self.name, self.commands, self.log, self.env, self.after = name, commands, log, env, after
        self.error: str | None = None
        self.seconds = 0.0
        self.proc: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._run, name=f"demo-{name}", daemon=True)

    def _run(self) -> None:
        t0 = time.perf_counter()
        with open(self.log, "w") as log:
            for cmd in self.commands:
                log.write("$ " + shlex.join(cmd) + "\n")
                log.flush()
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
                if self.proc.wait() != 0:
                    self.error = f"exit {self.proc.returncode}: {shlex.join(cmd)}"
                    break
        self.seconds = round(time.perf_counter() - t0, 1)


def _negative_agreement(designed: Path, mined: Path) -> dict[str, Any]:
    """How many mined (action, negative) pairs the world's motion-based table also has."""

    def pairs(path: Path) -> set[tuple[str, str, str]]:
        out = set()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for k in ("negative_1", "negative_2", "negative_3"):
                    out.add((row["domain"], row["action"], row[k]))
        return out

    a, b = pairs(designed), pairs(mined)
    return {"mined_pairs": len(b), "also_in_world_table": len(a & b)}


def _history(base: Path) -> list[dict]:
    return json.loads((base / "pretraining.json").read_text())["history"]


def choose_base(settings: DemoConfig, world: Path, echo: Callable[[str], None]) -> Path | None:
    """The checkpoint step 4 installs, or None when it has to pretrain one.

    ``shipped`` falls back to pretraining (and says why) when the packaged checkpoint was made for
    another world's vocabulary - e.g. ``--preset tiny``; an explicit path that does not fit is an error."""
    from videonet_datasets.demo.base_checkpoint import SHIPPED, action_names, mismatch

    if settings.base == "pretrain":
        return None
    ckpt = SHIPPED if settings.base == "shipped" else Path(settings.base)
    reason = mismatch(ckpt, action_names(world / "actions.csv"), f"the world in {world}")
    if reason is None:
        return ckpt
    if settings.base != "shipped":
        raise RuntimeError(f"--base {ckpt}: {reason}")
    echo(f"\n(the shipped base does not fit this world: {reason}; pretraining a base instead)")
    return None


def _start_pretraining(r: _Runner, settings: DemoConfig, world: Path, base: Path) -> _Background | None:
    """Step 4 from random weights: the tiny Molmo2, then the generic pretraining, in the background.
    When done, the base gets a ``provenance.json`` like the shipped one and, if the shipped one is for
    this world, is checked against its held-out skill (what ``make reproduce`` shows)."""
    from videonet_datasets.demo.base_checkpoint import (
        SHIPPED,
        action_names,
        mismatch,
        read_provenance,
        skill_checks,
        write_provenance,
    )

    random_init = settings.out / "models" / "random"
    model_cmd = r.cli("demo-model", "--out", str(random_init), "--actions", str(world / "actions.csv"),
                      "--seed", str(settings.seed))  # fmt: skip
    pretrain_cmd = r.cli("demo-pretrain", "--model", str(random_init), "--out", str(base), "--world", str(world),
                         "--seed", str(settings.seed), "--quiet")  # fmt: skip
    if settings.pretrain_steps is not None:
        pretrain_cmd += ["--steps", ",".join(str(n) for n in settings.pretrain_steps)]
    pretrain_cmd += list(settings.pretrain_args)

    def after() -> dict:
        record = write_provenance(
            base, actions_csv=world / "actions.csv", world=f"videonet synth --preset {settings.preset} "
            f"--seed {settings.seed}", commands=[["videonet", *model_cmd[3:]], ["videonet", *pretrain_cmd[3:]]],
            init={"seed": settings.seed, "embed_std": 1.0},
        )  # fmt: skip
        done: dict[str, Any] = {"pretraining": record["pretraining"]["history"]}
        if SHIPPED.is_dir() and mismatch(SHIPPED, action_names(world / "actions.csv")) is None:
            shipped = read_provenance(SHIPPED)
            done["skill_checks"] = skill_checks(done["pretraining"], shipped)
            same = (
                record["files"]["model.safetensors"]["sha256"]
                == shipped["files"]["model.safetensors"]["sha256"]
            )
            done["same_weights_as_shipped"] = same
        return done

    return r.start(
        "4-base-model", "build the tiny random Molmo2 (real transformers classes, local tokenizer), then pretrain "
        "it on generic motion questions (plain direction names such as 'move up and right', clips from other "
        "world seeds; never the domain's action names): the stand-in for the pretrained VLM the paper fine-tunes",
        [model_cmd, pretrain_cmd], after=after,
    )  # fmt: skip


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def _timing_table(steps: dict[str, dict]) -> str:
    lines = ["| step | seconds |", "|---|---:|"]
    lines += [f"| {name} | {rec['seconds']:.0f} |" for name, rec in steps.items()]
    return "\n".join(lines)


def run_demo(settings: DemoConfig, echo: Callable[[str], None] = print) -> Headline:
    """Run (or resume) the demo; returns the headline numbers."""
    t_start = time.perf_counter()
    r = _Runner(settings, echo)
    out = settings.out
    world, bench, train = out / "world", out / "benchmark", out / "train"

    r.step("1-synth", "generate VideoNet-mini: motion-defined actions (a middle frame carries no label) and "
           "narrated web videos with titles and ground truth",
           [r.cli("synth", "--out", str(world), "--preset", settings.preset, "--seed", str(settings.seed),
                  *settings.synth_args)])  # fmt: skip

    designed = world / "hard_negatives.world.csv"
    if not designed.exists():
        shutil.copy2(world / "hard_negatives.csv", designed)
    r.step("2-negatives", "mine 3 hard negatives per action offline (embedding similarity + balanced "
           "assignment) and build the benchmark (MC + binary k-shot) with them",
           [r.cli("mine-negatives", str(world), "--output", str(world / "hard_negatives.csv"), "--force"),
            r.cli("build-benchmark", str(world), "--out", str(bench), "--seed", str(settings.seed))],
           after=lambda: _negative_agreement(designed, world / "hard_negatives.csv"))  # fmt: skip

    base = out / "models" / "base"
    shipped = choose_base(settings, world, echo)
    # A pretraining runs in the background, on one core while the data step transcribes on the other.
    background = _start_pretraining(r, settings, world, base) if shipped is None else None
    try:
        workers = ("--workers", "1") if background is not None else ()
        r.step("3-train-data", "label the narrated web videos: localize windows, transcribe with Whisper tiny.en, "
               "apply the three filters, 3 QA pairs per clip (with label precision against the ground truth)",
               [r.cli("build-train", str(world), "--out", str(train), "--seed", str(settings.seed), *workers,
                      *settings.train_args)])  # fmt: skip
    except BaseException:
        r.stop(background)
        raise
    if shipped is not None:
        r.step("4-base-model", f"install the base model: the shipped checkpoint {shipped.name} (a tiny Molmo2 after "
               "generic motion pretraining - plain direction names, never the domain's action names; every file's "
               "sha256 checked, as a Hub download is): the stand-in for the pretrained VLM the paper fine-tunes",
               [r.cli("demo-base", "install", str(shipped), "--to", str(base))],
               after=lambda: {"checkpoint": str(shipped), "pretraining": _history(base)})  # fmt: skip
    elif background is not None:
        echo("\n=== 4-base-model: waiting for the pretraining to finish ...")
    done = r.finish(background) or r.state["steps"].get("4-base-model", {})
    for h in done.get("pretraining", []):
        echo(f"    base model, {h['stage']} ({h['step']} steps): held-out accuracy {h['heldout_accuracy']}")
    base_checks = done.get("skill_checks", [])
    if "same_weights_as_shipped" in done:
        same = done["same_weights_as_shipped"]
        base_checks = [*base_checks, ("rebuilt base: weights byte-identical to the shipped checkpoint's" if same else
                                      "rebuilt base: weights differ from the shipped checkpoint's (another machine or "
                                      "library build rounds differently; the skill checks above are what counts)",
                                      True if same else None)]  # fmt: skip
    for text, ok in base_checks:
        echo(f"  [{_mark(ok):>3}] {text}")
    if settings.until == "base":
        echo(f"\nstopped after the base model (--until base): {base}")
        return Headline({})

    # Each model is evaluated in the background (one core) while the next one fine-tunes on the
    # other: the evaluations cost no wall time but the last one.  Same numbers as one after another.
    models: dict[str, Path] = {"base": base}
    groups: dict[str, list[str]] = {}
    results: dict[str, Path] = {}
    pending: _Background | None = None

    def evaluate(name: str, path: Path) -> _Background | None:
        eval_dir = out / "eval" / name
        cmd = r.cli("eval", "--data", str(bench), "--model", "videonet_molmo2",
                    "--model_args", f"pretrained={path},fps={settings.fps},max_frames={settings.max_frames},"
                    "max_new_tokens=8", "--tasks", ",".join((*MAIN_TASKS, *MIDDLE_TASKS)),
                    "--batch_size", "1", "--output_path", str(eval_dir), "--log_samples")  # fmt: skip
        if settings.eval_limit:
            cmd += ["--limit", str(settings.eval_limit)]
        results[name] = eval_dir
        return r.start(f"6-eval-{name}", f"evaluate the {name} model with lmms-eval (MC, binary 0-shot, middle "
                       "frame)", [cmd])  # fmt: skip

    try:
        pending = evaluate("base", base)
        for filt in settings.filters:
            for seed in settings.seeds:
                name = filt if len(settings.seeds) == 1 else f"{filt}-seed{seed}"
                run_dir = out / "runs" / name
                cmd = [settings.python, str(recipe_path()), "--config", str(recipe_config()),
                       "--model_name_or_path", str(base), "--dataset", str(train), "--dataset_config", filt,
                       "--output_dir", str(run_dir), "--seed", str(seed), *settings.finetune_args]  # fmt: skip
                if settings.steps is not None:
                    cmd += [
                        "--max_steps",
                        str(settings.steps),
                        "--warmup_steps",
                        str(min(100, settings.steps // 10)),
                    ]
                r.step(f"5-finetune-{name}", f"fine-tune on the {filt} clips with recipes/finetune_molmo2.py "
                       f"(seed {seed})", [cmd])  # fmt: skip
                models[name] = run_dir / "final"
                groups.setdefault(filt, []).append(name)
                r.finish(pending)
                pending = evaluate(name, models[name])
        r.finish(pending)
    except BaseException:
        r.stop(pending)
        raise

    report_dir = out / "report"
    r.step("7-report", "write the tables and plots",
           [r.cli("report", *(f"{k}={v}" for k, v in results.items()), "--out", str(report_dir))])  # fmt: skip
    explore_dir = out / "explore"
    r.step("8-explore", "write the results explorer: every question with its clip, each model's answer, the "
           "confusions, per-domain tables and the base vs fine-tuned comparison (open index.html)",
           [r.cli("explore", *(f"{k}={v}" for k, v in results.items()), "--data", str(bench),
                  "--out", str(explore_dir), "--quiet")])  # fmt: skip

    head = headline(results)
    lines = ["", "=== VideoNet-mini: headline (accuracy %; in brackets the gain over max(base, best single answer))",
             "",
             head.markdown(), ""]  # fmt: skip
    if any(len(names) > 1 for names in groups.values()):
        lines += [head.seed_summary(groups), ""]
    for model in models:
        if model == "base":
            continue
        for text, ok in head.verdict(model):
            lines.append(f"  [{_mark(ok):>3}] {model}: {text}")
    for filt, names in groups.items():
        passed = sum(all(ok for _, ok in head.verdict(n)) for n in names)
        lines.append(f"\n{filt}: all four checks [yes] for {passed} of {len(names)} fine-tuning seed(s) "
                     f"({', '.join(str(s) for s in settings.seeds)})")  # fmt: skip
    for text, ok in base_checks:
        lines.append(f"  [{_mark(ok):>3}] {text}")
    lines += ["", _timing_table(r.state["steps"])]
    total = time.perf_counter() - t_start
    lines.append(f"\nwall time of this run: {total / 60:.1f} min; step times in {r.state_path}; "
                 f"report in {report_dir}; explorer: {explore_dir / 'index.html'}")  # fmt: skip
    text = "\n".join(lines)
    echo(text)
    atomic_write_text(out / "headline.md", head.markdown() + "\n" + text + "\n")
    r.state["headline"] = head.rows
    r.state["wall_seconds"] = round(total, 1)
    atomic_write_json(r.state_path, r.state)
    return head

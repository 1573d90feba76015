"""The demo's base model as a shipped, versioned checkpoint: the stand-in for a Hub download.

Why this exists.  The paper's experiment starts from ``allenai/Molmo2-4B``, a download; nobody
pretrains it as part of VideoNet.  The demo's stand-in base (a tiny Molmo2 given generic motion
skills by :mod:`.pretrain`) took most of ``make demo``'s time and, with the short schedule the
budget allowed, learned the multiple-choice format only half-way - so the fine-tuned model's MC
stayed at chance (``docs/demo_experiments.md``).  So the generic pretraining is run *once*, long
enough for a complete MC skill, and its result ships with the toolkit like a model download:
weights, processor and a ``provenance.json`` that says exactly how it was made (commands, seeds,
steps, data, held-out accuracies, sha256 of every file).  ``make demo`` installs it (checking every
hash, as ``huggingface_hub`` checks a download); ``make reproduce`` rebuilds it from random
weights and checks that the rebuild reaches the same held-out skill.

What it never saw: the pretraining's clips are rendered from world seeds 1000+ (the benchmark is
seed 0) and labelled with generic direction words, never a domain's action names
(``tests/test_demo_pretrain.py`` proves both).  The tokenizer does *contain* the domain's names
as words, as any real tokenizer contains the words of its language; which checkpoint serves which
world is decided by that vocabulary (:func:`mismatch`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videonet_datasets import __version__
from videonet_datasets.fsutil import atomic_write_json, atomic_write_text, sha256_file, swap_in_directory

__all__ = [
    "ARTIFACT_NAME",
    "PROVENANCE_FILE",
    "SHIPPED",
    "CheckpointError",
    "action_names",
    "install",
    "mismatch",
    "publish",
    "read_provenance",
    "skill_checks",
    "verify",
    "write_provenance",
]

ARTIFACT_NAME = "videonet-mini-base"
PROVENANCE_FILE = "provenance.json"
#: The checkpoint ``make demo`` uses.  A new version gets a new directory (``-v2``...), never an
#: overwrite, so a results file that names its base stays reproducible.
SHIPPED = Path(__file__).resolve().parent / "checkpoints" / f"{ARTIFACT_NAME}-v1"
#: What a base model directory holds (``save_pretrained`` of model + processor, and the pretraining's
#: record).  The provenance lists a sha256 for each.
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "pretraining.json",
)
#: How far a rebuilt base's held-out accuracy may fall below the shipped one's (points) and still
#: count as "the same skill": held-out sets are 90-180 questions, one question is 0.6-1.1 points.
SKILL_TOLERANCE = 5.0


class CheckpointError(ValueError):
    """A checkpoint directory is incomplete, altered or unreadable (the message names the file)."""


def action_names(actions_csv: str | Path) -> list[str]:
    """The distinct action names of an ``actions.csv`` - the words the demo's tokenizer is built with."""
    with open(actions_csv, newline="") as f:
        return sorted({row["action"] for row in csv.DictReader(f)})


def _names_digest(names: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


def read_provenance(ckpt: str | Path) -> dict[str, Any]:
    path = Path(ckpt) / PROVENANCE_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: not found; {ckpt} is not a published base checkpoint") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    for key in ("name", "version", "files", "tokenizer_corpus", "pretraining"):
        if key not in record:
            raise CheckpointError(f"{path}: no {key!r} field")
    return record


def verify(ckpt: str | Path) -> dict[str, Any]:
    """Check every file the provenance lists against its sha256; returns the provenance.

    Why: a checkpoint that was altered (a half-copied clone, a hand edit, git-lfs pointer files
    instead of weights) would silently give other numbers; a download is checked the same way."""
    ckpt = Path(ckpt)
    record = read_provenance(ckpt)
    for name, meta in record["files"].items():
        path = ckpt / name
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {ckpt / PROVENANCE_FILE})")
        digest = sha256_file(path)
        if digest != meta["sha256"]:
            raise CheckpointError(
                f"{path}: sha256 {digest[:12]}... does not match the provenance's {meta['sha256'][:12]}... "
                f"({path.stat().st_size} bytes, expected {meta['bytes']}); the checkpoint was altered or is "
                "a git-lfs pointer - check out the file again"
            )
    return record


def mismatch(ckpt: str | Path, names: Sequence[str], where: str = "this world") -> str | None:
    """Why the checkpoint cannot serve a world with these action names, or None.

    The demo's tokenizer is built with the world's action names as words, so a checkpoint made for
    one world's vocabulary would split another world's names into pieces it never learned together."""
    record = read_provenance(ckpt)
    want = record["tokenizer_corpus"]
    if _names_digest(sorted(set(names))) != want["action_names_sha256"]:
        return (
            f"{ckpt} was built for the {want['count']} action names of {want.get('world', 'another world')}; "
            f"{where} has {len(set(names))} others"
        )
    return None


def install(ckpt: str | Path, dest: str | Path) -> dict[str, Any]:
    """Verify ``ckpt`` and copy it to ``dest`` (replacing it whole); returns the provenance."""
    ckpt, dest = Path(ckpt), Path(dest)
    record = verify(ckpt)
    staging = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in (*record["files"], PROVENANCE_FILE, "README.md"):
        if (ckpt / name).exists():
            shutil.copy2(ckpt / name, staging / name)
    swap_in_directory(staging, dest)
    return record


def _git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_provenance(
    base_dir: str | Path,
    *,
    actions_csv: str | Path,
    world: str,
    commands: Sequence[Sequence[str]],
    init: Mapping[str, Any],
    version: int = 1,
) -> dict[str, Any]:
    """Write ``base_dir/provenance.json`` for a base model the demo just built (and a model card).

    ``commands`` are the exact commands that built it from nothing (the random init and the
    pretraining), ``init`` the random model's settings; the rest is read from the directory
    (``pretraining.json``: schedule, seeds, held-out accuracies) and the machine."""
    import torch
    import transformers

    base = Path(base_dir)
    pretraining = json.loads((base / "pretraining.json").read_text())
    names = action_names(actions_csv)
    files = {}
    for name in MODEL_FILES:
        if (base / name).is_file():
            files[name] = {"sha256": sha256_file(base / name), "bytes": (base / name).stat().st_size}
    if "model.safetensors" not in files:
        raise CheckpointError(f"{base}: no model.safetensors; not a saved base model")
    cfg = pretraining["config"]
    stages = [list(s) for s in cfg["stages"]]
    record = {
        "name": ARTIFACT_NAME,
        "version": version,
        "what": "The demo's base model: a tiny random Molmo2 (videonet_datasets/demo/model.py) after generic "
        "motion pretraining (videonet_datasets/demo/pretrain.py) - the stand-in for a pretrained VLM",
        "commands": [list(c) for c in commands],
        "init": dict(init),
        "pretraining": pretraining,
        "data": {
            "training_clips": f"VideoNet-mini clips rendered in memory, new every epoch ({cfg['train_seeds']} world "
            f"seeds x {cfg['clips_per_action']} clips per action), from world seeds >= 1000 (the benchmark is "
            "world seed 0)",
            "heldout_clips": f"{cfg['heldout_clips']} per action from world seed 999",
            "labels": "the six generic directions of travel in plain words (GENERIC_SYNONYMS); never a "
            "domain's action names",
            "stages": stages,
        },
        "tokenizer_corpus": {
            "world": world,
            "count": len(names),
            "action_names_sha256": _names_digest(names),
        },
        "files": files,
        "built": {
            "toolkit_version": __version__,
            "git_commit": _git_commit(Path(__file__).resolve().parent),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}",
            "date": time.strftime("%Y-%m-%d"),
        },
    }
    atomic_write_json(base / PROVENANCE_FILE, record)
    atomic_write_text(base / "README.md", _model_card(record))
    return record


def _model_card(record: Mapping[str, Any]) -> str:
    history = record["pretraining"]["history"]
    rows = "\n".join(
        f"| {h['stage']} | {h['step']} | "
        + ", ".join(f"{k} {v}" for k, v in h["heldout_accuracy"].items())
        + " |"
        for h in history
    )
    cmds = "\n".join(" ".join(c) for c in record["commands"])
    return f"""---
library_name: transformers
pipeline_tag: image-text-to-text
tags: [videonet, molmo2, tiny, synthetic]
---
# {record["name"]} v{record["version"]}

{record["what"]}.  Made by the VideoNet toolkit for `make demo`; not a useful model outside
VideoNet-mini.  `make reproduce` rebuilds it from random weights and checks it reaches the same
held-out skill.

Trained on: {record["data"]["training_clips"]}; labels: {record["data"]["labels"]}.
Held-out: {record["data"]["heldout_clips"]}.

| stage | step | held-out accuracy % (qa1 = binary yes, qa2 = binary no, qa3 = MC) |
|---|---|---|
{rows}

Built with:
```
{cmds}
```
toolkit {record["built"]["toolkit_version"]} ({record["built"]["git_commit"]}), torch {record["built"]["torch"]},
transformers {record["built"]["transformers"]}, {record["built"]["date"]}.  Every file's sha256 is in
`provenance.json`.
"""


def publish(base_dir: str | Path, dest: str | Path, version: int) -> dict[str, Any]:
    """Copy a built base (with its provenance) to ``dest`` as version ``version`` of the artifact.

    Refuses to overwrite an existing version: results name the checkpoint they came from."""
    base, dest = Path(base_dir), Path(dest)
    if dest.exists():
        raise CheckpointError(f"{dest}: exists; publish a new version into a new directory")
    record = verify(base)
    record["version"] = version
    staging = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in record["files"]:
        shutil.copy2(base / name, staging / name)
    atomic_write_json(staging / PROVENANCE_FILE, record)
    atomic_write_text(staging / "README.md", _model_card(record))
    staging.rename(dest)
    return record


def skill_checks(
    rebuilt: Sequence[Mapping[str, Any]], shipped: Mapping[str, Any], tolerance: float = SKILL_TOLERANCE
) -> list[tuple[str, bool]]:
    """Does a rebuilt base reach the shipped checkpoint's held-out skill?  One check per stage and
    question kind: rebuilt >= shipped - ``tolerance`` points."""
    want = {h["stage"]: h["heldout_accuracy"] for h in shipped["pretraining"]["history"]}
    checks = []
    for h in rebuilt:
        ref = want.get(h["stage"], {})
        for key, value in h["heldout_accuracy"].items():
            if key in ref:
                ok = value >= ref[key] - tolerance
                checks.append((f"rebuilt base, {h['stage']} {key}: {value:.1f} vs shipped {ref[key]:.1f} "
                               f"(>= shipped - {tolerance:.0f})", ok))  # fmt: skip
    return checks

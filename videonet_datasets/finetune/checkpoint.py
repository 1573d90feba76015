"""Training checkpoints: ``OUTPUT/checkpoint-{step}/``, written whole or not at all, rotated.

A checkpoint is ``accelerator.save_state`` (model, optimizer, the registered LR scheduler,
every process's RNG states, accelerate's micro-step counter) plus:

* ``trainer_state.json`` - the optimizer step, the data position (in-memory data: the step
  *is* the position; streamed data: see the per-process files), process/worker counts and
  counters (clips seen, clips skipped);
* ``data_state_rank{r}.json`` - process ``r``'s stream positions per loader worker;
* ``finetune_config.yaml`` - the settings, so the checkpoint can be exported on its own.

Folders are named explicitly (accelerate's ``automatic_checkpoint_naming`` numbers saves per
process and breaks resuming across ranks).  Everything is written to a hidden
``.checkpoint-{step}.partial`` and renamed once every process has finished, so a crash
mid-save leaves the previous checkpoint as the latest one.  The output directory must be
shared by every node (multi-node runs).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_json

from .config import FinetuneConfig, dump_config

log = logging.getLogger(__name__)

__all__ = [
    "CONFIG_FILE",
    "TRAINER_STATE",
    "checkpoint_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "read_trainer_state",
    "resolve_resume",
    "rotate_checkpoints",
    "save_checkpoint",
]

TRAINER_STATE = "trainer_state.json"
CONFIG_FILE = "finetune_config.yaml"
_NAME = re.compile(r"checkpoint-(\d+)")


def checkpoint_dir(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / f"checkpoint-{step}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (with a trainer state), oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _NAME.fullmatch(child.name)
        if match and (child / TRAINER_STATE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def rotate_checkpoints(output_dir: str | Path, keep: int | None) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints; returns what was deleted."""
    if keep is None:
        return []
    found = list_checkpoints(output_dir)
    doomed = [path for _, path in found[: max(0, len(found) - keep)]]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def read_trainer_state(checkpoint: str | Path) -> dict[str, Any]:
    path = Path(checkpoint) / TRAINER_STATE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{checkpoint}: not a training checkpoint (no {TRAINER_STATE})") from None


def resolve_resume(config: FinetuneConfig, is_main_process: bool = True) -> Path | None:
    """The checkpoint to resume from, per ``resume_from_checkpoint`` (auto / none / a path).

    A fresh run into an output directory that has checkpoints is refused (it would mix two
    runs' checkpoints) unless ``overwrite_output_dir``, which deletes them (main process).
    """
    choice = (config.resume_from_checkpoint or "none").strip()
    output_dir = Path(config.output_dir)
    if choice.lower() == "auto":
        return latest_checkpoint(output_dir)
    if choice.lower() in ("none", "no", "false", ""):
        existing = list_checkpoints(output_dir)
        if existing:
            if not config.overwrite_output_dir:
                raise FileExistsError(
                    f"{output_dir} already has {len(existing)} checkpoint(s) (latest {existing[-1][1].name}); "
                    "resume with resume_from_checkpoint=auto, or pass overwrite_output_dir to start over"
                )
            if is_main_process:
                for _, path in existing:
                    shutil.rmtree(path)
        return None
    path = Path(choice)
    if not (path / TRAINER_STATE).is_file():
        raise FileNotFoundError(
            f"resume_from_checkpoint={choice!r}: no checkpoint there (missing {TRAINER_STATE})"
        )
    return path


def save_checkpoint(
    accelerator: Any,
    config: FinetuneConfig,
    step: int,
    state: dict[str, Any],
    data_state: dict[str, Any],
) -> Path:
    """Write ``checkpoint-{step}`` (collective: every process must call it)."""
    final = checkpoint_dir(config.output_dir, step)
    partial = final.with_name(f".{final.name}.partial")
    if accelerator.is_main_process and partial.exists():
        shutil.rmtree(partial)  # left by a crash
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    atomic_write_json(partial / f"data_state_rank{accelerator.process_index}.json", data_state)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        atomic_write_json(partial / TRAINER_STATE, {**state, "step": step})
        dump_config(config, partial / CONFIG_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
        removed = rotate_checkpoints(config.output_dir, config.save_total_limit)
        if removed:
            log.info("removed old checkpoint(s): %s", ", ".join(p.name for p in removed))
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, checkpoint: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Restore ``accelerator``'s registered objects; returns (trainer state, this process's data state)."""
    checkpoint = Path(checkpoint)
    state = read_trainer_state(checkpoint)
    accelerator.load_state(str(checkpoint))
    data_file = checkpoint / f"data_state_rank{accelerator.process_index}.json"
    data_state = json.loads(data_file.read_text(encoding="utf-8")) if data_file.is_file() else {}
    return state, data_state

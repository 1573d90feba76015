"""Every run's per-question answers: lmms-eval ``--log_samples`` output and the authors' result files.

A run is given as ``DIR`` or ``NAME=DIR`` (as to ``videonet report``).  Under it, the newest
``*_samples_videonet_*.jsonl`` of each task (:func:`videonet_datasets.official_results.read_samples`)
and every authors' result file (``mcq_test.json``, ``zero.json`` ... - the model is named by
its folder unless ``NAME=`` is given) are read; a file that is neither is skipped and counted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from videonet_datasets.fsutil import labelled_path

__all__ = ["RunAnswers", "read_answers"]


@dataclass
class RunAnswers:
    """One model's answers to one task: question id -> the text that was scored."""

    model: str
    task: str
    answers: dict[str, str]
    source: str


def _text(value: object) -> str:
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else ""


def read_answers(specs: Sequence[str | os.PathLike]) -> tuple[list[RunAnswers], list[str]]:
    """The answers under every ``[NAME=]DIR`` (the newest per model and task), and notes."""
    from videonet_datasets.official_results import read_file, read_samples

    found: dict[tuple[str, str], RunAnswers] = {}
    notes: list[str] = []
    for spec in specs:
        label, path = labelled_path(spec)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such results directory")
        n = 0
        if path.is_dir() and any(path.rglob("*_samples_videonet_*.jsonl")):
            for run in read_samples([f"{label}={path}" if label else path]):
                answers = {k: _text(e.get("response")) for k, e in run.entries.items()}
                found[(run.model, run.task)] = RunAnswers(run.model, run.task, answers, str(run.path))
                n += 1
        candidates = [path] if path.is_file() else sorted(path.rglob("*.json"))
        for f in candidates:
            if f.name.endswith("_results.json") or f.name.startswith("results"):
                continue
            try:
                official = read_file(f)
            except ValueError as e:
                notes.append(str(e))
                continue
            if official is None:
                continue
            model = label or f.parent.name
            answers = {k: _text(e.get("response")) for k, e in official.entries.items()}
            found[(model, official.task)] = RunAnswers(model, official.task, answers, str(f))
            n += 1
        if not n:
            raise FileNotFoundError(
                f"{path}: no per-question answers: neither lmms-eval samples (*_samples_videonet_*.jsonl; run "
                "videonet eval with --log_samples) nor authors' result files (mcq_test.json, zero.json ...)"
            )
    return list(found.values()), notes

"""The evaluation hook: run the suite's lmms-eval tasks on a saved model and read the scores.

It runs ``videonet eval`` (lmms-eval with the VideoNet tasks on its include path, see
``videonet_datasets/commands/eval.py``) in a *subprocess*: lmms-eval keeps global state
(task registry, logging, model caches) that must not leak into the training process, and
the subprocess frees its memory when it ends.  The default is the validation MC task
``videonet_mc_val`` with the suite's Molmo2 model ``videonet_molmo2`` on the saved directory.

Its output (stdout/stderr) goes to ``OUTPUT/eval.log``; the scores come from lmms-eval's
``*_results.json`` under ``OUTPUT``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["EvalError", "EvalResult", "eval_command", "flatten_scores", "read_lmms_results", "run_lmms_eval"]


class EvalError(RuntimeError):
    """lmms-eval failed; the message points at its log."""


@dataclass
class EvalResult:
    output_path: Path
    results_file: Path
    scores: dict[str, float]  # "task/metric" -> value
    raw: dict[str, Any]


def eval_command(
    model_dir: str | Path,
    *,
    data: str,
    tasks: str,
    output_path: str | Path,
    model: str = "videonet_molmo2",
    model_args: str = "",
    limit: int | None = None,
    python: str | None = None,
) -> list[str]:
    """The ``videonet eval`` command line the hook runs."""
    args = f"pretrained={Path(model_dir).resolve()}" + (f",{model_args}" if model_args else "")
    cmd = [
        python or sys.executable, "-m", "videonet_datasets.cli", "eval",
        "--data", str(data),
        "--model", model,
        "--model_args", args,
        "--tasks", tasks,
        "--batch_size", "1",
        "--output_path", str(output_path),
    ]  # fmt: skip
    if limit is not None:
        cmd += ["--limit", str(limit)]
    return cmd


def flatten_scores(results: dict[str, Any]) -> dict[str, float]:
    """lmms-eval's ``results`` block -> ``{"task/metric": value}`` (numbers only, no stderr)."""
    scores: dict[str, float] = {}
    for task, metrics in results.items():
        if not isinstance(metrics, dict):
            continue
        for key, value in metrics.items():
            metric = key.split(",", 1)[0]
            if "stderr" in metric or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            scores[f"{task}/{metric}"] = float(value)
    return scores


def read_lmms_results(output_path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The newest ``*_results.json`` lmms-eval wrote under ``output_path``."""
    files = sorted(Path(output_path).rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise EvalError(f"lmms-eval wrote no *_results.json under {output_path}")
    return files[-1], json.loads(files[-1].read_text(encoding="utf-8"))


def run_lmms_eval(
    model_dir: str | Path,
    *,
    data: str,
    tasks: str = "videonet_mc_val",
    output_path: str | Path,
    model: str = "videonet_molmo2",
    model_args: str = "",
    limit: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> EvalResult:
    """Evaluate ``model_dir`` with ``videonet eval``; raises :class:`EvalError` when it fails."""
    out = Path(output_path)
    out.mkdir(parents=True, exist_ok=True)
    cmd = eval_command(
        model_dir, data=data, tasks=tasks, output_path=out, model=model, model_args=model_args, limit=limit
    )
    log_file = out / "eval.log"
    log.info("evaluating %s on %s: %s", model_dir, tasks, " ".join(cmd))
    with open(log_file, "w", encoding="utf-8") as f:
        try:
            proc = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, timeout=timeout,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as e:
            raise EvalError(f"evaluation timed out after {timeout} s; see {log_file}") from e
    if proc.returncode != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise EvalError(
            f"`videonet eval` exited with {proc.returncode}; see {log_file}:\n  " + "\n  ".join(tail)
        )
    results_file, raw = read_lmms_results(out)
    return EvalResult(out, results_file, flatten_scores(raw.get("results", {})), raw)

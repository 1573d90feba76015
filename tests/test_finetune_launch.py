"""The recipe as users run it: ``accelerate launch recipes/finetune_molmo2.py --config <tiny config>``
in fresh processes (train, evaluate with lmms-eval, resume, reload with the Auto classes), and a
2-process CPU run with ``torchrun`` that must update the weights exactly like one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from finetune_world import make_benchmark
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "finetune_molmo2.py"
TINY_CONFIG = ROOT / "recipes" / "configs" / "tiny_cpu.yaml"
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT))
    return env


def _launch(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    proc.seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    assert proc.returncode == 0, (
        f"{' '.join(cmd)}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
    )
    return proc


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_benchmark(tmp_path_factory.mktemp("launch"))


def _launch_args(bench: Path) -> list[str]:
    return [str(BIN / "accelerate"), "launch", "--config_file", str(ROOT / "recipes" / "accelerate" / "cpu.yaml"),
            str(RECIPE), "--config", str(TINY_CONFIG), "--dataset", str(bench), "--output_dir", "run",
            "--model_name_or_path", "tiny-model", "--save_steps", "2"]  # fmt: skip


def test_accelerate_launch_trains_and_saves_a_loadable_model(bench: Path, tmp_path: Path) -> None:
    """The issue's "done when", from nothing but the tiny config and a benchmark directory; the
    result is loaded in another process than the one that trained it."""
    first = _launch([*_launch_args(bench), "--max_steps", "2"], tmp_path)
    run = tmp_path / "run"
    assert (tmp_path / "tiny-model" / "config.json").is_file()  # built on first use
    assert (run / "checkpoint-2" / "trainer_state.json").is_file() and (
        run / "final" / "config.json"
    ).is_file()
    assert "steps 0 -> 2" in first.stdout, first.stdout

    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videonet_datasets.molmo2 import encode_prompt, sample_clip

    model = AutoModelForImageTextToText.from_pretrained(run / "final").eval()
    processor = AutoProcessor.from_pretrained(run / "final")
    frames = sample_clip(next((bench / "videos").glob("*.mp4")), processor, max_frames=8)
    inputs = encode_prompt(processor, "Which of the following Sports actions is shown in the video?", frames)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    print(f"accelerate launch (2 steps, save): {first.seconds:.1f} s")


@pytest.mark.slow
def test_accelerate_launch_evaluates_with_lmms_eval_and_resumes(bench: Path, tmp_path: Path) -> None:
    """Training + the evaluation hook (``videonet eval``: lmms-eval, ``videonet_molmo2``,
    ``videonet_mc_val``) in one launch; a second launch resumes from the checkpoint."""
    first = _launch(
        [*_launch_args(bench), "--max_steps", "2", "--eval_data", str(bench), "--eval_at_end", "--eval_limit", "2",
         "--eval_model_args", "max_new_tokens=4"],
        tmp_path, timeout=900,
    )  # fmt: skip
    run = tmp_path / "run"
    assert "eval eval/videonet_mc_val/accuracy:" in first.stdout, first.stdout
    results = list((run / "eval" / "step-2").rglob("*_results.json"))
    assert results and "videonet_mc_val" in json.loads(results[0].read_text())["results"]

    second = _launch([*_launch_args(bench), "--max_steps", "4"], tmp_path)
    assert "steps 2 -> 4" in second.stdout, second.stdout
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 4]  # logging_steps 5 in the tiny config: logged at the ends
    assert json.loads((run / "final" / "videonet_finetune.json").read_text())["step"] == 4
    print(f"accelerate launch: train + eval {first.seconds:.1f} s, resume {second.seconds:.1f} s")


def test_two_cpu_processes_update_like_one(bench: Path, tmp_path: Path) -> None:
    """``torchrun`` x 2 (DDP on gloo, 1 accumulation step) == 1 process with 2 accumulation steps."""
    common = [str(RECIPE), "--config", str(TINY_CONFIG), "--dataset", str(bench), "--model_name_or_path", "tiny-model",
              "--max_steps", "3", "--save_steps", "0", "--save_final_model", "false", "--report_to", "none",
              "--global_batch_size", "4", "--per_device_batch_size", "2"]  # fmt: skip
    one = _launch([sys.executable, *common, "--output_dir", "one"], tmp_path)
    env_cmd = [str(BIN / "torchrun"), "--nproc_per_node", "2", "--master_port", str(_free_port())]
    started = time.perf_counter()
    two = subprocess.run(
        [*env_cmd, *common, "--output_dir", "two"], cwd=tmp_path, env={**_env(), "ACCELERATE_USE_CPU": "true"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-5000:]
    print(f"1 process: {one.seconds:.1f} s; torchrun x 2: {time.perf_counter() - started:.1f} s")
    assert "2 process(es) x 2 clip(s) x 1 accumulation" in two.stderr
    assert "1 process(es) x 2 clip(s) x 2 accumulation" in one.stderr
    a = {
        k.removeprefix("module."): v
        for k, v in load_file(tmp_path / "one" / "checkpoint-3" / "model.safetensors").items()
    }
    b = {
        k.removeprefix("module."): v
        for k, v in load_file(tmp_path / "two" / "checkpoint-3" / "model.safetensors").items()
    }
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    # Each process wrote its own RNG state; rank 0 alone renamed the folder.
    assert {p.name for p in (tmp_path / "two" / "checkpoint-3").glob("random_states_*.pkl")} == {
        "random_states_0.pkl",
        "random_states_1.pkl",
    }
    shutil.rmtree(tmp_path / "one")

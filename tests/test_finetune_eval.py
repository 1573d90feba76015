"""The evaluation hook up to the lmms-eval process: its command line, a failing run, the scores.

(The hook running lmms-eval for real is in ``test_finetune_launch.py``, marked slow.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from videonet_datasets.finetune import evaluate
from videonet_datasets.finetune.evaluate import EvalError, eval_command, flatten_scores, run_lmms_eval

RESULTS = {
    "results": {
        "videonet_mc_val": {
            "alias": "videonet_mc_val",
            "accuracy,none": 0.625,
            "accuracy_stderr,none": 0.1,
            "accuracy_stderr_clt,none": 0.1,
            "accuracy[Sports],none": 0.5,
            "answer_counts,none": {"A": 3},
            "unparsed_rate,none": 0.0,
        }
    }
}


def test_eval_command_is_videonet_eval_with_the_saved_model(tmp_path: Path) -> None:
    cmd = eval_command(tmp_path / "final", data="videonet", tasks="videonet_mc_val", output_path=tmp_path / "e",
                       model_args="max_new_tokens=16", limit=5)  # fmt: skip
    assert cmd[:4] == [sys.executable, "-m", "videonet_datasets.cli", "eval"]
    joined = " ".join(cmd)
    assert f"--model_args pretrained={(tmp_path / 'final').resolve()},max_new_tokens=16" in joined
    assert "--model videonet_molmo2" in joined and "--tasks videonet_mc_val" in joined
    assert "--data videonet" in joined and "--limit 5" in joined


def test_scores_are_flattened_without_stderr() -> None:
    assert flatten_scores(RESULTS["results"]) == {
        "videonet_mc_val/accuracy": 0.625,
        "videonet_mc_val/accuracy[Sports]": 0.5,
        "videonet_mc_val/unparsed_rate": 0.0,
    }


def test_run_reads_lmms_results_and_reports_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run(cmd, stdout, **kw):
        seen["cmd"] = cmd
        out = Path(cmd[cmd.index("--output_path") + 1])
        (out / "model").mkdir(parents=True, exist_ok=True)
        (out / "model" / "20261123_results.json").write_text(json.dumps(RESULTS))
        stdout.write("lmms-eval output\n")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(evaluate.subprocess, "run", fake_run)
    result = run_lmms_eval(tmp_path / "m", data="bench", output_path=tmp_path / "eval")
    assert result.scores["videonet_mc_val/accuracy"] == 0.625
    assert (tmp_path / "eval" / "eval.log").read_text() == "lmms-eval output\n"

    def failing_run(cmd, stdout, **kw):
        stdout.write("Traceback: model not found\n")
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(evaluate.subprocess, "run", failing_run)
    with pytest.raises(EvalError, match=r"exited with 1(.|\n)*model not found"):
        run_lmms_eval(tmp_path / "m", data="bench", output_path=tmp_path / "eval2")

    def silent_run(cmd, stdout, **kw):
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(evaluate.subprocess, "run", silent_run)
    with pytest.raises(EvalError, match="no \\*_results.json"):
        run_lmms_eval(tmp_path / "m", data="bench", output_path=tmp_path / "eval3")

"""The research scripts (``research/``, outside the package) still parse what the docs say they take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from research.probe import ProbeConfig, probe_config, results_table
from videonet_datasets.config import ConfigError


def test_probe_settings_parse_like_the_experiment_log_writes_them() -> None:
    cfg = probe_config(
        ['stages=[["still", 500]]', "task=paper+classify", "embed_std=1", 'model={"text_layers": 4}']
    )
    assert cfg.stages == (("still", 500),) and cfg.task == "paper+classify"
    assert cfg.embed_std == 1.0 and cfg.model == {"text_layers": 4}
    assert probe_config([]) == ProbeConfig()
    with pytest.raises(ConfigError, match="'bogus' is not a ProbeConfig setting"):
        probe_config(["bogus=1"])


def test_probe_results_table(tmp_path: Path) -> None:
    accs = {"mc_acc": 25.0, "binary_acc": 50.0, "mid_mc_acc": 25.0, "mid_binary_acc": 50.0}
    row = {"label": "P1", "config": {"steps": 10}, "params": 381000, "train_s": 12.0, "step_ms": 40.0,
           "base": accs, "final": {**accs, "mc_acc": 40.0}, "history": [{"step": 10, "heldout_task_acc": 90.0}]}  # fmt: skip
    (tmp_path / "r.jsonl").write_text(json.dumps(row) + "\n")
    table = results_table(tmp_path / "r.jsonl")
    assert "| P1 | steps=10 | 381,000 | 10 | 12 | 40 | 25.0→**40.0** (25.0) |" in table

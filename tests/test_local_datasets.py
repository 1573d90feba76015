"""The project's local ``load_dataset`` never serves a stale Arrow cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from videonet_datasets.local_datasets import data_fingerprint, load_local_dataset

CARD = """---
configs:
- config_name: single_action
  data_files:
  - split: train
    path: data/single_action/train-00000-of-00001.parquet
---
"""


def _write(root: Path, xs: list[int]) -> Path:
    (root / "data" / "single_action").mkdir(parents=True, exist_ok=True)
    Dataset.from_list([{"x": x} for x in xs]).to_parquet(
        str(root / "data/single_action/train-00000-of-00001.parquet")
    )
    (root / "README.md").write_text(CARD)
    return root


def test_same_name_and_layout_and_in_place_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    a = _write(tmp_path / "a" / "train", [1])
    b = _write(tmp_path / "b" / "train", [2, 3])  # same folder name, config and file names
    assert load_local_dataset(a, "single_action", split="train")["x"] == [1]
    assert load_local_dataset(b, "single_action", split="train")["x"] == [2, 3]
    before = data_fingerprint(a)
    _write(a, [9])  # rebuilt in place, same size on disk
    assert data_fingerprint(a) != before
    assert load_local_dataset(a, "single_action", split="train")["x"] == [9]


def test_work_folders_do_not_change_the_fingerprint(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", [1])
    fp = data_fingerprint(root)
    (root / ".build").mkdir()
    (root / ".build" / "state.json").write_text("{}")
    assert data_fingerprint(root) == fp

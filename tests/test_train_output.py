"""The dataset writer (bounded parquet shards, YAML configs, Table 20 layout) and the
ground-truth precision rules."""

from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from train_world import write_actions

from videonet_datasets.train_data.groundtruth import (
    GroundTruth,
    Segment,
    label_precision,
    localization_quality,
)
from videonet_datasets.train_data.manifest import read_taxonomy
from videonet_datasets.train_data.output import FEATURES, config_yaml, write_config, yield_table


def _row(i: int, domain: str = "Skateboarding", action: str = "ollie") -> dict:
    return {
        "clip_uid": f"v{i:03d}-00001000-00002000",
        "video": f"videos/v{i:03d}-00001000-00002000.mp4",
        "duration": 1.0,
        "source_video_id": f"v{i:03d}",
        "source_start": 1.0,
        "source_end": 2.0,
        "category": "Hobbies",
        "domain": domain,
        "action": action,
        "filter": "single_action",
        "title": "an ollie " + "x" * 200,
        "qa": [
            {"kind": "binary_yes", "asked_action": action, "prompt": "p", "answer": "yes", "options": []},
            {"kind": "binary_no", "asked_action": "kickflip", "prompt": "p", "answer": "no", "options": []},
            {
                "kind": "mc",
                "asked_action": action,
                "prompt": "p",
                "answer": "A",
                "options": [action, "a", "b", "c"],
            },
        ],
    }


def test_bounded_shards_load_offline(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(50)][::-1]
    names = write_config(tmp_path, "single_action", rows, max_shard_bytes=4000)
    assert len(names) > 3 and names[0] == f"data/single_action/train-00000-of-{len(names):05d}.parquet"
    # the bound is on the data (Arrow bytes); parquet compresses it, plus a few KB of footer
    assert all(pq.read_table(tmp_path / n).nbytes <= 4000 for n in names)
    (tmp_path / "README.md").write_text("---\n" + config_yaml(["single_action"]) + "\n---\n")
    ds = datasets.load_dataset(
        str(tmp_path), "single_action", split="train", cache_dir=str(tmp_path / "cache")
    )
    assert ds.num_rows == 50 and ds[0]["clip_uid"] == "v000-00001000-00002000"  # sorted by clip_uid
    assert ds.features == FEATURES
    # rewriting with fewer rows replaces the whole folder; no rows removes it
    assert len(write_config(tmp_path, "single_action", rows[:2], max_shard_bytes=10**9)) == 1
    assert len(list((tmp_path / "data" / "single_action").iterdir())) == 1
    assert write_config(tmp_path, "single_action", [], max_shard_bytes=10**9) == []
    assert not (tmp_path / "data" / "single_action").exists()


def test_config_yaml_default() -> None:
    y = config_yaml(["transcript_localized", "single_action"])
    assert y.count("default: true") == 1 and y.index("default: true") > y.index("config_name: single_action")
    assert "default: true" in config_yaml(["transcript_localized"])


def test_yield_table_layout(tmp_path: Path) -> None:
    tax = read_taxonomy(write_actions(tmp_path))
    rows = {
        "single_action": [_row(1), _row(2), _row(3, "Juggling", "cascade")],
        "transcript_localized": [_row(4)],
    }
    table = yield_table(tax, rows, ["Skateboarding", "Juggling"]).splitlines()
    assert table[0].startswith("| Category Name | Domain Name | # Actions | Transcript Localized |")
    assert table[2] == "| Hobbies | Skateboarding | 5 | 1 | 0 | 2 |"
    assert table[3] == "|  | Juggling | 4 | 0 | 0 | 1 |"
    assert table[4] == "| **All** | **All** | **9** | **1** | **0** | **3** |"


def test_precision_rules() -> None:
    gt = GroundTruth({"v": [Segment(0, 4, "ollie"), Segment(6, 8, "kickflip")], "w": []})
    assert gt.true_action("v", 1, 3) == "ollie"
    assert gt.true_action("v", 3, 7) is None  # 1 s of ollie, 1 s of kickflip: neither covers half of 4 s
    assert gt.true_action("v", 3.5, 6.6) is None and gt.true_action("v", 5.9, 8.1) == "kickflip"
    rows = [
        {"source_video_id": "v", "source_start": 1, "source_end": 3, "action": "ollie", "domain": "S"},
        {"source_video_id": "v", "source_start": 6, "source_end": 8, "action": "ollie", "domain": "S"},
        {"source_video_id": "w", "source_start": 0, "source_end": 1, "action": "ollie", "domain": "S"},
        {"source_video_id": "unknown", "source_start": 0, "source_end": 1, "action": "ollie", "domain": "S"},
    ]
    p = label_precision(rows, gt)
    assert (p["labeled"], p["evaluated"], p["correct"]) == (4, 3, 1) and p["precision"] == pytest.approx(
        1 / 3
    )
    q = localization_quality({"v": [(0.5, 3.5), (5.0, 5.5)]}, gt)
    assert q == {"windows": 2, "window_precision": 0.5, "true_segments": 2, "segment_recall": 0.5}

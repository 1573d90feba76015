"""``videonet publish train`` on a folder in the training-data layout (``data/<filter>/
train-NNNNN-of-NNNNN.parquet`` shards matched by a glob, a ``videos/`` pool, nested QA
structs, a card without ``dataset_info``): the publisher completes the card from the
files, the bundle loads offline, and leaks, stale shards and missing clips are caught."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard
from test_publish_benchmark import load_offline
from test_publish_fakes import FakeHfApi

from videonet_datasets.cli import main
from videonet_datasets.commands import publish as publish_cmd
from videonet_datasets.publish import CheckFailed, stage_dataset
from videonet_datasets.publish.check import TRAIN, check_dataset

REPO = "my-org/videonet-train"
FEATURES = datasets.Features(
    {
        "clip_uid": datasets.Value("string"),
        "video": datasets.Value("string"),
        "domain": datasets.Value("string"),
        "action": datasets.Value("string"),
        "qa": datasets.List(
            {
                "kind": datasets.Value("string"),
                "prompt": datasets.Value("string"),
                "answer": datasets.Value("string"),
                "options": datasets.List(datasets.Value("string")),
            }
        ),
    }
)
CARD = """---
pretty_name: VideoNet weakly-labeled training clips
license: cc-by-4.0
task_categories:
- video-classification
configs:
- config_name: single_action
  default: true
  data_files:
  - split: train
    path: data/single_action/train-*.parquet
- config_name: transcript_localized
  data_files:
  - split: train
    path: data/transcript_localized/train-*.parquet
---

# Training clips

```python
ds = load_dataset("path/to/this/folder", "single_action", split="train")
```
"""


def _rows(prefix: str, n: int, leak_row: int | None = None) -> list[dict]:
    rows = []
    for i in range(n):
        prompt = f"Does the following video show a move {i}? <video>"
        if i == leak_row:
            prompt += " (cached at /home/bob/cache/x.mp4)"
        rows.append(
            {
                "clip_uid": f"{prefix}{i:03d}",
                "video": f"videos/{prefix}{i:03d}.mp4",
                "domain": f"Domain {i % 2}",
                "action": f"move {i}",
                "qa": [
                    {"kind": "binary_yes", "prompt": prompt, "answer": "yes", "options": []},
                    {
                        "kind": "mc",
                        "prompt": "Which? <video>",
                        "answer": "B",
                        "options": ["a", "b", "c", "d"],
                    },
                ],
            }
        )
    return rows


def make_train_dir(root: Path, *, leak_row: int | None = None) -> Path:
    """Two configs; ``single_action`` in 2 shards; the clip pool holds placeholder bytes
    (the publisher checks existence, it does not decode)."""
    shards = {
        "single_action": [_rows("s", 7), _rows("t", 6, leak_row)],
        "transcript_localized": [_rows("u", 5)],
    }
    for config, parts in shards.items():
        for i, rows in enumerate(parts):
            path = root / "data" / config / f"train-{i:05d}-of-{len(parts):05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_list(rows, features=FEATURES).to_parquet(str(path))
            for r in rows:
                (root / r["video"]).parent.mkdir(parents=True, exist_ok=True)
                (root / r["video"]).write_bytes(b"\x00\x00\x00\x18ftypmp42" + r["clip_uid"].encode())
    (root / "README.md").write_text(CARD)
    (root / "stats.json").write_text('{"videos_in": 40, "labeled": {"single_action": 13}}\n')
    return root


def test_card_is_completed_from_the_files_and_loads(tmp_path: Path) -> None:
    src = make_train_dir(tmp_path / "train")
    bundle = stage_dataset(src, "train", REPO, tmp_path / "bundle", progress=False)
    assert any("added `dataset_info`" in n and "single_action" in n for n in bundle.notes), bundle.notes
    assert any("size_categories" in n for n in bundle.notes)
    card = DatasetCard.load(bundle.root / "README.md")
    assert card.data.license == "cc-by-4.0" and card.data.size_categories == ["n<1K"]
    sizes = {
        i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]} for i in card.data.dataset_info
    }
    assert sizes == {"single_action": {"train": 13}, "transcript_localized": {"train": 5}}
    qa = next(i for i in card.data.dataset_info if i["config_name"] == "single_action")["features"][-1]
    assert qa["name"] == "qa"  # nested features are documented too
    assert f'load_dataset("{REPO}", "single_action"' in card.text
    # The stated parts of the YAML are kept as written.
    assert card.data.configs[0]["data_files"][0]["path"] == "data/single_action/train-*.parquet"
    assert bundle.report.splits["single_action"]["train"].files == 2
    loaded = load_offline([bundle.root], ["single_action", "transcript_localized"])[str(bundle.root)]
    assert loaded == sizes


def test_leak_in_nested_qa_struct_is_found_by_row_and_column(tmp_path: Path) -> None:
    src = make_train_dir(tmp_path / "train", leak_row=4)
    with pytest.raises(CheckFailed) as e:
        stage_dataset(src, "train", REPO, tmp_path / "bundle", progress=False)
    msgs = [str(f) for f in e.value.report.errors]
    assert msgs == [
        "data/single_action/train-00001-of-00002.parquet: row 4, column 'qa': local path "
        "'/home/bob/cache/x.mp4' in value 'Does the following video show a move 4? <video> (cached at /home/bob/cache/x.mp4)'"
    ], msgs


def test_stale_shards_and_missing_clips(tmp_path: Path) -> None:
    src = make_train_dir(tmp_path / "train")
    # A shard of an older build with 3 shards, left behind next to the 2-shard set.
    (src / "data/single_action/train-00002-of-00003.parquet").write_bytes(
        (src / "data/single_action/train-00000-of-00002.parquet").read_bytes()
    )
    (src / "videos/u003.mp4").unlink()
    report = check_dataset(src, TRAIN)
    msgs = [str(f) for f in report.errors]
    assert any("shards of different counts (of-00002, of-00003)" in m for m in msgs), msgs
    assert any("missing shard(s) [0, 1] of 3" in m for m in msgs), msgs
    assert (
        "data/transcript_localized/train-00000-of-00001.parquet: row 3, column 'video': "
        "video 'videos/u003.mp4' does not exist in the folder"
    ) in msgs


def test_train_upload_then_nothing_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    src = make_train_dir(tmp_path / "train")
    api = FakeHfApi(tmp_path / "hub")
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: api)
    monkeypatch.setenv("HF_TOKEN", "hf_trainTokenForTheFakeHub0123")
    args = ["publish", "train", str(src), "--repo", REPO, "--no-progress"]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "uploaded 23 file(s)" in out and "Nothing new to upload" in out
    assert len(api.uploads) == 1 and len(api.uploads[0]) == 23  # 18 clips, 3 shards, card, stats.json


@pytest.mark.slow
def test_real_build_train_output_publishes_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Integration with ``videonet build-train`` on the narrated test world (~20 s: Whisper
    tiny.en on 2 cores): its card gets dataset_info, its stats.json loses the absolute
    settings paths, its hidden work folder stays home, and the bundle loads offline."""
    from train_world import make_web_world

    from videonet_datasets.train_data.config import BuildConfig
    from videonet_datasets.train_data.filters import FILTERS
    from videonet_datasets.train_data.runner import build_train

    world = make_web_world(tmp_path / "world")
    src = tmp_path / "train"
    build_train(
        BuildConfig(
            manifest=world / "web" / "manifest.csv",
            taxonomy=world / "actions.csv",
            out=src,
            ground_truth=world / "web" / "ground_truth.jsonl",
            workers=1,
            progress=False,
        )
    )
    bundle = stage_dataset(src, "train", REPO, tmp_path / "bundle", progress=False)
    assert bundle.report.ok, bundle.report.format()
    assert not any(r.startswith(".build/") for r in bundle.files) and any(
        s.startswith(".build/") for s in bundle.skipped
    )
    stats = (bundle.root / "stats.json").read_text()
    assert str(tmp_path) not in stats and "<local>/" in stats
    configs = [c for c in FILTERS if c in bundle.report.splits]
    assert configs, "the test world labels clips with at least one filter"
    loaded = load_offline([bundle.root], configs)[str(bundle.root)]
    assert loaded == {c: {"train": bundle.report.splits[c]["train"].rows} for c in configs}
    api = FakeHfApi(tmp_path / "hub")
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: api)
    monkeypatch.setenv("HF_TOKEN", "hf_trainTokenForTheFakeHub0123")
    assert main(["publish", "train", str(src), "--repo", REPO, "--tag", "v1.0", "--no-progress"]) == 0
    assert set(api.files(REPO)) - {".gitattributes"} == set(bundle.files)

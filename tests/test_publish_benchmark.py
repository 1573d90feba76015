"""``videonet publish benchmark --dry-run``: the bundle is the built benchmark with its card
pointed at the repo, every config loads offline, and the pre-upload check catches broken
or leaky folders (naming the file, the row and the column)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_annotation_dir
from huggingface_hub import DatasetCard

from videonet_datasets.benchmark.build import build_benchmark
from videonet_datasets.benchmark.schema import ALL_CONFIGS, SPLITS
from videonet_datasets.cli import main
from videonet_datasets.publish import CheckFailed, PublishError, stage_dataset
from videonet_datasets.publish.check import BENCHMARK, check_dataset, list_files

REPO = "my-org/videonet"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pubbench")
    ann = make_annotation_dir(root / "ann", domains=1, actions_per_domain=4)
    out = root / "videonet"
    build_benchmark(ann, out, seed=1, progress=False)
    return out


def copy_dataset(src: Path, dst: Path) -> Path:
    """A private copy a test may break (files copied, not linked)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
    return dst


def load_offline(folders: list[Path], configs: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """``load_dataset(folder, config)`` for every pair in a fresh process with the Hub
    switched off; returns folder -> config -> split -> rows."""
    code = (
        "import json, sys, datasets\n"
        "datasets.disable_progress_bars()\n"
        "out = {}\n"
        "for folder in sys.argv[2:]:\n"
        "    out[folder] = {c: {s: len(d) for s, d in datasets.load_dataset(folder, c).items()}\n"
        "                   for c in json.loads(sys.argv[1])}\n"
        "print('RESULT' + json.dumps(out))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(folders[0].parent / "hf"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(configs), *map(str, folders)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def card_split_sizes(readme: Path) -> dict[str, dict[str, int]]:
    data = DatasetCard.load(readme).data
    return {
        i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]} for i in data["dataset_info"]
    }


def test_dry_run_bundle_is_the_dataset_and_loads_offline(built: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bundle"
    rc = main(
        ["publish", "benchmark", str(built), "--repo", REPO, "--dry-run", "--out", str(out), "--no-progress"]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "Dry run: nothing was uploaded" in printed and "no Hub access" not in printed

    # Exactly the dataset's files; only the card's load examples differ.
    src_files, _ = list_files(built)
    out_files, hidden = list_files(out)
    assert out_files == src_files and hidden == []
    for rel in src_files:
        if rel != "README.md":
            assert (out / rel).read_bytes() == (built / rel).read_bytes(), rel
    before = (built / "README.md").read_text().splitlines()
    after = (out / "README.md").read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and changed
    assert all('load_dataset("videonet"' in a and f'load_dataset("{REPO}"' in b for a, b in changed)

    # The card states the real numbers the Hub shows.
    data = DatasetCard.load(out / "README.md").data
    assert data.license and data.pretty_name == "VideoNet" and data.size_categories == ["n<1K"]
    assert set(data.task_categories) >= {"video-classification"}
    assert [c["config_name"] for c in data.configs] == list(ALL_CONFIGS)
    for c in data.configs:
        assert [f["split"] for f in c["data_files"]] == list(SPLITS[c["config_name"]])

    # load_dataset(FOLDER, CONFIG) works for every config, without the Hub, with the card's sizes.
    loaded = load_offline([out], list(ALL_CONFIGS))[str(out)]
    assert loaded == card_split_sizes(out / "README.md")
    assert loaded["mc"] == {"test": 16, "validation": 4}


def test_dry_run_replaces_its_own_folder_but_not_someone_elses(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    first = stage_dataset(built, "benchmark", REPO, out, progress=False)
    second = stage_dataset(built, "benchmark", REPO, out, progress=False)
    assert first.fingerprint == second.fingerprint and second.root == out
    foreign = tmp_path / "work"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PublishError, match="not written by `videonet publish`"):
        stage_dataset(built, "benchmark", REPO, foreign, progress=False)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(PublishError, match="outside the folder"):
        stage_dataset(built, "benchmark", REPO, built / "sub", progress=False)


def test_dry_run_without_out_only_checks(built: Path, capsys) -> None:
    rc = main(["publish", "benchmark", str(built), "--repo", REPO, "--dry-run", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "checks passed; nothing was uploaded" in out
    assert not list(built.parent.glob(".videonet.publish*"))  # the temporary bundle is gone


def test_missing_video_is_reported_with_file_row_and_column(built: Path, tmp_path: Path, capsys) -> None:
    ds = copy_dataset(built, tmp_path / "videonet")
    victim = "videos/d0a1c0.mp4"  # clip 1 of an action: asked in mc, shown as a k-shot example
    (ds / victim).unlink()
    # Every reference, counted independently of the checker.
    refs = []
    for f in sorted((ds / "data").rglob("*.parquet")):
        for i, row in enumerate(pq.read_table(f).to_pylist()):
            for col in ("video", "example_videos"):
                vals = row.get(col)
                vals = vals if isinstance(vals, list) else [vals]
                refs += [(f.relative_to(ds).as_posix(), i, col)] * vals.count(victim)
    assert any(c == "example_videos" for _, _, c in refs)
    rc = main(
        [
            "publish",
            "benchmark",
            str(ds),
            "--repo",
            REPO,
            "--dry-run",
            "--out",
            str(tmp_path / "b"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1
    files = len({r[0] for r in refs})
    first = next(r for r in refs if r[0].startswith("data/mc/"))  # mc is the card's first config
    assert (
        f"{first[0]}: row {first[1]}, column 'video': video '{victim}' does not exist in the folder "
        f"(referenced by {len(refs)} rows in {files} files)"
    ) in err, err
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*")), "nothing written on failure"


def test_split_size_mismatch_and_unknown_dataset_info(built: Path, tmp_path: Path) -> None:
    ds = copy_dataset(built, tmp_path / "videonet")
    readme = ds / "README.md"
    text = readme.read_text()
    # The mc validation split really has 4 rows; claim 5.
    i = text.index("- config_name: mc\n  features:")
    j = text.index("  - name: validation", i)
    k = text.index("num_examples: 4", j)
    readme.write_text(text[:k] + "num_examples: 5" + text[k + len("num_examples: 4") :])
    report = check_dataset(ds, BENCHMARK)
    msgs = [str(f) for f in report.errors]
    assert any(
        "config 'mc', split 'validation'" in m and "says 5 rows, the data files have 4" in m for m in msgs
    ), msgs


def test_leaked_local_path_in_data_is_an_error(built: Path, tmp_path: Path) -> None:
    ds = copy_dataset(built, tmp_path / "videonet")
    f = ds / "data" / "binary_2shot" / "test-00000-of-00001.parquet"
    table = pq.read_table(f)
    col = table.column("source_video").to_pylist()
    col[7] = "/home/alice/crawl/raw_0007.mp4"
    schema_meta = table.schema.metadata
    table = table.set_column(table.schema.get_field_index("source_video"), "source_video", pa.array(col))
    pq.write_table(table.replace_schema_metadata(schema_meta), f)
    with open(ds / "annotations" / "clips.csv", "a") as fh:  # tables are data too
        fh.write(f"extra,Domain 0,move 0-0,{tmp_path}/src.mp4,0,\n")
    with pytest.raises(CheckFailed) as e:
        stage_dataset(ds, "benchmark", REPO, tmp_path / "b", progress=False)
    msgs = [str(x) for x in e.value.report.errors]
    assert msgs[0].startswith(
        "data/binary_2shot/test-00000-of-00001.parquet: row 7, column 'source_video': local path '/home/alice"
    ), msgs
    assert msgs[1].startswith(f"annotations/clips.csv: line 22: local path '{tmp_path}/src.mp4'"), msgs
    assert len(msgs) == 2


def test_local_paths_in_build_metadata_are_rewritten_in_the_bundle(built: Path, tmp_path: Path) -> None:
    ds = copy_dataset(built, tmp_path / "videonet")
    info = json.loads((ds / "build_info.json").read_text())
    info["annotations"] = str(tmp_path / "ann")
    info["settings"] = {"workers": 2, "cache": "/scratch/u/cache"}
    (ds / "build_info.json").write_text(json.dumps(info))
    bundle = stage_dataset(ds, "benchmark", REPO, tmp_path / "b", progress=False)
    assert any(n.startswith("build_info.json: replaced 2 local path(s)") for n in bundle.notes), bundle.notes
    out = json.loads((bundle.root / "build_info.json").read_text())
    assert out["annotations"] == "<local>/ann" and out["settings"] == {"workers": 2, "cache": "<local>/cache"}
    assert out["clips"] == info["clips"], "everything else is kept"
    assert json.loads((ds / "build_info.json").read_text()) == info, "the source folder is never modified"


def test_orphan_and_incomplete_shards(built: Path, tmp_path: Path) -> None:
    ds = copy_dataset(built, tmp_path / "videonet")
    shutil.copy(ds / "data/mc/test-00000-of-00001.parquet", ds / "data/mc/test-00001-of-00002.parquet")
    report = check_dataset(ds, BENCHMARK)
    assert any(
        "in no config of the card" in str(f) and "test-00001-of-00002" in str(f) for f in report.errors
    )
    # Under a glob the stray shard would be loaded: then the check sees mixed shard counts.
    readme = ds / "README.md"
    readme.write_text(
        readme.read_text().replace(
            "path: data/mc/test-00000-of-00001.parquet", "path: data/mc/test-*.parquet"
        )
    )
    report = check_dataset(ds, BENCHMARK)
    msgs = [str(f) for f in report.errors]
    assert any("shards of different counts" in m for m in msgs), msgs
    assert any("dataset_info says 16 rows, the data files have 32" in m for m in msgs), msgs

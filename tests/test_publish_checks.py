"""The publisher's building blocks: local-path detection (strings, nested parquet columns,
several row groups), card parsing and completion, load-path rewriting, hashing and its cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from videonet_datasets.publish import hashing
from videonet_datasets.publish.dataset_card import (
    CardError,
    complete_metadata,
    read_card,
    resolve_configs,
    set_load_path,
)
from videonet_datasets.publish.paths import PathScanner


@pytest.mark.parametrize(
    "text, found",
    [
        ("videos/a.mp4", []),
        ("data/mc/test-00000-of-00001.parquet", []),
        ("https://huggingface.co/home/x and hf://datasets/a/b and gs://b/tmp/x", []),
        ("and/or 1/2 /usr/share/x /tmpfoo", []),
        ("/home/u/x.mp4", ["/home/u/x.mp4"]),
        ("pretrained=/tmp/ckpt,dtype=bf16", ["/tmp/ckpt"]),
        ("C:\\Users\\me\\a.mp4 and D:/data/x", ["C:\\Users\\me\\a.mp4", "D:/data/x"]),
        ("file:///srv/x", ["file:///srv/x"]),
        ("see ~/data/clip.mp4", ["~/data/clip.mp4"]),
        ('{"out": "/mnt/nfs/run7"}', ["/mnt/nfs/run7"]),
    ],
)
def test_path_scanner_strings(text: str, found: list[str]) -> None:
    assert PathScanner().find(text) == found


def test_path_scanner_literal_dirs_and_redaction(tmp_path: Path) -> None:
    odd = tmp_path / "odd-root"  # under /tmp anyway; an explicit extra root is matched literally too
    s = PathScanner(extra=["/srv2/datasets"])
    assert s.find("at /srv2/datasets/videonet/videos/a.mp4") == ["/srv2/datasets/videonet/videos/a.mp4"]
    assert s.find(f"x {odd}/y") == [f"{odd}/y"]
    assert s.redact("output_dir=/home/alice/runs/ft1 seed=0") == ("output_dir=<local>/ft1 seed=0", 1)


def test_parquet_scan_reports_rows_through_nested_columns_and_row_groups(tmp_path: Path) -> None:
    rows = []
    for i in range(10):
        qa = [{"prompt": f"q{i}", "options": ["a", "b"]}, {"prompt": "q", "options": []}]
        if i == 7:
            qa[1]["options"] = ["a", "/scratch/u/clip.mp4"]
        rows.append({"id": f"r{i}", "video": "/tmp/v.mp4" if i == 3 else f"videos/{i}.mp4", "qa": qa, "n": i})
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=4)  # rows 0-3, 4-7, 8-9
    assert pq.ParquetFile(path).num_row_groups == 3
    hits, total = PathScanner().scan_parquet(path)
    assert total == 2
    assert sorted((h.where, h.match) for h in hits) == [
        ("row 3, column 'video'", "/tmp/v.mp4"),
        ("row 7, column 'qa'", "/scratch/u/clip.mp4"),
    ]


def test_read_card_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "README.md"
    bad.write_text("---\nlicense: mit\nno closing fence\n")
    with pytest.raises(
        CardError, match=r"README\.md: the YAML block opened by '---' on line 1 is never closed"
    ):
        read_card(bad)
    bad.write_text("---\n- a list\n---\nbody")
    with pytest.raises(CardError, match="must be a mapping"):
        read_card(bad)
    bad.write_text("# only a body\n")
    card = read_card(bad)
    assert card.metadata == {} and card.body == "# only a body\n"


def test_complete_metadata_infers_configs_and_keeps_stated_values(tmp_path: Path) -> None:
    for config, split, n in (("a", "train", 3), ("a", "test", 2), ("b", "train", 4)):
        p = tmp_path / "data" / config / f"{split}-00000-of-00001.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": list(range(n))}), p)
    (tmp_path / "README.md").write_text("---\nlicense: mit\nsize_categories:\n- 1K<n<10K\n---\n\nbody\n")
    card = read_card(tmp_path / "README.md")
    assert complete_metadata(tmp_path, card, pretty_name="P") is True
    meta = card.metadata
    assert [c["config_name"] for c in meta["configs"]] == ["a", "b"]
    assert meta["size_categories"] == ["1K<n<10K"], "a stated value is never replaced"
    assert meta["pretty_name"] == "P" and meta["license"] == "mit"
    resolved, problems = resolve_configs(tmp_path, meta)
    assert problems == [] and resolved["a"] == {
        "test": ["data/a/test-00000-of-00001.parquet"],
        "train": ["data/a/train-00000-of-00001.parquet"],
    }
    sizes = {
        i["config_name"]: {s["name"]: s["num_examples"] for s in i["splits"]} for i in meta["dataset_info"]
    }
    assert sizes == {"a": {"test": 2, "train": 3}, "b": {"train": 4}}
    text = card.render(changed_metadata=True)
    assert text.startswith("---\n") and text.endswith("body\n") and "config_name: b" in text
    # Nothing left to add: the YAML text is kept byte for byte.
    (tmp_path / "README.md").write_text(text)
    again = read_card(tmp_path / "README.md")
    assert complete_metadata(tmp_path, again) is False
    assert again.render(changed_metadata=False) == text


def test_resolve_configs_reports_patterns_matching_nothing(tmp_path: Path) -> None:
    meta = {"configs": [{"config_name": "x", "data_files": [{"split": "train", "path": "data/x/*.parquet"}]}]}
    resolved, problems = resolve_configs(tmp_path, meta)
    assert problems == ["config 'x', split 'train': data_files 'data/x/*.parquet' matches no file"]


def test_set_load_path() -> None:
    body = 'a = load_dataset("videonet", "mc")\nb = load_dataset( \'path/to/this/folder\', "x")\nc = load_dataset("org/n")'
    new, n = set_load_path(body, "org/n")
    assert n == 2 and new.count('"org/n"') == 2 and "'org/n'" in new


def test_digest_cache_skips_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "b.txt").write_text("card")
    cache = tmp_path / ".cache.json"
    calls: list[str] = []
    real = hashing._hash_file
    monkeypatch.setattr(hashing, "_hash_file", lambda p, size: calls.append(p.name) or real(p, size))
    first = hashing.digest_files(tmp_path, ["a.bin", "b.txt"], cache=cache, progress=False)
    assert sorted(calls) == ["a.bin", "b.txt"]
    assert first["b.txt"].git_sha1 == hashlib.sha1(b"blob 4\0card").hexdigest()
    assert first["a.bin"].sha256 == hashlib.sha256(b"x" * 1000).hexdigest()
    calls.clear()
    again = hashing.digest_files(tmp_path, ["a.bin", "b.txt"], cache=cache, progress=False)
    assert calls == [] and again == first
    (tmp_path / "b.txt").write_text("card v2")
    third = hashing.digest_files(tmp_path, ["a.bin", "b.txt"], cache=cache, progress=False)
    assert calls == ["b.txt"] and third["b.txt"].sha256 != first["b.txt"].sha256
    assert hashing.fingerprint(first.values()) != hashing.fingerprint(third.values())

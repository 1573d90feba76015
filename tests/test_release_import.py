"""``videonet import-release``: the official release's questions, imported as published.

The fixture (``release_world.py``) is written here in the release's documented format, with
cross-domain wrong options and the hand-written wording variants of the real files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from release_world import ACTIONS, write_release

from videonet_datasets.annotations import load_annotations, validate_annotations
from videonet_datasets.benchmark.build import TrimConfig, build_benchmark
from videonet_datasets.benchmark.qa import build_question_sets
from videonet_datasets.benchmark.release import (
    PAPER_DOMAIN_CATEGORIES,
    ReleaseFormatError,
    import_release,
    parse_key,
    read_release,
)
from videonet_datasets.benchmark.schema import data_file
from videonet_datasets.cli import main

N_CLIPS = 5 * len(ACTIONS)  # per action: the MC validation clip and MC test clips 1-4
N_TEST = 4 * len(ACTIONS)  # MC test questions; binary test questions per k

FILES = {
    "mcq_test.jsonl": ("mc", "test"),
    "mcq_val.jsonl": ("mc", "validation"),
    **{f"binary_{k}shot.jsonl": (f"binary_{k}shot", "test") for k in range(4)},
}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory):
    return write_release(tmp_path_factory.mktemp("release") / "VideoNet")


@pytest.fixture(scope="module")
def imported(release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "videonet"
    import_release(release.root, out, progress=False)
    return out


def _rows(out: Path, config: str, split: str) -> list[dict]:
    return pq.read_table(out / data_file(config, split)).to_pylist()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_row_is_the_files_question(release, imported: Path):
    """Key, options and their order, answer, binary pair, in-context clips and prompt: the file's."""
    for fname, (config, split) in FILES.items():
        docs = release.lines[fname]
        rows = _rows(imported, config, split)
        assert [r["question_id"] for r in rows] == [d["key"] for d in docs], (
            fname
        )  # same questions, same order
        for doc, row in zip(docs, rows):
            # The stored prompt: the same entries in the same order, text byte for byte.
            assert [{k: v for k, v in e.items() if v is not None} for e in row["question"]] == doc["question"]
            videos = [e["video"] for e in doc["question"] if e["type"] == "video"]
            assert row["video"] == f"videos/{videos[-1]}"
            if config == "mc":
                text = doc["question"][0]["text"].splitlines()
                assert row["options"] == [line[3:] for line in text[1:-1]]
                assert (
                    row["answer"] == doc["answer"]
                    and row["options"][row["answer_index"]]
                    == [line[3:] for line in text[1:-1]]["ABCD".index(doc["answer"])]
                )
            else:
                assert row["label"] == doc["answer"]
                assert row["example_videos"] == [f"videos/{v}" for v in videos[:-1]]
                assert row["negative_type"] == ("positive" if doc["answer"] == "yes" else "hard")
            assert row["action_id"] == doc["key"].split("-")[0]
            assert row["definition"] == ""


def test_metadata_recovered_from_the_wording(imported: Path):
    rows = {r["question_id"]: r for r in _rows(imported, "binary_0shot", "test")}
    by_id = {str(i): a for i, a in enumerate(ACTIONS, start=1)}
    for key, row in rows.items():
        a = by_id[row["action_id"]]
        assert (row["action"], row["subdomain"], row["domain"], row["category"]) == (
            a.name,
            a.subdomain,
            a.domain,
            PAPER_DOMAIN_CATEGORIES[a.domain],  # Knots: "Crafts & Art"
        ), key
    # Plural with "are" and no article, a mass noun, the subdomain words.
    assert rows["3-pos-1"]["action"] == "Crossovers" and rows["6-pos-1"]["action"] == "Stroking"
    assert rows["7-pos-1"]["subdomain"] == "Penalty" and rows["13-pos-1"]["subdomain"] == "Shot"
    # A negative clip knows whose clip it is.
    holding = [r for k, r in rows.items() if k.startswith("8-neg-")]
    assert {r["clip_action"] for r in holding} <= {"Between-the-Legs Shot", "Boarding", "Interference"}
    mc = _rows(imported, "mc", "validation")
    assert mc[7]["question_id"] == "8-mcq-val-1" and mc[7]["domain"] == "American Football"
    assert sorted(mc[7]["options"]) == ["between-the-legs shot", "boarding", "holding", "interference"]


def test_clips_are_the_releases_files_byte_for_byte(release, imported: Path, tmp_path: Path):
    linked = sorted((imported / "videos").iterdir())
    assert len(linked) == N_CLIPS and all(p.is_symlink() for p in linked)
    for p in linked:
        assert p.resolve() == (release.root / "videos" / p.name).resolve()
    copied = tmp_path / "copied"
    import_release(release.root, copied, copy_videos=True, progress=False)
    for p in (copied / "videos").iterdir():
        assert not p.is_symlink() and _sha(p) == _sha(release.root / "videos" / p.name)
    info = json.loads((imported / "build_info.json").read_text())
    assert info["tool"] == "videonet import-release" and info["clips_silent"] is False
    assert set(info["source_files"]) == set(FILES)
    card = (imported / "README.md").read_text()
    assert "official VideoNet release, imported as published" in card and "config_name: binary_3shot" in card
    assert "config_name: binary_random_0shot" not in card


def test_load_dataset_reads_the_import(imported: Path):
    import subprocess
    import sys

    code = (
        "from datasets import load_dataset\n"
        "d = load_dataset('videonet', 'binary_1shot', split='test')\n"
        "r = d[0]\n"
        "print(len(d), r['question_id'], [e['type'] for e in r['question']])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(imported.parent / "hf")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=imported.parent, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"{N_TEST} 1-pos-1 ['text', 'video', 'text', 'video']" in out.stdout


def test_recovered_tables_validate_and_rebuild_without_reencoding(release, imported: Path, tmp_path: Path):
    ann_dir = imported / "annotations"
    ann, problems = validate_annotations(ann_dir)
    assert ann is not None, [str(p) for p in problems]
    cross = [p for p in problems if "cross-domain" in p.message]
    assert len(cross) == 3 and all(p.value.startswith("Ice Hockey > ") for p in cross)
    assert [c.clip_id for c in ann.clips_of("Figure Skating", "Biellmann Spin")] == [
        Path(n).stem for n in release.clips[1]
    ]
    holding = [a.key for a in ann.negative_actions(("American Football", "Holding"))]
    assert sorted(holding) == [("Ice Hockey", "Between-the-Legs Shot"), ("Ice Hockey", "Boarding"),
                               ("Ice Hockey", "Interference")]  # fmt: skip
    out = tmp_path / "rebuilt"
    summary = build_benchmark(ann_dir, out, progress=False, settings=TrimConfig(keep_whole_clips=True))
    assert summary.videos_kept == N_CLIPS and summary.videos_trimmed == 0
    for p in (out / "videos").iterdir():  # byte for byte, never re-encoded
        assert _sha(p) == _sha(release.root / "videos" / p.name)
    assert json.loads((out / "build_info.json").read_text())["clips_silent"] is False
    # Built here with the release's structure: the same validation clips, positives and in-context clips.
    qs = build_question_sets(load_annotations(ann_dir), 0)
    val = {r["question_id"]: r["clip_id"] for r in qs.rows["mc"]["validation"]}
    rel_val = {d["key"]: Path(d["question"][1]["video"]).stem for d in release.lines["mcq_val.jsonl"]}
    assert val == rel_val
    b3 = {r["question_id"]: r for r in qs.rows["binary_3shot"]["test"]}
    for d in release.lines["binary_3shot.jsonl"]:
        if d["answer"] == "yes":
            videos = [e["video"] for e in d["question"] if e["type"] == "video"]
            assert [f"{c}.mp4" for c in b3[d["key"]]["example_clip_ids"]] == videos[:-1]
            assert f"{b3[d['key']]['clip_id']}.mp4" == videos[-1]


def test_vn_videos_dir_and_missing_videos(release, tmp_path: Path, monkeypatch):
    bare = tmp_path / "bare"
    shutil.copytree(release.root / "benchmarks", bare / "benchmarks")
    monkeypatch.setenv("VN_VIDEOS_DIR", str(release.root / "videos"))
    s = import_release(bare, tmp_path / "a", progress=False)
    assert s.videos_present == N_CLIPS and (tmp_path / "a" / "videos").is_dir()
    monkeypatch.delenv("VN_VIDEOS_DIR")
    s = import_release(bare, tmp_path / "b", progress=False)
    assert s.videos_present == 0 and f"MISSING {N_CLIPS} video(s)" in s.format()


def _broken(release, tmp_path: Path, fname: str, edit) -> Path:
    root = tmp_path / "broken"
    shutil.copytree(release.root / "benchmarks", root / "benchmarks")
    path = root / "benchmarks" / fname
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return root


def _set(lines: list[str], i: int, fn) -> None:
    doc = json.loads(lines[i])
    fn(doc)
    lines[i] = json.dumps(doc)


@pytest.mark.parametrize(
    ("fname", "edit", "message"),
    [
        ("mcq_val.jsonl", lambda ls: ls.__setitem__(2, "{not json"), r"mcq_val.jsonl:3: not JSON"),
        ("mcq_val.jsonl", lambda ls: _set(ls, 0, lambda d: d.update(key="1-mcq-1")), r"mcq_val.jsonl:1: key '1-mcq-1' is not a VideoNet key"),
        ("mcq_test.jsonl", lambda ls: _set(ls, 4, lambda d: d.update(answer="E")), r"mcq_test.jsonl:5: key '2-mcq-test-1': answer 'E' is not one of the options ABCD"),
        ("mcq_test.jsonl", lambda ls: ls.__setitem__(1, ls[0]), r"mcq_test.jsonl:2: key '1-mcq-test-1' repeats line 1"),
        ("mcq_val.jsonl", lambda ls: _set(ls, 0, lambda d: d.update(key="1-pos-1")), r"mcq_val.jsonl:1: key '1-pos-1' does not belong in mcq_val.jsonl"),
        ("binary_0shot.jsonl", lambda ls: _set(ls, 12, lambda d: d.update(answer="no")), r"binary_0shot.jsonl:13: key '4-pos-1': a pos question must be answered yes"),
        ("binary_2shot.jsonl", lambda ls: _set(ls, 0, lambda d: d["question"].pop(1)), r"binary_2shot.jsonl:1: key '1-pos-1': a 2-shot question shows 3 videos"),
        ("binary_1shot.jsonl", lambda ls: _set(ls, 3, lambda d: d.update(key="99-neg-2")), r"binary_1shot.jsonl:4: key '99-neg-2': action 99 has no multiple-choice question"),
        ("binary_0shot.jsonl", lambda ls: _set(ls, 0, lambda d: d["question"].__setitem__(1, {"type": "video"})), r"binary_0shot.jsonl:1: question entry 1 is not a text or video entry"),
    ],
)  # fmt: skip
def test_broken_files_are_refused_with_file_and_line(release, tmp_path: Path, fname, edit, message):
    root = _broken(release, tmp_path, fname, edit)
    with pytest.raises(ReleaseFormatError, match=message):
        read_release(root)


def test_all_problems_are_listed_at_once(release, tmp_path: Path):
    def edit(ls):
        ls[0] = "{"
        ls[5] = "[]"

    root = _broken(release, tmp_path, "mcq_test.jsonl", edit)
    with pytest.raises(ReleaseFormatError) as err:
        read_release(root)
    assert "2 problems in the release" in str(err.value)
    assert "mcq_test.jsonl:1: not JSON" in str(
        err.value
    ) and "mcq_test.jsonl:6: expected a JSON object" in str(err.value)


def test_wording_the_importer_does_not_know_is_a_warning_not_an_error(release, tmp_path: Path):
    root = _broken(
        release,
        tmp_path,
        "binary_0shot.jsonl",
        lambda ls: _set(
            ls, 0, lambda d: d["question"][0].update(text="Is this a Biellmann Spin? Answer yes or no.")
        ),
    )
    rel = read_release(root)
    assert any("binary_0shot.jsonl:1" in w and "wording" in w for w in rel.warnings)
    assert rel.actions["1"].name == "Biellmann Spin"  # from the other files


def test_structure_deviations_are_warnings(release, tmp_path: Path):
    """The rows are the file's either way; what departs from the release's usual structure is listed."""
    other = release.clips[2][
        2
    ]  # action 3's test clip 2: neither action 1's positive nor anyone's negative clip

    def edit(ls):
        _set(ls, 0, lambda d: d["question"][1].update(video=other))  # 1-pos-1
        _set(ls, 2, lambda d: d["question"][1].update(video=other))  # 1-neg-1

    rel = read_release(_broken(release, tmp_path, "binary_0shot.jsonl", edit))
    text = "\n".join(rel.warnings)
    assert "binary_0shot.jsonl:1: key '1-pos-1': positive clip" in text
    assert "binary_0shot.jsonl:3: key '1-neg-1': negative clip" in text
    assert "the k-shot files ask it about different clips" in text


def test_keys_parse():
    assert parse_key("29-neg-2") == ("29", "neg", 2)
    assert parse_key("32-mcq-test-4") == ("32", "mcq-test", 4)
    assert parse_key("32-mcq-val-1") == ("32", "mcq-val", 1)
    assert parse_key("32-mcq-4") is None and parse_key("x") is None


def test_cli(release, tmp_path: Path, capsys):
    out = tmp_path / "videonet"
    assert main(["import-release", str(release.root), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Imported" in text and f"mc                    test={N_TEST}  validation={len(ACTIONS)}" in text
    assert f"{len(ACTIONS)} actions in 4 domains; videos: {N_CLIPS} of {N_CLIPS} linked" in text
    # An existing folder that is not a benchmark is not replaced without --force.
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["import-release", str(release.root), "--out", str(other)]) == 2
    assert (other / "notes.txt").read_text() == "keep me"
    # Reimporting over an import is fine; a broken release writes nothing.
    assert main(["import-release", str(release.root), "--out", str(out)]) == 0
    assert main(["import-release", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2  # usage
    assert not (tmp_path / "x").exists()
    assert "no benchmarks/ folder" in capsys.readouterr().err

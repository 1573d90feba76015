"""``videonet import-release`` round-trips a release written in lmms-eval's layout."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import make_annotation_dir

from videonet_datasets.annotations import load_annotations
from videonet_datasets.benchmark.build import build_benchmark
from videonet_datasets.benchmark.qa import build_question_sets
from videonet_datasets.benchmark.release import ReleaseFormatError, import_release, write_annotations
from videonet_datasets.prompts import binary_prompt, mc_prompt


def _rename_domains(root: Path, names: dict[str, str]) -> None:
    for f in ("actions.csv", "hard_negatives.csv", "clips.csv"):
        rows = list(csv.reader(open(root / f)))
        col = rows[0].index("domain")
        for r in rows[1:]:
            r[col] = names.get(r[col], r[col])
        with open(root / f, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)


def _question(prompt, videos: list[str]) -> list[dict[str, str]]:
    """A prompt as the release stores it: text and video entries in order."""
    out, it = [], iter(videos)
    for item in prompt.to_content("TEST", ["EX"] * prompt.num_examples):
        if item["type"] == "text":
            out.append({"type": "text", "text": item["text"]})
        else:
            out.append({"type": "video", "video": next(it)})
    return out


def write_release(ann_dir: Path, release: Path, seed: int = 0) -> None:
    """Our question sets, written in the official release's jsonl layout."""
    ann = load_annotations(ann_dir)
    qs = build_question_sets(ann, seed)
    bench = release / "benchmarks"
    bench.mkdir(parents=True)
    (release / "videos").mkdir()
    for c in ann.clips:
        shutil.copy(c.path, release / "videos" / f"{c.clip_id}.mp4")  # stands in for a trimmed clip
    for split, fname in (("test", "mcq_test.jsonl"), ("validation", "mcq_val.jsonl")):
        with open(bench / fname, "w") as f:
            for r in qs.rows["mc"][split]:
                q = _question(mc_prompt(r["domain"], r["options"]), [f"{r['clip_id']}.mp4"])
                f.write(json.dumps({"key": r["question_id"], "question": q, "answer": r["answer"]}) + "\n")
    for k in range(4):
        with open(bench / f"binary_{k}shot.jsonl", "w") as f:
            for r in qs.rows[f"binary_{k}shot"]["test"]:
                p = binary_prompt(r["action"], r["domain"], r["subdomain"], k=k)
                vids = [f"{c}.mp4" for c in r["example_clip_ids"]] + [f"{r['clip_id']}.mp4"]
                f.write(
                    json.dumps(
                        {"key": r["question_id"], "question": _question(p, vids), "answer": r["label"]}
                    )
                    + "\n"
                )


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path]:
    ann = make_annotation_dir(tmp_path / "ann", domains=2, actions_per_domain=5)
    _rename_domains(ann, {"Domain 0": "Figure Skating", "Domain 1": "Hand Sewing / Embroidery"})
    rel = tmp_path / "release"
    write_release(ann, rel)
    return ann, rel


def test_import_round_trips(release: tuple[Path, Path], tmp_path: Path) -> None:
    ann_dir, rel = release
    result = import_release(rel)
    out = write_annotations(result, rel, tmp_path / "imported")
    original = load_annotations(ann_dir)
    imported = load_annotations(out)
    assert imported.actions.keys() == original.actions.keys()
    for key, a in original.actions.items():
        b = imported.actions[key]
        assert b.subdomain == a.subdomain
        assert b.category == ("Sports" if key[0] == "Figure Skating" else "Crafts & Art")
        assert b.definition == ""  # not in the release
        assert sorted(imported.negatives[key]) == sorted(original.negatives[key])
        assert [c.clip_id for c in imported.clips_of(*key)] == [c.clip_id for c in original.clips_of(*key)]
    assert any("definition" in str(w) for w in imported.warnings)
    # The importer's output builds our benchmark with the same questions as the original.
    built = build_benchmark(out, tmp_path / "videonet", progress=False)
    assert built.rows["binary_3shot"]["test"] == 4 * len(original.actions)
    a = build_question_sets(original, 0).rows["binary_3shot"]["test"]
    b = build_question_sets(imported, 0).rows["binary_3shot"]["test"]
    assert [(r["question_id"], r["label"], r["example_clip_ids"]) for r in a] == [
        (r["question_id"], r["label"], r["example_clip_ids"]) for r in b
    ]


def test_cli_and_bad_release(
    release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from videonet_datasets.cli import main

    _, rel = release
    assert main(["import-release", str(rel), "--out", str(tmp_path / "imp")]) == 0
    out = capsys.readouterr().out
    assert "recovered 2 domains, 10 actions, 50 clips" in out
    (rel / "benchmarks" / "mcq_val.jsonl").write_text('{"question": [{"type": "text", "text": "hello"}]}\n')
    with pytest.raises(ReleaseFormatError, match=r"mcq_val.jsonl:1: not a VideoNet multiple-choice question"):
        import_release(rel)
    assert main(["import-release", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2  # usage

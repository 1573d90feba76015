"""The benchmark builder follows the paper's rules exactly, rebuilds byte-identically,
resumes, never half-writes, and its output loads with ``load_dataset``."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from conftest import ffmpeg, make_annotation_dir, set_display_matrix

from videonet_datasets.annotations import AnnotationError, load_annotations
from videonet_datasets.benchmark.build import build_benchmark
from videonet_datasets.benchmark.qa import build_question_sets
from videonet_datasets.benchmark.schema import ALL_CONFIGS, BINARY_SHOTS, binary_config
from videonet_datasets.cli import main
from videonet_datasets.prompts import binary_prompt, mc_prompt
from videonet_datasets.video import probe_video, sample_frames


@pytest.fixture(scope="module")
def ann_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_annotation_dir(tmp_path_factory.mktemp("bench") / "ann", domains=2, actions_per_domain=6)


@pytest.fixture(scope="module")
def built(ann_dir: Path) -> Path:
    out = ann_dir.parent / "videonet"
    build_benchmark(ann_dir, out, seed=3, progress=False)
    return out


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_mc_rules(ann_dir: Path) -> None:
    ann = load_annotations(ann_dir)
    qs = build_question_sets(ann, seed=3)
    test, val = qs.rows["mc"]["test"], qs.rows["mc"]["validation"]
    assert len(test) == 4 * len(ann.actions) and len(val) == len(ann.actions)
    per_action = Counter((r["domain"], r["action"]) for r in test + val)
    assert set(per_action.values()) == {5}
    assert Counter((r["domain"], r["action"]) for r in val) == Counter({k: 1 for k in ann.actions})
    for r in test + val:
        assert sorted(r["options"]) == sorted([r["action"], *ann.negatives[(r["domain"], r["action"])]])
        assert r["options"][r["answer_index"]] == r["action"] == r["clip_action"]
        assert r["answer"] == "ABCD"[r["answer_index"]]
    # Every clip is asked exactly once.
    assert sorted(r["clip_id"] for r in test + val) == sorted(c.clip_id for c in ann.clips)
    # Seeded shuffles spread the answer over the letters.
    assert len(Counter(r["answer"] for r in test + val)) == 4
    # The release's structure: clip 1 is the validation question, clips 2-5 are test-1..4;
    # keys <id>-mcq-val-1 / <id>-mcq-test-<n>, <id> the action's 1-based position.
    for i, (key, _) in enumerate(ann.actions.items(), start=1):
        own = ann.clips_of(*key)
        mine = {r["question_id"]: r for r in test + val if (r["domain"], r["action"]) == key}
        assert mine[f"{i}-mcq-val-1"]["clip_id"] == own[0].clip_id
        assert [mine[f"{i}-mcq-test-{n}"]["clip_id"] for n in range(1, 5)] == [c.clip_id for c in own[1:]]
        assert {r["action_id"] for r in mine.values()} == {str(i)}
        # One wrong-option set per action, in a per-question order.
        assert len({frozenset(r["options"]) for r in mine.values()}) == 1
    # The stored question is the prompt builder's text with the clip as its video entry.
    r = val[0]
    assert r["question"] == mc_prompt(r["domain"], r["options"]).to_question(f"{r['clip_id']}.mp4")


def test_binary_rules(ann_dir: Path) -> None:
    ann = load_annotations(ann_dir)
    qs = build_question_sets(ann, seed=3)
    for random_neg in (False, True):
        ids_by_k = {}
        for k in BINARY_SHOTS:
            rows = qs.rows[binary_config(k, random_neg)]["test"]
            assert len(rows) == 4 * len(ann.actions)
            by_action = defaultdict(list)
            for r in rows:
                by_action[(r["domain"], r["action"])].append(r)
            for key, rs in by_action.items():
                own = ann.clips_of(*key)
                aid = str(list(ann.actions).index(key) + 1)
                assert Counter(r["label"] for r in rs) == {"yes": 2, "no": 2}
                assert [r["clip_id"] for r in rs if r["label"] == "yes"] == [own[3].clip_id, own[4].clip_id]
                assert [r["question_id"] for r in rs] == [
                    f"{aid}-pos-1",
                    f"{aid}-pos-2",
                    f"{aid}-neg-1",
                    f"{aid}-neg-2",
                ]
                neg_actions = [r["clip_action"] for r in rs if r["label"] == "no"]
                assert len(set(neg_actions)) == 2 and key[1] not in neg_actions
                # A negative is always the other action's clip 4 (the release's test-3 clip).
                for r in rs:
                    if r["label"] == "no":
                        assert r["clip_id"] == ann.clips_of(key[0], r["clip_action"])[3].clip_id
                    examples = [f"{c}.mp4" for c in r["example_clip_ids"]]
                    prompt = binary_prompt(r["action"], r["domain"], r["subdomain"], k=k)
                    assert r["question"] == prompt.to_question(f"{r['clip_id']}.mp4", examples)
                if random_neg:
                    assert all((key[0], a) in ann.actions for a in neg_actions)
                    assert {r["negative_type"] for r in rs if r["label"] == "no"} == {"random"}
                else:
                    assert set(neg_actions) <= set(ann.negatives[key])
                    assert {r["negative_type"] for r in rs if r["label"] == "no"} == {"hard"}
                for r in rs:
                    assert r["k"] == k
                    assert r["example_clip_ids"] == [c.clip_id for c in own[:k]]
                    assert r["example_videos"] == [f"videos/{c.clip_id}.mp4" for c in own[:k]]
                    assert r["clip_id"] not in r["example_clip_ids"]
                    assert r["domain"] == key[0]
            ids_by_k[k] = [(r["question_id"], r["clip_id"], r["label"]) for r in rows]
        # The same test questions for every k.
        assert ids_by_k[0] == ids_by_k[1] == ids_by_k[2] == ids_by_k[3]
        assert len({q for q, _, _ in ids_by_k[0]}) == len(ids_by_k[0])
    # Positives are shared by the hard and random variants.
    hard = {r["question_id"] for r in qs.rows["binary_0shot"]["test"] if r["label"] == "yes"}
    rand = {r["question_id"] for r in qs.rows["binary_random_0shot"]["test"] if r["label"] == "yes"}
    assert hard == rand


def test_seed_changes_choices(ann_dir: Path) -> None:
    ann = load_annotations(ann_dir)
    a = build_question_sets(ann, seed=1).rows["mc"]["test"]
    b = build_question_sets(ann, seed=2).rows["mc"]["test"]
    assert [r["options"] for r in a] != [r["options"] for r in b]


def test_load_dataset_offline_from_parent_directory(built: Path) -> None:
    code = (
        "from datasets import load_dataset\n"
        "for cfg in %r:\n"
        "    d = load_dataset('videonet', cfg)\n"
        "    print(cfg, {s: len(x) for s, x in d.items()})\n"
        "r = load_dataset('videonet', 'binary_3shot', split='test')[0]\n"
        "import os; assert all(os.path.exists(os.path.join('videonet', v)) for v in [r['video'], *r['example_videos']])\n"
        "print('ok')\n" % (list(ALL_CONFIGS),)
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(built.parent / "hf"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=built.parent, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mc {'test': 48, 'validation': 12}" in out.stdout
    assert "binary_3shot {'test': 48}" in out.stdout
    assert out.stdout.strip().endswith("ok")


def test_video_pool_is_shared_and_complete(built: Path, ann_dir: Path) -> None:
    ann = load_annotations(ann_dir)
    pool = sorted(p.name for p in (built / "videos").glob("*.mp4"))
    assert pool == sorted(f"{c.clip_id}.mp4" for c in ann.clips)  # each clip once


def test_rebuild_is_byte_identical(built: Path, ann_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "videonet"
    build_benchmark(ann_dir, other, seed=3, progress=False)  # fresh, no reuse
    a, b = _digest(built), _digest(other)
    assert a.keys() == b.keys()
    diff = [k for k in a if a[k] != b[k] and k != "README.md"]
    assert diff == []
    # The card differs only in the load path it shows (both are named videonet here).
    assert a["README.md"] == b["README.md"]


def test_real_world_sources_give_the_same_upright_clips(ann_dir: Path, built: Path, tmp_path: Path) -> None:
    """The windowed clips' sources as a broadcast capture (MPEG-TS, its clock at ~1.4 s), an
    MP4 shifted by 10 s (streams copied: the same pictures) and a phone video stored
    sideways with a 90-degree display matrix: the pool holds the same clips, upright."""
    root = tmp_path / "ann"
    shutil.copytree(ann_dir, root)
    srcs = sorted((root / "videos").glob("*_src.mp4"))[:3]
    ffmpeg("-i", str(srcs[0]), "-c", "copy", str(srcs[0].with_suffix(".ts")))
    ffmpeg("-i", str(srcs[1]), "-c", "copy", "-output_ts_offset", "10", str(srcs[1].with_name("shifted.mp4")))
    sideways = srcs[2].with_name("sideways.mp4")  # stored turned a quarter left, nearly lossless
    ffmpeg("-i", str(srcs[2]), "-vf", "transpose=cclock", "-c:v", "libx264", "-qp", "0", str(sideways))
    set_display_matrix(sideways, srcs[2].with_name("phone.mp4"), 0, 1, -1, 0)
    moved = {
        srcs[0].name: srcs[0].with_suffix(".ts").name,
        srcs[1].name: "shifted.mp4",
        srcs[2].name: "phone.mp4",
    }
    clips = _rows_of(root / "clips.csv")
    changed = {}
    for row in clips[1:]:
        name = Path(row[3]).name
        if name in moved:
            row[3] = f"videos/{moved[name]}"
            changed[row[0]] = name
    with open(root / "clips.csv", "w", newline="") as f:
        csv.writer(f).writerows(clips)
    out = tmp_path / "videonet"
    build_benchmark(root, out, seed=3, progress=False)
    assert len(changed) == 3
    for clip_id, name in changed.items():
        ours, ref = out / "videos" / f"{clip_id}.mp4", built / "videos" / f"{clip_id}.mp4"
        if moved[name] != "phone.mp4":
            assert ours.read_bytes() == ref.read_bytes(), name
            continue
        info = probe_video(ours)
        assert (info.width, info.height, info.rotation) == (
            probe_video(ref).width,
            probe_video(ref).height,
            0,
        )
        a, b = (sample_frames(p, fps=10).frames.astype(int) for p in (ours, ref))
        assert a.shape == b.shape and np.abs(a - b).mean() < 3  # upright: the same pictures


def _rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_card_has_real_statistics(built: Path) -> None:
    card = (built / "README.md").read_text()
    assert "config_name: binary_random_3shot" in card
    assert "num_examples: 48" in card
    assert "| Sports | Domain 0 | 6 | 30 |" in card
    assert "Random baseline" in card and "| Sports | Overall |" in card
    assert "/tmp" not in card and str(Path.home()) not in card


def test_invalid_annotations_write_nothing(tmp_path: Path) -> None:
    ann = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    rows = list(csv.reader(open(ann / "clips.csv")))
    rows[3][5] = "0.0"  # end <= start
    with open(ann / "clips.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "videonet"
    with pytest.raises(AnnotationError, match=r"clips.csv:4"):
        build_benchmark(ann, out, progress=False)
    assert not out.exists()
    assert main(["build-benchmark", str(ann), "--out", str(out)]) == 2  # bad input: nothing done
    assert not out.exists()


def test_skip_invalid_clips_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    (ann / "videos" / "d0a1c1.mp4").write_bytes(b"not a video at all")
    out = tmp_path / "videonet"
    assert main(["build-benchmark", str(ann), "--out", str(out), "--skip-invalid-clips"]) == 0
    text = capsys.readouterr().out
    assert "skipped (2)" in text
    assert "clips.csv:8: video='videos/d0a1c1.mp4': cannot decode video" in text
    assert "action 'move 0-1' of 'Domain 0' has 4 clip(s) (needs 5)" in text
    card = (out / "README.md").read_text()
    assert "cannot decode video" in card
    assert "d0a1c1" not in {p.stem for p in (out / "videos").glob("*.mp4")}


def test_failed_build_keeps_old_dataset(tmp_path: Path) -> None:
    ann = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    out = tmp_path / "videonet"
    build_benchmark(ann, out, progress=False)
    before = _digest(out)
    good = (ann / "videos" / "d0a2c0.mp4").read_bytes()
    (ann / "videos" / "d0a2c0.mp4").write_bytes(good[: len(good) // 3])
    with pytest.raises(AnnotationError):
        build_benchmark(ann, out, progress=False)
    assert _digest(out) == before  # the complete old dataset is untouched
    (ann / "videos" / "d0a2c0.mp4").write_bytes(good)
    rows = list(csv.reader(open(ann / "clips.csv")))
    rows[1][5] = "0.9"  # clip 1's window changes -> only it is re-trimmed
    with open(ann / "clips.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    summary = build_benchmark(ann, out, progress=False)
    assert (summary.videos_trimmed, summary.videos_reused) == (1, 19)
    assert not (tmp_path / ".videonet.building").exists()


def test_killed_build_resumes_without_redoing_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import videonet_datasets.benchmark.build as build_mod

    ann = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    reference = tmp_path / "reference"
    build_benchmark(ann, reference, progress=False, workers=1)
    real = build_mod.trim_clip
    calls = tmp_path / "calls"

    def dying(*args: object, **kwargs: object) -> Path:
        with open(calls, "a") as f:
            f.write("x\n")
        if sum(1 for _ in open(calls)) > 7:
            os._exit(1)  # the worker dies mid-build, like a kill -9
        return real(*args, **kwargs)  # type: ignore[arg-type]

    # Worker processes are forked, so they see the patched function.
    monkeypatch.setattr(build_mod, "trim_clip", dying)
    out = tmp_path / "videonet"
    with pytest.raises(BrokenProcessPool):
        build_benchmark(ann, out, progress=False, workers=1)
    assert not out.exists()
    staged = list((tmp_path / ".videonet.building" / "videos").glob("*.mp4"))
    assert 1 <= len(staged) <= 7
    monkeypatch.setattr(build_mod, "trim_clip", real)
    summary = build_benchmark(ann, out, progress=False, workers=1)
    assert summary.videos_reused == len(staged)
    assert summary.videos_trimmed == 20 - len(staged)
    a, b = _digest(out), _digest(reference)
    assert {k: v for k, v in a.items() if k != "README.md"} == {
        k: v for k, v in b.items() if k != "README.md"
    }
    assert (out / "README.md").read_text() == (reference / "README.md").read_text().replace(
        "reference", "videonet"
    )


def test_corrupt_video_is_named_not_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ann = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    (ann / "videos" / "d0a0c0.mp4").write_bytes(os.urandom(2000))
    assert main(["build-benchmark", str(ann), "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "clips.csv:2: video='videos/d0a0c0.mp4': cannot decode video" in err
    assert "Traceback" not in err

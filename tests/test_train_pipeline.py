"""``videonet build-train`` end to end on narrated videos with the real Whisper tiny.en,
resume after SIGKILL, and the commands around it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from train_world import make_web_world

from videonet_datasets.cli import main
from videonet_datasets.train_data.balance import BalanceConfig
from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.filters import FILTERS
from videonet_datasets.train_data.manifest import ManifestError, read_manifest, read_taxonomy
from videonet_datasets.train_data.runner import build_train
from videonet_datasets.video import probe_video

REPO = Path(__file__).resolve().parents[1]


def _settings(world: Path, out: Path, **kw) -> BuildConfig:
    kw = {"workers": 1, "shard_size": 2, "progress": False, "taxonomy": world / "actions.csv", **kw}
    return BuildConfig(
        manifest=world / "web" / "manifest.csv",
        out=out,
        ground_truth=world / "web" / "ground_truth.jsonl",
        **kw,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = make_web_world(tmp_path_factory.mktemp("web") / "world")
    with open(root / "web" / "manifest.csv", "a", newline="") as f:  # a crawl always has a broken row
        csv.writer(f).writerow(["v6", "videos/missing.mp4", "a kickflip", "Skateboarding", "", ""])
    return root


@pytest.fixture(scope="module")
def built(world: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "train"
    report = build_train(_settings(world, out))
    return out, report


def _table(out: Path, config: str) -> list[dict]:
    files = sorted((out / "data" / config).glob("train-*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r["clip_uid"])


def test_end_to_end_labels_per_filter_and_precision(built) -> None:
    out, rep = built
    c = rep.counts
    assert c["videos:in"] == 6 and c["failed:probe"] == 1 and c["videos:with_windows"] == 5
    assert rep.failures[0]["video_id"] == "v6" and rep.failures[0]["reason"] == "video file not found"
    # the localizer found every true action segment (hard cuts, still idle shots)
    assert rep.localization["window_precision"] == 1.0 and rep.localization["segment_recall"] == 1.0
    # single_action: v2 (heelflip), v3 (cascade, never spoken), v5 (wrong title "manual" over an ollie)
    sa = {(r["source_video_id"], r["action"]) for r in _table(out, "single_action")}
    assert sa == {("v2", "heelflip"), ("v3", "cascade"), ("v5", "manual")}
    assert rep.precision["single_action"]["correct"] == 2
    # transcript_localized: v1's kickflip + ollie (Whisper permitting), never v4's "shower or cascade"
    tl = {(r["source_video_id"], r["action"]) for r in _table(out, "transcript_localized")}
    assert ("v1", "kickflip") in tl and not any(v == "v4" for v, _ in tl)
    assert c["transcript_localized:ambiguous_speech"] >= 1
    assert rep.precision["transcript_localized"]["precision"] == 1.0
    tm = {(r["source_video_id"], r["action"]) for r in _table(out, "transcript_localized_title_match")}
    assert ("v1", "kickflip") in tm and ("v1", "ollie") not in tm and tm <= tl
    for f in FILTERS:
        assert rep.rows_written[f] == len(_table(out, f))


def test_output_schema_clip_pool_and_card(built) -> None:
    out, rep = built
    rows = _table(out, "transcript_localized") + _table(out, "single_action")
    for r in rows:
        clip = out / r["video"]
        assert r["video"] == f"videos/{r['clip_uid']}.mp4" and clip.exists()
        info = probe_video(clip)
        assert abs(info.duration - r["duration"]) < 0.15 and not info.has_audio
        assert [q["kind"] for q in r["qa"]] == ["binary_yes", "binary_no", "mc"]
        assert r["qa"][2]["options"][ord(r["qa"][2]["answer"]) - 65] == r["action"]
        assert r["filter"] in FILTERS and r["category"] == "Hobbies"
    # one file per clip, shared by the filters that labeled it
    uids = {r["clip_uid"] for f in FILTERS for r in _table(out, f)}
    assert {p.stem for p in (out / "videos").glob("*.mp4")} == uids
    card = (out / "README.md").read_text()
    assert (
        "| Category Name | Domain Name | # Actions | Transcript Localized | Transcript Localized Title Match | Single Action |"
        in card
    )
    assert "| Hobbies | Skateboarding | 5 |" in card and "| **All** | **All** | **9** |" in card
    assert "Label precision against ground truth" in card and "| single_action | 3 | 3 | 2 | 66.7% |" in card
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows_written"] == rep.rows_written and "api_key" not in json.dumps(stats)


@pytest.fixture(scope="module")
def captured_world(world: Path, tmp_path_factory) -> Path:
    """The same crawl as other downloads and captures bring it (streams copied, so the
    frames and the words are the same): v1 Matroska with Opus sound, its clock starting at
    3 s; v2 an MPEG-TS capture (clock at ~1.4 s); v3 an MP4 shifted by 10 s; v4 a MOV;
    v5 stays an MP4 with AAC (yt-dlp's merged m4a)."""
    root = tmp_path_factory.mktemp("captured") / "world"
    shutil.copytree(world, root)
    videos = root / "web" / "videos"
    remux = {
        "v1": ("mkv", ["-c:v", "copy", "-c:a", "libopus", "-output_ts_offset", "3"]),
        "v2": ("ts", ["-c", "copy"]),
        "v3": ("mp4", ["-c", "copy", "-output_ts_offset", "10"]),
        "v4": ("mov", ["-c", "copy"]),
    }
    manifest = (root / "web" / "manifest.csv").read_text()
    for vid, (ext, args) in remux.items():
        src, dst = videos / f"{vid}.mp4", videos / f"{vid}_captured.{ext}"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), *args, str(dst)], check=True)
        src.unlink()
        manifest = manifest.replace(f"videos/{vid}.mp4", f"videos/{dst.name}")
    (root / "web" / "manifest.csv").write_text(manifest)
    return root


def test_captured_containers_give_the_same_training_data(captured_world: Path, built, tmp_path: Path) -> None:
    """Windows, word times and clips live on the player's timeline: whatever the container,
    stream start time or audio codec, build-train finds the same windows, cuts the same clips
    byte for byte and hears the same words at the same times.  (Whisper may still hear a
    word differently: the TS and Opus tracks carry the encoder's priming samples, which the
    MP4 hides behind its edit list, so the samples it sees are shifted by ~46 ms.)"""
    ref, ref_rep = built
    out = tmp_path / "captured"
    rep = build_train(_settings(captured_world, out))
    assert rep.counts["videos:with_windows"] == 5
    assert rep.localization == ref_rep.localization
    assert _table(out, "single_action") == _table(ref, "single_action")  # titles + windows only
    for f in FILTERS:
        ours, theirs = ({r["clip_uid"]: r for r in _table(root, f)} for root in (out, ref))
        for uid in ours.keys() & theirs.keys():
            assert ours[uid] == theirs[uid], (f, uid)
    assert ("v1", "kickflip") in {
        (r["source_video_id"], r["action"]) for r in _table(out, "transcript_localized")
    }
    shared = {p.name for p in (out / "videos").iterdir()} & {p.name for p in (ref / "videos").iterdir()}
    assert len(shared) >= 3
    for name in shared:
        assert (out / "videos" / name).read_bytes() == (ref / "videos" / name).read_bytes(), name
    # The words, shifted onto each video's timeline, are where the MP4's words are.
    obs = {o["video_id"]: o for o in _observations(out)}
    for o in _observations(ref):
        if o["transcript"] and o["video_id"] in ("v1", "v2"):
            heard = dict((w[0].strip().lower(), w[1]) for w in obs[o["video_id"]]["transcript"]["words"])
            same = [
                (w[1], heard[w[0].strip().lower()])
                for w in o["transcript"]["words"]
                if w[0].strip().lower() in heard
            ]
            assert same and all(abs(a - b) < 0.25 for a, b in same), (o["video_id"], same)


def test_load_dataset_offline(built) -> None:
    out, rep = built
    code = (
        "import datasets, sys\n"
        f"ds = datasets.load_dataset({str(out)!r}, 'single_action', split='train')\n"
        "print(len(ds), ds.features['qa'].feature['kind'].dtype, ds[0]['video'])\n"
        f"print(len(datasets.load_dataset({str(out)!r}, 'transcript_localized', split='train')))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(out.parent / "hf-cache")}
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=out.parent
    )
    assert res.returncode == 0, res.stderr
    first, second = res.stdout.strip().splitlines()[-2:]
    assert first.startswith(f"{rep.rows_written['single_action']} string videos/")
    assert int(second) == rep.rows_written["transcript_localized"]


def _cmd(world: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "videonet_datasets.cli",
        "build-train",
        str(world),
        "--out",
        str(out),
        "--shard-size",
        "1",
        "--no-progress",
        *extra,
    ]


def _kill_after_first_shard(cmd: list[str], shards: Path, total: int) -> int:
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(shards.glob("*.done.json")) and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(shards.glob("*.done.json")))
    assert 1 <= done < total, (
        f"the kill should land after the first shard and before the last ({done}/{total})"
    )
    return done


def _observations(out: Path) -> list[dict]:
    files = sorted((out / ".build" / "shards").glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


def _same_dataset(out: Path, ref: Path) -> None:
    for f in FILTERS:
        assert _table(out, f) == _table(ref, f), f
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(
        p.name for p in (ref / "videos").iterdir()
    )
    for p in (ref / "videos").iterdir():
        assert (out / "videos" / p.name).read_bytes() == p.read_bytes()
    assert (out / "README.md").read_text() == (ref / "README.md").read_text()


@pytest.fixture(scope="module")
def silent_world(tmp_path_factory) -> Path:
    """Ten unnarrated videos whose titles name an action: cheap to observe (no speech)."""
    from train_world import DOMAINS, Shot, WebVideo

    names = DOMAINS["Skateboarding"][1]
    videos = [
        WebVideo(
            f"s{i}",
            "Skateboarding",
            f"my {names[i % 5]} #{i}",
            [Shot(0.6), Shot(1.2, names[i % 5])] * (1 + i % 2),
        )
        for i in range(10)
    ]
    return make_web_world(tmp_path_factory.mktemp("silent") / "world", videos)


def test_kill_midway_and_resume_gives_the_same_dataset(silent_world: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    build_train(_settings(silent_world, ref, shard_size=1))
    out = tmp_path / "killed"
    _kill_after_first_shard(_cmd(silent_world, out, "--workers", "1"), out / ".build" / "shards", 10)
    res = subprocess.run(_cmd(silent_world, out, "--workers", "1"), cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list((out / ".build" / "shards").glob("*.done.json"))) == 10
    assert len(_table(ref, "single_action")) == 5  # the one-window videos
    _same_dataset(out, ref)


@pytest.mark.slow
def test_kill_narrated_run_and_resume_with_two_workers(world: Path, built, tmp_path: Path) -> None:
    """The same with real speech, resumed by the multi-process runner."""
    ref, _ = built
    out = tmp_path / "killed"
    _kill_after_first_shard(_cmd(world, out, "--workers", "1"), out / ".build" / "shards", 6)
    res = subprocess.run(_cmd(world, out, "--workers", "2"), cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(list((out / ".build" / "shards").glob("*.done.json"))) == 6
    _same_dataset(out, ref)


def test_relabel_without_recomputing_and_balance(world: Path, built, tmp_path: Path) -> None:
    """Labeling settings (T, balancing) may change on the same work folder: observations are
    reused; perception settings may not."""
    ref, _ = built
    work = tmp_path / "work"
    shutil.copytree(ref / ".build", work)
    stamps = {p: p.stat().st_mtime_ns for p in (work / "shards").iterdir()}
    t0 = time.monotonic()
    rep = build_train(
        _settings(world, tmp_path / "relabeled", work_dir=work, T=0.0, balance=BalanceConfig(max_per_video=1))
    )
    assert time.monotonic() - t0 < 20
    assert {p: p.stat().st_mtime_ns for p in (work / "shards").iterdir()} == stamps
    assert rep.counts["shards:resumed"] == rep.counts["shards:total"] == 3
    per_video = {}
    for r in _table(tmp_path / "relabeled", "transcript_localized"):
        per_video[r["source_video_id"]] = per_video.get(r["source_video_id"], 0) + 1
    assert all(n == 1 for n in per_video.values())
    more = tmp_path / "more"
    more.mkdir()
    (more / "actions.csv").write_text(
        (world / "actions.csv").read_text() + "Hobbies,Skateboarding,nollie,,A nollie.\n", encoding="utf-8"
    )
    with pytest.raises(RuntimeError, match="other action names"):
        build_train(_settings(world, tmp_path / "other", work_dir=work, taxonomy=more / "actions.csv"))
    with pytest.raises(RuntimeError, match="other localizer/speech settings"):
        build_train(
            _settings(
                world,
                tmp_path / "other",
                work_dir=work,
                localizer="windows-file",
                windows_file=world / "web" / "ground_truth.jsonl",
            )
        )


@pytest.mark.slow
def test_oracle_windows_file_localizer(world: Path, tmp_path: Path) -> None:
    """VideoNet-mini's ground truth as the localizer isolates the labeling filters."""
    s = _settings(
        world,
        tmp_path / "oracle",
        localizer="windows-file",
        windows_file=world / "web" / "ground_truth.jsonl",
    )
    rep = build_train(s)
    assert rep.counts["failed:localize"] == 0 and rep.counts["failed:probe"] == 1
    assert rep.localization["window_precision"] == 1.0


def test_manifest_and_taxonomy_errors_are_all_reported(world: Path, tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text(
        "video_id,path,title,domain\n"
        "a,videos/a.mp4,t,Skateboarding\n"
        "a,videos/b.mp4,t,Skateboarding\n"
        ",videos/c.mp4,t,Skateboarding\n"
        "d,,t,Skateboarding\n"
        "e,videos/e.mp4,t,Skatebording\n"
    )
    with pytest.raises(ManifestError) as ei:
        read_manifest(m, read_taxonomy(world / "actions.csv"))
    msg = str(ei.value)
    assert "m.csv:3: video_id='a': duplicate video_id (first on line 2)" in msg
    assert "m.csv:4: video_id=''" in msg and "m.csv:5: path='': needs a path or a url" in msg
    assert "m.csv:6: domain='Skatebording': domain not in the taxonomy (did you mean 'Skateboarding'?)" in msg
    bad = tmp_path / "nocols.csv"
    bad.write_text("id,file\n1,x.mp4\n")
    with pytest.raises(ManifestError, match="missing column"):
        read_manifest(bad)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "actions.csv").write_text("category,domain,action,subdomain,definition\nA,D,x,,X.\nA,D,y,,Y.\n")
    (tiny / "m.csv").write_text("video_id,path,title,domain\nv,v.mp4,x,D\n")
    with pytest.raises(ValueError, match="at least 4"):
        build_train(
            BuildConfig(
                manifest=tiny / "m.csv", taxonomy=tiny / "actions.csv", out=tmp_path / "o", progress=False
            )
        )


def test_queries_command(world: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "q.csv"
    assert main(["queries", str(world / "actions.csv"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert {"skateboarding kickflip", "how to kickflip", "juggling mills mess"} <= {r["query"] for r in rows}
    assert len(rows) == 2 * 9
    assert (
        main(
            [
                "queries",
                str(world),
                "--out",
                str(out),
                "--template",
                "{Domain} tutorial {action}",
                "--domain",
                "Juggling",
            ]
        )
        == 0
    )
    assert [r["query"] for r in csv.DictReader(open(out))][0] == "Juggling tutorial cascade"
    assert main(["queries", str(world), "--out", str(out), "--template", "{sport} {action}"]) == 2  # usage
    assert "unknown field" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_engine_gives_the_same_dataset(world: Path, built, tmp_path: Path) -> None:
    """Ray Data on a local 2-core Ray: same shards, same dataset (start-up cost is printed)."""
    pytest.importorskip("ray")
    ref, _ = built
    out = tmp_path / "ray"
    t0 = time.monotonic()
    res = subprocess.run(
        _cmd(world, out, "--engine", "ray", "--shard-size", "2"), cwd=REPO, capture_output=True, text=True
    )
    print(f"ray build: {time.monotonic() - t0:.1f}s")
    assert res.returncode == 0, res.stderr[-3000:]
    for f in FILTERS:
        assert _table(out, f) == _table(ref, f), f


def test_end_to_end_on_videonet_mini(tmp_path: Path) -> None:
    """VideoNet-mini's own narrated web videos (``videonet synth``, tiny preset), the real
    Whisper tiny.en, the offline localizer: every filter labels clips, and their label
    precision is measured against the world's saved ground truth."""
    from videonet_datasets.synth import generate_world, preset

    world = tmp_path / "mini"
    generate_world(world, preset("tiny"), progress=False)  # 4 web videos, one of each kind
    rep = build_train(_settings(world, tmp_path / "train", shard_size=4))
    assert rep.counts["videos:in"] == 4 and rep.counts["videos:with_windows"] == 4
    assert rep.localization["window_precision"] >= 0.8, rep.localization
    for f in FILTERS:
        p = rep.precision[f]
        assert p["labeled"] >= 1 and p["evaluated"] == p["labeled"], (f, p)
        assert p["precision"] >= 0.5, (f, p)
    card = (tmp_path / "train" / "README.md").read_text()
    assert "| Filter | Labeled clips | With ground truth | Correct | Precision |" in card

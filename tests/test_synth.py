"""VideoNet-mini: the synthetic world's contract, determinism, resume, and the property
that makes it a real benchmark - one middle frame cannot tell an action from its hard
negatives, while the motion can."""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import make_annotation_dir

from videonet_datasets import cli
from videonet_datasets.synth import SynthConfig, SynthError, generate_world, preset
from videonet_datasets.synth.config import parse_mix
from videonet_datasets.synth.generate import DONE_FILE
from videonet_datasets.synth.motion import evaluate, max_extent, motion_signature
from videonet_datasets.synth.narration import NarrationError, parse_wav, place_lines, speak
from videonet_datasets.synth.plan import ClipPlan, clip_durations, plan_clips, plan_one
from videonet_datasets.synth.render import render_at
from videonet_datasets.synth.taxonomies import select_domains
from videonet_datasets.synth.taxonomy import DomainDef, choose_negatives, definition_for
from videonet_datasets.synth.web import NEAR, allocate_kinds, plan_web_videos
from videonet_datasets.synth.world import DOMAINS
from videonet_datasets.video import probe_video

TINY = preset("tiny", web_videos=4)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "world"
    summary = generate_world(out, TINY, progress=False)
    assert summary.rendered == summary.clip_videos + summary.web_videos
    return out


# ------------------------------------------------------------------ the contract


def test_tables_have_the_contract_columns(world: Path) -> None:
    assert _header(world / "actions.csv") == ["category", "domain", "action", "subdomain", "definition"]
    assert _header(world / "hard_negatives.csv") == [
        "domain",
        "action",
        "negative_1",
        "negative_2",
        "negative_3",
    ]
    assert _header(world / "clips.csv") == ["clip_id", "domain", "action", "video", "start", "end"]
    assert _header(world / "web" / "manifest.csv") == [
        "video_id",
        "path",
        "title",
        "domain",
        "channel",
        "upload_date",
    ]
    meta = json.loads((world / "world.json").read_text())
    assert meta["generator"] == "videonet synth" and meta["seed"] == TINY.seed
    assert {a["action"] for d in meta["domains"] for a in d["actions"]} == {
        r["action"] for r in _read(world / "actions.csv")
    }


def test_actions_and_hard_negatives_follow_the_rules(world: Path) -> None:
    actions = _read(world / "actions.csv")
    by_domain: dict[str, set[str]] = defaultdict(set)
    for r in actions:
        by_domain[r["domain"]].add(r["action"])
        assert r["category"] in {"Sports", "Dance", "Hobbies", "Crafts & Art"}
        assert len(r["definition"]) > 80
    assert {d: len(a) for d, a in by_domain.items()} == {"Figure Skating": 6, "Ballet": 6}
    negs = _read(world / "hard_negatives.csv")
    assert [(r["domain"], r["action"]) for r in negs] == [(r["domain"], r["action"]) for r in actions]
    uses: Counter[tuple[str, str]] = Counter()
    definitions = {(r["domain"], r["action"]): r["definition"] for r in actions}
    for r in negs:
        trio = [r["negative_1"], r["negative_2"], r["negative_3"]]
        assert len(set(trio)) == 3 and r["action"] not in trio
        assert set(trio) <= by_domain[r["domain"]]
        for n in trio:
            uses[(r["domain"], n)] += 1
            assert f"the {n}, which" in definitions[(r["domain"], r["action"])]
    for d, names in by_domain.items():
        assert all(2 <= uses[(d, a)] <= 5 for a in names), {a: uses[(d, a)] for a in names}


def test_five_clips_per_action_with_windows_inside_their_videos(world: Path) -> None:
    clips = _read(world / "clips.csv")
    per_action: dict[tuple[str, str], list[str]] = defaultdict(list)
    windows = 0
    for r in clips:
        per_action[(r["domain"], r["action"])].append(r["clip_id"])
        info = probe_video(world / r["video"])
        assert info.codec == "h264" and not info.has_audio
        assert info.width % 2 == 0 and info.height % 2 == 0
        start = float(r["start"])
        end = float(r["end"]) if r["end"] else info.duration
        assert 0 <= start < end <= info.duration + 1e-6, r
        if start > 0:
            windows += 1
            assert end < info.duration - 0.3, "a window should have footage after it in its source"
    assert len(per_action) == 12 and all(len(v) == 5 for v in per_action.values())
    for ids in per_action.values():  # file order = clip 1..5
        assert [i.rsplit("-", 1)[1] for i in ids] == ["1", "2", "3", "4", "5"]
    assert windows >= 5


def test_default_world_clip_durations_are_heavy_tailed() -> None:
    cfg = SynthConfig()
    durations = [c.duration for c in plan_clips(cfg, select_domains())]
    assert len(durations) == 5 * sum(len(d.actions) for d in DOMAINS) >= 150
    assert min(durations) < 1.0 and max(durations) > 20.0
    assert statistics.mean(durations) > statistics.median(durations)  # right skew, like the paper
    m = statistics.mean(durations)
    sd = statistics.pstdev(durations)
    kurtosis = statistics.mean([((d - m) / sd) ** 4 for d in durations])
    assert kurtosis > 5.0  # paper: 34.1; a normal distribution: 3


def test_web_manifest_and_ground_truth_agree(world: Path) -> None:
    manifest = _read(world / "web" / "manifest.csv")
    truth = [json.loads(line) for line in (world / "web" / "ground_truth.jsonl").read_text().splitlines()]
    assert [m["video_id"] for m in manifest] == [t["video_id"] for t in truth]
    assert {t["kind"] for t in truth} == {"single", "multi", "howto", "compilation"}
    known = {r["action"] for r in _read(world / "actions.csv")}
    for m, t in zip(manifest, truth):
        info = probe_video(world / "web" / m["path"])
        assert info.has_audio and info.codec == "h264"
        assert abs(info.duration - t["duration"]) < 0.05
        assert t["segments"], t
        for s in t["segments"]:
            assert 0 <= s["start"] < s["end"] <= t["duration"] and s["action"] in known
        for line in t["narration"]:
            assert 0 <= line["start"] < line["end"] <= t["duration"]
            assert line["action"] is None or line["action"] in line["text"]
            near = line["action"] is not None and any(
                s["action"] == line["action"]
                and s["start"] <= line["end"] + NEAR
                and s["end"] >= line["start"] - NEAR
                for s in t["segments"]
            )
            assert line["shown"] == near
        starts = [line["start"] for line in t["narration"]]
        ends = [line["end"] for line in t["narration"]]
        assert all(e <= s for e, s in zip(ends, starts[1:])), "lines must not overlap"
        shots = t["shots"]
        assert shots[0][0] == 0 and abs(shots[-1][1] - t["duration"]) < 1e-3
        assert t["title_correct"] == (
            t["title_action"] is None or t["title_action"] in {s["action"] for s in t["segments"]}
        )
        if t["title_action"]:
            assert t["title_action"].lower() in m["title"].lower()
        if t["kind"] == "single":
            assert len(t["segments"]) == 1 and t["title_action"] is not None


def test_web_plans_cover_the_noise_the_pipeline_must_survive() -> None:
    cfg = SynthConfig(web_videos=60)
    domains = select_domains()
    negatives = {d.name: choose_negatives(d.actions) for d in domains}
    plans = plan_web_videos(cfg, domains, negatives)
    tags = Counter(tag for p in plans for tag in p.noise)
    for tag in (
        "wrong_title",
        "misnamed_segment",
        "unshown_mention",
        "timing_offset",
        "unnarrated_segment",
        "filler",
        "mistake_demo",
    ):
        assert tags[tag] > 0, tags
    assert Counter(p.kind for p in plans) == {"single": 30, "multi": 12, "howto": 9, "compilation": 9}
    assert {p.domain for p in plans} == {d.name for d in domains}
    durations = [p.spec["duration"] for p in plans]
    assert min(durations) >= 5.0 and max(durations) <= 75.0
    for p in plans:
        if p.kind in ("multi", "compilation"):
            assert len(p.segments) >= 2
        if p.kind == "compilation":
            assert len(p.spec["shots"]) == len(p.segments)  # every performance its own shot (hard cuts)
        # Performances sharing a shot are separated by at least a second of idle time.
        for shot in p.spec["shots"]:
            evs = sorted(shot["events"], key=lambda e: e["t0"])
            assert all(b["t0"] - a["t1"] >= 1.0 for a, b in zip(evs, evs[1:]))
    assert any(len(s["events"]) == 2 for p in plans for s in p.spec["shots"])
    assert allocate_kinds(7, {"single": 1.0}, 0) == ["single"] * 7


def test_world_validates_with_the_annotation_loader(world: Path) -> None:
    from videonet_datasets.annotations import load_annotations

    ann = load_annotations(world)
    assert len(ann.actions) == 12 and len(ann.clips) == 60 and not ann.warnings


# --------------------------------------------------------- determinism and resume


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_worlds(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, SynthConfig(**{**TINY.__dict__, "jobs": 1}), progress=False)  # serial this time
    a, b = _tree(world), _tree(again)
    assert a.keys() == b.keys()
    different = [k for k in a if a[k] != b[k]]
    assert not different, different[:5]


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    cfg = SynthConfig(**{**TINY.__dict__, "seed": 1})
    other = plan_clips(cfg, select_domains(cfg.domains, cfg.actions_per_domain))
    base = plan_clips(TINY, select_domains(TINY.domains, TINY.actions_per_domain))
    assert [c.spec for c in other] != [c.spec for c in base]


def test_rerun_skips_finished_videos_and_redoes_damaged_ones(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(world, out)
    before = _tree(out)
    summary = generate_world(out, TINY, progress=False)
    assert summary.rendered == 0 and summary.reused == summary.clip_videos + summary.web_videos
    victims = sorted((out / "videos").glob("*.mp4"))[:2]
    victims[0].unlink()
    victims[1].write_bytes(b"not a video")
    (out / "videos" / ".x.mp4.tmp123.mp4").write_bytes(b"half")  # debris of a killed run
    summary = generate_world(out, TINY, progress=False)
    assert summary.rendered == 2
    assert _tree(out) == before


def test_refuses_to_overwrite_a_foreign_annotation_directory(tmp_path: Path) -> None:
    ann = make_annotation_dir(tmp_path / "mine")
    with pytest.raises(SynthError, match="not made by"):
        generate_world(ann, TINY, progress=False)
    assert (ann / "clips.csv").exists()


# ------------------------------------------ the benchmark property: motion, not looks


def _clip_frames(plan: ClipPlan, n: int, actor: bool = True) -> np.ndarray:
    end = plan.end if plan.end is not None else plan.spec["duration"]
    times = plan.start + (np.arange(n) + 0.5) * (end - plan.start) / n
    return np.stack(list(render_at(plan.spec, times, actor=actor))).astype(np.float32) / 255.0


def motion_feature(plan: ClipPlan, t: int = 32) -> np.ndarray:
    """From pixels: the actor's track (foreground against the clean plate) and the signed
    turn of its pointer (the foreground pixel farthest from the centroid)."""
    frames, plate = _clip_frames(plan, t), _clip_frames(plan, t, actor=False)
    mask = np.abs(frames - plate).max(-1) > 0.08
    h, w = mask.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w]
    cx, cy, angle = np.zeros(t), np.zeros(t), np.zeros(t)
    for i, m in enumerate(mask):
        if m.any():
            x, y = xs[m], ys[m]
            cx[i], cy[i] = x.mean() / w, y.mean() / h
            k = np.argmax((x - x.mean()) ** 2 + (y - y.mean()) ** 2)
            angle[i] = math.atan2(y[k] - y.mean(), x[k] - x.mean())
    turn = np.sum((np.diff(angle) + np.pi) % (2 * np.pi) - np.pi) / (2 * np.pi)
    return np.concatenate([cx - cx[t // 2], cy - cy[t // 2], [0.3 * turn]])


def middle_pixels(plan: ClipPlan, side: int = 16) -> np.ndarray:
    f = _clip_frames(plan, 1)[0]
    h, w, _ = f.shape
    return f.reshape(side, h // side, side, w // side, 3).mean((1, 3)).ravel()


def middle_mask(plan: ClipPlan, side: int = 16) -> np.ndarray:
    """The best a single frame can do: where the actor is and how it is posed."""
    f, p = _clip_frames(plan, 1)[0], _clip_frames(plan, 1, actor=False)[0]
    m = (np.abs(f - p).max(-1) > 0.08).astype(np.float32)
    h, w = m.shape
    return m.reshape(side, h // side, side, w // side).mean((1, 3)).ravel()


def loo_nearest_centroid(features: list[np.ndarray], labels: list[str]) -> float:
    x, y = np.stack(features), np.asarray(labels)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        classes = np.unique(y[keep])
        centroids = np.stack([x[keep][y[keep] == c].mean(0) for c in classes])
        hits += classes[np.argmin(((centroids - x[i]) ** 2).sum(1))] == y[i]
    return hits / len(x)


def plans_per_action(cfg: SynthConfig, domain: DomainDef, per_action: int) -> list[ClipPlan]:
    """``per_action`` planned clips of every action of ``domain`` (shared with the coarse taxonomy's test)."""
    durations = clip_durations(domain, len(domain.actions) * per_action, cfg.seed, 1.0)
    return [
        plan_one(cfg, domain, action, k + 1, durations[i * per_action + k])
        for i, action in enumerate(domain.actions)
        for k in range(per_action)
    ]


@pytest.mark.parametrize("domain_name", ["Figure Skating", "Ballet"])
def test_middle_frame_is_at_chance_while_motion_separates_actions(domain_name: str) -> None:
    cfg = SynthConfig(size=(64, 64), fps=10.0)
    (domain,) = select_domains([domain_name])
    plans = plans_per_action(cfg, domain, 10)
    labels = [p.action for p in plans]
    chance = 1.0 / len(domain.actions)
    motion = loo_nearest_centroid([motion_feature(p) for p in plans], labels)
    pixels = loo_nearest_centroid([middle_pixels(p) for p in plans], labels)
    pose = loo_nearest_centroid([middle_mask(p) for p in plans], labels)
    assert motion >= 0.85, motion
    assert pixels <= chance + 0.15, pixels
    assert pose <= chance + 0.15, pose


# ----------------------------------------------------------------- the taxonomy


def check_distinct_motions_and_balanced_negatives(d: DomainDef, min_gap: float) -> dict[str, list[str]]:
    """Every two actions of ``d`` move differently (signatures > ``min_gap`` apart) and its
    hard negatives use each action 2-5 times; returns the negatives (shared with the coarse taxonomy's test)."""
    sigs = [motion_signature(a.motion) for a in d.actions]
    for i in range(len(sigs)):
        for j in range(i + 1, len(sigs)):
            assert np.abs(sigs[i] - sigs[j]).max() > min_gap, (d.name, d.actions[i].name, d.actions[j].name)
    negatives = choose_negatives(d.actions)
    uses = Counter(n for trio in negatives.values() for n in trio)
    assert all(2 <= uses[a.name] <= 5 for a in d.actions)
    return negatives


def test_taxonomy_has_enough_domains_and_distinct_motions() -> None:
    assert len({d.category for d in DOMAINS}) >= 3 and len(DOMAINS) >= 4
    for d in DOMAINS:
        assert 6 <= len(d.actions) <= 8
        negatives = check_distinct_motions_and_balanced_negatives(d, 0.05)
        for a in d.actions:
            diffs = [sum(a.attrs[k] != d.action(n).attrs[k] for k in a.attrs) for n in negatives[a.name]]
            assert min(diffs) == 1, (a.name, negatives[a.name])  # at least one differs in a single aspect
            text = definition_for(d, a, negatives[a.name])
            assert all(n in text for n in negatives[a.name])


def test_planned_motions_stay_inside_the_frame() -> None:
    cfg = SynthConfig()
    for plan in plan_clips(cfg, select_domains()):
        for shot in plan.spec["shots"]:
            for ev in shot["events"]:
                reach = ev["amp"] * max_extent(ev["segments"]) + max(map(abs, ev["origin"]))
                assert reach <= 0.8, (plan.clip_id, reach)


def test_motion_programs_evaluate_as_documented() -> None:
    cw = evaluate([{"loop": {"turns": 1, "dir": 1, "r": 0.5, "at": 0}}], [0.0, 0.25, 0.5, 1.0])
    # The centre lies to the right of the start (9 o'clock); clockwise goes up to 12 first.
    assert np.allclose([cw.x[0], cw.y[0]], [0.0, 0.0], atol=1e-9)
    assert cw.y[1] < -0.1 and np.isclose(cw.x[2], 1.0) and np.allclose([cw.x[3], cw.y[3]], 0.0, atol=1e-9)
    spin = evaluate([{"spin": -2}], [0.0, 1.0])
    assert np.isclose(spin.theta[1] - spin.theta[0], -4 * math.pi)
    hop = evaluate([{"hops": 1, "hop": 0.3}], [0.5])
    assert np.isclose(hop.y[0], -0.3)


# ---------------------------------------------------------------- narration


def test_place_lines_keeps_order_gaps_and_counts_what_does_not_fit() -> None:
    script = [{"t": 0.0}, {"t": 0.5}, {"t": 9.5}, {"t": 9.6}]
    placed, dropped = place_lines(script, [1.0, 1.0, 1.0, 1.0], duration=10.0)
    starts = dict(placed)
    assert starts[0] == 0.0 and starts[1] == pytest.approx(1.2)
    assert starts[2] == pytest.approx(8.95)  # pulled back to end before the video does
    assert dropped == 1 and 3 not in starts


def test_espeak_speech_is_parsed_and_bad_wav_is_reported() -> None:
    samples, rate = speak("double lutz", "en-us", 160)
    assert rate == 22050 and 0.3 < len(samples) / rate < 3.0 and np.abs(samples).max() > 1000
    with pytest.raises(NarrationError, match="no WAV data"):
        parse_wav(b"garbage", "x")


# ---------------------------------------------------------------- config and CLI


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="even"):
        SynthConfig(size=(65, 64))
    with pytest.raises(ValueError, match="unknown kind"):
        parse_mix("single=1,vlog=2")
    with pytest.raises(ValueError, match="unknown domain"):
        select_domains(["Curling"])
    with pytest.raises(ValueError, match="must be >= 4"):
        select_domains(None, 3)
    assert parse_mix("single=0.7, howto=0.3") == {"single": 0.7, "howto": 0.3}


def test_cli_generates_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = cli.main(
        [
            "synth",
            "--out",
            str(out),
            "--preset",
            "tiny",
            "--web-videos",
            "1",
            "--web-mix",
            "single=1",
            "--actions-per-domain",
            "4",
            "--domains",
            "ballet",
            "--quiet",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert (
        "1 domains, 4 actions" in text and "20 clips" in text and "1 narrated web videos (single 1)" in text
    )
    assert len(_read(out / "clips.csv")) == 20 and (out / DONE_FILE).exists()
    assert cli.main(["synth", "--out", str(out), "--web-mix", "nonsense"]) == 2  # a usage error


@pytest.mark.slow
def test_default_world_generates_within_two_minutes_and_validates(tmp_path: Path) -> None:
    from videonet_datasets.annotations import load_annotations

    summary = generate_world(tmp_path / "default", SynthConfig(), progress=False)
    assert summary.seconds_taken < 120.0, summary.format()
    assert (summary.categories, summary.domains, summary.actions, summary.clips) == (4, 5, 37, 185)
    assert summary.web_videos == 40 and summary.dropped_lines <= 10
    ann = load_annotations(tmp_path / "default")
    assert len(ann.clips) == 185

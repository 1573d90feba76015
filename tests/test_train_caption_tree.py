"""The caption-tree labeler (``--localizer action100m``): the Ward segment tree with temporal
adjacency, the VLM captions and the LLM aggregation against a scripted local server
(corrections, self-refinement, the saved conversation), resume, and its segments through
``segment_action_match``."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from chat_server import FakeVLM, ok

from videonet_datasets.train_data.action100m import Node, Row, parse_row, read_rows, row_to_dict
from videonet_datasets.train_data.caption_tree import (
    IMAGE_PROMPT,
    REFINE_PROMPT,
    VIDEO_PROMPT,
    CaptionTreeLocalizer,
    check_aggregation,
)
from videonet_datasets.train_data.config import (
    BuildConfig,
    CaptionTreeConfig,
    SegmentConfig,
    VLMConfig,
    WindowPolicy,
)
from videonet_datasets.train_data.localize import LocalizeError
from videonet_datasets.train_data.manifest import VideoRow, read_taxonomy
from videonet_datasets.train_data.segment_tree import ThumbnailEncoder, segment_tree
from videonet_datasets.train_data.stages import PerceptionContext, label_observations, observe_localize
from videonet_datasets.video import write_video

# ----------------------------------------------------------------------------- the segment tree


def _check_tree(nodes: list[Node]) -> None:
    """Every node is a contiguous span inside its parent; two kept children split it exactly."""
    by_id = {n.node_id: n for n in nodes}
    kids: dict[str | None, list[Node]] = {}
    for n in nodes:
        kids.setdefault(n.parent_id, []).append(n)
    assert len(kids[None]) == 1
    for n in nodes:
        if n.parent_id is not None:
            p = by_id[n.parent_id]
            assert n.level == p.level + 1 and p.start <= n.start < n.end <= p.end
        ks = sorted(kids.get(n.node_id, []), key=lambda k: k.start)
        assert len(ks) <= 2
        if len(ks) == 2:
            assert ks[0].end == ks[1].start and (ks[0].start, ks[1].end) == (n.start, n.end)
    row = Row("v", "t", nodes, duration=nodes[0].end)
    assert parse_row(row_to_dict(row), "tree", 1)[1] == []  # a valid release tree


def test_ward_tree_splits_at_the_changes_and_keeps_spans_contiguous() -> None:
    rng = np.random.default_rng(0)
    # three homogeneous stretches (8, 12, 10 frames at 4 fps), the first and last alike:
    # unconstrained Ward would merge them; the temporal chain cannot.
    means = [np.full(6, 0.0)] * 8 + [np.full(6, 5.0)] * 12 + [np.full(6, 0.2)] * 10
    feats = np.stack(means) + rng.normal(0, 0.05, (30, 6))
    times = np.arange(31) * 0.25
    nodes = segment_tree(feats, times, video_id="v1")
    _check_tree(nodes)
    assert (nodes[0].start, nodes[0].end, nodes[0].level) == (0.0, 7.5, 0)
    top = sorted((n.start, n.end) for n in nodes if n.level <= 2 and n.end - n.start >= 2.0)
    edges = {t for span in top for t in span}
    assert {2.0, 5.0} <= edges, top  # the two changes are among the first splits
    assert all(n.end - n.start >= 0.5 for n in nodes)  # the paper drops nodes under 0.5 s
    assert segment_tree(feats, times, video_id="v1") == nodes  # stable ids
    shallow = segment_tree(feats, times, video_id="v1", max_depth=1)
    assert max(n.level for n in shallow) == 1 and len(shallow) == 3
    with pytest.raises(ValueError, match="need 31 frame boundaries"):
        segment_tree(feats, times[:-1], video_id="v1")


def _shots_video(path: Path, colours: list[tuple[int, int, int]], seconds: float = 4.0) -> Path:
    frames = []
    for bg in colours:
        for k in range(int(seconds * 10)):
            img = np.empty((32, 48, 3), np.uint8)
            img[:] = bg
            x = 18 + int(12 * np.sin(k / 2.0))
            img[10:22, x : x + 10] = 255 - np.array(bg, np.uint8)
            frames.append(img)
    return write_video(path, frames, 10)


def test_thumbnail_encoder_tree_splits_at_shot_cuts(tmp_path: Path) -> None:
    from videonet_datasets.video import sample_frames

    p = _shots_video(tmp_path / "v.mp4", [(200, 40, 40), (40, 200, 40), (40, 40, 200)])
    fr = sample_frames(p, fps=4, size=32)
    times = np.append(fr.timestamps + fr.clip_start, 12.0)
    nodes = segment_tree(ThumbnailEncoder().embed(fr.frames), times, video_id="v")
    _check_tree(nodes)
    level1 = sorted((n.start, n.end) for n in nodes if n.level == 1)
    assert level1[0][1] in (4.0, 8.0)  # the first split is one of the two cuts
    assert any(abs(n.start - 4.0) < 1e-6 for n in nodes) and any(abs(n.start - 8.0) < 1e-6 for n in nodes)


def test_any_transformers_image_model_is_an_encoder(tmp_path: Path) -> None:
    """A tiny random DINOv2 made here (transformers-style tiny-model test): one unit vector
    per frame, and a tree over them."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    from videonet_datasets.train_data.segment_tree import load_encoder

    cfg = Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                       image_size=32, patch_size=8)  # fmt: skip
    Dinov2Model(cfg).save_pretrained(tmp_path / "enc")
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path / "enc"
    )
    enc = load_encoder(str(tmp_path / "enc"))
    frames = np.random.default_rng(0).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    feats = enc.embed(frames)
    assert feats.shape == (6, 16) and np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    _check_tree(segment_tree(feats, np.arange(7) * 0.5, video_id="v"))


# ----------------------------------------------------------------------------- the labeler


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return _shots_video(tmp_path_factory.mktemp("ct") / "v.mp4", [(200, 40, 40), (40, 200, 40)])


def vrow(path: Path) -> VideoRow:
    return VideoRow(video_id="vid/1", title="kickflip practice", domain="Skateboarding", path=str(path))


CONFIG = CaptionTreeConfig(
    max_depth=2, annotate_min_seconds=3.0, caption_frames=3, refine_rounds=1, max_corrections=1,
    caption_concurrency=2,
)  # fmt: skip


def labeler(url: str, cache: Path, config: CaptionTreeConfig = CONFIG) -> CaptionTreeLocalizer:
    vlm = VLMConfig(base_url=url, model="test-vlm", api_key="k", max_attempts=1)
    return CaptionTreeLocalizer(
        vlm, config, SegmentConfig(), lambda d: ["kickflip", "ollie", "manual"], WindowPolicy(min_seconds=0.5),
        cache_dir=cache,
    )  # fmt: skip


def _asked(body: dict) -> list[tuple[str, float, float]]:
    """The segments an aggregation request lists: (id, start, end)."""
    prompt = body["messages"][1]["content"]
    todo = prompt.split("Segments to describe:")[1]
    return [(m[1], float(m[2]), float(m[3])) for m in re.finditer(r"- (S\d+): ([\d.]+)s - ([\d.]+)s", todo)]


def _fields(brief: str) -> dict:
    return {
        "summary": {"brief": "A skater on a red floor.", "detailed": "A skater moves on a red floor."},
        "action": {
            "brief": brief,
            "detailed": "N/A" if brief == "N/A" else f"{brief} cleanly.",
            "actor": "a skater",
        },
    }


class Script:
    """The stand-in model: captions every image request; answers the aggregation with one
    broken draft, then valid JSON naming a kickflip in the first 4 s (the red shot) and
    ``second`` in the rest; ``refine_ok=False`` breaks every refinement."""

    def __init__(self, second: str = "N/A", refine_ok: bool = True, always_broken: bool = False):
        self.second, self.refine_ok, self.always_broken = second, refine_ok, always_broken
        self.captions: list[dict] = []
        self.aggregations: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, body: dict):
        if body["messages"][0]["role"] != "system":
            with self.lock:
                self.captions.append(body)
            return ok("A skater on a coloured floor jumps and flips the board.")
        with self.lock:
            self.aggregations.append(body)
            n = len(self.aggregations)
        asked = _asked(body)
        valid = {
            "segments": [
                {"id": sid, **_fields("Do a kickflip" if e <= 4.5 else self.second)} for sid, s, e in asked
            ]
        }
        if self.always_broken or n == 1:
            valid["segments"][0]["action"].pop("actor")
            return ok("```json\n" + json.dumps(valid) + "\n```")
        if n >= 3 and not self.refine_ok:
            return ok("<think>hmm</think> I cannot improve it.")
        return ok("<think>checking the captions</think>" + json.dumps(valid))


def test_labeler_captions_aggregates_refines_and_saves_the_conversation(video: Path, tmp_path: Path) -> None:
    script = Script()
    with FakeVLM([script] * 60) as srv:
        lab = labeler(srv.url, tmp_path / "cache")
        res = lab.localize(vrow(video), 8.0)
    folder = lab.video_dir("vid/1")
    assert folder.name.startswith("vid_1_")  # a safe folder name for any id
    tree = json.loads((folder / "tree.json").read_text())
    nodes = tree["nodes"]
    assert tree["encoder"] == "thumbnails" and nodes[0]["start"] == 0.0 and nodes[0]["end"] == 8.0
    assert 3 <= len(nodes) <= 7 and max(n["level"] for n in nodes) <= 2
    # one caption per node: a leaf by its middle frame, a longer node by timestamped frames
    assert len(script.captions) == len(nodes)
    parents = {n["parent_id"] for n in nodes}
    kinds = [json.loads(x)["kind"] for x in (folder / "captions.jsonl").read_text().splitlines()]
    assert kinds.count("segment") == sum(n["node_id"] in parents for n in nodes)
    for body in script.captions:
        content = body["messages"][0]["content"]
        images = [c for c in content if c["type"] == "image_url"]
        assert content[-1]["text"] in (IMAGE_PROMPT, VIDEO_PROMPT)
        assert len(images) == (1 if content[-1]["text"] == IMAGE_PROMPT else 3)
        assert images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    # the aggregation: broken draft -> correction -> valid draft -> one refinement
    assert len(script.aggregations) == 3
    first = script.aggregations[0]["messages"][1]["content"]
    assert "kickflip, ollie, manual" in first and "# Tree of captions" in first
    convo = json.loads((folder / "aggregation.json").read_text())
    assert [(r["kind"], r["attempt"], bool(r["problems"])) for r in convo["rounds"]] == [
        ("draft", 0, True),
        ("draft", 1, False),
        ("refine", 0, False),
    ]
    assert "gpt.action.actor must be a non-empty string" in convo["rounds"][0]["problems"][0]
    assert convo["messages"][-2]["content"] == REFINE_PROMPT
    assert "does not follow the required structure" in convo["messages"][3]["content"]
    # the row is a valid Action100M row; its segments are the localizer's output
    [(row, problems)] = list(read_rows(folder / "row.json"))
    assert problems == [] and row is not None
    annotated = [n for n in row.nodes if n.gpt is not None]
    assert annotated and all(n.end - n.start >= 3.0 for n in annotated)
    assert res.windows and all(s >= 0 and e <= 8.0 for s, e in res.windows)
    first_seg = [s for s in res.segments if s["end"] <= 4.5]
    assert first_seg and all(s["actions"] == ["kickflip"] for s in first_seg)
    assert all(s["na"] for s in res.segments if s["start"] >= 3.5)
    assert res.drops["labeler:corrections"] == 1 and res.drops["labeler:videos_labeled"] == 1
    # a second run asks the server nothing
    with FakeVLM([]) as srv:
        again = labeler(srv.url, tmp_path / "cache").localize(vrow(video), 8.0)
        assert srv.requests == []
    assert again.windows == res.windows and again.segments == res.segments


def test_labeler_resumes_mid_video_and_reports_failures(video: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with FakeVLM([Script()] * 60) as srv:
        labeler(srv.url, cache).localize(vrow(video), 8.0)
    folder = labeler("http://unused", cache).video_dir("vid/1")
    lines = (folder / "captions.jsonl").read_text().splitlines()
    # killed mid-video: two captions written, a third torn, no aggregation yet
    (folder / "captions.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:30])
    (folder / "row.json").unlink()
    (folder / "aggregation.json").unlink()
    script = Script(refine_ok=False)
    with FakeVLM([script] * 60) as srv:
        res = labeler(srv.url, cache).localize(vrow(video), 8.0)
    assert len(script.captions) == len(lines) - 2
    assert res.drops["labeler:captions_reused"] == 2
    # the refinement never came back valid: the valid draft is kept, and counted
    assert res.drops["labeler:refine_failed"] == 1
    convo = json.loads((folder / "aggregation.json").read_text())
    assert convo["result"] and [r["kind"] for r in convo["rounds"]] == ["draft", "draft", "refine", "refine"]
    # a reply that never follows the structure fails the video, with the conversation kept
    (folder / "row.json").unlink()
    with FakeVLM([Script(always_broken=True)] * 60) as srv:
        with pytest.raises(LocalizeError, match="no valid reply after 1 correction"):
            labeler(srv.url, cache).localize(vrow(video), 8.0)
    assert json.loads((folder / "aggregation.json").read_text())["result"] is None
    # another model is another fingerprint: the cached captions are not reused
    other = CaptionTreeConfig(**{**CONFIG.__dict__, "caption_frames": 2})
    assert labeler("http://x", cache, other).fingerprint("Skateboarding") != labeler(
        "http://x", cache
    ).fingerprint("Skateboarding")


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("", "the reply is empty"),
        ("no json here", "the reply holds no JSON object"),
        ('{"segments": [{"id": "S9"}]}', "S9: not one of the listed segments (S1, S2)"),
        ('{"segments": []}', "missing segment(s): S1, S2"),
        ('{"S1": {"summary": "x", "action": {}}}', "S1: gpt.summary must be an object"),
    ],
)
def test_check_aggregation_names_what_is_wrong(reply: str, problem: str) -> None:
    _, problems = check_aggregation(reply, ["S1", "S2"])
    assert any(p.startswith(problem) for p in problems), problems


def test_check_aggregation_accepts_the_release_structure() -> None:
    seg = _fields("Do a kickflip")
    got, problems = check_aggregation(
        json.dumps([{"id": "S1", **seg}, {"node_id": "S2", **seg}]), ["S1", "S2"]
    )
    assert problems == [] and got["S2"]["action"]["brief"] == "Do a kickflip"


def test_labeler_through_the_stages_feeds_segment_action_match(video: Path, tmp_path: Path) -> None:
    from train_world import write_actions

    taxonomy = read_taxonomy(write_actions(tmp_path))
    with FakeVLM([Script(second="Land an ollie")] * 60) as srv:
        settings = BuildConfig(
            manifest=tmp_path / "m.csv", taxonomy=tmp_path / "actions.csv", out=tmp_path / "out",
            localizer="action100m", vlm=VLMConfig(base_url=srv.url, model="m", max_attempts=1),
            caption_tree=CONFIG, progress=False,
        )  # fmt: skip
        names = {d: taxonomy.names_of(d) for d in taxonomy.domains}
        rec = observe_localize(vrow(video), PerceptionContext(settings, names))
    assert rec["status"] == "ok", rec.get("failure")
    assert (tmp_path / "out" / ".build" / "caption_tree").is_dir()
    rec["transcript"] = {"words": [], "audio_seconds": 8.0, "backend": "none", "has_audio": False}
    rows, counts = label_observations([rec], taxonomy, T=1.0)
    got = sorted((r["action"], r["source_start"] < 4.0) for r in rows["segment_action_match"])
    assert ("kickflip", True) in got and ("ollie", False) in got, (got, counts)
    assert rows["transcript_localized"] == []
    assert settings.perception()["caption_tree"]["max_depth"] == 2  # the cache key holds the labeler


@pytest.mark.slow  # ~20-30 s: two builds, Whisper loaded twice (resume per video is tested above too)
def test_build_train_with_the_labeler_resumes_without_asking_again(video: Path, tmp_path: Path) -> None:
    """``videonet build-train --localizer action100m`` end to end on two silent videos, then the
    same build again after its shards are deleted: every video's row is reused from the labeler's
    cache, the server is not asked, and the dataset is the same."""
    import csv
    import shutil

    import pyarrow.parquet as pq
    from train_world import write_actions

    from videonet_datasets.cli import main

    write_actions(tmp_path)
    (tmp_path / "videos").mkdir()
    for vid in ("a", "b"):
        shutil.copy(video, tmp_path / "videos" / f"{vid}.mp4")
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video_id", "path", "title", "domain"])
        w.writerow(["a", "videos/a.mp4", "kickflip practice", "Skateboarding"])
        w.writerow(["b", "videos/b.mp4", "a day at the park", "Skateboarding"])
    out = tmp_path / "out"

    def build(url: str) -> int:
        return main(["build-train", "--manifest", str(tmp_path / "manifest.csv"), "--actions",
                     str(tmp_path / "actions.csv"), "--out", str(out), "--localizer", "action100m",
                     "--vlm-url", url, "--vlm-model", "m", "--vlm-attempts", "1", "--tree-max-depth", "2",
                     "--annotate-min-seconds", "3", "--caption-frames", "3", "--refine-rounds", "1",
                     "--no-progress"])  # fmt: skip

    def table() -> list[dict]:
        files = sorted((out / "data" / "segment_action_match").glob("train-*.parquet"))
        return sorted((r for f in files for r in pq.read_table(f).to_pylist()), key=lambda r: r["clip_uid"])

    script = Script(second="Land an ollie")
    with FakeVLM([script] * 80) as srv:
        assert build(srv.url) == 0
        port = srv.server.server_address[1]
    first = table()
    assert {(r["source_video_id"], r["action"]) for r in first} >= {("a", "kickflip"), ("a", "ollie")}
    assert len(script.aggregations) == 3 + 2  # the first video needed one correction, then 1 refinement each
    card = (out / "README.md").read_text()
    assert "Labeler: Action100M's caption tree" in card and "license_name" not in card
    shutil.rmtree(out / ".build" / "shards")
    with FakeVLM([], port=port) as srv:  # the same URL: the endpoint is part of the settings
        assert build(srv.url) == 0
        assert srv.requests == []
    assert table() == first

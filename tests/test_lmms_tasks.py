"""The VideoNet lmms-eval tasks without a model run: files, names, data source, presets, metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ffmpeg, set_display_matrix
from lmms_world import build_world

from videonet_datasets.benchmark.schema import data_file
from videonet_datasets.video import probe_video, sample_frames, sample_times
from videonet_lmms_tasks import metrics, source
from videonet_lmms_tasks.catalog import BY_NAME, TASKS, TASKS_DIR, YAML_DIR, render_yaml_files
from videonet_lmms_tasks.presets import ENV_PRESET, MODEL_PRESETS, PRESETS, parse_preset, resolve_sampling


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("lmms_tasks")).resolve()


@pytest.fixture
def use_world(world: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(source.ENV_DATA, str(world))
    monkeypatch.delenv(ENV_PRESET, raising=False)
    return world


# ----------------------------------------------------------------------------- files and names


def test_yaml_files_are_generated_from_the_catalog():
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in YAML_DIR.glob("*.yaml")}
    assert on_disk == render_yaml_files(), "run `python -m videonet_lmms_tasks.catalog`"


@pytest.fixture(scope="module")
def task_manager(tmp_path_factory: pytest.TempPathFactory):
    """One lmms-eval task index (built-ins + ours; ~10 s), made while no benchmark exists:
    indexing and listing tasks never touch the data."""
    from lmms_eval.tasks import TaskManager

    old = os.environ.get(source.ENV_DATA)
    os.environ[source.ENV_DATA] = str(tmp_path_factory.mktemp("nodata") / "absent")
    try:
        return TaskManager("WARNING", include_path=str(TASKS_DIR))
    finally:
        if old is None:
            os.environ.pop(source.ENV_DATA)
        else:
            os.environ[source.ENV_DATA] = old


def test_task_names_do_not_collide_with_lmms_eval_builtins(task_manager):
    index = task_manager.task_index
    # lmms-eval's own VideoNet tasks, which would shadow an include_path task of the same name.
    assert "/lmms_eval/tasks/videonet/" in index["videonet_binary_0shot"]["yaml_path"]
    for spec in TASKS:
        assert index[spec.name]["yaml_path"] == str(YAML_DIR / f"{spec.name}.yaml"), spec.name
    assert sorted(index["videonet_all"]["task"]) == sorted(t.name for t in TASKS if "videonet_all" in t.tags)
    assert len(index["videonet_all"]["task"]) == 9  # mc + 4 hard + 4 random
    assert sorted(index["videonet_main"]["task"]) == ["videonet_binary_hard_0shot", "videonet_binary_hard_1shot",
        "videonet_binary_hard_2shot", "videonet_binary_hard_3shot", "videonet_mc"]  # fmt: skip
    assert len(index["videonet_ablations"]["task"]) == 2 + 4 + 8
    assert index["videonet_all"]["type"] == index["videonet_main"]["type"] == "tag"  # no group aggregation
    # No tag is named like the default data folder: lmms-eval would read `--tasks videonet` as that folder.
    assert "videonet" not in index


# ----------------------------------------------------------------------------- data source


def test_open_config_checks_and_describes(use_world: Path):
    info = source.open_config("binary_3shot")
    assert info.root == use_world
    assert info.rows == {"test": 32}
    assert set(info.categories) == {"Sports", "Dance"}
    assert set(info.domains) == {("Sports", "Domain 0"), ("Dance", "Domain 1")}
    assert info.videos == 40 and info.silenced == 0


def test_missing_directory_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(source.ENV_DATA, raising=False)
    with pytest.raises(source.DataSourceError, match=r"not found: 'videonet'.*build-benchmark"):
        source.open_config("mc")
    (tmp_path / "plain").mkdir()
    with pytest.raises(source.DataSourceError, match="no README.md"):
        source.open_config("mc", spec=str(tmp_path / "plain"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_missing_videos_are_all_listed_at_load_time(world: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(world, broken)
    # d0a0c0-c1: the 2-shot examples of action 1; d0a0c3: its first positive (and others' negative)
    gone = [broken / "videos" / f"d0a0c{i}.mp4" for i in (0, 1, 3)]
    for f in gone:
        f.unlink()
    with pytest.raises(source.DataSourceError) as err:
        source.open_config("binary_2shot", spec=str(broken))
    msg = str(err.value)
    rows = pq.read_table(world / data_file("binary_2shot", "test")).to_pylist()
    used = {r["video"] for r in rows} | {v for r in rows for v in r["example_videos"]}
    assert f"3 of {len(used)} videos used by config 'binary_2shot' are missing" in msg
    for f in gone:
        assert f"videos/{f.name}" in msg
    assert "question_id" in msg


def test_rows_with_wrong_example_count_are_rejected(world: Path, tmp_path: Path):
    broken = tmp_path / "broken"
    shutil.copytree(world, broken)
    path = broken / data_file("binary_2shot", "test")
    table = pq.read_table(path)
    examples = table.column("example_videos").to_pylist()
    examples[5] = examples[5][:1]
    pq.write_table(
        table.set_column(
            table.schema.get_field_index("example_videos"), "example_videos", pa.array(examples)
        ),
        path,
    )
    with pytest.raises(source.DataSourceError, match=r"row 5 .*k=2 but 1 example videos"):
        source.open_config("binary_2shot", spec=str(broken))


def test_hub_source_fetches_card_data_then_only_needed_videos(world: Path, tmp_path: Path, monkeypatch):
    """Up to the Hub boundary: snapshot_download is replaced by a copy from a local 'repo'."""
    import fnmatch

    import huggingface_hub

    calls = []
    snapshot = tmp_path / "hub_cache" / "snapshot"

    def fake_snapshot_download(repo_id, repo_type, revision=None, allow_patterns=None):
        calls.append((repo_id, repo_type, revision, list(allow_patterns)))
        for f in world.rglob("*"):
            rel = f.relative_to(world).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns):
                (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, snapshot / rel)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    info = source.open_config("binary_1shot", spec="someone/VideoNet@v1")
    assert info.root == snapshot
    assert calls[0][:3] == ("someone/VideoNet", "dataset", "v1") and "README.md" in calls[0][3]
    needed = {r["video"] for r in pq.read_table(world / data_file("binary_1shot", "test")).to_pylist()}
    needed |= {
        v
        for r in pq.read_table(world / data_file("binary_1shot", "test")).to_pylist()
        for v in r["example_videos"]
    }
    assert set(calls[1][3]) == needed
    assert len(list((snapshot / "videos").glob("*.mp4"))) == len(needed) < 40


def test_clips_with_audio_reach_models_silenced(world: Path, tmp_path: Path, monkeypatch):
    data = tmp_path / "foreign"
    shutil.copytree(world, data)
    (data / "build_info.json").unlink()  # not written by our builder: audio is checked
    clip = sorted((data / "videos").glob("*.mp4"))[0]
    noisy = clip.with_suffix(".noisy.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
         "-c:v", "copy", "-c:a", "aac", "-shortest", str(noisy)],
        check=True,
    )  # fmt: skip
    os.replace(noisy, clip)
    assert probe_video(clip).has_audio
    monkeypatch.setenv(source.ENV_CACHE, str(tmp_path / "cache"))
    info = source.open_config("mc", spec=str(data))
    assert info.silenced == 1
    played = source.playable_path(info.root, f"videos/{clip.name}")
    assert played.startswith(str(tmp_path / "cache")) and not probe_video(played).has_audio
    assert probe_video(played).num_frames == probe_video(clip).num_frames


def test_sideways_clips_reach_models_upright(world: Path, tmp_path: Path, monkeypatch):
    """A clip stored sideways behind a display matrix (a phone video in data not written by
    our builder) is given to models as an upright, silent copy: their own readers often
    ignore the matrix."""
    data = tmp_path / "foreign"
    shutil.copytree(world, data)
    (data / "build_info.json").unlink()
    clip = sorted((data / "videos").glob("*.mp4"))[0]
    upright = sample_frames(clip, fps=4).frames.astype(int)
    sideways = tmp_path / "sideways.mp4"
    ffmpeg("-i", str(clip), "-vf", "transpose=cclock", "-c:v", "libx264", "-qp", "0", str(sideways))
    set_display_matrix(sideways, clip, 0, 1, -1, 0)
    assert probe_video(clip).rotation == 90
    monkeypatch.setenv(source.ENV_CACHE, str(tmp_path / "cache"))
    info = source.open_config("mc", spec=str(data))
    assert (info.silenced, info.turned) == (1, 1)
    played = source.playable_path(info.root, f"videos/{clip.name}")
    got = probe_video(played)
    assert played.startswith(str(tmp_path / "cache")) and (got.rotation, got.has_audio) == (0, False)
    frames = sample_frames(played, fps=4).frames.astype(int)
    assert frames.shape == upright.shape and np.abs(frames - upright).mean() < 3


# ----------------------------------------------------------------------------- presets


def test_presets_follow_the_paper():
    assert PRESETS["qwen3_vl"].hints() == {"fps": 2.0}
    assert PRESETS["internvl3_5"].hints() == {"num_frames": 48}
    assert PRESETS["molmo2"].hints() == {"fps": 4.0, "max_frames": 64}
    assert PRESETS["gpt5"].visual == "frames" and PRESETS["gpt5"].hints() == {"fps": 1.0, "max_frames": 56}
    assert PRESETS["gpt5_4"].hints() == {"fps": 1.0, "max_frames": 256}
    assert PRESETS["api"].hints() == {"fps": 1.0}
    assert MODEL_PRESETS["videonet_molmo2"] == "molmo2"
    assert parse_preset("api,fps=2").hints() == {"fps": 2.0}
    assert parse_preset("internvl3_5,fps=4").hints() == {"fps": 4.0}  # one rule replaces the other
    assert parse_preset("molmo2,num_frames=16").hints() == {"num_frames": 16}
    for bad in (
        "nope",
        "fps=2",
        "api,fps",
        "api,fps=x",
        "api,colour=red",
        "native,visual=frames",
        "api,fps=0",
    ):
        with pytest.raises(ValueError):
            parse_preset(bad)


def test_env_preset_overrides_the_per_model_choice(monkeypatch):
    assert resolve_sampling({"preset": "qwen3_vl"}).name == "qwen3_vl"
    assert resolve_sampling({"preset": "qwen3_vl", "fps": 1}).hints() == {"fps": 1.0}
    assert resolve_sampling(None).name == "native"
    monkeypatch.setenv(ENV_PRESET, "gpt5")
    assert resolve_sampling({"preset": "qwen3_vl"}).name == "gpt5"


def _load(tm, task: str, model_name: str, chat: bool):
    tm.model_name = model_name  # what lmms-eval's CLI passes as --model
    return tm.load_task_or_group([task], task_type="chat" if chat else "simple")[task]


def test_per_model_presets_reach_the_model(task_manager, use_world: Path):
    # Qwen3-VL (chat): the clip's path with its 2 fps hint.
    task = _load(task_manager, "videonet_mc", "qwen3_vl", chat=True)
    doc = task.test_docs()[0]
    video = [c for c in task.doc_to_messages(doc)[0]["content"] if c["type"] == "video"]
    assert video == [{"type": "video", "url": str(use_world / doc["video"]), "fps": 2.0}]
    # An API model through lmms-eval's openai backend: the paper's frames, decoded by our sampler.
    task = _load(task_manager, "videonet_binary_hard_1shot", "openai", chat=True)
    doc = task.test_docs()[0]
    content = task.doc_to_messages(doc)[0]["content"]
    images = [c for c in content if c["type"] == "image"]
    per_clip = len(sample_times(probe_video(use_world / doc["video"]).duration, fps=1.0))
    assert len(images) == 2 * per_clip and not [c for c in content if c["type"] == "video"]
    # InternVL3.5 (simple model): clip paths in prompt order plus the prompt's text.
    task = _load(task_manager, "videonet_binary_hard_2shot", "internvl3_5", chat=False)
    doc = task.test_docs()[0]
    assert task.doc_to_visual(doc) == [str(use_world / v) for v in [*doc["example_videos"], doc["video"]]]
    assert task.doc_to_text(doc).endswith("on the final line of your answer.")


def test_frames_preset_caps_long_clips(task_manager, use_world: Path, monkeypatch):
    monkeypatch.setenv(ENV_PRESET, "gpt5,fps=20,max_frames=4")
    task = _load(task_manager, "videonet_mc", "videonet_scripted", chat=True)
    content = task.doc_to_messages(task.test_docs()[0])[0]["content"]
    assert [c["type"] for c in content] == ["text"] + ["image"] * 4  # 1 s at 20 fps > 4: 4 uniform


def test_a_model_that_alters_its_frames_cannot_alter_the_next_requests(
    task_manager, use_world: Path, monkeypatch
):
    """The tasks hand every request read-only views of the PIL images they keep for a clip
    (no pixel copy): whatever a model does to them in place, the next request - and the next
    task showing the clip - gets the frames as decoded, bit for bit."""
    from PIL import ImageDraw

    from videonet_datasets import frame_cache

    monkeypatch.delenv(frame_cache.ENV_DIR, raising=False)
    monkeypatch.setenv(ENV_PRESET, "gpt5,fps=8")  # several frames of a 1 s clip
    frame_cache.reset_default_cache()
    try:
        task = _load(task_manager, "videonet_mc", "videonet_scripted", chat=True)
        doc = task.test_docs()[0]
        want = sample_frames(doc["video_path"], fps=8.0, max_frames=56).frames

        def images():
            return [c["url"] for c in task.doc_to_messages(doc)[0]["content"] if c["type"] == "image"]

        first = images()
        assert len(first) == len(want) >= 4
        assert all(i.mode == "RGB" and i.size == (want.shape[2], want.shape[1]) for i in first)
        first[0].paste((255, 0, 0), (0, 0, 4, 4))
        first[1].putpixel((0, 0), (1, 2, 3))
        ImageDraw.Draw(first[2]).rectangle((0, 0, 6, 6), fill=(9, 9, 9))
        first[3].thumbnail((4, 4))
        with pytest.raises(ValueError, match="readonly"):  # Pillow's pixel access of a shared image
            images()[0].load()[1, 1] = (0, 0, 0)
        assert first[0].getpixel((0, 0)) == (255, 0, 0) and first[1].getpixel((0, 0)) == (1, 2, 3)
        assert first[3].size[0] <= 4
        again = images()
        assert np.array_equal(np.stack([np.asarray(i) for i in again]), want)
        assert not any(a is b for a, b in zip(first, again))
    finally:
        frame_cache.reset_default_cache()


def test_loading_a_task_warms_its_clips_when_asked(task_manager, use_world: Path, monkeypatch):
    import multiprocessing

    from videonet_datasets import frame_cache, prefetch

    monkeypatch.delenv(frame_cache.ENV_DIR, raising=False)
    monkeypatch.setenv(ENV_PRESET, "gpt5")
    monkeypatch.setenv(prefetch.ENV_WARM_WORKERS, "1")
    frame_cache.reset_default_cache()
    try:
        task = _load(task_manager, "videonet_binary_hard_1shot", "openai", chat=True)
        warmer = prefetch.warmer()
        assert warmer is not None and warmer.join(timeout=120)
        docs = task.test_docs()
        clips = {p for d in docs for p in [*d["example_video_paths"], d["video_path"]]}
        assert warmer.warmed >= len(clips) and warmer.failed == 0 and warmer.left == 0
        doc = docs[0]
        images = [c["url"] for c in task.doc_to_messages(doc)[0]["content"] if c["type"] == "image"]
        want = sample_frames(doc["video_path"], fps=1.0, max_frames=56).frames
        assert np.array_equal(np.stack([np.asarray(i) for i in images[-len(want) :]]), want)
        assert frame_cache.default_cache().stats.misses == warmer.warmed  # nothing decoded twice
    finally:
        prefetch.stop_warming()
        frame_cache.reset_default_cache()
    assert multiprocessing.active_children() == []


# ----------------------------------------------------------------------------- metrics


def test_metric_list_declares_every_key_scoring_returns():
    docs = [
        {"category": "Sports", "domain": "Tennis", "options": ["a", "b", "c", "d"], "answer": "B"},
        {"category": "Crafts, Arts", "domain": "Knots", "options": ["a", "b", "c", "d"], "answer": "A"},
    ]
    declared = {
        e["metric"]
        for e in metrics.metric_list(
            False, ["Sports", "Crafts, Arts"], [(d["category"], d["domain"]) for d in docs]
        )
    }
    for doc in docs:
        assert set(metrics.score_mc(doc, "B")) <= declared
    assert "accuracy[Crafts; Arts > Knots]" in declared  # commas would break lmms-eval's "metric,filter"
    bdoc = {"category": "Sports", "domain": "Tennis", "label": "no"}
    declared_b = {e["metric"] for e in metrics.metric_list(True, ["Sports"], [("Sports", "Tennis")])}
    for out in ("yes", "No.", "", None, ["no"], b"yes", 42):
        assert set(metrics.score_binary(bdoc, out)) <= declared_b


def test_scoring_never_raises_and_counts_failures():
    doc = {
        "category": "Sports",
        "domain": "Tennis",
        "options": ["Ace", "Lob", "Volley", "Smash"],
        "answer": "C",
    }
    for out in (None, "", "   ", "[LMMS_EVAL_REQUEST_FAILED]", 3.5, {"a": 1}, "<think>C", "Volley", "(C)"):
        values = metrics.score_mc(doc, out)
        assert values["accuracy"] in (0.0, 1.0) and values["unparsed_rate"] in (0.0, 1.0)
    assert metrics.score_mc(doc, "Volley")["accuracy"] == 1.0
    assert metrics.score_mc(doc, "")["answer_counts"]["status"] == "empty"
    assert metrics.answer_counts([{"answer": "C"}, {"answer": None, "status": "empty"}]) == {
        "C": 1,
        "empty": 1,
    }
    assert metrics.best_single_answer(["A", "B", "B", "C"]) == 0.5
    assert metrics.parse_metric_key("accuracy[Crafts & Art > Hand Sewing / Embroidery],none") == (
        "accuracy",
        "Crafts & Art",
        "Hand Sewing / Embroidery",
    )


def test_catalog_options():
    assert BY_NAME["videonet_binary_hard_3shot"].k == 3
    assert BY_NAME["videonet_mc_val"].split == "validation"
    assert BY_NAME["videonet_binary_hard_0shot_middle_frame"].process_docs == "process_docs_middle_frame"
    assert json.dumps(sorted(BY_NAME)) == json.dumps(sorted(t.name for t in TASKS))


def test_simple_models_get_visuals_and_text(task_manager, use_world: Path):
    """lmms-eval's `dummy` (a simple, non-chat model) reads every clip doc_to_visual gives it."""
    from lmms_eval.evaluator import simple_evaluate

    task_manager.model_name = "dummy"
    results = simple_evaluate(
        model="dummy",
        model_args="response=B,read_bytes=16",
        tasks=["videonet_mc", "videonet_binary_hard_3shot"],
        task_manager=task_manager,
        verbosity="WARNING",
    )
    rows = pq.read_table(use_world / data_file("mc", "test")).to_pylist()
    mc = results["results"]["videonet_mc"]
    assert mc["accuracy,none"] == pytest.approx(sum(r["answer"] == "B" for r in rows) / len(rows))
    assert mc["answer_counts,none"] == {"B": len(rows)}
    assert results["results"]["videonet_binary_hard_3shot"]["unparsed_rate,none"] == 1.0

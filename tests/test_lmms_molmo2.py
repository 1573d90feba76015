"""Real frames reach a real (tiny, random) Molmo2 through the ``videonet_molmo2`` lmms-eval model.

The tiny model is ``Molmo2ForConditionalGeneration`` with the real processor, built offline
by ``videonet_datasets.molmo2``.  Its answers are noise; what is checked is the path: the
project's sampler decodes each question's own clip at the paper's 4 fps / max 64, the frames
and their timestamps go through the processor into the vision tower, batched generation
equals one-at-a-time generation, k-shot questions are refused before anything runs, and the
saved results feed ``videonet report``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from lmms_world import build_world, read_rows

from videonet_datasets.video import probe_video, sample_times
from videonet_lmms_tasks.catalog import TASKS_DIR


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("molmo2_world")).resolve()


@pytest.fixture(scope="module")
def tiny(tiny_molmo2_dir: Path) -> Path:
    return tiny_molmo2_dir


@pytest.fixture
def model(tiny: Path):
    """A fresh instance per test: lmms-eval deletes a model's modules after a run (``lm.clean()``)."""
    from videonet_lmms_tasks.models.molmo2 import Molmo2

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Molmo2(pretrained=str(tiny), max_new_tokens=4)
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def task_manager():
    from lmms_eval.tasks import TaskManager

    return TaskManager("WARNING", include_path=str(TASKS_DIR), model_name="videonet_molmo2")


def _evaluate(model, task_manager, tasks, **kwargs):
    from lmms_eval.evaluator import simple_evaluate

    return simple_evaluate(model=model, tasks=tasks, task_manager=task_manager, verbosity="WARNING", **kwargs)


def test_frames_reach_the_model_through_lmms_eval(
    model, task_manager, world: Path, tmp_path: Path, monkeypatch
):
    from lmms_eval.loggers import EvaluationTracker

    import videonet_datasets.frame_cache as frame_cache_module

    monkeypatch.setenv("VIDEONET_DATA", str(world))
    monkeypatch.delenv("VIDEONET_PRESET", raising=False)
    # Every input decoded here, in this process: no cache, no prefetch workers (both tested below).
    monkeypatch.setenv(frame_cache_module.ENV_DIR, "off")
    frame_cache_module.reset_default_cache()
    model.prefetch_workers = 0
    sampled: list[tuple[str, dict, np.ndarray]] = []
    real_sample = frame_cache_module.sample_frames

    def recording_sample(path, **kw):
        frames = real_sample(path, **kw)
        sampled.append((path, {k: v for k, v in kw.items() if k != "size"}, frames.timestamps.copy()))
        return frames

    monkeypatch.setattr(frame_cache_module, "sample_frames", recording_sample)
    vit_inputs: list[torch.Tensor] = []
    hook = model.model.model.vision_tower.register_forward_hook(
        lambda mod, args, out: vit_inputs.append(args[0])
    )
    prompts_seen: list[str] = []
    real_encode = model._encode

    def recording_encode(messages, *args):
        inputs = real_encode(messages, *args)
        prompts_seen.append(model.tokenizer.decode(inputs["input_ids"][0]))
        return inputs

    monkeypatch.setattr(model, "_encode", recording_encode)
    tracker = EvaluationTracker(output_path=str(tmp_path / "runs"))
    try:
        results = _evaluate(
            model,
            task_manager,
            ["videonet_mc", "videonet_binary_hard_0shot", "videonet_mc_middle_frame"],
            evaluation_tracker=tracker,
        )
    finally:
        hook.remove()
    tracker.save_results_aggregated(results=results, samples=None, datetime_str="2026-01-01T00-00-00")

    mc_rows = read_rows(world, "mc")
    b0_rows = read_rows(world, "binary_0shot")
    # Every clip question decoded its own clip at the paper's rule; the middle-frame task decoded
    # its middle frames (through the same cache) and nothing else.
    middle = [s for s in sampled if s[1].get("middle")]
    sampled = [s for s in sampled if not s[1].get("middle")]
    assert len(middle) == len(mc_rows)
    assert len(sampled) == len(mc_rows) + len(b0_rows)
    assert sorted(p for p, _, _ in sampled) == sorted(str(world / r["video"]) for r in mc_rows + b0_rows)
    for path, rule, timestamps in sampled:
        assert rule == {"fps": 4.0, "max_frames": 64}
        assert np.allclose(
            timestamps, sample_times(probe_video(path).duration, fps=4, max_frames=64), atol=0.1
        )
    # The frames went through the vision tower as real, varying pixels (video + middle-frame images).
    assert len(vit_inputs) >= len(mc_rows) * 2 + len(b0_rows)
    stds = [float(x.float().std()) for x in vit_inputs]
    assert min(stds) > 0.01
    # Timestamps are written before each frame, as Molmo2 expects.
    video_prompts = [p for p in prompts_seen if "<frame_start>" in p]
    image_prompts = [p for p in prompts_seen if "<frame_start>" not in p]
    assert len(video_prompts) == len(mc_rows) + len(b0_rows) and len(image_prompts) == len(mc_rows)
    assert all("0.0 <frame_start>" in p and " 0.5 <frame_start>" in p for p in video_prompts)
    assert all(p.count("<frame_start>") == 4 for p in video_prompts)  # 1 s at 4 fps
    assert all("<low_res_im_start>" in p and "Which of the following Domain" in p for p in image_prompts)
    for task, n in (("videonet_mc", len(mc_rows)), ("videonet_binary_hard_0shot", len(b0_rows))):
        assert results["n-samples"][task]["effective"] == n
        assert 0.0 <= results["results"][task]["accuracy,none"] <= 1.0
    saved = list((tmp_path / "runs").rglob("*_results.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["results"]["videonet_mc"]

    # ... and the saved results make a report with plots.
    from videonet_datasets.cli import main

    assert main(["report", f"tiny-molmo2={tmp_path / 'runs'}", "--out", str(tmp_path / "report")]) == 0
    table3 = (tmp_path / "report" / "table3_mc.md").read_text()
    assert "| tiny-molmo2 |" in table3 and "| Random |" in table3
    assert (tmp_path / "report" / "mc_by_category.png").stat().st_size > 10_000
    assert "| tiny-molmo2 | MC middle frame |" in (tmp_path / "report" / "table11_inputs.md").read_text()


def test_pixels_change_the_answer_distribution(model, world: Path):
    """Different clips give different next-token distributions: the output depends on the frames."""
    msgs = [
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Which action?"}, {"type": "video", "url": str(v)}],
            }
        ]
        for v in sorted((world / "videos").glob("*.mp4"))[:2]
    ]
    with torch.no_grad():
        logits = [model.model(**model._encode(m)).logits[0, -1] for m in msgs]
    assert float((logits[0] - logits[1]).abs().max()) > 1e-4


def test_batched_generation_equals_one_at_a_time(model, world: Path):
    from videonet_datasets.molmo2.inputs import collate_examples

    videos = sorted((world / "videos").glob("*.mp4"))[:3]
    msgs = [
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Is it a jump?" + " Think." * i},
                    {"type": "video", "url": str(v)},
                ],
            }
        ]
        for i, v in enumerate(videos)
    ]
    enc = [model._encode(m) for m in msgs]
    assert len({e["input_ids"].shape[1] for e in enc}) == 3  # left padding is exercised
    gen = {"max_new_tokens": 5, "do_sample": False, "pad_token_id": model.tokenizer.pad_token_id}
    with torch.no_grad():
        single = [model.model.generate(**e, **gen)[0, e["input_ids"].shape[1] :].tolist() for e in enc]
        batch = collate_examples(enc, model.tokenizer.pad_token_id, padding_side="left")
        out = model.model.generate(**batch, **gen)
    assert [row[batch["input_ids"].shape[1] :].tolist() for row in out] == single


def test_kshot_is_refused_before_generating(model, task_manager, world: Path, monkeypatch):
    monkeypatch.setenv("VIDEONET_DATA", str(world))
    called = []
    monkeypatch.setattr(model.model, "generate", lambda *a, **k: called.append(1))
    with pytest.raises(
        ValueError, match=r"one video per question.*videonet_binary_hard_2shot: \d+ questions with 3"
    ):
        _evaluate(model, task_manager, ["videonet_binary_hard_2shot"], limit=2)
    assert called == []


def test_sampling_arguments_take_precedence(model, tiny: Path):
    from videonet_lmms_tasks.models.molmo2 import Molmo2

    item = {"type": "video", "url": "x.mp4", "fps": 2.0}
    assert model._rule(item) == {"fps": 2.0}  # the task's hint (e.g. VIDEONET_PRESET=api,fps=2)
    assert model._rule({"type": "video"}) == {"fps": 4.0, "max_frames": 64}  # the paper's default
    assert model._rule({"num_frames": 8}) == {"num_frames": 8}
    fixed = Molmo2.__new__(Molmo2)
    fixed.num_frames, fixed.fps, fixed.max_frames = None, 1.0, None
    assert fixed._rule(item) == {"fps": 1.0, "max_frames": 64}
    with pytest.raises(ValueError, match="not both"):
        Molmo2(pretrained=str(tiny), fps=2, num_frames=8)
    assert os.fspath(tiny)


def test_prefetch_workers_change_no_answer(tiny: Path, task_manager, world: Path, monkeypatch, caplog):
    """Clips decoded ahead in a worker process give the same replies as decoding in place."""
    import videonet_datasets.frame_cache as frame_cache_module

    monkeypatch.setenv("VIDEONET_DATA", str(world))
    monkeypatch.delenv("VIDEONET_PRESET", raising=False)
    monkeypatch.setenv(frame_cache_module.ENV_DIR, "off")  # every clip decoded in each run
    frame_cache_module.reset_default_cache()

    def replies(workers: int) -> list[str]:
        from videonet_lmms_tasks.models.molmo2 import Molmo2

        # a fresh model per run: lmms-eval deletes a model's modules after a run
        model = Molmo2(pretrained=str(tiny), max_new_tokens=4, prefetch_workers=workers)
        out = _evaluate(model, task_manager, ["videonet_binary_hard_0shot"], limit=6, log_samples=True)
        return [s["filtered_resps"][0] for s in out["samples"]["videonet_binary_hard_0shot"]]

    in_place = replies(0)
    with caplog.at_level("INFO", logger="videonet_lmms_tasks.models.molmo2"):
        ahead = replies(2)
    assert ahead == in_place and len(ahead) == 6
    # one per distinct clip (a negative can be another question's positive clip)
    ahead_count = int(
        re.search(r"(\d+) clips decoded ahead by 2 worker\(s\), 0 decoded again", caplog.text)[1]
    )
    assert ahead_count >= 4
    frame_cache_module.reset_default_cache()


def test_locality_order_answers_each_clips_questions_together_and_changes_no_reply(
    tiny: Path, task_manager, world: Path, monkeypatch
):
    """MC and the 0-shot task ask about the same clips; `order=locality` answers them together
    (one decode per clip even when the cache cannot hold the run), and lmms-eval gets every
    reply at its own request, exactly as in its own order."""
    import videonet_datasets.frame_cache as frame_cache_module

    monkeypatch.setenv("VIDEONET_DATA", str(world))
    monkeypatch.delenv("VIDEONET_PRESET", raising=False)
    monkeypatch.setenv(frame_cache_module.ENV_DIR, "off")
    frame_cache_module.reset_default_cache()
    tasks = ["videonet_mc", "videonet_binary_hard_0shot"]

    def run(order: str) -> tuple[dict[str, list[str]], list[str]]:
        from videonet_lmms_tasks.models.molmo2 import Molmo2

        model = Molmo2(pretrained=str(tiny), max_new_tokens=4, prefetch_workers=0, order=order)
        answered: list[str] = []
        answer = model._answer

        def spy(plan, prefetcher):
            answered.extend(str(m[1][0]["content"][-1]["url"]) for m in plan)  # each question's clip
            return answer(plan, prefetcher)

        monkeypatch.setattr(model, "_answer", spy)
        out = _evaluate(model, task_manager, tasks, limit=8, log_samples=True)
        return {t: [s["filtered_resps"][0] for s in out["samples"][t]] for t in tasks}, answered

    given, clips_given = run("given")
    local, clips_local = run("locality")
    assert local == given and all(len(v) == 8 for v in given.values())
    assert sorted(clips_local) == sorted(clips_given)

    def runs(clips: list[str]) -> int:  # stretches of consecutive questions on one clip
        return sum(1 for i, c in enumerate(clips) if i == 0 or clips[i - 1] != c)

    shared = len(clips_given) - len(set(clips_given))
    assert shared > 0  # the two tasks share clips here
    assert runs(clips_local) == len(set(clips_local)) < runs(clips_given)
    frame_cache_module.reset_default_cache()

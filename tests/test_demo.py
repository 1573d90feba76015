"""``videonet demo``: the headline logic, the probe's in-memory clips, and a reduced demo run
end to end (tiny world, 10 fine-tuning steps, 6 questions per task) through every real step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from videonet_datasets.demo.pipeline import MAIN_TASKS, MIDDLE_TASKS, DemoConfig, Headline, run_demo


def _rows(acc: dict[str, float], random: float = 30.0, unparsed: float = 0.0) -> dict[str, dict[str, float]]:
    return {t: {"accuracy": acc.get(t, 0.0), "random_baseline": random, "unparsed_rate": unparsed}
            for t in (*MAIN_TASKS, *MIDDLE_TASKS)}  # fmt: skip


def test_headline_compares_against_the_better_of_base_and_best_single_answer() -> None:
    mc, binary = MAIN_TASKS
    mc_mid, binary_mid = MIDDLE_TASKS
    # A random tiny base model answers nothing parsable (0%): the bar is the best single answer.
    head = Headline({
        "base": _rows({}, random=30.0, unparsed=100.0),
        "ft": _rows({mc: 46.0, binary: 44.0, mc_mid: 30.0, binary_mid: 50.0}),
    })  # fmt: skip
    assert head.reference(mc) == 30.0
    assert head.gain("ft", mc) == pytest.approx(16.0)
    verdict = dict(head.verdict("ft"))
    assert verdict[f"{mc}: fine-tuned >= max(base, best single answer) + 15"] is True
    assert verdict[f"{binary}: fine-tuned >= max(base, best single answer) + 15"] is False
    assert verdict[f"{mc}: video > middle frame"] is True
    assert verdict[f"{binary}: video > middle frame"] is False
    # A base model above the single-answer guess raises the bar.
    head.rows["base"][mc]["accuracy"] = 35.0
    assert head.gain("ft", mc) == pytest.approx(11.0)
    table = head.markdown()
    assert "best single answer" in table and "(+11.0)" in table and "[100% unparsed]" in table


def test_middle_frame_check_needs_more_than_noise() -> None:
    mc, binary = MAIN_TASKS
    mc_mid, binary_mid = MIDDLE_TASKS
    rows = _rows({mc: 27.7, binary: 49.3, mc_mid: 26.4, binary_mid: 30.0})
    for t in rows:
        rows[t]["n"] = 148
    head = Headline({"base": _rows({}), "ft": rows})
    assert head.noise("ft", mc, mc_mid) == pytest.approx(200 * (2 * 0.27 * 0.73 / 148) ** 0.5, abs=0.3)
    checks = [ok for text, ok in head.verdict("ft") if "middle frame" in text]
    assert checks == [False, True]  # +1.3 points is noise on 148 questions; +19.3 is not


def test_headline_reports_missing_tasks_as_unknown() -> None:
    head = Headline({"base": {}, "ft": {}})
    assert all(ok is None for _, ok in head.verdict("ft"))


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videonet_datasets.synth import generate_world, preset

    out = tmp_path_factory.mktemp("demo-world") / "world"
    generate_world(out, preset("tiny", web_videos=0, jobs=1), progress=False)
    return out


def test_rendered_training_clips_match_the_decoded_benchmark_clips(tiny_world: Path) -> None:
    """The probe trains on clips rendered in memory: they must look like what the sampler decodes."""
    from videonet_datasets.demo.clips import render_plan, render_training_clips, world_domains
    from videonet_datasets.molmo2 import sample_clip
    from videonet_datasets.synth import preset
    from videonet_datasets.synth.plan import plan_clips

    config = preset("tiny", web_videos=0)
    plans = {p.clip_id: p for p in plan_clips(config, world_domains(config))}
    rows = [line.split(",") for line in (tiny_world / "clips.csv").read_text().splitlines()[1:]]
    checked = 0
    for clip_id, _, _, video, start, end in rows[::7]:
        plan = plans[clip_id]
        rendered = render_plan(plan, fps=4, max_frames=8, size=32)
        decoded = sample_clip(tiny_world / video, start=float(start), end=float(end) if end else None,
                              fps=4, max_frames=8, size=(32, 32))  # fmt: skip
        assert len(rendered) == len(decoded), clip_id
        assert np.abs(rendered.frames.astype(int) - decoded.frames).mean() < 8, clip_id
        checked += 1
    assert checked >= 5
    clips = render_training_clips(config, [1], 1, max_frames=8, size=32)
    assert len(clips) == len(plans) // 5 and all(c.positions.shape == (len(c.frames), 2) for c in clips)
    with pytest.raises(ValueError, match="benchmark world's own seed"):
        render_training_clips(config, [0], 1)


def test_demo_model_scales_its_embedding_tables(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    from videonet_datasets.demo.model import build_demo_model

    built = build_demo_model(tmp_path / "m", extra_corpus=["single toe loop"])
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "m")
    emb = model.model.language_model.embed_tokens.weight
    pos = model.model.vision_tower.positional_embedding
    assert 0.8 < float(emb.detach().std()) < 1.2 and 0.8 < float(pos.detach().std()) < 1.2
    assert built["spec"]["image_size"] == 56 and built["parameters"] == sum(
        p.numel() for p in model.parameters()
    )
    assert torch.isfinite(emb).all()


def test_reduced_demo_runs_every_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tiny world (coarse taxonomy) through every real step: synth, mine-negatives, build-benchmark,
    build-train (Whisper tiny.en), the base model (the shipped checkpoint does not fit the tiny world,
    so: random + 6 pretraining steps, with provenance), the recipe (10 steps) for two seeds, lmms-eval
    on the three models, the report, the explorer."""
    out = tmp_path / "demo"
    settings = DemoConfig(out=out, preset="tiny", steps=10, eval_limit=6, seeds=(0, 1),
                          synth_args=("--quiet", "--taxonomy", "coarse"),
                          pretrain_steps=(3, 3), pretrain_args=("--clips-per-action", "1", "--quiet"))  # fmt: skip
    head = run_demo(settings)
    state = json.loads((out / "demo_state.json").read_text())
    assert list(state["steps"]) == ["1-synth", "2-negatives", "3-train-data", "4-base-model",  # (sorted keys)
                                    "5-finetune-single_action-seed0", "5-finetune-single_action-seed1",
                                    "6-eval-base", "6-eval-single_action-seed0", "6-eval-single_action-seed1",
                                    "7-report", "8-explore"]  # fmt: skip
    assert state["steps"]["2-negatives"]["mined_pairs"] == 3 * 12  # tiny: 2 domains x 6 actions
    pretraining = state["steps"]["4-base-model"]["pretraining"]
    assert [p["stage"] for p in pretraining] == ["generic_classify", "generic"]
    assert "skill_checks" not in state["steps"]["4-base-model"]  # the shipped base is for another world
    base = out / "models" / "base"
    assert (base / "pretraining.json").exists() and (out / "models" / "random").is_dir()
    provenance = json.loads((base / "provenance.json").read_text())
    assert (
        provenance["commands"][1][:2] == ["videonet", "demo-pretrain"]
        and provenance["tokenizer_corpus"]["count"] == 12
    )
    for seed in (0, 1):
        assert (out / "runs" / f"single_action-seed{seed}" / "final" / "config.json").exists()
    for model in ("base", "single_action-seed0", "single_action-seed1"):
        for task in (*MAIN_TASKS, *MIDDLE_TASKS):
            assert head.value(model, task) is not None, (model, task)
            assert head.value(model, task, "random_baseline") is not None
    report = out / "report"
    assert (report / "report.md").exists() and list(report.glob("*.png"))
    explore = out / "explore"
    assert (explore / "index.html").exists() and (explore / "leaderboard.csv").exists()
    data = (explore / "data.js").read_text()
    assert '"models":["base","single_action-seed0","single_action-seed1"]' in data
    assert "not the same run" not in data
    printed = capsys.readouterr().out
    assert "does not fit this world" in printed and "headline" in printed
    assert "fine-tuned >= max(base, best single answer) + 15" in printed
    assert "| single_action (2) |" in printed and " ± " in printed
    assert (
        "single_action: all four checks [yes] for " in printed
        and "of 2 fine-tuning seed(s) (0, 1)" in printed
    )
    assert "| 5-finetune-single_action-seed1 |" in printed  # the timing table
    # A rerun resumes: every step is skipped, the same headline comes back.
    again = run_demo(settings)
    assert again.rows == head.rows
    assert "done in an earlier run" in capsys.readouterr().out

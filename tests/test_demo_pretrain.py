"""The demo's generic pretraining (``videonet_datasets.demo.pretrain``): what it asks, that it trains
and saves a loadable model, and that an interrupted run resumes to the same weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from videonet_datasets.demo import pretrain as pt
from videonet_datasets.demo.clips import render_training_clips
from videonet_datasets.synth.config import preset

WORLD = preset("tiny", taxonomy="coarse")  # 2 domains x 6 actions, told apart by direction of travel
FAST = pt.PretrainConfig(
    stages=(("generic_classify", 3), ("generic", 3)), train_seeds=1, clips_per_action=1, heldout_clips=1,
    warmup=2, save_steps=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videonet_datasets.demo.model import build_demo_model

    out = tmp_path_factory.mktemp("random")
    build_demo_model(out, extra_corpus=["toe loop", "salchow"])
    return out


def test_generic_questions_name_the_direction_never_the_action() -> None:
    clips = render_training_clips(WORLD, [7], 1, max_frames=4, size=None)
    assert len(clips) == 12
    names = {pt.generic_name(c, WORLD) for c in clips}
    assert names == set(pt.GENERIC_NAMES.values())  # 6 directions per domain, all six used
    actions = {c.action for c in clips}
    for clip in clips:
        qas = pt.pretrain_qas("generic", clip, WORLD, seed=0) + pt.pretrain_qas(
            "generic_classify", clip, WORLD, 0
        )
        assert [a for _, a in qas][:2] == ["yes", "no"] and qas[2][1] in "ABCD"
        assert qas[3] == ("Which Motion action is shown in the video?", pt.generic_name(clip, WORLD))
        text = " ".join(q for q, _ in qas)
        assert not any(a in text for a in actions), "a domain's action name leaked into pretraining"
        assert "<video>" not in text
    # The paper questions name each direction with a synonym drawn per clip, so the MC question
    # cannot be answered by matching words: across clips every synonym shows up.
    asked = " ".join(q for c in render_training_clips(WORLD, [8, 9], 2, max_frames=2, size=None)
                     for q, _ in pt.generic_qas(c, WORLD, seed=0))  # fmt: skip
    assert all(name in asked for name in pt.GENERIC_WORDS)
    with pytest.raises(ValueError, match="unknown pretraining stage"):
        pt.pretrain_qas("paper", clips[0], WORLD, 0)


def test_default_taxonomy_is_refused_clearly(random_model: Path, tmp_path: Path) -> None:
    clip = render_training_clips(preset("tiny"), [7], 1, max_frames=2, size=None)[0]
    with pytest.raises(ValueError, match="coarse"):
        pt.generic_name(clip, preset("tiny"))
    with pytest.raises(ValueError, match="coarse"):
        pt.pretrain(random_model, tmp_path / "out", preset("tiny"), FAST, progress=False)
    assert not (tmp_path / "out").exists()


def test_pretrain_saves_a_trained_loadable_model(random_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "base"
    record = pt.pretrain(random_model, out, WORLD, FAST, progress=False)
    assert [h["stage"] for h in record["history"]] == ["generic_classify", "generic"]
    assert set(record["history"][1]["heldout_accuracy"]) == {"all", "qa1", "qa2", "qa3"}
    assert json.loads((out / "pretraining.json").read_text())["history"] == record["history"]
    assert not (tmp_path / "base.partial").exists() and not (tmp_path / "base.staging").exists()
    before = AutoModelForImageTextToText.from_pretrained(random_model).state_dict()
    after = AutoModelForImageTextToText.from_pretrained(out).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("vision" in k for k in changed) and any("language_model" in k for k in changed)


def test_interrupted_pretraining_resumes_to_the_same_weights(
    random_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForImageTextToText

    pt.pretrain(random_model, tmp_path / "whole", WORLD, FAST, progress=False)

    real, calls = pt.answer_loss, {"n": 0}

    def crash_at_step_5_after_the_heldout_check(model, batch):
        calls["n"] += 1
        if calls["n"] == 7:  # steps 1-3, 2 held-out batches (end of stage 1), step 4, then step 5
            raise KeyboardInterrupt
        return real(model, batch)

    monkeypatch.setattr(pt, "answer_loss", crash_at_step_5_after_the_heldout_check)
    with pytest.raises(KeyboardInterrupt):
        pt.pretrain(random_model, tmp_path / "resumed", WORLD, FAST, progress=False)
    assert (tmp_path / "resumed.partial" / "checkpoint.pt").exists() and not (tmp_path / "resumed").exists()
    monkeypatch.setattr(pt, "answer_loss", real)
    logs: list[str] = []
    pt.pretrain(random_model, tmp_path / "resumed", WORLD, FAST, progress=False, log=logs.append)
    assert any("resuming at step 4" in line for line in logs)
    a = AutoModelForImageTextToText.from_pretrained(tmp_path / "whole").state_dict()
    b = AutoModelForImageTextToText.from_pretrained(tmp_path / "resumed").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    # A checkpoint from another schedule is not silently mixed in.
    monkeypatch.setattr(pt, "answer_loss", crash_at_step_5_after_the_heldout_check)
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        pt.pretrain(random_model, tmp_path / "other", WORLD, FAST, progress=False)
    monkeypatch.setattr(pt, "answer_loss", real)
    with pytest.raises(ValueError, match="another schedule"):
        pt.pretrain(
            random_model, tmp_path / "other", WORLD, dataclasses.replace(FAST, lr=5e-4), progress=False
        )


def test_world_config_reads_a_synth_directory(tmp_path: Path) -> None:
    (tmp_path / "world.json").write_text(json.dumps({"config": WORLD.to_json()}))
    assert pt.world_config(tmp_path) == dataclasses.replace(WORLD, jobs=0)
    with pytest.raises(FileNotFoundError, match="synth"):
        pt.world_config(tmp_path / "missing")
    (tmp_path / "world.json").write_text(json.dumps({"config": {**WORLD.to_json(), "colour": 1}}))
    with pytest.raises(ValueError, match="colour"):
        pt.world_config(tmp_path)

"""GRPO end to end on a tiny random Molmo2 (in-process, CPU): a run logs, checkpoints, saves and
exports; token log-probabilities are the model's; resume == uninterrupted; tool calls and the KL
term go through the training step; and (slow) the reward rises after a short supervised start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from finetune_world import make_benchmark, make_train_dataset
from safetensors.torch import load_file

import videonet_datasets.finetune.trainer as trainer_module
from videonet_datasets.finetune import parse_config
from videonet_datasets.finetune.checkpoint import list_checkpoints
from videonet_datasets.finetune.export import export_checkpoint
from videonet_datasets.finetune.grpo import token_logprobs
from videonet_datasets.finetune.grpo_config import parse_grpo_config
from videonet_datasets.finetune.grpo_trainer import COMPLETIONS_FILE, train_grpo
from videonet_datasets.finetune.rewards import REWARDS
from videonet_datasets.finetune.rollout import Completion
from videonet_datasets.molmo2 import (
    encode_video_prefix,
    model_inputs,
    pack_segments,
    packed_attention_mask,
    prompt_text_ids,
    sample_clip,
)
from videonet_datasets.molmo2.inputs import im_end_id

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Each run builds its own Accelerator; accelerate's state objects are singletons."""
    from accelerate.state import AcceleratorState, GradientState

    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_molmo2_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("grpo")
    return {"model": tiny_molmo2_dir, "train": make_train_dataset(root / "videonet-train", clips=8)}


COMMON = ("--dtype", "float32", "--mixed_precision", "no", "--report_to", "none", "--progress_bar", "false",
          "--max_frames", "4", "--logging_steps", "1", "--warmup_steps", "0")  # fmt: skip


def _flags(world: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "--model_name_or_path", str(world["model"]), "--dataset", str(world["train"]),
        "--dataset_config", "single_action", "--output_dir", str(out), *COMMON,
        "--max_steps", "2", "--global_batch_size", "2", "--per_device_batch_size", "1",
        "--num_generations", "4", "--max_completion_length", "6", "--generation_batch_size", "8",
        "--llm_lr", "1e-3", "--connector_lr", "1e-3", "--save_steps", "0", "--save_final_model", "false",
        *extra,
    ]  # fmt: skip


def _run(world, out: Path, *extra: str, generator=None):
    return train_grpo(parse_grpo_config(_flags(world, out, *extra)), generator=generator)


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): v for k, v in load_file(checkpoint / "model.safetensors").items()}


def test_a_run_logs_checkpoints_saves_and_exports(world, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _run(world, out, "--save_final_model", "true", "--reward_weights", "correctness=1,format=0.5,length=0.1",
                  "--length_buffer", "2")  # fmt: skip
    assert result.steps == 2 and len(result.history) == 2 and result.final_model == out / "final"
    entry = result.history[-1]
    for key in ("train/reward", "train/reward_std", "train/zero_std_frac", "train/completion_length",
                "train/truncated_frac", "train/clip_frac", "train/loss", "train/grad_norm", "rewards/correctness",
                "rewards/format", "rewards/length", "perf/generate_s", "perf/train_s", "lr/llm"):  # fmt: skip
        assert key in entry, key
    assert 0 < entry["train/completion_length"] <= 6
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [1, 2]
    samples = [json.loads(line) for line in (out / COMPLETIONS_FILE).read_text().splitlines()]
    assert len(samples) == 2 and len(samples[0]["completions"]) == 4
    assert {"text", "reward", "rewards", "advantage"} <= set(samples[0]["completions"][0])
    advantages = [c["advantage"] for c in samples[0]["completions"]]
    assert abs(sum(advantages)) < 1e-6  # relative to the group
    (ckpt,) = [p for _, p in list_checkpoints(out)]
    assert json.loads((ckpt / "trainer_state.json").read_text())["trainer"] == "grpo"
    exported = export_checkpoint(ckpt, tmp_path / "exported")  # what `videonet finetune eval CHECKPOINT` does
    final = load_file(out / "final" / "model.safetensors")
    again = load_file(exported / "model.safetensors")
    assert final.keys() == again.keys() and all(torch.equal(final[k], again[k]) for k in final)


def test_token_logprobs_are_the_models_log_softmax(world) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(world["model"])
    model = AutoModelForImageTextToText.from_pretrained(world["model"]).eval()
    frames = sample_clip(world["train"] / "videos" / "clip000.mp4", processor, fps=4.0, max_frames=4)
    prefix = encode_video_prefix(processor, frames)
    tok = processor.tokenizer
    segments = []
    for question, answer in (("Is the square moving?", "yes"), ("Which way?", "left, I think")):
        q = prompt_text_ids(processor, question)
        a = tok(answer, add_special_tokens=False)["input_ids"] + [im_end_id(tok)]
        segments.append((q + a, [False] * len(q) + [True] * len(a)))
    row = pack_segments(processor, prefix, segments)
    batch = {k: (v.unsqueeze(0) if k in ("input_ids", "labels", "position_ids", "mm_token_type_ids") else v)
             for k, v in row.items() if k != "segment_ids"}  # fmt: skip
    batch["attention_mask"] = packed_attention_mask(row["segment_ids"][None], row["mm_token_type_ids"][None])
    with torch.no_grad():
        got = token_logprobs(model, batch, temperature=0.7)
        logits = model(**model_inputs(batch), use_cache=False).logits[0].float() / 0.7
    labels = batch["labels"][0]
    where = (labels[1:] != -100).nonzero().squeeze(1)
    expected = torch.log_softmax(logits[where], -1).gather(-1, labels[where + 1][:, None]).squeeze(1)
    assert len(got) == sum(sum(t) for _, t in segments) == len(expected)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_resume_gives_the_same_result_as_an_uninterrupted_run(world, tmp_path: Path, monkeypatch) -> None:
    # two optimizer steps per generation round: the sampling policy's log-probabilities and the ratio matter
    # a reward that varies over a random model's answers (the parity of the first sampled token): the
    # advantages, and the updates, are not zero
    monkeypatch.setitem(
        REWARDS, "first_token_parity", lambda rollout, settings: float(rollout.turns[0].completion.ids[0] % 2)
    )
    flags = ("--max_steps", "4", "--save_steps", "2", "--num_iterations", "2", "--save_total_limit", "3",
             "--reward_weights", "correctness=1,first_token_parity=1")  # fmt: skip
    straight = _run(world, tmp_path / "straight", *flags)
    assert all(h["train/grad_norm"] > 0 for h in straight.history)
    # the round's second step trains on the same answers: no new rewards logged, the ratios are off 1
    assert "train/reward" in straight.history[0] and "train/reward" not in straight.history[1]
    assert straight.history[1]["train/clip_frac"] >= 0

    original = trainer_module.save_checkpoint

    def crash(accelerator, config, step, *args):
        path = original(accelerator, config, step, *args)
        if step == 2:
            raise RuntimeError("killed after step 2")
        return path

    monkeypatch.setattr(trainer_module, "save_checkpoint", crash)
    with pytest.raises(RuntimeError, match="killed"):
        _run(world, tmp_path / "resumed", *flags)
    monkeypatch.setattr(trainer_module, "save_checkpoint", original)
    resumed = _run(world, tmp_path / "resumed", *flags)
    assert resumed.start_step == 2 and resumed.steps == 4
    a, b = _weights(tmp_path / "straight" / "checkpoint-4"), _weights(tmp_path / "resumed" / "checkpoint-4")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history[0]["train/reward"] == straight.history[2]["train/reward"]
    assert [h["train/loss"] for h in resumed.history] == [h["train/loss"] for h in straight.history[2:]]
    # the rounds must match to continue; a supervised checkpoint is not a GRPO one
    with pytest.raises(ValueError, match="num_generations 4, this run has 2"):
        _run(world, tmp_path / "resumed", *flags, "--max_steps", "6", "--num_generations", "2")
    sft = tmp_path / "sft"
    trainer_module.train(parse_config(["--model_name_or_path", str(world["model"]), "--dataset", str(world["train"]),
                                       "--dataset_config", "single_action", "--output_dir", str(sft), *COMMON,
                                       "--max_steps", "1", "--global_batch_size", "2", "--per_device_batch_size", "1",
                                       "--save_final_model", "false"]))  # fmt: skip
    with pytest.raises(ValueError, match="written by the sft trainer; this is the grpo trainer"):
        _run(world, sft, "--max_steps", "2")


class ToolCallingGenerator:
    """The policy's sampler, scripted: every first turn calls ``zoom`` then ``definition`` is never
    reached; the follow-up answers "B".  Real token ids, so the training step runs on them."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.contexts = []

    def sync(self, model) -> None:
        self.model = model

    def generate(self, contexts, n, stop):
        self.contexts.append(list(contexts))
        text = "look <tool>zoom(0.2, 0.8)</tool>" if stop else "B"
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        finish = "stop" if stop else "eos"
        if not stop:
            ids = ids + [im_end_id(self.tokenizer)]
        return [[Completion(list(ids), text, finish) for _ in range(n)] for _ in contexts]


def test_tool_calls_kl_and_benchmark_rows_go_through_the_step(world, tmp_path: Path) -> None:
    from transformers import AutoProcessor

    bench = make_benchmark(tmp_path / "bench")
    generator = ToolCallingGenerator(AutoProcessor.from_pretrained(world["model"]).tokenizer)
    result = _run(
        world, tmp_path / "tools", "--dataset", str(bench), "--dataset_config", "mc", "--dataset_split", "test",
        "--tools", "zoom", "definition", "--max_tool_calls", "1", "--beta", "0.1",
        "--reward_weights", "correctness=1,format=0.5,relevance=0.2,tool_bonus=0.2,tool_cost=0.05",
        generator=generator,
    )  # fmt: skip
    entry = result.history[-1]
    assert entry["train/tool_calls"] == 1.0 and entry["train/tool_failed_frac"] == 0.0
    assert entry["train/kl"] >= 0 and "rewards/relevance" in entry
    first, second = generator.contexts[0][0], generator.contexts[1][0]
    assert len(second.video.frames) > len(first.video.frames)  # the zoomed frames were merged in
    assert "zoom(START, END)" in "".join(generator.tokenizer.decode(first.ids))  # the tool list was asked
    # every answer said "B" after the call: the tool bonus paid exactly where B was right
    samples = [json.loads(line) for line in (tmp_path / "tools" / COMPLETIONS_FILE).read_text().splitlines()]
    for sample in samples:
        for c in sample["completions"]:
            assert c["rewards"]["tool_bonus"] == float(sample["answer"] == "B")
            assert c["rewards"]["tool_cost"] == -1.0


@pytest.mark.slow
def test_reward_rises_after_a_short_supervised_start(world, tmp_path: Path) -> None:
    """The CPU proof: 16 supervised steps teach the tiny model to answer yes / no at all; 40 GRPO
    steps (8 questions x 8 answers, correctness only) then raise its mean reward on the moving
    squares' yes/no questions (measured: 0.19 over the first 5 steps -> 0.67 over the last 10)."""
    from accelerate.state import AcceleratorState, GradientState

    train = make_train_dataset(tmp_path / "train16", clips=16)
    sft = tmp_path / "sft"
    trainer_module.train(parse_config([
        "--model_name_or_path", str(world["model"]), "--dataset", str(train), "--dataset_config", "single_action",
        "--output_dir", str(sft), *COMMON, "--max_steps", "16", "--global_batch_size", "4",
        "--per_device_batch_size", "4", "--vit_lr", "1e-3", "--connector_lr", "1e-3", "--llm_lr", "1e-3",
        "--save_steps", "0",
    ]))  # fmt: skip
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    result = train_grpo(parse_grpo_config([
        "--model_name_or_path", str(sft / "final"), "--dataset", str(train), "--dataset_config", "single_action",
        "--output_dir", str(tmp_path / "grpo"), *COMMON, "--max_steps", "40", "--global_batch_size", "8",
        "--per_device_batch_size", "8", "--num_generations", "8", "--max_completion_length", "8",
        "--llm_lr", "5e-4", "--connector_lr", "5e-4", "--save_steps", "0", "--save_final_model", "false",
        "--question_kinds", "binary_yes", "binary_no", "--reward_weights", "correctness=1.0",
    ]))  # fmt: skip
    rewards = [h["train/reward"] for h in result.history]
    first, last = sum(rewards[:5]) / 5, sum(rewards[-10:]) / 10
    assert last > first + 0.3 and last > 0.55, rewards

"""The tiny offline Molmo2: build, offline reload, generation, parameter groups, and proof
that its visual pathway is alive and learns."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from videonet_datasets.molmo2 import (
    MOLMO2_EXTRA_TOKENS,
    TinyMolmo2Config,
    answer_loss,
    build_tiny_molmo2,
    collate_examples,
    component_of,
    encode_prompt,
    encode_training_example,
    make_tiny_molmo2,
    param_groups,
    parameters_by_component,
    probe_visual_pathway,
    sample_clip,
    write_moving_square_clip,
)

QUESTION = "Which way does the square move?\nA. left\nB. right\nPlease respond with only the letter of the correct answer."


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {d: write_moving_square_clip(root / f"{d}.mp4", d) for d in ("left", "right")}


@pytest.fixture(scope="module")
def loaded(tiny_molmo2_dir: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoModelForImageTextToText.from_pretrained(tiny_molmo2_dir), AutoProcessor.from_pretrained(
        tiny_molmo2_dir
    )


def test_build_is_small_fast_and_deterministic(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    a = build_tiny_molmo2(tmp_path / "a", seed=3)
    build_tiny_molmo2(tmp_path / "b", seed=3)
    build_tiny_molmo2(tmp_path / "c", seed=4)
    assert 200_000 <= a.num_parameters <= 2_000_000
    assert a.build_seconds < 10
    for name in ("tokenizer.json", "config.json", "processor_config.json", "chat_template.jinja"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    sa, sb, sc = (load_file(tmp_path / d / "model.safetensors") for d in "abc")
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    # save_pretrained writes the hub's original key layout (model.vision_backbone.image_vit...).
    patch = next(k for k in sa if k.endswith("patch_embedding.weight"))
    assert not torch.equal(sa[patch], sc[patch])
    # The caller's RNG is not disturbed by a build.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_tiny_molmo2(seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_sizes_are_configurable(tmp_path: Path) -> None:
    built = build_tiny_molmo2(tmp_path / "big", text_layers=3, image_size=84, vit_hidden_size=96)
    assert built.spec.text_layers == 3 and built.spec.image_size == 84
    config = json.loads((tmp_path / "big" / "config.json").read_text())
    assert config["text_config"]["num_hidden_layers"] == 3
    assert config["vision_config"]["image_size"] == [84, 84]
    with pytest.raises(TypeError, match="unknown size"):
        build_tiny_molmo2(tmp_path / "bad", hidden=3)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        TinyMolmo2Config(image_size=50)


def test_tokenizer_layout_matches_the_hub(loaded) -> None:
    model, processor = loaded
    tok = processor.tokenizer
    vocab = model.config.text_config.vocab_size
    # Molmo2 tokens follow the text vocabulary in the hub's order; lm_head cannot emit them.
    assert [tok.convert_tokens_to_ids(t) for t in MOLMO2_EXTRA_TOKENS] == list(range(vocab, vocab + 10))
    assert model.lm_head.out_features == vocab
    assert (
        model.get_input_embeddings().num_embeddings == vocab + model.config.text_config.additional_vocab_size
    )
    assert tok.bos_token == tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert model.config.image_patch_id == tok.convert_tokens_to_ids("<im_patch>")
    assert model.config.frame_start_token_id == tok.convert_tokens_to_ids("<frame_start>")
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    # Prompt words are single tokens or nearly (the corpus covers them).
    assert len(tok("Please respond with only the letter of the correct answer.")["input_ids"]) <= 14


def test_processor_uses_the_paper_frame_settings(loaded) -> None:
    _, processor = loaded
    vp = processor.video_processor
    assert (vp.num_frames, vp.max_fps) == (64, 4)
    # Unset in Molmo2VideoProcessor's defaults: without them the ViT gets raw 0-255 bytes.
    assert vp.do_rescale and vp.do_normalize


def test_reloads_offline_with_auto_classes_and_generates(
    tiny_molmo2_dir: Path, clips, tmp_path: Path
) -> None:
    script = f"""
import json, sys, time, torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from videonet_datasets.molmo2 import encode_prompt, sample_clip
t0 = time.perf_counter()
processor = AutoProcessor.from_pretrained({str(tiny_molmo2_dir)!r})
model = AutoModelForImageTextToText.from_pretrained({str(tiny_molmo2_dir)!r}).eval()
load = time.perf_counter() - t0
frames = sample_clip({str(clips["right"])!r}, processor)
inputs = encode_prompt(processor, {QUESTION!r}, frames)
with torch.no_grad():
    logits = model(**inputs).logits
out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
new = out[0, inputs["input_ids"].shape[1]:].tolist()
print(json.dumps({{"model": type(model).__name__, "processor": type(processor).__name__, "load": load,
                  "new": new, "vocab": model.config.text_config.vocab_size, "finite": bool(torch.isfinite(logits).all())}}))
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["model"] == "Molmo2ForConditionalGeneration" and result["processor"] == "Molmo2Processor"
    assert result["finite"] and 1 <= len(result["new"]) <= 4
    assert all(0 <= t < result["vocab"] for t in result["new"])


def test_param_groups_partition_the_model(loaded) -> None:
    model, _ = loaded
    groups = param_groups(model, {"vit": 5e-6, "connector": 5e-6, "llm": 1e-5})
    assert [g["name"] for g in groups] == ["vit", "connector", "llm"]
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == len(list(model.parameters()))
    assert {g["name"]: g["lr"] for g in groups} == {"vit": 5e-6, "connector": 5e-6, "llm": 1e-5}
    by_name = {n: component_of(n) for n, _ in model.named_parameters()}
    assert by_name["lm_head.weight"] == "llm"
    assert by_name["model.multi_modal_projector.image_projector.down_proj.weight"] == "connector"
    # Names under wrappers (DDP, PEFT modules_to_save) resolve the same way.
    assert component_of("module.model.vision_tower.layers.0.mlp.fc1.weight") == "vit"
    assert (
        component_of("base_model.model.model.multi_modal_projector.modules_to_save.default.x") == "connector"
    )
    decayed = param_groups(model, {"vit": 1.0, "connector": 1.0, "llm": 1.0}, weight_decay=0.1)
    assert {g["name"] for g in decayed} == {
        "vit",
        "vit_no_decay",
        "connector",
        "connector_no_decay",
        "llm",
        "llm_no_decay",
    }
    assert sum(len(g["params"]) for g in decayed) == len(seen)
    with pytest.raises(ValueError, match="missing"):
        param_groups(model, {"vit": 1.0, "llm": 1.0})


def test_param_groups_skip_frozen_and_reject_strangers() -> None:
    model, _ = make_tiny_molmo2()
    for p in model.model.vision_tower.parameters():
        p.requires_grad_(False)
    assert [g["name"] for g in param_groups(model, {"vit": 1.0, "connector": 1.0, "llm": 1.0})] == [
        "connector",
        "llm",
    ]
    model.extra_head = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="extra_head.weight"):
        parameters_by_component(model)


def test_param_groups_under_peft_lora() -> None:
    peft = pytest.importorskip("peft")
    model, _ = make_tiny_molmo2()
    config = peft.LoraConfig(
        r=4,
        target_modules=r".*language_model\.layers\.\d+\.(self_attn|mlp)\.(q_proj|v_proj|up_proj)",
        modules_to_save=["multi_modal_projector"],
    )
    wrapped = peft.get_peft_model(model, config)
    groups = {name: [n for n, _ in params] for name, params in parameters_by_component(wrapped).items()}
    assert groups["vit"] == []
    assert groups["llm"] and all("lora_" in n for n in groups["llm"])
    assert groups["connector"] and all("modules_to_save" in n for n in groups["connector"])


def _batch(processor, clips, answers=("A", "B")):
    examples = [
        encode_training_example(processor, QUESTION, answer, sample_clip(clips[direction], processor))
        for direction, answer in zip(("left", "right"), answers)
    ]
    return collate_examples(examples, processor.tokenizer.pad_token_id)


def test_visual_pathway_is_alive(clips) -> None:
    model, processor = make_tiny_molmo2(seed=0)
    batch = _batch(processor, clips)
    probe = probe_visual_pathway(model.train(), batch)
    assert probe.feature_ratio > 1.0  # video features at least as large as token embeddings
    assert probe.pixel_sensitivity > 0.1  # answer logits move with the pixels
    assert probe.grad_norms["vit"] > 1e-2 and probe.grad_norms["connector"] > 1e-2
    # transformers' default init gives the "blind" model the notes warn about; the probe sees it.
    blind, _ = make_tiny_molmo2(seed=0, init="hf")
    probe = probe_visual_pathway(blind.train(), batch)
    assert probe.feature_ratio < 1e-3 and probe.pixel_sensitivity < 1e-3 and probe.grad_norms["vit"] < 1e-3


def test_a_few_steps_lower_the_loss(loaded, clips) -> None:
    model, processor = loaded
    model = type(model).from_pretrained(model.name_or_path).train()
    batch = _batch(processor, clips)
    optimizer = torch.optim.AdamW(param_groups(model, {"vit": 1e-4, "connector": 1e-4, "llm": 1e-3}))
    losses, t0 = [], time.perf_counter()
    for _ in range(8):
        out = answer_loss(model, batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    step_seconds = (time.perf_counter() - t0) / len(losses)
    assert losses[-1] < 0.7 * losses[0], losses
    assert step_seconds < 2.0


def test_learns_motion_direction_from_pixels(clips) -> None:
    """Both clips get the same text, so text alone cannot beat ln 2 on the answer letter;
    mirrored motion makes the frames the only evidence."""
    torch.manual_seed(0)
    model, processor = make_tiny_molmo2(seed=0)
    batch = _batch(processor, clips)
    optimizer = torch.optim.AdamW(
        param_groups(model.train(), {"vit": 1e-4, "connector": 1e-4, "llm": 1e-3}),
        betas=(0.9, 0.95),
        eps=1e-6,
    )
    for _ in range(100):
        out = answer_loss(model, batch)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    # token_loss order: clip 1 (letter, <|im_end|>), clip 2 (letter, <|im_end|>).
    letter_losses = out.token_loss.detach()[[0, 2]]
    assert (letter_losses < 0.2).all(), (
        f"letter losses {letter_losses.tolist()} vs text-only bound {math.log(2):.3f}"
    )
    model.eval()
    for direction, letter in (("left", "A"), ("right", "B")):
        inputs = encode_prompt(processor, QUESTION, sample_clip(clips[direction], processor))
        generated = model.generate(**inputs, max_new_tokens=3, do_sample=False)
        text = processor.tokenizer.decode(
            generated[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        assert text.strip() == letter

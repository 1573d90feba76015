"""Clips -> Molmo2 inputs: frame rate, timestamps as text, answer-only labels, batching."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ffmpeg, set_display_matrix

from videonet_datasets.molmo2 import (
    IGNORE_INDEX,
    answer_loss,
    collate_examples,
    encode_prompt,
    encode_training_example,
    frames_metadata,
    make_tiny_molmo2,
    render_prompt,
    sample_clip,
    video_messages,
    write_moving_square_clip,
)
from videonet_datasets.molmo2.inputs import model_offsets_video_pooling, video_normalisation_kwargs
from videonet_datasets.video import write_video

QUESTION = "Which of the following Skateboarding actions is shown in the video?\nA. ollie\nB. kickflip"


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny():
    model, processor = make_tiny_molmo2(seed=0)
    return model.eval(), processor


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_moving_square_clip(
        tmp_path_factory.mktemp("clip") / "right.mp4", "right", seconds=3.0, fps=10
    )


def _frame_timestamps(text: str) -> list[str]:
    return re.findall(r"(\d+\.\d) <frame_start>", text)


def test_sample_clip_uses_4fps_max_64_at_the_processor_size(tiny, clip, tmp_path: Path) -> None:
    _, processor = tiny
    frames = sample_clip(clip, processor)
    assert len(frames) == 12 and frames.frames.shape[1:] == (56, 56, 3)  # 3 s at 4 fps
    np.testing.assert_allclose(frames.timestamps, np.arange(12) / 4, atol=0.051)  # frame on screen at t
    long = write_video(
        tmp_path / "long.mp4", [np.full((32, 32, 3), i % 250, np.uint8) for i in range(100)], 5
    )
    assert len(sample_clip(long, processor)) == 64  # 20 s > 64 / 4 s: uniform 64
    assert len(sample_clip(clip, processor, middle=True)) == 1


def test_timestamps_reach_the_prompt_as_text(tiny, clip) -> None:
    _, processor = tiny
    frames = sample_clip(clip, processor, start=0.55, end=2.6)
    meta = frames_metadata(frames)
    np.testing.assert_allclose(np.asarray(meta.frames_indices) / meta.fps, frames.timestamps, atol=5e-4)
    inputs = encode_prompt(processor, QUESTION, frames)
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    printed = [float(t) for t in _frame_timestamps(text)]
    assert len(printed) == len(frames) and len(frames) >= 7
    # Relative to the clip start, to the printed precision (0.45 may print as 0.4 or 0.5).
    np.testing.assert_allclose(printed, frames.timestamps, atol=0.05 + 1e-6)
    assert printed == sorted(printed) and printed[0] == 0.0
    assert text.count("<frame_start>") == text.count("<frame_end>") == len(frames)
    assert text.startswith("<|im_end|>0.0 <frame_start>")  # BOS, then the video first (Molmo2 hoists it)
    assert text.endswith("<|im_start|>user\n" + QUESTION + "<|im_end|>\n<|im_start|>assistant\n")
    per_frame = (56 // 14 // 2) ** 2
    assert inputs["pixel_values_videos"].shape == (len(frames), 16, 14 * 14 * 3)
    assert inputs["video_token_pooling"].shape[0] == len(frames) * per_frame
    assert int((inputs["input_ids"] == processor.tokenizer.convert_tokens_to_ids("<im_patch>")).sum()) == (
        len(frames) * per_frame
    )
    # Normalised pixels, not raw bytes.
    assert inputs["pixel_values_videos"].dtype == torch.float32
    assert inputs["pixel_values_videos"].abs().max() <= 1.0


def test_captures_and_phone_videos_reach_the_model_as_shown(tiny, clip, tmp_path: Path) -> None:
    """The fine-tuning loader and the Molmo2 evaluation decode through the sampler: an MPEG-TS
    capture (clock at ~1.4 s) gives the same frames and timestamps as the MP4 it was copied
    from, and a phone video stored sideways gives them upright."""
    _, processor = tiny
    ts, sideways = tmp_path / "capture.ts", tmp_path / "sideways.mp4"
    ffmpeg("-i", str(clip), "-c", "copy", str(ts))
    ffmpeg("-i", str(clip), "-vf", "transpose=clock", "-c:v", "libx264", "-qp", "0", str(sideways))
    phone = set_display_matrix(sideways, tmp_path / "phone.mp4", 0, -1, 1, 0)  # shown turned left
    want = sample_clip(clip, processor, start=0.55, end=2.6)
    got = sample_clip(ts, processor, start=0.55, end=2.6)
    assert np.array_equal(got.frames, want.frames) and np.allclose(got.timestamps, want.timestamps)
    turned = sample_clip(phone, processor, start=0.55, end=2.6)
    assert turned.frames.shape == want.frames.shape
    assert np.abs(turned.frames.astype(int) - want.frames.astype(int)).mean() < 4
    assert encode_prompt(processor, QUESTION, turned)["pixel_values_videos"].shape[0] == len(want)


def test_render_prompt_matches_molmo2_layout(tiny) -> None:
    _, processor = tiny
    assert (
        render_prompt(processor, "Q?") == "<|video|><|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n"
    )
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "video"}, {"type": "text", "text": "b"}],
        }
    ]
    assert (
        render_prompt(processor, messages)
        == "<|video|><|im_start|>user\na b<|im_end|>\n<|im_start|>assistant\n"
    )
    two = [{"role": "user", "content": [{"type": "video"}, {"type": "video"}, {"type": "text", "text": "?"}]}]
    with pytest.raises(ValueError, match="at most one video"):
        render_prompt(processor, two)


def test_training_example_labels_only_the_answer(tiny, clip) -> None:
    _, processor = tiny
    tok = processor.tokenizer
    frames = sample_clip(clip, processor)
    prompt = encode_prompt(processor, QUESTION, frames)
    example = encode_training_example(processor, QUESTION, "B", frames)
    n_prompt = prompt["input_ids"].shape[1]
    assert torch.equal(example["input_ids"][:n_prompt], prompt["input_ids"][0])
    assert (example["labels"][:n_prompt] == IGNORE_INDEX).all()
    answer = example["labels"][n_prompt:]
    assert tok.decode(answer) == "B<|im_end|>"
    assert torch.equal(answer, example["input_ids"][n_prompt:])
    image_ids = torch.tensor([i for i in processor.image_token_ids if i is not None])
    assert torch.equal(example["mm_token_type_ids"].bool(), torch.isin(example["input_ids"], image_ids))
    assert example["attention_mask"].all()
    with pytest.raises(ValueError, match="empty answer"):
        encode_training_example(processor, QUESTION, "", frames)
    with pytest.raises(ValueError, match="no <\\|video\\|> placeholder"):
        encode_training_example(processor, video_messages(QUESTION, with_video=False), "B", frames)
    with pytest.raises(ValueError, match="no frames"):
        encode_prompt(processor, QUESTION, None)


def test_text_only_examples_are_supported(tiny) -> None:
    model, processor = tiny
    example = encode_training_example(processor, video_messages("Say yes.", with_video=False), "yes", None)
    batch = collate_examples([example], processor.tokenizer.pad_token_id)
    assert "pixel_values_videos" not in batch
    assert torch.isfinite(answer_loss(model, batch).loss)


def test_collated_batch_equals_separate_runs(tiny, clip, tmp_path: Path) -> None:
    """Two clips of different lengths in one right-padded batch give the answer logits of
    each clip alone; that needs the video_token_pooling offsets."""
    model, processor = tiny
    other = write_moving_square_clip(tmp_path / "left.mp4", "left", seconds=2.0)
    examples = [
        encode_training_example(processor, QUESTION, "B", sample_clip(clip, processor)),
        encode_training_example(processor, "Is it an ollie?", "no", sample_clip(other, processor)),
    ]
    pad = processor.tokenizer.pad_token_id
    batch = collate_examples(examples, pad)
    assert (
        batch["input_ids"].shape[0] == 2
        and (batch["labels"][1, len(examples[1]["input_ids"]) :] == -100).all()
    )
    n0 = examples[0]["pixel_values_videos"].shape[0] * examples[0]["pixel_values_videos"].shape[1]
    local = torch.cat([ex["video_token_pooling"] for ex in examples])
    shifted = local.clone()
    shifted[len(examples[0]["video_token_pooling"]) :] = torch.where(
        examples[1]["video_token_pooling"] >= 0, examples[1]["video_token_pooling"] + n0, -1
    )
    # The convention the installed transformers expects: global up to 5.24, per video from 5.25.
    right, wrong_pooling = (local, shifted) if model_offsets_video_pooling() else (shifted, local)
    assert torch.equal(batch["video_token_pooling"], right)
    together = answer_loss(model, batch).logits
    alone = torch.cat([answer_loss(model, collate_examples([ex], pad)).logits for ex in examples])
    assert (together - alone).abs().max() < 1e-4
    # With the other convention the second sample would pool the first sample's patches (or none).
    wrong = dict(batch)
    wrong["video_token_pooling"] = wrong_pooling
    try:
        wrong_logits = answer_loss(model, wrong).logits
    except IndexError:  # 5.25+ shifting already-shifted indices past the batch's patches
        return
    assert (wrong_logits - alone).abs().max() > 1e-3


def test_left_padded_generation_batch(tiny, clip, tmp_path: Path) -> None:
    model, processor = tiny
    other = write_moving_square_clip(tmp_path / "left.mp4", "left", seconds=1.5)
    prompts = [encode_prompt(processor, QUESTION, sample_clip(c, processor)) for c in (clip, other)]
    batch = collate_examples(prompts, processor.tokenizer.pad_token_id, padding_side="left")
    assert (
        batch["attention_mask"][1, : batch["input_ids"].shape[1] - prompts[1]["input_ids"].shape[1]] == 0
    ).all()
    out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    for row, single in enumerate(prompts):
        alone = model.generate(**single, max_new_tokens=3, do_sample=False)
        assert (
            out[row, batch["input_ids"].shape[1] :].tolist()
            == alone[0, single["input_ids"].shape[1] :].tolist()
        )


def test_collate_rejects_bad_batches(tiny, clip) -> None:
    _, processor = tiny
    pad = processor.tokenizer.pad_token_id
    with pytest.raises(ValueError, match="empty"):
        collate_examples([], pad)
    with pytest.raises(ValueError, match="padding_side"):
        collate_examples([{"input_ids": torch.tensor([1])}], pad, padding_side="middle")
    example = encode_training_example(processor, QUESTION, "B", sample_clip(clip, processor))
    bigger = dict(example, pixel_values_videos=torch.zeros(2, 36, 588))
    with pytest.raises(ValueError, match="different frame sizes"):
        collate_examples([example, bigger], pad)
    no_labels = {k: v for k, v in example.items() if k != "labels"}
    with pytest.raises(ValueError, match="labels"):
        collate_examples([example, no_labels], pad)


def test_unset_video_normalisation_is_filled_in(tiny, clip, caplog) -> None:
    """A Molmo2VideoProcessor saved without do_rescale/do_normalize would feed raw bytes."""
    _, processor = tiny
    frames = sample_clip(clip, processor)
    reference = encode_prompt(processor, QUESTION, frames)["pixel_values_videos"]
    forgetful = copy.deepcopy(processor)
    forgetful.video_processor.do_rescale = None
    forgetful.video_processor.do_normalize = None
    raw = forgetful.video_processor(videos=[frames.frames], do_sample_frames=False, return_tensors="pt")
    assert raw["pixel_values_videos"].max() > 1  # the trap: 0-255 values
    with caplog.at_level("WARNING"):
        fixed = encode_prompt(forgetful, QUESTION, frames)["pixel_values_videos"]
    assert torch.equal(fixed, reference)
    assert "unset" in caplog.text
    forgetful.video_processor.do_normalize = False  # explicit choices are respected
    assert "do_normalize" not in video_normalisation_kwargs(forgetful)


def test_the_processor_leaves_cached_frames_as_decoded(tiny, clip) -> None:
    """The frame cache hands out read-only arrays shared by every request of a run; torch turns
    them into tensors without a copy (its "not writable" warning) and numpy's flag cannot stop a
    write through the tensor.  If the installed transformers ever edits video tensors in place,
    this fails instead of the next request silently getting altered frames."""
    from videonet_datasets.frame_cache import FrameCache

    _, processor = tiny
    cache = FrameCache(memory_bytes=2**26)
    frames = sample_clip(clip, processor)
    cached = cache.sample_frames(clip, fps=4.0, max_frames=64, size=frames.frames.shape[1:3])
    assert not cached.frames.flags.writeable
    before = cached.frames.copy()
    encode_prompt(processor, QUESTION, cached)
    np.testing.assert_array_equal(cached.frames, before)
    again = cache.sample_frames(clip, fps=4.0, max_frames=64, size=frames.frames.shape[1:3])
    assert again.frames is cached.frames and cache.stats.memory_hits == 1

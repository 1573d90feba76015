"""Packing the 3 QA pairs of a clip: same per-answer logits, loss and gradients as three
separate runs, and the traps (boolean mask under eager, position-only packing) caught."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videonet_datasets.molmo2 import (
    answer_loss,
    collate_examples,
    collate_packed,
    encode_packed_clip,
    encode_training_example,
    make_tiny_molmo2,
    packed_attention_mask,
    sample_clip,
    video_messages,
    write_moving_square_clip,
)

QAS = [
    (
        "Which of the following Skateboarding actions is shown in the video?\nA. ollie\nB. kickflip\n"
        "C. heelflip\nD. shuvit\nPlease respond with only the letter of the correct answer.",
        "B",
    ),
    ("Recall that an ollie is an action in Skateboarding. Does the following video show an ollie?", "no"),
    (
        "Recall that a kickflip is an action in Skateboarding. Does the following video show a kickflip?",
        "yes",
    ),
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny():
    model, processor = make_tiny_molmo2(seed=1)
    return model.eval(), processor


@pytest.fixture(scope="module")
def frames(tiny, tmp_path_factory: pytest.TempPathFactory):
    clip = write_moving_square_clip(tmp_path_factory.mktemp("clip") / "c.mp4", "left", seconds=2.5)
    return sample_clip(clip, tiny[1])


def _separate_and_packed(processor, frames, qas=QAS):
    pad = processor.tokenizer.pad_token_id
    examples = [encode_training_example(processor, q, a, frames) for q, a in qas]
    return (
        examples,
        collate_examples(examples, pad),
        collate_packed([encode_packed_clip(processor, frames, qas)], pad),
    )


def test_packed_row_is_prefix_plus_segments(tiny, frames) -> None:
    _, processor = tiny
    examples = [encode_training_example(processor, q, a, frames) for q, a in QAS]
    packed = encode_packed_clip(processor, frames, QAS)
    n_prefix = int((packed["segment_ids"] == 0).sum())
    assert packed["mm_token_type_ids"][n_prefix:].sum() == 0  # every video token is in the prefix
    for k, example in enumerate(examples, start=1):
        segment = packed["segment_ids"] == k
        assert torch.equal(
            torch.cat([packed["input_ids"][:n_prefix], packed["input_ids"][segment]]), example["input_ids"]
        )
        assert torch.equal(packed["labels"][segment], example["labels"][n_prefix:])
        assert packed["position_ids"][segment].tolist() == list(range(n_prefix, len(example["input_ids"])))
    # The video is encoded once for three questions.
    assert packed["pixel_values_videos"].shape == examples[0]["pixel_values_videos"].shape
    assert len(packed["input_ids"]) < sum(len(e["input_ids"]) for e in examples)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_equals_separate(tiny, frames, attn: str) -> None:
    model, processor = tiny
    model.set_attn_implementation(attn)
    try:
        _, separate, packed = _separate_and_packed(processor, frames)
        alone, together = answer_loss(model, separate), answer_loss(model, packed)
    finally:
        model.set_attn_implementation("sdpa")
    assert alone.n_tokens == together.n_tokens == 2 + 2 + 2  # "B", "no", "yes" + <|im_end|> each
    assert torch.equal(alone.targets, together.targets)
    error = (alone.logits - together.logits).abs().max().item()
    assert error < 1e-5, f"{attn}: packed vs separate answer logits differ by {error:.2e}"
    torch.testing.assert_close(together.token_loss, alone.token_loss, atol=1e-5, rtol=1e-5)


def test_packed_gradients_equal_separate(tiny, frames) -> None:
    model, processor = tiny
    _, separate, packed = _separate_and_packed(processor, frames)
    grads = []
    for batch in (separate, packed):
        model.zero_grad(set_to_none=True)
        answer_loss(model, batch).loss_sum.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    model.zero_grad(set_to_none=True)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], atol=1e-4, rtol=1e-3, msg=name)


def test_boolean_mask_is_silently_wrong_under_eager(tiny, frames) -> None:
    """Eager attention adds the mask to the scores: True -> +1, False -> 0, nothing masked."""
    model, processor = tiny
    _, separate, packed = _separate_and_packed(processor, frames)
    packed["attention_mask"] = packed["attention_mask"] == 0
    model.set_attn_implementation("eager")
    try:
        error = (answer_loss(model, separate).logits - answer_loss(model, packed).logits).abs().max()
    finally:
        model.set_attn_implementation("sdpa")
    assert error > 1e-3


def test_position_only_packing_is_not_equivalent(tiny, frames) -> None:
    model, processor = tiny
    _, separate, packed = _separate_and_packed(processor, frames)
    del packed["attention_mask"]  # transformers then treats each restart of position ids as a new sequence
    assert (answer_loss(model, separate).logits - answer_loss(model, packed).logits).abs().max() > 1e-3


def test_batch_of_packed_rows_with_padding(tiny, frames, tmp_path: Path) -> None:
    model, processor = tiny
    other = sample_clip(write_moving_square_clip(tmp_path / "r.mp4", "right", seconds=1.5), processor)
    pad = processor.tokenizer.pad_token_id
    rows = [encode_packed_clip(processor, frames, QAS), encode_packed_clip(processor, other, QAS[1:])]
    together = answer_loss(model, collate_packed(rows, pad)).logits
    alone = torch.cat([answer_loss(model, collate_packed([row], pad)).logits for row in rows])
    assert (together - alone).abs().max() < 1e-5
    assert torch.isfinite(
        model(
            **{k: v for k, v in collate_packed(rows, pad).items() if k not in ("labels", "segment_ids")}
        ).logits
    ).all()


def test_bf16_model_with_bf16_mask(tiny, frames) -> None:
    model, processor = tiny
    _, separate, packed = _separate_and_packed(processor, frames)
    pad = processor.tokenizer.pad_token_id
    packed = collate_packed([encode_packed_clip(processor, frames, QAS)], pad, mask_dtype=torch.bfloat16)
    half = make_tiny_molmo2(seed=1)[0].to(torch.bfloat16).eval()
    for batch in (separate, packed):
        batch["pixel_values_videos"] = batch["pixel_values_videos"].to(torch.bfloat16)
    alone, together = answer_loss(half, separate), answer_loss(half, packed)
    assert (alone.logits - together.logits).abs().max() <= 0.05 * alone.logits.std()


def test_mask_structure() -> None:
    # prefix (2 tokens, the 2nd a video token), segment 1 (2), segment 2 (1), padding (1)
    segments = torch.tensor([[0, 0, 1, 1, 2, -1]])
    mm = torch.tensor([[0, 1, 0, 0, 0, 0]])
    allowed = packed_attention_mask(segments, mm, torch.float32)[0, 0] == 0
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 0, 0, 1, 0],  # segment 2 sees the prefix and itself, not segment 1
            [0, 0, 0, 0, 0, 1],  # padding sees itself only (no all-masked softmax row)
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)
    mm2 = torch.tensor([[1, 1, 0, 0, 0, 0]])  # video tokens see each other both ways
    assert bool(packed_attention_mask(segments, mm2)[0, 0, 0, 1] == 0)
    assert packed_attention_mask(segments, mm, torch.bfloat16).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="must both be"):
        packed_attention_mask(segments[0], mm[0])


def test_packing_rejects_bad_input(tiny, frames) -> None:
    _, processor = tiny
    with pytest.raises(ValueError, match="no QA pairs"):
        encode_packed_clip(processor, frames, [])
    with pytest.raises(ValueError, match="empty answer"):
        encode_packed_clip(processor, frames, [(QAS[0][0], "")])
    with pytest.raises(ValueError, match="video at the start"):
        encode_packed_clip(processor, frames, [(video_messages("no video here", with_video=False), "x")])

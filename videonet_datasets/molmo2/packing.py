"""Pack the QA pairs of one clip into one sequence (paper §5: "an attention mask that keeps
one pair's text from attending to another's").

Layout of a packed row::

    [BOS + video tokens] [QA 1: prompt text, answer, <|im_end|>] [QA 2 ...] [QA 3 ...] [pad]
     segment 0 (prefix)   segment 1                               segment 2   segment 3   -1

* Position ids restart after the prefix, so each QA sees exactly the positions it would
  have alone.
* The attention mask is causal AND (key in the prefix OR key in the query's segment),
  OR'd with the bidirectional block of multimodal tokens that Molmo2 builds for itself
  when given a 2D mask (every image/frame token sees every other one).  Given a 4D mask
  the model uses it as is and skips its own block, hence the OR here.
* The mask is **additive float** (0 / dtype-min).  A boolean 4D mask is silently wrong
  under eager attention, which *adds* the mask to the scores (True becomes +1).
  Position-id-only packing (no mask) would make the QAs independent sequences that no
  longer see the video.

With this, the packed run's per-answer logits equal the separate runs' to float error
(tested in ``tests/test_molmo2_packing.py``), and one clip costs one video encoding
instead of three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers import BatchFeature, ProcessorMixin

from videonet_datasets.video import Frames

from .inputs import (
    IGNORE_INDEX,
    concat_videos,
    frames_metadata,
    im_end_id,
    pad_sequences,
    render_prompt,
    video_normalisation_kwargs,
)

__all__ = [
    "collate_packed",
    "encode_packed_clip",
    "encode_video_prefix",
    "pack_segments",
    "packed_attention_mask",
    "prompt_text_ids",
]

QA = tuple[Sequence[Mapping[str, Any]] | str, str]
#: One packed segment: token ids and, per token, whether it is a training target.
Segment = tuple[Sequence[int], Sequence[bool]]


def _strip_video_prefix(processor: ProcessorMixin, prompt: str) -> str:
    """The part of a rendered prompt after its leading ``<|video|>`` placeholder."""
    bos = processor.tokenizer.bos_token or processor.tokenizer.eos_token or ""
    text = prompt[len(bos) :] if bos and prompt.startswith(bos) else prompt
    if not text.startswith(processor.video_token):
        raise ValueError(
            "packing needs the video at the start of every prompt (the shared prefix); this chat "
            f"template renders {prompt[:60]!r}..."
        )
    rest = text[len(processor.video_token) :]
    if processor.video_token in rest or processor.image_token in rest:
        raise ValueError("a packed QA prompt may hold only the clip's one video, no other image or video")
    return rest


def encode_video_prefix(processor: ProcessorMixin, frames: Frames) -> BatchFeature:
    """The shared prefix of a packed row: BOS + the clip's video tokens, and its video tensors.

    Every question about the clip continues this prefix (:func:`prompt_text_ids`), so the
    video is encoded once however many questions - or sampled answers - share it.
    """
    return processor(
        text=[processor.video_token],
        videos=[frames.frames],
        video_metadata=[frames_metadata(frames)],
        do_sample_frames=False,
        return_tensors="pt",
        **video_normalisation_kwargs(processor),
    )


def prompt_text_ids(processor: ProcessorMixin, messages: Sequence[Mapping[str, Any]] | str) -> list[int]:
    """The ids of a generation prompt after the video prefix (question text + assistant header).

    ``encode_video_prefix`` ids followed by these are the prompt the model is asked at
    evaluation time (tested token for token in ``tests/test_molmo2_packing.py``).
    """
    rest = _strip_video_prefix(processor, render_prompt(processor, messages))
    return list(processor.tokenizer(rest, add_special_tokens=False)["input_ids"])


def pack_segments(
    processor: ProcessorMixin,
    prefix: Mapping[str, torch.Tensor],
    segments: Sequence[Segment],
    where: str = "",
) -> dict[str, torch.Tensor]:
    """One packed row: the video ``prefix`` then ``segments``, each seeing the prefix and itself only.

    ``segments`` are ``(ids, targets)``: token ids and a flag per token saying whether it is a
    training target (labelled) or context.  Returns unbatched tensors ``input_ids``, ``labels``,
    ``position_ids``, ``segment_ids``, ``mm_token_type_ids`` (all (L,)) and the video tensors.
    """
    if not segments:
        raise ValueError(f"{where or 'clip'}: no segments to pack")
    prefix_ids = prefix["input_ids"][0]
    n_prefix = len(prefix_ids)
    mm_ids = torch.tensor(sorted({int(i) for i in processor.image_token_ids if i is not None}))
    ids, labels, positions, segs = [prefix_ids], [torch.full_like(prefix_ids, IGNORE_INDEX)], [], []
    positions.append(torch.arange(n_prefix))
    segs.append(torch.zeros(n_prefix, dtype=torch.long))
    for k, (seg_ids, targets) in enumerate(segments, start=1):
        if len(seg_ids) != len(targets):
            raise ValueError(
                f"{where or 'clip'}: segment {k} has {len(seg_ids)} ids but {len(targets)} flags"
            )
        seg = torch.tensor(list(seg_ids), dtype=prefix_ids.dtype)
        if torch.isin(seg, mm_ids).any():
            raise ValueError(f"{where or 'clip'}: segment {k} text contains image/video tokens")
        mask = torch.tensor(list(targets), dtype=torch.bool)
        ids.append(seg)
        labels.append(torch.where(mask, seg, torch.full_like(seg, IGNORE_INDEX)))
        positions.append(torch.arange(n_prefix, n_prefix + len(seg)))
        segs.append(torch.full((len(seg),), k, dtype=torch.long))
    n_text = sum(len(s) for s in ids) - n_prefix
    packed = {
        "input_ids": torch.cat(ids),
        "labels": torch.cat(labels).long(),
        "position_ids": torch.cat(positions),
        "segment_ids": torch.cat(segs),
        "mm_token_type_ids": torch.cat(
            [prefix["mm_token_type_ids"][0].long(), torch.zeros(n_text, dtype=torch.long)]
        ),
    }
    for key in ("pixel_values_videos", "video_token_pooling", "video_grids"):
        packed[key] = prefix[key]
    return packed


def encode_packed_clip(
    processor: ProcessorMixin, frames: Frames, qas: Sequence[QA]
) -> dict[str, torch.Tensor]:
    """One packed row for a clip and its QA pairs ``[(messages or question, answer), ...]``.

    Returns unbatched tensors ``input_ids``, ``labels``, ``position_ids``, ``segment_ids``,
    ``mm_token_type_ids`` (all (L,)) and the clip's video tensors (encoded once).
    """
    if not qas:
        raise ValueError(f"{frames.source or 'clip'}: no QA pairs to pack")
    tokenizer = processor.tokenizer
    segments: list[Segment] = []
    for k, (messages, answer) in enumerate(qas, start=1):
        if not answer:
            raise ValueError(f"{frames.source or 'clip'}: QA {k} has an empty answer")
        prompt_ids = prompt_text_ids(processor, messages)
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [im_end_id(tokenizer)]
        segments.append((prompt_ids + answer_ids, [False] * len(prompt_ids) + [True] * len(answer_ids)))
    prefix = encode_video_prefix(processor, frames)
    return pack_segments(processor, prefix, segments, where=frames.source or "clip")


def packed_attention_mask(
    segment_ids: torch.Tensor, mm_token_type_ids: torch.Tensor, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The additive (B, 1, L, L) mask for packed rows (``segment_ids`` -1 = padding).

    Padding queries attend to themselves only, so no softmax row is empty (an all-masked
    row would give NaN); their outputs are never used.
    """
    if segment_ids.shape != mm_token_type_ids.shape or segment_ids.dim() != 2:
        raise ValueError(f"segment_ids {tuple(segment_ids.shape)} and mm_token_type_ids must both be (B, L)")
    length = segment_ids.shape[1]
    q, k = segment_ids[:, :, None], segment_ids[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    allowed = causal & (q >= 0) & (k >= 0) & ((k == 0) | (k == q))
    mm = mm_token_type_ids.bool()
    allowed |= mm[:, :, None] & mm[:, None, :]
    diagonal = torch.eye(length, dtype=torch.bool, device=segment_ids.device)
    allowed |= diagonal & (q < 0)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segment_ids.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def collate_packed(
    examples: Sequence[Mapping[str, torch.Tensor]],
    pad_token_id: int,
    *,
    mask_dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Batch packed rows (right padding) with their 4D additive ``attention_mask``.

    ``mask_dtype`` must be the dtype attention runs in (``torch.bfloat16`` for a bf16 model;
    SDPA rejects a float mask of another dtype).  ``segment_ids`` stays in the batch for
    per-QA bookkeeping; drop it before calling the model.
    """
    if not examples:
        raise ValueError("cannot collate an empty batch")
    pads = {"input_ids": pad_token_id, "labels": IGNORE_INDEX, "position_ids": 0, "segment_ids": -1,
            "mm_token_type_ids": 0}  # fmt: skip
    batch = {key: pad_sequences([ex[key] for ex in examples], value, "right") for key, value in pads.items()}
    batch["attention_mask"] = packed_attention_mask(
        batch["segment_ids"], batch["mm_token_type_ids"], mask_dtype
    )
    batch.update(concat_videos(examples))
    return batch

"""Video clips -> Molmo2 inputs, for generation and for training.

The clip is decoded once by the project's sampler (:func:`videonet_datasets.video.sample_frames`,
the paper's 4 fps / max 64 frames) and handed to ``Molmo2Processor`` as decoded frames plus a
``VideoMetadata`` with ``do_sample_frames=False``: the processor then neither re-samples
(its own rule differs from the paper's) nor decodes (it can only decode through torchcodec).
It writes each frame's timestamp as text before the frame (``"0.2 <frame_start>...``),
computed as ``frames_indices[i] / fps``; the metadata uses a 1 kHz clock so that this
equals the sampler's presentation timestamp to the millisecond, whatever the source's
frame rate or the clip's start offset.

Training examples are built as *generation-prompt ids + answer ids + ``<|im_end|>``*,
tokenised apart, with labels only on the answer and ``<|im_end|>``: rendering the
assistant turn through a chat template is not safe (the hub template inserts a stray
space before it and ``return_assistant_tokens_mask`` comes back empty).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature, ProcessorMixin
from transformers.video_utils import VideoMetadata

from videonet_datasets.video import Frames, sample_frames

logger = logging.getLogger(__name__)

__all__ = [
    "IGNORE_INDEX",
    "VIDEO_KEYS",
    "collate_examples",
    "encode_prompt",
    "encode_training_example",
    "concat_videos",
    "model_offsets_video_pooling",
    "frames_metadata",
    "im_end_id",
    "pad_sequences",
    "processor_frame_size",
    "render_prompt",
    "sample_clip",
    "video_messages",
    "video_normalisation_kwargs",
]

IGNORE_INDEX = -100
#: Keys of the processor output that describe the video (concatenated, not padded, in a batch).
VIDEO_KEYS = ("pixel_values_videos", "video_token_pooling", "video_grids")
_TIMESTAMP_CLOCK_HZ = 1000.0
_TEXT_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "labels")


def processor_frame_size(processor: ProcessorMixin) -> tuple[int, int]:
    """The (height, width) the video processor resizes every frame to."""
    size = processor.video_processor.size
    return int(size["height"]), int(size["width"])


def sample_clip(
    path: str | os.PathLike,
    processor: ProcessorMixin | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    fps: float = 4.0,
    max_frames: int = 64,
    size: int | tuple[int, int] | None = None,
    middle: bool = False,
    threads: int = 0,
) -> Frames:
    """Decode a clip with the project's sampler at the paper's Molmo2 setting (4 fps, max 64).

    Frames are resized while decoding to ``size``, by default the processor's square frame
    size, so 64 frames of a 1080p source are never held at full resolution (the processor
    would squash them to that size anyway).  ``middle=True`` gives the single middle frame
    (the image-bias ablation).
    """
    if size is None and processor is not None:
        size = processor_frame_size(processor)
    if middle:
        return sample_frames(path, start=start, end=end, middle=True, size=size, threads=threads)
    return sample_frames(
        path, fps=fps, max_frames=max_frames, start=start, end=end, size=size, threads=threads
    )


def frames_metadata(frames: Frames) -> VideoMetadata:
    """The ``VideoMetadata`` whose ``frames_indices / fps`` are the sampler's timestamps."""
    if len(frames) == 0:
        raise ValueError(f"{frames.source or 'clip'}: no frames")
    height, width = frames.frames.shape[1:3]
    indices = np.rint(np.asarray(frames.timestamps, dtype=np.float64) * _TIMESTAMP_CLOCK_HZ).astype(np.int64)
    duration = max(float(frames.duration), float(frames.timestamps[-1]))
    return VideoMetadata(
        total_num_frames=int(indices[-1]) + 1,
        fps=_TIMESTAMP_CLOCK_HZ,
        width=int(width),
        height=int(height),
        duration=duration,
        video_backend="videonet.sample_frames",
        frames_indices=indices.tolist(),
    )


def video_messages(question: str, *, with_video: bool = True) -> list[dict[str, Any]]:
    """One user turn: the video, then the question (Molmo2 hoists the video to the front anyway)."""
    content: list[dict[str, Any]] = [{"type": "video"}] if with_video else []
    content.append({"type": "text", "text": question})
    return [{"role": "user", "content": content}]


def render_prompt(processor: ProcessorMixin, messages: Sequence[Mapping[str, Any]] | str) -> str:
    """The generation prompt as text (``<|video|>`` placeholder not yet expanded).

    A plain string is taken as one user turn with one video.
    """
    if isinstance(messages, str):
        messages = video_messages(messages)
    n_videos = sum(
        1
        for m in messages
        if not isinstance(m["content"], str)
        for part in m["content"]
        if part.get("type") == "video"
    )
    if n_videos > 1:
        raise ValueError(f"Molmo2 takes at most one video per sample, the messages have {n_videos}")
    return processor.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def _process(processor: ProcessorMixin, prompt: str, frames: Frames | None) -> BatchFeature:
    has_placeholder = processor.video_token in prompt
    if frames is None:
        if has_placeholder:
            raise ValueError("the prompt has a <|video|> placeholder but no frames were given")
        return processor(text=[prompt], return_tensors="pt")
    if not has_placeholder:
        raise ValueError("frames were given but the prompt has no <|video|> placeholder")
    return processor(
        text=[prompt],
        videos=[frames.frames],
        video_metadata=[frames_metadata(frames)],
        do_sample_frames=False,
        return_tensors="pt",
        **video_normalisation_kwargs(processor),
    )


def video_normalisation_kwargs(processor: ProcessorMixin) -> dict[str, bool]:
    """``do_rescale``/``do_normalize`` = True where the video processor leaves them unset.

    ``Molmo2VideoProcessor`` has no class default for either, so a processor saved without
    them feeds raw 0-255 bytes to a ViT trained on [-1, 1] input; unset (None) can only
    mean "forgotten" for Molmo2.  An explicit False is respected.
    """
    video_processor = processor.video_processor
    fixed = {
        name: True for name in ("do_rescale", "do_normalize") if getattr(video_processor, name, None) is None
    }
    if fixed and not getattr(video_processor, "_videonet_warned", False):
        logger.warning(
            "video processor leaves %s unset; passing True (Molmo2's ViT takes [-1, 1] pixels)", sorted(fixed)
        )
        video_processor._videonet_warned = True
    return fixed


def encode_prompt(
    processor: ProcessorMixin, messages: Sequence[Mapping[str, Any]] | str, frames: Frames | None
) -> BatchFeature:
    """Model inputs for ``generate``: ``input_ids`` (1, L), ``attention_mask``,
    ``mm_token_type_ids`` and, with a video, ``pixel_values_videos``, ``video_token_pooling``,
    ``video_grids``."""
    return _process(processor, render_prompt(processor, messages), frames)


def encode_training_example(
    processor: ProcessorMixin,
    messages: Sequence[Mapping[str, Any]] | str,
    answer: str,
    frames: Frames | None,
) -> dict[str, torch.Tensor]:
    """One supervised example: prompt ids + answer ids + ``<|im_end|>``; labels on the last two.

    Returns unbatched tensors: ``input_ids``, ``labels``, ``attention_mask``,
    ``mm_token_type_ids`` of shape (L,), plus the processor's video tensors.
    """
    if not answer:
        raise ValueError("empty answer: nothing to learn")
    prompt = _process(processor, render_prompt(processor, messages), frames)
    tokenizer = processor.tokenizer
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [im_end_id(tokenizer)]
    prompt_ids = prompt["input_ids"][0]
    n_answer = len(answer_ids)
    example = {
        "input_ids": torch.cat([prompt_ids, torch.tensor(answer_ids, dtype=prompt_ids.dtype)]),
        "labels": torch.cat([torch.full_like(prompt_ids, IGNORE_INDEX), torch.tensor(answer_ids)]),
        "attention_mask": torch.ones(len(prompt_ids) + n_answer, dtype=torch.long),
        "mm_token_type_ids": torch.cat(
            [prompt["mm_token_type_ids"][0].long(), torch.zeros(n_answer, dtype=torch.long)]
        ),
    }
    for key in VIDEO_KEYS:
        if key in prompt:
            example[key] = prompt[key]
    return example


def im_end_id(tokenizer) -> int:
    """The id of ``<|im_end|>``, which closes every answer (and is Molmo2's EOS)."""
    token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise ValueError("the tokenizer has no <|im_end|> token (not a Molmo2/Qwen tokenizer?)")
    return int(token_id)


def pad_sequences(seqs: Sequence[torch.Tensor], value: int, side: str = "right") -> torch.Tensor:
    """Stack 1D tensors into (B, max_len), filling with ``value`` on ``side``."""
    length = max(len(s) for s in seqs)
    out = torch.full((len(seqs), length), value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        if side == "right":
            out[i, : len(s)] = s
        else:
            out[i, length - len(s) :] = s
    return out


@functools.cache
def model_offsets_video_pooling() -> bool:
    """Whether the installed ``transformers`` shifts each video's pooling indices itself.

    Up to 5.24 ``Molmo2Model`` pools a batch's videos with indices into the *flattened* patches
    of all its frames, so the collator must shift each sample's indices; from 5.25 the model adds
    every video's patch offset itself (``get_image_features`` takes ``image_num_crops``) and a
    shifted batch indexes past its patches.  Read off the signature rather than the version
    number, so a backport or a patched install is judged by what it does.
    """
    from transformers.models.molmo2.modeling_molmo2 import Molmo2Model

    return "image_num_crops" in inspect.signature(Molmo2Model.get_image_features).parameters


def concat_videos(examples: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Concatenate the video tensors of separately processed samples into one batch.

    Each sample's ``video_token_pooling`` indexes its own patches.  For a ``transformers`` whose
    Molmo2 expects indices into the *flattened* patches of every frame in the batch
    (:func:`model_offsets_video_pooling` false: up to 5.24) they are shifted by the number of
    patches before the sample (``-1`` padding slots stay ``-1``); newer ones shift them
    themselves.  Samples without a video contribute nothing.
    """
    with_video = [ex for ex in examples if "pixel_values_videos" in ex]
    if not with_video:
        return {}
    patch_shapes = {tuple(ex["pixel_values_videos"].shape[1:]) for ex in with_video}
    if len(patch_shapes) > 1:
        raise ValueError(
            f"samples were processed at different frame sizes: patch shapes {sorted(patch_shapes)}"
        )
    shift = not model_offsets_video_pooling()
    pooling, offset = [], 0
    for ex in with_video:
        idx = ex["video_token_pooling"]
        pooling.append(torch.where(idx >= 0, idx + offset, idx) if shift else idx)
        offset += ex["pixel_values_videos"].shape[0] * ex["pixel_values_videos"].shape[1]
    return {
        "pixel_values_videos": torch.cat([ex["pixel_values_videos"] for ex in with_video]),
        "video_token_pooling": torch.cat(pooling),
        "video_grids": torch.cat([ex["video_grids"].reshape(-1, 3) for ex in with_video]),
    }


def collate_examples(
    examples: Sequence[Mapping[str, torch.Tensor]],
    pad_token_id: int,
    *,
    padding_side: str = "right",
) -> dict[str, torch.Tensor]:
    """Batch examples from :func:`encode_training_example` (or unbatched prompts).

    Pads the text tensors (``labels`` with -100, ``mm_token_type_ids`` with 0) and joins the
    video tensors with :func:`concat_videos`.  Use ``padding_side="left"`` for generation.
    """
    if not examples:
        raise ValueError("cannot collate an empty batch")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    pad_values = {
        "input_ids": pad_token_id,
        "attention_mask": 0,
        "mm_token_type_ids": 0,
        "labels": IGNORE_INDEX,
    }
    batch: dict[str, torch.Tensor] = {}
    for key in _TEXT_KEYS:
        present = [key in ex for ex in examples]
        if not any(present):
            continue
        if not all(present):
            raise ValueError(f"some examples have {key!r} and some do not")
        seqs = [
            ex[key].reshape(-1) if ex[key].dim() <= 1 or ex[key].shape[0] == 1 else None for ex in examples
        ]
        if any(s is None for s in seqs):
            raise ValueError(
                f"{key!r} must be one sequence per example, got shapes {[ex[key].shape for ex in examples]}"
            )
        batch[key] = pad_sequences(seqs, pad_values[key], padding_side)  # type: ignore[arg-type]
    batch.update(concat_videos(examples))
    return batch

"""Clips -> model inputs: decode, encode (packed or one sequence per question), collate.

A training sample is a *clip*: with packing (the paper's App. G.2) its questions share one
sequence and one encoding of the video (:func:`videonet_datasets.molmo2.encode_packed_clip`);
without packing each question is its own sequence with its own copy of the video.  Either
way the optimizer step's batch is counted in clips (the paper's batch of 128).

The attention mask of packed rows is boolean under SDPA (``True`` = may attend): SDPA reads
it exactly like the additive float mask but it is dtype-free (nothing to match against
bf16 activations or autocast) and takes a quarter of the memory.  Under eager attention,
which *adds* the mask to the scores, a boolean mask would be silently wrong, so it stays
additive float in the model's dtype there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from videonet_datasets.molmo2 import (
    answer_positions,
    collate_examples,
    collate_packed,
    encode_packed_clip,
    encode_training_example,
    sample_clip,
)
from videonet_datasets.video import Frames

from .data import ClipRecord, VideoResolver

__all__ = ["ClipEncoder", "Collator", "EncodedClip", "MicroBatch"]


@dataclass
class EncodedClip:
    """One clip's model examples (1 packed row, or one row per question)."""

    uid: str
    examples: list[dict[str, torch.Tensor]]
    skipped: list[str] = field(default_factory=list)  # clips that failed before this one was substituted
    stream_position: tuple[int, int, int] | None = None  # (worker, epoch, rows read) when streaming


class ClipEncoder:
    """Decodes a clip with the project's sampler and encodes its questions for Molmo2."""

    def __init__(
        self,
        processor: Any,
        resolver: VideoResolver,
        *,
        fps: float = 4.0,
        max_frames: int = 64,
        packing: bool = True,
        decode_threads: int = 1,
    ) -> None:
        self.processor = processor
        self.resolver = resolver
        self.fps = fps
        self.max_frames = max_frames
        self.packing = packing
        self.decode_threads = decode_threads

    def frames(self, record: ClipRecord) -> Frames:
        return sample_clip(
            self.resolver(record.video),
            self.processor,
            fps=self.fps,
            max_frames=self.max_frames,
            threads=self.decode_threads,
        )

    def encode(self, record: ClipRecord, frames: Frames | None = None) -> list[dict[str, torch.Tensor]]:
        frames = self.frames(record) if frames is None else frames
        qas = [(qa.question, qa.answer) for qa in record.qas]
        if self.packing:
            return [encode_packed_clip(self.processor, frames, qas)]
        return [encode_training_example(self.processor, q, a, frames) for q, a in qas]


@dataclass
class MicroBatch:
    """One forward pass worth of clips, plus the counts the training loop needs."""

    inputs: dict[str, torch.Tensor]
    uids: list[str]
    n_answer_tokens: int  # labelled positions: the loss is normalised by their global sum
    n_tokens: int  # real (non-padding) tokens
    n_padded_tokens: int  # rows x longest row: what the model computes on
    skipped: list[str] = field(default_factory=list)
    stream_positions: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def n_clips(self) -> int:
        return len(self.uids)

    def to(self, device: torch.device | str) -> MicroBatch:
        self.inputs = {k: v.to(device, non_blocking=True) for k, v in self.inputs.items()}
        return self

    def pin_memory(self) -> MicroBatch:
        """Called by ``DataLoader(pin_memory=True)``."""
        self.inputs = {k: v.pin_memory() for k, v in self.inputs.items()}
        return self


class Collator:
    """``EncodedClip`` s -> :class:`MicroBatch` (packed rows or padded separate sequences)."""

    def __init__(
        self,
        pad_token_id: int,
        *,
        packing: bool = True,
        attn_implementation: str = "sdpa",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.pad_token_id = pad_token_id
        self.packing = packing
        self.bool_mask = attn_implementation == "sdpa"
        self.dtype = dtype

    def __call__(self, clips: Sequence[EncodedClip]) -> MicroBatch:
        if not clips:
            raise ValueError("cannot collate an empty batch of clips")
        examples = [ex for clip in clips for ex in clip.examples]
        if self.packing:
            mask_dtype = torch.bfloat16 if self.bool_mask else self.dtype
            inputs = collate_packed(examples, self.pad_token_id, mask_dtype=mask_dtype)
            real = inputs.pop("segment_ids") >= 0
            if self.bool_mask:
                inputs["attention_mask"] = inputs["attention_mask"] == 0
        else:
            inputs = collate_examples(examples, self.pad_token_id)
            real = inputs["attention_mask"].bool()
        if self.dtype != torch.float32 and "pixel_values_videos" in inputs:
            inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(self.dtype)
        return MicroBatch(
            inputs=inputs,
            uids=[c.uid for c in clips],
            n_answer_tokens=int(answer_positions(inputs["labels"]).sum()),
            n_tokens=int(real.sum()),
            n_padded_tokens=int(real.numel()),
            skipped=[s for c in clips for s in c.skipped],
            stream_positions=[c.stream_position for c in clips if c.stream_position is not None],
        )

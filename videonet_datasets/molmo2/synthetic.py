"""Synthetic clips for tiny-model tests: a square that moves left or right.

The two directions are mirror images in time *and* space, so a text-only model cannot
tell them apart: a model that learns to answer "which way?" on them is using the pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from videonet_datasets.video import write_video

__all__ = ["moving_square_frames", "write_moving_square_clip"]


def moving_square_frames(
    direction: str = "right", *, num_frames: int = 20, size: int = 56, square: int = 12
) -> np.ndarray:
    """(num_frames, size, size, 3) uint8: a yellow square crossing a grey frame."""
    if direction not in ("left", "right"):
        raise ValueError(f"direction must be 'left' or 'right', got {direction!r}")
    if square >= size:
        raise ValueError(f"square ({square}) must be smaller than the frame ({size})")
    frames = np.full((num_frames, size, size, 3), 48, dtype=np.uint8)
    top = (size - square) // 2
    travel = size - square
    for i in range(num_frames):
        x = round(i * travel / max(1, num_frames - 1))
        if direction == "left":
            x = travel - x
        frames[i, top : top + square, x : x + square] = (250, 210, 40)
    return frames


def write_moving_square_clip(
    path: str | os.PathLike,
    direction: str = "right",
    *,
    seconds: float = 2.0,
    fps: float = 10.0,
    size: int = 56,
) -> Path:
    """An H.264 clip of :func:`moving_square_frames` (``size`` must be even)."""
    frames = moving_square_frames(direction, num_frames=max(2, round(seconds * fps)), size=size)
    return write_video(path, list(frames), fps)

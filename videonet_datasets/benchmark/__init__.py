"""Build VideoNet's evaluation sets (MC and binary k-shot) as a 🤗 dataset directory."""

from __future__ import annotations

import os
from pathlib import Path

from videonet_datasets.benchmark.schema import ALL_CONFIGS, BINARY_CONFIGS, BINARY_RANDOM_CONFIGS, MC_CONFIG

__all__ = ["ALL_CONFIGS", "BINARY_CONFIGS", "BINARY_RANDOM_CONFIGS", "MC_CONFIG", "resolve_video"]


def resolve_video(dataset_root: str | os.PathLike, video: str) -> Path:
    """Local path of a row's ``video``/``example_videos`` entry (relative to the root)."""
    p = Path(video)
    return p if p.is_absolute() else Path(dataset_root) / p

"""Writing one config split of a benchmark directory (shared by the builder and the release importer)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import datasets

from videonet_datasets.benchmark.schema import features_for

__all__ = ["write_config"]


def write_config(rows: list[dict[str, Any]], config: str, path: Path) -> int:
    """Write ``rows`` with ``config``'s features as one parquet file, atomically; returns its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = datasets.Dataset.from_list(rows, features=features_for(config))
    tmp = path.with_name(f".{path.name}.tmp")
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar per tiny file is noise
    try:
        ds.to_parquet(str(tmp))
    finally:
        if enabled:
            datasets.enable_progress_bars()
    os.replace(tmp, path)
    return path.stat().st_size

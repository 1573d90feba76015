"""The weakly-labeled training-data pipeline (VideoNet paper §4.1): ``videonet build-train``.

One module per stage - ``manifest`` (inputs), ``queries`` (crawler queries), ``download``
(yt-dlp), ``localize`` (VLM / offline proposals / precomputed windows), ``transcribe``
(WhisperX / faster-whisper), ``match`` (action names in titles and speech), ``filters``
(the paper's three filters), ``qa`` (3 QA pairs per clip), ``balance`` (caps, semantic
resampling), ``output`` (the 🤗 dataset and its card), ``groundtruth`` (label precision) -
tied together by ``stages`` and run by ``runner`` (local processes) or ``ray_engine``.
"""

from __future__ import annotations

import importlib
from typing import Any

from videonet_datasets.train_data.filters import FILTERS

__all__ = ["FILTERS", "AsrConfig", "BuildReport", "BuildConfig", "build_train"]

_LAZY = {
    "AsrConfig": "config",
    "BuildConfig": "config",
    "BuildReport": "runner",
    "build_train": "runner",
}


def __getattr__(name: str) -> Any:
    # Lazy: importing a light module (``filters``, ``match``) must not pull in the runner's
    # dependencies (datasets, pyarrow, the download and model code).
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

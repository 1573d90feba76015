"""``load_dataset`` for local dataset directories, without 🤗 datasets' stale-cache trap.

datasets 5.2 keys the Arrow cache of a local folder whose ``README.md`` declares
``configs`` by the folder's name, the config's file *patterns* and the card's
``dataset_info`` - not by the files' contents.  Rebuilding a dataset in place (or
loading a second folder of the same name and layout) can therefore return the rows of
the first build.  The builders here change ``dataset_info`` whenever split sizes or
byte counts change, but a same-size rebuild would still be served stale, so the
project's own readers key the cache by the data files themselves.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["data_fingerprint", "load_local_dataset"]


def data_fingerprint(root: str | os.PathLike) -> str:
    """sha256 over (relative path, size, mtime) of every parquet/arrow/json/csv file and
    the card under ``root``: changes whenever any data file is rewritten."""
    root = Path(root)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and (
            p.suffix in {".parquet", ".arrow", ".jsonl", ".json", ".csv"} or p.name == "README.md"
        ):
            if any(part.startswith(".") for part in p.relative_to(root).parts):
                continue  # work folders (.build/, caches) are not data
            st = p.stat()
            h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def load_local_dataset(root: str | os.PathLike, config: str | None = None, **kwargs: Any):
    """``datasets.load_dataset(root, config, **kwargs)`` with the cache keyed by
    :func:`data_fingerprint` (streaming needs no cache and is passed through)."""
    import datasets

    if kwargs.get("streaming") or "cache_dir" in kwargs:
        return datasets.load_dataset(str(root), config, **kwargs)
    base = Path(os.environ.get("HF_DATASETS_CACHE") or datasets.config.HF_DATASETS_CACHE)
    cache_dir = base / "videonet-local" / data_fingerprint(root)
    return datasets.load_dataset(str(root), config, cache_dir=str(cache_dir), **kwargs)

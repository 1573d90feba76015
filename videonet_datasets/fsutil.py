"""Small shared helpers: atomic writes, stable hashing and seeded per-item randomness.

Long jobs in this project never leave a half-written file under its final name (write
to a temporary sibling, then ``os.replace``), and every random choice is derived from
``(seed, item key)`` rather than from a shared stream, so adding or removing one item
never reshuffles the others - rebuilt datasets stay byte-identical where nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "file_fingerprint",
    "labelled_path",
    "sha256_file",
    "stable_hash",
    "stable_rng",
    "swap_in_directory",
]


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(p)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process and Python version
    (``hash()`` of a str is salted per process)."""
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little")


def stable_rng(seed: int, *key: object) -> np.random.Generator:
    """A generator for one item, independent of every other item's draws."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_hash(*key)])


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_fingerprint(path: str | os.PathLike, edge: int = 1 << 20) -> str:
    """sha256 of the size, the first and the last MiB: identifies a video file cheaply
    (hashing every byte of a large crawl costs minutes) and the same on every machine."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as f:
        h.update(f.read(edge))
        if size > 2 * edge:
            f.seek(size - edge)
            h.update(f.read(edge))
    return h.hexdigest()[:32]


def swap_in_directory(staging: Path, final: Path) -> None:
    """Replace ``final`` by the complete directory ``staging``.

    The old directory is renamed aside first and removed only after the new one is in
    place, so at every instant either the old complete dataset or the new complete
    dataset sits under ``final`` (never a mixture).
    """
    staging, final = Path(staging), Path(final)
    old = final.with_name(f".{final.name}.old{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(staging, final)
    except BaseException:
        if old.exists() and not final.exists():
            os.replace(old, final)
        raise
    if old.exists():
        shutil.rmtree(old)


def labelled_path(spec: str | os.PathLike) -> tuple[str | None, Path]:
    """``NAME=PATH`` -> (NAME, PATH); a plain path -> (None, path).

    Commands that take several runs (``videonet report``, ``explore``, ``export-results``)
    let users name each one.  A path that exists is never split, so a folder whose name
    contains "=" still works unlabelled."""
    text = os.fspath(spec)
    if "=" in text and not Path(text).exists():
        label, _, text = text.partition("=")
        return label, Path(text)
    return None, Path(text)

"""Content hashes of the files to publish, in the two forms the Hub reports.

The Hub lists a repo file with its git blob id (``sha1("blob <size>\\0" + bytes)``) and,
for LFS/Xet-stored files, the sha256 of its content.  Which files the Hub stores in LFS
depends on the repo's ``.gitattributes`` and on size, so both hashes are computed (in one
read) and a remote file matches a local one when either applicable hash agrees.  That is
what lets a second ``videonet publish`` of unchanged data upload nothing, and an
interrupted one resume with only the missing files.

Hashing a large training set takes minutes, so digests are cached next to the source
files (a hidden JSON file keyed by path, size and modification time; never uploaded).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from videonet_datasets.fsutil import atomic_write_json

__all__ = ["CACHE_FILE", "FileDigest", "digest_files", "fingerprint"]

log = logging.getLogger(__name__)

CACHE_FILE = ".videonet-publish-hashes.json"
_CACHE_VERSION = 1


@dataclass(frozen=True)
class FileDigest:
    path: str  # relative to the folder, "/"-separated (= path in the repo)
    size: int
    sha256: str
    git_sha1: str


def _hash_file(path: Path, size: int, chunk: int = 1 << 20) -> tuple[str, str]:
    sha = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            sha.update(block)
            git.update(block)
    return sha.hexdigest(), git.hexdigest()


def _load_cache(path: Path | None) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}  # a damaged cache only costs re-hashing
    return doc.get("files", {}) if doc.get("version") == _CACHE_VERSION else {}


def digest_files(
    root: str | os.PathLike,
    rel_paths: Iterable[str],
    *,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, FileDigest]:
    """sha256 + git blob id of every ``root/rel_path``.

    ``cache`` (a JSON file) stores digests keyed by relative path with the file's size and
    ``mtime_ns``; unchanged files are not re-read.  Cache write failures (read-only
    dataset folder) are logged and ignored.
    """
    root = Path(root)
    cache_path = Path(cache) if cache is not None else None
    cached = _load_cache(cache_path)
    rels = sorted(rel_paths)
    stats = {rel: (root / rel).stat() for rel in rels}
    todo = [r for r in rels if not _cache_hit(cached.get(r), stats[r])]
    out: dict[str, FileDigest] = {}
    for rel in rels:
        if rel not in todo:
            c = cached[rel]
            out[rel] = FileDigest(rel, stats[rel].st_size, c["sha256"], c["git_sha1"])
    if todo:
        from tqdm.auto import tqdm

        total = sum(stats[r].st_size for r in todo)
        with tqdm(total=total, unit="B", unit_scale=True, desc="hashing files", disable=not progress) as bar:
            for rel in todo:
                sha, git = _hash_file(root / rel, stats[rel].st_size)
                out[rel] = FileDigest(rel, stats[rel].st_size, sha, git)
                bar.update(stats[rel].st_size)
        if cache_path is not None:
            new = dict(cached)
            for rel in todo:
                new[rel] = {**asdict(out[rel]), "mtime_ns": stats[rel].st_mtime_ns}
            try:
                atomic_write_json(cache_path, {"version": _CACHE_VERSION, "files": new})
            except OSError as e:
                log.info("could not write the hash cache %s (%s); next run re-hashes", cache_path.name, e)
    return out


def _cache_hit(entry: dict | None, st: os.stat_result) -> bool:
    return bool(entry) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns


def fingerprint(digests: Iterable[FileDigest]) -> str:
    """One short id for a set of files (path + content): equal iff every file is equal."""
    h = hashlib.sha256()
    for d in sorted(digests, key=lambda d: d.path):
        h.update(f"{d.path}\0{d.sha256}\n".encode())
    return h.hexdigest()[:16]

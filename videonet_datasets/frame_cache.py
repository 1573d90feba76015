"""Decode each clip once: a cache of :func:`videonet_datasets.video.sample_frames` results.

A full VideoNet run feeds ~84,000 clip inputs built from 5,000 distinct clips (9 tasks; the
k-shot examples repeat in every question that shows them), so with a frame preset most
decoding is repeated work.  This cache sits in front of the one sampler and returns the same
frames bit for bit (``tests/test_frame_cache.py``):

* **key**: the clip file's identity (resolved path, size, modification time in ns), the
  sampler's arguments and the output size - so an edited or replaced clip is decoded again,
  and a different preset never sees another preset's frames - and the sampler's
  ``SAMPLER_VERSION``, so frames stored by a sampler that read files differently are
  decoded again;
* **memory**: an LRU bounded in bytes (frames are uint8 and dominate the size);
* **disk** (optional): one ``.npz`` per entry under a directory, shared by the tasks and the
  processes of one run and by later runs; written atomically (a reader never sees half an
  entry), bounded in bytes (least recently used entries go first), and an unreadable entry
  is a miss that gets rewritten, never an error.

Cached arrays are read-only: a caller that wants to change frames copies them first, so one
caller can never alter what the next one gets.

The process-wide cache (:func:`default_cache`) is configured by environment variables, so
that lmms-eval's worker processes, which the toolkit does not start itself, share it:
``VIDEONET_FRAME_CACHE`` (a directory for the disk cache; ``off`` disables caching
altogether), ``VIDEONET_FRAME_CACHE_MEMORY_MB`` (default 1024) and
``VIDEONET_FRAME_CACHE_DISK_MB`` (default 20480).  ``videonet eval --frame-cache DIR`` and
``--no-frame-cache`` set them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from videonet_datasets import __version__
from videonet_datasets.video import SAMPLER_VERSION, Frames, PathLike, sample_frames

log = logging.getLogger(__name__)

__all__ = [
    "ENV_DIR",
    "ENV_DISK_MB",
    "ENV_MEMORY_MB",
    "DEFAULT_MEMORY_MB",
    "CacheStats",
    "FrameCache",
    "cached_sample_frames",
    "default_cache",
    "reset_default_cache",
]

ENV_DIR = "VIDEONET_FRAME_CACHE"
ENV_MEMORY_MB = "VIDEONET_FRAME_CACHE_MEMORY_MB"
#: The memory part's default budget: a GPU box's RAM minus the model's share, conservatively.  A
#: full VideoNet run's frames take ~10 GB at 320x240 (1 fps), so the models answer each clip's
#: questions together (:mod:`videonet_datasets.feed_order`) instead of relying on the cache size.
DEFAULT_MEMORY_MB = 1024
ENV_DISK_MB = "VIDEONET_FRAME_CACHE_DISK_MB"
#: Values of ``VIDEONET_FRAME_CACHE`` that turn caching off.
OFF_VALUES = ("0", "off", "no", "false", "none")
#: Bump when the entry layout changes; entries of another format are misses.
FORMAT = 1
_SUFFIX = ".npz"


@dataclass
class CacheStats:
    """What the cache did; printed at the end of an evaluation."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    disk_writes: int = 0
    disk_evictions: int = 0
    unreadable: int = 0  # disk entries that could not be read (treated as misses, rewritten)
    decoded_again: int = 0  # misses on entries this cache had decoded before and evicted

    @property
    def requests(self) -> int:
        return self.memory_hits + self.disk_hits + self.misses

    def summary(self) -> str:
        n = self.requests
        if not n:
            return "frame cache: no clips decoded"
        hit = (self.memory_hits + self.disk_hits) / n
        extra = f", {self.unreadable} unreadable entries rewritten" if self.unreadable else ""
        if self.decoded_again:
            # say it: a run whose frames outgrow the memory budget silently decodes clips again
            extra += (
                f"; {self.decoded_again} of the decodes were clips evicted from memory before their next use "
                f"(--frame-cache DIR keeps them on disk, {ENV_MEMORY_MB} raises the budget)"
            )
        return (
            f"frame cache: {n} clip inputs, {self.misses} decoded, {self.memory_hits} from memory, "
            f"{self.disk_hits} from disk ({100 * hit:.1f}% hits){extra}"
        )


def _normalise(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_normalise(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _token(value: Any) -> Any:
    """``value`` with its type, for an exact memo key (``True == 1 == 1.0`` in a dict)."""
    if isinstance(value, tuple):
        return tuple(_token(v) for v in value)
    return (value.__class__, value)


def _nbytes(frames: Frames) -> int:
    return sum(v.nbytes for v in vars(frames).values() if isinstance(v, np.ndarray))


def _freeze(frames: Frames) -> Frames:
    for value in vars(frames).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return frames


class FrameCache:
    """Memory LRU plus an optional disk cache in front of :func:`sample_frames`.

    ``memory_bytes=0`` keeps nothing in memory; ``disk_dir=None`` keeps nothing on disk.
    Thread-safe (lmms-eval models may decode from threads); processes share the disk part.
    """

    def __init__(
        self,
        memory_bytes: int = 1024 * 2**20,
        disk_dir: str | os.PathLike | None = None,
        disk_bytes: int = 20 * 2**30,
    ) -> None:
        if memory_bytes < 0 or disk_bytes < 0:
            raise ValueError("cache sizes must be >= 0")
        self.memory_bytes = int(memory_bytes)
        self.disk_dir = Path(disk_dir) if disk_dir is not None else None
        self.disk_bytes = int(disk_bytes)
        self.stats = CacheStats()
        self._memory: OrderedDict[str, tuple[Frames, int]] = OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()
        self._disk_used: int | None = None  # scanned lazily; re-scanned when over the cap
        self._decoded: set[str] = set()  # keys decoded by this cache (64 bytes each: 5,000 clips ~0.5 MB)
        # (path as given, settings) -> (device, inode, size, mtime ns, key): a hit would otherwise
        # resolve the path (``realpath`` lstats every component) and hash the settings every time -
        # a run asks for each clip ~17 times.  One ``stat`` per request still checks the file: a
        # clip that was replaced, edited or touched has another identity and gets a new key.
        self._keys: dict[tuple[Any, ...], tuple[int, int, int, int, str]] = {}
        if self.disk_dir is not None:
            self.disk_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ public

    def key(self, path: PathLike, **kwargs: Any) -> str:
        """The entry key of ``sample_frames(path, **kwargs)`` for the file as it is now."""
        given = os.fspath(path)
        st = os.stat(given)  # FileNotFoundError for a missing clip, as the sampler raises
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        # the settings as passed, with their types (1 and 1.0 are equal but hashed apart below);
        # only a memo key: another order or spelling of the same settings is another memo entry
        memo_key: tuple[Any, ...] | None = (given, *[(k, _token(v)) for k, v in kwargs.items()])
        try:
            memo = self._keys.get(memo_key)  # type: ignore[arg-type]
        except TypeError:  # a setting that cannot be hashed (a list): no memo, the key is computed
            memo_key = memo = None
        if memo is not None and memo[:4] == identity:
            return memo[4]
        settings = {k: _normalise(v) for k, v in sorted(kwargs.items()) if k != "threads"}
        resolved = os.path.realpath(given)
        blob = json.dumps(
            [FORMAT, __version__, SAMPLER_VERSION, resolved, st.st_size, st.st_mtime_ns, settings],
            sort_keys=True,
        )
        key = hashlib.sha256(blob.encode()).hexdigest()
        if memo_key is not None:
            if len(self._keys) > 200_000:
                self._keys.clear()
            self._keys[memo_key] = (*identity, key)
        return key

    def sample_frames(self, path: PathLike, **kwargs: Any) -> Frames:
        """``video.sample_frames(path, **kwargs)``, decoded at most once per cache."""
        frames = self._get(path, **kwargs)
        # the same file reached through another path (a symlink) says which path was asked
        return frames if frames.source == str(path) else replace(frames, source=str(path))

    def _get(self, path: PathLike, **kwargs: Any) -> Frames:
        key = self.key(path, **kwargs)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                self.stats.memory_hits += 1
                return hit[0]
        frames = self._read_disk(key)
        if frames is not None:
            self.stats.disk_hits += 1
        else:
            frames = _freeze(sample_frames(path, **kwargs))
            self._count_decode(key)
            self._write_disk(key, frames)
        self._remember(key, frames)
        return frames

    def _count_decode(self, key: str) -> None:
        with self._lock:
            self.stats.misses += 1
            if key in self._decoded:
                self.stats.decoded_again += 1
            else:
                self._decoded.add(key)

    def contains(self, key: str) -> bool:
        """Whether ``key`` is cached (in memory, or on disk)."""
        with self._lock:
            if key in self._memory:
                return True
        return self.disk_dir is not None and self.entry_path(key).exists()

    def put(self, key: str, frames: Frames, path: PathLike | None = None) -> Frames:
        """Store frames decoded elsewhere (a prefetch worker) under ``key``; counted as decoded."""
        frames = _freeze(frames)
        self._count_decode(key)
        self._write_disk(key, frames)
        self._remember(key, frames)
        if path is not None and frames.source != str(path):
            frames = replace(frames, source=str(path))
        return frames

    @property
    def memory_used(self) -> int:
        """Bytes of frames held in memory now."""
        return self._memory_used

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()
            self._memory_used = 0

    # ------------------------------------------------------------------ memory

    def _remember(self, key: str, frames: Frames) -> None:
        size = _nbytes(frames)
        if size > self.memory_bytes:
            return
        with self._lock:
            if key in self._memory:
                return
            self._memory[key] = (frames, size)
            self._memory_used += size
            while self._memory_used > self.memory_bytes:
                _, (_, dropped) = self._memory.popitem(last=False)
                self._memory_used -= dropped

    # ------------------------------------------------------------------ disk

    def entry_path(self, key: str) -> Path:
        """Where the disk entry of ``key`` lives (whether or not it exists)."""
        assert self.disk_dir is not None
        return self.disk_dir / key[:2] / f"{key}{_SUFFIX}"

    def _read_disk(self, key: str) -> Frames | None:
        if self.disk_dir is None:
            return None
        entry = self.entry_path(key)
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as z:
                meta = json.loads(bytes(z["__meta__"]).decode())
                arrays = {name: z[name] for name in z.files if name != "__meta__"}
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            frames = Frames(**arrays, **meta["scalars"])
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            log.warning("frame cache: %s is unreadable (%s); decoding again", entry, e)
            self.stats.unreadable += 1
            return None
        try:
            os.utime(entry)  # recently used: evicted last
        except OSError:
            pass
        return _freeze(frames)

    def _write_disk(self, key: str, frames: Frames) -> None:
        if self.disk_dir is None:
            return
        arrays: dict[str, np.ndarray] = {}
        scalars: dict[str, Any] = {}
        for f in fields(frames):
            value = getattr(frames, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                scalars[f.name] = _normalise(value)
        meta = json.dumps({"format": FORMAT, "scalars": scalars}).encode()
        entry = self.entry_path(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, __meta__=np.frombuffer(meta, dtype=np.uint8), **arrays)
            os.replace(tmp, entry)  # atomic: readers see the old entry or the whole new one
        except OSError as e:
            log.warning("frame cache: could not write %s (%s); continuing without it", entry, e)
            tmp.unlink(missing_ok=True)
            return
        self.stats.disk_writes += 1
        written = entry.stat().st_size
        if self._disk_used is None:
            self._disk_used = self._scan_disk()
        else:
            self._disk_used += written
        if self._disk_used > self.disk_bytes:
            self._evict()

    def _entries(self) -> list[tuple[float, int, Path]]:
        assert self.disk_dir is not None
        out = []
        for p in self.disk_dir.glob(f"*/*{_SUFFIX}"):
            try:
                st = p.stat()
            except OSError:  # removed by another process meanwhile
                continue
            out.append((st.st_mtime, st.st_size, p))
        return out

    def _scan_disk(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> None:
        """Remove least recently used entries until the disk part is within its cap
        (re-scanned: other processes write to the same directory)."""
        entries = sorted(self._entries())
        used = sum(size for _, size, _ in entries)
        for _, size, p in entries:
            if used <= self.disk_bytes:
                break
            try:
                p.unlink()
            except OSError:
                continue
            used -= size
            self.stats.disk_evictions += 1
        self._disk_used = used


# ---------------------------------------------------------------------- the process-wide cache

_DEFAULT: FrameCache | None = None
_DEFAULT_LOCK = threading.Lock()


def _env_mb(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default * 2**20
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number of megabytes") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r}: must be >= 0")
    return int(value * 2**20)


def default_cache() -> FrameCache | None:
    """The cache configured by the environment (module docstring); None when turned off."""
    global _DEFAULT
    if os.environ.get(ENV_DIR, "").strip().lower() in OFF_VALUES:
        return None
    cache = _DEFAULT
    if cache is not None:  # every clip input asks: no lock once the cache exists
        return cache
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            disk = os.environ.get(ENV_DIR, "").strip() or None
            _DEFAULT = FrameCache(
                memory_bytes=_env_mb(ENV_MEMORY_MB, DEFAULT_MEMORY_MB),
                disk_dir=disk,
                disk_bytes=_env_mb(ENV_DISK_MB, 20480),
            )
        return _DEFAULT


def reset_default_cache() -> None:
    """Forget the process-wide cache (tests; a changed environment)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        _DEFAULT = None


def cached_sample_frames(path: PathLike, **kwargs: Any) -> Frames:
    """:func:`sample_frames` through the process-wide cache (or directly when it is off)."""
    cache = default_cache()
    if cache is None:
        return sample_frames(path, **kwargs)
    return cache.sample_frames(path, **kwargs)

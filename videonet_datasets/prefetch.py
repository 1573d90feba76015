"""Keep the model busy: decode the next clips in worker processes while it answers.

A model that knows its questions in advance (the project's lmms-eval models get every
request at once) hands the clip inputs, in the order it will need them, to a
:class:`Prefetcher`; worker processes decode up to ``lookahead`` of them ahead of the
consumer, and each result lands in the :class:`~videonet_datasets.frame_cache.FrameCache`
(so a clip is still decoded once per run).  The consumer asks with :meth:`Prefetcher.frames`
exactly as it would ask the cache - same frames, same errors:

* a worker's failure is not trusted to travel between processes: the input is decoded again
  in the consumer, which raises the sampler's own error for it (``FileNotFoundError``,
  :class:`~videonet_datasets.video.VideoDecodeError`), and only for that input;
* a crashed worker (a broken pool) turns prefetching off for the rest of the run; decoding
  goes on in the consumer;
* leaving the ``with`` block - normally or on an exception - cancels what is queued and
  waits for the workers to exit: no orphaned processes.

Workers are started with ``spawn`` (PyAV/FFmpeg state and the model's threads are not safe
to ``fork``), so each pays one import of the sampler at start-up.

lmms-eval's own backends (openai, vllm, ...) ask for one document at a time, in an order their
``Collator`` chooses, so no "next question" is known.  What is known, once a task's documents
are loaded, is the *set* of its clips: :class:`CacheWarmer` decodes that set in worker
processes in the background, into the process's cache, while the backend works.  It is opt-in
(``VIDEONET_WARM_WORKERS=N``, ``videonet eval --warm-workers N``; the tasks start it from
``process_docs`` when the frame preset is known, i.e. ``--preset``), bounded (``lookahead``
clips in flight; without a disk cache it stops once the memory cache is half full, so warmed
clips never evict each other before use - what it left is counted), a request for a clip in
flight waits for that decode instead of decoding it twice, failures are the consumer's (it
decodes the input itself and raises the sampler's error), and it shuts its workers down at
exit or on :meth:`CacheWarmer.close`.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from videonet_datasets.frame_cache import FrameCache, cached_sample_frames, default_cache
from videonet_datasets.video import Frames, PathLike, sample_frames

log = logging.getLogger(__name__)

__all__ = [
    "ENV_WARM_WORKERS",
    "CacheWarmer",
    "Prefetcher",
    "WorkerFailed",
    "decode",
    "stop_warming",
    "warm",
    "warm_frames",
    "warmer",
]

ENV_WARM_WORKERS = "VIDEONET_WARM_WORKERS"


class WorkerFailed(RuntimeError):
    """A worker could not decode an input (its message names the sampler's error)."""


def decode(path: str, kwargs: Mapping[str, Any]) -> Frames:
    """What a worker runs (module level, so that ``spawn`` can import it).

    Errors travel back as :class:`WorkerFailed` with the original's text: not every exception
    survives pickling (one that does not would break the whole pool), and the consumer
    decodes a failed input again anyway, to raise the sampler's own error."""
    try:
        return sample_frames(path, **dict(kwargs))
    except Exception as e:
        raise WorkerFailed(f"{type(e).__name__}: {e}") from None


class Prefetcher:
    """Decode ``inputs`` (``(path, sampler kwargs)`` in consumption order) ahead of the consumer.

    ``workers=0`` decodes nothing ahead (the cache alone).  ``lookahead`` bounds the clips
    decoded but not yet consumed, and with it the memory they hold.
    """

    def __init__(
        self,
        cache: FrameCache,
        inputs: Sequence[tuple[PathLike, Mapping[str, Any]]],
        workers: int = 1,
        lookahead: int = 8,
    ) -> None:
        if workers < 0 or lookahead < 1:
            raise ValueError("workers must be >= 0 and lookahead >= 1")
        self.cache = cache
        self.inputs = [(str(p), dict(kw)) for p, kw in inputs]
        self.workers = workers
        self.lookahead = lookahead
        self.prefetched = 0  # inputs served from a worker's decode
        self.retried = 0  # inputs a worker failed on, decoded again here
        self._next = 0  # next input to consider submitting
        self._inflight: dict[str, Future] = {}
        self._pool: ProcessPoolExecutor | None = None

    # ------------------------------------------------------------------ context

    def __enter__(self) -> Prefetcher:
        if self.workers > 0 and self.inputs:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            self._top_up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel what is queued and wait for the workers to exit (idempotent)."""
        pool, self._pool = self._pool, None
        for fut in self._inflight.values():
            fut.cancel()
        self._inflight.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ consumer

    def frames(self, path: PathLike, **kwargs: Any) -> Frames:
        """The frames of one input: ready from a worker, in the cache, or decoded now."""
        key = self.cache.key(path, **kwargs)
        fut = self._inflight.pop(key, None)
        if fut is not None:
            try:
                frames = fut.result()
            except BrokenProcessPool:
                log.warning("prefetch: a worker process died; decoding in this process from now on")
                self.close()
            except WorkerFailed as e:  # the sampler's error, raised again below for this input only
                log.debug("prefetch: %s failed in a worker (%s); decoding here", path, e)
                self.retried += 1
            else:
                self.prefetched += 1
                frames = self.cache.put(key, frames, path)
                self._top_up()  # after the put: a repeat of this clip is a cache hit, not resubmitted
                return frames
        try:
            return self.cache.sample_frames(path, **kwargs)
        finally:
            self._top_up()

    def _top_up(self) -> None:
        """Submit the next inputs that are neither cached nor in flight, up to ``lookahead``."""
        if self._pool is None:
            return
        while len(self._inflight) < self.lookahead and self._next < len(self.inputs):
            path, kwargs = self.inputs[self._next]
            self._next += 1
            try:
                key = self.cache.key(path, **kwargs)
            except OSError:  # a missing clip: the consumer reports it when it gets there
                continue
            if key in self._inflight or self.cache.contains(key):
                continue
            try:
                self._inflight[key] = self._pool.submit(decode, path, kwargs)
            except BrokenProcessPool:
                log.warning("prefetch: the worker pool is broken; decoding in this process from now on")
                self.close()
                return


class CacheWarmer:
    """Decode a known set of inputs into ``cache`` in background worker processes.

    For consumers whose order is unknown (lmms-eval's own backends): :meth:`add` queues inputs
    (``(path, sampler kwargs)``; repeats and cached ones are skipped), a thread of this process
    keeps at most ``lookahead`` of them decoding in ``workers`` processes and stores each result
    in the cache.  :meth:`frames` is the consumer's call: a clip in flight is waited for, anything
    else comes from the cache (decoded there on a miss).  ``memory_fraction``: without a disk
    cache, no new input is started once the memory cache holds this share of its budget.
    """

    def __init__(
        self, cache: FrameCache, workers: int = 1, lookahead: int | None = None, memory_fraction: float = 0.5
    ) -> None:
        if workers < 1:
            raise ValueError("a CacheWarmer needs workers >= 1")
        self.cache = cache
        self.workers = workers
        self.lookahead = lookahead or 2 * workers
        if self.lookahead < 1:
            raise ValueError("lookahead must be >= 1")
        self.memory_fraction = memory_fraction
        self.warmed = 0  # inputs decoded by a worker and stored
        self.failed = 0  # inputs a worker could not decode (the consumer decodes them itself)
        self.left = 0  # inputs not warmed because the memory cache was full enough
        self._queue: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()  # key -> input
        self._seen: set[str] = set()
        self._inflight: dict[str, Future] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._thread = threading.Thread(target=self._run, name="videonet-cache-warmer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public

    def add(self, inputs: Iterable[tuple[PathLike, Mapping[str, Any]]]) -> int:
        """Queue inputs to warm; returns how many were new."""
        new = 0
        with self._lock:
            if self._closed:
                return 0
            for path, kwargs in inputs:
                kw = dict(kwargs)
                try:
                    key = self.cache.key(path, **kw)
                except OSError:  # a missing clip: its request reports it
                    continue
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._queue[key] = (str(path), kw)
                new += 1
            self._lock.notify_all()
        return new

    def frames(self, path: PathLike, **kwargs: Any) -> Frames:
        """The frames of one input: waited for when in flight, else from the cache."""
        key = self.cache.key(path, **kwargs)
        with self._lock:
            fut = self._inflight.get(key)
            if fut is None:
                self._queue.pop(key, None)  # asked before its turn: decoded here, once
        if fut is not None:
            try:
                fut.result()
            except Exception:  # the worker's failure: decoded (and raised) below, for this input only
                pass
            self._collect(key, fut)
        return self.cache.sample_frames(path, **kwargs)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + len(self._inflight)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything queued is warmed (or left); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._closed or not (self._queue or self._inflight), timeout)

    def close(self) -> None:
        """Stop: cancel what is queued, wait for the workers to exit (idempotent; also after the
        warmer stopped itself on a broken pool)."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            for fut in self._inflight.values():
                fut.cancel()
            self._lock.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._inflight.clear()

    def summary(self) -> str:
        left = (
            f", {self.left} left (memory cache full; add a disk cache with --frame-cache)"
            if self.left
            else ""
        )
        failed = f", {self.failed} failed in a worker (decoded on request)" if self.failed else ""
        return f"cache warmer: {self.warmed} clips decoded in the background by {self.workers} worker(s){failed}{left}"

    # ------------------------------------------------------------------ background

    def _collect(self, key: str, fut: Future) -> None:
        """Store a finished decode (exactly once: the consumer and the thread may both get here)."""
        with self._lock:
            if self._inflight.get(key) is not fut:
                return
            del self._inflight[key]
            try:
                frames = fut.result()
            except WorkerFailed as e:
                log.debug("cache warmer: %s", e)
                self.failed += 1
            except BrokenProcessPool:
                log.warning("cache warmer: a worker process died; warming stops (clips decode on request)")
                self._closed = True
                self._queue.clear()
            except Exception as e:  # cancelled, or anything unexpected: never the consumer's problem
                log.debug("cache warmer: %s", e)
            else:
                self.cache.put(key, frames)
                self.warmed += 1
            self._lock.notify_all()

    def _room(self) -> bool:
        if self.cache.disk_dir is not None:
            return True
        return self.cache.memory_used < self.memory_fraction * self.cache.memory_bytes

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._inflight and not self._queue:
                    self._lock.wait()
                if self._closed:
                    return
                while self._queue and len(self._inflight) < self.lookahead:
                    if not self._room():
                        self.left += len(self._queue)
                        self._queue.clear()
                        break
                    key, (path, kw) = self._queue.popitem(last=False)
                    if key in self._inflight or self.cache.contains(key):
                        continue
                    try:
                        assert self._pool is not None
                        self._inflight[key] = self._pool.submit(decode, path, kw)
                    except (BrokenProcessPool, RuntimeError):
                        log.warning("cache warmer: the worker pool is broken; warming stops")
                        self._closed = True
                        self._queue.clear()
                        self._lock.notify_all()
                        return
                running = dict(self._inflight)
                self._lock.notify_all()
            if running:
                wait(list(running.values()), timeout=0.5, return_when=FIRST_COMPLETED)
                for key, fut in running.items():
                    if fut.done():
                        self._collect(key, fut)


# ---------------------------------------------------------------------- the process-wide warmer

_WARMER: CacheWarmer | None = None
_WARMER_LOCK = threading.Lock()


def _warm_workers() -> int:
    raw = os.environ.get(ENV_WARM_WORKERS, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_WARM_WORKERS}={raw!r}: expected a number of worker processes") from None
    if value < 0:
        raise ValueError(f"{ENV_WARM_WORKERS}={raw!r}: must be >= 0")
    return value


def warmer() -> CacheWarmer | None:
    """The process-wide warmer, when ``VIDEONET_WARM_WORKERS`` > 0 and the cache is on."""
    return _WARMER


def warm(inputs: Iterable[tuple[PathLike, Mapping[str, Any]]]) -> CacheWarmer | None:
    """Queue inputs on the process-wide warmer (started on first use; None when turned off)."""
    global _WARMER
    workers = _warm_workers()
    cache = default_cache()
    if workers == 0 or cache is None:
        return None
    with _WARMER_LOCK:
        stale = _WARMER if _WARMER is not None and _WARMER.cache is not cache else None
        if stale is not None:  # the process-wide cache was reset (a new run in this process)
            _WARMER = None
        if _WARMER is None:
            _WARMER = CacheWarmer(cache, workers=workers)
            atexit.register(stop_warming)
        current = _WARMER
    if stale is not None:
        stale.close()
    current.add(inputs)
    return current


def warm_frames(path: PathLike, **kwargs: Any) -> Frames:
    """``cached_sample_frames`` that waits for a clip the warmer is decoding instead of decoding it twice."""
    current = _WARMER
    if current is not None and current.cache is default_cache():
        return current.frames(path, **kwargs)
    return cached_sample_frames(path, **kwargs)


def stop_warming() -> CacheWarmer | None:
    """Shut the process-wide warmer down (its workers exit); returns it, for its counts."""
    global _WARMER
    with _WARMER_LOCK:
        current, _WARMER = _WARMER, None
    if current is not None:
        current.close()
    return current

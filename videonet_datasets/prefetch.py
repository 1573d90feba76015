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
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from videonet_datasets.frame_cache import FrameCache
from videonet_datasets.video import Frames, PathLike, sample_frames

log = logging.getLogger(__name__)

__all__ = ["Prefetcher", "WorkerFailed", "decode"]


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

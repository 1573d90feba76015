"""How the expensive phases run: the engine interface and the local process-pool engine.

An engine has two methods - ``observe`` (phase A: localize + speech for the pending shards,
each shard written with ``shards.write_shard``) and ``cut`` (phase C: trim the labeled
clips) - so the runner neither knows nor cares whether a local process pool
(``LocalEngine``, the default) or Ray Data (``ray_engine.RayEngine``) does the work.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.shards import Shard, perception_key, progress_bar, write_shard
from videonet_datasets.train_data.stages import PerceptionContext, cut_clip, observe_video

__all__ = ["Engine", "LocalEngine", "make_engine", "run_shard"]


class Engine(Protocol):
    """Runs phase A (``observe``) and phase C (``cut``) of ``videonet build-train``."""

    def observe(self, pending: list[Shard], settings: BuildConfig, names: dict[str, list[str]]) -> None:
        """Observe every video of the pending shards; write each shard when it completes."""
        ...

    def cut(self, tasks: list[dict[str, Any]], settings: BuildConfig) -> list[dict[str, Any]]:
        """Cut every clip task; one result (``stages.cut_clip``'s) per task, in order."""
        ...


def make_engine(name: str) -> Engine:
    """``--engine local`` (default) or ``--engine ray`` (imported only when asked for)."""
    if name == "ray":
        from videonet_datasets.train_data.ray_engine import RayEngine

        return RayEngine()
    if name == "local":
        return LocalEngine()
    raise ValueError(f"unknown engine {name!r} (choose local or ray)")


# ----------------------------------------------------------------------------- local workers

_CTX: PerceptionContext | None = None
_CTX_KEY: str | None = None


def _context(settings: BuildConfig, names: dict[str, list[str]], threads: int) -> PerceptionContext:
    """One context per process, reused across shards (models load once per worker)."""
    global _CTX, _CTX_KEY
    # The taxonomy's names feed the ASR prompt and the VLM prompt: part of the key, so a
    # second build in the same process (another world) never reuses the first one's.
    key = json.dumps([perception_key(settings, names), threads])
    if _CTX is None or _CTX_KEY != key:
        _CTX, _CTX_KEY = PerceptionContext(settings, names, threads), key
    return _CTX


def run_shard(
    shard: Shard,
    settings: BuildConfig,
    names: dict[str, list[str]],
    threads: int = 0,
    tick: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Observe every video of a shard; write its records, then its done file (last)."""
    ctx = _context(settings, names, threads)
    records = []
    for row in shard.rows:
        records.append(observe_video(row, ctx))
        if tick:
            tick(1)
    return write_shard(shard, records, settings, names)


def _pool_shard(args: tuple) -> dict[str, Any]:
    shard, settings, names, threads, queue = args

    def tick(n: int) -> None:
        if queue is not None:
            queue.put(n)

    return run_shard(shard, settings, names, threads, tick)


def _workers(settings: BuildConfig) -> int:
    return settings.workers or max(1, os.cpu_count() or 1)


class LocalEngine:
    """A process pool on this machine (``spawn``: no forked copies of loaded models)."""

    def observe(self, pending: list[Shard], settings: BuildConfig, names: dict[str, list[str]]) -> None:
        workers = min(_workers(settings), len(pending)) if pending else 0
        total = sum(len(s.rows) for s in pending)
        bar = progress_bar(total, "observe (localize + speech)", settings.progress)
        try:
            if workers <= 1:
                for s in pending:
                    run_shard(s, settings, names, os.cpu_count() or 0, bar.update)
                return
            threads = max(1, (os.cpu_count() or 1) // workers)
            ctx = mp.get_context("spawn")
            with ctx.Manager() as manager:
                queue = manager.Queue()
                stop = threading.Event()

                def drain() -> None:
                    while not stop.is_set() or not queue.empty():
                        try:
                            bar.update(queue.get(timeout=0.2))
                        except Exception:  # queue.Empty, or the manager going away at shutdown
                            continue

                t = threading.Thread(target=drain, daemon=True)
                t.start()
                try:
                    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                        futures = [
                            pool.submit(_pool_shard, (s, settings, names, threads, queue)) for s in pending
                        ]
                        for fut in as_completed(futures):
                            fut.result()  # a worker crash surfaces here; finished shards stay done
                finally:
                    stop.set()
                    t.join()
        finally:
            bar.close()

    def cut(self, tasks: list[dict[str, Any]], settings: BuildConfig) -> list[dict[str, Any]]:
        results = []
        bar = progress_bar(len(tasks), "cut clips", settings.progress, unit="clip")
        try:
            workers = min(_workers(settings), len(tasks))
            if workers <= 1:
                for t in tasks:
                    results.append(cut_clip(t))
                    bar.update(1)
                return results
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                for r in pool.map(cut_clip, tasks, chunksize=4):
                    results.append(r)
                    bar.update(1)
            return results
        finally:
            bar.close()

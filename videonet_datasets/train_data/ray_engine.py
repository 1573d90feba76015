"""``--engine ray``: the same stage functions on Ray Data (a local Ray or a cluster).

Phase A becomes a streaming Ray Data pipeline: videos (as small JSON rows: paths, not
frames) flow through a *localize* actor pool and a *speech* actor pool - the stages
that hold models, and that get ``num_gpus`` on a GPU cluster (a vLLM-served localizer
needs none: it is an HTTP client) - and back to the driver, which writes a shard's
records and then its done file as soon as all of the shard's videos have arrived.  So a
Ray run resumes exactly like a local one.  Clip cutting is a plain CPU ``map``.

Ray is an optional extra (``pip install 'videonet[ray]'``); on the 2-core test machine
its start-up costs ~7 s and ~1.9 GB (measured), so the local engine stays the
default.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from typing import Any

import numpy as np

from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.manifest import VideoRow
from videonet_datasets.train_data.shards import Shard, progress_bar, write_shard
from videonet_datasets.train_data.stages import PerceptionContext, cut_clip, observe_localize, observe_speech

__all__ = ["RayEngine"]

log = logging.getLogger(__name__)


def _ray(settings: BuildConfig | None = None):
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ImportError("--engine ray needs Ray Data: pip install 'videonet[ray]'") from e
    if not ray.is_initialized():
        ray.init(
            address=settings.ray_address if settings else None,
            ignore_reinit_error=True,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        # Our own progress bar and summary say what matters; Ray Data's per-operator logs
        # (every 10 s on a non-interactive terminal) would bury them.
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return ray


class LocalizeStage:
    """Actor: probe + localize one batch of videos."""

    def __init__(self, settings: BuildConfig, names: dict[str, list[str]]):
        self.ctx = PerceptionContext(settings, names)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        records = [
            json.dumps(observe_localize(VideoRow.from_dict(json.loads(r)), self.ctx)) for r in batch["row"]
        ]
        return {"shard": list(batch["shard"]), "record": records}


class SpeechStage:
    """Actor: word-timed speech for the localized videos of one batch."""

    def __init__(self, settings: BuildConfig, names: dict[str, list[str]], threads: int):
        self.ctx = PerceptionContext(settings, names, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        records = [json.dumps(observe_speech(json.loads(r), self.ctx)) for r in batch["record"]]
        return {"shard": list(batch["shard"]), "record": records}


def _pool_sizes(settings: BuildConfig) -> tuple[int, int]:
    ray = _ray(settings)
    cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
    total = settings.workers or cpus
    return max(1, total // 2), max(1, total - total // 2)


class RayEngine:
    """The ``engine.Engine`` interface on Ray Data."""

    def observe(self, pending: list[Shard], settings: BuildConfig, names: dict[str, list[str]]) -> None:
        """Phase A on Ray Data; shards are written by the driver as they complete."""
        ray = _ray(settings)
        from ray.data import ActorPoolStrategy

        n_loc, n_asr = _pool_sizes(settings)
        items = [{"shard": s.index, "row": json.dumps(r.to_dict())} for s in pending for r in s.rows]
        ds = ray.data.from_items(items)
        ds = ds.map_batches(
            LocalizeStage,
            fn_constructor_kwargs={"settings": settings, "names": names},
            batch_size=1,
            compute=ActorPoolStrategy(size=n_loc),
            num_cpus=1,
            num_gpus=settings.ray_localize_gpus or None,
        )
        ds = ds.map_batches(
            SpeechStage,
            fn_constructor_kwargs={"settings": settings, "names": names, "threads": 1},
            batch_size=1,
            compute=ActorPoolStrategy(size=n_asr),
            num_cpus=1,
            num_gpus=settings.ray_asr_gpus or None,
        )
        by_index = {s.index: s for s in pending}
        buckets: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        bar = progress_bar(len(items), "observe (ray)", settings.progress)
        try:
            for row in ds.iter_rows():
                rec = json.loads(row["record"])
                idx = int(row["shard"])
                buckets[idx][rec["video_id"]] = rec
                bar.update(1)
                if len(buckets[idx]) == len(by_index[idx].rows):
                    shard, records = by_index[idx], buckets.pop(idx)
                    write_shard(shard, [records[v] for v in shard.video_ids], settings, names, engine="ray")
        finally:
            bar.close()
        if buckets:
            raise RuntimeError(f"Ray returned incomplete shards {sorted(buckets)}; rerun to resume them")

    def cut(self, tasks: list[dict[str, Any]], settings: BuildConfig) -> list[dict[str, Any]]:
        """Phase C on Ray Data: one CPU task per clip."""
        ray = _ray(settings)
        ds = ray.data.from_items([{"task": json.dumps(t)} for t in tasks])
        ds = ds.map(lambda r: {"result": json.dumps(cut_clip(json.loads(r["task"])))}, num_cpus=1)
        return [json.loads(r["result"]) for r in ds.iter_rows()]

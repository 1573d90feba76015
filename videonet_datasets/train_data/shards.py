"""Shards of the observe phase: planning, files, the done marker, progress.

Shared by both engines (``engine.LocalEngine`` and ``ray_engine.RayEngine``) so that a
shard is written - records first, done file last - the same way whichever engine ran it,
and a run resumes under either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text, stable_hash
from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.manifest import VideoRow

__all__ = [
    "Shard",
    "perception_key",
    "plan_shards",
    "progress_bar",
    "read_shard",
    "shard_files",
    "shard_is_done",
    "write_shard",
]


@dataclass(frozen=True)
class Shard:
    index: int
    rows: tuple[VideoRow, ...]

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"

    @property
    def video_ids(self) -> list[str]:
        return [r.video_id for r in self.rows]


def plan_shards(rows: Sequence[VideoRow], shard_size: int) -> list[Shard]:
    return [Shard(i // shard_size, tuple(rows[i : i + shard_size])) for i in range(0, len(rows), shard_size)]


def perception_key(settings: BuildConfig, names: dict[str, list[str]]) -> str:
    """What decides a video's observation: the perception settings and the action names
    (they are the ASR hotwords and the VLM's examples).  Recorded with every shard."""
    return f"{settings.perception_fingerprint()}-{stable_hash(json.dumps(names, sort_keys=True)):016x}"


def shard_files(work: Path, shard: Shard) -> tuple[Path, Path]:
    """The shard's records (``.jsonl``) and its done file (``.done.json``)."""
    d = work / "shards"
    return d / f"{shard.name}.jsonl", d / f"{shard.name}.done.json"


def shard_is_done(work: Path, shard: Shard, fingerprint: str) -> bool:
    data, done = shard_files(work, shard)
    if not (done.exists() and data.exists()):
        return False
    try:
        meta = json.loads(done.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return meta.get("video_ids") == shard.video_ids and meta.get("perception") == fingerprint


def write_shard(
    shard: Shard,
    records: list[dict[str, Any]],
    settings: BuildConfig,
    names: dict[str, list[str]],
    **extra: Any,
) -> dict[str, Any]:
    """Write a shard's records, then - last - its done file (what a resumed run trusts)."""
    data, done = shard_files(settings.work, shard)
    atomic_write_text(data, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    stats = {
        "shard": shard.index,
        "video_ids": shard.video_ids,
        "perception": perception_key(settings, names),
        "ok": sum(r["status"] == "ok" for r in records),
        "failed": sum(r["status"] != "ok" for r in records),
        **extra,
    }
    atomic_write_json(done, stats)
    return stats


def read_shard(work: Path, shard: Shard) -> list[dict[str, Any]]:
    data, _ = shard_files(work, shard)
    with open(data, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "video"):
    """A tqdm bar (silent when disabled or empty)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled or total == 0)

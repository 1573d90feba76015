"""``videonet build-train``: shards, resume, engines, and the final dataset.

The run has four phases:

A. **observe** (expensive, sharded, resumable): videos are grouped into shards of
   ``shard_size`` in manifest order; a worker localizes and transcribes a shard's videos
   and writes ``.build/shards/shard-NNNNN.jsonl``, then - last - ``shard-NNNNN.done.json``
   (like video2dataset's per-shard stats file).  A resumed run skips shards whose done
   file names the same videos, and recomputes any other shard whole, so an interrupted
   run neither loses nor duplicates a video.  Engines (``engine.py``): a local process pool
   (default) or Ray Data (``ray_engine.py``); shards are written by ``shards.py``.
B. **label** (cheap, recomputed every run from the observations): match, filter, balance.
C. **cut** (per clip, resumable by construction): each labeled clip trimmed once into
   ``videos/`` (atomic files; existing ones are kept).
D. **write**: QA pairs, parquet shards per filter, the card, ``stats.json``.

B-D are deterministic functions of the observations and the settings, which is why a
killed-and-resumed run writes the same dataset as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text
from videonet_datasets.train_data.action100m_ingest import ingest_action100m
from videonet_datasets.train_data.balance import balance_rows, load_embedder
from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.download import DownloadConfig, download_videos
from videonet_datasets.train_data.engine import make_engine
from videonet_datasets.train_data.filters import ALL_FILTERS, FILTERS
from videonet_datasets.train_data.groundtruth import label_precision, localization_quality, read_ground_truth
from videonet_datasets.train_data.manifest import Taxonomy, VideoRow, read_manifest, read_taxonomy
from videonet_datasets.train_data.match import ActionMatcher
from videonet_datasets.train_data.output import write_card, write_config
from videonet_datasets.train_data.qa import check_domain_size
from videonet_datasets.train_data.shards import Shard, perception_key, plan_shards, read_shard, shard_is_done
from videonet_datasets.train_data.stages import (
    clip_path,
    finish_rows,
    label_observations,
)
from videonet_datasets.train_data.summary import format_summary

__all__ = ["BuildReport", "build_train"]

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    out: Path
    counts: Counter
    rows_written: dict[str, int]
    precision: dict[str, dict[str, Any]] | None
    localization: dict[str, Any] | None
    summary: str
    failures: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------------------- the build


def _check_work_dir(settings: BuildConfig, names: dict[str, list[str]]) -> None:
    """Refuse to resume with different perception settings or action names (the shards
    would mix two pipelines)."""
    path = settings.work / "build.json"
    current = {"perception_key": perception_key(settings, names), "perception": settings.perception()}
    if path.exists():
        try:
            prev = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            prev = {}
        if prev.get("perception_key") not in (None, current["perception_key"]):
            what = (
                "localizer/speech settings"
                if prev.get("perception") != json.loads(json.dumps(current["perception"], default=str))
                else "action names (the speech recognizer's hotwords)"
            )
            raise RuntimeError(
                f"{settings.work} was built with other {what} "
                f"({json.dumps(prev.get('perception'), default=str)}); "
                "use a new --out (or --work-dir), or delete that folder to start over"
            )
    atomic_write_json(path, json.loads(json.dumps(current, default=str)))


def _read_observations(work: Path, shards: Iterable[Shard]) -> list[dict[str, Any]]:
    return [o for s in shards for o in read_shard(work, s)]


def _count_observations(obs: list[dict[str, Any]], c: Counter, reasons: Counter) -> None:
    for o in obs:
        if o["status"] != "ok":
            stage = o["failure"]["stage"]
            c[f"failed:{stage}"] += 1
            reasons[(stage, o["failure"]["reason"].split(":")[0][:80])] += 1
            continue
        c["videos:ok"] += 1
        c["videos:with_windows" if o["windows"] else "videos:no_window"] += 1
        c["windows:kept"] += len(o["windows"])
        for k, v in o.get("window_notes", {}).items():
            c[f"windows:{k}"] += v
        tr = o.get("transcript")
        if tr is not None:
            c["asr:videos"] += 1
            c["asr:no_audio"] += not tr["has_audio"]
            c["asr:audio_ms"] += int(1000 * tr["audio_seconds"])
            c["asr:compute_ms"] += int(1000 * o["timing"].get("asr", 0.0))


def _download(rows: list[VideoRow], settings: BuildConfig, c: Counter) -> tuple[list[VideoRow], list[dict]]:
    if not any(r.url and not (r.path and Path(r.path).exists()) for r in rows):
        return rows, []
    cfg = DownloadConfig(
        out_dir=settings.download_dir or settings.work / "downloads",
        min_interval=settings.download_min_interval,
        rate_limit=settings.download_rate_limit,
        attempts=settings.download_attempts,
    )
    rep = download_videos(rows, cfg, progress=settings.progress)
    c.update(rep.counts)
    return rep.rows, rep.failures


def active_filters(settings: BuildConfig) -> tuple[str, ...]:
    """The paper's three filters, and ``segment_action_match`` where windows carry annotations."""
    return ALL_FILTERS if settings.annotated else FILTERS


def _inputs(settings: BuildConfig, taxonomy: Taxonomy, c: Counter) -> tuple[list[VideoRow], list[dict]]:
    """The videos to process: a crawl manifest's rows, or Action100M rows mapped onto them."""
    if settings.source == "action100m":
        settings.work.mkdir(parents=True, exist_ok=True)
        res = ingest_action100m(settings, taxonomy)
        c.update(res.counts)
        return res.rows, res.failures
    return read_manifest(settings.manifest, taxonomy), []


def build_train(settings: BuildConfig, *, download_only: bool = False) -> BuildReport:
    """Run (or resume) the whole pipeline; returns counts, yields and precision."""
    taxonomy = read_taxonomy(settings.taxonomy)
    filters = active_filters(settings)
    c: Counter = Counter()
    rows, input_failures = _inputs(settings, taxonomy, c)
    used_domains = list(dict.fromkeys(r.domain for r in rows))
    for d in used_domains:
        check_domain_size(d, taxonomy.actions_of(d))
        ActionMatcher(taxonomy.names_of(d))  # names the matcher cannot tell apart: fail before the long part
    names = {d: taxonomy.names_of(d) for d in used_domains}
    settings.work.mkdir(parents=True, exist_ok=True)
    _check_work_dir(settings, names)
    c["videos:in"] = len(rows)
    rows, download_failures = _download(rows, settings, c)
    download_failures = input_failures + download_failures
    if download_only:
        return BuildReport(
            settings.out,
            c,
            {},
            None,
            None,
            format_summary(c, {}, Counter(), filters=filters),
            download_failures,
        )

    shards = plan_shards(rows, settings.shard_size)
    fp = perception_key(settings, names)
    pending = [s for s in shards if not shard_is_done(settings.work, s, fp)]
    c["shards:total"], c["shards:resumed"] = len(shards), len(shards) - len(pending)
    if pending:
        log.info(
            "observing %d of %d shards (%d already done)",
            len(pending),
            len(shards),
            len(shards) - len(pending),
        )
        make_engine(settings.engine).observe(pending, settings, names)

    # B. label + balance (recomputed from the observations every run)
    observations = _read_observations(settings.work, shards)
    reasons: Counter = Counter()
    _count_observations(observations, c, reasons)
    failures = [
        {"video_id": o["video_id"], "line": o["line"], **o["failure"]}
        for o in observations
        if o["status"] != "ok"
    ]
    candidates, label_counts = label_observations(observations, taxonomy, settings.T)
    candidates = {f: candidates[f] for f in filters}
    c.update(label_counts)
    selected = _balance(candidates, settings, c)
    # C. cut each selected clip once; D. rows, card, stats
    bad = _cut(selected, settings, c)
    failures += [{"clip_uid": uid, "stage": "cut", "reason": err} for uid, err in bad.items()]
    final = {
        f: finish_rows([r for r in selected[f] if r["clip_uid"] not in bad], taxonomy, settings.seed)
        for f in filters
    }
    domains = [d for d in taxonomy.domains if d in set(used_domains)]
    report = _write(final, observations, taxonomy, domains, settings, c, reasons)
    report.failures = failures + download_failures
    atomic_write_text(
        settings.work / "failures.jsonl", "".join(json.dumps(f) + "\n" for f in report.failures)
    )
    return report


def _balance(
    candidates: dict[str, list[dict[str, Any]]], settings: BuildConfig, c: Counter
) -> dict[str, list[dict[str, Any]]]:
    """Each filter's rows after the optional caps and semantic resampling."""
    if not settings.balance.active:
        return candidates
    cache: dict[str, Any] = {}

    def embedder():  # loaded once, and only if resampling has work to do
        if "e" not in cache:
            cache["e"] = load_embedder(settings.balance.embed_model)
        return cache["e"]

    selected = {}
    for f in candidates:
        kept, drops, _ = balance_rows(candidates[f], settings.balance, embedder)
        c.update({f"{k}:{f}": v for k, v in drops.items()})
        selected[f] = kept
    return selected


def _cut(selected: dict[str, list[dict[str, Any]]], settings: BuildConfig, c: Counter) -> dict[str, str]:
    """Trim every selected clip once into OUT/videos; returns the failed clips' errors."""
    out = settings.out
    clips: dict[str, dict[str, Any]] = {}
    for f in selected:
        for r in selected[f]:
            clips.setdefault(
                r["clip_uid"],
                {
                    "clip_uid": r["clip_uid"],
                    "src": r["source_path"],
                    "dst": str(clip_path(out, r["clip_uid"])),
                    "start": r["source_start"],
                    "end": r["source_end"],
                    "crf": settings.clip_crf,
                    "short_side": settings.clip_short_side,
                    "threads": 1,
                },
            )
    tasks = sorted(clips.values(), key=lambda t: t["clip_uid"])
    results = make_engine(settings.engine).cut(tasks, settings) if tasks else []
    # Clips (and torn temporary files) of an earlier run with other labeling settings.
    for p in (out / "videos").glob("*.mp4") if (out / "videos").exists() else []:
        if p.stem not in clips:
            p.unlink()
            c["cut:removed_unreferenced"] += 1
    c["cut:ok"] = sum(r["ok"] for r in results)
    c["cut:new"] = sum(r["cut"] for r in results)
    bad = {r["clip_uid"]: r["error"] for r in results if not r["ok"]}
    c["cut:failed"] = len(bad)
    return bad


def _write(
    final: dict[str, list[dict[str, Any]]],
    observations: list[dict[str, Any]],
    taxonomy: Taxonomy,
    domains: list[str],
    settings: BuildConfig,
    c: Counter,
    reasons: Counter,
) -> BuildReport:
    """Parquet shards per filter, precision against ground truth, the card and stats.json."""
    out = settings.out
    filters = tuple(final)
    written = [f for f in filters if write_config(out, f, final[f], int(settings.max_shard_mb * 2**20))]
    for f in set(ALL_FILTERS) - set(filters):  # a config of an earlier build with other filters
        write_config(out, f, [], 0)
    rows_written = {f: len(final[f]) for f in filters}
    precision = localization = None
    if settings.ground_truth is not None and Path(settings.ground_truth).exists():
        gt = read_ground_truth(settings.ground_truth)
        precision = {f: label_precision(final[f], gt) for f in filters}
        localization = localization_quality(
            {o["video_id"]: [tuple(w) for w in o["windows"]] for o in observations if o["status"] == "ok"}, gt
        )
    write_card(
        out,
        configs=written,
        taxonomy=taxonomy,
        domains=domains,
        rows_by_config=final,
        precision=precision,
        localization=localization,
        summary_text=format_summary(c, rows_written, reasons, run_details=False, filters=filters),
        settings={
            "T": settings.T,
            # with --source action100m the windows are the rows' tree segments, no localizer ran
            "localizer": "action100m-annotations" if settings.source == "action100m" else settings.localizer,
            "keep_na": settings.segments.keep_na,
            "balanced": settings.balance.active,
            "source": settings.source,
            "segment_level": settings.segments.level,
            "segment_text": list(settings.segments.text),
        },
        filters=filters,
    )
    stats = {
        "counts": dict(sorted(c.items())),
        "rows_written": rows_written,
        "configs": written,
        "precision": precision,
        "localization": localization,
        "settings": _settings_dict(settings),
    }
    atomic_write_json(out / "stats.json", stats)
    return BuildReport(
        out,
        c,
        rows_written,
        precision,
        localization,
        format_summary(c, rows_written, reasons, filters=filters),
    )


def _settings_dict(settings: BuildConfig) -> dict[str, Any]:
    d = dataclasses.asdict(settings)
    if d.get("vlm"):
        d["vlm"].pop("api_key", None)
    if d.get("caption_tree"):
        d["caption_tree"].pop("llm_api_key", None)
    for k in ("manifest", "taxonomy", "out", "work_dir", "ground_truth", "windows_file", "download_dir"):
        if d.get(k) is not None:
            d[k] = str(d[k])
    return json.loads(json.dumps(d, default=str))

"""The optional download stage: fetch a URL manifest's videos with yt-dlp, politely and resumably.

Crawls fail in many small ways (removed videos, throttling, flaky networks), so every
video gets a record in ``DIR/records.jsonl`` (appended as it finishes; a torn last line
from a killed run is ignored) and the stage can be re-run at any time:

* a video recorded ``ok`` whose file is still there is not fetched again;
* a transient failure (timeouts, HTTP 429/5xx) is retried with exponential backoff up to
  ``attempts`` times, and again on the next run;
* a permanent failure (HTTP 4xx, "unavailable", unsupported URL) is recorded and not
  retried unless ``retry_failed`` is set.

Rate limits: ``min_interval`` seconds between the starts of two downloads (and between
retries), and yt-dlp's own ``ratelimit`` in bytes per second.  Files are written by
yt-dlp under a ``.part`` name and renamed when complete, so a killed download never
leaves a truncated file under its final name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from videonet_datasets.train_data.manifest import VideoRow

__all__ = ["DownloadConfig", "DownloadReport", "download_videos"]

log = logging.getLogger(__name__)

_PERMANENT = re.compile(
    r"HTTP Error 4(?!29)\d\d|unavailable|Unsupported URL|Private video|removed by|copyright", re.I
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class DownloadConfig:
    out_dir: Path
    min_interval: float = 1.0
    rate_limit: str | None = None  # e.g. "2M" (bytes/s), yt-dlp's --limit-rate
    attempts: int = 3
    backoff_seconds: float = 2.0
    socket_timeout: float = 30.0
    format: str = "mp4/bestvideo[ext=mp4]+bestaudio[ext=m4a]/best"
    retry_failed: bool = False


@dataclass
class DownloadReport:
    rows: list[VideoRow]  # every input row; downloaded ones carry a local path
    failures: list[dict[str, Any]]
    counts: Counter


class _Quiet:
    """yt-dlp logger: keep its chatter out of the progress bars, errors in our records."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        log.debug(msg)

    def error(self, msg: str) -> None:
        log.debug(msg)


def _read_records(path: Path) -> dict[str, dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return last
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
                last[rec["video_id"]] = rec
            except (ValueError, KeyError):
                continue  # a torn line from a killed run
    return last


def _append(path: Path, rec: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _fetch(url: str, stem: Path, cfg: DownloadConfig) -> Path:
    import yt_dlp
    from yt_dlp.utils import parse_bytes

    opts: dict[str, Any] = {
        "outtmpl": str(stem) + ".%(ext)s",
        "format": cfg.format,
        "merge_output_format": "mp4",
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _Quiet(),
        "socket_timeout": cfg.socket_timeout,
        "retries": 0,  # our loop retries, with backoff and records
        "extractor_retries": 0,
        "overwrites": True,
    }
    if cfg.rate_limit:
        opts["ratelimit"] = parse_bytes(cfg.rate_limit)
    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(url, download=True)
        downloads = info.get("requested_downloads") or []
        path = (
            Path(downloads[0]["filepath"])
            if downloads and downloads[0].get("filepath")
            else Path(ydl.prepare_filename(info))
        )
    if not path.exists():
        raise RuntimeError(f"yt-dlp reported success but {path} is missing")
    return path


def download_videos(
    rows: Sequence[VideoRow],
    cfg: DownloadConfig,
    *,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    fetch: Callable[[str, Path, DownloadConfig], Path] = _fetch,
) -> DownloadReport:
    """Download every row that has a ``url`` and no existing local file."""
    out = Path(cfg.out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    records_path = out / "records.jsonl"
    records = _read_records(records_path)
    counts: Counter = Counter()
    failures: list[dict[str, Any]] = []
    result: list[VideoRow] = []
    last_start = -float("inf")
    todo = [r for r in rows if r.url and not (r.path and Path(r.path).exists())]
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="download", unit="video")
    for row in rows:
        if not row.url or (row.path and Path(row.path).exists()):
            counts["download:local_file"] += 1
            result.append(row)
            continue
        prev = records.get(row.video_id)
        if prev and prev["status"] == "ok" and Path(prev["path"]).exists():
            counts["download:already_downloaded"] += 1
            result.append(replace(row, path=prev["path"]))
            if bar:
                bar.update(1)
            continue
        if prev and prev["status"] == "failed" and prev.get("permanent") and not cfg.retry_failed:
            counts["download:failed_before_permanent"] += 1
            failures.append(prev)
            result.append(row)
            if bar:
                bar.update(1)
            continue
        stem = out / "videos" / _UNSAFE.sub("_", row.video_id)
        errors: list[str] = []
        path: Path | None = None
        permanent = False
        for attempt in range(1, cfg.attempts + 1):
            wait = last_start + cfg.min_interval - time.monotonic()
            if wait > 0:
                sleep(wait)
            last_start = time.monotonic()
            try:
                path = fetch(row.url, stem, cfg)
                break
            except Exception as e:  # yt-dlp raises DownloadError and friends
                msg = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).replace("ERROR: ", "").strip()
                errors.append(f"attempt {attempt}: {msg}")
                permanent = bool(_PERMANENT.search(msg))
                if permanent:
                    break
                if attempt < cfg.attempts:
                    sleep(cfg.backoff_seconds * 2 ** (attempt - 1))
        rec: dict[str, Any] = {"video_id": row.video_id, "url": row.url, "time": time.time()}
        if path is not None:
            rec.update(status="ok", path=str(path), attempts=len(errors) + 1)
            counts["download:ok"] += 1
            if errors:
                counts["download:ok_after_retry"] += 1
            result.append(replace(row, path=str(path)))
        else:
            rec.update(
                status="failed", error=errors[-1] if errors else "unknown", errors=errors, permanent=permanent
            )
            counts["download:failed_permanent" if permanent else "download:failed_transient"] += 1
            failures.append(rec)
            result.append(row)
        _append(records_path, rec)
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return DownloadReport(result, failures, counts)

"""Background work the web requests must not wait for: downloading a URL and making a browser
copy of a video the browser cannot play.

One worker thread per server takes ``queued`` jobs from the store in order.  Jobs live in the
store, so a killed server picks up where it stopped (a job found ``running`` at start-up was
interrupted and is queued again).  Downloads go through the project's download stage
(``train_data.download``: yt-dlp, retries with backoff, a record per video) into
``downloads/`` inside the annotation directory; the file is then probed like any local source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from videonet_datasets.studio import media
from videonet_datasets.studio.collect import finish_video, get_video, video_file
from videonet_datasets.studio.db import STORE_DIR, Store, now

__all__ = ["DOWNLOAD_DIR", "JobWorker", "requeue_interrupted", "run_one"]

log = logging.getLogger(__name__)
DOWNLOAD_DIR = "downloads"


def requeue_interrupted(store: Store) -> int:
    with store.write() as conn:
        return conn.execute(
            "UPDATE jobs SET status = 'queued', updated = ? WHERE status = 'running'", (now(),)
        ).rowcount


def _download(root: Path, url: str, key: str, fetch: Callable | None) -> Path:
    from videonet_datasets.train_data.download import DownloadConfig, download_videos
    from videonet_datasets.train_data.manifest import VideoRow

    cfg = DownloadConfig(out_dir=root / DOWNLOAD_DIR, min_interval=0.0, attempts=2, backoff_seconds=1.0)
    kwargs = {"fetch": fetch} if fetch is not None else {}
    report = download_videos(
        [VideoRow(video_id=key, title="", domain="", url=url)], cfg, progress=False, **kwargs
    )
    if report.failures:
        raise RuntimeError(report.failures[-1].get("error", "download failed"))
    return Path(report.rows[0].path)  # type: ignore[arg-type]


def run_one(store: Store, root: Path, fetch: Callable | None = None) -> bool:
    """Run the oldest queued job; False when there is none."""
    with store.write() as conn:
        job = conn.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
        if job is None:
            return False
        conn.execute("UPDATE jobs SET status = 'running', updated = ? WHERE id = ?", (now(), job["id"]))
        video = get_video(conn, job["video_id"])
    assert video is not None
    try:
        if job["kind"] == "download":
            key = Path(video["path"]).stem
            path = _download(root, video["url"], key, fetch)
            rel = path.resolve().relative_to(root.resolve()).as_posix()
            with store.write() as conn:
                conn.execute("UPDATE videos SET path = ? WHERE id = ?", (rel, video["id"]))
                finish_video(conn, root, video["id"], root / rel)
                conn.execute("UPDATE jobs SET status = 'done', updated = ? WHERE id = ?", (now(), job["id"]))
        else:
            src = video_file(root, video)
            rel = f"{STORE_DIR}/proxies/{video['id']}.mp4"
            media.make_proxy(src, root / rel)
            with store.write() as conn:
                conn.execute(
                    "UPDATE videos SET playable = ?, status = 'ready' WHERE id = ?", (rel, video["id"])
                )
                conn.execute("UPDATE jobs SET status = 'done', updated = ? WHERE id = ?", (now(), job["id"]))
    except Exception as e:  # a failed job is recorded and shown; the worker goes on
        log.warning("job %s (%s of video %s) failed: %s", job["id"], job["kind"], video["id"], e)
        with store.write() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'failed', error = ?, updated = ? WHERE id = ?",
                (str(e)[:1000], now(), job["id"]),
            )
            conn.execute(
                "UPDATE videos SET status = 'failed', error = ? WHERE id = ?", (str(e)[:1000], video["id"])
            )
    return True


class JobWorker:
    """The server's worker thread; ``wake()`` after queueing a job."""

    def __init__(self, store: Store, root: Path, fetch: Callable | None = None):
        self.store, self.root, self.fetch = store, root, fetch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="studio-jobs", daemon=True)

    def start(self) -> None:
        requeue_interrupted(self.store)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while not self._stop.is_set() and run_one(self.store, self.root, self.fetch):
                    pass
            except Exception:  # never let the worker die silently
                log.exception("studio job worker")
            self._wake.wait(2.0)
            self._wake.clear()

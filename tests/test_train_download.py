"""The yt-dlp download stage against a local HTTP server serving generated mp4 files."""

from __future__ import annotations

import csv
import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from train_world import write_actions

from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.download import DownloadConfig, download_videos
from videonet_datasets.train_data.manifest import VideoRow, read_manifest, read_taxonomy
from videonet_datasets.train_data.runner import build_train
from videonet_datasets.video import probe_video, write_video


class Server:
    """Serves a folder on 127.0.0.1; ``fail[path] = n`` answers 503 to the first n GETs of
    ``path``.  Logs (time, path) of every GET."""

    def __init__(self, root: Path):
        self.log: list[tuple[float, str]] = []
        self.fail: dict[str, int] = {}
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.log.append((time.monotonic(), self.path))
                if outer.fail.get(self.path, 0) > 0:
                    outer.fail[self.path] -= 1
                    self.send_error(503, "busy")
                    return
                super().do_GET()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def first_gets(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t, p in self.log:
            out.setdefault(p, t)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in ("ok1", "ok2", "flaky", "big"):
        n = 60 if name == "big" else 10
        frames = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(n)]
        write_video(root / f"{name}.mp4", frames, 10)
    srv = Server(root)
    yield root, srv
    srv.close()


def rows_for(srv: Server, names: list[str]) -> list[VideoRow]:
    return [
        VideoRow(video_id=n, title=f"{n} video", domain="Skateboarding", url=srv.url(f"{n}.mp4"))
        for n in names
    ]


def test_downloads_retries_records_and_rate_limits(site, tmp_path: Path) -> None:
    root, srv = site
    srv.fail["/flaky.mp4"] = 1
    cfg = DownloadConfig(out_dir=tmp_path / "dl", min_interval=0.4, attempts=3, backoff_seconds=0.05)
    rep = download_videos(rows_for(srv, ["ok1", "flaky", "missing", "ok2"]), cfg, progress=False)

    assert rep.counts["download:ok"] == 3 and rep.counts["download:ok_after_retry"] == 1
    assert rep.counts["download:failed_permanent"] == 1
    got = {r.video_id: r.path for r in rep.rows}
    for name in ("ok1", "flaky", "ok2"):
        assert Path(got[name]).read_bytes() == (root / f"{name}.mp4").read_bytes()
        probe_video(got[name])
    assert got["missing"] is None
    (fail,) = rep.failures
    assert fail["video_id"] == "missing" and "404" in fail["error"] and fail["permanent"]
    records = [json.loads(line) for line in (tmp_path / "dl" / "records.jsonl").read_text().splitlines()]
    assert [(r["video_id"], r["status"]) for r in records] == [
        ("ok1", "ok"),
        ("flaky", "ok"),
        ("missing", "failed"),
        ("ok2", "ok"),
    ]
    # 5 attempts (flaky twice) at least 0.4 s apart: the server saw them spread over >= 1.6 s
    # (minus yt-dlp's slower first start-up)
    firsts = sorted(srv.first_gets().values())
    assert firsts[-1] - firsts[0] >= 4 * 0.4 - 0.3, srv.log


def test_min_interval_between_download_starts(tmp_path: Path) -> None:
    """The limiter itself, without yt-dlp's start-up jitter: attempts start >= min_interval apart."""
    starts: list[float] = []

    def fetch(url: str, stem: Path, cfg: DownloadConfig) -> Path:
        starts.append(time.monotonic())
        if url.endswith("bad") and len(starts) < 4:
            raise RuntimeError("HTTP Error 503: busy")
        out = stem.with_suffix(".mp4")
        out.write_bytes(b"x")
        return out

    rows = [
        VideoRow(video_id=f"v{i}", title="", domain="d", url=f"http://x/{i}" + ("bad" if i == 1 else ""))
        for i in range(3)
    ]
    cfg = DownloadConfig(out_dir=tmp_path / "dl", min_interval=0.25, attempts=3, backoff_seconds=0.0)
    rep = download_videos(rows, cfg, progress=False, fetch=fetch)
    assert rep.counts["download:ok"] == 3 and len(starts) == 5
    assert all(b - a >= 0.25 - 0.005 for a, b in zip(starts, starts[1:])), np.diff(starts)


def test_resume_skips_done_and_permanent_failures(site, tmp_path: Path) -> None:
    root, srv = site
    cfg = DownloadConfig(out_dir=tmp_path / "dl", min_interval=0.0, attempts=2, backoff_seconds=0.0)
    download_videos(rows_for(srv, ["ok1", "missing"]), cfg, progress=False)
    with open(tmp_path / "dl" / "records.jsonl", "a") as f:
        f.write('{"video_id": "ok2", "sta')  # a torn line, as a killed run leaves it
    n_requests = len(srv.log)
    rep = download_videos(rows_for(srv, ["ok1", "missing", "ok2"]), cfg, progress=False)
    assert rep.counts["download:already_downloaded"] == 1
    assert rep.counts["download:failed_before_permanent"] == 1
    assert rep.counts["download:ok"] == 1  # ok2 (its torn record was ignored)
    assert {p for _, p in srv.log[n_requests:]} == {"/ok2.mp4"}
    rep = download_videos(
        rows_for(srv, ["missing"]), DownloadConfig(**{**cfg.__dict__, "retry_failed": True}), progress=False
    )
    assert rep.counts["download:failed_permanent"] == 1 and srv.log[-1][1] == "/missing.mp4"


def test_transient_failures_are_retried_on_the_next_run(site, tmp_path: Path) -> None:
    root, srv = site
    srv.fail["/flaky.mp4"] = 2
    cfg = DownloadConfig(out_dir=tmp_path / "dl", min_interval=0.0, attempts=2, backoff_seconds=0.0)
    rep = download_videos(rows_for(srv, ["flaky"]), cfg, progress=False)
    assert rep.counts["download:failed_transient"] == 1 and "503" in rep.failures[0]["error"]
    assert not rep.failures[0]["permanent"]
    rep = download_videos(rows_for(srv, ["flaky"]), cfg, progress=False)
    assert rep.counts["download:ok"] == 1 and rep.rows[0].path


def test_bandwidth_limit_is_passed_to_yt_dlp(site, tmp_path: Path) -> None:
    root, srv = site
    size = (root / "big.mp4").stat().st_size
    cfg = DownloadConfig(out_dir=tmp_path / "dl", min_interval=0.0, rate_limit="200K")
    t0 = time.monotonic()
    rep = download_videos(rows_for(srv, ["big"]), cfg, progress=False)
    elapsed = time.monotonic() - t0
    assert rep.counts["download:ok"] == 1
    assert elapsed >= 0.6 * size / (200 * 1024), (size, elapsed)  # throttled: no faster than the limit


def test_url_manifest_through_build_train(site, tmp_path: Path) -> None:
    root, srv = site
    world = tmp_path / "world"
    write_actions(world)
    manifest = world / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video_id", "url", "title", "domain"])
        w.writerow(["ok1", srv.url("ok1.mp4"), "an ollie", "Skateboarding"])
        w.writerow(["gone", srv.url("gone.mp4"), "a kickflip", "Skateboarding"])
    rows = read_manifest(manifest, read_taxonomy(world / "actions.csv"))
    assert [r.url is not None and r.path is None for r in rows] == [True, True]
    settings = BuildConfig(
        manifest=manifest,
        taxonomy=world / "actions.csv",
        out=tmp_path / "out",
        download_min_interval=0.0,
        progress=False,
    )
    rep = build_train(settings, download_only=True)
    assert rep.counts["download:ok"] == 1 and rep.counts["download:failed_permanent"] == 1
    assert (tmp_path / "out" / ".build" / "downloads" / "videos" / "ok1.mp4").exists()
    assert [f["video_id"] for f in rep.failures] == ["gone"]

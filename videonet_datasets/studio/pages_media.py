"""Media: source videos (by id, from inside the annotation directory only, with range
requests), their frame times for the player, thumbnails from the sampler, the benchmark's
clips for the human baseline, and the status of a download or browser copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask, abort, jsonify, send_file

from videonet_datasets.fsutil import atomic_write_bytes
from videonet_datasets.studio import baseline as baseline_mod
from videonet_datasets.studio import collect as collect_mod
from videonet_datasets.studio import media
from videonet_datasets.studio.db import STORE_DIR
from videonet_datasets.studio.webcore import StudioApp, need
from videonet_datasets.video import VideoDecodeError

__all__ = ["register"]

MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm"}


def register(app: Flask, studio: StudioApp) -> None:
    root = studio.root

    # ------------------------------------------------------------------ media

    def _served(video: dict[str, Any] | None) -> Path:
        if video is None:
            abort(404, "no such video")
        if not video["servable"]:
            abort(403, "this video lies outside the annotation directory and is not served")
        if video["status"] != "ready":
            abort(409, f"the video is {video['status']}")
        path = collect_mod.video_file(root, video, playable=True)
        if not media.is_servable(root, path):
            abort(404, "video file missing")
        return path

    @app.get("/media/video/<int:video_id>")
    @need("annotator")
    def media_video(video_id: int) -> Any:
        with studio.store.read() as conn:
            path = _served(collect_mod.get_video(conn, video_id))
        return send_file(
            path, mimetype=MIME.get(path.suffix.lower(), "video/mp4"), conditional=True, max_age=0
        )

    @app.get("/media/status/<int:video_id>")
    @need("annotator")
    def media_status(video_id: int) -> Any:
        with studio.store.read() as conn:
            video = collect_mod.get_video(conn, video_id)
        if video is None:
            abort(404, "no such video")
        return jsonify(status=video["status"], error=video["error"])

    @app.get("/media/frames/<int:video_id>")
    @need("annotator")
    def media_frames(video_id: int) -> Any:
        with studio.store.read() as conn:
            video = collect_mod.get_video(conn, video_id)
            path = _served(video)
        try:
            times = studio.frame_times(video_id, path)
        except VideoDecodeError as e:
            abort(409, str(e))
        # Marks are on the source's player timeline (0 = its first displayed frame, the
        # sampler's and clips.csv's axis): a browser copy starts there; a source played
        # directly counts from its own clock, which starts within half a frame of it.
        offset = 0.0 if video["playable"] else -float(video["start_time"] or 0.0)
        end = float(video["duration"])
        return jsonify(offset=offset, end=end, fps=video["fps"], times=[round(t, 6) for t in times])

    @app.get("/media/thumb/<int:candidate_id>")
    @need("annotator")
    def media_thumb(candidate_id: int) -> Any:
        with studio.store.read() as conn:
            cand = conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            if cand is None:
                abort(404, "no such clip")
            video = collect_mod.get_video(conn, cand["video_id"])
            if video is None or not video["servable"] or video["status"] != "ready":
                abort(404, "no thumbnail")
        cache = root / STORE_DIR / "thumbs" / f"{candidate_id}-{cand['start']:.6f}-{cand['end'] or 0:.6f}.jpg"
        if not cache.exists():
            try:
                data = media.thumbnail_jpeg(collect_mod.video_file(root, video), cand["start"], cand["end"])
            except (VideoDecodeError, FileNotFoundError, ValueError) as e:
                abort(404, f"no thumbnail: {e}")
            atomic_write_bytes(cache, data)
        return send_file(cache, mimetype="image/jpeg", max_age=3600)

    @app.get("/media/baseline/<int:item_id>/<int:slot>")
    @need("annotator")
    def media_baseline(item_id: int, slot: int) -> Any:
        with studio.store.read() as conn:
            row = conn.execute(
                "SELECT i.doc, s.benchmark, s.definition FROM baseline_items i JOIN baseline_sessions s ON s.id = i.session_id "
                "WHERE i.id = ?",
                (item_id,),
            ).fetchone()
        if row is None:
            abort(404, "no such question")
        doc = json.loads(row["doc"])
        videos = [
            v for kind, v in baseline_mod.display_parts(doc, bool(row["definition"])) if kind == "video"
        ]
        if not 0 <= slot < len(videos):
            abort(404, "no such video slot")
        bench = Path(row["benchmark"])
        try:
            path, _ = media.person_path(bench, videos[slot])
        except (media.UnsafePath, FileNotFoundError):
            abort(404, "video missing")
        return send_file(path, mimetype="video/mp4", conditional=True, max_age=0)

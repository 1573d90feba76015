"""Running the studio: open the store, import the annotation files, serve until Ctrl-C.

werkzeug's threaded WSGI server (one thread per request): the studio is a local tool for a
lab, and every write is a short SQLite transaction, so a thread per request is plenty; put a
reverse proxy with HTTPS in front of it to reach crowd workers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from videonet_datasets.studio.actions import sync_actions
from videonet_datasets.studio.collect import import_clips
from videonet_datasets.studio.db import STORE_DIR, STORE_FILE, Store
from videonet_datasets.studio.jobs import JobWorker
from videonet_datasets.studio.people import Person, ensure_admin
from videonet_datasets.studio.web import StudioApp, create_app

__all__ = ["Opened", "StudioServer", "default_store_path", "open_studio"]

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """No line per request (a rater's page makes dozens of media requests); errors still log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def default_store_path(root: Path) -> Path:
    return Path(root) / STORE_DIR / STORE_FILE


@dataclass
class Opened:
    store: Store
    admin: Person
    notes: list[str]
    actions: int
    domains: int
    clips: int


def open_studio(root: Path, store_path: Path | None = None) -> Opened:
    """The store for ``root`` with ``actions.csv`` and ``clips.csv`` imported (raises
    ``AnnotationError`` for an invalid actions.csv)."""
    store = Store(store_path or default_store_path(root))
    with store.write() as conn:
        notes = sync_actions(conn, root)
        notes += import_clips(conn, root)
        admin = ensure_admin(conn)
        actions = conn.execute("SELECT COUNT(*) FROM actions WHERE removed = 0").fetchone()[0]
        domains = conn.execute("SELECT COUNT(DISTINCT domain) FROM actions WHERE removed = 0").fetchone()[0]
        clips = conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
    return Opened(store, admin, notes, actions, domains, clips)


class StudioServer:
    """The app, its job worker and a werkzeug server; ``start()`` runs it in a thread (tests),
    ``serve_forever()`` in the caller's."""

    def __init__(
        self,
        root: Path,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 8765,
        benchmark: Path | None = None,
        public_url: str | None = None,
    ):
        self.worker = JobWorker(store, root)
        self.studio = StudioApp(
            root=root, store=store, benchmark=benchmark, worker=self.worker, public_url=public_url
        )
        self.app = create_app(self.studio)
        self.server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self.host, self.port = host, self.server.server_port
        if not public_url:
            shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
            self.studio.public_url = f"http://{shown}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.studio.public_url or f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self.worker.start()
        try:
            self.server.serve_forever()
        finally:
            self.worker.stop()

    def start(self) -> StudioServer:
        self.worker.start()
        self._thread = threading.Thread(target=self.server.serve_forever, name="studio-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.worker.stop()
        if self._thread:
            self._thread.join(5)

"""What the studio's page modules share: the app's context, the role check, reading forms,
and answering - JSON for API clients (``Accept: application/json``), a flash message and a
redirect for people in a browser."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import abort, flash, g, jsonify, redirect, request

from videonet_datasets.studio import media
from videonet_datasets.studio.db import Store, load_settings
from videonet_datasets.studio.jobs import JobWorker
from videonet_datasets.studio.settings import StudioSettings

__all__ = ["StudioApp", "form_float", "form_int", "need", "ok", "wants_json"]

FRAME_CACHE = 64  # sources whose frame times are kept in memory


@dataclass
class StudioApp:
    """What the app serves: the annotation directory, its store, an optional built benchmark
    for the human baseline, and the background worker."""

    root: Path
    store: Store
    benchmark: Path | None = None
    worker: JobWorker | None = None
    public_url: str | None = None
    _frames: dict[tuple[int, str], tuple[float, list[float]]] = field(default_factory=dict)
    _frames_lock: threading.Lock = field(default_factory=threading.Lock)

    def link(self, path: str) -> str:
        base = (self.public_url or "").rstrip("/")
        return f"{base}{path}"

    def settings(self) -> StudioSettings:
        with self.store.read() as conn:
            return load_settings(conn)

    def frame_times(self, video_id: int, path: Path) -> list[float]:
        """The served file's frame times, cached per file version (``media.frame_times``)."""
        key = (video_id, str(path))
        mtime = path.stat().st_mtime
        with self._frames_lock:
            cached = self._frames.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        times = media.frame_times(path)
        with self._frames_lock:
            if len(self._frames) >= FRAME_CACHE:
                self._frames.pop(next(iter(self._frames)))
            self._frames[key] = (mtime, times)
        return times


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def form_float(name: str) -> float:
    """A number of seconds from the form (400 with the field's name when it is not one)."""
    raw = request.form.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        abort(400, f"{name} must be a number of seconds, got {raw[:40]!r}")
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        abort(400, f"{name} must be a finite number >= 0")
    return value


def form_int(name: str, default: int | None = None) -> int:
    raw = request.form.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(str(raw))
    except ValueError:
        abort(400, f"{name} must be a whole number")
    raise AssertionError  # unreachable: abort raises


def ok(message: str, target: str, **data: Any) -> Any:
    """A finished write: JSON for API clients, else a flash message and a redirect."""
    if wants_json():
        return jsonify(ok=True, message=message, **data)
    flash(message, "ok")
    return redirect(target)


def need(role: str) -> Callable:
    """The page needs a person with this role (admins may do everything)."""

    def deco(f: Callable) -> Callable:
        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.person is None:
                abort(401)
            if not g.person.can(role):
                abort(403, f"this page is for the {role} role")
            return f(*args, **kwargs)

        return inner

    return deco

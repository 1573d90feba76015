"""Small annotation directories and people for the studio's tests.

``make_studio_dir`` writes one domain of actions with short clips (``clips.csv``) and a few
longer source videos under ``sources/`` to collect new candidates from; ``Studio`` opens the
store and gives a Flask test client plus people with tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import make_video, write_csv

from videonet_datasets.studio.db import load_settings, save_settings
from videonet_datasets.studio.people import Person, create_person
from videonet_datasets.studio.server import Opened, open_studio
from videonet_datasets.studio.web import StudioApp, create_app

DOMAIN = "Skating"
ACTIONS = ["spin one", "spin two", "jump one", "jump two"]


def make_studio_dir(
    root: Path,
    *,
    names: Sequence[str] = ACTIONS,
    clips: int = 5,
    drop: dict[str, int] | None = None,
    sources: int = 3,
    size: tuple[int, int] = (64, 48),
    source_seconds: float = 4.0,
) -> Path:
    """``names`` actions of one domain, ``clips`` 1-second clips each (``drop[name]`` fewer
    rows in clips.csv, their videos kept), hard negatives, and ``sources`` longer videos."""
    root.mkdir(parents=True, exist_ok=True)
    drop = drop or {}
    actions, negatives, rows = [], [], []
    for a, name in enumerate(names):
        actions.append(["Sports", DOMAIN, name, "move", f"The skater does {name}."])
        others = [n for n in names if n != name]
        negatives.append([DOMAIN, name, *others[:3]])
        for c in range(clips):
            video = f"videos/a{a}c{c}.mp4"
            make_video(root / video, seconds=1.0, fps=10.0, size=size[::-1], seed=a * 10 + c)
            if c < clips - drop.get(name, 0):
                rows.append([f"a{a}c{c}", DOMAIN, name, video, 0, ""])
    for s in range(sources):
        make_video(
            root / "sources" / f"src{s}.mp4", seconds=source_seconds, fps=10.0, size=size[::-1], seed=100 + s
        )
    write_csv(root / "actions.csv", ["category", "domain", "action", "subdomain", "definition"], actions)
    write_csv(
        root / "hard_negatives.csv", ["domain", "action", "negative_1", "negative_2", "negative_3"], negatives
    )
    write_csv(root / "clips.csv", ["clip_id", "domain", "action", "video", "start", "end"], rows)
    return root


@dataclass
class Studio:
    root: Path
    opened: Opened
    app: Any
    client: Any

    @property
    def store(self):
        return self.opened.store

    @property
    def admin(self) -> Person:
        return self.opened.admin

    def person(self, name: str, role: str = "annotator") -> Person:
        with self.store.write() as conn:
            return create_person(conn, name, role)

    def settings(self, **values: Any) -> None:
        with self.store.write() as conn:
            save_settings(conn, load_settings(conn).updated(values))

    @staticmethod
    def bearer(person: Person) -> dict[str, str]:
        return {"Authorization": f"Bearer {person.token}", "Accept": "application/json"}


def open_test_studio(root: Path, benchmark: Path | None = None) -> Studio:
    opened = open_studio(root.resolve())
    app = create_app(StudioApp(root=root.resolve(), store=opened.store, benchmark=benchmark))
    app.config["TESTING"] = True
    return Studio(root.resolve(), opened, app, app.test_client())

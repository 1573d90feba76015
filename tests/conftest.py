"""Shared fixtures: tiny annotation directories and videos made on the fly."""

from __future__ import annotations

import csv
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from videonet_datasets.video import write_video


def make_video(
    path: Path, seconds: float = 1.0, fps: float = 10.0, size: tuple[int, int] = (32, 32), seed: int = 0
) -> Path:
    """A small H.264 file whose frame i has mean intensity tied to i (handy to check
    which frame came back)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * fps)))
    h, w = size
    frames = []
    for i in range(n):
        img = np.full((h, w, 3), (i * 7) % 200 + 20, dtype=np.uint8)
        img[: h // 4, : w // 4] = rng.integers(0, 255, 3, dtype=np.uint8)
        frames.append(img)
    return write_video(path, frames, fps)


def set_display_matrix(src: Path, dst: Path, a: int, b: int, c: int, d: int) -> Path:
    """Copy an MP4/MOV with its video track's ``tkhd`` display matrix set to ``[a b; c d]``
    (what phones write; ``(0, 1, -1, 0)`` = shown turned 90 degrees clockwise)."""
    data = bytearray(src.read_bytes())
    at = data.index(b"tkhd")
    assert data[at + 4] == 0, "tkhd version 1 not handled"
    matrix = [a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30]
    data[at + 44 : at + 80] = struct.pack(">9i", *matrix)
    dst.write_bytes(bytes(data))
    return dst


def ffmpeg(*args: str) -> None:
    """Run the ffmpeg CLI quietly; its error text on failure."""
    proc = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-400:])


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_annotation_dir(
    root: Path, *, domains: int = 1, actions_per_domain: int = 4, clip_seconds: float = 1.0
) -> Path:
    """A valid annotation directory: ``domains`` domains of ``actions_per_domain``
    actions, 5 one-second clips each, the last clip of every action a window of a
    longer source video."""
    root.mkdir(parents=True, exist_ok=True)
    actions, negatives, clips = [], [], []
    for d in range(domains):
        domain = f"Domain {d}"
        names = [f"move {d}-{a}" for a in range(actions_per_domain)]
        for a, name in enumerate(names):
            actions.append(["Sports", domain, name, "" if a % 2 else "jump", f"The actor does move {a}."])
            negs = [names[(a + j) % len(names)] for j in (1, 2, 3)]
            negatives.append([domain, name, *negs])
            for c in range(5):
                cid = f"d{d}a{a}c{c}"
                if c < 4:
                    make_video(
                        root / "videos" / f"{cid}.mp4", seconds=clip_seconds, seed=d * 100 + a * 10 + c
                    )
                    clips.append([cid, domain, name, f"videos/{cid}.mp4", 0, ""])
                else:
                    make_video(
                        root / "videos" / f"{cid}_src.mp4",
                        seconds=clip_seconds + 2,
                        seed=d * 100 + a * 10 + c,
                    )
                    clips.append([cid, domain, name, f"videos/{cid}_src.mp4", 1.0, 1.0 + clip_seconds])
    write_csv(root / "actions.csv", ["category", "domain", "action", "subdomain", "definition"], actions)
    write_csv(
        root / "hard_negatives.csv", ["domain", "action", "negative_1", "negative_2", "negative_3"], negatives
    )
    write_csv(root / "clips.csv", ["clip_id", "domain", "action", "video", "start", "end"], clips)
    return root


@pytest.fixture
def annotation_dir(tmp_path: Path) -> Path:
    return make_annotation_dir(tmp_path / "ann")


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny models on a shared 2-core machine: thread fan-out costs more than it gains.
    Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_molmo2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Molmo2 (seed 0) saved with its processor, built once per session."""
    from videonet_datasets.molmo2 import build_tiny_molmo2

    return build_tiny_molmo2(tmp_path_factory.mktemp("tiny-molmo2") / "seed0", seed=0).path


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session's browser tests (see tests/browser.py)."""
    from browser import chromium

    with chromium() as b:
        yield b

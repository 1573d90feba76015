"""A tiny narrated "crawl" for the training-data pipeline tests, made on the fly.

Each video is a sequence of shots separated by hard cuts (a new background colour): an
*action* shot shows a square moving along a path, an *idle* shot shows it still.  An
espeak-ng narration names actions at given times, muxed as AAC like a web video.  The
true action segments are saved as ``ground_truth.jsonl`` in VideoNet-mini's format.
"""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videonet_datasets.video import write_video

SAMPLE_RATE = 22050
FPS = 10
SIZE = (48, 64)

DOMAINS = {
    "Skateboarding": ("Hobbies", ["kickflip", "heelflip", "ollie", "pop shove-it", "manual"]),
    "Juggling": ("Hobbies", ["cascade", "shower", "mills mess", "juggler's tennis"]),
}


@dataclass
class Shot:
    seconds: float
    action: str | None = None  # None = idle (no motion)
    say: str | None = None  # narration spoken at the shot start (+ offset)
    say_offset: float = 0.2


@dataclass
class WebVideo:
    video_id: str
    domain: str
    title: str
    shots: list[Shot]
    extra_speech: list[tuple[float, str]] = field(default_factory=list)


def write_actions(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "actions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "domain", "action", "subdomain", "definition"])
        for domain, (cat, names) in DOMAINS.items():
            for n in names:
                w.writerow([cat, domain, n, "trick" if domain == "Skateboarding" else "", f"The {n} move."])
    return root / "actions.csv"


def _speech(text: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-s", "150", "-w", tmp.name, text], check=True, capture_output=True)
        with wave.open(tmp.name) as w:
            assert w.getframerate() == SAMPLE_RATE
            return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def render(video: WebVideo, path: Path, seed: int = 0) -> list[dict]:
    """Write the narrated mp4; return the true action segments."""
    rng = np.random.default_rng(seed)
    h, w = SIZE
    frames, segments, speech = [], [], list(video.extra_speech)
    t = 0.0
    for i, shot in enumerate(video.shots):
        n = int(round(shot.seconds * FPS))
        bg = rng.integers(30, 220, 3).astype(np.uint8)
        if i % 2:  # make consecutive shots clearly different
            bg = (255 - bg).astype(np.uint8)
        for k in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = bg
            if shot.action is None:
                x, y = w // 2 - 6, h // 2 - 6
            else:
                phase = 2 * np.pi * k / max(1, n) * 2
                x = int(w / 2 - 6 + 18 * np.cos(phase))
                y = int(h / 2 - 6 + 12 * np.sin(phase * (1 + len(shot.action) % 3)))
            img[y : y + 12, x : x + 12] = (250, 250, 250) if bg.mean() < 128 else (10, 10, 10)
            frames.append(img)
        if shot.action is not None:
            segments.append({"start": round(t, 3), "end": round(t + n / FPS, 3), "action": shot.action})
        if shot.say:
            speech.append((t + shot.say_offset, shot.say))
        t += n / FPS
    duration = len(frames) / FPS
    silent = path.with_name(path.stem + ".silent.mp4")
    write_video(silent, frames, FPS)
    audio = np.zeros(int(duration * SAMPLE_RATE) + SAMPLE_RATE, dtype=np.int16)
    for at, text in speech:
        s = _speech(text)
        a = int(at * SAMPLE_RATE)
        s = s[: max(0, len(audio) - a)]
        audio[a : a + len(s)] += s
    audio = audio[: int(duration * SAMPLE_RATE)]
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(audio.tobytes())
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(silent),
            "-i",
            str(wav),
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    silent.unlink()
    wav.unlink()
    return segments


def default_videos() -> list[WebVideo]:
    """Five videos covering each filter's cases (see the comments)."""
    S = Shot
    return [
        # two narrated actions; the title names one: f1 labels both, f2 one, f3 none (2 windows)
        WebVideo(
            "v1",
            "Skateboarding",
            "Kickflip and more | skate session",
            [S(1.5), S(3.0, "kickflip", "now a kickflip"), S(1.5), S(3.0, "ollie", "and here an ollie")],
        ),
        # a single action, named in the title and spoken: all three filters
        WebVideo(
            "v2",
            "Skateboarding",
            "How to HEELFLIP - easy tutorial",
            [S(2.0), S(3.5, "heelflip", "watch this heelflip")],
        ),
        # a single action named in the title, never spoken: only single_action
        WebVideo("v3", "Juggling", "My first cascade!!", [S(1.5), S(4.0, "cascade")]),
        # narration names two actions next to one window: ambiguous, dropped by f1/f2
        WebVideo(
            "v4", "Juggling", "juggling practice", [S(1.5), S(3.0, "shower", "shower or cascade"), S(2.0)]
        ),
        # a wrong title: single_action mislabels (weak labels are honest about this)
        WebVideo("v5", "Skateboarding", "best manual ever", [S(1.5), S(3.0, "ollie")]),
    ]


def make_web_world(root: Path, videos: list[WebVideo] | None = None) -> Path:
    """actions.csv + web/manifest.csv + web/videos/*.mp4 + web/ground_truth.jsonl."""
    write_actions(root)
    web = root / "web"
    (web / "videos").mkdir(parents=True, exist_ok=True)
    rows, gt = [], []
    for i, v in enumerate(videos or default_videos()):
        segs = render(v, web / "videos" / f"{v.video_id}.mp4", seed=i)
        rows.append([v.video_id, f"videos/{v.video_id}.mp4", v.title, v.domain, "chan", "20250101"])
        gt.append({"video_id": v.video_id, "domain": v.domain, "segments": segs})
    with open(web / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["video_id", "path", "title", "domain", "channel", "upload_date"])
        w.writerows(rows)
    with open(web / "ground_truth.jsonl", "w", encoding="utf-8") as f:
        for g in gt:
            f.write(json.dumps(g) + "\n")
    return root

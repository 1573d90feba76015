"""Label quality against saved ground truth (VideoNet-mini's ``web/ground_truth.jsonl``).

Weak labels are only useful if one knows how wrong they are.  Where the true action
segments of the crawled videos are known (the synthetic world saves them), every labeled
clip is checked: it is **correct** when the ground-truth segment covering the largest
part of the clip carries the clip's label *and* covers at least half of the clip.  A
clip that overlaps no true segment (the localizer's window shows no action) is wrong.

The same ground truth scores the localizer: a window is a *hit* when at least half of it
is covered by one true segment, and a true segment is *found* when a window covers at
least half of it.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GroundTruth", "Segment", "label_precision", "localization_quality", "read_ground_truth"]

MIN_COVER = 0.5


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    action: str


@dataclass
class GroundTruth:
    segments: dict[str, list[Segment]]  # by video_id
    path: Path | None = None

    def __contains__(self, video_id: str) -> bool:
        return video_id in self.segments

    def true_action(self, video_id: str, start: float, end: float) -> str | None:
        """The action covering most of [start, end] if it covers at least half, else None."""
        cover: dict[str, float] = defaultdict(float)
        for seg in self.segments.get(video_id, []):
            ov = min(end, seg.end) - max(start, seg.start)
            if ov > 0:
                cover[seg.action] += ov
        if not cover:
            return None
        action, amount = max(cover.items(), key=lambda kv: kv[1])
        return action if amount >= MIN_COVER * (end - start) else None


def read_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """Read ``{"video_id", "segments": [{"start", "end", "action"}], ...}`` per line."""
    p = Path(path)
    out: dict[str, list[Segment]] = {}
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out[str(d["video_id"])] = [
                    Segment(float(s["start"]), float(s["end"]), str(s["action"]))
                    for s in d.get("segments", [])
                ]
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{p}:{lineno}: not a ground-truth record ({e})") from e
    return GroundTruth(out, p)


def label_precision(rows: Iterable[dict[str, Any]], gt: GroundTruth) -> dict[str, Any]:
    """Precision of labeled rows (``source_video_id``, ``source_start/end``, ``action``,
    ``domain``) overall and per domain; rows of videos without ground truth are skipped."""
    total = evaluated = correct = 0
    by_domain: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        total += 1
        vid = r["source_video_id"]
        if vid not in gt:
            continue
        evaluated += 1
        ok = gt.true_action(vid, r["source_start"], r["source_end"]) == r["action"]
        correct += ok
        by_domain[r["domain"]][0] += 1
        by_domain[r["domain"]][1] += ok
    return {
        "labeled": total,
        "evaluated": evaluated,
        "correct": correct,
        "precision": correct / evaluated if evaluated else None,
        "by_domain": {
            d: {"evaluated": n, "correct": c, "precision": c / n} for d, (n, c) in sorted(by_domain.items())
        },
    }


def localization_quality(
    windows_by_video: dict[str, list[tuple[float, float]]], gt: GroundTruth
) -> dict[str, Any]:
    """Window precision (windows mostly inside one true segment) and segment recall."""
    windows = hits = segments = found = 0
    for vid, wins in windows_by_video.items():
        if vid not in gt:
            continue
        segs = gt.segments[vid]
        for s, e in wins:
            windows += 1
            hits += gt.true_action(vid, s, e) is not None
        for seg in segs:
            segments += 1
            length = seg.end - seg.start
            found += any(min(e, seg.end) - max(s, seg.start) >= MIN_COVER * length for s, e in wins)
    return {
        "windows": windows,
        "window_precision": hits / windows if windows else None,
        "true_segments": segments,
        "segment_recall": found / segments if segments else None,
    }

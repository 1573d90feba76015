"""Benchmark statistics in the paper's layouts (Tables 3, 8 and 9) and the
hard-negative balance check (paper §3.4, Fig. 11: each action a negative 2-5 times)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonet_datasets.annotations import CLIPS_PER_ACTION, AnnotationSet

NEGATIVE_USE_RANGE = (2, 5)


@dataclass(frozen=True)
class DurationStats:
    count: int
    min: float
    max: float
    mean: float
    median: float
    std: float
    kurtosis: float  # Pearson (normal = 3), as the paper reports

    @classmethod
    def of(cls, durations: list[float]) -> DurationStats:
        x = np.asarray(durations, dtype=np.float64)
        if x.size == 0:
            return cls(0, *(float("nan"),) * 6)
        std = float(x.std())  # population std, as numpy/pandas describe the benchmark
        kurt = float(((x - x.mean()) ** 4).mean() / std**4) if std > 0 else float("nan")
        return cls(
            int(x.size), float(x.min()), float(x.max()), float(x.mean()), float(np.median(x)), std, kurt
        )


def clip_durations(ann: AnnotationSet) -> dict[str, float]:
    return {c.clip_id: float(c.duration) for c in ann.clips if c.duration is not None}


def domain_table(ann: AnnotationSet, used_clip_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Table 9: category, domain, #actions, #clips, mean and median clip duration."""
    rows = []
    for domain in ann.domains:
        actions = ann.actions_of(domain)
        durs = [
            float(c.duration)
            for a in actions
            for c in ann.clips_of(domain, a.name)[:CLIPS_PER_ACTION]
            if c.duration is not None and (used_clip_ids is None or c.clip_id in used_clip_ids)
        ]
        rows.append(
            {
                "category": ann.category_of(domain),
                "domain": domain,
                "actions": len(actions),
                "clips": len(durs),
                "mean_s": float(np.mean(durs)) if durs else float("nan"),
                "median_s": float(np.median(durs)) if durs else float("nan"),
            }
        )
    rows.sort(key=lambda r: (r["category"], r["domain"]))
    return rows


def best_single_answer(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Per category and overall: the best accuracy reachable by always giving one answer
    (Table 3's "Random" row: one letter per category; overall one letter for all)."""
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for r in rows:
        by_cat[r["category"]][r[key]] += 1
        total[r[key]] += 1
    out = {cat: 100.0 * max(c.values()) / sum(c.values()) for cat, c in sorted(by_cat.items())}
    if total:
        out["Overall"] = 100.0 * max(total.values()) / sum(total.values())
    return out


def negative_usage(ann: AnnotationSet) -> dict[str, dict[str, int]]:
    """How often each action serves as a hard negative, per domain (0 included)."""
    usage: dict[str, dict[str, int]] = {d: {a.name: 0 for a in ann.actions_of(d)} for d in ann.domains}
    for a in ann.actions.values():
        for n in ann.negative_actions(a.key):  # a cross-domain negative counts in its own domain
            usage[n.domain][n.name] += 1
    return usage


def negative_usage_warnings(
    ann: AnnotationSet, lo: int = NEGATIVE_USE_RANGE[0], hi: int = NEGATIVE_USE_RANGE[1]
) -> list[str]:
    warnings = []
    for domain, counts in negative_usage(ann).items():
        for name, n in counts.items():
            if not lo <= n <= hi:
                warnings.append(
                    f"hard negatives: {name!r} ({domain}) is a negative {n} time(s); the paper aims for {lo}-{hi}"
                )
    return warnings


def usage_histogram(ann: AnnotationSet) -> dict[str, dict[int, int]]:
    """Per domain: {times used as a negative: number of actions}."""
    return {d: dict(sorted(Counter(c.values()).items())) for d, c in negative_usage(ann).items()}

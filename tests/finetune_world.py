"""Small datasets for the fine-tuning tests, written by the project's own writers.

* :func:`make_train_dataset` - the training-data layout of ``videonet train-data``
  (``videonet_datasets/train_data/output.py``: parquet shards per filter, README ``configs``,
  ``videos/<clip_uid>.mp4``), rows with the three QA pairs of ``train_data/qa.py``;
* :func:`make_benchmark` - a benchmark built by ``videonet build-benchmark`` from a tiny
  annotation directory.

The clips are moving squares (:mod:`videonet_datasets.molmo2.synthetic`): the direction is
the action, so a model can only answer from the pixels.
"""

from __future__ import annotations

from pathlib import Path

from conftest import make_annotation_dir

from videonet_datasets.annotations import Action
from videonet_datasets.molmo2 import write_moving_square_clip
from videonet_datasets.train_data.output import FEATURES, config_yaml, write_config
from videonet_datasets.train_data.qa import make_qa

DOMAIN = "Square Motion"
ACTIONS = ("slide left", "slide right", "hold still", "zigzag")


def make_train_dataset(root: Path, *, clips: int = 8, config: str = "single_action", seed: int = 0) -> Path:
    """A training-data directory with ``clips`` rows (alternating left / right squares)."""
    root.mkdir(parents=True, exist_ok=True)
    actions = [Action("Hobbies", DOMAIN, name, "move", f"The square does a {name}.") for name in ACTIONS]
    rows = []
    for i in range(clips):
        direction = ("left", "right")[i % 2]
        uid = f"clip{i:03d}"
        video = f"videos/{uid}.mp4"
        write_moving_square_clip(root / video, direction, seconds=1.0 + 0.25 * (i % 3))
        action = actions[i % 2]
        rows.append(
            {
                "clip_uid": uid,
                "video": video,
                "duration": 1.0 + 0.25 * (i % 3),
                "source_video_id": f"src{i}",
                "source_start": 0.0,
                "source_end": 1.0,
                "category": action.category,
                "domain": action.domain,
                "action": action.name,
                "filter": config,
                "title": f"how to {action.name}",
                "qa": make_qa(action, actions, clip_uid=uid, seed=seed),
            }
        )
    assert set(rows[0]) == set(FEATURES)
    write_config(root, config, rows, max_shard_bytes=1 << 20)
    (root / "README.md").write_text(
        f"---\n{config_yaml([config])}\n---\n\n# test training data\n", encoding="utf-8"
    )
    return root


def make_benchmark(root: Path, *, domains: int = 1, actions_per_domain: int = 4) -> Path:
    """A built benchmark (``mc``, ``binary_*`` configs, ``videos/`` pool) from a tiny annotation set."""
    from videonet_datasets.benchmark.build import build_benchmark

    annotations = make_annotation_dir(
        root / "annotations", domains=domains, actions_per_domain=actions_per_domain
    )
    build_benchmark(annotations, root / "videonet", workers=1, progress=False)
    return root / "videonet"

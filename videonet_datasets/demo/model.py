"""The demo's tiny Molmo2: ``make_tiny_molmo2`` at the demo's sizes with ``embed_std=1``.

Why ``embed_std`` (the embedding tables re-drawn from N(0, 1)): see "Embedding scale" in
:mod:`videonet_datasets.molmo2.tiny` and ``docs/demo_experiments.md``.  The saved directory
reloads with ``AutoModelForImageTextToText`` like any tiny Molmo2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from videonet_datasets.molmo2 import build_tiny_molmo2

__all__ = ["DEMO_SPEC", "build_demo_model"]

#: The demo model's sizes: 56 px frames (16 patches pooled 2x2 into 4 tokens), 8 frames, a 4-layer
#: LLM (2 layers never got past the generic pretraining's first stage; docs/demo_experiments.md).
DEMO_SPEC: dict[str, Any] = {"image_size": 56, "num_frames": 8, "text_layers": 4}


def build_demo_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    extra_corpus: Iterable[str] = (),
    embed_std: float | None = 1.0,
    **sizes: Any,
) -> dict[str, Any]:
    """Build and ``save_pretrained`` the demo's base model; returns what was built."""
    from videonet_datasets.demo.pretrain import GENERIC_DOMAIN, GENERIC_WORDS

    corpus = [*extra_corpus, GENERIC_DOMAIN, *GENERIC_WORDS]  # the pretraining's words, compactly
    built = build_tiny_molmo2(
        out_dir, seed=seed, extra_corpus=corpus, embed_std=embed_std, **{**DEMO_SPEC, **sizes}
    )
    return {
        "path": str(built.path),
        "parameters": built.num_parameters,
        "spec": dataclasses.asdict(built.spec),
        "embed_std": embed_std,
        "seed": seed,
    }

"""The demo's tiny Molmo2: ``make_tiny_molmo2`` plus the embedding scale the research found.

``make_tiny_molmo2(init="fan_in")`` re-draws every *linear* layer from N(0, 1/fan_in) but
leaves the two embedding tables at transformers' std 0.02, while the features around them
are of order 1 (see ``docs/demo_experiments.md``):

* the ViT's position embeddings are ~2% of a patch token, so where the actor is in the
  frame is nearly invisible to the pooled video tokens;
* the LLM's token embeddings are ~2% of the video features (feature/embedding ratio ~65),
  so the words of the question are washed out by the first attention layer.

Re-drawing both tables with std 1 made the still-image and motion-direction probes learn
(with ViT/connector learning rates of 1e-3); nothing else about the model changes, and the
saved directory reloads with ``AutoModelForImageTextToText`` like any tiny Molmo2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from videonet_datasets.molmo2 import TinyMolmo2Spec, make_tiny_molmo2

__all__ = ["DEMO_SPEC", "build_demo_model", "rescale_embeddings"]

#: The demo model's sizes: 56 px frames (16 patches pooled 2x2 into 4 tokens), 8 frames.
DEMO_SPEC: dict[str, Any] = {"image_size": 56, "num_frames": 8}


def rescale_embeddings(model: nn.Module, std: float = 1.0, *, seed: int = 0) -> None:
    """Re-draw the LLM's token embeddings and the ViT's position embeddings from N(0, ``std``)."""
    generator = torch.Generator().manual_seed(seed + 7)
    inner = model.model
    with torch.no_grad():
        for table in (inner.language_model.embed_tokens.weight, inner.vision_tower.positional_embedding):
            table.copy_(torch.randn(table.shape, generator=generator) * std)


def build_demo_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    extra_corpus: Iterable[str] = (),
    embed_std: float | None = 1.0,
    **sizes: Any,
) -> dict[str, Any]:
    """Build, re-scale and ``save_pretrained`` the demo's base model; returns what was built."""
    spec = dataclasses.replace(TinyMolmo2Spec(), **{**DEMO_SPEC, **sizes})
    model, processor = make_tiny_molmo2(spec, seed=seed, extra_corpus=list(extra_corpus))
    if embed_std is not None:
        rescale_embeddings(model, embed_std, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return {
        "path": str(out),
        "parameters": sum(p.numel() for p in model.parameters()),
        "spec": dataclasses.asdict(spec),
        "embed_std": embed_std,
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m videonet_datasets.demo.model --out DIR --actions actions.csv [--seed N]``."""
    import argparse
    import csv
    import json

    p = argparse.ArgumentParser(description="Build the demo's tiny random Molmo2 (see the module docstring).")
    p.add_argument("--out", required=True, help="directory for save_pretrained")
    p.add_argument("--actions", help="actions.csv whose action names the tokenizer should encode compactly")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embed-std", type=float, default=1.0, help="std of the re-drawn embedding tables")
    args = p.parse_args(argv)
    names: list[str] = []
    if args.actions:
        with open(args.actions, newline="") as f:
            names = sorted({row["action"] for row in csv.DictReader(f)})
    print(
        json.dumps(build_demo_model(args.out, seed=args.seed, extra_corpus=names, embed_std=args.embed_std))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

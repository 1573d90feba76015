"""Step-time profile of the demo's tiny Molmo2: ms per optimizer step vs batch size and model size.

Why: the demo's budget is wall-clock minutes on a 2-core CPU.  A 0.3M-parameter model is
likely *overhead*-bound (Python, many tiny kernels, the processor's per-clip tensors), in
which case packing more clips into one step costs little extra time and multiplies the
samples seen per second.  This measures it on real packed rows (8 frames of the ``demo``
world, the paper's 3 QA pairs per clip) rather than guessing.

``python -m research.steptime --batch 4,8,16,32 --model text_layers=4 --out p.jsonl``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from research.probe import encode_task_rows, world_actions
from videonet_datasets.config import parse_key_values
from videonet_datasets.demo.clips import render_training_clips
from videonet_datasets.molmo2 import (
    TinyMolmo2Config,
    answer_loss,
    collate_packed,
    make_tiny_molmo2,
    param_groups,
)
from videonet_datasets.synth.config import preset

__all__ = ["profile_steps"]


def profile_steps(
    batch_sizes: Sequence[int],
    *,
    world: str = "demo",
    model: dict[str, Any] | None = None,
    image_size: int = 56,
    frames: int = 8,
    steps: int = 30,
    warmup: int = 5,
    threads: int = 1,
    embed_std: float | None = 1.0,
) -> list[dict[str, Any]]:
    """Median-free plain timing: ``steps`` optimizer steps per batch size after ``warmup``."""
    torch.set_num_threads(threads)
    config = preset(world)
    clips = render_training_clips(config, [1], 2, fps=16.0, max_frames=frames, size=image_size)
    spec = dataclasses.replace(TinyMolmo2Config(), image_size=image_size, num_frames=frames, **(model or {}))
    net, processor = make_tiny_molmo2(spec, seed=0, embed_std=embed_std)
    rows = encode_task_rows(processor, clips, "paper", world_actions(config), 0)
    opt = torch.optim.AdamW(param_groups(net, {"vit": 1e-3, "connector": 1e-3, "llm": 1e-3}))
    net.train()
    pad = processor.tokenizer.pad_token_id
    out = []
    for bs in batch_sizes:
        batch = collate_packed([rows[i % len(rows)] for i in range(bs)], pad)
        for i in range(warmup + steps):
            if i == warmup:
                t0, c0 = time.perf_counter(), time.process_time()
            loss = answer_loss(net, batch).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        wall = (time.perf_counter() - t0) / steps
        cpu = (time.process_time() - c0) / steps
        out.append({
            "batch": bs, "model": model or {}, "image_size": image_size, "frames": frames, "threads": threads,
            "params": sum(p.numel() for p in net.parameters()), "seq_len": int(batch["input_ids"].shape[1]),
            "ms_step": round(1000 * wall, 1), "cpu_ms_step": round(1000 * cpu, 1),
            "clips_per_s": round(bs / wall, 1),
        })  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", default="4,8,16,32", help="comma-separated batch sizes (packed clips)")
    p.add_argument(
        "--model", action="append", default=[], metavar="FIELD=VALUE", help="TinyMolmo2Config override"
    )
    p.add_argument("--image-size", type=int, default=56)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--world", default="demo", help="synth preset whose clips are used")
    p.add_argument("--out", help="JSON-lines file to append the rows to")
    args = p.parse_args(argv)
    model = parse_key_values(",".join(args.model), TinyMolmo2Config, where="--model")
    rows = profile_steps(
        [int(b) for b in args.batch.split(",")], world=args.world, model=model, image_size=args.image_size,
        frames=args.frames, steps=args.steps, threads=args.threads,
    )  # fmt: skip
    for r in rows:
        print(json.dumps(r), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

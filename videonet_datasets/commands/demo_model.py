"""``videonet demo-model``: the demo's tiny random Molmo2 (a step of ``videonet demo``; not listed in
``videonet --help``)."""

from __future__ import annotations

import argparse
import csv
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-model",
        description="Build the demo's tiny random Molmo2 (videonet_datasets.demo.model) and save_pretrained it.",
    )
    p.add_argument("--out", required=True, help="directory for save_pretrained")
    p.add_argument("--actions", help="actions.csv whose action names the tokenizer should encode compactly")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embed-std", type=float, default=1.0, help="std of the re-drawn embedding tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.demo.model import build_demo_model

    names: list[str] = []
    if args.actions:
        with open(args.actions, newline="") as f:
            names = sorted({row["action"] for row in csv.DictReader(f)})
    print(
        json.dumps(build_demo_model(args.out, seed=args.seed, extra_corpus=names, embed_std=args.embed_std))
    )
    return 0

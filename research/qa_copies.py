"""Research probe behind ``docs/demo_experiments.md`` round 5: a training set whose clips each carry
several re-drawn QA sets, to test whether fixed MC option orders are what holds the MC score down.

Writes a copy of one config of a ``videonet build-train`` output with ``--copies`` rows per clip
(uids ``<clip>~k``; copy 0 is the original row) and links the videos and the other configs:

* ``--mode order``: copy k asks the clip's MC question with its options in another order (same
  options, same binary questions) - what the recipe's ``shuffle_options`` now does per epoch;
* ``--mode all``: copy k is a new ``make_qa`` draw (new binary negative, new MC distractors and
  order), which needs the world's ``actions.csv``.

    python -m research.qa_copies --train demo_output/train --actions demo_output/world \\
        --out /tmp/order8 --copies 8 --mode order
    python recipes/finetune_molmo2.py --config recipes/configs/molmo2_demo_cpu.yaml \\
        --shuffle_options false --dataset /tmp/order8 ...
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from videonet_datasets.annotations import load_actions
from videonet_datasets.fsutil import stable_rng
from videonet_datasets.prompts import mc_prompt, mc_target
from videonet_datasets.train_data.qa import make_qa


def reordered(qa: dict, domain: str, subdomain: str, uid: str, k: int) -> dict:
    options = list(qa["options"])
    correct = options[ord(qa["answer"]) - ord("A")]
    options = [options[int(i)] for i in stable_rng(k, "qa-copies", uid).permutation(len(options))]
    return {**qa, "prompt": mc_prompt(domain, options, subdomain).render(), "options": options,
            "answer": mc_target(options, correct)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True, help="a videonet build-train output directory")
    ap.add_argument("--actions", required=True, help="the annotation directory (actions.csv) of its world")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="single_action")
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--mode", choices=("order", "all"), default="order")
    args = ap.parse_args(argv)
    src, out = Path(args.train), Path(args.out)
    actions = load_actions(args.actions)
    by_domain: dict[str, list] = {}
    for (domain, _), action in actions.items():
        by_domain.setdefault(domain, []).append(action)
    (path,) = (src / "data" / args.config).glob("*.parquet")
    table = pq.read_table(path)
    rows = []
    for row in table.to_pylist():
        action = actions[(row["domain"], row["action"])]
        for k in range(args.copies):
            qas = row["qa"]
            if k and args.mode == "all":
                qas = [{key: q[key] for key in ("kind", "asked_action", "prompt", "answer", "options")}
                       for q in make_qa(action, by_domain[row["domain"]], clip_uid=row["clip_uid"], seed=1000 + k)]  # fmt: skip
            elif k:
                qas = [reordered(q, row["domain"], action.subdomain, row["clip_uid"], k) if q["options"] else q
                       for q in qas]  # fmt: skip
            rows.append({**row, "clip_uid": f"{row['clip_uid']}~{k}", "qa": qas})
    (out / "data" / args.config).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / "data" / args.config / path.name)
    shutil.copy(src / "README.md", out / "README.md")
    for other in (src / "data").iterdir():
        if other.name != args.config and not (out / "data" / other.name).exists():
            os.symlink(other.resolve(), out / "data" / other.name)
    if not (out / "videos").exists():
        os.symlink((src / "videos").resolve(), out / "videos")
    print(f"{out}: {len(rows)} rows ({table.num_rows} clips x {args.copies}, mode {args.mode})")


if __name__ == "__main__":
    main()

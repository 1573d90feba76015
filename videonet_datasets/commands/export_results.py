"""``videonet export-results RUN --format official --out DIR``: lmms-eval samples -> the authors' result files."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-results",
        help="write an lmms-eval run's answers as the VideoNet authors' result files",
        description="Read the samples lmms-eval logged (videonet eval ... --output_path RUN --log_samples) and write "
        "the authors' layout OUT/<model>/{mcq_test,mcq_val,zero,one,two,three}.json: question key -> {accurate: "
        "1|0|-1, prediction, response}, scored under the official convention (its published defects fixed). "
        "Other VideoNet tasks are written as OUT/<model>/<task>.json. Label a model with NAME=RUN.",
    )
    p.add_argument("runs", nargs="+", metavar="[NAME=]RUN", help="lmms-eval output directory (--output_path)")
    p.add_argument(
        "--format", choices=["official"], default="official", help="output layout (default: official)"
    )
    p.add_argument(
        "--out", default="results", help="output directory (default: ./results, as the authors' code)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.official_results import export_samples

    try:
        summary = export_samples(args.runs, args.out)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    for model, files in summary.written.items():
        print(f"{model}: " + ", ".join(str(f) for f in files))
    for note in summary.notes:
        print(f"note: {note}")
    print(f"read them back with: videonet report {args.out} --data <the benchmark>")
    return 0

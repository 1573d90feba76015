"""``videonet report RESULTS_DIR...``: the paper's tables and plots from lmms-eval results."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the paper's tables (Markdown + CSV) and plots from lmms-eval results",
        description="Read the *_results.json files lmms-eval wrote (videonet eval ... --output_path DIR) for "
        "one or more models and write Table 3 (MC by category), Table 4 (binary 0-shot), Table 12 (k-shot), "
        "Table 17 (positive/negative clips), the ablation tables when those tasks were run, per-domain "
        "accuracy, and the plots (accuracy vs k, per-category bars). Label a model with NAME=DIR.",
    )
    p.add_argument(
        "results", nargs="+", metavar="[NAME=]RESULTS_DIR", help="lmms-eval output directory or results file"
    )
    p.add_argument("--out", default="videonet_report", help="output directory (default: videonet_report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.report import Report, load_results, write_report

    try:
        results, notes = load_results(args.results)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    ours = [r for r in results if r.task.startswith("videonet_")]
    if not ours:
        raise UsageError("no VideoNet task results in " + ", ".join(args.results))
    skipped = sorted({r.task for r in results} - {r.task for r in ours})
    if skipped:
        notes.append(f"ignored non-VideoNet tasks: {', '.join(skipped)}")
    written = write_report(ours, args.out, notes)
    report = Report(ours)
    for table in report.tables()[:2]:
        print(table.markdown())
    print(report.summary().markdown())
    for note in notes + report.notes:
        print(f"note: {note}")
    print(f"wrote {len(written)} files to {args.out}/ (report.md, tables as .md/.csv, plots as .png)")
    return 0

"""``videonet report RESULTS_DIR...``: the paper's tables and plots from lmms-eval results and the
authors' result files, under both scoring conventions."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the paper's tables (Markdown + CSV) and plots from lmms-eval results or the authors' result files",
        description="Read the *_results.json files lmms-eval wrote (videonet eval ... --output_path DIR) and the "
        "VideoNet authors' result files (results/<model>/{mcq_test,mcq_val,zero,one,two,three}.json, or what "
        "`videonet export-results` writes) for one or more models, and write Table 3 (MC by category), Table 4 "
        "(binary 0-shot), Table 12 (k-shot), Table 17 (positive/negative clips), the ablation tables when "
        "those tasks were run, per-domain accuracy, and the plots - each under the official scoring convention "
        "(the paper's: accuracy over parsed answers) and this toolkit's robust one - plus a summary of both. "
        "Label a model with NAME=DIR.",
    )
    p.add_argument(
        "results",
        nargs="+",
        metavar="[NAME=]RESULTS_DIR",
        help="lmms-eval output directory or results file, or a folder of the authors' result files",
    )
    p.add_argument("--out", default="videonet_report", help="output directory (default: videonet_report)")
    p.add_argument(
        "--data",
        metavar="DIR_OR_HUB_ID",
        help="the benchmark the authors' result files answer (a benchmark directory, the official release or "
        "a Hub id): their responses are re-scored like the tasks score them, per category too",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.report import Report, load_results, summary_markdown, write_report

    try:
        results, notes = load_results(args.results, data=args.data)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    ours = [r for r in results if r.task.startswith("videonet_")]
    if not ours:
        raise UsageError("no VideoNet task results in " + ", ".join(args.results))
    skipped = sorted({r.task for r in results} - {r.task for r in ours})
    if skipped:
        notes.append(f"ignored non-VideoNet tasks: {', '.join(skipped)}")
    written = write_report(ours, args.out, notes)
    official = Report(ours, "official")
    for table in official.tables()[:2]:
        print(table.markdown())
    print(summary_markdown(ours))
    for note in notes + official.notes:
        print(f"note: {note}")
    print(f"wrote {len(written)} files to {args.out}/ (report.md, tables as .md/.csv, plots as .png)")
    return 0

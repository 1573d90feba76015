"""``videonet import-release RELEASE --out ANNOTATIONS_DIR``."""

from __future__ import annotations

import argparse
import csv

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-release",
        help="recover annotation tables from a local copy of the official VideoNet release",
        description="Read RELEASE/benchmarks/*.jsonl (the layout lmms-eval's built-in videonet tasks use) and "
        "RELEASE/videos/, and write actions.csv, hard_negatives.csv and clips.csv (videos symlinked) so that "
        "`videonet build-benchmark` can build this toolkit's configs from the release. Definitions are not "
        "in the release and are left empty.",
    )
    p.add_argument("release", metavar="RELEASE")
    p.add_argument("--out", required=True, help="annotation directory to write")
    p.add_argument("--copy-videos", action="store_true", help="copy videos instead of symlinking them")
    p.add_argument(
        "--categories",
        metavar="CSV",
        help="domain,category rows for domains outside the paper's table",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.benchmark.release import ReleaseFormatError, import_release, write_annotations

    cats = None
    if args.categories:
        with open(args.categories, newline="", encoding="utf-8") as f:
            cats = {r["domain"]: r["category"] for r in csv.DictReader(f)}
    try:
        result = import_release(args.release, categories=cats)
    except ReleaseFormatError as e:
        raise UsageError(str(e)) from None
    out = write_annotations(result, args.release, args.out, link_videos=not args.copy_videos)
    print(result.summary())
    print(f"wrote {out}/actions.csv, hard_negatives.csv, clips.csv; next: videonet validate {out}")
    return 0

"""``videonet import-release RELEASE --out videonet``: the official release, as published."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-release",
        help="import the official VideoNet release (question files + clips) as a benchmark directory, as published",
        description="Read RELEASE/benchmarks/{mcq_test,mcq_val,binary_{0..3}shot}.jsonl - the official question "
        "files (RAIVNLab/VideoNet on GitHub, raivn/VideoNet on the Hub) - and write a benchmark directory whose "
        "rows are those questions unchanged: keys (question_id), options and their order, answers, binary pairs, "
        "in-context clips and prompt text. The clips (RELEASE/videos, $VN_VIDEOS_DIR or --videos) are symlinked, "
        "or copied byte for byte with --copy-videos; never re-encoded. The recovered annotation tables go to "
        "OUT/annotations. Evaluate with `videonet eval --data OUT --tasks videonet_main ...`.",
    )
    p.add_argument("release", metavar="RELEASE", help="folder holding benchmarks/*.jsonl")
    p.add_argument("--out", default="videonet", help="benchmark directory to write (default: ./videonet)")
    p.add_argument(
        "--videos",
        metavar="DIR",
        help="folder of the release's <uuid>.mp4 clips (default: $VN_VIDEOS_DIR, else RELEASE/videos)",
    )
    p.add_argument("--copy-videos", action="store_true", help="copy the clips instead of symlinking them")
    p.add_argument(
        "--categories",
        metavar="CSV",
        help="domain,category rows for domains outside the paper's table",
    )
    p.add_argument("--name", default="VideoNet (official release)", help="pretty name in the dataset card")
    p.add_argument("--force", action="store_true", help="replace OUT even if it is not a benchmark directory")
    p.set_defaults(func=run)


def _refuses_to_replace(out: Path) -> bool:
    """OUT exists, holds something, and is not a benchmark directory (no build_info.json)."""
    return out.is_dir() and any(out.iterdir()) and not (out / "build_info.json").is_file()


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.benchmark.release import ReleaseFormatError, import_release

    cats = None
    if args.categories:
        try:
            with open(args.categories, newline="", encoding="utf-8") as f:
                cats = {r["domain"]: r["category"] for r in csv.DictReader(f)}
        except (OSError, KeyError) as e:
            raise UsageError(f"--categories {args.categories}: needs domain,category columns ({e})") from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file")
    if _refuses_to_replace(out) and not args.force:
        raise UsageError(
            f"{out} exists and is not a benchmark directory (no build_info.json); "
            "choose another --out or pass --force to replace it"
        )
    try:
        summary = import_release(
            args.release,
            out,
            videos=args.videos,
            copy_videos=args.copy_videos,
            categories=cats,
            pretty_name=args.name,
        )
    except ReleaseFormatError as e:
        raise UsageError(f"{e}\nNothing was written.") from None
    print(summary.format())
    return 0

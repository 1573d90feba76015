"""``videonet validate DIR``: check an annotation directory and report every problem."""

from __future__ import annotations

import argparse
from collections import Counter

from videonet_datasets.annotations import validate_annotations


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check an annotation directory (actions, hard negatives, clips, videos)",
        description="Check actions.csv, hard_negatives.csv and clips.csv (and every video they name) "
        "and print all problems, each with file, line and value. Exits 1 when anything is wrong.",
    )
    p.add_argument("annotations", metavar="DIR", help="annotation directory")
    p.add_argument("--no-videos", action="store_true", help="skip opening the video files (fast)")
    p.add_argument(
        "--no-negatives",
        action="store_true",
        help="do not require hard_negatives.csv (before `videonet mine-negatives` has written it)",
    )
    p.add_argument("--workers", type=int, default=4, help="threads probing videos (default 4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ann, problems = validate_annotations(
        args.annotations,
        check_videos=not args.no_videos,
        require_negatives=not args.no_negatives,
        workers=args.workers,
        progress=True,
    )
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    for p in problems:
        print(p)
    if ann is None:
        by_file = Counter(p.file for p in errors)
        print(
            f"\nINVALID: {len(errors)} error(s) ("
            + ", ".join(f"{f}: {n}" for f, n in by_file.items())
            + ")"
            + (f", {len(warnings)} warning(s)" if warnings else "")
        )
        return 1
    n_videos = len({c.path for c in ann.clips})
    durations = [c.duration for c in ann.clips if c.duration is not None]
    total = sum(durations)
    print(
        f"OK: {len(ann.categories)} categories, {len(ann.domains)} domains, {len(ann.actions)} actions, "
        f"{len(ann.clips)} clips from {n_videos} videos"
        + (f", {total:.1f}s of clips" if durations else "")
        + f", {sum(len(v) for v in ann.negatives.values())} hard-negative entries"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
    )
    return 0

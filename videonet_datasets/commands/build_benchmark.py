"""``videonet build-benchmark ANNOTATIONS --out videonet``."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import RunFailed, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-benchmark",
        help="build the MC and binary k-shot configs as a 🤗 dataset directory",
        description="Validate ANNOTATIONS, trim every clip once into a shared pool and write the "
        "configs mc, binary_{0..3}shot and binary_random_{0..3}shot with a dataset card, so that "
        "load_dataset(OUT, CONFIG) works. Resumes an interrupted build; swaps the result in atomically.",
    )
    p.add_argument("annotations", metavar="ANNOTATIONS_DIR")
    p.add_argument("--out", default="videonet", help="output dataset directory (default: ./videonet)")
    p.add_argument("--seed", type=int, default=0, help="seed for option order and negative actions")
    p.add_argument(
        "--skip-invalid-clips",
        action="store_true",
        help="leave out clips with a bad row or video (listed in the summary and the card) instead of failing",
    )
    p.add_argument("--workers", type=int, default=None, help="trimming processes (default: cores, max 4)")
    p.add_argument("--short-side", type=int, default=None, help="downscale clips to this short side (pixels)")
    p.add_argument("--crf", type=int, default=20, help="x264 quality of the trimmed clips (default 20)")
    p.add_argument(
        "--keep-whole-clips",
        action="store_true",
        help="link (or copy) clips whose window is the whole video byte for byte instead of re-encoding "
        "them - for already-trimmed clips such as the official release's (`videonet import-release` "
        "writes their tables to OUT/annotations)",
    )
    p.add_argument("--name", default="VideoNet", help="pretty name in the dataset card")
    p.add_argument("--license", default="other", help="license field of the dataset card")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.benchmark.build import TrimConfig, build_benchmark

    if args.keep_whole_clips and args.short_side:
        raise UsageError("--keep-whole-clips keeps clips as they are; it cannot resize them (--short-side)")
    try:
        summary = build_benchmark(
            args.annotations,
            args.out,
            seed=args.seed,
            skip_invalid_clips=args.skip_invalid_clips,
            settings=TrimConfig(
                crf=args.crf, short_side=args.short_side, keep_whole_clips=args.keep_whole_clips
            ),
            workers=args.workers,
            pretty_name=args.name,
            license=args.license,
        )
    except AnnotationError as e:
        raise UsageError(
            f"{e}\nNothing was written. Fix the annotations (see `videonet validate`) or pass "
            "--skip-invalid-clips."
        ) from None
    except RuntimeError as e:
        raise RunFailed(str(e)) from None
    print(summary.format())
    return 0

"""``videonet explore NAME=RESULTS_DIR ... --data BENCHMARK --out site/``: the results explorer.

The command layer may import the task suite: each task's prompt is rendered by the suite's own
``build_prompt`` (the stored question, or the variant / definition the task sends), so the page
shows the prompt as sent.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="write a static site to browse every question, answer and confusion of one or more runs",
        description="Read the per-question answers of lmms-eval runs (videonet eval ... --log_samples) or the "
        "authors' result files, join them with the benchmark (--data) and write a self-contained static site "
        "(open OUT/index.html from disk, or publish the folder as a static Space): a question browser with "
        "the clips, the prompt as sent, each model's raw and parsed answer and the parsing rule; confusion "
        "matrices; `videonet report`'s per-domain and per-k tables; run-vs-run differences with standard "
        "errors clustered by action; and a leaderboard export (CSV, Markdown, a dataset folder).",
    )
    p.add_argument("results", nargs="+", metavar="[NAME=]RESULTS_DIR", help="lmms-eval output directory "
                   "(with --log_samples) or a folder of the authors' result files")  # fmt: skip
    p.add_argument("--data", required=True, metavar="DIR_OR_HUB_ID",
                   help="the benchmark the runs answered (a benchmark directory or the official release)")  # fmt: skip
    p.add_argument("--out", default="videonet_explore", help="output folder (default: videonet_explore)")
    p.add_argument("--copy-videos", action="store_true",
                   help="copy the clips into OUT/videos/ (default: link them; copy to publish the folder)")  # fmt: skip
    p.add_argument("--no-posters", action="store_true", help="skip decoding a poster frame per clip")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def task_views() -> Mapping[str, Any]:
    """Every task of the suite: its config and its prompt as the task sends it."""
    from videonet_datasets.explore.data import TaskView
    from videonet_lmms_tasks.catalog import TASKS
    from videonet_lmms_tasks.tasks.videonet.utils import build_prompt

    def renderer(spec: Any):
        token = "<middle frame>" if spec.middle_frame else "<video>"

        def render(row: Mapping[str, Any]) -> str:
            doc = {
                **row,
                "prompt_variant": spec.variant,
                "with_definition": spec.definition,
                "example_video_paths": list(row.get("example_videos") or []),
            }
            return build_prompt(doc).render(token)

        return render

    return {t.name: TaskView(t.config, t.split, renderer(t), t.middle_frame) for t in TASKS}


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.explore import build_site

    try:
        summary = build_site(
            args.results,
            args.data,
            args.out,
            views=task_views(),
            copy_videos=args.copy_videos,
            posters=not args.no_posters,
            progress=not args.quiet,
        )
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    media = summary.media
    print(
        f"explorer: {summary.questions} questions x {len(summary.models)} model(s) ({', '.join(summary.models)}), "
        f"{len(summary.tasks)} task(s); data.js {summary.data_bytes / 1e3:,.0f} kB; posters {media.posters} "
        f"({media.written} new), clips missing {len(media.missing)}, undecodable {len(media.failed)}"
        + (f", copied {media.copied}" if args.copy_videos else "")
    )
    for note in summary.notes:
        print(f"note: {note}")
    print(f"exports: {', '.join(str(p) for p in summary.exports)}")
    print(f"open {summary.index}")
    return 0

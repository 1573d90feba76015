"""``videonet draft-actions DIR --base-url URL``: LLM suggestions for an action list (paper App. B.1-B.3).

Suggestions - more actions, near-duplicates to drop, definitions - go to the annotation
studio's store; a person accepts, edits or rejects each in ``videonet studio DIR`` (Actions
page) before anything reaches ``actions.csv``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from videonet_datasets.studio.drafting import DEFAULT_MODEL, STEPS

    p = sub.add_parser(
        "draft-actions",
        help="LLM suggestions for actions.csv (more actions, near-duplicates, definitions), reviewed in the studio",
        description="The paper's action drafting (App. B.1-B.3, prompts of Figures 7-9) against any "
        "OpenAI-compatible server: suggest more actions for each domain, flag near-duplicates (keeping the "
        "specific varieties, dropping the general action) and draft self-contained definitions. Every "
        "suggestion waits in the studio (`videonet studio DIR`, Actions page) for a person to accept, edit "
        "or reject it; actions.csv is not touched here.",
    )
    p.add_argument("annotations", metavar="DIR", type=Path, help="annotation directory (needs actions.csv)")
    p.add_argument(
        "--base-url", required=True, help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"
    )
    p.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY); never printed or saved")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL}, the paper's Claude 3.7)"
    )
    p.add_argument(
        "--domain", action="append", default=[], help="only this domain (repeatable; default: all)"
    )
    p.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated steps among {', '.join(STEPS)} (default: all, in that order)",
    )
    p.add_argument(
        "--define",
        choices=("missing", "all"),
        default="missing",
        help="draft definitions for actions without one (default) or for every action",
    )
    p.add_argument("--temperature", type=float, help="sampling temperature (default: not sent)")
    p.add_argument("--max-tokens", type=int, default=8192, help="max_tokens per request (default 8192)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per request (default 600)")
    p.add_argument(
        "--retries", type=int, default=5, help="retries on transport errors, 429 and 5xx (default 5)"
    )
    p.add_argument("--store", type=Path, help="the studio's store (default DIR/.studio/studio.sqlite)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.negatives.client import ChatClient, ChatError
    from videonet_datasets.studio.actions import list_actions
    from videonet_datasets.studio.drafting import STEPS, draft_domain
    from videonet_datasets.studio.server import open_studio

    root = args.annotations
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    bad = [s for s in steps if s not in STEPS]
    if bad or not steps:
        raise UsageError(f"--steps: unknown {bad or 'empty'}; choose from {', '.join(STEPS)}")
    if not root.is_dir() or not (root / "actions.csv").is_file():
        raise UsageError(f"{root}: no annotation directory with an actions.csv")
    try:
        opened = open_studio(root.resolve(), args.store)
    except AnnotationError as e:
        raise UsageError(f"{e}") from None
    with opened.store.read() as conn:
        domains = list(dict.fromkeys(a.domain for a in list_actions(conn)))
    unknown = [d for d in args.domain if d not in domains]
    if unknown:
        raise UsageError(f"--domain: {unknown} not in actions.csv (domains: {', '.join(domains)})")
    client = ChatClient(
        args.base_url,
        args.api_key or os.environ.get("OPENAI_API_KEY"),
        timeout=args.timeout,
        retries=args.retries,
    )
    params: dict = {"model": args.model, "max_tokens": args.max_tokens}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    failed = 0
    for domain in args.domain or domains:
        try:
            r = draft_domain(opened.store.write, client, params, domain, steps=steps, define=args.define)
        except ChatError as e:
            print(f"{domain}: failed: {e}")
            failed += 1
            continue
        print(
            f"{domain}: {len(r.added)} new action(s) suggested, {r.duplicate_groups} near-duplicate group(s), "
            f"{r.definitions} definition(s) drafted"
        )
        for note in r.notes[:10]:
            print(f"    note: {note}")
        if len(r.notes) > 10:
            print(f"    ... and {len(r.notes) - 10} more notes")
    print(f"\nReview the suggestions in the studio: videonet studio {root}  (Actions page)")
    if failed:
        raise RunFailed(f"{failed} domain(s) failed (what the others suggested is saved)")
    return 0

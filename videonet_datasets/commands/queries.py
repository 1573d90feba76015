"""``videonet queries``: web-search queries per action, for a crawler (the input of build-train)."""

from __future__ import annotations

import argparse

from videonet_datasets.commands.base import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "queries",
        help="write web-search queries per action for a crawler",
        description='Write "<domain> <action>" and "how to <action>" (or your templates) for every action '
        "of an actions.csv, as CSV category,domain,action,template,query.",
    )
    p.add_argument("actions", metavar="ACTIONS", help="actions.csv (or a folder holding one)")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument(
        "--template",
        action="append",
        dest="templates",
        help="query template over {domain} (lower case), {Domain}, {action}, {subdomain}; repeatable "
        '(default: "{domain} {action}" and "how to {action}")',
    )
    p.add_argument("--domain", action="append", dest="domains", help="only this domain (repeatable)")
    p.set_defaults(func=run_queries)


def run_queries(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.train_data.manifest import read_taxonomy
    from videonet_datasets.train_data.queries import DEFAULT_TEMPLATES, build_queries, write_queries

    try:
        tax = read_taxonomy(args.actions)
        queries = build_queries(tax, args.templates or DEFAULT_TEMPLATES, args.domains)
    except (AnnotationError, ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    write_queries(args.out, queries)
    print(
        f"wrote {len(queries):,} queries for {len({(q.domain, q.action) for q in queries}):,} actions to {args.out}"
    )
    return 0

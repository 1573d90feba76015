"""``videonet studio DIR``: the annotation studio, a local web app over an annotation directory.

It opens (or creates) the store ``DIR/.studio/studio.sqlite``, imports ``actions.csv`` and
``clips.csv``, prints the admin link and serves until Ctrl-C.  Everything acknowledged is in
the store: stopping or killing the server loses nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "studio",
        help="the annotation studio: draft actions, collect, verify, re-trim, export clips.csv (web app)",
        description="A local web app over an annotation directory that takes a domain from a list of "
        "actions to a validated clips.csv as the paper did: actions and definitions (with reviewed LLM "
        "drafts), clip collection with a frame-accurate player, 3-rater verification, re-trimming, "
        "export + videonet validate, a human baseline on a built benchmark, and an expert audit.",
    )
    p.add_argument("annotations", metavar="DIR", type=Path, help="annotation directory (needs actions.csv)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    p.add_argument("--store", type=Path, help="the SQLite store (default DIR/.studio/studio.sqlite)")
    p.add_argument(
        "--benchmark",
        type=Path,
        help="a benchmark built by `videonet build-benchmark`, for the human baseline",
    )
    p.add_argument(
        "--public-url",
        help="the address people reach the studio at (links are printed with it), e.g. behind a reverse proxy",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.studio.db import StoreError
    from videonet_datasets.studio.server import StudioServer, open_studio

    root = args.annotations
    if not root.is_dir():
        raise UsageError(f"{root}: annotation directory not found")
    if not (root / "actions.csv").is_file():
        raise UsageError(f"{root}: no actions.csv (the studio starts from a list of actions)")
    if args.benchmark is not None and not (args.benchmark / "README.md").is_file():
        raise UsageError(f"--benchmark {args.benchmark}: not a benchmark built by videonet build-benchmark")
    try:
        opened = open_studio(root.resolve(), args.store)
    except AnnotationError as e:
        raise UsageError(f"{e}") from None
    except StoreError as e:
        raise RunFailed(f"{e}") from None
    try:
        server = StudioServer(
            root.resolve(),
            opened.store,
            host=args.host,
            port=args.port,
            benchmark=args.benchmark.resolve() if args.benchmark else None,
            public_url=args.public_url,
        )
    except OSError as e:
        raise RunFailed(f"cannot listen on {args.host}:{args.port}: {e}") from None
    print(
        f"VideoNet studio on {root}: {opened.actions} actions in {opened.domains} domains, {opened.clips} clips "
        f"(store {opened.store.path}, SQLite WAL)"
    )
    for note in opened.notes[:20]:
        print(f"  {note}")
    if len(opened.notes) > 20:
        print(f"  ... and {len(opened.notes) - 20} more")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {args.host}: anyone who can reach it can open the pages that need no link; "
            "serve it behind HTTPS (a reverse proxy) before giving links to crowd workers"
        )
    print(f"  admin link (keep it private): {server.url}/t/{opened.admin.token}")
    print("  Ctrl-C stops the server; everything acknowledged is saved.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    return 0

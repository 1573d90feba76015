"""``videonet demo-base install|verify|publish``: the demo's shipped base checkpoint (a step of
``videonet demo`` and of ``make base-checkpoint``; not listed in ``videonet --help``)."""

from __future__ import annotations

import argparse
import json

from videonet_datasets.commands.base import RunFailed


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-base",
        description="The demo's base checkpoint (videonet_datasets.demo.base_checkpoint): install it (sha256 of "
        "every file checked), verify it, or publish a newly built base as a new version.",
    )
    ops = p.add_subparsers(dest="op", metavar="OP", required=True)
    i = ops.add_parser("install", help="verify a checkpoint and copy it to a model directory")
    i.add_argument("checkpoint", help="a published checkpoint directory (with provenance.json)")
    i.add_argument("--to", required=True, help="the model directory to write (replaced whole)")
    v = ops.add_parser("verify", help="check every file against the provenance's sha256 and print it")
    v.add_argument("checkpoint")
    pub = ops.add_parser(
        "publish", help="copy a base built by `videonet demo --base pretrain` as a new version"
    )
    pub.add_argument(
        "base", help="the built base (e.g. reproduce_output/models/base, with its provenance.json)"
    )
    pub.add_argument("--version", type=int, required=True)
    pub.add_argument("--to", help="destination (default: the package's checkpoints/videonet-mini-base-vN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.demo.base_checkpoint import (
        ARTIFACT_NAME,
        SHIPPED,
        CheckpointError,
        install,
        publish,
        verify,
    )

    try:
        if args.op == "install":
            record = install(args.checkpoint, args.to)
            print(f"installed {record['name']} v{record['version']} ({len(record['files'])} files, sha256 checked) "
                  f"-> {args.to}")  # fmt: skip
            for h in record["pretraining"]["history"]:
                print(f"  {h['stage']} ({h['step']} steps): held-out accuracy {h['heldout_accuracy']}")
        elif args.op == "verify":
            record = verify(args.checkpoint)
            print(json.dumps({k: record[k] for k in ("name", "version", "commands", "built")}, indent=2))
            print(f"ok: {len(record['files'])} files match their sha256")
        else:
            dest = args.to or SHIPPED.with_name(f"{ARTIFACT_NAME}-v{args.version}")
            record = publish(args.base, dest, args.version)
            print(f"published {record['name']} v{record['version']} -> {dest}")
    except (CheckpointError, FileNotFoundError) as e:
        raise RunFailed(str(e)) from None
    return 0

"""The ``videonet`` command.

Each subcommand lives in its own module exposing ``add_parser(subparsers)``, which
registers the subcommand and sets ``func`` (called with the parsed args, returning an
exit code or raising ``commands.base.UsageError`` (exit 2) / ``RunFailed`` (exit 1), which
are printed here as ``error: ...``).  Modules are imported only to build the parser; heavy imports (torch,
lmms-eval) belong inside the command functions so ``videonet --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from videonet_datasets import __version__
from videonet_datasets.commands.base import RunFailed, UsageError, take_unknown

# Order = order in ``videonet --help``.
COMMAND_MODULES: list[str] = [
    "videonet_datasets.commands.synth",
    "videonet_datasets.commands.validate",
    "videonet_datasets.commands.studio",
    "videonet_datasets.commands.draft_actions",
    "videonet_datasets.commands.build_benchmark",
    "videonet_datasets.commands.import_release",
    "videonet_datasets.commands.mine_negatives",
    "videonet_datasets.commands.build_train",
    "videonet_datasets.commands.queries",
    "videonet_datasets.commands.finetune",
    "videonet_datasets.commands.eval",
    "videonet_datasets.commands.report",
    "videonet_datasets.commands.explore",
    "videonet_datasets.commands.export_results",
    "videonet_datasets.commands.publish",
    "videonet_datasets.commands.demo",
    "videonet_datasets.commands.demo_model",  # steps of `videonet demo`, not listed in --help
    "videonet_datasets.commands.demo_pretrain",
    "videonet_datasets.commands.demo_base",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videonet",
        description="VideoNet toolkit: build, evaluate and train on domain-specific action recognition.",
    )
    parser.add_argument("--version", action="version", version=f"videonet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    unknown = take_unknown(args, unknown)  # commands that forward options (eval, finetune train)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # Our own modules log at INFO; third-party libraries only speak up at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("videonet_datasets", "videonet_lmms_tasks"):
        logging.getLogger(name).setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, RunFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())

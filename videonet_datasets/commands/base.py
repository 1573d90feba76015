"""What every ``videonet`` command shares: the one error path and the option pass-through.

A command's ``func`` returns an exit code, or raises one of the two errors below;
``videonet_datasets.cli.main`` prints ``error: MESSAGE`` on stderr and exits with its code:

* :class:`UsageError` (exit 2, like argparse's own errors): the command was given something it
  cannot use - a wrong option value, options that do not go together, a missing or malformed
  input (annotations, a release, a manifest, a config file) - and did nothing;
* :class:`RunFailed` (exit 1): the run started and could not finish (a worker, a server, an
  upload, the evaluation).

A check command's verdict (``videonet validate`` finding problems) is a plain return of 1.

Commands that forward the options they do not know to another program (``videonet eval`` ->
lmms-eval, ``videonet finetune train`` -> the recipe's parser) declare it with
:func:`pass_through`; ``cli.main`` hands them the unknown options in order, and rejects unknown
options for every other command.
"""

from __future__ import annotations

import argparse

__all__ = ["EXIT_FAILED", "EXIT_USAGE", "RunFailed", "UsageError", "pass_through", "take_unknown"]

EXIT_FAILED = 1
EXIT_USAGE = 2
_PASS_THROUGH = "_pass_through"


class UsageError(Exception):
    """Bad input on the command line or in a file it names: ``error: ...``, exit 2."""

    exit_code = EXIT_USAGE


class RunFailed(Exception):
    """The run started and failed: ``error: ...``, exit 1."""

    exit_code = EXIT_FAILED


def pass_through(parser: argparse.ArgumentParser, dest: str) -> None:
    """Every option ``parser`` does not know goes, in order, to the list ``args.<dest>``."""
    parser.set_defaults(**{dest: [], _PASS_THROUGH: dest})


def take_unknown(args: argparse.Namespace, unknown: list[str]) -> list[str]:
    """Give ``unknown`` to the command's pass-through list; returns what no command takes."""
    dest = getattr(args, _PASS_THROUGH, None)
    if dest is None or not unknown:
        return unknown
    setattr(args, dest, [*getattr(args, dest), *unknown])
    return []

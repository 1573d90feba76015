"""``lmms-eval --tasks videonet_mc`` after ``pip install videonet``: the suite on lmms-eval's task path.

lmms-eval 0.7.3 indexes tasks from its own ``tasks/`` folder plus ``--include_path``; it has no
plugin point for tasks (its ``LMMS_EVAL_PLUGINS`` variable is read only after the task index
is built, so it finds nothing).  Its one plugin point that runs before the index is built is
the ``lmms_eval.models`` entry-point group: ``lmms_eval.models`` loads (and calls) every
entry point while it is imported, which happens before the command line is even parsed.

So this package's model entry points (``videonet_scripted``, ``videonet_molmo2``) call
:func:`register_tasks`, which wraps ``TaskManager.initialize_tasks`` so that the suite's
task folder is indexed with the user's include paths - nothing else changes: a user's
``--include_path`` still works (the folder is added, never replaced), lmms-eval's own tasks
keep precedence over ours (its index order), and ``videonet eval`` (which passes the folder
itself) gets it once.  This *is* a patch of an lmms-eval internal, because no public hook
exists; it is therefore version-guarded (:data:`SUPPORTED`: the lmms-eval releases whose
``TaskManager`` this was checked against; others are left alone and keep working with
``--include_path "$(videonet eval --print-include-path)"``) and can be switched off with
``VIDEONET_LMMS_AUTO_INCLUDE=0``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["ENV_SWITCH", "SUPPORTED", "register_tasks", "tasks_dir"]

#: lmms-eval versions (prefixes) whose ``TaskManager.initialize_tasks(include_path, include_defaults)``
#: this wraps; checked in ``tests/test_lmms_plugin.py``.
SUPPORTED = ("0.7.",)
#: Set to 0/false/no/off to keep lmms-eval's task path untouched.
ENV_SWITCH = "VIDEONET_LMMS_AUTO_INCLUDE"
_MARK = "_videonet_tasks_dir"


def tasks_dir() -> Path:
    """The folder lmms-eval needs on its task path (``--include_path``)."""
    return Path(__file__).resolve().parent / "tasks"


def _enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _same(a: object, b: Path) -> bool:
    try:
        return Path(str(a)).resolve() == b
    except (OSError, ValueError):
        return False


def register_tasks() -> bool:
    """Put the suite's task folder on lmms-eval's task path; True when it is (idempotent)."""
    if not _enabled():
        return False
    try:
        version = metadata.version("lmms-eval")
    except metadata.PackageNotFoundError:
        return False
    if not version.startswith(SUPPORTED):
        log.debug("lmms-eval %s is not one this suite was checked with; use --include_path", version)
        return False
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, _MARK, None):
        return True
    params = list(inspect.signature(original).parameters)
    if params[:3] != ["self", "include_path", "include_defaults"]:
        log.debug("lmms-eval's TaskManager.initialize_tasks has changed (%s); use --include_path", params)
        return False
    folder = tasks_dir()

    @functools.wraps(original)
    def initialize_tasks(self, include_path=None, include_defaults=True, *args, **kwargs):
        paths = (
            []
            if include_path is None
            else [include_path]
            if isinstance(include_path, str)
            else list(include_path)
        )
        if not any(_same(p, folder) for p in paths):
            paths.append(str(folder))
        return original(self, paths, include_defaults, *args, **kwargs)

    setattr(initialize_tasks, _MARK, str(folder))
    TaskManager.initialize_tasks = initialize_tasks  # type: ignore[method-assign]
    return True

"""``videonet eval``: lmms-eval with the VideoNet tasks on its search path.

lmms-eval 0.7.3 finds tasks outside its own package only through ``--include_path`` (its
``LMMS_EVAL_PLUGINS`` variable is read after the task index is built; the installed package
also puts the suite on the task path through its model entry points, see
``videonet_lmms_tasks/plugin.py``), so this command is ``lmms-eval`` plus ``--include_path
<installed videonet_lmms_tasks/tasks>``; every other argument goes to lmms-eval unchanged (a
``--include_path`` of yours too, when the entry-point plugin is active).  It also

* sets ``VIDEONET_DATA`` from ``--data`` (a built benchmark directory or a Hub id) and checks
  it before lmms-eval starts, so a wrong path is one line, not a traceback;
* sets ``VIDEONET_PRESET`` from ``--preset`` (frame sampling, see
  ``videonet_lmms_tasks/presets.py``);
* prints a per-category table of the VideoNet tasks after lmms-eval's own table;
* exits non-zero when the evaluation failed (lmms-eval logs the error and exits 0).

``videonet eval --print-include-path`` prints the tasks directory, for running lmms-eval
directly: ``lmms-eval --include_path "$(videonet eval --print-include-path)" ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from videonet_datasets import frame_cache, prefetch
from videonet_datasets.commands.base import UsageError, pass_through


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="run lmms-eval with the VideoNet tasks (all other options go to lmms-eval)",
        description="Run lmms-eval with the VideoNet task suite on its search path. Every option not "
        "listed here is passed to lmms-eval unchanged, e.g. `videonet eval --model videonet_molmo2 "
        "--model_args pretrained=DIR --tasks videonet_mc,videonet_binary_hard_0shot --output_path runs/m "
        "--log_samples`. Tasks: videonet_mc, videonet_mc_val, videonet_binary_hard_{0..3}shot (tag "
        "`videonet_main`: the paper's main tasks), videonet_binary_random_{0..3}shot (tag `videonet_all`: every "
        "test task), ablations (tag `videonet_ablations`).",
        allow_abbrev=False,
    )
    p.add_argument(
        "--data", metavar="DIR_OR_HUB_ID", help="the benchmark (sets VIDEONET_DATA; default ./videonet)"
    )
    p.add_argument(
        "--preset",
        metavar="NAME[,key=value...]",
        help="frame-sampling preset for every task, e.g. qwen3_vl, internvl3_5, molmo2, api, gpt5, gpt5_4, "
        "or 'api,fps=2' (sets VIDEONET_PRESET; default: chosen per --model)",
    )
    cache = p.add_mutually_exclusive_group()
    cache.add_argument(
        "--frame-cache",
        metavar="DIR",
        help="keep decoded frames on disk in DIR too, shared by the tasks and processes of this run "
        "and by later runs (sets VIDEONET_FRAME_CACHE; frames are always cached in memory)",
    )
    cache.add_argument(
        "--no-frame-cache",
        action="store_true",
        help="decode every clip input again (no memory or disk cache; sets VIDEONET_FRAME_CACHE=off)",
    )
    p.add_argument(
        "--warm-workers",
        type=int,
        metavar="N",
        help="decode each task's clips in N background processes as soon as its documents are loaded, for "
        "backends that ask for one document at a time (lmms-eval's own: openai, ...); needs --preset with "
        "frames, best with --frame-cache (sets VIDEONET_WARM_WORKERS; default 0 = off)",
    )
    p.add_argument(
        "--print-include-path",
        action="store_true",
        help="print the task directory to give lmms-eval as --include_path, and exit",
    )
    p.set_defaults(func=run)
    pass_through(p, "lmms_args")  # every other option goes to lmms-eval, in order


def _requested_tasks(lmms_args: list[str]) -> list[str]:
    for i, arg in enumerate(lmms_args):
        if arg == "--tasks" and i + 1 < len(lmms_args):
            return lmms_args[i + 1].split(",")
        if arg.startswith("--tasks="):
            return arg.split("=", 1)[1].split(",")
    return []


def _print_summary(results: dict[str, Any]) -> None:
    from videonet_datasets.report import results_from_dict, summary_markdown

    rows = results_from_dict(results, label=str(results.get("config", {}).get("model", "model")))
    ours = [r for r in rows if r.task.startswith("videonet_")]
    if ours:
        print("\nVideoNet - accuracy (%) by category:\n")
        print(summary_markdown(ours))


def run(args: argparse.Namespace) -> int:
    from videonet_lmms_tasks.catalog import FORMER_TAG, TAG_ALL, TAG_MAIN, TASKS_DIR
    from videonet_lmms_tasks.presets import ENV_PRESET, parse_preset
    from videonet_lmms_tasks.source import ENV_DATA, DataSourceError, resolve_root

    if args.print_include_path:
        print(TASKS_DIR)
        return 0
    lmms_args = list(args.lmms_args)
    if _requested_tasks(lmms_args) == [FORMER_TAG]:
        raise UsageError(
            f"there is no task or tag '{FORMER_TAG}': run `--tasks {TAG_ALL}` (every test task) or "
            f"`--tasks {TAG_MAIN}` (the paper's main tasks). (A tag named '{FORMER_TAG}' could not work: lmms-eval "
            f"reads `--tasks {FORMER_TAG}` as the folder ./{FORMER_TAG} when it exists - the default data directory.)"
        )
    own_include: str | None = str(TASKS_DIR)
    if any(a == "--include_path" or a.startswith("--include_path=") for a in lmms_args):
        from videonet_lmms_tasks.plugin import register_tasks

        if register_tasks():  # the suite is on lmms-eval's task path anyway: keep the user's folder
            own_include = None
    if own_include and any(a == "--include_path" or a.startswith("--include_path=") for a in lmms_args):
        raise UsageError(
            "videonet eval adds its own --include_path; to combine the VideoNet tasks with another "
            'task directory run lmms-eval directly: lmms-eval --include_path "$(videonet eval '
            '--print-include-path)" ... (lmms-eval takes one include path on the command line)'
        )
    if args.preset:
        try:
            parse_preset(args.preset)
        except ValueError as e:
            raise UsageError(f"--preset: {e}") from None
    if args.warm_workers is not None and args.warm_workers < 0:
        raise UsageError("--warm-workers must be >= 0")
    saved_env = {
        name: os.environ.get(name)
        for name in (ENV_DATA, ENV_PRESET, frame_cache.ENV_DIR, prefetch.ENV_WARM_WORKERS)
    }
    try:
        if args.no_frame_cache:
            os.environ[frame_cache.ENV_DIR] = "off"
        elif args.frame_cache:
            os.environ[frame_cache.ENV_DIR] = str(Path(args.frame_cache).resolve())
        frame_cache.reset_default_cache()  # this run's settings, whatever ran before in-process
        if args.preset:
            os.environ[ENV_PRESET] = args.preset
        if args.warm_workers is not None:
            os.environ[prefetch.ENV_WARM_WORKERS] = str(args.warm_workers)
        if args.data:
            os.environ[ENV_DATA] = args.data
        if any(t.startswith("videonet") for t in _requested_tasks(lmms_args)):
            try:
                root, _ = resolve_root()
            except DataSourceError as e:
                raise UsageError(str(e)) from None
            print(f"VideoNet data: {root}", file=sys.stderr)
        try:
            status = _run_lmms_eval(lmms_args, own_include)
        finally:
            warmer = prefetch.stop_warming()  # its workers exit with the run
        if warmer is not None:
            print(warmer.summary(), file=sys.stderr)
        cache = frame_cache.default_cache()
        if cache is not None and cache.stats.requests:
            print(cache.stats.summary(), file=sys.stderr)
        return status
    finally:  # leave the environment as it was (the command may run in-process, e.g. in tests)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        frame_cache.reset_default_cache()


def _run_lmms_eval(lmms_args: list[str], tasks_dir: str | None) -> int:
    """lmms-eval's own CLI entry point on ``lmms_args`` (+ ``--include_path tasks_dir``); 1 if it failed."""
    import lmms_eval.__main__ as lmms_main

    outcomes: list[tuple[str, Any]] = []
    original = lmms_main.cli_evaluate_single

    def recording(cli_args):
        try:
            value = original(cli_args)
        except SystemExit:
            raise
        except BaseException as e:
            outcomes.append(("error", e))
            raise
        outcomes.append(("ok", value))
        return value

    saved_argv = sys.argv
    sys.argv = ["lmms-eval", *lmms_args, *(["--include_path", tasks_dir] if tasks_dir else [])]
    lmms_main.cli_evaluate_single = recording
    try:
        lmms_main.cli_evaluate()
    except Exception:  # --verbosity DEBUG re-raises; the failure is reported below
        if not outcomes or outcomes[-1][0] != "error":
            raise
        traceback.print_exc()
    finally:
        lmms_main.cli_evaluate_single = original
        sys.argv = saved_argv
    failed = [v for s, v in outcomes if s == "error"]
    for status, value in outcomes:
        if status == "ok" and value and value[0] is not None:
            _print_summary(value[0])
    if failed:
        print(f"\nvideonet eval: the evaluation failed: {_root_cause(failed[0])}", file=sys.stderr)
        return 1
    return 0


def _root_cause(error: BaseException) -> BaseException:
    """The VideoNet data error behind lmms-eval's wrappers ("Failed to import function ...",
    tenacity's RetryError), else the innermost cause."""
    from videonet_lmms_tasks.source import DataSourceError

    seen, e = [], error
    while e is not None and e not in seen:
        if isinstance(e, DataSourceError):
            return e
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen[-1] if seen else error

"""``videonet build-train``: the weakly-labeled training data (paper §4.1) as a 🤗 dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError
from videonet_datasets.config import (
    add_flags,
    config_from_dict,
    flag_values,
    merge_settings,
    read_config_file,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-train",
        help="build the weakly-labeled training data (localize, transcribe, filter, QA) as a 🤗 dataset, "
        "from a crawl or from Action100M rows",
        description="Localize action windows in crawled videos, transcribe their speech with word times, "
        "label windows with the paper's three filters (transcript_localized, "
        "transcript_localized_title_match, single_action), cut the clips once, add 3 QA pairs per clip and "
        "write one config per filter, loadable with load_dataset(OUT, 'single_action'). With --source action100m "
        "the windows, titles and timed caption lines come from Action100M rows, and a fourth filter, "
        "segment_action_match, labels segments whose action text names one action. Interrupted runs "
        "resume (shards recorded as they finish).",
    )
    p.add_argument(
        "input",
        nargs="?",
        metavar="WORLD_DIR | PARQUET_OR_DIR",
        help="a VideoNet-mini world (videonet synth --out DIR): uses DIR/actions.csv, DIR/web/manifest.csv "
        "(with --source action100m: DIR/web/action100m.jsonl) and DIR/web/ground_truth.jsonl unless given "
        "below; or, with --source action100m, Action100M rows: a parquet file, a folder of parquet/JSONL/JSON "
        "files, a JSONL or a JSON file",
    )
    p.add_argument("--out", required=True, help="output dataset directory")
    p.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="settings as YAML (the names of videonet_datasets.train_data.config.BuildConfig, nested "
        "mappings for asr, balance, vlm, proposals, window_policy, segments, action100m, caption_tree); options "
        "given here override it",
    )
    groups = {
        "inputs": p.add_argument_group("inputs"),
        "localizer": p.add_argument_group("localizer"),
        "speech": p.add_argument_group("speech"),
        "action100m": p.add_argument_group(
            "Action100M (--source action100m; --segment-* also for --localizer action100m)"
        ),
        "caption_tree": p.add_argument_group(
            "caption-tree labeler (--localizer action100m: Action100M's pipeline; needs --vlm-url, --vlm-model)"
        ),
        "labels": p.add_argument_group("labels, balance, output"),
        "execution": p.add_argument_group("execution"),
    }
    io = groups["inputs"]
    io.add_argument(
        "--manifest", help="crawl manifest CSV: video_id,path|url,title,domain[,channel,upload_date]"
    )
    io.add_argument("--actions", help="taxonomy actions.csv (may list more actions than the benchmark)")
    io.add_argument(
        "--ground-truth", help="JSONL of true action segments per video, to report label precision"
    )
    io.add_argument("--download-only", action="store_true", help="only run the download stage")
    from videonet_datasets.train_data.config import BuildConfig

    add_flags(p, BuildConfig, groups)  # every other option is a BuildConfig field's flag
    p.set_defaults(func=run_build)


def build_config(args: argparse.Namespace):
    """The build's settings: ``--config`` YAML, overridden by the options given, with the inputs
    of a WORLD_DIR and the localizer implied by the options chosen."""
    from videonet_datasets.train_data.config import BuildConfig

    values = read_config_file(args.config) if args.config else {}
    merge_settings(values, flag_values(args, BuildConfig))
    action100m = values.get("source") == "action100m"
    src = Path(args.input) if args.input else None
    world = src is not None and src.is_dir() and (src / "actions.csv").exists() and (src / "web").is_dir()
    if action100m:
        if args.manifest:
            raise ValueError(
                "--source action100m reads Action100M rows (the positional input), not --manifest"
            )
        if "localizer" in values:
            raise ValueError(
                "--source action100m takes its windows from the rows; --localizer does not apply"
            )
        if src is None:
            raise ValueError(
                "--source action100m needs the Action100M rows: a parquet file or folder, JSONL or JSON"
            )
        manifest = src / "web" / "action100m.jsonl" if world else src
        if world and not manifest.exists():
            raise ValueError(f"{manifest}: this world has no Action100M-style annotations (regenerate it)")
        actions = Path(args.actions) if args.actions else (src / "actions.csv" if world else None)
        if actions is None:
            raise ValueError(
                "--source action100m needs --actions actions.csv (the domains and actions to label)"
            )
    else:
        if src is not None and not src.is_dir():
            raise ValueError(f"{src}: not a directory (expected a VideoNet-mini world)")
        manifest = Path(args.manifest) if args.manifest else (src / "web" / "manifest.csv" if src else None)
        actions = Path(args.actions) if args.actions else (src / "actions.csv" if src else None)
        if manifest is None or actions is None:
            raise ValueError("give a WORLD_DIR or both --manifest and --actions")
    gt = Path(args.ground_truth) if args.ground_truth else None
    gt_dir = manifest if manifest.is_dir() else manifest.parent
    if gt is None and (gt_dir / "ground_truth.jsonl").exists():
        gt = gt_dir / "ground_truth.jsonl"
    vlm = values.get("vlm") or {}
    if vlm.get("base_url") or vlm.get("model"):
        if not (vlm.get("base_url") and vlm.get("model")):
            raise ValueError("--vlm-url and --vlm-model go together")
    else:
        values.pop("vlm", None)  # transport or timeouts alone do not make a VLM localizer
    if not action100m:
        values.setdefault(
            "localizer",
            "vlm" if "vlm" in values else "windows-file" if values.get("windows_file") else "proposals",
        )
    values.setdefault("balance", {})["seed"] = values.get("seed", 0)  # one seed for labels and balance
    values.update(manifest=manifest, taxonomy=actions, out=Path(args.out), ground_truth=gt)
    return config_from_dict(BuildConfig, values, "videonet build-train")


def run_build(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.train_data.action100m import Action100MError
    from videonet_datasets.train_data.manifest import ManifestError
    from videonet_datasets.train_data.runner import build_train

    try:
        settings = build_config(args)
        report = build_train(settings, download_only=args.download_only)
    except (AnnotationError, ManifestError, Action100MError, ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None
    except (RuntimeError, ImportError) as e:
        raise RunFailed(str(e)) from None
    print(report.summary, end="")
    if report.precision:
        print(
            "label precision vs ground truth: "
            + ", ".join(
                f"{f} {100 * p['precision']:.1f}% ({p['correct']}/{p['evaluated']})"
                for f, p in report.precision.items()
                if p["precision"] is not None
            )
        )
    if report.localization and report.localization.get("window_precision") is not None:
        loc = report.localization
        print(
            f"localizer: window precision {100 * loc['window_precision']:.1f}%, "
            f"segment recall {100 * loc['segment_recall']:.1f}%"
        )
    if report.failures:
        print(f"{len(report.failures):,} failures listed in {settings.work / 'failures.jsonl'}")
    if not args.download_only:
        print(f"dataset: {report.out} (configs: {', '.join(f for f, n in report.rows_written.items() if n)})")
    return 0

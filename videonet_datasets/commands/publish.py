"""``videonet publish {benchmark,train,leaderboard,model} DIR --repo ORG/NAME``: check, bundle, upload.

Every publish first writes the *bundle* - exactly the files that will be uploaded, with the
card rendered for the repo - and checks it (configs vs files, split sizes, referenced
videos, leaked local paths, loadable model config).  ``--dry-run`` stops there
(``--out FOLDER`` keeps the bundle: ``load_dataset(FOLDER, CONFIG)`` works on it).
Otherwise the bundle goes to the Hub with ``huggingface_hub``, uploading only files the
repo does not already have, refusing to overwrite a different dataset or move a release
tag without ``--force``.  The token comes from ``hf auth login`` or ``HF_TOKEN`` - there
is deliberately no ``--token`` option (it would land in shell history and ``ps``) - and
is scrubbed from every message.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from typing import Any

KINDS = ("benchmark", "train", "leaderboard", "model")


def make_api(token: str) -> Any:
    """The Hub client (tests replace this with a local stand-in)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="the folder to publish")
    p.add_argument("--repo", required=True, metavar="ORG/NAME", help="the Hub repo (created if missing)")
    p.add_argument(
        "--revision",
        metavar="BRANCH",
        help="branch to publish to (created from main if missing; default main)",
    )
    p.add_argument("--tag", metavar="TAG", help="tag the published commit as a release, e.g. v1.0")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a different dataset/model at this revision (deleting files not in the bundle) or move an existing tag",
    )
    p.add_argument("--dry-run", action="store_true", help="check and write the bundle only; no Hub access")
    p.add_argument("--out", metavar="FOLDER", help="keep the bundle (exactly what is uploaded) in FOLDER")
    p.add_argument(
        "--message", metavar="TEXT", help="commit message (default: kind, file count, fingerprint)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "publish",
        help="check and upload the benchmark, the training data or a fine-tuned model to the Hub",
        description=(__doc__ or "").split("\n\n", 1)[1].replace("``", "`"),
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, helptext in (
        ("benchmark", "a folder written by `videonet build-benchmark`"),
        ("train", "a folder written by `videonet build-train`"),
        ("leaderboard", "the leaderboard folder `videonet explore` writes (OUT/leaderboard)"),
    ):
        k = kinds.add_parser(kind, help=helptext, description=f"Publish {helptext} as a Hub dataset repo.")
        _common(k)
        k.add_argument("--pretty-name", help="pretty_name for the card, if it has none")
        k.add_argument("--license", help="license for the card, if it has none")
        k.set_defaults(func=run)
    m = kinds.add_parser(
        "model",
        help="a save_pretrained folder of a fine-tuned model (+ processor)",
        description="Publish a fine-tuned model folder as a Hub model repo with a card that shows its "
        "training configuration, training data and evaluation results.",
    )
    _common(m)
    m.add_argument(
        "--training-config",
        metavar="FILE",
        help="the training configuration (YAML/JSON; default: found in DIR)",
    )
    m.add_argument(
        "--eval-results",
        metavar="FILE",
        action="append",
        help="evaluation results (lmms-eval results JSON or {task: {metric: value}}); repeatable (default: found in DIR)",
    )
    m.add_argument(
        "--base-model",
        metavar="ORG/NAME",
        help="the Hub id of the base model (default: from the training config)",
    )
    m.add_argument(
        "--dataset",
        metavar="ORG/NAME[:CONFIG]",
        action="append",
        help="training dataset on the Hub; repeatable (default: from the training config)",
    )
    m.add_argument(
        "--benchmark-repo", metavar="ORG/NAME", help="the published benchmark the results refer to"
    )
    m.add_argument("--license", default="other", help="license of the model card (default: other)")
    m.add_argument(
        "--exclude",
        metavar="PATTERN",
        action="append",
        default=[],
        help="leave out files matching PATTERN (added to the default training-state exclusions)",
    )
    m.add_argument(
        "--include-training-state",
        action="store_true",
        help="also publish checkpoints, optimizer state and logs (excluded by default)",
    )
    m.set_defaults(func=run)


@contextlib.contextmanager
def _redacted_logs(token: str | None) -> Iterator[None]:
    from videonet_datasets.publish.upload import RedactingFilter

    flt = RedactingFilter(token)
    # huggingface_hub and datasets give their library loggers their own handler.
    handlers = {h for name in ("", "huggingface_hub", "datasets") for h in logging.getLogger(name).handlers}
    for h in handlers:
        h.addFilter(flt)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(flt)


def _stage(args: argparse.Namespace) -> Any:
    from videonet_datasets.publish.bundle import stage_dataset
    from videonet_datasets.publish.model import DEFAULT_MODEL_EXCLUDES, stage_model

    progress = not args.no_progress
    if args.kind == "model":
        excludes = tuple(args.exclude) + (() if args.include_training_state else DEFAULT_MODEL_EXCLUDES)
        return stage_model(
            args.dir,
            args.repo,
            args.out,
            training_config=args.training_config,
            eval_results=args.eval_results,
            base_model=args.base_model,
            datasets=args.dataset,
            benchmark_repo=args.benchmark_repo,
            license=args.license,
            excludes=excludes,
            progress=progress,
        )
    return stage_dataset(
        args.dir,
        args.kind,
        args.repo,
        args.out,
        pretty_name=args.pretty_name,
        license=args.license,
        progress=progress,
    )


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.publish.bundle import PublishError
    from videonet_datasets.publish.upload import (
        PublishOptions,
        get_hub_token,
        publish_bundle,
        redact,
        validate_repo_id,
    )

    token: str | None = None
    bundle = None
    try:
        validate_repo_id(args.repo)
        if not args.dry_run:
            token = get_hub_token()
            if not token:
                print(
                    "error: no Hugging Face token. Log in with `hf auth login` or set HF_TOKEN "
                    "(or use --dry-run to check and bundle without uploading).",
                    file=sys.stderr,
                )
                return 1
        with _redacted_logs(token):
            bundle = _stage(args)
            print(bundle.report.format())
            print(bundle.format())
            if args.dry_run:
                if bundle.temporary:
                    print(
                        "Dry run: checks passed; nothing was uploaded (pass --out FOLDER to keep the bundle)."
                    )
                else:
                    hint = (
                        f'load_dataset("{bundle.root}", CONFIG)'
                        if bundle.repo_type == "dataset"
                        else "from_pretrained"
                    )
                    print(
                        f"Dry run: nothing was uploaded. The {len(bundle.files)} files that would be uploaded are in "
                        f"{bundle.root} ({hint} works on it)."
                    )
                return 0
            opts = PublishOptions(
                repo_id=args.repo,
                revision=args.revision,
                tag=args.tag,
                private=args.private,
                force=args.force,
                commit_message=args.message,
            )
            result = publish_bundle(make_api(token), bundle, opts)
            print(result.format())
        return 0
    except PublishError as e:
        print(redact(f"error: {e}", token), file=sys.stderr)
        return 1
    except Exception as e:  # Hub/network errors: one clean message, never the token
        print(redact(f"error: {type(e).__name__}: {e}", token), file=sys.stderr)
        if getattr(args, "verbose", False):
            print(redact(traceback.format_exc(), token), file=sys.stderr)
        return 1
    finally:
        if bundle is not None:
            bundle.cleanup()

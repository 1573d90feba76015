"""Tools the model may call while answering (multi-turn reinforcement fine-tuning, Video-STAR style).

**Syntax.** The model calls a tool by writing, anywhere in its answer,

    <tool>NAME(ARG, ARG, ...)</tool>

and generation stops at ``</tool>``.  Arguments are numbers, quoted strings or bare text
(``zoom(1.5, 3)``, ``definition(B)``, ``definition("double axel")``, ``definition()``).  The
result is appended to the answer as

    <tool_result>TEXT</tool_result>

on its own line, and the model continues from there (the same assistant turn).  A call that
cannot be parsed, names an unknown tool or has bad arguments gets an ``error: ...`` result,
counts as a failed call, and the model continues all the same - never a crash.

**Built-in tools** (enable with the config's ``tools``):

* ``definition(ACTION)`` - the action's definition from the annotations; ``ACTION`` is an option
  letter or an action name of the question's domain, and no argument means the action asked
  about (binary) or every option (multiple choice);
* ``zoom(START, END)`` - denser frames of the clip between ``START`` and ``END`` seconds (the
  timestamps the model sees before each frame), decoded by the project's one sampler
  (:func:`videonet_datasets.video.sample_frames`) and merged into the video by timestamp:
  Molmo2 takes one video per sample, so the next turn sees one video with more frames in the
  window, each with its timestamp.

**Your own tools**: :func:`register_tool` (for example a pose model drawing skeletons: return
new frames in :class:`ToolResult`), then list its name in ``tools``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videonet_datasets.video import Frames, sample_frames

from .questions import DefinitionBook, Question

__all__ = [
    "RESULT_CLOSE",
    "RESULT_OPEN",
    "TOOLS",
    "TOOL_CLOSE",
    "TOOL_OPEN",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolResult",
    "format_result",
    "merge_frames",
    "parse_tool_call",
    "register_tool",
    "run_tool",
    "tools_instruction",
]

TOOL_OPEN, TOOL_CLOSE = "<tool>", "</tool>"
RESULT_OPEN, RESULT_CLOSE = "<tool_result>", "</tool_result>"
_CALL_RE = re.compile(r"<tool>\s*([A-Za-z_][\w-]*)\s*\((.*?)\)\s*</tool>", re.DOTALL)
_ARG_RE = re.compile(r"\s*(\"[^\"]*\"|'[^']*'|[^,]+?)\s*(?:,|$)")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class ToolCall:
    """A call found in an answer; ``error`` says why it could not be parsed ("" = parsed)."""

    name: str
    args: tuple[Any, ...] = ()
    raw: str = ""
    error: str = ""


@dataclass
class ToolResult:
    """What a tool returns: text for the model and, for visual tools, the new video frames."""

    text: str
    frames: Frames | None = None
    ok: bool = True


@dataclass
class ToolContext:
    """What a tool may look at: the question, the current frames, the clip's file, the definitions."""

    question: Question
    frames: Frames
    video_path: Path
    frame_size: tuple[int, int] | None = None
    definitions: DefinitionBook | None = None
    zoom_fps: float = 8.0
    zoom_max_frames: int = 8


@dataclass(frozen=True)
class Tool:
    """A callable tool: ``run(call, context)`` -> :class:`ToolResult`; raising ``ValueError`` is an
    error result for the model (bad arguments), anything else a bug."""

    name: str
    usage: str  # how the model writes it, e.g. "zoom(START, END)"
    description: str  # one line for the prompt's tool list
    run: Callable[[ToolCall, ToolContext], ToolResult] = field(repr=False)


#: The tool registry: name -> :class:`Tool`.  ``tools`` in the config picks from it.
TOOLS: dict[str, Tool] = {}


def register_tool(tool: Tool, *, replace: bool = False) -> Tool:
    """Add ``tool`` to :data:`TOOLS` (``replace`` to override one of the same name)."""
    if not re.fullmatch(r"[A-Za-z_][\w-]*", tool.name):
        raise ValueError(
            f"tool name {tool.name!r} must be an identifier (it is written <tool>{tool.name}(...)</tool>)"
        )
    if tool.name in TOOLS and not replace:
        raise ValueError(f"a tool named {tool.name!r} is already registered (pass replace=True)")
    TOOLS[tool.name] = tool
    return tool


def _arg(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if _NUMBER_RE.fullmatch(text):
        return float(text)
    return text


def parse_tool_call(text: str) -> ToolCall | None:
    """The first tool call of ``text``, or None when it has no ``<tool>`` tag at all.

    A ``<tool>`` tag that does not form ``<tool>NAME(ARGS)</tool>`` gives a call with an
    ``error`` (the model is told, and the call counts as failed)."""
    start = text.find(TOOL_OPEN)
    if start == -1:
        return None
    m = _CALL_RE.match(text, start)
    if m is None:
        end = text.find(TOOL_CLOSE, start)
        raw = text[start : end + len(TOOL_CLOSE)] if end != -1 else text[start:]
        return ToolCall(
            "", (), raw, f"cannot read the call {raw[:80]!r}: write {TOOL_OPEN}name(arguments){TOOL_CLOSE}"
        )
    inner = m.group(2).strip()
    args = tuple(_arg(a) for a in _ARG_RE.findall(inner)) if inner else ()
    return ToolCall(m.group(1), args, m.group(0))


def run_tool(call: ToolCall, context: ToolContext, enabled: Sequence[str]) -> ToolResult:
    """Run ``call`` if it names an enabled tool; errors become ``error: ...`` results (``ok=False``)."""
    if call.error:
        return ToolResult(f"error: {call.error}", ok=False)
    if call.name not in enabled or call.name not in TOOLS:
        return ToolResult(f"error: unknown tool {call.name!r}; available: {', '.join(enabled)}", ok=False)
    try:
        return TOOLS[call.name].run(call, context)
    except ValueError as e:
        return ToolResult(f"error: {call.name}: {e}", ok=False)


def format_result(text: str) -> str:
    """The text appended to the answer after a call (its tokens are context, never trained on)."""
    return f"\n{RESULT_OPEN}{text}{RESULT_CLOSE}\n"


def tools_instruction(enabled: Sequence[str]) -> str:
    """The sentences appended to a question when tools are enabled."""
    if not enabled:
        return ""
    lines = [
        f"Before answering you may call a tool by writing {TOOL_OPEN}NAME(ARGUMENTS){TOOL_CLOSE}; its result "
        f"follows as {RESULT_OPEN}...{RESULT_CLOSE}. Tools:"
    ]
    lines += [f"{TOOLS[name].usage}: {TOOLS[name].description}" for name in enabled]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- definition


def _definition(call: ToolCall, ctx: ToolContext) -> ToolResult:
    q = ctx.question
    if len(call.args) > 1:
        raise ValueError(f"takes one action (a letter or a name), got {len(call.args)} arguments")

    def lookup(name: str) -> str:
        if name.casefold() == q.action.casefold() and q.definition:
            return q.definition
        return ctx.definitions.lookup(q.domain, name) if ctx.definitions is not None else ""

    if not call.args:
        names = list(q.options) if q.is_mc else [q.action]
    else:
        wanted = str(call.args[0]).strip()
        letters = [chr(ord("A") + i) for i in range(len(q.options))]
        if q.is_mc and wanted.upper() in letters and len(wanted) == 1:
            names = [q.options[letters.index(wanted.upper())]]
        else:
            known = {n.casefold(): n for n in (*q.options, q.action)}
            if ctx.definitions is not None:
                known.update({n.casefold(): n for n in ctx.definitions.actions_of(q.domain)})
            if wanted.casefold() not in known:
                raise ValueError(f"{wanted!r} is not an action of {q.domain}")
            names = [known[wanted.casefold()]]
    found = [(n, lookup(n)) for n in names]
    if not any(text for _, text in found):
        raise ValueError(f"no definition is known for {', '.join(names)}")
    return ToolResult("\n".join(f"{n}: {text or '(no definition)'}" for n, text in found))


# ---------------------------------------------------------------------------- zoom


def merge_frames(base: Frames, extra: Frames) -> Frames:
    """``base`` with ``extra``'s frames inserted by timestamp (both taken from the same file; a frame
    within a millisecond of one already there is dropped), so the video stays one sample."""
    shift = extra.clip_start - base.clip_start
    times = np.concatenate([base.timestamps, extra.timestamps + shift])
    requested = np.concatenate([base.requested, extra.requested + shift])
    pixels = np.concatenate([base.frames, extra.frames])
    order = np.argsort(times, kind="stable")
    keep, last = [], -np.inf
    for i in order:
        if round(times[i] * 1000) > last:
            keep.append(i)
            last = round(times[i] * 1000)
    keep_idx = np.asarray(keep, dtype=np.int64)
    indices = (
        np.concatenate([base.indices, extra.indices]) if len(base.indices) and len(extra.indices) else None
    )
    return Frames(
        frames=pixels[keep_idx], timestamps=times[keep_idx], requested=requested[keep_idx],
        clip_start=base.clip_start, clip_end=base.clip_end, video_fps=base.video_fps, source=base.source,
        indices=indices[keep_idx] if indices is not None else np.zeros(0, dtype=np.int64),
    )  # fmt: skip


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, float):
        return value
    try:
        return float(str(value).strip().rstrip("s"))
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None


def _zoom(call: ToolCall, ctx: ToolContext) -> ToolResult:
    if len(call.args) != 2:
        raise ValueError(f"takes START and END in seconds, got {len(call.args)} argument(s)")
    start, end = _seconds(call.args[0], "START"), _seconds(call.args[1], "END")
    duration = ctx.frames.duration
    if start < 0 or end <= start:
        raise ValueError(f"need 0 <= START < END, got {start:g}, {end:g}")
    if start >= duration:
        raise ValueError(f"START {start:g} is past the end of the clip ({duration:.2f} s)")
    end = min(end, duration)
    extra = sample_frames(
        ctx.video_path, fps=ctx.zoom_fps, max_frames=ctx.zoom_max_frames, start=ctx.frames.clip_start + start,
        end=ctx.frames.clip_start + end, size=ctx.frame_size, threads=1,
    )  # fmt: skip
    merged = merge_frames(ctx.frames, extra)
    added = len(merged) - len(ctx.frames)
    return ToolResult(
        f"{added} more frames between {start:.1f} s and {end:.1f} s are now in the video "
        f"({len(merged)} frames in all, each after its timestamp).",
        frames=merged,
    )


register_tool(
    Tool(
        "definition",
        "definition(ACTION)",
        "the definition of an action (an option letter or a name; no argument: the action asked about, or "
        "every option)",
        _definition,
    )  # fmt: skip
)
register_tool(
    Tool("zoom", "zoom(START, END)", "more frames of the video between START and END seconds", _zoom)
)

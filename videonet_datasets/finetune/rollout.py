"""Sampling answers: ``num_generations`` per question, with tool calls as extra turns.

A :class:`Rollout` is one sampled answer: its turns (each a generated completion, possibly
ending in a tool call whose result is appended), the videos it saw, and - after scoring - its
rewards and advantage.  :func:`sample_rollouts` runs the loop over any :class:`Generator`
(transformers ``generate`` or vLLM, :mod:`.generation`):

1. every question's prompt - video prefix + question ids - gets ``G`` completions;
2. a completion that calls a tool (:mod:`.tools`) and has calls left gets the tool's result
   appended (``<tool_result>...</tool_result>``) and one more completion from there; a tool that
   returns frames (``zoom``) replaces the rollout's video for the following turns;
3. repeat until no rollout calls a tool.

Exactly the ids the generator saw and produced are kept, so the training forward pass
(:meth:`Rollout.segments`) scores the same tokens in the same context: turns that share a video
form one packed segment (completions are targets, prompt and tool results context); a turn on
a new video starts a new segment whose context repeats the earlier turns as plain context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from videonet_datasets.video import Frames

from .questions import Question
from .tools import TOOL_CLOSE, ToolCall, ToolContext, ToolResult, format_result, parse_tool_call, run_tool

__all__ = [
    "Completion",
    "EncodedVideo",
    "GenContext",
    "Generator",
    "Rollout",
    "Turn",
    "sample_rollouts",
]


@dataclass
class Completion:
    """Generated token ids (the stop string's or ``<|im_end|>`` included), their text, and why it ended:
    ``eos`` (the model closed its turn), ``stop`` (a tool call), ``length`` (cut at the limit)."""

    ids: list[int]
    text: str
    finish: str


@dataclass
class EncodedVideo:
    """A video as the model sees it: the frames and the packed prefix (BOS + video tokens + tensors)."""

    frames: Frames
    prefix: Any  # videonet_datasets.molmo2.encode_video_prefix(...)


@dataclass
class GenContext:
    """A generation prompt: the video prefix, then ``ids`` (question, and earlier turns if any)."""

    video: EncodedVideo
    ids: list[int]


class Generator(Protocol):
    """A generation backend (:mod:`.generation`)."""

    def generate(self, contexts: Sequence[GenContext], n: int, stop: Sequence[str]) -> list[list[Completion]]:
        """``n`` completions of each context, sampled with the run's settings."""
        ...


@dataclass
class Turn:
    video: int  # index into Rollout.videos
    context: list[int]  # ids after the video prefix that this turn's completion continued
    completion: Completion
    call: ToolCall | None = None
    result: ToolResult | None = None
    result_ids: list[int] = field(default_factory=list)


@dataclass
class Rollout:
    """One sampled answer to a question (one member of its group)."""

    question: Question
    videos: list[EncodedVideo]
    turns: list[Turn]
    rewards: dict[str, float] = field(default_factory=dict)
    reward: float = 0.0
    advantage: float = 0.0

    @property
    def final_text(self) -> str:
        """The last turn's text: where the answer is (what the rewards read)."""
        return self.turns[-1].completion.text

    @property
    def text(self) -> str:
        """The whole answer as the model wrote it, tool results included (for logs)."""
        parts = []
        for turn in self.turns:
            parts.append(turn.completion.text)
            if turn.result is not None:
                parts.append(format_result(turn.result.text))
        return "".join(parts)

    @property
    def n_completion_tokens(self) -> int:
        return sum(len(t.completion.ids) for t in self.turns)

    @property
    def truncated(self) -> bool:
        """The last turn was cut at ``max_completion_length``."""
        return self.turns[-1].completion.finish == "length"

    @property
    def tool_calls(self) -> list[tuple[ToolCall, ToolResult]]:
        return [(t.call, t.result) for t in self.turns if t.call is not None and t.result is not None]

    def segments(self) -> list[tuple[int, list[int], list[bool]]]:
        """``(video index, ids, targets)`` to pack for the training forward pass (see the module doc)."""
        out: list[tuple[int, list[int], list[bool]]] = []
        for turn in self.turns:
            prev = out[-1] if out else None
            if prev is not None and prev[0] == turn.video and turn.context[: len(prev[1])] == prev[1]:
                extra = turn.context[len(prev[1]) :]
                prev[1].extend(extra + turn.completion.ids)
                prev[2].extend([False] * len(extra) + [True] * len(turn.completion.ids))
            else:
                out.append(
                    (turn.video, list(turn.context) + list(turn.completion.ids),
                     [False] * len(turn.context) + [True] * len(turn.completion.ids))
                )  # fmt: skip
        return out


def sample_rollouts(
    questions: Sequence[tuple[Question, EncodedVideo, list[int]]],
    generator: Generator,
    *,
    num_generations: int,
    tools: Sequence[str] = (),
    max_tool_calls: int = 0,
    tool_context: Callable[[Question, Frames], ToolContext] | None = None,
    encode_video: Callable[[Frames], EncodedVideo] | None = None,
    tokenize: Callable[[str], list[int]] | None = None,
) -> list[list[Rollout]]:
    """``num_generations`` rollouts per ``(question, video, question ids)``; one group per question.

    With ``tools``, a turn that calls one (and has calls left) is followed by its result and
    another turn; ``tool_context`` builds what a tool sees, ``encode_video`` encodes new frames,
    ``tokenize`` turns a result's text into ids.
    """
    use_tools = bool(tools) and max_tool_calls > 0
    if use_tools and (tool_context is None or encode_video is None or tokenize is None):
        raise ValueError("tools need tool_context, encode_video and tokenize")
    contexts = [GenContext(video, list(ids)) for _, video, ids in questions]
    stop = (TOOL_CLOSE,) if use_tools else ()
    first = generator.generate(contexts, num_generations, stop)
    groups: list[list[Rollout]] = []
    for (question, video, ids), completions in zip(questions, first, strict=True):
        if len(completions) != num_generations:
            raise RuntimeError(
                f"the generator returned {len(completions)} completions, not {num_generations}"
            )
        groups.append([Rollout(question, [video], [Turn(0, list(ids), c)]) for c in completions])
    if not use_tools:
        return groups
    assert tool_context is not None and encode_video is not None and tokenize is not None
    calls_made = 0
    pending = [r for g in groups for r in g]
    while calls_made < max_tool_calls and pending:
        calls_made += 1
        follow: list[Rollout] = []
        for rollout in pending:
            turn = rollout.turns[-1]
            call = parse_tool_call(turn.completion.text) if turn.completion.finish == "stop" else None
            if call is None:
                continue
            video = rollout.videos[turn.video]
            result = run_tool(call, tool_context(rollout.question, video.frames), tools)
            turn.call, turn.result = call, result
            turn.result_ids = tokenize(format_result(result.text))
            if result.frames is not None:
                rollout.videos.append(encode_video(result.frames))
            follow.append(rollout)
        if not follow:
            break
        last = calls_made == max_tool_calls
        contexts = [
            GenContext(
                r.videos[-1], r.turns[-1].context + r.turns[-1].completion.ids + r.turns[-1].result_ids
            )
            for r in follow
        ]
        outputs = generator.generate(contexts, 1, () if last else stop)
        for rollout, context, (completion,) in zip(follow, contexts, outputs, strict=True):
            rollout.turns.append(Turn(len(rollout.videos) - 1, context.ids, completion))
        pending = follow
    return groups

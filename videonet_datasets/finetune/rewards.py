"""Verifiable rewards for VideoNet questions: small functions of one sampled answer.

Every reward reads the answer through the project's one answer parser
(:mod:`videonet_datasets.parsing`), so an answer the evaluation counts as right is rewarded as
right - "(B)", "Answer: B", "The answer is Kickflip", a ``<think>`` block before the letter - and
an answer it cannot read (empty, only reasoning, "yes or no") earns nothing.  The total is the
weighted sum of the configured functions (``reward_weights: correctness=1,format=0.5``):

* ``correctness`` - 1 if the parsed answer is the right letter / yes-no, else 0;
* ``format`` - 1 if the answer is well formed: it closed its turn (not cut at the length limit),
  any ``<think>`` block is one closed block at the start (required with ``require_think``), and
  the final non-empty line states the answer by itself (the evaluation prompt asks for the
  answer on the final line);
* ``length`` - DAPO's soft overlong penalty: 0 up to ``max_completion_length - length_buffer``
  tokens, then linearly down to -1 at the limit (per turn, the longest turn counts);
* ``relevance`` - the share of the action definition's content words that the reasoning uses
  (Video-STAR's sub-motion relevance, here against the annotations' definition: "travels from the
  lower left toward the upper right"); words of the action's own name do not count, so naming the
  action is not relevance;
* ``tool_bonus`` - 1 if the answer called a tool successfully *and* is correct (a tool that paid
  off), else 0;
* ``tool_cost`` - minus the number of tool calls (failed ones included): weight it small to make
  calls cost something.

Register your own with :func:`register_reward` and list it in ``reward_weights``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from videonet_datasets.parsing import ParseResult, parse_binary, parse_mc

from .questions import Question
from .rollout import Rollout

__all__ = [
    "REWARDS",
    "RewardFunction",
    "RewardSettings",
    "content_words",
    "correctness",
    "format_reward",
    "length_penalty",
    "parse_answer",
    "reasoning_text",
    "register_reward",
    "relevance",
    "score_rollout",
    "tool_bonus",
    "tool_cost",
]


@dataclass(frozen=True)
class RewardSettings:
    """What rewards need besides the answer (from the config)."""

    max_completion_length: int = 512
    length_buffer: int = 64
    require_think: bool = False


RewardFunction = Callable[[Rollout, RewardSettings], float]
#: The reward registry: name -> function.  ``reward_weights`` picks from it.
REWARDS: dict[str, RewardFunction] = {}


def register_reward(name: str, *, replace: bool = False) -> Callable[[RewardFunction], RewardFunction]:
    """Decorator: ``@register_reward("my_reward") def f(rollout, settings) -> float``."""

    def add(fn: RewardFunction) -> RewardFunction:
        if name in REWARDS and not replace:
            raise ValueError(f"a reward named {name!r} is already registered (pass replace=True)")
        REWARDS[name] = fn
        return fn

    return add


def parse_answer(question: Question, text: str) -> ParseResult:
    """``text`` read as an answer to ``question`` by the evaluation's parser."""
    return parse_mc(text, list(question.options)) if question.is_mc else parse_binary(text)


_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_ANY_THINK_TAG = re.compile(r"</?think\s*>", re.IGNORECASE)


def reasoning_text(text: str) -> str:
    """The reasoning of an answer: its ``<think>`` blocks, or else every line before the final one."""
    blocks = _THINK_RE.findall(text)
    if blocks:
        return "\n".join(b.strip() for b in blocks)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:-1])


@register_reward("correctness")
def correctness(rollout: Rollout, settings: RewardSettings) -> float:
    """1.0 if the answer parses to the right letter / "yes" / "no", else 0.0."""
    parsed = parse_answer(rollout.question, rollout.final_text)
    return 1.0 if parsed.ok and parsed.answer == rollout.question.answer else 0.0


@register_reward("format")
def format_reward(rollout: Rollout, settings: RewardSettings) -> float:
    """1.0 for a well-formed answer (see the module docstring), else 0.0."""
    if rollout.turns[-1].completion.finish != "eos":
        return 0.0
    text = rollout.final_text.strip()
    m = re.match(r"<think>(.*?)</think>(.*)\Z", text, re.DOTALL | re.IGNORECASE)
    if m is not None:
        if not m.group(1).strip():
            return 0.0
        answer_part = m.group(2)
    elif settings.require_think:
        return 0.0
    else:
        answer_part = text
    if _ANY_THINK_TAG.search(answer_part):
        return 0.0  # a second block, a stray tag or a think block not at the start
    lines = [line for line in answer_part.splitlines() if line.strip()]
    if not lines:
        return 0.0
    return 1.0 if parse_answer(rollout.question, lines[-1]).ok else 0.0


@register_reward("length")
def length_penalty(rollout: Rollout, settings: RewardSettings) -> float:
    """0 up to ``limit - buffer`` tokens, then linear to -1 at the limit (DAPO's soft overlong penalty)."""
    limit, buffer = settings.max_completion_length, settings.length_buffer
    longest = max(len(t.completion.ids) for t in rollout.turns)
    if longest >= limit:
        return -1.0
    if buffer == 0 or longest <= limit - buffer:
        return 0.0
    return -(longest - (limit - buffer)) / buffer


_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from into onto over under up down out off as is are was
    were be been being it its this that these those which who whom whose what when where how than then there here
    not no nor do does did done doing has have had having can could should would will shall may might must very
    too also just only same other another each every any some such both either neither one two three once twice
    more most less least much many while during before after until above below between through toward towards
    again further so because about against among around across along within without his her their he she they
    them him we you i me my our your frame figure""".split()
)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str, exclude: str = "") -> set[str]:
    """Lower-case words of ``text`` (crudely singularised) without stop words or the words of ``exclude``."""
    drop = {_stem(w) for w in re.findall(r"[a-z]+", exclude.lower())}
    return {
        s for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOPWORDS and (s := _stem(w)) not in drop
    }


@register_reward("relevance")
def relevance(rollout: Rollout, settings: RewardSettings) -> float:
    """Share of the definition's content words used in the reasoning (0 without a definition)."""
    q = rollout.question
    wanted = content_words(q.definition, exclude=f"{q.action} {q.domain}")
    if not wanted:
        return 0.0
    used = content_words(" ".join(reasoning_text(t.completion.text) for t in rollout.turns))
    return len(wanted & used) / len(wanted)


@register_reward("tool_bonus")
def tool_bonus(rollout: Rollout, settings: RewardSettings) -> float:
    """1.0 if a tool call succeeded and the answer is correct, else 0.0."""
    used = any(result.ok for _, result in rollout.tool_calls)
    return 1.0 if used and correctness(rollout, settings) == 1.0 else 0.0


@register_reward("tool_cost")
def tool_cost(rollout: Rollout, settings: RewardSettings) -> float:
    """Minus the number of tool calls (failed ones included)."""
    return -float(len(rollout.tool_calls))


def score_rollout(rollout: Rollout, weights: Mapping[str, float], settings: RewardSettings) -> float:
    """Every weighted reward of ``rollout`` into ``rollout.rewards`` (unweighted) and the weighted sum
    into ``rollout.reward``; returns the sum."""
    rollout.rewards = {name: float(REWARDS[name](rollout, settings)) for name in weights}
    rollout.reward = sum(weights[name] * value for name, value in rollout.rewards.items())
    return rollout.reward

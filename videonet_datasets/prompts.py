"""The project's one prompt builder for VideoNet's two protocols (paper App. C.1, E.3).

Evaluation (``videonet_lmms_tasks``), the weakly-labeled training QA pairs and the
fine-tuning recipe all build their questions here, so a model is trained on exactly the
words it is evaluated with.  Every function is pure and deterministic.

**The wording is the official release's** (``RAIVNLab/VideoNet`` ``benchmarks/*.jsonl``:
the question files the paper's numbers were measured with; the paper's App. C.1 only says
its printed prompts "closely resemble" them).  Multiple choice is the appendix's text; the
binary prompts differ from the appendix in the k-shot form::

    Recall that a Biellmann Spin is an action in Figure Skating. Does the following video show a
    Biellmann Spin? Please reason through your answer. It is critical that you output 'yes' or 'no'
    on the final line of your answer.
    <VIDEO>

    The following video shows a Biellmann Spin, which is an action in Figure Skating. Examine the
    video closely.                                 (k = 2, 3: "The following two/three videos show
    <VIDEO EXAMPLES>                                ... Examine the videos closely.")
    Now consider the following video. Does it also show a Biellmann Spin? Please reason through
    your answer. It is critical that you output 'yes' or 'no' on the final line of your answer.
    <VIDEO>

Names are used exactly as the annotations write them (the release's own files write Title Case
in binary prompts and lower case in MC options, with hand-written grammar for plurals -
"Recall that Crossovers are an action ..."; :func:`binary_prompt` applies the paper's a/an rule
and cannot know a name is plural: data imported from the release keep their stored text, see
:meth:`Prompt.from_question`).  Other decisions, documented next to the code:

* k beyond three is written in words up to ten ("four videos"), then in digits: the release
  stops at three.
* The "video plus the action's definition" ablation (paper §5.2, App. D Table 11) has no
  published wording: :data:`DEFINITION_TEMPLATE` is our choice, inserted after the first
  sentence.
* The "balanced"/"lenient" variants (paper Figure 19) replace "Please reason through your
  answer." - on built prompts and on stored (imported) ones alike (:func:`apply_variant`).
* The "single middle frame" ablation keeps the video wording: the paper (App. D) only says
  the middle frame "is provided" instead of the video, nothing about the prompt, so the
  frame choice belongs to the sampler (``videonet_datasets.video.sample_frames(middle=True)``)
  and the chat content may carry the frame as an image (see :meth:`Prompt.to_content`).

A prompt is a :class:`Prompt`: an ordered tuple of text parts and video slots (the test
video or the i-th in-context example), which renders to one string with a placeholder
token (simple models), to lmms-eval's interleaved chat content (chat models; needed for
k-shot), to its plain text, or to the release's question entries
(``[{"type": "text", "text": ...}, {"type": "video", "video": "<file>.mp4"}, ...]``,
:meth:`Prompt.to_question`; read back with :meth:`Prompt.from_question`).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "BALANCED_TEMPLATE",
    "DEFAULT_REASONING",
    "DEFINITION_TEMPLATE",
    "FINAL_LINE_INSTRUCTION",
    "LENIENT_TEXT",
    "LETTERS",
    "MC_INSTRUCTION",
    "PROMPT_VARIANTS",
    "DEFAULT_SUBDOMAIN",
    "Prompt",
    "PromptVariant",
    "TextPart",
    "VideoSlot",
    "QuestionEntry",
    "a_or_an",
    "apply_variant",
    "binary_prompt",
    "binary_target",
    "letter_index",
    "mc_prompt",
    "mc_target",
    "number_words",
    "option_letters",
]

#: Option letters, in order.  The benchmark uses the first four (A-D).
LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase)

#: The subdomain word used when an action has none (paper App. C.1).
DEFAULT_SUBDOMAIN = "action"

#: The last line of every multiple-choice question (paper App. C.1).
MC_INSTRUCTION = "Please respond with only the letter of the correct answer."

#: The default reasoning request of the binary prompts (paper App. C.1).
DEFAULT_REASONING = "Please reason through your answer."

#: The closing instruction of every binary prompt; the answer parser relies on it.
FINAL_LINE_INSTRUCTION = "It is critical that you output 'yes' or 'no' on the final line of your answer."

#: The "balanced" variant (paper App. E.3, Figure 19); replaces :data:`DEFAULT_REASONING`.
#: ``{action}`` is the bare action name (the paper writes "instance of <ACTION>", no article).
BALANCED_TEMPLATE = (
    "An appropriate instance of {action} must include all essential defining elements, but minor "
    "variations or slight differences in style or execution are acceptable. Analyze carefully, "
    "explicitly noting the presence or absence of essential elements, while considering natural "
    "variations. Clearly explain your reasoning and justify your final decision."
)

#: The "lenient" variant (paper App. E.3, Figure 19); replaces :data:`DEFAULT_REASONING` and
#: itself ends with it.  The paper uses it at k = 0 too (Table 16), "examples" included.
LENIENT_TEXT = (
    "Focus on identifying the core defining elements rather than expecting an exact match to the "
    "examples. The action may have natural variations in execution while still being the same "
    "action. Please reason through your answer."
)

#: Our wording for the "video plus the action's definition" ablation (the paper does not
#: publish one).  It is inserted right after the first sentence of the binary prompt, so the
#: question and the final-line instruction stay last, as in every other variant.
DEFINITION_TEMPLATE = "Here is its definition: {definition}"

PromptVariant = Literal["default", "balanced", "lenient"]
#: The binary prompt variants of paper App. E.3 (Figure 19, Table 16).
PROMPT_VARIANTS: tuple[str, ...] = ("default", "balanced", "lenient")

_VOWELS = frozenset("aeiouAEIOU")


def a_or_an(word: str) -> str:
    """The article the paper puts before ``word``: "an" if it begins with a vowel letter, else "a".

    This is the paper's rule exactly (App. C.1: '"a" or "an" depending on if the word it
    precedes begins with a vowel'): only the first character counts, case-insensitively,
    and "y" is not a vowel.  It is deliberately not English pronunciation ("a unicycle",
    "an hour" come out as "an unicycle", "a hour"), so our prompts match the paper's.
    Leading whitespace is ignored.

    Raises:
        ValueError: ``word`` is empty or only whitespace.
    """
    stripped = word.strip() if isinstance(word, str) else ""
    if not stripped:
        raise ValueError(f"a_or_an needs a non-empty word, got {word!r}")
    return "an" if stripped[0] in _VOWELS else "a"


def option_letters(n: int) -> tuple[str, ...]:
    """The first ``n`` option letters (``option_letters(4) == ("A", "B", "C", "D")``)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(LETTERS):
        raise ValueError(f"number of options must be an integer in 1..{len(LETTERS)}, got {n!r}")
    return LETTERS[:n]


def letter_index(letter: str) -> int:
    """The 0-based option index of an option letter ("A" -> 0); case-insensitive."""
    if not isinstance(letter, str) or len(letter.strip()) != 1 or letter.strip().upper() not in LETTERS:
        raise ValueError(f"not an option letter: {letter!r}")
    return LETTERS.index(letter.strip().upper())


# --------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class TextPart:
    """A run of prompt text."""

    text: str


@dataclass(frozen=True)
class VideoSlot:
    """Where a video goes: the ``example``-th in-context example (0-based), or the test video."""

    example: int | None = None

    @property
    def is_test(self) -> bool:
        return self.example is None


PromptPart = TextPart | VideoSlot
VideoRef = str | os.PathLike | Mapping[str, Any]
#: One entry of a stored question: ``{"type": "text"|"video", "text": str|None, "video": str|None}``.
QuestionEntry = dict[str, Any]


@dataclass(frozen=True)
class Prompt:
    """An ordered list of text parts and video slots (test video, in-context examples).

    One structure, three renderings, so that simple models, chat models and training
    all see the same words:

    * :meth:`render` - one string with a placeholder token per video (e.g. "<video>"),
      parts joined by newlines, the layout of the paper's App. C.1;
    * :meth:`to_content` / :meth:`to_messages` - lmms-eval's interleaved chat content
      (``{"type": "text", ...}`` / ``{"type": "video", "url": ...}``), the only form in
      which k-shot examples keep their place between the sentences;
    * :meth:`plain_text` - the text parts only (for models that insert their own visual
      tokens, and for lmms-eval's ``doc_to_text``).
    """

    parts: tuple[PromptPart, ...]

    @property
    def num_examples(self) -> int:
        """How many in-context example videos the prompt expects."""
        return sum(1 for p in self.parts if isinstance(p, VideoSlot) and not p.is_test)

    @property
    def video_slots(self) -> tuple[VideoSlot, ...]:
        """The video slots in prompt order (examples first, the test video last)."""
        return tuple(p for p in self.parts if isinstance(p, VideoSlot))

    def render(self, video_token: str = "<video>", separator: str = "\n") -> str:
        """One string: text parts and ``video_token`` per video slot, joined by ``separator``."""
        return separator.join(p.text if isinstance(p, TextPart) else video_token for p in self.parts)

    def plain_text(self, separator: str = "\n") -> str:
        """The text parts only, joined by ``separator`` (lmms-eval's built-in VideoNet join)."""
        return separator.join(p.text for p in self.parts if isinstance(p, TextPart))

    def to_content(
        self, test_video: VideoRef, example_videos: Sequence[VideoRef] = ()
    ) -> list[dict[str, Any]]:
        """lmms-eval chat content: text items and one video item per slot, in prompt order.

        A video given as a path becomes ``{"type": "video", "url": str(path)}``; a mapping
        is merged into ``{"type": "video"}``, so callers can add ``start_time``/``end_time``
        or send the middle-frame ablation as ``{"type": "image", "url": frame}``.

        Raises:
            ValueError: the number of example videos differs from :attr:`num_examples`.
        """
        if isinstance(example_videos, (str, os.PathLike)):
            raise ValueError("example_videos must be a sequence of videos, not a single path")
        if len(example_videos) != self.num_examples:
            raise ValueError(
                f"this prompt needs {self.num_examples} in-context example video(s), got {len(example_videos)}"
            )
        content: list[dict[str, Any]] = []
        for part in self.parts:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
            else:
                ref = test_video if part.is_test else example_videos[part.example]
                content.append(_video_item(ref))
        return content

    def to_messages(
        self, test_video: VideoRef, example_videos: Sequence[VideoRef] = (), role: str = "user"
    ) -> list[dict[str, Any]]:
        """One chat turn (lmms-eval ``doc_to_messages`` format) holding :meth:`to_content`."""
        return [{"role": role, "content": self.to_content(test_video, example_videos)}]

    def to_question(self, test_video: str, example_videos: Sequence[str] = ()) -> list[QuestionEntry]:
        """The release's question entries: ``{"type": "text", "text", "video": None}`` and
        ``{"type": "video", "text": None, "video": <file name>}`` in prompt order.

        Every entry carries both keys (one of them None) so a column of them has one schema.
        """
        if isinstance(example_videos, str) or len(example_videos) != self.num_examples:
            raise ValueError(
                f"this prompt needs {self.num_examples} in-context example video(s), got {example_videos!r}"
            )
        out: list[QuestionEntry] = []
        for part in self.parts:
            if isinstance(part, TextPart):
                out.append({"type": "text", "text": part.text, "video": None})
            else:
                name = test_video if part.is_test else example_videos[part.example]
                out.append({"type": "video", "text": None, "video": str(name)})
        return out

    @classmethod
    def from_question(cls, entries: Sequence[Mapping[str, Any]]) -> Prompt:
        """The prompt a stored question (the release's ``question`` list) asks, in its stored order.

        Text entries become text parts verbatim; video entries become video slots: the last
        one is the test video, the ones before it the in-context examples in order (the
        release's layout).  Raises ``ValueError`` on an entry that is neither, on empty text,
        or when there is no video.
        """
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence) or not entries:
            raise ValueError(f"a stored question is a non-empty list of entries, got {entries!r}")
        kinds = []
        for i, entry in enumerate(entries):
            kind = entry.get("type") if isinstance(entry, Mapping) else None
            if kind == "text":
                if not isinstance(entry.get("text"), str) or not entry["text"].strip():
                    raise ValueError(
                        f"question entry {i}: a text entry needs non-empty 'text', got {entry!r}"
                    )
            elif kind == "video":
                if not isinstance(entry.get("video"), str) or not entry["video"].strip():
                    raise ValueError(f"question entry {i}: a video entry needs a file name, got {entry!r}")
            else:
                raise ValueError(f"question entry {i}: type must be 'text' or 'video', got {entry!r}")
            kinds.append(kind)
        n_videos = kinds.count("video")
        if not n_videos:
            raise ValueError("a stored question must show at least one video")
        parts: list[PromptPart] = []
        seen = 0
        for entry, kind in zip(entries, kinds):
            if kind == "text":
                parts.append(TextPart(entry["text"]))
            else:
                seen += 1
                parts.append(VideoSlot() if seen == n_videos else VideoSlot(seen - 1))
        return cls(tuple(parts))

    @staticmethod
    def question_videos(entries: Sequence[Mapping[str, Any]]) -> tuple[list[str], str]:
        """(in-context example file names, test video file name) of a stored question."""
        names = [str(e["video"]) for e in entries if isinstance(e, Mapping) and e.get("type") == "video"]
        if not names:
            raise ValueError("a stored question must show at least one video")
        return names[:-1], names[-1]


def _video_item(ref: VideoRef) -> dict[str, Any]:
    if isinstance(ref, Mapping):
        return {"type": "video", **ref}
    if isinstance(ref, (str, os.PathLike)):
        return {"type": "video", "url": os.fspath(ref)}
    raise ValueError(f"a video must be a path or a mapping, got {type(ref).__name__}")


# --------------------------------------------------------------------------- builders


def _required(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    text = value.strip()
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be a single line, got {value!r}")
    return text


def _subdomain(subdomain: str | None) -> str:
    if subdomain is None or (isinstance(subdomain, str) and not subdomain.strip()):
        return DEFAULT_SUBDOMAIN
    return _required(subdomain, "subdomain")


def names_its_actions(domain: str, subdomain: str | None) -> bool:
    """True when the domain's name is the plural of its actions' subdomain word.

    Some domains are named by what their actions are: the release asks "Which of the
    following Knots is shown in the video?" (not "Knots actions") and says "... which is a
    Knot." / "Recall that Chorea is a Neurological Abnormality." (no "in <domain>", which
    would repeat it).  That is the case exactly when the domain is the subdomain word's
    plural ("Knot" -> "Knots", "Neurological Abnormality" -> "Neurological Abnormalities").
    """
    if not subdomain or not subdomain.strip() or not domain:
        return False
    sub, dom = subdomain.strip().casefold(), domain.strip().casefold()
    plurals = {sub + "s", sub + "es"}
    if sub.endswith("y"):
        plurals.add(sub[:-1] + "ies")
    return dom in plurals


def mc_prompt(domain: str, options: Sequence[str], subdomain: str | None = None) -> Prompt:
    """The multiple-choice question (paper App. C.1): question, lettered options, instruction, video.

    ``subdomain`` (the asked action's) only matters for a domain named by what its actions
    are (:func:`names_its_actions`): "Which of the following Knots is shown in the video?".

    ``options`` are the action names in display order (the benchmark has 4: the true action
    and its 3 hard negatives; up to 26 are accepted for the paper's 10-way experiment, App.
    G.1).  Options must be distinct (case-insensitively), or the answer letter would be
    ambiguous.
    """
    domain = _required(domain, "domain")
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise ValueError(f"options must be a sequence of action names, got {options!r}")
    if not 2 <= len(options) <= len(LETTERS):
        raise ValueError(f"a multiple-choice question needs 2..{len(LETTERS)} options, got {len(options)}")
    names = [_required(o, f"option {i + 1}") for i, o in enumerate(options)]
    folded = [n.casefold() for n in names]
    duplicates = sorted({n for n in names if folded.count(n.casefold()) > 1})
    if duplicates:
        raise ValueError(f"options must be distinct, repeated: {duplicates}")
    noun = domain if names_its_actions(domain, subdomain) else f"{domain} actions"
    lines = [f"Which of the following {noun} is shown in the video?"]
    lines += [f"{letter}. {name}" for letter, name in zip(LETTERS, names)]
    lines.append(MC_INSTRUCTION)
    return Prompt((TextPart("\n".join(lines)), VideoSlot()))


def _normalize_definition(definition: str) -> str:
    text = " ".join(definition.split())  # spreadsheet line breaks would split the prompt's lines
    if not text:
        raise ValueError("definition must be a non-empty string when given")
    return text if text[-1] in ".!?" else text + "."


def _reasoning_text(action: str, variant: str) -> str:
    if variant == "default":
        return DEFAULT_REASONING
    if variant == "balanced":
        return BALANCED_TEMPLATE.format(action=action)
    if variant == "lenient":
        return LENIENT_TEXT
    raise ValueError(f"unknown prompt variant {variant!r}; choose one of {', '.join(PROMPT_VARIANTS)}")


def apply_variant(prompt: Prompt, variant: PromptVariant, action: str) -> Prompt:
    """``prompt`` with "Please reason through your answer." replaced by the variant's text
    (paper App. E.3: "balanced" names ``action``; "lenient" itself ends with that sentence).

    Works on any binary prompt - built here or stored in imported data - because every
    binary prompt of the release and of :func:`binary_prompt` carries the sentence exactly
    once, before the final-line instruction.  ``"default"`` returns ``prompt`` unchanged.

    Raises:
        ValueError: unknown variant, or the prompt has no such sentence (not a binary prompt).
    """
    text = _reasoning_text(_required(action, "action"), variant)
    if variant == "default":
        return prompt
    hits = [i for i, p in enumerate(prompt.parts) if isinstance(p, TextPart) and DEFAULT_REASONING in p.text]
    if len(hits) != 1 or prompt.parts[hits[0]].text.count(DEFAULT_REASONING) != 1:  # type: ignore[union-attr]
        raise ValueError(
            f"the {variant!r} variant replaces {DEFAULT_REASONING!r}, which this prompt does not contain "
            "exactly once (not a VideoNet binary prompt)"
        )
    i = hits[0]
    parts = list(prompt.parts)
    parts[i] = TextPart(prompt.parts[i].text.replace(DEFAULT_REASONING, text))  # type: ignore[union-attr]
    return Prompt(tuple(parts))


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_words(k: int) -> str:
    """How the release writes a count of videos: "two", "three" (digits beyond ten)."""
    return _NUMBER_WORDS[k] if 0 <= k < len(_NUMBER_WORDS) else str(k)


def binary_prompt(
    action: str,
    domain: str,
    subdomain: str | None = DEFAULT_SUBDOMAIN,
    k: int = 0,
    variant: PromptVariant = "default",
    definition: str | None = None,
) -> Prompt:
    """The binary yes/no question, 0-shot or k-shot, in the official release's wording
    (module docstring; variants paper App. E.3).

    * ``k = 0``: one line naming the action, subdomain and domain, the question and the
      instruction, then the test video.
    * ``k >= 1``: "The following video shows ..." / "The following two videos show ...",
      "Examine the video(s) closely.", the k example videos, "Now consider the following
      video. Does it also show ...?" plus the instruction, then the test video.
    * ``variant``: "balanced" / "lenient" replace "Please reason through your answer." (the
      lenient text ends with that sentence itself); "It is critical that ..." stays last
      (:func:`apply_variant`).
    * ``definition``: the "video plus definition" ablation - our wording
      (:data:`DEFINITION_TEMPLATE`) right after the first sentence.  Whitespace runs in the
      definition are collapsed and a final period added if missing.

    ``subdomain`` defaults to "action" when None or empty (paper App. C.1).
    """
    action = _required(action, "action")
    domain = _required(domain, "domain")
    sub = _subdomain(subdomain)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k (number of in-context examples) must be a non-negative integer, got {k!r}")
    _reasoning_text(action, variant)  # unknown variants fail before anything is built
    closing = f"{DEFAULT_REASONING} {FINAL_LINE_INSTRUCTION}"
    art_action, art_sub = a_or_an(action), a_or_an(sub)
    # "... is a Knot." rather than "... is a Knot in Knots." (names_its_actions)
    where = "" if names_its_actions(domain, sub) else f" in {domain}"
    def_sentence = None
    if definition is not None:
        if not isinstance(definition, str):
            raise ValueError(f"definition must be a string, got {type(definition).__name__}")
        def_sentence = DEFINITION_TEMPLATE.format(definition=_normalize_definition(definition))

    if k == 0:
        first = f"Recall that {art_action} {action} is {art_sub} {sub}{where}."
        sentences = [first]
        if def_sentence:
            sentences.append(def_sentence)
        sentences += [f"Does the following video show {art_action} {action}?", closing]
        prompt = Prompt((TextPart(" ".join(sentences)), VideoSlot()))
        return apply_variant(prompt, variant, action)

    shown = "video shows" if k == 1 else f"{number_words(k)} videos show"
    intro = [f"The following {shown} {art_action} {action}, which is {art_sub} {sub}{where}."]
    if def_sentence:
        intro.append(def_sentence)
    intro.append(f"Examine the {'video' if k == 1 else 'videos'} closely.")
    question = f"Now consider the following video. Does it also show {art_action} {action}? {closing}"
    examples = tuple(VideoSlot(i) for i in range(k))
    prompt = Prompt((TextPart(" ".join(intro)), *examples, TextPart(question), VideoSlot()))
    return apply_variant(prompt, variant, action)


# --------------------------------------------------------------------------- training targets


def mc_target(options: Sequence[str], answer: str | int) -> str:
    """The training answer of an MC question: the letter of ``answer``.

    ``answer`` is the correct option's text (matched exactly, then case-insensitively) or its
    0-based index.
    """
    if isinstance(options, str) or not isinstance(options, Sequence) or not options:
        raise ValueError(f"options must be a non-empty sequence of action names, got {options!r}")
    letters = option_letters(len(options))
    if isinstance(answer, bool):
        raise ValueError(f"answer must be an option text or index, got {answer!r}")
    if isinstance(answer, int):
        if not 0 <= answer < len(options):
            raise ValueError(f"answer index {answer} out of range for {len(options)} options")
        return letters[answer]
    if not isinstance(answer, str):
        raise ValueError(f"answer must be an option text or index, got {answer!r}")
    if answer in options:
        return letters[list(options).index(answer)]
    wanted = answer.strip().casefold()
    hits = [i for i, o in enumerate(options) if isinstance(o, str) and o.strip().casefold() == wanted]
    if len(hits) != 1:
        raise ValueError(f"answer {answer!r} is not exactly one of the options {list(options)!r}")
    return letters[hits[0]]


def binary_target(label: bool | str) -> str:
    """The training answer of a binary question: "yes" for a positive clip, "no" for a negative.

    Accepts a bool or the strings "yes"/"no" (any case), which are normalized.
    """
    if isinstance(label, bool):
        return "yes" if label else "no"
    if isinstance(label, str) and re.fullmatch(r"\s*(yes|no)\s*", label, flags=re.IGNORECASE):
        return label.strip().lower()
    raise ValueError(f"binary label must be a bool or 'yes'/'no', got {label!r}")

"""The project's one answer parser for VideoNet's MC and binary questions; it never raises.

Used by the lmms-eval tasks' ``process_results`` and by any offline re-scoring, so every
report counts the same outputs as answered.  Whatever the model returned (None, bytes,
a list, an empty string, a failed API call, half a reasoning trace), :func:`parse_mc`
and :func:`parse_binary` return a :class:`ParseResult`: the answer or ``None`` and a status
("ok", "unparsed", "empty", "failed_request"), plus the name of the rule that decided, so
unparsed and surprising outputs can be counted and inspected instead of crashing a run.

What lmms-eval 0.7.3 does and why this is different: its built-in VideoNet tasks look only
at the last line and compare it literally, so "(B)", "Answer: B" and "The answer is B."
are wrong answers; its generic ``mcq_extract.extract_mcq_answer`` accepts any capital
letter followed by a space (the "A" of "A skater ...") and ranks a letter at the start of
the text above an explicit "The answer is B" later on.  Here a letter counts only in a
pattern that marks it as an answer, and the rules have a documented precedence.

Preparation (both protocols), in order:

1. ``None`` / non-text -> "empty" / "unparsed"; whitespace only -> "empty";
   ``[LMMS_EVAL_REQUEST_FAILED ...`` (lmms-eval's text for a failed API call) -> "failed_request".
2. Reasoning blocks are removed: ``<think>...</think>`` (also ``<thinking>``,
   ``<reasoning>``; any case); text before a closing tag without an opening one (chat
   templates that prefill ``<think>``); and everything from an unclosed opening tag to the
   end (a trace cut off by the token limit).  Nothing left -> "unparsed" ("only_reasoning").
   Chat-template tokens some backends leave in the reply ("<|im_end|>", "</s>") go too.

Multiple-choice precedence (:func:`parse_mc`; the first rule that finds an answer wins):

1. ``answer_tag`` / ``boxed`` - the last ``<answer>...</answer>`` or ``\\boxed{...}``.
2. ``bare_letter`` / ``option_text`` - the whole reply is one letter ("B", "(B)", "b.",
   "**B**", "[B]") or exactly one option's text (any case).
3. ``answer_phrase`` - the LAST explicit statement: "Answer: B", "The (correct/final)
   answer is (B) ...", "correct option is B", "I choose B", "so B", "It's B", ... or
   such a phrase followed by an option's text ("The answer is Kickflip").  Reasoning that
   weighs several letters is decided by its conclusion ("not A ... so B" -> B).
4. ``final_line`` - the last non-empty line starts with a letter token ("B. Kickflip",
   "(B) Kickflip", "B)", "Option B", "B - ...") or is an option's text.
5. ``first_line`` - the same on the first line ("B\\n\\nThe skater ...").
6. ``marked_letter`` - "(B)", "[B]", "**B**", "Option B"/"choice B" anywhere: the single
   letter marked, or the single letter marked on the last line that marks any.
7. ``option_text_mention`` - exactly one option's text occurs in the reply (a shorter
   option inside a longer mentioned one does not count), or exactly one on the last line.
8. ``lone_letter`` - exactly one distinct upper-case letter stands alone anywhere
   ("Among these, D fits best"), option texts masked out first.

Rules 4-6 skip the lines of a reply that lists the options line by line ("A. Ollie\\nB.
Kickflip ..."): an echoed option list is not an answer.

A letter is taken only when it stands alone (not inside a word) and what follows cannot
make it an article: an upper-case "A" (or "I") followed by a word counts only if that word
starts option A's text or is a verb/conjunction ("A is", "A because"); a lower-case
letter counts only before punctuation or the end ("the answer is b."), never before a
word ("the answer is a kickflip" is the article - rule 3 then reads the option text).
Letters beyond the number of options never count.  Candidates in negated context ("not
(A)", "(A) is wrong", "rule out option A") are dropped.

Binary precedence (:func:`parse_binary`): an ``<answer>`` tag / ``\\boxed{}``; else the
final non-empty line (the prompt demands the answer there): an explicit "answer: no" /
"Final answer - Yes" / "verdict is yes" wins; a line holding both "yes" and "no" otherwise
is ambiguous -> "unparsed"; else the line is "yes"/"no" alone, starts with it ("Yes, the
skater ...", "No.", "No, it ..."), or ends with it after a separator ("... Therefore, no.").
If the final line has no yes/no at all, the previous lines are read from the end with
the same rules (rule ``fallback``), skipping ambiguous ones.  "No" followed by a noun
("No rotation is visible") is a determiner, not an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from videonet_datasets.prompts import LETTERS

__all__ = [
    "FAILED_REQUEST_PREFIX",
    "ParseResult",
    "Status",
    "parse_binary",
    "parse_mc",
    "strip_reasoning",
]

Status = Literal["ok", "unparsed", "empty", "failed_request"]

#: How lmms-eval 0.7.3's API models report a request that failed after all retries.
FAILED_REQUEST_PREFIX = "[LMMS_EVAL_REQUEST_FAILED"


@dataclass(frozen=True)
class ParseResult:
    """The parsed answer (a letter, "yes"/"no", or None), the status and the deciding rule."""

    answer: str | None
    status: Status
    rule: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- preparation

_REASONING_TAGS = ("think", "thinking", "reasoning")
_TAG_ALT = "|".join(_REASONING_TAGS)
_CLOSE_RE = re.compile(rf"</(?:{_TAG_ALT})\s*>", re.IGNORECASE)
_OPEN_RE = re.compile(rf"<({_TAG_ALT})\s*>", re.IGNORECASE)
_BOXED_RE = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_LATEX_CMD_RE = re.compile(r"\\[a-zA-Z]+\s*\{([^{}]*)\}")
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\uff08": "(", "\uff09": ")"}
)
# Chat-template tokens some backends leave in the reply ("<|im_end|>", "</s>", "<end_of_turn>").
_SPECIAL_TOKEN_RE = re.compile(r"<\|[^|<>\s]{1,40}\|>|</s>|<s>|<eos>|<end_of_turn>|<start_of_turn>")
_WINDOW = 240  # characters after a candidate that decide whether it stands (bounds the work per match)


def strip_reasoning(text: str) -> str:
    """``text`` without reasoning blocks (``<think>``/``<thinking>``/``<reasoning>``), stripped.

    Closed blocks are removed; a closing tag with no opening tag before it drops everything
    up to it (templates that prefill ``<think>``); an unclosed opening tag drops everything
    from it to the end.  Tags match case-insensitively.  Linear in the text length (each
    tag is searched once), so a reply of 10,000 unclosed tags costs no more than its length.
    """
    kept: list[str] = []
    pos = 0
    opening = _OPEN_RE.search(text)
    closing = _CLOSE_RE.search(text)
    while True:
        if opening is not None and opening.start() < pos:
            opening = _OPEN_RE.search(text, pos)
        if closing is not None and closing.start() < pos:
            closing = _CLOSE_RE.search(text, pos)
        if closing is not None and (opening is None or closing.start() < opening.start()):
            kept, pos = [], closing.end()  # stray closing tag: what came before was reasoning
            continue
        if opening is None:
            kept.append(text[pos:])
            break
        kept.append(text[pos : opening.start()])
        end = re.compile(rf"</{opening.group(1)}\s*>", re.IGNORECASE).search(text, opening.end())
        if end is None:
            break  # unclosed block: the rest is an unfinished trace
        pos = end.end()
    return "".join(kept).strip()


def _prepare(output: object) -> tuple[str | None, ParseResult | None]:
    """(text to parse, None) or (None, the final result for empty/failed/non-text output)."""
    if output is None:
        return None, ParseResult(None, "empty", "empty")
    if isinstance(output, (list, tuple)) and len(output) == 1:
        return _prepare(output[0])
    if isinstance(output, (bytes, bytearray)):
        output = bytes(output).decode("utf-8", errors="replace")
    if not isinstance(output, str):
        return None, ParseResult(None, "unparsed", "not_text")
    if not output.strip():
        return None, ParseResult(None, "empty", "empty")
    if output.lstrip().startswith(FAILED_REQUEST_PREFIX):
        return None, ParseResult(None, "failed_request", "failed_request")
    text = _SPECIAL_TOKEN_RE.sub("", strip_reasoning(output)).translate(_QUOTES).strip()
    if not text:
        return None, ParseResult(None, "unparsed", "only_reasoning")
    return text, None


def _tagged_answer(text: str) -> tuple[str, str] | None:
    """(content, rule) of the last <answer> block, else of the last \\boxed{}, else None."""
    lower = text.lower()
    close = lower.rfind("</answer>")
    if close != -1:
        start = lower.rfind("<answer>", 0, close)
        if start != -1:
            return text[start + len("<answer>") : close], "answer_tag"
    boxed = _BOXED_RE.findall(text)
    if boxed:
        return _LATEX_CMD_RE.sub(r"\1", boxed[-1]), "boxed"
    return None


_MARKDOWN_RE = re.compile(r"\*+|(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])|`+|^\s*#+\s*|^\s*>\s*", re.MULTILINE)


def _demarkdown(text: str) -> str:
    return _MARKDOWN_RE.sub("", text)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- multiple choice

_WORDLIKE_LETTERS = frozenset("AI")  # upper-case letters that are also English words
_LETTER_VERBS = frozenset(
    "is was seems looks appears fits matches best because since as would should correctly".split()
)
_NEG_BEFORE_RE = re.compile(
    r"(?:\bnot|n't|\bnor|rather\s+than|instead\s+of|\brule\s+out|\bruled\s+out|\beliminate|\bexclude"
    r"|\bexcluding|\bexcept)\s*(?:the\s+)?(?:option|choice|answer)?\s*[(\[]?\s*$",
    re.IGNORECASE,
)
_NEG_AFTER_RE = re.compile(
    r"^\s*[)\]]?\s*(?:is|are|was|seems|looks)\s+(?:not|wrong|incorrect|unlikely|out|ruled|eliminated|excluded)\b"
    r"|^\s*[)\]]?\s*(?:isn't|doesn't|does\s+not|can't|cannot|can\s+be\s+ruled)\b",
    re.IGNORECASE,
)
_HEDGE_RE = re.compile(r"^\s*[)\]]?\s*(?:or|and|/)\s*(?:option\s+)?[(\[]?[A-Za-z](?![A-Za-z])", re.IGNORECASE)

_HEDGE_BEFORE_RE = re.compile(
    r"(?<![A-Za-z0-9_'])[A-Za-z][)\]]?\s*(?:or|and|/)\s*(?:option\s+)?[(\[]?\s*$", re.IGNORECASE
)

# Explicit answer statements; the letter (or option text) follows the match.
_PHRASE_RE = re.compile(
    r"(?:"
    r"\b(?:final\s+|correct\s+|right\s+|best\s+|my\s+|the\s+)*answer"
    r"(?:\s*(?:is|would\s+be|should\s+be|will\s+be|must\s+be|:|=|-|\u2013|\u2014))+"
    r"|\b(?:correct|right|best|final)\s+(?:option|choice|letter|one|match)(?:\s*(?:is|would\s+be|:|=|-))+"
    r"|\bi\s*(?:would|will|'d|'ll)?\s*(?:choose|select|pick|go\s+with|say)\b"
    r"|\b(?:my\s+)?(?:choice|pick|selection)\s*(?:is|:)"
    r"|\b(?:action|move|trick|technique|option)\s+(?:shown|depicted|performed|seen|that\s+matches)"
    r"(?:\s+in\s+the\s+(?:video|clip))?\s+is"
    r"|\b(?:it\s+is|it's|this\s+is|that\s+is)\s+(?:most\s+likely\s+|likely\s+|probably\s+|clearly\s+)?"
    r"|\b(?:so|thus|therefore|hence)\b\s*,?\s*(?:it\s+is\s+|it's\s+)?"
    r")"
    r"\s*(?:option|choice|letter)?\s*[:\-]?\s*",
    re.IGNORECASE,
)
_OPEN_MARK = "([\"'"


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _starts_with_option(rest: str, option: str | None) -> bool:
    if not option:
        return False
    head = _norm(rest[: len(option) + 40])
    opt = _norm(option)
    return head.startswith(opt) and (len(head) == len(opt) or not head[len(opt)].isalnum())


def _letter_stands(
    text: str, start: int, end: int, letters: Sequence[str], options: Sequence[str] | None
) -> str | None:
    """The letter ``text[start:end]`` if it is an answer letter in this context, else None."""
    raw = text[start:end]
    letter = raw.upper()
    if letter not in letters:
        return None
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_'"):
        return None
    idx = letters.index(letter)
    option = options[idx] if options else None
    rest = text[end : end + _WINDOW]
    if _NEG_BEFORE_RE.search(text[max(0, start - 40) : start]) or _NEG_AFTER_RE.match(rest):
        return None
    if _HEDGE_RE.match(rest) or _HEDGE_BEFORE_RE.search(text[max(0, start - 20) : start]):
        return None  # "B or C", "A and D": no single answer here
    if not rest or rest[0] == "\n":
        return letter
    first = rest[0]
    if first == "'" and len(rest) > 1 and rest[1].isalpha():
        return None  # "I'm", "A's"
    if first in ".)]:,;!?\"'}":
        if first == "." and len(rest) > 1 and rest[1].isalpha():
            return None  # "A.I", "e.g"
        return letter
    if first.isalnum() or first == "_":
        return None
    if first in " \t":
        nxt = rest.lstrip(" \t")
        if not nxt or nxt[0] == "\n" or nxt[0] in "-\u2013\u2014:(=":
            return letter
        if raw.islower():
            return letter if _starts_with_option(nxt, option) else None
        if letter in _WORDLIKE_LETTERS:
            word = re.match(r"[A-Za-z']+", nxt)
            if _starts_with_option(nxt, option) or (word and word.group(0).lower() in _LETTER_VERBS):
                return letter
            return None
        return letter
    return None


def _option_after(rest: str, options: Sequence[str] | None, letters: Sequence[str]) -> str | None:
    """The letter of the option whose text ``rest`` starts with (after an optional article)."""
    if not options:
        return None
    body = re.sub(r"^[\s\"'(\[]*(?:(?:an?|the)\s+)?", "", rest, flags=re.IGNORECASE)
    hits = [letters[i] for i, opt in enumerate(options) if _starts_with_option(body, opt)]
    if not hits:
        return None
    # Prefer the longest option text ("Varial Kickflip" over "Varial").
    return max(hits, key=lambda ltr: len(options[letters.index(ltr)]))


def _phrase_answer(text: str, letters: Sequence[str], options: Sequence[str] | None) -> str | None:
    last: tuple[int, str] | None = None
    for m in _PHRASE_RE.finditer(text):
        pos = m.end()
        while pos < len(text) and text[pos] in _OPEN_MARK + " *":
            pos += 1
        found = None
        if pos < len(text) and text[pos].isalpha():
            found = _letter_stands(text, pos, pos + 1, letters, options)
        if found is None:
            found = _option_after(text[m.end() : m.end() + _WINDOW], options, letters)
        if found is not None and (last is None or m.start() >= last[0]):
            last = (m.start(), found)
    return last[1] if last else None


_LINE_START_RE = re.compile(
    r"^[\s\"'(\[]*(?:(?:option|choice|letter|answer)\s*[:\-]?\s*)?[(\[]?\s*([A-Za-z])", re.IGNORECASE
)


def _line_start_letter(line: str, letters: Sequence[str], options: Sequence[str] | None) -> str | None:
    m = _LINE_START_RE.match(line)
    return _letter_stands(line, m.start(1), m.end(1), letters, options) if m else None


def _exact_option(text: str, options: Sequence[str] | None, letters: Sequence[str]) -> str | None:
    if not options:
        return None
    body = _norm(text).strip(" .!?:;,\"'()[]")
    hits = [letters[i] for i, opt in enumerate(options) if _norm(opt) == body]
    return hits[0] if len(hits) == 1 else None


_MARK_RES = (
    re.compile(r"\(\s*([A-Za-z])\s*\)"),
    re.compile(r"\[\s*([A-Za-z])\s*\]"),
    re.compile(r"\*\*\s*\(?([A-Za-z])\)?[.:)]?\s*\*\*"),
    re.compile(r"\b(?:option|choice)\s*\(?([A-Za-z])(?![A-Za-z])", re.IGNORECASE),
)


def _marked_letters(raw_line: str, letters: Sequence[str]) -> list[str]:
    found: list[str] = []
    for rx in _MARK_RES:
        for m in rx.finditer(raw_line):
            ch = m.group(1)
            if ch.upper() not in letters:
                continue
            if ch.islower() and rx is _MARK_RES[3]:
                after = raw_line[m.end(1) : m.end(1) + _WINDOW]
                if after[:1].isspace() and after.strip()[:1].isalpha():
                    continue  # "option a bit ..."
            if _NEG_BEFORE_RE.search(raw_line[max(0, m.start() - 40) : m.start()]):
                continue
            if _NEG_AFTER_RE.match(raw_line[m.end() : m.end() + _WINDOW]):
                continue
            found.append(ch.upper())
    return found


def _unique_or_last_line(per_line: list[list[str]]) -> str | None:
    distinct = {x for line in per_line for x in line}
    if len(distinct) == 1:
        return distinct.pop()
    for line in reversed(per_line):
        if line:
            return line[0] if len(set(line)) == 1 else None
    return None


def _mentioned_options(line: str, options: Sequence[str], letters: Sequence[str]) -> list[str]:
    hay = _norm(line)
    spans: list[tuple[int, int, str]] = []
    for i, opt in enumerate(options):
        needle = _norm(opt)
        for m in re.finditer(rf"(?<![\w]){re.escape(needle)}(?![\w])", hay):
            spans.append((m.start(), m.end(), letters[i]))
    kept = [
        s
        for s in spans
        if not any(o != s and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0] for o in spans)
    ]
    return [s[2] for s in kept]


def _resolve_options(options: int | Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if options is None:
        options = 4
    if isinstance(options, bool):
        raise TypeError("options must be a number of options or a sequence of option texts")
    if isinstance(options, int):
        if not 1 <= options <= len(LETTERS):
            raise ValueError(f"number of options must be in 1..{len(LETTERS)}, got {options}")
        return LETTERS[:options], None
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise TypeError("options must be a number of options or a sequence of option texts")
    if not 1 <= len(options) <= len(LETTERS):
        raise ValueError(f"number of options must be in 1..{len(LETTERS)}, got {len(options)}")
    texts = tuple(str(o) for o in options)
    return LETTERS[: len(texts)], texts


def parse_mc(output: object, options: int | Sequence[str] | None = 4) -> ParseResult:
    """Parse a multiple-choice reply; see the module docstring for the rule precedence.

    Args:
        output: the model's reply (anything: None, bytes, str, a one-element list).
        options: the option texts in letter order (enables matching the option's text), or
            just the number of options (default 4, letters A-D).

    Returns:
        A :class:`ParseResult` whose ``answer`` is an upper-case letter within the options.
        Model output never raises; only an invalid ``options`` argument (a programming
        error) raises ``TypeError``/``ValueError``.
    """
    letters, texts = _resolve_options(options)
    try:
        return _parse_mc(output, letters, texts, allow_tags=True)
    except Exception as exc:  # pragma: no cover - defensive: a parser bug must not kill a run
        return ParseResult(None, "unparsed", f"parser_error:{type(exc).__name__}")


def _parse_mc(
    output: object, letters: tuple[str, ...], options: tuple[str, ...] | None, allow_tags: bool
) -> ParseResult:
    text, final = _prepare(output)
    if final is not None:
        return final
    assert text is not None
    if allow_tags:
        tagged = _tagged_answer(text)
        if tagged is not None:
            sub = _parse_mc(tagged[0], letters, options, allow_tags=False)
            if sub.ok:
                return ParseResult(sub.answer, "ok", tagged[1])
    pairs = [(raw, _demarkdown(raw).strip()) for raw in _lines(text)]
    pairs = [(raw, line) for raw, line in pairs if line]
    lines = [line for _, line in pairs]
    plain = "\n".join(lines)
    bare = _bare_letter(plain, letters)
    if bare:
        return ParseResult(bare, "ok", "bare_letter")
    exact = _exact_option(plain, options, letters)
    if exact:
        return ParseResult(exact, "ok", "option_text")
    found = _phrase_answer(plain, letters, options)
    if found:
        return ParseResult(found, "ok", "answer_phrase")
    # A reply that lists options line by line ("A. Ollie\nB. Kickflip ...") states no answer
    # through its line-start letters: skip the line rules and ignore those lines' marks.
    starts = [_line_start_letter(line, letters, options) for line in lines]
    listing = len({x for x in starts if x}) >= 2
    if listing and _bare_letter(lines[-1], letters):
        # An echoed question followed by the answer alone on the last line.
        return ParseResult(_bare_letter(lines[-1], letters), "ok", "final_line")
    if lines and not listing:
        found = starts[-1] or _exact_option(lines[-1], options, letters)
        if found:
            return ParseResult(found, "ok", "final_line")
        found = starts[0] or _exact_option(lines[0], options, letters)
        if found:
            return ParseResult(found, "ok", "first_line")
    marks = [
        [] if listing and start else _marked_letters(raw, letters) for (raw, _), start in zip(pairs, starts)
    ]
    found = _unique_or_last_line(marks)
    if found:
        return ParseResult(found, "ok", "marked_letter")
    if options:
        mentions = [
            [] if listing and start else _mentioned_options(line, options, letters)
            for line, start in zip(lines, starts)
        ]
        found = _unique_or_last_line(mentions)
        if found:
            return ParseResult(found, "ok", "option_text_mention")
    found = _lone_letter(plain, letters, options)
    if found:
        return ParseResult(found, "ok", "lone_letter")
    return ParseResult(None, "unparsed", "no_answer")


_BARE_RE = re.compile(r"[\s\"'(\[]*([A-Za-z])\s*[)\]]?[\s.:)!\"']*")


def _bare_letter(text: str, letters: Sequence[str]) -> str | None:
    """The letter if ``text`` is nothing but one option letter ("B", "(b)", "B.")."""
    m = _BARE_RE.fullmatch(text)
    return m.group(1).upper() if m and m.group(1).upper() in letters else None


_LONE_RE = re.compile(r"(?<![A-Za-z0-9_'])[A-Z](?![A-Za-z0-9_])")


def _lone_letter(plain: str, letters: Sequence[str], options: Sequence[str] | None) -> str | None:
    """The one distinct upper-case letter that stands alone anywhere ("D fits best"), option texts masked."""
    if options:
        for opt in sorted(options, key=len, reverse=True):
            plain = re.sub(
                re.escape(opt.strip()), lambda m: " " * len(m.group(0)), plain, flags=re.IGNORECASE
            )
    found = {
        hit
        for m in _LONE_RE.finditer(plain)
        if (hit := _letter_stands(plain, m.start(), m.end(), letters, options)) is not None
    }
    return found.pop() if len(found) == 1 else None


# --------------------------------------------------------------------------- binary

_YN = r"(?<![\w-])(yes|no)(?![\w-])"
_YN_RE = re.compile(_YN)
_EXPLICIT_YN_RE = re.compile(
    r"\b(?:answer|verdict|conclusion|decision|response|label)"
    r"(?:\s*(?:is|would\s+be|will\s+be|should\s+be|must\s+be|[:=\-\u2013\u2014]))+\s*[\"'(\[]*"
    + _YN
    + r"(?![\"')\]]*\s*(?:or|and|/)\s*[\"'(\[]*(?:yes|no)\b)"  # "the answer is yes or no" is no answer
)
_ONLY_YN_RE = re.compile(r"[\W_]*(yes|no)[\W_]*")
_START_YN_RE = re.compile(r"^[\W_]*(yes|no)(?![\w-])(.*)$", re.DOTALL)
_END_YN_RE = re.compile(
    r"(?:[:,;?!.\-\u2013\u2014]|\b(?:is|be|say|so|thus|therefore|hence|then|answer|final))\s*[\"'(\[]*"
    r"(yes|no)[\"')\].!]*\s*$"
)
_NO_FOLLOWERS = frozenset("it this that the i they he she we its there".split())
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-+\u2022]|\d+[.)])\s+")


def _binary_line(line: str) -> str | None:
    """The answer one line states: "yes"/"no", "ambiguous" (both, none explicit), or None."""
    s = _LIST_MARKER_RE.sub("", _demarkdown(line).lower()).strip()
    explicit = _EXPLICIT_YN_RE.findall(s)
    if explicit:
        return explicit[-1]
    words = set(_YN_RE.findall(s))
    if not words:
        return None
    if len(words) > 1:
        return "ambiguous"
    if _ONLY_YN_RE.fullmatch(s):
        return _ONLY_YN_RE.fullmatch(s).group(1)
    start = _START_YN_RE.match(s)
    if start:
        word, rest = start.group(1), start.group(2)
        if not rest.strip() or rest[0] in ".,!;:)]-\u2013\u2014?\"'":
            return word
        follower = re.match(r"\s+([a-z']+)", rest)
        if word == "yes" or (follower and follower.group(1) in _NO_FOLLOWERS):
            return word
    end = _END_YN_RE.search(s)
    if end:
        return end.group(1)
    return None


def parse_binary(output: object) -> ParseResult:
    """Parse a yes/no reply; see the module docstring for the rules.  Never raises.

    Returns:
        A :class:`ParseResult` whose ``answer`` is "yes" or "no" when ``status == "ok"``.
    """
    try:
        return _parse_binary(output, allow_tags=True)
    except Exception as exc:  # pragma: no cover - defensive: a parser bug must not kill a run
        return ParseResult(None, "unparsed", f"parser_error:{type(exc).__name__}")


def _parse_binary(output: object, allow_tags: bool) -> ParseResult:
    text, final = _prepare(output)
    if final is not None:
        return final
    assert text is not None
    if allow_tags:
        tagged = _tagged_answer(text)
        if tagged is not None:
            sub = _parse_binary(tagged[0], allow_tags=False)
            if sub.ok:
                return ParseResult(sub.answer, "ok", tagged[1])
    lines = _lines(text)
    last = _binary_line(lines[-1])
    if last == "ambiguous":
        return ParseResult(None, "unparsed", "ambiguous")
    if last is not None:
        return ParseResult(last, "ok", "final_line")
    for line in reversed(lines[:-1]):
        found = _binary_line(line)
        if found in ("yes", "no"):
            return ParseResult(found, "ok", "fallback")
    return ParseResult(None, "unparsed", "no_answer")

"""The answer parser: tables of realistic VLM replies per protocol, edge cases, and fuzzing.

Styles in the tables follow what open and API VLMs really answer to VideoNet's prompts:
Qwen/InternVL's terse letters, GPT's bold "**B. Kickflip**", Gemini's long markdown
reasoning ending in a verdict, reasoning models' <think> traces, and the echoes, hedges
and refusals that must count as unparsed rather than as a lucky guess.
"""

from __future__ import annotations

import random
import time

import pytest

from videonet_datasets.parsing import (
    FAILED_REQUEST_PREFIX,
    ParseResult,
    parse_binary,
    parse_mc,
    strip_reasoning,
)

SKATE = ["Ollie", "Kickflip", "Heelflip", "Pop Shove-it"]
BALLET = ["Pirouette", "Arabesque", "Grand Jeté", "Pas de Bourrée"]
KNOTS = ["Bowline", "Running Bowline", "Clove Hitch", "Figure Eight"]

GEMINI_MC = """Here's a breakdown of the skater's movement:

*   **Setup:** The skater places the back foot on the tail and the front foot near the bolts.
*   **Pop:** The tail snaps down and the board rises.
*   **Flick:** The front foot slides off the heel edge, and the board spins along its long axis.

Considering the options:
*   **A. Ollie:** Incorrect - the board does not rotate in an ollie.
*   **C. Heelflip:** Incorrect - the flick is with the toe, not the heel.
*   **D. Pop Shove-it:** Incorrect - the board does not spin horizontally.

Therefore, the answer is **B**."""

GPT_MC_VERBOSE = """The rider pops the tail, flicks off the toe side and the board rotates along its
length before the catch, which is the defining feature of a kickflip.

**Answer: B. Kickflip**"""

OPTION_ECHO = """Which of the following Skateboarding actions is shown in the video?
A. Ollie
B. Kickflip
C. Heelflip
D. Pop Shove-it"""

# (reply, options, expected answer, expected status)
MC_CASES: list[tuple[object, object, str | None, str]] = [
    # terse open-model replies (Qwen3-VL, InternVL3.5, Molmo2)
    ("B", SKATE, "B", "ok"),
    ("B.", SKATE, "B", "ok"),
    ("B)", SKATE, "B", "ok"),
    ("(B)", SKATE, "B", "ok"),
    ("[B]", SKATE, "B", "ok"),
    ("b", SKATE, "B", "ok"),
    (" C\n", SKATE, "C", "ok"),
    ("D. Pop Shove-it", SKATE, "D", "ok"),
    ("(C) Heelflip", SKATE, "C", "ok"),
    ("A. Ollie", SKATE, "A", "ok"),
    ("A", SKATE, "A", "ok"),
    ("B: Kickflip", SKATE, "B", "ok"),
    ("B - Kickflip", SKATE, "B", "ok"),
    ("Option B", SKATE, "B", "ok"),
    ("Option C: Heelflip", SKATE, "C", "ok"),
    # answer statements
    ("Answer: B", SKATE, "B", "ok"),
    ("answer: c", SKATE, "C", "ok"),
    ("The answer is B.", SKATE, "B", "ok"),
    ("The correct answer is (B) Kickflip.", SKATE, "B", "ok"),
    ("The correct option is D.", SKATE, "D", "ok"),
    ("Final Answer: (A)", SKATE, "A", "ok"),
    ("**Answer:** C", SKATE, "C", "ok"),
    ("I choose D", SKATE, "D", "ok"),
    ("I'd go with A because the board never leaves the rider's feet.", SKATE, "A", "ok"),
    ("I think it's B.", SKATE, "B", "ok"),
    ("The answer is Heelflip.", SKATE, "C", "ok"),
    ("The answer is a kickflip.", SKATE, "B", "ok"),  # lower-case "a" is the article
    ("The answer is A kickflip", SKATE, "B", "ok"),  # "A" before a word that is not option A
    ("The answer is A Ollie", SKATE, "A", "ok"),  # "A" followed by option A's text
    # GPT / Gemini markdown
    ("**B**", SKATE, "B", "ok"),
    ("**B. Kickflip**", SKATE, "B", "ok"),
    ("The correct answer is **B. Kickflip**.", SKATE, "B", "ok"),
    (GEMINI_MC, SKATE, "B", "ok"),
    (GPT_MC_VERBOSE, SKATE, "B", "ok"),
    ("B. Kickflip\nThe skater flicks the board with the front foot so it rotates.", SKATE, "B", "ok"),
    ("B\n\nThe board flips along its long axis.", SKATE, "B", "ok"),
    # reasoning that weighs several letters is decided by its conclusion
    ("A skater rolls and the board flips. Not A since there is a flip... so B.", SKATE, "B", "ok"),
    ("It's not (A) Ollie. The answer is (B).", SKATE, "B", "ok"),
    ("(A) Ollie is wrong and (C) Heelflip too; the best match is (B).", SKATE, "B", "ok"),
    ("Options A and C can be ruled out. I think **B** fits best.", SKATE, "B", "ok"),
    ("The answer is B.\n\nA skater performing an ollie would not flip the board.", SKATE, "B", "ok"),
    ("Based on the video, the action shown is B. Kickflip.", SKATE, "B", "ok"),
    ("The rider pops and flicks; this is consistent with option B: Kickflip.", SKATE, "B", "ok"),
    ("Among the options, D fits best.", SKATE, "D", "ok"),
    ("B<|im_end|>", SKATE, "B", "ok"),
    # option texts
    ("Kickflip", SKATE, "B", "ok"),
    ("kickflip.", SKATE, "B", "ok"),
    ("A skater performs a kickflip.", SKATE, "B", "ok"),  # "A skater" is not a letter
    ("The dancer performs a grand jeté.", BALLET, "C", "ok"),
    ("PAS DE BOURRÉE", BALLET, "D", "ok"),
    ("The knot is a running bowline.", KNOTS, "B", "ok"),  # the longer option wins over "Bowline"
    ("The video shows a skater landing a Kickflip.", 4, None, "unparsed"),  # no texts given
    # reasoning blocks
    ("<think>The board flips... A or B? The flick is toe-side.</think>\n\nB", SKATE, "B", "ok"),
    ("<think>\nOllie would not rotate.\n</think>\nThe answer is (B).", SKATE, "B", "ok"),
    ("The board rotates so it is a kickflip, not an ollie.</think>\n\nB", SKATE, "B", "ok"),
    ("<think>Let me look at the feet. The answer is A? Or maybe", SKATE, None, "unparsed"),
    ("<answer>C</answer>", SKATE, "C", "ok"),
    ("Final Answer: $\\boxed{D}$", SKATE, "D", "ok"),
    # unparsed: echoes, hedges, refusals, out of range
    (OPTION_ECHO, SKATE, None, "unparsed"),
    (OPTION_ECHO + "\nPlease respond with only the letter of the correct answer.\nC", SKATE, "C", "ok"),
    ("The answer is B or C.", SKATE, None, "unparsed"),
    ("I am not sure. A or C.", SKATE, None, "unparsed"),
    ("A rider pops the board off a ledge. It is hard to tell which trick it is.", SKATE, None, "unparsed"),
    ("A skater is riding down a ramp in a skate park.", SKATE, None, "unparsed"),
    ("I'm sorry, I cannot determine the action from this video.", SKATE, None, "unparsed"),
    ("The skater does either a kickflip or a heelflip.", SKATE, None, "unparsed"),
    ("E", SKATE, None, "unparsed"),
    ("The answer is E.", SKATE, None, "unparsed"),
    # empty and failed
    ("", SKATE, None, "empty"),
    ("   \n\t ", SKATE, None, "empty"),
    (None, SKATE, None, "empty"),
    (f"{FAILED_REQUEST_PREFIX} after 5 retries] Error code: 429 - rate limit", SKATE, None, "failed_request"),
    # non-text from a misbehaving model wrapper
    (b"B", SKATE, "B", "ok"),
    (["(C)"], SKATE, "C", "ok"),
    (42, SKATE, None, "unparsed"),
]

GEMINI_BINARY = """Here's a breakdown of the video to determine if it shows an ollie:

1.  **Setup:** The skater's back foot is on the tail, the front foot is in the middle of the board.
2.  **Pop:** The tail strikes the ground and the board leaves the ground.
3.  **Slide:** The front foot slides up towards the nose, levelling the board.
4.  **Landing:** The skater lands with both feet on the bolts.

All the defining elements of an ollie are present, with no flip or rotation of the board.

**Final Answer:**
yes"""

GPT_BINARY = """The clip shows the rider popping the tail and the board rising, but the front foot
flicks off the toe edge and the board rotates a full turn along its length before the catch.
That rotation is the defining feature of a kickflip, which an ollie does not have.

no"""

QWEN_BINARY = (
    "No, the video does not show an ollie. The skateboard flips in the air, which indicates a kickflip."
)

INTERN_BINARY = """The person in the video is standing on a skateboard and jumps with the board.
The board stays level and the rider lands on it.
Yes"""

# (reply, expected answer, expected status)
BINARY_CASES: list[tuple[object, str | None, str]] = [
    ("Yes", "yes", "ok"),
    ("No", "no", "ok"),
    ("yes.", "yes", "ok"),
    ("No.", "no", "ok"),
    ("YES", "yes", "ok"),
    ("**No**", "no", "ok"),
    ("**Yes.**", "yes", "ok"),
    ("'yes'", "yes", "ok"),
    ('"No"', "no", "ok"),
    ("Final answer: Yes", "yes", "ok"),
    ("Answer: no.", "no", "ok"),
    ("**Answer:** No", "no", "ok"),
    ("Final Answer - yes", "yes", "ok"),
    ("### Final Answer\nNo", "no", "ok"),
    ("The answer is yes.", "yes", "ok"),
    ("Yes, the video shows an ollie.", "yes", "ok"),
    ("No, it is not.", "no", "ok"),
    ("No it isn't an ollie.", "no", "ok"),
    ("Therefore, no.", "no", "ok"),
    ("I'd say yes.", "yes", "ok"),
    ("So the verdict is: no", "no", "ok"),
    ("The skater pops the tail and slides the front foot.\n\nyes", "yes", "ok"),
    ("**Final Answer:**\n\nYes", "yes", "ok"),
    ("The answer is $\\boxed{\\text{yes}}$.", "yes", "ok"),
    ("<answer>no</answer>", "no", "ok"),
    (GEMINI_BINARY, "yes", "ok"),
    (GPT_BINARY, "no", "ok"),
    (QWEN_BINARY, "no", "ok"),
    (INTERN_BINARY, "yes", "ok"),
    ("Conclusion: The video does not show an ollie.\n\n**No**", "no", "ok"),
    ("I must output 'yes' or 'no' on the final line.\nNo.", "no", "ok"),
    ("- The board does not rotate.\n- The rider lands clean.\n- yes", "yes", "ok"),
    ("It is a no-comply variation, not an ollie. No.", "no", "ok"),  # "no-comply" is not "no"
    ("Is this an ollie? Yes.", "yes", "ok"),
    ("Yes<|im_end|>", "yes", "ok"),
    ("My final answer is no, because the board flips.", "no", "ok"),
    ("The video does NOT show an ollie. Answer: NO", "no", "ok"),
    # the last line has no yes/no: fall back to the last clear statement
    ("The board doesn't flip.\nAnswer: No\nThe skater only jumps.", "no", "ok"),
    ("Yes.\n\nThe rider pops the tail and levels the board with the front foot.", "yes", "ok"),
    ("No\n\nExplanation: the board rotates along its length, so it is a kickflip.", "no", "ok"),
    # reasoning blocks
    ("<think>The tail pops... yes or no? The board flips, so no.</think>\n\nno", "no", "ok"),
    ("<think>\nIt looks like an ollie at first.\n</think>\nYes", "yes", "ok"),
    ("okay, the board levels out, so it is an ollie.</think>Yes", "yes", "ok"),
    ("<think>The rider pops the tail. Is it an ollie? yes. But the", None, "unparsed"),
    # unparsed: ambiguous, determiner "no", refusals
    ("yes or no", None, "unparsed"),
    ("I can't tell whether the answer is yes or no from this clip.", None, "unparsed"),
    ("No rotation of the board is visible in the clip.", None, "unparsed"),
    ("It is a no-comply, so it's not the trick.", None, "unparsed"),
    ("The video does not show an ollie.", None, "unparsed"),
    ("I'm unable to view videos.", None, "unparsed"),
    # empty and failed
    ("", None, "empty"),
    ("\n\n  ", None, "empty"),
    (None, None, "empty"),
    (f"{FAILED_REQUEST_PREFIX} after 3 retries] APIConnectionError", None, "failed_request"),
    ([" yes "], "yes", "ok"),
    (b"No.", "no", "ok"),
    (3.5, None, "unparsed"),
]


def test_tables_are_large_enough() -> None:
    assert len(MC_CASES) >= 40
    assert len(BINARY_CASES) >= 40


@pytest.mark.parametrize(("reply", "options", "answer", "status"), MC_CASES)
def test_mc_table(reply: object, options: object, answer: str | None, status: str) -> None:
    result = parse_mc(reply, options)
    assert (result.answer, result.status) == (answer, status), result


@pytest.mark.parametrize(("reply", "answer", "status"), BINARY_CASES)
def test_binary_table(reply: object, answer: str | None, status: str) -> None:
    result = parse_binary(reply)
    assert (result.answer, result.status) == (answer, status), result


def test_mc_rules_are_reported() -> None:
    assert parse_mc("B", 4).rule == "bare_letter"
    assert parse_mc("The answer is (B) Kickflip", SKATE).rule == "answer_phrase"
    assert parse_mc("Looks like it.\nB. Kickflip", SKATE).rule == "final_line"
    assert parse_mc("A skater performs a kickflip.", SKATE).rule == "option_text_mention"
    assert parse_mc("<answer>C</answer>", SKATE).rule == "answer_tag"
    assert parse_mc("<think>only thinking", SKATE).rule == "only_reasoning"


def test_binary_fallback_rule_and_final_line_priority() -> None:
    # The final line wins over an earlier contradicting statement.
    result = parse_binary("Answer: yes\nOn second thought the board flips.\nNo.")
    assert (result.answer, result.rule) == ("no", "final_line")
    assert parse_binary("Answer: yes\nThe rider lands clean.").rule == "fallback"
    # An ambiguous final line is not rescued by earlier text.
    assert parse_binary("Yes.\nyes or no").status == "unparsed"


def test_mc_number_of_options_limits_letters() -> None:
    assert parse_mc("E", 5).answer == "E"
    assert parse_mc("E", 4).status == "unparsed"
    assert parse_mc("The answer is (J).", 10).answer == "J"
    assert parse_mc("B", None).answer == "B"  # None means the benchmark's 4 options


def test_mc_invalid_options_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_mc("B", 0)
    with pytest.raises(TypeError):
        parse_mc("B", "ABCD")


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>a</think>B") == "B"
    assert strip_reasoning("<THINK>a</THINK> B <thinking>x</thinking>") == "B"
    assert strip_reasoning("prefilled trace</think>\nB") == "B"
    assert strip_reasoning("Answer: B <think>unfinished") == "Answer: B"
    assert strip_reasoning("<think>unfinished") == ""
    assert strip_reasoning("no tags") == "no tags"


def test_parse_result_helpers() -> None:
    result = parse_binary("Yes")
    assert result.ok and result.as_dict() == {"answer": "yes", "status": "ok", "rule": "final_line"}
    assert not parse_binary("").ok


_FUZZ_TOKENS = [
    "A", "B", "C", "D", "E", "a", "b", "(", ")", "[", "]", "*", "**", "_", "#", "`", ".", ":", ",", "'",
    '"', " ", " ", "\n", "\t", "yes", "no", "Yes", "NO", "answer", "Answer:", "is", "the", "option",
    "not", "or", "so", "<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "}", "{", "Kickflip",
    "ollie", "é", "\u2019", "\u201c", "\uff08", "\x00", "\ufffd", "-", "\u2014", "I", "it's", FAILED_REQUEST_PREFIX,
]  # fmt: skip


def _random_reply(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "".join(chr(rng.randrange(0, 0x2FFF)) for _ in range(rng.randrange(0, 60)))
    return "".join(rng.choice(_FUZZ_TOKENS) for _ in range(rng.randrange(0, 40)))


def test_parsers_never_raise_on_random_strings() -> None:
    rng = random.Random(20260505)
    for _ in range(3000):
        reply = _random_reply(rng)
        mc = parse_mc(reply, SKATE)
        mc_n = parse_mc(reply, 4)
        binary = parse_binary(reply)
        for result in (mc, mc_n, binary):
            assert isinstance(result, ParseResult)
            assert result.status in {"ok", "unparsed", "empty", "failed_request"}
            assert (result.answer is not None) == (result.status == "ok"), (reply, result)
            assert not result.rule.startswith("parser_error"), (reply, result)
        assert mc.answer in {None, "A", "B", "C", "D"}
        assert binary.answer in {None, "yes", "no"}


def test_pathological_inputs_stay_fast() -> None:
    inputs = [
        "<think>" * 5000,
        "<answer>" * 5000,
        "(" * 50000,
        "A " * 20000,
        "yes or no\n" * 5000,
        "{" * 20000,
    ]
    start = time.perf_counter()
    for reply in inputs:
        parse_mc(reply, SKATE)
        parse_binary(reply)
    assert time.perf_counter() - start < 10.0

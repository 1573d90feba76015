"""The ``official`` scoring convention against a direct implementation of its stated rules.

The rules are the ones the issue and ``videonet_datasets/official.py`` state in words (the
authors' scorer: last line, a few forms, accuracy over parsed answers).  ``_stated_*`` below
implement them again, literally and independently, and every output of a large corpus of
realistic replies must score the same.  Hand-labelled cases pin the behaviour down,
including where the two conventions (official / robust) disagree and where the published
code's defects change a number.
"""

from __future__ import annotations

import itertools

import pytest

from videonet_datasets import official
from videonet_datasets.parsing import parse_binary, parse_mc

# ----------------------------------------------------------------------------- the stated rules


def _clean_last_line(text: str) -> str:
    lines = text.splitlines()
    line = lines[-1] if lines else ""
    line = line.strip().lower()
    for ch in "*#,.:":
        line = line.replace(ch, "")
    return line


def _stated_mc(text: str | None, gold: str) -> int:
    """Bare letter or boxed{X} on the last line; else unparsable."""
    if text is None or text.strip() == "":
        return -1
    line = _clean_last_line(text).upper()
    letter = None
    if line in ("A", "B", "C", "D"):
        letter = line
    else:
        for x in "ABCD":
            if "BOXED{" + x + "}" in line:
                letter = x
                break
    if letter is None and line.strip() in ("A", "B", "C", "D"):
        letter = line.strip()  # "## B" cleans to " B": compared after stripping, as the authors do
    if letter is None:
        return -1
    return 1 if letter == gold else 0


def _stated_binary(text: str | None, gold: str, expect_yes_always: bool = False) -> int:
    """First or last word, boxed, "does not show/depict", "the answer is yes", quoted forms;
    then the whole-text fallback (compared with ``gold``; the published code assumed "yes")."""
    if text is None or text.strip() == "":
        return -1
    line = _clean_last_line(text)
    said = None
    if line == "yes" or line == "no":
        said = line
    elif len(line.split(" ")) > 1 and line.split(" ")[0] in ("yes", "no"):
        said = line.split(" ")[0]
    elif len(line.split(" ")) > 1 and line.split(" ")[-1] in ("yes", "no"):
        said = line.split(" ")[-1]
    elif "boxed{yes}" in line:
        said = "yes"
    elif "boxed{no}" in line:
        said = "no"
    elif "does not show" in line or "does not depict" in line:
        said = "no"
    elif "the answer is yes" in line or 'is "yes"' in line or "is 'yes'" in line:
        said = "yes"
    elif 'is "no"' in line or "is 'no'" in line:
        said = "no"
    elif line.strip() in ("yes", "no"):
        said = line.strip()  # "Yes\t." cleans to "yes\t": compared after stripping
    if said is not None:
        return 1 if said == gold else 0
    whole = text
    for ch in ",;:.*#":
        whole = whole.replace(ch, "")
    whole = whole.lower()
    words = whole.split()
    if not words:
        return -1
    expected = "yes" if expect_yes_always else gold
    if (
        words[0] == "yes"
        or words[-1] == "yes"
        or "the answer is yes" in whole
        or 'the answer is "yes' in whole
    ):
        return 1 if expected == "yes" else 0
    if words[0] == "no" or words[-1] == "no" or "answer is no" in whole or 'answer is "no' in whole:
        return 1 if expected == "no" else 0
    return -1


# ----------------------------------------------------------------------------- corpora

MC_TEMPLATES = [
    "{L}", "{l}", "({L})", "{L}.", "**{L}**", "# {L}", "Answer: {L}", "The answer is {L}.", "{L}. {T}",
    "{T}", "\\boxed{{{L}}}", "$\\boxed{{{L}}}$", "I think it is {L}.\n{L}", "Let me look.\n\n{L}",
    "{L}\n", "{L}\n\n", "Reasoning first.\nFinal answer: {L}", "<think>maybe C</think>\n{L}", " {L} ",
    "{L}:", "Option {L}", "{L} and C", "", "   ", "[LMMS_EVAL_REQUEST_FAILED after 3 retries]",
    "## {L}", "{L} *", "{L}\t.", "**{L}** #",
]  # fmt: skip
BINARY_TEMPLATES = [
    "{y}", "{Y}.", "**{Y}**", "{Y}, the skater rotates twice.", "The skater rotates twice, so {y}",
    "Final answer: {y}", "\\boxed{{{y}}}", "The answer is {y}.", 'My answer is "{y}".', "My answer is '{y}'",
    "The video does not show it.", "It does not depict the move.", "{Y}, it does.\nThe edge is clear.",
    "The edge is clear.\nSo {y}.", "Looking closely...\n\n{Y}", "{Y}!", "Maybe.", "{Y}\n", "{Y}\n\n",
    "Thinking.\nThe answer is {y}, clearly.\nThat is my view.", "{Y}; the rotation is there.\nDone",
    "answer: {y}\nexplanation follows", "", "[LMMS_EVAL_REQUEST_FAILED x]", "{Y}\t.", "## {y}",
    "{Y} .", "Reasons.\n# {Y}\t:",
]  # fmt: skip
OPTIONS = ["Axel", "Lutz", "Flip", "Loop"]


def _mc_corpus():
    for tpl, letter in itertools.product(MC_TEMPLATES, "ABCD"):
        yield tpl.format(L=letter, l=letter.lower(), T=OPTIONS["ABCD".index(letter)])


def _binary_corpus():
    for tpl, yn in itertools.product(BINARY_TEMPLATES, ("yes", "no")):
        yield tpl.format(y=yn, Y=yn.capitalize())


def test_mc_equals_the_stated_rules_on_every_output():
    n = 0
    for text in _mc_corpus():
        for gold in "ABCD":
            assert official.score_mc(text, gold).accurate == _stated_mc(text, gold), (text, gold)
            n += 1
    assert n == len(MC_TEMPLATES) * 16


def test_binary_equals_the_stated_rules_on_every_output():
    for text in _binary_corpus():
        for gold in ("yes", "no"):
            assert official.score_binary(text, gold).accurate == _stated_binary(text, gold), (text, gold)
            published = official.score_binary(text, gold, published=True).accurate
            assert published == _stated_binary(text, gold, expect_yes_always=True), (text, gold)


@pytest.mark.parametrize(
    ("text", "gold", "code", "prediction"),
    [
        ("B", "B", 1, "B"),
        ("b.", "B", 1, "B"),
        ("**C**", "B", 0, "C"),
        ("(B)", "B", -1, "(B)"),
        ("Answer: B", "B", -1, "ANSWER B"),
        ("B. Lutz", "B", -1, "B LUTZ"),
        ("\\boxed{B}", "B", 1, "B"),
        ("B\n\n", "B", -1, ""),  # the last line is the empty one
        # Cleaning can leave whitespace; the comparison strips it (the stored prediction keeps it).
        ("## B", "B", 1, " B"),
        ("# C", "B", 0, " C"),
        ("B *", "B", 1, "B "),
        ("", "B", -1, ""),
        (None, "B", -1, ""),
    ],
)
def test_mc_cases(text, gold, code, prediction):
    got = official.score_mc(text, gold)
    assert (got.accurate, got.prediction) == (code, prediction)


@pytest.mark.parametrize(
    ("text", "gold", "code", "published"),
    [
        ("Yes", "yes", 1, 1),
        ("no.", "yes", 0, 0),
        ("The spin is clear. Therefore, yes.", "yes", 1, 1),
        ("It does not show a lutz.", "no", 1, 1),
        # Whole-text fallback: the published code scores as if the answer were "yes" (defect 2).
        ("No, the blade stays on the inside edge.\nThe takeoff is from a toe pick.", "no", 1, 0),
        ("Yes, it is a lutz.\nThe takeoff is from the outside edge.", "no", 0, 1),
        ("Yes, it is a lutz.\nThe takeoff is from the outside edge.", "yes", 1, 1),
        ("I cannot tell.", "yes", -1, -1),
        # "yes\t" after cleaning compares as "yes": no fallback, so no defect 2 either.
        ("Yes\t.", "no", 0, 0),
        ("Yes\t.", "yes", 1, 1),
        ("", "no", -1, -1),
    ],
)
def test_binary_cases_and_the_fallback_defect(text, gold, code, published):
    assert official.score_binary(text, gold).accurate == code
    assert official.score_binary(text, gold, published=True).accurate == published


def test_boxed_mc_is_unparsable_in_the_published_code():
    assert official.score_mc("\\boxed{A}", "A").accurate == 1
    assert official.score_mc("\\boxed{A}", "A", published=True).accurate == -1


def test_summaries_over_parsed_answers_and_the_published_mc_defect():
    codes = [1, 1, 0, -1, -1, 0, 1]
    s = official.summarize(codes)
    assert (s.correct, s.parsed, s.unparsable) == (3, 5, 2) and s.accuracy == pytest.approx(3 / 5)
    pub = official.summarize(codes, published=True)
    assert pub.accuracy == pytest.approx((3 + 2) / 5)  # unparsable counted as correct
    labels = ["yes", "no", "yes", "no", "yes", "no", "no"]
    b = official.summarize(codes, labels)
    assert b.accuracy == pytest.approx(3 / 5)
    assert b.positive == (1, 2) and b.negative == (2, 3)
    assert b.as_dict()["accuracy_negative"] == pytest.approx(2 / 3)
    assert official.summarize([-1, -1]).accuracy is None
    # The published MC summary tells unparsable answers by the stored prediction: "## B"
    # (prediction " B", correct) and "# C" (" C", wrong) leave its denominator too.
    preds = ["B", " B", "C", "ANSWER B", "", " C", "A"]
    pub = official.summarize([1, 1, 0, -1, -1, 0, 1], published=True, predictions=preds)
    assert (pub.correct, pub.parsed, pub.unparsable) == (5, 3, 4)
    with pytest.raises(ValueError, match="predictions"):
        official.summarize([1], published=True, predictions=[])
    with pytest.raises(ValueError):
        official.summarize([2])


def test_the_two_conventions_disagree_where_expected():
    """Realistic outputs: the robust parser reads many answers the official one leaves unparsable."""
    mc = ["(B)", "Answer: B", "The answer is B.", "B. Lutz", "Lutz", "B\n\n"]
    for text in mc:
        assert parse_mc(text, OPTIONS).answer == "B"
        assert official.score_mc(text, "B").accurate == -1
    binary = ["Answer: Yes\nThe rotation is complete.", "Yes!"]
    for text in binary:
        assert parse_binary(text).answer == "yes", text
        assert official.score_binary(text, "yes").accurate == -1, text

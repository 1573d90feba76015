"""The prompt builder: byte-exact against the official release's wording (the question files of
``RAIVNLab/VideoNet``, quoted below) and, where the release agrees with it, the paper's templates
(App. C.1, Figure 19); and its structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from videonet_datasets.prompts import (
    BALANCED_TEMPLATE,
    LENIENT_TEXT,
    LETTERS,
    Prompt,
    TextPart,
    VideoSlot,
    a_or_an,
    apply_variant,
    binary_prompt,
    binary_target,
    letter_index,
    mc_prompt,
    mc_target,
    names_its_actions,
    option_letters,
)

# The paper's templates (App. C.1; Figure 19 for the balanced and lenient texts), one line per
# paragraph and straight quotes (checked word for word against the paper below).
SPEC_MC = """Which of the following <DOMAIN> actions is shown in the video?
A. <FIRST OPTION>
B. <SECOND OPTION>
C. <THIRD OPTION>
D. <FOURTH OPTION>
Please respond with only the letter of the correct answer.
<VIDEO>"""

SPEC_0SHOT = """Recall that <a OR an> <ACTION> is <a OR an> <SUBDOMAIN> in <DOMAIN>. Does the following video show <a OR an> <ACTION>? Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line of your answer.
<VIDEO>"""

# The appendix's k-shot template (paper App. C.1).  The release - what the numbers were measured
# with - says it differently; the builder follows the release (RELEASED_* below).
SPEC_KSHOT = """The following <k> videos show <a OR an> <ACTION>, which is <a OR an> <SUBDOMAIN> in <DOMAIN>.
<VIDEO EXAMPLES>
Now consider the following video. Is it also <a OR an> <ACTION>? Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line of your answer.
<VIDEO>"""

# The released wording, as the official question files write it (RAIVNLab/VideoNet benchmarks/*.jsonl).
RELEASED_0SHOT = (
    "Recall that a Biellmann Spin is an action in Figure Skating. Does the following video show a Biellmann "
    "Spin? Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line "
    "of your answer."
)
RELEASED_1SHOT_INTRO = "The following video shows a Biellmann Spin, which is an action in Figure Skating. Examine the video closely."
RELEASED_2SHOT_INTRO = (
    "The following two videos show a Biellmann Spin, which is an action in Figure Skating. Examine the videos "
    "closely."
)
RELEASED_3SHOT_INTRO = RELEASED_2SHOT_INTRO.replace("two videos", "three videos")
RELEASED_QUESTION = (
    "Now consider the following video. Does it also show a Biellmann Spin? Please reason through your answer. "
    "It is critical that you output 'yes' or 'no' on the final line of your answer."
)
RELEASED_PENALTY = "Recall that a Pass Interference is a Penalty in American Football."

SPEC_BALANCED = (
    "An appropriate instance of <ACTION> must include all essential defining elements, but minor "
    "variations or slight differences in style or execution are acceptable. Analyze carefully, explicitly "
    "noting the presence or absence of essential elements, while considering natural variations. Clearly "
    "explain your reasoning and justify your final decision."
)
SPEC_LENIENT = (
    "Focus on identifying the core defining elements rather than expecting an exact match to the examples. "
    "The action may have natural variations in execution while still being the same action. Please reason "
    "through your answer."
)
DEFAULT_REASONING = "Please reason through your answer."

PAPER = Path(__file__).resolve().parent / "data" / "paper_prompts.txt"  # App. C.1 + Figure 19, verbatim


def _fill_binary(template: str, action: str, sub: str, domain: str, k: int = 0) -> str:
    """Fill a spec binary template: the first <a OR an> of each pair goes with ACTION, etc."""
    art_a, art_s = a_or_an(action), a_or_an(sub)
    out = template.replace("<a OR an> <ACTION>", f"{art_a} <ACTION>")
    out = out.replace("<a OR an> <SUBDOMAIN>", f"{art_s} <SUBDOMAIN>")
    out = out.replace("<ACTION>", action).replace("<SUBDOMAIN>", sub).replace("<DOMAIN>", domain)
    if k:
        out = out.replace("<k>", str(k)).replace("<VIDEO EXAMPLES>", "\n".join(["<VIDEO>"] * k))
        if k == 1:  # the appendix's template with only the noun made singular
            out = out.replace("1 videos show", "1 video show")
    return out


def _paper_words(start: str, end: str) -> str:
    """The paper's words from the line after ``start`` to ``end``, quotes straightened."""
    paper = PAPER.read_text(encoding="utf-8")
    i = paper.index(start)
    block = paper[paper.index("\n", i) : paper.index(end, i + len(start))]
    return " ".join(block.replace("\u2018", "'").replace("\u2019", "'").split())


def test_templates_here_are_the_papers_words() -> None:
    assert " ".join(SPEC_MC.split()) == _paper_words("Multiple-choice Prompt", "\u2014")
    assert " ".join(SPEC_0SHOT.split()) == _paper_words("0-shot Prompt", "\u2014")
    assert " ".join(SPEC_KSHOT.replace("<k>", "3").split()) == _paper_words("3-shot Prompt", "\u2014")
    assert " ".join(SPEC_BALANCED.split()) in _paper_words("Balanced 3-shot Prompt", "Lenient 3-shot")
    assert " ".join(SPEC_LENIENT.split()) in _paper_words("Lenient 3-shot Prompt", "Figure 19")


def test_mc_prompt_is_byte_exact() -> None:
    options = ["Ollie", "Kickflip", "Heelflip", "Pop Shove-it"]
    expected = SPEC_MC.replace("<DOMAIN>", "Skateboarding")
    for placeholder, name in zip(
        ["<FIRST OPTION>", "<SECOND OPTION>", "<THIRD OPTION>", "<FOURTH OPTION>"], options
    ):
        expected = expected.replace(placeholder, name)
    prompt = mc_prompt("Skateboarding", options)
    assert prompt.render("<VIDEO>") == expected
    assert prompt.render("<VIDEO>") == (
        "Which of the following Skateboarding actions is shown in the video?\n"
        "A. Ollie\nB. Kickflip\nC. Heelflip\nD. Pop Shove-it\n"
        "Please respond with only the letter of the correct answer.\n<VIDEO>"
    )
    assert prompt.plain_text() == expected.removesuffix("\n<VIDEO>")
    assert prompt.video_slots == (VideoSlot(),) and prompt.num_examples == 0


@pytest.mark.parametrize(
    ("action", "sub", "domain"),
    [
        ("Ollie", "action", "Skateboarding"),
        ("Kickflip", "action", "Skateboarding"),
        ("Inside Zone", "run", "American Football"),
        ("Arabesque", "pose", "Ballet"),
        ("Espresso Tamping", "action", "Coffee"),
        ("Underhand Toss", "action", "Juggling"),
    ],
)
def test_binary_0shot_is_byte_exact(action: str, sub: str, domain: str) -> None:
    prompt = binary_prompt(action, domain, sub)
    assert prompt.render("<VIDEO>") == _fill_binary(SPEC_0SHOT, action, sub, domain)


def test_binary_0shot_literal_and_articles() -> None:
    assert binary_prompt("Inside Zone", "American Football", "run").render() == (
        "Recall that an Inside Zone is a run in American Football. Does the following video show an Inside "
        "Zone? Please reason through your answer. It is critical that you output 'yes' or 'no' on the final "
        "line of your answer.\n<video>"
    )


def test_binary_prompts_are_the_released_wording() -> None:
    """The builder's binary prompts equal the release's text, byte for byte, for k = 0..3."""
    zero = binary_prompt("Biellmann Spin", "Figure Skating")
    assert zero.plain_text() == RELEASED_0SHOT
    for k, intro in ((1, RELEASED_1SHOT_INTRO), (2, RELEASED_2SHOT_INTRO), (3, RELEASED_3SHOT_INTRO)):
        prompt = binary_prompt("Biellmann Spin", "Figure Skating", k=k)
        assert prompt.render("<V>") == "\n".join([intro, *["<V>"] * k, RELEASED_QUESTION, "<V>"])
        assert prompt.num_examples == k
        assert [s.example for s in prompt.video_slots] == [*range(k), None]
    penalty = binary_prompt("Pass Interference", "American Football", "Penalty").plain_text()
    assert penalty.startswith(RELEASED_PENALTY + " Does the following video show a Pass Interference?")
    assert (
        binary_prompt("Ollie", "Skateboarding", k=5).plain_text().startswith("The following five videos show")
    )
    assert (
        binary_prompt("Ollie", "Skateboarding", k=12).plain_text().startswith("The following 12 videos show")
    )


@pytest.mark.parametrize("k", [1, 2, 3])
def test_binary_kshot_differs_from_the_appendix_only_where_the_release_does(k: int) -> None:
    """The appendix's k-shot template with the release's three edits gives the builder's text."""
    appendix = _fill_binary(SPEC_KSHOT, "Ollie", "action", "Skateboarding", k)
    released = (
        appendix.replace(
            f"{k} videos show" if k > 1 else "1 video show",
            {1: "video shows", 2: "two videos show", 3: "three videos show"}[k],
        )
        .replace(
            "in Skateboarding.\n", f"in Skateboarding. Examine the video{'s' if k > 1 else ''} closely.\n", 1
        )
        .replace("Is it also an Ollie?", "Does it also show an Ollie?")
    )
    assert binary_prompt("Ollie", "Skateboarding", k=k).render("<VIDEO>") == released


def test_stored_questions_round_trip_and_keep_their_order() -> None:
    prompt = binary_prompt("Biellmann Spin", "Figure Skating", k=2)
    entries = prompt.to_question("t.mp4", ["a.mp4", "b.mp4"])
    assert [e["type"] for e in entries] == ["text", "video", "video", "text", "video"]
    assert [e["video"] for e in entries if e["type"] == "video"] == ["a.mp4", "b.mp4", "t.mp4"]
    assert Prompt.from_question(entries) == prompt
    assert Prompt.question_videos(entries) == (["a.mp4", "b.mp4"], "t.mp4")
    # The release's own grammar ("Crossovers are") is kept verbatim when read back.
    stored = [
        {"type": "text", "text": "Recall that Crossovers are an action in Figure Skating. Does the following video show Crossovers? Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line of your answer."},
        {"type": "video", "video": "x.mp4"},
    ]  # fmt: skip
    read = Prompt.from_question(stored)
    assert read.plain_text() == stored[0]["text"] and read.num_examples == 0
    lenient = apply_variant(read, "lenient", "Crossovers").plain_text()
    assert lenient == stored[0]["text"].replace(DEFAULT_REASONING, SPEC_LENIENT)
    with pytest.raises(ValueError, match="type must be"):
        Prompt.from_question([{"type": "image", "image": "x.png"}])
    with pytest.raises(ValueError, match="at least one video"):
        Prompt.from_question([{"type": "text", "text": "hello"}])
    with pytest.raises(ValueError, match="exactly once"):
        apply_variant(mc_prompt("Skateboarding", ["Ollie", "Kickflip"]), "balanced", "Ollie")


@pytest.mark.parametrize("subdomain", [None, "", "   "])
def test_subdomain_defaults_to_action(subdomain: str | None) -> None:
    text = binary_prompt("Ollie", "Skateboarding", subdomain).plain_text()
    assert text.startswith("Recall that an Ollie is an action in Skateboarding.")


@pytest.mark.parametrize("k", [0, 1, 3])
def test_variants_replace_the_reasoning_request(k: int) -> None:
    default = binary_prompt("Ollie", "Skateboarding", k=k).plain_text()
    balanced = binary_prompt("Ollie", "Skateboarding", k=k, variant="balanced").plain_text()
    lenient = binary_prompt("Ollie", "Skateboarding", k=k, variant="lenient").plain_text()
    assert default.count(DEFAULT_REASONING) == 1
    assert balanced == default.replace(DEFAULT_REASONING, SPEC_BALANCED.replace("<ACTION>", "Ollie"))
    assert lenient == default.replace(DEFAULT_REASONING, SPEC_LENIENT)
    for text in (default, balanced, lenient):
        assert text.endswith("It is critical that you output 'yes' or 'no' on the final line of your answer.")
    assert "Ollie? An appropriate instance of Ollie must" in balanced
    assert "Ollie? Focus on identifying" in lenient
    assert BALANCED_TEMPLATE.format(action="<ACTION>") == SPEC_BALANCED and LENIENT_TEXT == SPEC_LENIENT


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="balanced"):
        binary_prompt("Ollie", "Skateboarding", variant="strict")  # type: ignore[arg-type]


def test_definition_ablation_wording() -> None:
    text = binary_prompt(
        "Ollie", "Skateboarding", definition="The rider pops the tail\n and levels the board"
    ).plain_text()
    assert text == (
        "Recall that an Ollie is an action in Skateboarding. Here is its definition: The rider pops the tail and "
        "levels the board. Does the following video show an Ollie? Please reason through your answer. It is "
        "critical that you output 'yes' or 'no' on the final line of your answer."
    )
    kshot = binary_prompt("Ollie", "Skateboarding", k=2, definition="Pops the tail.").render("<V>")
    assert kshot.startswith(
        "The following two videos show an Ollie, which is an action in Skateboarding. Here is its definition: "
        "Pops the tail. Examine the videos closely.\n<V>\n<V>\nNow consider"
    )
    with pytest.raises(ValueError, match="definition"):
        binary_prompt("Ollie", "Skateboarding", definition="   ")


def test_chat_content_interleaves_examples_and_test_video() -> None:
    prompt = binary_prompt("Ollie", "Skateboarding", k=2)
    content = prompt.to_content("/v/test.mp4", [Path("/v/ex0.mp4"), {"url": "/v/ex1.mp4", "start_time": 1.5}])
    assert [c["type"] for c in content] == ["text", "video", "video", "text", "video"]
    assert content[1] == {"type": "video", "url": "/v/ex0.mp4"}
    assert content[2] == {"type": "video", "url": "/v/ex1.mp4", "start_time": 1.5}
    assert content[4] == {"type": "video", "url": "/v/test.mp4"}
    assert content[0]["text"] + "\n" + content[3]["text"] == prompt.plain_text()
    messages = prompt.to_messages("/v/test.mp4", ["/v/ex0.mp4", "/v/ex1.mp4"])
    assert messages[0]["role"] == "user" and len(messages[0]["content"]) == 5


def test_chat_content_can_carry_the_middle_frame_as_an_image() -> None:
    content = binary_prompt("Ollie", "Skateboarding").to_content({"type": "image", "url": "/f/mid.png"})
    assert content == [{"type": "text", "text": content[0]["text"]}, {"type": "image", "url": "/f/mid.png"}]


def test_chat_content_checks_the_number_of_examples() -> None:
    prompt = binary_prompt("Ollie", "Skateboarding", k=3)
    with pytest.raises(ValueError, match="needs 3 in-context"):
        prompt.to_content("/v/t.mp4", ["/v/a.mp4"])
    with pytest.raises(ValueError, match="sequence"):
        prompt.to_content("/v/t.mp4", "/v/a.mp4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path or a mapping"):
        binary_prompt("Ollie", "Skateboarding").to_content(3)  # type: ignore[arg-type]


def test_prompt_render_options() -> None:
    prompt = Prompt((TextPart("Look:"), VideoSlot(0), TextPart("Now:"), VideoSlot()))
    assert prompt.render("<image>", separator=" ") == "Look: <image> Now: <image>"
    assert prompt.plain_text(" ") == "Look: Now:"


@pytest.mark.parametrize(
    ("word", "article"),
    [("Ollie", "an"), ("action", "an"), ("Inside Zone", "an"), ("Underhand", "an"), ("Espresso", "an"),
     ("run", "a"), ("Kickflip", "a"), ("Yo-yo Trick", "a"), ("hour", "a"), ("unicycle", "an"), ("8-count", "a"),
     ("  Ollie", "an")],
)  # fmt: skip
def test_a_or_an_is_the_papers_letter_rule(word: str, article: str) -> None:
    assert a_or_an(word) == article


def test_a_or_an_rejects_empty() -> None:
    with pytest.raises(ValueError):
        a_or_an("  ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "", "domain": "Skateboarding"}, "action"),
        ({"action": "Ollie", "domain": " "}, "domain"),
        ({"action": "Ollie\nKickflip", "domain": "Skateboarding"}, "single line"),
        ({"action": "Ollie", "domain": "Skateboarding", "k": -1}, "non-negative"),
        ({"action": "Ollie", "domain": "Skateboarding", "k": True}, "non-negative"),
    ],
)
def test_binary_prompt_validates(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        binary_prompt(**kwargs)


def test_mc_prompt_validates() -> None:
    with pytest.raises(ValueError, match="distinct"):
        mc_prompt("Skateboarding", ["Ollie", "ollie", "Heelflip", "Kickflip"])
    with pytest.raises(ValueError, match="2..26"):
        mc_prompt("Skateboarding", ["Ollie"])
    with pytest.raises(ValueError, match="option 3"):
        mc_prompt("Skateboarding", ["Ollie", "Kickflip", "", "Heelflip"])
    with pytest.raises(ValueError, match="sequence"):
        mc_prompt("Skateboarding", "Ollie")
    ten = mc_prompt("Skateboarding", [f"Trick {i}" for i in range(10)]).plain_text()
    assert "\nJ. Trick 9\n" in ten


def test_training_targets() -> None:
    options = ["Ollie", "Kickflip", "Heelflip", "Pop Shove-it"]
    assert mc_target(options, "Heelflip") == "C"
    assert mc_target(options, "pop shove-it") == "D"
    assert mc_target(options, 0) == "A"
    with pytest.raises(ValueError):
        mc_target(options, "Varial Flip")
    with pytest.raises(ValueError):
        mc_target(options, 4)
    assert binary_target(True) == "yes" and binary_target(False) == "no"
    assert binary_target(" YES ") == "yes"
    with pytest.raises(ValueError):
        binary_target("maybe")
    assert option_letters(4) == ("A", "B", "C", "D") and LETTERS[25] == "Z"
    assert letter_index("c") == 2
    with pytest.raises(ValueError):
        letter_index("AB")
    with pytest.raises(ValueError):
        option_letters(0)


def test_prompts_and_parser_agree() -> None:
    """A reply in the format each prompt asks for parses to the intended answer."""
    from videonet_datasets.parsing import parse_binary, parse_mc

    options = ["Ollie", "Kickflip", "Heelflip", "Pop Shove-it"]
    assert "letter" in mc_prompt("Skateboarding", options).plain_text()
    assert parse_mc(mc_target(options, "Heelflip"), options).answer == "C"
    assert parse_binary("The tail pops.\n" + binary_target(False)).answer == "no"


def test_a_domain_named_by_its_actions_is_worded_as_the_release_words_it():
    """Some domains are named by what their actions are (Knots, Neurological Abnormalities): the
    release asks "Which of the following Knots is shown" and says "which is a Knot." - neither
    "Knots actions" nor "a Knot in Knots"."""
    assert names_its_actions("Knots", "Knot")
    assert names_its_actions("Neurological Abnormalities", "Neurological Abnormality")
    assert names_its_actions("Boxes", "Box")
    assert not names_its_actions("Figure Skating", "action")
    assert not names_its_actions("American Football", "Penalty")
    assert not names_its_actions("Knots", None) and not names_its_actions("Knots", "")
    mc = mc_prompt("Knots", ["bowline", "reef knot"], "Knot").plain_text()
    assert mc.startswith("Which of the following Knots is shown in the video?\nA. bowline\n")
    assert (
        mc_prompt("Knots", ["bowline", "reef knot"])
        .plain_text()
        .startswith("Which of the following Knots actions is shown")
    )  # without the subdomain the general wording stays
    zero = binary_prompt("Reef Knot", "Knots", "Knot").plain_text()
    assert zero.startswith("Recall that a Reef Knot is a Knot. Does the following video show a Reef Knot? ")
    two = binary_prompt("Reef Knot", "Knots", "Knot", k=2).plain_text()
    assert two.startswith(
        "The following two videos show a Reef Knot, which is a Knot. Examine the videos closely."
    )
    one = binary_prompt("Chorea", "Neurological Abnormalities", "Neurological Abnormality", k=1).plain_text()
    assert one.startswith("The following video shows a Chorea, which is a Neurological Abnormality. Examine")

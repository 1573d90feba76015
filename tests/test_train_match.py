"""The action-name matcher: its robustness table, and agreement with a regex baseline."""

from __future__ import annotations

import random
import re

import pytest

from videonet_datasets.train_data.match import ActionMatcher, AmbiguousNamesError, key

NAMES = [
    "kickflip",
    "heel flip",
    "varial kickflip",
    "ollie",
    "push-up",
    "Plié",
    "squat",
    "pop shove-it",
    "50-50 grind",
    "frontside 180",
    "Juggler's Tennis",
    "box",
    "tennis",
]

# (text, expected distinct actions in order of mention)
ROBUSTNESS = [
    ("KICKFLIP!", ["kickflip"]),  # case, punctuation
    ("kick flip", ["kickflip"]),  # ASR splits a compound
    ("kick-flip", ["kickflip"]),  # hyphenated
    ("heelflip", ["heel flip"]),  # joined form of a two-word name
    ("heel-flips", ["heel flip"]),  # hyphen + plural
    ("varial kick-flip", ["varial kickflip"]),  # longest match wins, split inside
    ("varial kickflips", ["varial kickflip"]),
    ("two ollies, then an ollie", ["ollie"]),  # -ies plural of -ie
    ("Push ups and pushups", ["push-up"]),
    ("plie", ["Plié"]),  # accent
    ("pliés", ["Plié"]),
    ("squats, squats, squats", ["squat"]),
    ("pop shove it", ["pop shove-it"]),
    ("50 50 grind", ["50-50 grind"]),
    ("Frontside 180!", ["frontside 180"]),
    ("juggler’s tennis", ["Juggler's Tennis"]),  # typographic apostrophe
    ("jugglers tennis", ["Juggler's Tennis"]),
    ("tennis", ["tennis"]),  # "-is" is not a plural
    ("boxes", ["box"]),  # -xes plural
    ("a flip kick", []),  # word order matters
    ("kickflipper", []),  # no match inside a longer word
    ("", []),
    ("the ollie then a kickflip", ["ollie", "kickflip"]),
]


@pytest.fixture(scope="module")
def matcher() -> ActionMatcher:
    return ActionMatcher(NAMES)


@pytest.mark.parametrize("text,expected", ROBUSTNESS)
def test_robustness_table(matcher: ActionMatcher, text: str, expected: list[str]) -> None:
    assert matcher.actions_in(text) == expected


def test_word_stream_spans_and_times(matcher: ActionMatcher) -> None:
    words = [" Now", " a", " kick", " flip,", " and", " two", " heel-flips."]
    ms = matcher.find_in_words(words)
    assert [(NAMES[m.action], m.first, m.last) for m in ms] == [("kickflip", 2, 3), ("heel flip", 6, 6)]


def test_leftmost_longest_no_overlap(matcher: ActionMatcher) -> None:
    ms = matcher.find_in_text("varial kickflip")
    assert len(ms) == 1 and NAMES[ms[0].action] == "varial kickflip"


def test_indistinguishable_names_are_an_error() -> None:
    with pytest.raises(AmbiguousNamesError, match="Squats"):
        ActionMatcher(["squat", "Squats"])
    with pytest.raises(ValueError, match="no letters"):
        ActionMatcher(["!!!"])


def test_shared_joined_variant_is_dropped_not_misassigned() -> None:
    # "back flip" joins to "backflip", which is also another action's written form.
    m = ActionMatcher(["backflip", "back flip"])
    assert m.actions_in("back flip") == ["back flip"]
    assert m.actions_in("backflip") == ["backflip"]


def test_key_plural_rules() -> None:
    assert key("ollies") == key("ollie")
    assert key("flies") == key("fly")
    assert key("punches") == key("punch")
    assert key("presses") == key("press")
    assert key("lunges") == key("lunge")
    assert key("tennis") == "tennis"


def _regex_baseline(names: list[str], text: str) -> set[str]:
    """One regex per action (the obvious alternative), exact spelling, any case."""
    return {n for n in names if re.search(r"(?<!\w)" + re.escape(n.lower()) + r"(?!\w)", text.lower())}


def test_agrees_with_regex_on_exact_spellings() -> None:
    """On text that spells names exactly, the matcher and a per-action regex both find
    exactly the names that were inserted."""
    names = ["kickflip", "heel flip", "ollie", "nollie", "manual", "pop shove-it", "frontside 180"]
    m = ActionMatcher(names)
    rng = random.Random(0)
    filler = "the a then and now look at this one nice clean try again flipper heeled kick".split()
    for _ in range(300):
        words = [rng.choice(filler) for _ in range(rng.randint(3, 15))]
        inserted = set()
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(names)
            inserted.add(name)
            words.insert(rng.randint(0, len(words)), name.upper() if rng.random() < 0.3 else name)
        text = " ".join(words)
        assert set(m.actions_in(text)) == inserted == _regex_baseline(names, text), text

"""The studio's pure rules: vote aggregation and its tie rules, Fleiss' kappa, the Wilson
interval, settings, frame snapping, and reading the drafting LLM's replies."""

from __future__ import annotations

import pytest

from videonet_datasets.studio.aggregate import decide, fleiss_kappa, wilson_interval
from videonet_datasets.studio.drafting import (
    AUGMENT_PROMPT,
    DEFINE_PROMPT,
    augment_prompt,
    dedupe_prompt,
    define_prompt,
    parse_definitions,
    parse_duplicates,
    parse_suggestions,
)
from videonet_datasets.studio.media import fmt_seconds, snap_window
from videonet_datasets.studio.settings import SettingsError, StudioSettings

# ----------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    "labels, flags, status, needed",
    [
        ([], 0, "pending", 3),
        (["good", "good"], 0, "pending", 1),  # never decided before N votes
        (["good", "good", "good"], 0, "accepted", 0),
        (["good", "good", "trim"], 0, "accepted", 0),
        (["trim", "trim", "good"], 0, "retrim", 0),
        (["good", "trim", "wrong"], 0, "retrim", 0),  # shows it 2-1; good/trim tie 1-1 -> re-trim
        (["wrong", "wrong", "good"], 0, "rejected", 0),
        (["good", "wrong", "unsure"], 0, "pending", 1),  # no side at 2 -> one more rater
        (["good", "wrong", "unsure", "good"], 0, "accepted", 0),
        (["good", "wrong", "unsure", "wrong"], 0, "rejected", 0),
        (["good", "wrong", "unsure", "unsure"], 0, "pending", 1),
        (["good", "wrong", "unsure", "unsure", "unsure"], 0, "rejected", 0),  # still no majority at max_votes
        (["good", "good", "good"], 2, "rejected", 0),  # on-screen text flagged by a majority
        (["good", "good", "good"], 1, "accepted", 0),  # flagged by a minority: decision stands
        (["wrong", "wrong", "wrong"], 3, "rejected", 0),
    ],
)
def test_decision_rules(labels: list[str], flags: int, status: str, needed: int) -> None:
    d = decide(labels, flags, raters=3, max_votes=5)
    assert (d.status, d.votes_needed) == (status, needed), d.reason
    assert d.counts["good"] == labels.count("good") and d.text_flags == flags


def test_decision_reasons_name_the_rule() -> None:
    assert (
        "tie between well trimmed and trim can improve" in decide(["good", "trim", "wrong"], 0, 3, 5).reason
    )
    assert "on-screen text" in decide(["good"] * 3, 3, 3, 5).reason
    assert "no majority" in decide(["good", "wrong", "unsure", "unsure", "unsure"], 0, 3, 5).reason
    with pytest.raises(ValueError, match="unknown vote label"):
        decide(["great"], 0, 3, 5)


def test_five_raters_need_three_on_a_side() -> None:
    assert decide(["good", "good", "wrong", "wrong", "unsure"], 0, raters=5, max_votes=7).status == "pending"
    assert (
        decide(["good", "good", "wrong", "wrong", "unsure", "trim"], 0, raters=5, max_votes=7).status
        == "accepted"
    )


# ----------------------------------------------------------------------------- agreement


def _items(matrix: list[list[int]], categories: list[str]) -> list[list[str]]:
    return [[c for c, n in zip(categories, row) for _ in range(n)] for row in matrix]


def test_fleiss_kappa_matches_the_textbook_example() -> None:
    # Fleiss (1971) as reproduced on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210.
    matrix = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    cats = ["1", "2", "3", "4", "5"]
    assert fleiss_kappa(_items(matrix, cats), cats) == pytest.approx(0.20993, abs=1e-4)


def test_fleiss_kappa_edges() -> None:
    cats = ("good", "trim", "wrong")
    assert fleiss_kappa([["good", "good", "good"], ["wrong", "wrong", "wrong"]], cats) == pytest.approx(1.0)
    assert fleiss_kappa([["good", "good"], ["good", "good"]], cats) is None  # one category: undefined
    assert fleiss_kappa([["good"], ["unsure", "trim"]], cats) is None  # no item with two usable votes
    # varying raters per item: the unsure votes are left out
    k = fleiss_kappa([["good", "good", "unsure"], ["good", "wrong", "wrong", "wrong"]], cats)
    assert k is not None and -1 <= k <= 1


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(97, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.9155, 0.9897)
    lo, hi = wilson_interval(5, 5)
    assert hi == 1.0 and 0.56 < lo < 0.57
    assert wilson_interval(0, 0) is None


# ----------------------------------------------------------------------------- settings, frames


def test_settings_are_checked_by_name() -> None:
    s = StudioSettings().updated({"raters_per_clip": "5", "max_votes": "7", "reverify_retrims": "on"})
    assert (s.raters_per_clip, s.majority, s.reverify_retrims) == (5, 3, True)
    with pytest.raises(SettingsError, match="raters_per_clip must be >= 3"):
        StudioSettings().updated({"raters_per_clip": 2})
    with pytest.raises(SettingsError, match="unknown setting 'raters'"):
        StudioSettings().updated({"raters": 3})
    with pytest.raises(SettingsError, match="cushion_seconds: 'two' is not a valid float"):
        StudioSettings().updated({"cushion_seconds": "two"})
    with pytest.raises(SettingsError, match="max_votes"):
        StudioSettings().updated({"max_votes": 2})


def test_snapping_keeps_the_marked_frames_for_the_trimmer() -> None:
    times = [i / 30 for i in range(90)]  # 30 fps: times that do not round to the microsecond
    s, e = snap_window(times, 3.0, 0.033333, 0.333333)  # the browser's rounded times of frames 1 and 10
    assert s >= times[1] and s - times[1] < 1e-6  # rounded up: frame 1 (not 0) is on screen at s
    assert e <= times[10] and times[10] - e < 1e-6  # rounded down: frame 10 stays out
    assert snap_window(times, 3.0, 2.95, 3.0)[1] == 3.0  # the last frame ends at the video's end
    assert snap_window(times, 3.0, 1.0004, 1.51) == (1.0, 1.5)
    with pytest.raises(ValueError, match="at least one frame"):
        snap_window(times, 3.0, 1.0, 0.99)
    assert [fmt_seconds(x) for x in (0.0, 1.5, 0.0333334, None)] == ["0", "1.5", "0.033333", ""]


# ----------------------------------------------------------------------------- drafting replies


def test_prompts_are_the_papers_figures() -> None:
    text = augment_prompt("Tennis", ["forehand", "backhand"])
    assert text.startswith("I have the following list of Tennis actions:\n\nforehand\nbackhand\n\nProvide me")
    assert "nor\nshould they overlap with any of the Tennis actions on the list I provided." in text
    assert AUGMENT_PROMPT.count("<DOMAIN>") == 3
    assert dedupe_prompt("Tennis", ["a", "b"]) == (
        "Are there any duplicates or near-duplicates in this list of Tennis actions?\n\na\nb"
    )
    d = define_prompt("Tennis", "Sports", ["forehand"])
    assert d.startswith(
        "Generate detailed definitions for the following Tennis actions from\nSports category."
    )
    assert "Here are the actions to define:\nforehand\nRemember that each definition must stand alone" in d
    assert "[ACTION NAME]: [Complete definition with all elements above]" in DEFINE_PROMPT


def test_reading_suggestions() -> None:
    reply = """Here are some suggestions:

1. **Drop Shot** - a soft shot that lands just over the net
2. Lob: a high, deep shot
- "Serve and Volley"
- forehand (already listed)
* Drop shot
Some closing prose, with a comma, that is not a list item.
- What about the tweener?
"""
    names, notes = parse_suggestions(reply, ["forehand", "Backhand"])
    assert names == ["Drop Shot", "Lob", "Serve and Volley"]
    assert any("'forehand' is already on the list" in n for n in notes)
    assert any("suggested twice" in n for n in notes)
    assert any("tweener" in n for n in notes)


def test_reading_duplicates_keeps_specific_varieties() -> None:
    names = ["dunk", "tomahawk dunk", "windmill dunk", "layup", "finger roll", "double axel", "Double Axle"]
    reply = """Yes:
- "dunk" is a general action; "tomahawk dunk" and "windmill dunk" are varieties of it.
- Layup and finger roll are not duplicates: they are distinct shots.
- "double axel" and "Double Axle" are near-duplicates (a spelling variant).
"""
    groups, notes = parse_duplicates(reply, names, original=names[:6])
    assert [g.group for g in groups] == [
        ["tomahawk dunk", "windmill dunk", "dunk"],
        ["double axel", "Double Axle"],
    ]
    assert groups[0].drop == ["dunk"]  # the general action goes, the varieties stay
    assert groups[1].drop == ["Double Axle"]  # no general one: drop the newly suggested name
    assert any("not duplicates" in n for n in notes)


def test_reading_definitions() -> None:
    reply = """**Forehand**: A shot hit on the dominant side,
which means the palm faces the ball.

Backhand: A shot hit on the non-dominant side.
Slcie: a shot with backspin.
- Lob - not in this format
"""
    defs, notes = parse_definitions(reply, ["Forehand", "Backhand", "Slice", "Lob"])
    assert defs == {
        "Forehand": "A shot hit on the dominant side, which means the palm faces the ball.",
        "Backhand": "A shot hit on the non-dominant side.",
    }
    assert any("'Slcie'" in n and "did you mean 'Slice'" in n for n in notes)

"""The three filters of paper §4.1, rule by rule."""

from __future__ import annotations

import pytest

from videonet_datasets.train_data.filters import FILTERS, Mention, apply_filters

TL, TM, SA = FILTERS


def test_paper_order_and_names() -> None:
    assert FILTERS == ("transcript_localized", "transcript_localized_title_match", "single_action")


def test_transcript_localized_uses_word_start_within_T() -> None:
    windows = [(10.0, 14.0)]
    # exactly at start - T and end + T: inside; a hair beyond: outside
    for t, inside in [(9.0, True), (15.0, True), (8.99, False), (15.01, False), (12.0, True)]:
        res = apply_filters(windows, [Mention("ollie", t)], [], T=1.0)
        assert (TL in res.windows[0].labels) is inside, t
    res = apply_filters(windows, [Mention("ollie", 8.5)], [], T=2.0)
    assert res.windows[0].labels[TL] == "ollie"
    res = apply_filters(windows, [Mention("ollie", 9.5)], [], T=0.0)
    assert TL not in res.windows[0].labels


def test_two_different_spoken_actions_are_dropped_and_counted() -> None:
    res = apply_filters([(0.0, 5.0)], [Mention("ollie", 1.0), Mention("kickflip", 3.0)], ["ollie"], T=1.0)
    assert res.windows[0].labels.get(TL) is None and res.windows[0].labels.get(TM) is None
    assert res.drops[f"{TL}:ambiguous_speech"] == 1
    assert res.windows[0].spoken == ["ollie", "kickflip"]
    # the same action said twice is not ambiguous
    res = apply_filters([(0.0, 5.0)], [Mention("ollie", 1.0), Mention("ollie", 3.0)], [], T=1.0)
    assert res.windows[0].labels[TL] == "ollie"


def test_title_match_requires_the_spoken_action_in_the_title() -> None:
    windows = [(0.0, 4.0), (10.0, 14.0)]
    spoken = [Mention("ollie", 1.0), Mention("kickflip", 11.0)]
    res = apply_filters(windows, spoken, ["kickflip", "heelflip"], T=1.0)
    assert [w.labels.get(TL) for w in res.windows] == ["ollie", "kickflip"]
    assert [w.labels.get(TM) for w in res.windows] == [None, "kickflip"]
    assert res.drops[f"{TM}:spoken_action_not_in_title"] == 1
    # a title naming two actions: single_action labels nothing
    assert all(SA not in w.labels for w in res.windows)
    assert res.drops[f"{SA}:title_names_several_actions"] == 1


@pytest.mark.parametrize(
    "windows,title,expected,reason",
    [
        ([(2.0, 6.0)], ["ollie"], "ollie", None),
        ([(2.0, 6.0)], [], None, "no_action_in_title"),
        ([(2.0, 6.0)], ["ollie", "kickflip"], None, "title_names_several_actions"),
        ([(2.0, 6.0), (8.0, 9.0)], ["ollie"], None, "several_windows"),
        ([], ["ollie"], None, "no_window"),
    ],
)
def test_single_action(windows, title, expected, reason) -> None:
    res = apply_filters(windows, [], title, T=1.0)
    got = res.windows[0].labels.get(SA) if res.windows else None
    assert got == expected
    if reason:
        assert res.drops[f"{SA}:{reason}"] == 1


def test_single_action_ignores_speech() -> None:
    """The title decides, even when the narrator says something else (weak labels)."""
    res = apply_filters([(0.0, 3.0)], [Mention("kickflip", 1.0)], ["ollie"], T=1.0)
    w = res.windows[0]
    assert w.labels == {TL: "kickflip", SA: "ollie"}


def test_every_window_is_accounted_for() -> None:
    windows = [(0, 2), (5, 7), (10, 12), (20, 22)]
    spoken = [Mention("a", 1), Mention("b", 6), Mention("c", 6.5), Mention("d", 11)]
    res = apply_filters(windows, spoken, ["d"], T=0.5)
    labeled = len(res.labeled(TL))
    dropped = sum(v for k, v in res.drops.items() if k.startswith(f"{TL}:"))
    assert labeled + dropped == len(windows)
    assert (
        labeled == 2 and res.drops[f"{TL}:ambiguous_speech"] == 1 and res.drops[f"{TL}:no_action_spoken"] == 1
    )
    with pytest.raises(ValueError):
        apply_filters(windows, spoken, [], T=-1)

"""The paper's three labeling filters (VideoNet paper §4.1, App. H), exactly.

Inputs for one video: the localizer's windows (it localizes, it does not label), the
action names spoken in its transcript with their word *start* times, and the distinct
action names in its title.

1. ``transcript_localized`` - an action name spoken within ``T`` seconds of a window
   labels it.  "Within T" is measured on the first word's start time against
   ``[start - T, end + T]``: Whisper's word starts are accurate to ~0.1 s while its ends
   run late by up to ~1.4 s (measured on this project's espeak-ng narration), so ends would spill into neighbours.
   A window near two *different* spoken actions has no single label: it is dropped and
   counted (``ambiguous_speech``), never guessed.
2. ``transcript_localized_title_match`` - (1), and the label is also in the title.
3. ``single_action`` - the title names an action and the localizer found exactly one
   window in the whole video: that window gets the title's action.  A title naming two
   different actions is ambiguous and dropped (counted), like (1)'s rule.

A fourth filter runs where the windows come with annotated segments (Action100M's
release, ``--source action100m``; its caption-tree labeler, ``--localizer action100m``):

4. ``segment_action_match`` - a window is labeled by the action texts of the annotated
   segments that describe it, a segment describing a window when both its ends are within
   ``T`` of the window's (the window's own tree node, and a parent or child that differs
   from it by less than ``T`` at each end): the texts must name exactly one action of the
   domain (the same matcher as titles and speech).  A window whose texts name none is
   dropped (``no_action_named``; ``not_an_action`` when every text says "N/A"), one whose
   texts name two different actions too (``several_actions_named``).

Every window or video that does not get a label is counted under a reason, so the
build summary accounts for all of them.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "DEFAULT_T",
    "ALL_FILTERS",
    "FILTERS",
    "SEGMENT_ACTION_MATCH",
    "LabeledWindow",
    "Mention",
    "VideoLabels",
    "apply_filters",
    "segment_action_labels",
]

TRANSCRIPT_LOCALIZED = "transcript_localized"
TITLE_MATCH = "transcript_localized_title_match"
SINGLE_ACTION = "single_action"
#: The three filters, in the paper's order (decreasing yield).
FILTERS: tuple[str, ...] = (TRANSCRIPT_LOCALIZED, TITLE_MATCH, SINGLE_ACTION)
SEGMENT_ACTION_MATCH = "segment_action_match"
#: The paper's three and the annotated-segment filter (active where windows carry annotations).
ALL_FILTERS: tuple[str, ...] = (*FILTERS, SEGMENT_ACTION_MATCH)
DEFAULT_T = 1.0


class Mention(NamedTuple):
    """An action name spoken at ``start`` seconds (start of its first word)."""

    action: str
    start: float


@dataclass(slots=True)
class LabeledWindow:
    """A localized window and its label under each filter that labeled it."""

    start: float
    end: float
    labels: dict[str, str] = field(default_factory=dict)
    spoken: list[str] = field(default_factory=list)  # distinct actions spoken near it


@dataclass
class VideoLabels:
    """Labeled windows of one video and why the others were not labeled.

    ``drops`` keys are ``"<filter>:<reason>"``; filters 1-2 count windows, filter 3
    counts videos (it labels at most one window per video).
    """

    windows: list[LabeledWindow]
    drops: Counter

    def labeled(self, filter_name: str) -> list[LabeledWindow]:
        return [w for w in self.windows if filter_name in w.labels]


def apply_filters(
    windows: Sequence[tuple[float, float]],
    spoken: Sequence[Mention],
    title_actions: Sequence[str],
    *,
    T: float = DEFAULT_T,
) -> VideoLabels:
    """Label one video's windows with the three filters.

    ``windows`` are (start, end) in seconds, ``spoken`` the transcript's action mentions
    (any order), ``title_actions`` the distinct action names in the title.
    """
    if T < 0:
        raise ValueError(f"T must be >= 0 seconds, got {T}")
    mentions = sorted(spoken, key=lambda m: m.start)
    starts = [m.start for m in mentions]
    title = list(dict.fromkeys(title_actions))
    title_set = set(title)
    drops: Counter = Counter()
    out: list[LabeledWindow] = []
    for s, e in windows:
        lo = bisect.bisect_left(starts, s - T)
        hi = bisect.bisect_right(starts, e + T)
        near = list(dict.fromkeys(m.action for m in mentions[lo:hi]))
        w = LabeledWindow(start=float(s), end=float(e), spoken=near)
        if not near:
            drops[f"{TRANSCRIPT_LOCALIZED}:no_action_spoken"] += 1
            drops[f"{TITLE_MATCH}:no_action_spoken"] += 1
        elif len(near) > 1:
            drops[f"{TRANSCRIPT_LOCALIZED}:ambiguous_speech"] += 1
            drops[f"{TITLE_MATCH}:ambiguous_speech"] += 1
        else:
            w.labels[TRANSCRIPT_LOCALIZED] = near[0]
            if near[0] in title_set:
                w.labels[TITLE_MATCH] = near[0]
            else:
                drops[f"{TITLE_MATCH}:spoken_action_not_in_title"] += 1
        out.append(w)
    if not title:
        drops[f"{SINGLE_ACTION}:no_action_in_title"] += 1
    elif len(title) > 1:
        drops[f"{SINGLE_ACTION}:title_names_several_actions"] += 1
    elif not out:
        drops[f"{SINGLE_ACTION}:no_window"] += 1
    elif len(out) > 1:
        drops[f"{SINGLE_ACTION}:several_windows"] += 1
    else:
        out[0].labels[SINGLE_ACTION] = title[0]
    return VideoLabels(windows=out, drops=drops)


def segment_action_labels(
    windows: Sequence[tuple[float, float]],
    segments: Sequence[dict],
    *,
    T: float = DEFAULT_T,
) -> tuple[list[str | None], Counter]:
    """``segment_action_match`` for one video: a label (or None) per window, and the drops.

    ``segments`` are annotated segments as ``{"start", "end", "actions", "na"}`` (``actions``:
    the distinct action names of the domain their text names)."""
    if T < 0:
        raise ValueError(f"T must be >= 0 seconds, got {T}")
    segs = sorted(segments, key=lambda s: s["start"])
    starts = [s["start"] for s in segs]
    labels: list[str | None] = []
    drops: Counter = Counter()
    for ws, we in windows:
        lo, hi = bisect.bisect_left(starts, ws - T), bisect.bisect_right(starts, ws + T)
        near = [s for s in segs[lo:hi] if abs(s["end"] - we) <= T]
        named = list(dict.fromkeys(a for s in near for a in s["actions"]))
        label = None
        if not near:
            drops[f"{SEGMENT_ACTION_MATCH}:no_annotated_segment"] += 1
        elif len(named) == 1:
            label = named[0]
        elif named:
            drops[f"{SEGMENT_ACTION_MATCH}:several_actions_named"] += 1
        elif all(s["na"] for s in near):
            drops[f"{SEGMENT_ACTION_MATCH}:not_an_action"] += 1
        else:
            drops[f"{SEGMENT_ACTION_MATCH}:no_action_named"] += 1
        labels.append(label)
    return labels, drops

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
    "FILTERS",
    "LabeledWindow",
    "Mention",
    "VideoLabels",
    "apply_filters",
]

TRANSCRIPT_LOCALIZED = "transcript_localized"
TITLE_MATCH = "transcript_localized_title_match"
SINGLE_ACTION = "single_action"
#: The three filters, in the paper's order (decreasing yield).
FILTERS: tuple[str, ...] = (TRANSCRIPT_LOCALIZED, TITLE_MATCH, SINGLE_ACTION)
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

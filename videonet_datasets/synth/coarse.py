"""The ``coarse`` taxonomy: VideoNet-mini with actions a tiny model can learn on a CPU.

The default taxonomy (:mod:`.world`) separates the actions of a domain by one *fine*
attribute at a time - a turn count, a loop's handedness, the order of two loops.  That
is the paper's difficulty, and a 0.3M-parameter random Molmo2 stays at chance on it for
thousands of steps (``docs/demo_experiments.md``), while it learns the *direction* an
actor travels in from 8 frames.  ``make demo`` has to show the paper's effect in minutes,
so this taxonomy keeps everything else (categories, domains, actors, names in the paper's
style, hard negatives by the same rule, a middle frame that carries no label) and makes
the difference between two actions of a domain a coarse one: **the direction of travel**,
one of six directions 60 degrees apart.

Each action has two motion attributes - ``vertical`` (up / down) and ``horizontal``
(left / straight / right) - so its hard negatives are its nearest directions (straight up:
up-left, up-right, and straight down).  Inside a domain every action shares one *style*
(the figure skater springs and rotates once mid-glide, the ballet dancer bobs three
times, the juggling ball bounces twice...): what a domain looks like never tells its
actions apart, only where the actor goes.  Motions are centred on their temporal
midpoint by the planner, so the middle frame shows the actor at the same (jittered) place
whatever the direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from videonet_datasets.synth.taxonomy import ActionDef, DomainDef, Segment, a_or_an, check_taxonomy

__all__ = ["COARSE_DOMAINS", "DIRECTIONS"]

_S = math.sqrt(3.0) / 2.0
#: (vertical, horizontal) -> unit vector on screen (y down): six directions 60 degrees apart.
DIRECTIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("up", "straight"): (0.0, -1.0),
    ("up", "right"): (_S, -0.5),
    ("down", "right"): (_S, 0.5),
    ("down", "straight"): (0.0, 1.0),
    ("down", "left"): (-_S, 0.5),
    ("up", "left"): (-_S, -0.5),
}
_WORDS = {
    ("up", "straight"): "from the bottom of the frame straight up toward the top",
    ("up", "right"): "from the lower left of the frame toward the upper right",
    ("down", "right"): "from the upper left of the frame toward the lower right",
    ("down", "straight"): "from the top of the frame straight down toward the bottom",
    ("down", "left"): "from the upper right of the frame toward the lower left",
    ("up", "left"): "from the lower right of the frame toward the upper left",
}
_PHRASES = {
    "vertical": {"up": "travels up the frame", "down": "travels down the frame"},
    "horizontal": {
        "left": "heads to the left",
        "straight": "goes straight, neither left nor right",
        "right": "heads to the right",
    },
}


def _v(dx: float, dy: float, k: float) -> list[float]:
    return [round(dx * k, 4), round(dy * k, 4)]


# Per domain, how its actor travels (the same for every action of the domain): a motion
# program for a unit direction, and the sentence that describes the style.
Style = Callable[[float, float], tuple[Segment, ...]]


def _skate(dx: float, dy: float) -> tuple[Segment, ...]:
    return (
        {"move": _v(dx, dy, 0.42), "w": 0.33},
        {"move": _v(dx, dy, 0.30), "hops": 1, "hop": 0.2, "spin": -1, "w": 0.34},
        {"move": _v(dx, dy, 0.42), "w": 0.33},
    )


def _ballet(dx: float, dy: float) -> tuple[Segment, ...]:
    return ({"move": _v(dx, dy, 1.14), "hops": 3, "hop": 0.12},)


def _yoyo(dx: float, dy: float) -> tuple[Segment, ...]:
    return ({"move": _v(dx, dy, 1.14), "spin": 2},)


def _juggle(dx: float, dy: float) -> tuple[Segment, ...]:
    return ({"move": _v(dx, dy, 1.14), "hops": 2, "hop": 0.16},)


def _knot(dx: float, dy: float) -> tuple[Segment, ...]:
    return ({"move": _v(dx, dy, 0.57), "w": 0.4}, {"w": 0.2}, {"move": _v(dx, dy, 0.57), "w": 0.4})


def _domain(
    category: str,
    name: str,
    slug: str,
    actor: str,
    clip_median: float,
    kind: str,
    style: Style,
    how: str,
    actions: tuple[tuple[str, str, str, str], ...],  # (name, subdomain, vertical, horizontal)
    channels: tuple[str, ...],
    filler: tuple[str, ...],
) -> DomainDef:
    defs = []
    for action, subdomain, vertical, horizontal in actions:
        key = (vertical, horizontal)
        what = kind.format(sub=subdomain)
        defs.append(
            ActionDef(
                name=action,
                motion=style(*DIRECTIONS[key]),
                attrs={"vertical": vertical, "horizontal": horizontal},
                subdomain=subdomain,
                description=(
                    f"{a_or_an(action).capitalize()} {action} is {a_or_an(what)} {what} in which {how} "
                    f"{_WORDS[key]}. The direction of travel identifies the {subdomain}."
                ),
            )
        )
    return DomainDef(
        category=category,
        name=name,
        slug=slug,
        actor=actor,
        clip_median=clip_median,
        attr_phrases=_PHRASES,
        actions=tuple(defs),
        channels=channels,
        filler=filler,
    )


COARSE_DOMAINS: tuple[DomainDef, ...] = (
    _domain(
        "Sports", "Figure Skating", "figure_skating", "skater", 3.0, "figure skating {sub}", _skate,
        "the skater (the large round figure with a pointer arm) springs up and rotates once in the air "
        "halfway through a straight glide that runs",
        (("toe loop", "jump", "up", "right"), ("salchow", "jump", "down", "left"),
         ("flip", "jump", "up", "straight"), ("lutz", "jump", "down", "straight"),
         ("axel", "jump", "up", "left"), ("loop jump", "jump", "down", "right")),
        ("IceTime Daily", "Edge and Toe Pick", "Rink Rat Skating"),
        ("The ice is really fast today.", "My coach says to keep my arms in tight.",
         "Let me do one more lap to warm up."),
    ),
    _domain(
        "Dance", "Ballet", "ballet", "dancer", 2.5, "ballet {sub}", _ballet,
        "the dancer (the tall oval figure) travels with three small springs in a straight line",
        (("glissade", "step", "down", "right"), ("pas de bourree", "step", "up", "left"),
         ("chasse", "step", "up", "straight"), ("sissonne", "step", "down", "left"),
         ("grand jete", "step", "up", "right"), ("pas de chat", "step", "down", "straight")),
        ("Barre None", "Pointe of View", "Studio B Ballet"),
        ("Remember to keep your shoulders down.", "Let's take it from the top.", "Lovely, now breathe."),
    ),
    _domain(
        "Hobbies", "Yo-yo", "yo_yo", "yoyo", 4.0, "yo-yo {sub}", _yoyo,
        "the spinning yo-yo (its marker turns twice, clockwise) is thrown in a straight line",
        (("forward pass", "trick", "up", "left"), ("breakaway", "trick", "down", "right"),
         ("gravity pull", "trick", "down", "straight"), ("shoot the moon", "trick", "up", "straight"),
         ("walk the dog", "trick", "down", "left"), ("rock the baby", "trick", "up", "right")),
        ("String Theory Yo", "Loop Lab", "Throw Hard Yo-yo"),
        ("I just changed my string.", "This one has a really smooth bearing.", "Let me wind it back up."),
    ),
    _domain(
        "Hobbies", "Juggling", "juggling", "ball", 3.5, "juggling {sub}", _juggle,
        "the tracked ball bounces twice as it travels in a straight line",
        (("cascade", "pattern", "up", "straight"), ("reverse cascade", "pattern", "down", "right"),
         ("shower", "pattern", "up", "left"), ("columns", "pattern", "down", "straight"),
         ("tennis", "pattern", "up", "right"), ("mills mess", "pattern", "down", "left")),
        ("Three Ball Club", "Siteswap Central", "Toss Up Juggling"),
        ("Keep your eyes on the top of the pattern.", "These are beanbags, so they don't roll away.",
         "Drops are part of learning."),
    ),
    _domain(
        "Crafts & Art", "Knots", "knots", "rope", 4.0, "{sub}", _knot,
        "the working end of the rope (the square tag with a pointer) is pulled tight in two tugs along a "
        "straight line",
        (("overhand knot", "knot", "down", "left"), ("half hitch", "hitch", "up", "right"),
         ("slip knot", "knot", "down", "straight"), ("bowline", "knot", "up", "left"),
         ("clove hitch", "hitch", "down", "right"), ("figure-eight knot", "knot", "up", "straight")),
        ("Knot Nerd", "Rope Works", "Bight and Loop"),
        ("I'm using a thick rope so you can see it clearly.", "Dress the knot before you tighten it.",
         "Sailors have used this for centuries."),
    ),
)  # fmt: skip

check_taxonomy(COARSE_DOMAINS)

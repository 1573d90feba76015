"""The ``default`` taxonomy of VideoNet-mini: categories, domains, actions and their motions.

Every action is a motion program (see :mod:`.motion`) plus a few *motion attributes*
(approach direction, number of turns, order of two loops...).  The attributes do three
jobs: they generate the part of each definition that says how the action differs from
its neighbours, they pick the hard negatives (the actions that differ in the fewest
attributes - "same turns, other direction; same direction, other count"), and they let
the tests check that no two actions of a domain share a motion.

Appearance is never part of an action: the actor's look is drawn per clip from the
domain's style (:mod:`.render`), identically for every action of the domain.

Names follow real VideoNet domains (paper Table 8); the motions are this world's stand-ins
for the real techniques (e.g. the approach direction plays the role of a figure-skating
jump's take-off edge), chosen so that a tiny model at ~56-112 px and 8-16 frames can
learn them: one large actor, paths that cross a large part of the frame, and a handful
of primitives (glide, loop, figure-eight, hop, spin) shared by all domains.
"""

from __future__ import annotations

from videonet_datasets.synth.taxonomy import ActionDef, DomainDef, Segment, check_taxonomy

__all__ = ["DOMAINS"]


def _d(dx: float, dy: float, k: float) -> list[float]:
    return [round(dx * k, 4), round(dy * k, 4)]


# ------------------------------------------------------------------ Figure Skating

_APPROACH = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
_APPROACH_WORDS = {
    "right": "from the left side of the frame toward the right",
    "left": "from the right side of the frame toward the left",
    "up": "from the bottom of the frame toward the top",
    "down": "from the top of the frame toward the bottom",
}


def _jump(approach: str, turns: int) -> tuple[Segment, ...]:
    dx, dy = _APPROACH[approach]
    return (
        {"move": _d(dx, dy, 0.42), "w": 0.33},
        {"move": _d(dx, dy, 0.30), "hops": 1, "hop": 0.25, "spin": -turns, "w": 0.34},
        {"move": _d(dx, dy, 0.42), "w": 0.33},
    )


def _skating_action(jump: str, approach: str, turns: int) -> ActionDef:
    count = {1: "single", 2: "double"}[turns]
    times = {1: "exactly once", 2: "exactly twice"}[turns]
    circles = {1: "one full circle", 2: "two full circles"}[turns]
    return ActionDef(
        name=f"{count} {jump}",
        motion=_jump(approach, turns),
        attrs={"approach": approach, "turns": str(turns)},
        subdomain="jump",
        description=(
            f"A {count} {jump} is a figure skating jump in which the skater (the large round figure "
            f"with a pointer arm) glides in a straight line {_APPROACH_WORDS[approach]}, springs up, "
            f"rotates {times} counter-clockwise in the air - the pointer sweeps {circles} - then lands "
            "and glides on in the same direction. The direction of the approach identifies the jump; "
            "the number of rotations identifies single versus double."
        ),
    )


FIGURE_SKATING = DomainDef(
    category="Sports",
    name="Figure Skating",
    slug="figure_skating",
    actor="skater",
    clip_median=3.0,
    attr_phrases={
        "approach": {k: f"approaches {v}" for k, v in _APPROACH_WORDS.items()},
        "turns": {"1": "rotates only once in the air", "2": "rotates twice in the air"},
    },
    actions=tuple(
        _skating_action(jump, approach, turns)
        for jump, approach in (("toe loop", "right"), ("salchow", "left"), ("flip", "up"), ("lutz", "down"))
        for turns in (1, 2)
    ),
    channels=("IceTime Daily", "Edge and Toe Pick", "Rink Rat Skating"),
    filler=(
        "The ice is really fast today.",
        "My coach says to keep my arms in tight.",
        "Let me do one more lap to warm up.",
    ),
)

# -------------------------------------------------------------------------- Ballet

BALLET = DomainDef(
    category="Dance",
    name="Ballet",
    slug="ballet",
    actor="dancer",
    clip_median=2.5,
    attr_phrases={
        "travel": {"none": "stays in place", "right": "travels from left to right"},
        "turn": {"none": "does not turn", "cw": "turns clockwise", "ccw": "turns counter-clockwise"},
        "jumps": {"0": "never leaves the floor", "1": "makes one big jump", "3": "makes three small springs"},
    },
    actions=(
        ActionDef(
            "glissade",
            ({"move": [1.1, 0.0]},),
            {"travel": "right", "turn": "none", "jumps": "0"},
            "A glissade is a smooth gliding step: the dancer (the tall oval figure) slides in one unbroken "
            "movement from the left of the frame to the right without leaving the floor and without "
            "turning - the pointer arm keeps its direction throughout.",
            subdomain="step",
        ),
        ActionDef(
            "pas de bourree",
            ({"move": [1.1, 0.0], "hops": 3, "hop": 0.14},),
            {"travel": "right", "turn": "none", "jumps": "3"},
            "A pas de bourree is a travelling step made of three quick, small springs: the dancer moves "
            "from the left of the frame to the right while bobbing up three times, each spring only a "
            "little higher than the floor, without turning.",
            subdomain="step",
        ),
        ActionDef(
            "grand jete",
            (
                {"move": [0.25, 0.0], "w": 0.25},
                {"move": [0.6, 0.0], "hops": 1, "hop": 0.42, "w": 0.5},
                {"move": [0.25, 0.0], "w": 0.25},
            ),
            {"travel": "right", "turn": "none", "jumps": "1"},
            "A grand jete is a big travelling leap: the dancer runs in from the left, flies in one high "
            "arc across the middle of the frame and lands further to the right, without turning.",
            subdomain="jump",
        ),
        ActionDef(
            "assemble",
            ({"w": 0.25}, {"hops": 1, "hop": 0.5, "w": 0.5}, {"w": 0.25}),
            {"travel": "none", "turn": "none", "jumps": "1"},
            "An assemble is a jump in place: the dancer stands still, springs straight up once, high, "
            "and lands back on the same spot without travelling or turning.",
            subdomain="jump",
        ),
        ActionDef(
            "pirouette en dehors",
            ({"move": [0.0, -0.12], "w": 0.2}, {"spin": 2, "w": 0.6}, {"move": [0.0, 0.12], "w": 0.2}),
            {"travel": "none", "turn": "cw", "jumps": "0"},
            "A pirouette en dehors is a turn on the spot: the dancer rises slightly, spins twice "
            "clockwise as seen by the camera (the pointer arm sweeps two full circles, clockwise) and "
            "comes down where it started.",
            subdomain="turn",
        ),
        ActionDef(
            "pirouette en dedans",
            ({"move": [0.0, -0.12], "w": 0.2}, {"spin": -2, "w": 0.6}, {"move": [0.0, 0.12], "w": 0.2}),
            {"travel": "none", "turn": "ccw", "jumps": "0"},
            "A pirouette en dedans is a turn on the spot: the dancer rises slightly, spins twice "
            "counter-clockwise as seen by the camera (the pointer arm sweeps two full circles, "
            "counter-clockwise) and comes down where it started.",
            subdomain="turn",
        ),
        ActionDef(
            "chaine turns",
            ({"move": [1.1, 0.0], "spin": 2},),
            {"travel": "right", "turn": "cw", "jumps": "0"},
            "Chaine turns are a chain of quick turns that travel: the dancer spins clockwise twice while "
            "moving steadily from the left of the frame to the right, never leaving the floor.",
            subdomain="turn",
        ),
        ActionDef(
            "changement",
            ({"w": 0.15}, {"hops": 3, "hop": 0.3, "w": 0.7}, {"w": 0.15}),
            {"travel": "none", "turn": "none", "jumps": "3"},
            "A changement (here a series of three) is a jump repeated in place: the dancer springs "
            "straight up three times in a row, medium height, landing each time on the same spot.",
            subdomain="jump",
        ),
    ),
    channels=("Barre None", "Pointe of View", "Studio B Ballet"),
    filler=("Remember to keep your shoulders down.", "Let's take it from the top.", "Lovely, now breathe."),
)

# --------------------------------------------------------------------------- Yo-yo

YOYO = DomainDef(
    category="Hobbies",
    name="Yo-yo",
    slug="yo_yo",
    actor="yoyo",
    clip_median=4.0,
    attr_phrases={
        "path": {"drop": "drops straight down and climbs back", "loop": "flies around in circles"},
        "bottom": {
            "none": "comes straight back up",
            "spin": "sits spinning at the bottom",
            "right": "rolls to the right at the bottom",
            "left": "rolls to the left at the bottom",
            "-": "never pauses at the bottom",
        },
        "dir": {"cw": "circles clockwise", "ccw": "circles counter-clockwise", "-": "does not circle"},
        "count": {"1": "makes one circle", "2": "makes two circles", "-": "makes no circle"},
    },
    actions=(
        ActionDef(
            "gravity pull",
            ({"move": [0.0, 0.6]}, {"move": [0.0, -0.6]}),
            {"path": "drop", "bottom": "none", "dir": "-", "count": "-"},
            "A gravity pull is the basic throw: the yo-yo drops straight down from the hand on its string "
            "and, as soon as it reaches the bottom, climbs straight back up to the hand.",
            subdomain="trick",
        ),
        ActionDef(
            "sleeper",
            ({"move": [0.0, 0.6], "w": 0.3}, {"spin": 3, "w": 0.4}, {"move": [0.0, -0.6], "w": 0.3}),
            {"path": "drop", "bottom": "spin", "dir": "-", "count": "-"},
            "A sleeper is a throw in which the yo-yo drops straight down, then stays at the bottom of the "
            "string spinning in place (its marker turns clockwise) before climbing back up to the hand.",
            subdomain="trick",
        ),
        ActionDef(
            "walk the dog",
            (
                {"move": [0.0, 0.5], "w": 0.25},
                {"move": [0.6, 0.0], "w": 0.5},
                {"move": [0.0, -0.5], "w": 0.25},
            ),
            {"path": "drop", "bottom": "right", "dir": "-", "count": "-"},
            "Walk the dog: the yo-yo drops straight down, rolls along the floor to the right, then "
            "climbs back up.",
            subdomain="trick",
        ),
        ActionDef(
            "creeper",
            (
                {"move": [0.0, 0.5], "w": 0.25},
                {"move": [-0.6, 0.0], "w": 0.5},
                {"move": [0.0, -0.5], "w": 0.25},
            ),
            {"path": "drop", "bottom": "left", "dir": "-", "count": "-"},
            "A creeper: the yo-yo drops straight down, creeps along the floor to the left, then climbs "
            "back up.",
            subdomain="trick",
        ),
        ActionDef(
            "around the world",
            ({"loop": {"turns": 1, "dir": 1, "r": 0.3, "at": 90}},),
            {"path": "loop", "bottom": "-", "dir": "cw", "count": "1"},
            "Around the world: the yo-yo is thrown out and swung in one big clockwise circle at the full "
            "length of its string, returning to where it started.",
            subdomain="trick",
            phase=True,
        ),
        ActionDef(
            "loop the loop",
            ({"loop": {"turns": 2, "dir": 1, "r": 0.27, "at": 90}},),
            {"path": "loop", "bottom": "-", "dir": "cw", "count": "2"},
            "Loop the loop: the yo-yo flies out and around in two consecutive clockwise circles without "
            "stopping, returning to its start after the second one.",
            subdomain="trick",
            phase=True,
        ),
        ActionDef(
            "inside loop",
            ({"loop": {"turns": 2, "dir": -1, "r": 0.27, "at": 90}},),
            {"path": "loop", "bottom": "-", "dir": "ccw", "count": "2"},
            "An inside loop: the yo-yo flies around in two consecutive counter-clockwise circles without "
            "stopping, returning to its start after the second one.",
            subdomain="trick",
            phase=True,
        ),
    ),
    channels=("String Theory Yo", "Loop Lab", "Throw Hard Yo-yo"),
    filler=("I just changed my string.", "This one has a really smooth bearing.", "Let me wind it back up."),
)

# ------------------------------------------------------------------------ Juggling

JUGGLING = DomainDef(
    category="Hobbies",
    name="Juggling",
    slug="juggling",
    actor="ball",
    clip_median=3.5,
    attr_phrases={
        "shape": {
            "eight": "traces a figure eight",
            "circle": "goes round in circles",
            "line": "goes back and forth on a straight line",
            "square": "traces a square",
        },
        "way": {
            "forward": "starts its figure eight heading right",
            "reverse": "starts its figure eight heading left",
            "cw": "moves clockwise",
            "ccw": "moves counter-clockwise",
            "vertical": "moves up and down",
            "horizontal": "moves side to side",
        },
    },
    actions=(
        ActionDef(
            "cascade",
            ({"eight": {"dir": 1, "w": 0.55, "h": 0.3}},),
            {"shape": "eight", "way": "forward"},
            "The cascade is the basic juggling pattern: the tracked ball traces a sideways figure eight, "
            "leaving the centre toward the lower right, crossing back through the middle and looping "
            "around the left before returning to the centre.",
            subdomain="pattern",
        ),
        ActionDef(
            "reverse cascade",
            ({"eight": {"dir": -1, "w": 0.55, "h": 0.3}},),
            {"shape": "eight", "way": "reverse"},
            "The reverse cascade traces the cascade's figure eight backwards: the tracked ball leaves "
            "the centre toward the upper left, crosses back through the middle and loops around the "
            "right before returning to the centre.",
            subdomain="pattern",
        ),
        ActionDef(
            "shower",
            ({"loop": {"turns": 2, "dir": 1, "r": 0.28, "at": 0}},),
            {"shape": "circle", "way": "cw"},
            "The shower is a circular pattern: the tracked ball goes round a circle twice, clockwise.",
            subdomain="pattern",
            phase=True,
        ),
        ActionDef(
            "reverse shower",
            ({"loop": {"turns": 2, "dir": -1, "r": 0.28, "at": 0}},),
            {"shape": "circle", "way": "ccw"},
            "The reverse shower is the shower's circle the other way round: the tracked ball goes round "
            "a circle twice, counter-clockwise.",
            subdomain="pattern",
            phase=True,
        ),
        ActionDef(
            "columns",
            ({"move": [0.0, -0.55]}, {"move": [0.0, 0.55]}, {"move": [0.0, -0.55]}, {"move": [0.0, 0.55]}),
            {"shape": "line", "way": "vertical"},
            "Columns: the tracked ball is thrown straight up and falls straight down, twice, staying in "
            "its own vertical column.",
            subdomain="pattern",
        ),
        ActionDef(
            "tennis",
            ({"move": [0.55, 0.0]}, {"move": [-0.55, 0.0]}, {"move": [0.55, 0.0]}, {"move": [-0.55, 0.0]}),
            {"shape": "line", "way": "horizontal"},
            "Tennis: the tracked ball is passed from one side to the other and back, twice, like a ball "
            "going over a net.",
            subdomain="pattern",
        ),
        ActionDef(
            "box",
            ({"move": [0.42, 0.0]}, {"move": [0.0, 0.42]}, {"move": [-0.42, 0.0]}, {"move": [0.0, -0.42]}),
            {"shape": "square", "way": "cw"},
            "The box: the tracked ball moves along the four sides of a square - right, down, left, up - "
            "pausing briefly at each corner, clockwise.",
            subdomain="pattern",
        ),
    ),
    channels=("Three Ball Club", "Siteswap Central", "Toss Up Juggling"),
    filler=(
        "Keep your eyes on the top of the pattern.",
        "These are beanbags, so they don't roll away.",
        "Drops are part of learning.",
    ),
)

# --------------------------------------------------------------------------- Knots


def _loop(direction: int, turns: int = 1, r: float = 0.2, w: float = 1.0) -> Segment:
    return {"loop": {"turns": turns, "dir": direction, "r": r, "at": -90}, "w": w}


KNOTS = DomainDef(
    category="Crafts & Art",
    name="Knots",
    slug="knots",
    actor="rope",
    clip_median=9.0,
    attr_phrases={
        "first": {
            "cw": "makes its first loop clockwise",
            "ccw": "makes its first loop counter-clockwise",
            "eight": "starts with a figure eight instead of a loop",
        },
        "wraps": {"1": "wraps only once", "2": "wraps twice around the same loop"},
        "second": {
            "none": "makes only one loop",
            "cw": "adds a second, clockwise loop",
            "ccw": "adds a second loop in the opposite, counter-clockwise direction",
        },
        "pull": {"right": "is pulled tight to the right", "left": "is pulled tight to the left"},
    },
    actions=(
        ActionDef(
            "overhand knot",
            (_loop(1, w=0.6), {"move": [0.6, 0.0], "w": 0.4}),
            {"first": "cw", "wraps": "1", "second": "none", "pull": "right"},
            "An overhand knot: the working end of the rope (the square tag with a pointer) makes a single "
            "clockwise loop and is then pulled tight to the right.",
            subdomain="knot",
            phase=True,
        ),
        ActionDef(
            "half hitch",
            (_loop(-1, w=0.6), {"move": [0.6, 0.0], "w": 0.4}),
            {"first": "ccw", "wraps": "1", "second": "none", "pull": "right"},
            "A half hitch: the working end makes a single counter-clockwise loop around the standing part "
            "and is then pulled tight to the right.",
            subdomain="hitch",
            phase=True,
        ),
        ActionDef(
            "slip knot",
            (_loop(1, w=0.6), {"move": [-0.6, 0.0], "w": 0.4}),
            {"first": "cw", "wraps": "1", "second": "none", "pull": "left"},
            "A slip knot: the working end makes a single clockwise loop and is then drawn back to the "
            "left, so the loop can slip.",
            subdomain="knot",
            phase=True,
        ),
        ActionDef(
            "surgeon's knot",
            (_loop(1, turns=2, w=0.65), {"move": [0.6, 0.0], "w": 0.35}),
            {"first": "cw", "wraps": "2", "second": "none", "pull": "right"},
            "A surgeon's knot: the working end goes round the same clockwise loop twice (a double wrap) "
            "and is then pulled tight to the right.",
            subdomain="knot",
            phase=True,
        ),
        ActionDef(
            "square knot",
            (_loop(1, w=0.35), _loop(-1, w=0.35), {"move": [0.6, 0.0], "w": 0.3}),
            {"first": "cw", "wraps": "1", "second": "ccw", "pull": "right"},
            "A square knot (reef knot): the working end makes a clockwise loop (right over left), then a "
            "second loop counter-clockwise (left over right), and is pulled tight to the right.",
            subdomain="knot",
            phase=True,
        ),
        ActionDef(
            "granny knot",
            (_loop(1, w=0.35), _loop(1, w=0.35), {"move": [0.6, 0.0], "w": 0.3}),
            {"first": "cw", "wraps": "1", "second": "cw", "pull": "right"},
            "A granny knot: the working end makes a clockwise loop and then a second loop in the same, "
            "clockwise direction, and is pulled tight to the right.",
            subdomain="knot",
            phase=True,
        ),
        ActionDef(
            "figure-eight knot",
            ({"eight": {"dir": 1, "w": 0.4, "h": 0.25}, "w": 0.6}, {"move": [0.6, 0.0], "w": 0.4}),
            {"first": "eight", "wraps": "1", "second": "none", "pull": "right"},
            "A figure-eight knot: the working end traces a figure eight (right and down first, then back "
            "round to the left) and is then pulled tight to the right.",
            subdomain="knot",
        ),
    ),
    channels=("Knot Nerd", "Rope Works", "Bight and Loop"),
    filler=(
        "I'm using a thick rope so you can see it clearly.",
        "Dress the knot before you tighten it.",
        "Sailors have used this for centuries.",
    ),
)

DOMAINS: tuple[DomainDef, ...] = (FIGURE_SKATING, BALLET, YOYO, JUGGLING, KNOTS)


check_taxonomy(DOMAINS)

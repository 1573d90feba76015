"""The ``full`` taxonomy: VideoNet's real shape, for measuring the toolkit at full size.

37 domains in 7 categories with the paper's action counts per domain (1,000 actions; spec
section 1, Table 8 of the paper) and each domain's clip-length median and mean, so that
``videonet synth --preset full`` writes 5,000 clips whose lengths follow the benchmark's
(min 0.26 s, max 260 s, mean 12.2 s, median 5.0 s: :func:`.plan.clip_durations` draws a
log-normal per domain fitted to its median and mean).  It exists for throughput work
(``python -m bench eval``), not for learning: every action is the figure-skating jump of
:mod:`.world` with its own approach direction (4) and number of turns (1-14), so no two
actions of a domain share a motion, and the hard negatives are fixed by position
(:func:`.taxonomy.ring_negatives` on the list ordered by turns, then direction: neighbours
differ in one attribute), because ``choose_negatives``' search is quadratic in a domain's
size and these domains have up to 55 actions.
"""

from __future__ import annotations

import re

from videonet_datasets.synth.render import ACTOR_STYLES
from videonet_datasets.synth.taxonomy import ActionDef, DomainDef, Segment, check_taxonomy, ring_negatives

__all__ = ["FULL_DOMAINS", "TABLE8"]

#: (category, domain, actions, mean clip seconds, median clip seconds), paper Table 8 / spec section 1.
TABLE8: tuple[tuple[str, str, int, float, float], ...] = (
    ("Beauty & Self Care", "Hairstyling", 12, 6.7, 4),
    ("Beauty & Self Care", "Spa Massage", 11, 20.7, 11),
    ("Beauty & Self Care", "Tattooing", 6, 10.1, 6.1),
    ("Crafts & Art", "Calligraphy", 8, 4.7, 3.7),
    ("Crafts & Art", "Crochet", 15, 36.1, 26.5),
    ("Crafts & Art", "Hand Sewing / Embroidery", 38, 42.4, 28),
    ("Crafts & Art", "Knots", 55, 42.9, 36),
    ("Crafts & Art", "Painting", 8, 23.7, 10),
    ("Crafts & Art", "Pottery", 10, 27.1, 12),
    ("Crafts & Art", "Woodworking / Whittling", 4, 8.3, 6.4),
    ("Dance", "Ballet", 39, 4.9, 3.5),
    ("Dance", "Bharatanatyam", 18, 16.3, 11),
    ("Dance", "Break Dance", 33, 6.8, 5),
    ("Dance", "Salsa", 19, 6.7, 5),
    ("Dance", "Tap Dance", 28, 6.4, 4),
    ("Food & Beverage", "Bartending", 28, 10.2, 4.7),
    ("Food & Beverage", "Coffee", 16, 10.5, 8),
    ("Food & Beverage", "Cooking", 49, 17.4, 10.8),
    ("Hobbies", "Bouldering", 22, 7, 5),
    ("Hobbies", "Gardening", 20, 22, 12),
    ("Hobbies", "Gym", 22, 5.4, 4),
    ("Hobbies", "Juggling", 26, 6.5, 4.3),
    ("Hobbies", "Parkour", 40, 4.4, 3),
    ("Hobbies", "Pen Spinning", 32, 3.6, 3),
    ("Hobbies", "Skateboarding", 47, 4.5, 3.5),
    ("Hobbies", "Yo-yo", 50, 6.8, 5),
    ("Medical", "Neurological Abnormalities", 20, 11.2, 8),
    ("Medical", "Neurological Assessments", 15, 9.4, 7),
    ("Medical", "Suturing", 12, 72.6, 63),
    ("Sports", "American Football", 54, 6.4, 5.3),
    ("Sports", "Basketball", 45, 4.3, 3.6),
    ("Sports", "Cheerleading", 20, 6.1, 5),
    ("Sports", "Cricket", 41, 4.5, 4),
    ("Sports", "Figure Skating", 40, 5.4, 4),
    ("Sports", "Ice Hockey", 38, 4.5, 4),
    ("Sports", "Soccer", 40, 3.8, 3.2),
    ("Sports", "Tennis", 19, 4.4, 3),
)

_APPROACH = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
_WORDS = {
    "right": "from the left side of the frame toward the right",
    "left": "from the right side of the frame toward the left",
    "up": "from the bottom of the frame toward the top",
    "down": "from the top of the frame toward the bottom",
}
_MAX_TURNS = 14  # 4 directions x 14 turn counts = 56 >= the largest domain (Knots, 55)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _motion(approach: str, turns: int) -> tuple[Segment, ...]:
    dx, dy = _APPROACH[approach]
    return (
        {"move": [round(0.42 * dx, 4), round(0.42 * dy, 4)], "w": 0.33},
        {
            "move": [round(0.30 * dx, 4), round(0.30 * dy, 4)],
            "hops": 1,
            "hop": 0.25,
            "spin": -turns,
            "w": 0.34,
        },
        {"move": [round(0.42 * dx, 4), round(0.42 * dy, 4)], "w": 0.33},
    )


def _domain(index: int, category: str, name: str, n: int, mean: float, median: float) -> DomainDef:
    combos = [(turns, approach) for turns in range(1, _MAX_TURNS + 1) for approach in _APPROACH][:n]
    actions = tuple(
        ActionDef(
            name=f"{name.lower()} {approach} {turns}",
            motion=_motion(approach, turns),
            attrs={"approach": approach, "turns": str(turns)},
            description=(
                f"The performer glides in a straight line {_WORDS[approach]}, springs up, rotates {turns} "
                f"time{'s' if turns > 1 else ''} counter-clockwise in the air, then lands and glides on."
            ),
        )
        for turns, approach in combos
    )
    styles = sorted(ACTOR_STYLES)
    return DomainDef(
        category=category,
        name=name,
        slug=_slug(name),
        actor=styles[index % len(styles)],
        clip_median=median,
        clip_mean=mean,
        attr_phrases={
            "approach": {k: f"approaches {v}" for k, v in _WORDS.items()},
            "turns": {
                str(t): f"rotates {t} time{'s' if t > 1 else ''} in the air" for t in range(1, _MAX_TURNS + 1)
            },
        },
        actions=actions,
        channels=(f"{name} Daily", f"{name} Lab", f"All About {name}"),
        negatives=ring_negatives([a.name for a in actions]),
    )


FULL_DOMAINS: tuple[DomainDef, ...] = tuple(_domain(i, *row) for i, row in enumerate(TABLE8))

check_taxonomy(FULL_DOMAINS)

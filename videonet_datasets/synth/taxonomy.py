"""What a VideoNet-mini taxonomy is, the check every taxonomy passes, and the rules on it.

A taxonomy is a tuple of ``DomainDef``: categories, domains, actions, and per action a
motion program (see :mod:`.motion`) plus a few *motion attributes* (approach direction,
number of turns, order of two loops...).  The attributes do three jobs: they generate the
part of each definition that says how the action differs from its neighbours
(``definition_for``), they pick the hard negatives (``choose_negatives``: the actions
that differ in the fewest attributes - "same turns, other direction; same direction,
other count"), and they let ``check_taxonomy`` verify that no two actions of a domain
share a motion.  The taxonomies themselves live in :mod:`.world` (``default``) and
:mod:`.coarse`; :mod:`.taxonomies` is the registry that names them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videonet_datasets.synth.motion import validate_program

__all__ = [
    "ActionDef",
    "DomainDef",
    "Segment",
    "a_or_an",
    "check_taxonomy",
    "choose_negatives",
    "domain_negatives",
    "ring_negatives",
    "definition_for",
]

Segment = dict[str, Any]


@dataclass(frozen=True)
class ActionDef:
    name: str
    motion: tuple[Segment, ...]
    attrs: Mapping[str, str]
    description: str
    subdomain: str = ""  # empty = the paper's default, "action"
    phase: bool = False  # loops may start at a random phase per clip


@dataclass(frozen=True)
class DomainDef:
    category: str
    name: str
    slug: str
    actor: str  # render style, see render.ACTOR_STYLES
    clip_median: float  # median benchmark-clip duration, seconds (heavy-tailed around it)
    attr_phrases: Mapping[str, Mapping[str, str]]  # attr -> value -> "which ..." phrase
    actions: tuple[ActionDef, ...]
    channels: tuple[str, ...]
    filler: tuple[str, ...] = field(default_factory=tuple)  # domain-flavoured small talk
    # Mean clip duration, seconds: when given, clip lengths follow a log-normal fitted to this
    # median and mean over the paper's range (plan.clip_durations), as in the full taxonomy.
    clip_mean: float | None = None
    # Hard negatives fixed by the taxonomy (action -> 3 names) instead of chosen by
    # ``choose_negatives``, whose search is quadratic in a domain's size.
    negatives: Mapping[str, tuple[str, str, str]] | None = None

    def action(self, name: str) -> ActionDef:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(f"{self.name}: no action {name!r}")


def a_or_an(word: str) -> str:
    """The paper's ``<a OR an>``: "an" before a vowel, else "a"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def check_taxonomy(domains: Sequence[DomainDef]) -> None:
    """Raise ``ValueError`` naming the domain and action when a taxonomy breaks the contract:
    unique action names, valid motion programs, every attribute phrased, and no two
    actions of a domain with the same motion attributes."""
    for d in domains:
        names = [a.name for a in d.actions]
        if len(set(names)) != len(names):
            raise ValueError(f"{d.name}: duplicate action names")
        for a in d.actions:
            validate_program(a.motion, f"{d.name}/{a.name}")
            if set(a.attrs) != set(d.attr_phrases):
                raise ValueError(f"{d.name}/{a.name}: attrs {sorted(a.attrs)} != {sorted(d.attr_phrases)}")
            for k, v in a.attrs.items():
                if v not in d.attr_phrases[k]:
                    raise ValueError(f"{d.name}/{a.name}: no phrase for {k}={v!r}")
        sigs = [tuple(sorted(a.attrs.items())) for a in d.actions]
        if len(set(sigs)) != len(sigs):
            raise ValueError(f"{d.name}: two actions share the same motion attributes")
        if d.clip_mean is not None and d.clip_mean < d.clip_median:
            raise ValueError(f"{d.name}: clip_mean {d.clip_mean} < clip_median {d.clip_median} (log-normal)")
        if d.negatives is not None:
            _check_fixed_negatives(d, names)


def _check_fixed_negatives(d: DomainDef, names: list[str]) -> None:
    """A taxonomy's own negatives follow the paper's rules: 3 other actions of the domain, each
    action used 2-5 times."""
    assert d.negatives is not None
    if set(d.negatives) != set(names):
        raise ValueError(f"{d.name}: negatives must be given for exactly the domain's actions")
    uses = dict.fromkeys(names, 0)
    for action, negs in d.negatives.items():
        if len(negs) != 3 or len(set(negs)) != 3 or action in negs or not set(negs) <= set(names):
            raise ValueError(f"{d.name}/{action}: negatives {negs} are not 3 other actions of the domain")
        for n in negs:
            uses[n] += 1
    bad = {a: u for a, u in uses.items() if not 2 <= u <= 5}
    if bad:
        raise ValueError(f"{d.name}: actions used as a negative outside 2-5 times: {bad}")


def ring_negatives(names: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """Negatives by position on a ring: each action names its next, its previous and its
    opposite neighbour (all the others when there are 4), so every action is used exactly 3
    times.  For taxonomies ordered so that neighbours differ in one attribute (the full one)."""
    n = len(names)
    if n < 4:
        raise ValueError(f"a domain needs at least 4 actions for 3 negatives each, got {n}")
    offsets = (1, 2, 3) if n == 4 else (1, n - 1, n // 2)
    return {names[i]: tuple(names[(i + o) % n] for o in offsets) for i in range(n)}  # type: ignore[misc]


def domain_negatives(domain: DomainDef) -> dict[str, tuple[str, str, str]]:
    """The domain's hard negatives: the taxonomy's own when it fixes them, else chosen."""
    if domain.negatives is not None:
        return {a.name: tuple(domain.negatives[a.name]) for a in domain.actions}  # type: ignore[misc]
    return choose_negatives(domain.actions)


def _diff(a: ActionDef, b: ActionDef) -> frozenset[str]:
    return frozenset(k for k in a.attrs if a.attrs[k] != b.attrs[k])


def choose_negatives(
    actions: Sequence[ActionDef], lo: int = 2, hi: int = 5
) -> dict[str, tuple[str, str, str]]:
    """Three hard negatives per action, following the paper's rules.

    An action's negatives are the actions of its domain that differ from it in the fewest
    motion attributes, preferring negatives that differ in *different* attributes (a
    double toe loop's negatives: the single toe loop - other count - and two doubles with
    another approach).  A local search then keeps every action used as a negative between
    ``lo`` and ``hi`` times in the domain.  Deterministic: the taxonomy alone decides.
    """
    n = len(actions)
    if n < 4:
        raise ValueError(f"a domain needs at least 4 actions for 3 negatives each, got {n}")
    diff = [[_diff(a, b) for b in actions] for a in actions]
    options: list[list[tuple[float, tuple[int, ...]]]] = []
    for i in range(n):
        opts = []
        for combo in itertools.combinations([j for j in range(n) if j != i], 3):
            distance = sum(len(diff[i][j]) for j in combo)
            redundant = sum(diff[i][a] == diff[i][b] for a, b in itertools.combinations(combo, 2))
            opts.append((distance + 0.5 * redundant, combo))
        opts.sort()
        options.append(opts)
    m = len(options[0])
    cost = np.array([[c for c, _ in opts] for opts in options])  # (n, m)
    uses = np.zeros((n, m, n))  # uses[i, k, j]: option k of action i names j
    for i in range(n):
        for k, (_, combo) in enumerate(options[i]):
            uses[i, k, list(combo)] = 1.0

    def penalty(deg: np.ndarray) -> np.ndarray:
        return 100.0 * (np.maximum(0, lo - deg) + np.maximum(0, deg - hi)).sum(axis=-1)

    choice = [0] * n  # start from every action's favourite set, then repair the balance
    deg = uses[np.arange(n), choice].sum(axis=0)
    best = float(cost[np.arange(n), choice].sum() + penalty(deg))
    while True:
        # Moves of one action's set, then of two at once (a swap that passes through an
        # unbalanced state is invisible to single moves).
        move = None
        for i in range(n):
            base = deg - uses[i, choice[i]]
            t = (cost[np.arange(n), choice].sum() - cost[i, choice[i]] + cost[i]) + penalty(base + uses[i])
            k = int(np.argmin(t))
            if t[k] < best - 1e-9:
                move, best = [(i, k)], float(t[k])
        if move is None:
            for i, j in itertools.combinations(range(n), 2):
                base = deg - uses[i, choice[i]] - uses[j, choice[j]]
                rest = cost[np.arange(n), choice].sum() - cost[i, choice[i]] - cost[j, choice[j]]
                t = (
                    rest
                    + cost[i][:, None]
                    + cost[j][None, :]
                    + penalty(base + uses[i][:, None, :] + uses[j][None, :, :])
                )
                k, k2 = np.unravel_index(int(np.argmin(t)), t.shape)
                if t[k, k2] < best - 1e-9:
                    move, best = [(i, int(k)), (j, int(k2))], float(t[k, k2])
        if move is None:
            break
        for i, k in move:
            choice[i] = k
        deg = uses[np.arange(n), choice].sum(axis=0)
    if best >= 100.0:
        raise ValueError(f"cannot balance hard negatives between {lo} and {hi} uses per action")
    out: dict[str, tuple[str, str, str]] = {}
    for i in range(n):
        combo = sorted(options[i][choice[i]][1], key=lambda j, i=i: (len(diff[i][j]), j))
        out[actions[i].name] = (actions[combo[0]].name, actions[combo[1]].name, actions[combo[2]].name)
    return out


def definition_for(domain: DomainDef, action: ActionDef, negatives: Sequence[str]) -> str:
    """The paper-style definition: the visual description, then how the action differs
    from each of its hard negatives (generated from the motion attributes, so it is
    always consistent with the negatives actually chosen)."""
    parts = []
    for neg_name in negatives:
        neg = domain.action(neg_name)
        diffs = [
            domain.attr_phrases[k][neg.attrs[k]]
            for k in domain.attr_phrases
            if neg.attrs[k] != action.attrs[k]
        ]
        parts.append(f"the {neg_name}, which {' and '.join(diffs)}")
    if len(parts) > 1:
        listing = "; ".join(parts[:-1]) + "; or " + parts[-1]
    else:
        listing = parts[0]
    return f"{action.description} Do not confuse it with {listing}."

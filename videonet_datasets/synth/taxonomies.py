"""The registry of taxonomies a world can be built from (``SynthConfig.taxonomy``).

``default`` = :mod:`.world` (actions told apart by fine motion attributes: the paper's
difficulty); ``coarse`` = :mod:`.coarse` (the same domains, actions told apart by their
direction of travel: what ``make demo``'s tiny model can learn); ``full`` = :mod:`.full`
(VideoNet's real shape: 37 domains, 1,000 actions, Table 8's clip lengths).  ``register_taxonomy``
adds another one (checked with ``taxonomy.check_taxonomy`` first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from videonet_datasets.synth.coarse import COARSE_DOMAINS
from videonet_datasets.synth.full import FULL_DOMAINS
from videonet_datasets.synth.taxonomy import DomainDef, check_taxonomy, ring_negatives
from videonet_datasets.synth.world import DOMAINS

__all__ = ["register_taxonomy", "select_domains", "taxonomy_domains", "taxonomy_names"]

_REGISTRY: dict[str, tuple[DomainDef, ...]] = {
    "default": DOMAINS,
    "coarse": COARSE_DOMAINS,
    "full": FULL_DOMAINS,
}


def register_taxonomy(name: str, domains: Sequence[DomainDef]) -> None:
    """Make ``name`` a taxonomy ``videonet synth --taxonomy`` can build (checked first)."""
    if name in _REGISTRY:
        raise ValueError(f"taxonomy {name!r} is already registered")
    check_taxonomy(domains)
    _REGISTRY[name] = tuple(domains)


def taxonomy_names() -> tuple[str, ...]:
    """The registered taxonomies, in registration order."""
    return tuple(_REGISTRY)


def taxonomy_domains(taxonomy: str = "default") -> tuple[DomainDef, ...]:
    """Every domain of a taxonomy."""
    try:
        return _REGISTRY[taxonomy]
    except KeyError:
        raise ValueError(f"unknown taxonomy {taxonomy!r}; choose from {taxonomy_names()}") from None


def _first_actions(domain: DomainDef, n: int) -> DomainDef:
    """The domain with its first ``n`` actions; fixed negatives are re-drawn on the kept ones."""
    kept = domain.actions[:n]
    negatives = domain.negatives
    if negatives is not None and len(kept) < len(domain.actions):
        negatives = ring_negatives([a.name for a in kept])
    return replace(domain, actions=kept, negatives=negatives)


def select_domains(
    names: Sequence[str] | None = None, actions_per_domain: int | None = None, taxonomy: str = "default"
) -> list[DomainDef]:
    """The domains of a (possibly reduced) world, in taxonomy order.

    ``names`` picks domains by name or slug (case-insensitive); ``actions_per_domain``
    keeps each domain's first N actions (N >= 4: an action needs 3 negatives)."""
    every = taxonomy_domains(taxonomy)
    chosen = list(every)
    if names:
        wanted = {n.strip().lower() for n in names if n.strip()}
        known = {d.name.lower() for d in every} | {d.slug for d in every}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"unknown domain(s) {unknown}; choose from {[d.name for d in every]}")
        chosen = [d for d in every if d.name.lower() in wanted or d.slug in wanted]
    if actions_per_domain is not None:
        if actions_per_domain < 4:
            raise ValueError(
                f"actions_per_domain must be >= 4 (3 hard negatives each), got {actions_per_domain}"
            )
        chosen = [_first_actions(d, actions_per_domain) for d in chosen]
    return chosen

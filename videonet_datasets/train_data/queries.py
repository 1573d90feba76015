"""Search queries per action for users' crawlers (paper §4.1).

The paper builds queries from the action list, e.g. from "laser flip" in Skateboarding:
"skateboarding laser flip" and "how to laser flip".  Templates are ``str.format``
strings over ``{domain}`` (lower-cased domain name), ``{Domain}`` (as written),
``{action}`` and ``{subdomain}``; duplicates (after whitespace and case folding) are
written once.
"""

from __future__ import annotations

import csv
import io
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass

from videonet_datasets.fsutil import atomic_write_text
from videonet_datasets.train_data.manifest import Taxonomy

__all__ = ["DEFAULT_TEMPLATES", "Query", "build_queries", "write_queries"]

DEFAULT_TEMPLATES: tuple[str, ...] = ("{domain} {action}", "how to {action}")
_FIELDS = {"domain", "Domain", "action", "subdomain"}


@dataclass(frozen=True)
class Query:
    category: str
    domain: str
    action: str
    template: str
    query: str


def _check_template(t: str) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(t) if f is not None}
    except ValueError as e:
        raise ValueError(f"query template {t!r} is not a valid format string: {e}") from e
    unknown = names - _FIELDS
    if unknown:
        raise ValueError(
            f"query template {t!r} uses unknown field(s) {sorted(unknown)}; known: {sorted(_FIELDS)}"
        )
    if "action" not in names:
        raise ValueError(f"query template {t!r} must contain {{action}}")


def build_queries(
    taxonomy: Taxonomy, templates: Sequence[str] = DEFAULT_TEMPLATES, domains: Sequence[str] | None = None
) -> list[Query]:
    """Queries for every action (of ``domains`` if given), in taxonomy order."""
    for t in templates:
        _check_template(t)
    wanted = list(domains) if domains else taxonomy.domains
    unknown = [d for d in wanted if d not in taxonomy.domains]
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; the taxonomy has {taxonomy.domains}")
    out: list[Query] = []
    seen: set[str] = set()
    for domain in wanted:
        for a in taxonomy.actions_of(domain):
            for t in templates:
                q = " ".join(
                    t.format(
                        domain=domain.lower(), Domain=domain, action=a.name, subdomain=a.subdomain
                    ).split()
                )
                fold = q.casefold()
                if fold in seen:
                    continue
                seen.add(fold)
                out.append(Query(a.category, domain, a.name, t, q))
    return out


def write_queries(path: str | os.PathLike, queries: Sequence[Query]) -> None:
    """CSV ``category,domain,action,template,query`` (written atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["category", "domain", "action", "template", "query"])
    for q in queries:
        w.writerow([q.category, q.domain, q.action, q.template, q.query])
    atomic_write_text(path, buf.getvalue())

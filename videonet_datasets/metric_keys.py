"""The metric keys of the VideoNet tasks: ``accuracy[<category>]``, ``accuracy[<category> > <domain>]``.

The key format is shared by the lmms-eval tasks, which write the keys
(``videonet_lmms_tasks.metrics``), and ``videonet report``, which reads them back from
lmms-eval's results JSON - so it lives here, in the library both import, and imports run
one way (tasks -> library).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CATEGORY_ORDER",
    "DOMAIN_SEP",
    "category_key",
    "domain_key",
    "order_categories",
    "parse_metric_key",
]

#: The paper's categories in its table order (Tables 3, 4, 12); others follow alphabetically.
CATEGORY_ORDER: tuple[str, ...] = (
    "Beauty & Self Care",
    "Crafts & Art",
    "Dance",
    "Food & Beverage",
    "Hobbies",
    "Medical",
    "Sports",
)
DOMAIN_SEP = " > "
_KEY_RE = re.compile(r"^(?P<base>[a-z_]+)\[(?P<inner>.+)\]$")


def _clean(name: str) -> str:
    # lmms-eval joins "metric,filter" and splits on the first comma.
    return name.replace(",", ";").strip()


def category_key(base: str, category: str) -> str:
    """``accuracy[Sports]``."""
    return f"{base}[{_clean(category)}]"


def domain_key(base: str, category: str, domain: str) -> str:
    """``accuracy[Sports > Figure Skating]``."""
    return f"{base}[{_clean(category)}{DOMAIN_SEP}{_clean(domain)}]"


def parse_metric_key(key: str) -> tuple[str, str | None, str | None]:
    """``"accuracy[Sports > Tennis],none"`` -> ``("accuracy", "Sports", "Tennis")``."""
    metric = key.split(",", 1)[0]
    m = _KEY_RE.match(metric)
    if not m:
        return metric, None, None
    category, sep, domain = m.group("inner").partition(DOMAIN_SEP)
    return m.group("base"), category, (domain if sep else None)


def order_categories(categories: Iterable[str]) -> list[str]:
    """Paper order first, then any other category alphabetically."""
    names = list(dict.fromkeys(categories))
    known = [c for c in CATEGORY_ORDER if c in names]
    return known + sorted(c for c in names if c not in CATEGORY_ORDER)

"""Scoring and the metric list of the VideoNet tasks: :mod:`videonet_datasets.scoring` (per-question
scores in both conventions, the metric list, aggregation) and :mod:`videonet_datasets.metric_keys`
(the key format), re-exported here for the task hooks.

Both live in the library, which the tasks import and which never imports the tasks: ``videonet
report`` re-scores the authors' result files with the very functions the tasks use.
"""

from __future__ import annotations

from videonet_datasets.metric_keys import (
    CATEGORY_ORDER,
    DOMAIN_SEP,
    category_key,
    domain_key,
    order_categories,
    parse_metric_key,
)
from videonet_datasets.scoring import (
    OFFICIAL_PREFIX,
    aggregate,
    answer_counts,
    best_single_answer,
    binary_answer,
    count,
    metric_list,
    published_binary_accuracy,
    published_mc_accuracy,
    score_binary,
    score_mc,
)

__all__ = [
    "CATEGORY_ORDER",
    "DOMAIN_SEP",
    "OFFICIAL_PREFIX",
    "aggregate",
    "answer_counts",
    "best_single_answer",
    "binary_answer",
    "category_key",
    "count",
    "domain_key",
    "metric_list",
    "order_categories",
    "parse_metric_key",
    "published_binary_accuracy",
    "published_mc_accuracy",
    "score_binary",
    "score_mc",
]

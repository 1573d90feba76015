"""Hard negatives for VideoNet (paper §3.4 and App. B.4).

``rules``       the constraints every table obeys + the balance statistics (shared)
``exclusions``  the user's co-occurring pairs (``--exclude pairs.csv``)
``offline``     sentence-embedding similarity + ``assign`` (balanced global assignment)
``prompts``     the paper's four prompts, verbatim; ``reply`` finds the CSV in a reply
``client``      a plain OpenAI-compatible chat client; ``llm`` the four-round conversation
``tables``      reading actions.csv / writing hard_negatives.csv; ``report`` the report
"""

from videonet_datasets.negatives.rules import (
    BALANCE_RANGE,
    NUM_NEGATIVES,
    CheckResult,
    RuleProblem,
    check_table,
)

__all__ = ["BALANCE_RANGE", "NUM_NEGATIVES", "CheckResult", "RuleProblem", "check_table"]

"""VideoNet toolkit: domain-specific action recognition on the Hugging Face stack.

Data flows one way: annotations -> validated tables -> QA sets -> Hub configs ->
lmms-eval tasks -> results.  This package holds everything up to the Hub configs
(plus the training-data pipeline); ``videonet_lmms_tasks`` holds the evaluation side.
"""

__version__ = "0.1.0"

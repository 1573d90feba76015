"""Publish the benchmark, the training data and fine-tuned models to the Hugging Face Hub.

The pipeline of ``videonet publish``: :mod:`.bundle` / :mod:`.model` write the *bundle*
(exactly what will be uploaded, card included) and run the checks of :mod:`.check` /
:mod:`.model` on it; :mod:`.upload` compares it with the repo by content hash and uploads
what is new.  :mod:`.paths` finds leaked local paths, :mod:`.hashing` computes the
hashes the Hub reports, :mod:`.dataset_card` and :mod:`.model_card` read and render cards.
"""

from __future__ import annotations

from videonet_datasets.publish.bundle import Bundle, CheckFailed, PublishError, stage_dataset
from videonet_datasets.publish.check import BENCHMARK, TRAIN, DatasetReport, check_dataset
from videonet_datasets.publish.model import ModelReport, check_model, stage_model
from videonet_datasets.publish.upload import (
    PublishOptions,
    PublishRefused,
    PublishResult,
    compare_remote,
    publish_bundle,
    redact,
)

__all__ = [
    "BENCHMARK",
    "TRAIN",
    "Bundle",
    "CheckFailed",
    "DatasetReport",
    "ModelReport",
    "PublishError",
    "PublishOptions",
    "PublishRefused",
    "PublishResult",
    "check_dataset",
    "check_model",
    "compare_remote",
    "publish_bundle",
    "redact",
    "stage_dataset",
    "stage_model",
]

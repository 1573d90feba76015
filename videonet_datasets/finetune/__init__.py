"""Fine-tuning Molmo2 on VideoNet data: the library behind ``recipes/finetune_molmo2.py``.

One module per job:

* :mod:`.config` - the settings dataclass, YAML + command-line overrides (TRL style);
* :mod:`.data` - training-data / benchmark rows (local, Hub, streamed) -> clips with QA pairs;
* :mod:`.batches` - decode (the project's sampler), encode (packed or not), collate;
* :mod:`.loader` - the resumable, distributed data order and the data loader;
* :mod:`.model` - base model + processor, freezing, LoRA, activation checkpointing;
* :mod:`.schedule` - AdamW per component and the learning-rate schedule;
* :mod:`.checkpoint` - ``checkpoint-{step}`` folders: atomic, rotated, resumable;
* :mod:`.export` - ``save_pretrained`` of the result (merged or adapter), checkpoint export;
* :mod:`.evaluate` - the lmms-eval hook (``videonet_mc_val`` by default);
* :mod:`.trainer` - the run set-up, data and model loading, and the accelerate training loop
  (``Trainer``: a step function and step-end hooks).

Reinforcement fine-tuning (``recipes/grpo_molmo2.py``), the same family with another step:

* :mod:`.grpo_config` - ``GRPOConfig``: ``FinetuneConfig`` plus sampling, objective, rewards, tools;
* :mod:`.questions` - clips -> one question per QA pair (definitions, MC options re-drawn per epoch);
* :mod:`.tools` - the ``<tool>NAME(ARGS)</tool>`` syntax, ``definition`` / ``zoom``, the registry;
* :mod:`.rollout` - sampling G answers per question, tool calls as extra turns;
* :mod:`.generation` - the backends: transformers ``generate`` and vLLM;
* :mod:`.rewards` - verifiable rewards over the project's answer parser, the registry;
* :mod:`.grpo` - group advantages, token log-probabilities, the clipped objective;
* :mod:`.grpo_trainer` - ``GRPOTrainer`` (a ``Trainer`` whose step is a GRPO update).

Needs the ``train`` extra (torch, transformers, accelerate, peft, tensorboard).
"""

from .config import ConfigError, FinetuneConfig, dump_config, load_config_file, parse_config
from .data import ClipRecord, DataError, DataSource, QAPair, open_source

__all__ = [
    "ClipRecord",
    "ConfigError",
    "DataError",
    "DataSource",
    "FinetuneConfig",
    "QAPair",
    "dump_config",
    "load_config_file",
    "main",
    "open_source",
    "parse_config",
    "train",
]


def train(config: FinetuneConfig):
    """Run the fine-tuning (see :func:`videonet_datasets.finetune.trainer.train`)."""
    from .trainer import train as _train

    return _train(config)


def main(argv: list[str] | None = None) -> int:
    """Parse settings (``--config FILE.yaml`` + flags) and train: ``videonet finetune train``, the
    same steps as ``recipes/finetune_molmo2.py`` (which spells them out).  Bad settings or data
    end with one ``error:`` line and exit code 2, not a traceback."""
    import sys

    try:
        config = parse_config(argv)
        train(config)
    except (ConfigError, DataError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0

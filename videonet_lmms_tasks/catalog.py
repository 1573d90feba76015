"""The VideoNet task suite: every task, its data config and options, and its YAML file.

The YAML files in ``tasks/videonet/`` are generated from :data:`TASKS` (run
``python -m videonet_lmms_tasks.catalog`` after editing this module; a test checks that the
files on disk match), so names, configs, tags and per-model presets cannot drift apart.

Names never reuse lmms-eval's built-in VideoNet task names (``videonet_mcq_test``,
``videonet_mcq_val``, ``videonet_binary_{0..3}shot``): lmms-eval indexes its own tasks
first and an ``--include_path`` task with the same name is silently shadowed by the
built-in - even when requested through our tag.  So the binary tasks with the paper's hard
negatives are ``videonet_binary_hard_{k}shot``, next to ``videonet_binary_random_{k}shot``
(random negatives of the domain, paper Table 5).

Tags: ``videonet_main`` (the paper's main tasks: MC and binary k-shot with hard negatives - the
configs the official release has), ``videonet_all`` (every test-split task, random negatives
included), ``videonet_binary_hard``, ``videonet_binary_random``, ``videonet_ablations``.  No tag
is named ``videonet``: lmms-eval reads ``--tasks videonet`` as the folder ``./videonet`` when
one exists, and that is where ``videonet build-benchmark`` writes the benchmark by default.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from videonet_datasets.benchmark.schema import BINARY_SHOTS, MC_CONFIG, binary_config
from videonet_lmms_tasks.presets import MODEL_PRESETS

__all__ = ["TAG_ALL", "TAG_MAIN", "TASKS", "TASKS_DIR", "TaskConfig", "render_yaml_files", "write_yaml_files"]

#: The directory to give lmms-eval as ``--include_path``.
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
YAML_DIR = TASKS_DIR / "videonet"
UTILS = "videonet_lmms_tasks.tasks.videonet.utils"

#: The paper's main tasks - the configs the official release has (Table 3 and Tables 4/12).
TAG_MAIN = "videonet_main"
#: Every test-split task (main + random negatives; not the ablations).
TAG_ALL = "videonet_all"
#: Not a tag: ``--tasks videonet`` names the folder ``./videonet`` when it exists - the default
#: data directory - and lmms-eval reads a folder as task YAMLs (``videonet eval`` says so).
FORMER_TAG = "videonet"


@dataclass(frozen=True)
class TaskConfig:
    name: str
    config: str
    split: str = "test"
    variant: str = "default"  # binary prompt variant: default | balanced | lenient
    definition: bool = False  # binary: the action's definition in the prompt
    middle_frame: bool = False  # the clip's middle frame instead of the clip
    tags: tuple[str, ...] = ()
    description: str = ""

    @property
    def binary(self) -> bool:
        return self.config != MC_CONFIG

    @property
    def k(self) -> int:
        return int(self.config.rsplit("_", 1)[1].removesuffix("shot")) if self.binary else 0

    @property
    def process_docs(self) -> str:
        if self.middle_frame:
            return "process_docs_middle_frame"
        if self.definition:
            return "process_docs_definition"
        if self.variant != "default":
            return f"process_docs_{self.variant}"
        return "process_docs"


def _tasks() -> list[TaskConfig]:
    tasks = [
        TaskConfig(
            "videonet_mc",
            MC_CONFIG,
            tags=(TAG_MAIN, TAG_ALL),
            description="multiple choice, test split (paper Table 3)",
        ),
        TaskConfig(
            "videonet_mc_val", MC_CONFIG, split="validation", description="multiple choice, validation split"
        ),
    ]
    for k in BINARY_SHOTS:
        tasks.append(
            TaskConfig(
                f"videonet_binary_hard_{k}shot",
                binary_config(k),
                tags=(TAG_MAIN, TAG_ALL, "videonet_binary_hard"),
                description=f"binary, {k} in-context example(s), hard negatives (Tables 4, 12, 17)",
            )
        )
    for k in BINARY_SHOTS:
        tasks.append(
            TaskConfig(
                f"videonet_binary_random_{k}shot",
                binary_config(k, random_negatives=True),
                tags=(TAG_ALL, "videonet_binary_random"),
                description=f"binary, {k} in-context example(s), random negatives of the domain (Table 5)",
            )
        )
    ablation = ("videonet_ablations",)
    tasks += [
        TaskConfig(
            "videonet_mc_middle_frame",
            MC_CONFIG,
            middle_frame=True,
            tags=ablation,
            description="multiple choice on the clip's middle frame (image bias)",
        ),
        TaskConfig(
            "videonet_binary_hard_0shot_middle_frame",
            binary_config(0),
            middle_frame=True,
            tags=ablation,
            description="binary 0-shot on the clip's middle frame (Table 11)",
        ),
    ]
    for k in BINARY_SHOTS:
        tasks.append(
            TaskConfig(
                f"videonet_binary_hard_{k}shot_definition",
                binary_config(k),
                definition=True,
                tags=ablation,
                description=f"binary {k}-shot, the action's definition in the prompt (Tables 11, 18)",
            )
        )
    for variant in ("balanced", "lenient"):
        for k in BINARY_SHOTS:
            tasks.append(
                TaskConfig(
                    f"videonet_binary_hard_{k}shot_{variant}",
                    binary_config(k),
                    variant=variant,
                    tags=ablation,
                    description=f"binary {k}-shot, the '{variant}' prompt (Figure 19, Table 16)",
                )
            )
    return tasks


TASKS: tuple[TaskConfig, ...] = tuple(_tasks())
BY_NAME = {t.name: t for t in TASKS}

_HEADER = "# Generated by `python -m videonet_lmms_tasks.catalog` from videonet_lmms_tasks/catalog.py - do not edit.\n"


COMMON_YAML = "_videonet.yaml"
#: ``DATA_PATH_<config>__definition``: the data path of a task that needs every action's definition
#: (checked when the task loads).
DEFINITION_SUFFIX = "__definition"


def _common_yaml() -> str:
    lines = [
        _HEADER.rstrip(),
        "# Settings shared by every VideoNet task (not a task itself: it has no `task:` key).",
        "output_type: generate_until",
        f"doc_to_visual: !function {UTILS}.doc_to_visual",
        f"doc_to_text: !function {UTILS}.doc_to_text",
        f"doc_to_messages: !function {UTILS}.doc_to_messages",
        f"doc_to_target: !function {UTILS}.doc_to_target",
        f"process_results: !function {UTILS}.process_results",
        "num_fewshot: 0  # in-context clips are part of each question (the k of its config), not lmms-eval few-shot",
        "generation_kwargs:",
        "  until: []",
        "  max_new_tokens: 8192",
        "  temperature: 0",
        "  do_sample: false",
        "# Frame sampling per lmms-eval model (videonet_lmms_tasks/presets.py); VIDEONET_PRESET overrides.",
        "lmms_eval_specific_kwargs:",
        "  default:",
        "    preset: native",
        '    pre_prompt: ""',
        '    post_prompt: ""',
    ]
    for model, preset in MODEL_PRESETS.items():
        lines += [f"  {model}:", f"    preset: {preset}", '    pre_prompt: ""', '    post_prompt: ""']
    return "\n".join(lines) + "\n"


def _task_yaml(spec: TaskConfig) -> str:
    lines = [_HEADER.rstrip(), f"# {spec.description}", f"task: {spec.name}"]
    if spec.tags:
        lines.append("tag:")
        lines += [f"  - {t}" for t in spec.tags]
    lines += [
        f"include: {COMMON_YAML}",
        "# Resolved when the task loads: $VIDEONET_DATA (default ./videonet) or a Hub id; every video is checked.",
        f"dataset_path: !function {UTILS}.DATA_PATH_{spec.config}{DEFINITION_SUFFIX if spec.definition else ''}",
        f"dataset_name: {spec.config}",
        f"test_split: {spec.split}",
        f"process_docs: !function {UTILS}.{spec.process_docs}",
        "# One key per category and domain of the loaded data (videonet_lmms_tasks/metrics.py).",
        f"metric_list: !function {UTILS}.METRICS_{spec.config}",
        "metadata:",
        "  version: 1.0",
        f"  k: {spec.k}",
    ]
    return "\n".join(lines) + "\n"


def render_yaml_files() -> dict[str, str]:
    """file name -> content of every YAML file of the suite."""
    files = {COMMON_YAML: _common_yaml()}
    for spec in TASKS:
        files[f"{spec.name}.yaml"] = _task_yaml(spec)
    return files


def write_yaml_files(directory: Path = YAML_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    files = render_yaml_files()
    for stale in directory.glob("*.yaml"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_yaml_files():
        print(p)
    sys.exit(0)

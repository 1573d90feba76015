"""The model card of a fine-tuned checkpoint: YAML the Hub indexes (base model, training
datasets, pipeline, ``model-index`` with the VideoNet scores) and a body rendered from
``hub_cards/model.md`` with the training configuration and the evaluation table.

Inputs are read, not assumed: the training configuration (YAML or JSON, written by the
fine-tuning recipe) and evaluation results in lmms-eval's format (``{"results": {task:
{"accuracy,none": ...}}}``), a ``{task: {metric: value}}`` mapping or a flat
``{metric: value}`` mapping (transformers' ``eval_results.json``).  Local paths in them
are replaced by ``<local>/<name>`` before anything is rendered or copied (they are
provenance, not data) by :mod:`.model`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from hub_cards import render_card as render_template
from videonet_datasets import __version__

__all__ = [
    "EvalRow",
    "ModelCardInputs",
    "benchmark_config_of",
    "flatten_config",
    "parse_eval_results",
    "render_model_card",
    "split_run_record",
]

BASE_MODEL_KEYS = (
    "base_model",
    "model_name_or_path",
    "pretrained_model_name_or_path",
    "model_id",
    "model",
    "pretrained",
)
DATASET_KEYS = (
    "dataset",
    "dataset_name",
    "dataset_id",
    "train_dataset",
    "dataset_path",
    "train_data",
    "data",
)
DATASET_CONFIG_KEYS = ("dataset_config", "dataset_config_name", "config_name", "filter", "subset")
# Settings shown in the card's main table: a key matches by exact name or by one of its words.
HIGHLIGHT_KEYS = (
    "model_name_or_path",
    "dataset",
    "dataset_config",
    "max_steps",
    "learning_rate",
    "min_lr_ratio",
    "use_lora",
    "lora_r",
    "max_grad_norm",
    "seed",
)
HIGHLIGHT_WORDS = ("lr", "batch", "fps", "frames", "packing", "scheduler", "warmup", "precision")
HEADLINE_METRICS = (
    "official_accuracy",
    "official_unparsable",
    "accuracy",
    "accuracy_positive",
    "accuracy_negative",
    "yes_rate",
    "unparsed_rate",
)
# Column headers of the evaluation table: the two scoring conventions, labelled.
METRIC_LABELS = {
    "official_accuracy": "accuracy (official)",
    "official_unparsable": "unparsable (official, count)",
    "accuracy": "accuracy (robust)",
    "accuracy_positive": "positive clips (robust)",
    "accuracy_negative": "negative clips (robust)",
    "yes_rate": "yes-rate",
    "unparsed_rate": "unparsed (robust)",
}
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def flatten_config(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b.c`` keys (lists stay values)."""
    if not isinstance(obj, dict):
        return {prefix or "value": obj}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten_config(v, key))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class EvalRow:
    task: str
    metric: str
    value: float
    stderr: float | None = None
    samples: int | None = None
    source: str = ""


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return None if math.isnan(float(v)) else float(v)


def parse_eval_results(doc: Any, source: str = "") -> list[EvalRow]:
    """Numeric metrics of one evaluation file, in the formats of the module docstring."""
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: expected a JSON object of results, got {type(doc).__name__}")
    rows: list[EvalRow] = []
    if isinstance(doc.get("results"), dict):
        samples = doc.get("n-samples") or {}
        for task, metrics in doc["results"].items():
            if not isinstance(metrics, dict):
                continue
            n = (samples.get(task) or {}).get("effective") if isinstance(samples.get(task), dict) else None
            values: dict[str, float] = {}
            errs: dict[str, float] = {}
            for key, v in metrics.items():
                name = key.split(",", 1)[0]
                num = _number(v)
                if num is None:
                    continue
                if name.endswith("_stderr"):
                    errs[name[: -len("_stderr")]] = num
                else:
                    values[name] = num
            rows += [EvalRow(task, m, v, errs.get(m), n, source) for m, v in values.items()]
        return rows
    nested = {k: v for k, v in doc.items() if isinstance(v, dict)}
    if nested and len(nested) == len(doc):
        for task, metrics in nested.items():
            rows += [
                EvalRow(task, m, num, None, None, source)
                for m, v in metrics.items()
                if (num := _number(v)) is not None
            ]
        return rows
    return [
        EvalRow("eval", k, num, None, None, source) for k, v in doc.items() if (num := _number(v)) is not None
    ]


def benchmark_config_of(task: str) -> tuple[str, str] | None:
    """(benchmark config, split) an lmms-eval VideoNet task evaluates, if recognisable."""
    t = task.removeprefix("videonet_")
    if t == "mc":
        return "mc", "test"
    if t in ("mc_val", "mc_validation"):
        return "mc", "validation"
    m = re.fullmatch(r"binary_(hard_|random_)?(\d)shot", t)
    if m:
        return f"binary_{'random_' if m.group(1) == 'random_' else ''}{m.group(2)}shot", "test"
    return None


@dataclass
class ModelCardInputs:
    repo_id: str
    model_config: dict[str, Any]
    training_config: dict[str, Any] | None = None  # sanitized
    training_config_file: str | None = None  # its name in the repo
    eval_rows: list[EvalRow] = field(default_factory=list)
    eval_files: list[str] = field(default_factory=list)  # their names in the repo
    base_model: str | None = None
    datasets: list[str] = field(default_factory=list)  # "ORG/NAME" or "ORG/NAME:CONFIG"
    benchmark_repo: str | None = None
    license: str = "other"
    n_params: int | None = None
    weights: str = ""
    processor: str = ""
    notes: list[str] = field(default_factory=list)


def _is_hub_id(s: Any) -> bool:
    return isinstance(s, str) and bool(_HUB_ID_RE.match(s)) and not s.startswith(("<local>", "."))


def infer_from_training_config(flat: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(base model Hub id, training datasets as ORG/NAME[:CONFIG], local data references)."""

    def last(key: str) -> str:
        return key.rsplit(".", 1)[-1]

    base = next((v for k, v in flat.items() if last(k) in BASE_MODEL_KEYS and _is_hub_id(v)), None)
    cfg = next((v for k, v in flat.items() if last(k) in DATASET_CONFIG_KEYS and isinstance(v, str)), None)
    hub, local = [], []
    for k, v in flat.items():
        if last(k) not in DATASET_KEYS:
            continue
        for item in v if isinstance(v, list) else [v]:
            if _is_hub_id(item):
                hub.append(f"{item}:{cfg}" if cfg else item)
            elif isinstance(item, str) and item:
                local.append(f"`{item}`" + (f", config `{cfg}`" if cfg else ""))
    return base, hub, local


def _fmt_params(n: int | None) -> str:
    if not n:
        return "unknown number of"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def _pct(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    rates = ("accuracy", "official_accuracy", "yes_rate", "unparsed_rate", "random_baseline")
    if metric.startswith(rates) and 0 <= v <= 1:
        return f"{100 * v:.1f}"
    if metric == "official_unparsable":
        return str(int(v))
    return f"{v:.4g}"


def _cell(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict, bool)) or v is None else str(v)
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= 100 else s[:97] + "..."


def _split_dataset(spec: str) -> tuple[str, str | None]:
    repo, _, config = spec.partition(":")
    return repo, config or None


def _eval_section(inp: ModelCardInputs) -> str:
    if not inp.eval_rows:
        return (
            "No evaluation results were published with this checkpoint. Run `videonet eval` (above) and "
            "publish again with `--eval-results <lmms-eval results.json>`."
        )
    by_task: dict[str, dict[str, EvalRow]] = {}
    for r in inp.eval_rows:
        by_task.setdefault(r.task, {})[r.metric] = r
    headline = [m for m in HEADLINE_METRICS if any(m in ms for ms in by_task.values())]
    if not headline:  # not VideoNet's metrics: show every metric
        headline = sorted({r.metric for r in inp.eval_rows if "[" not in r.metric})
    lines = [
        "Accuracy in % (VideoNet metrics; ± is lmms-eval's standard error). Two scoring conventions: "
        "**official** is the VideoNet authors' (only the answer's last line is read; accuracy over the answers "
        "it could parse, the unparsable count beside it) - the paper's tables use it; **robust** is the "
        "toolkit's parser (any common answer form; an unreadable answer counts as wrong).",
        "",
        "| task | benchmark config | split | questions | "
        + " | ".join(METRIC_LABELS.get(m, m) for m in headline)
        + " |",
        "|---|---|---|---|" + "---|" * len(headline),
    ]
    for task, ms in by_task.items():
        bc = benchmark_config_of(task)
        n = next((r.samples for r in ms.values() if r.samples), None)
        cells = []
        for m in headline:
            r = ms.get(m)
            cells.append(
                "-" if r is None else _pct(r.value, m) + (f" ± {_pct(r.stderr, m)}" if r.stderr else "")
            )
        lines.append(
            f"| `{task}` | {bc[0] if bc else '-'} | {bc[1] if bc else '-'} | {n if n else '-'} | "
            + " | ".join(cells)
            + " |"
        )
    cats = sorted(
        {
            r.metric[len("accuracy[") : -1]
            for r in inp.eval_rows
            if r.metric.startswith("accuracy[") and ">" not in r.metric
        }
    )
    if cats:
        tasks = [t for t, ms in by_task.items() if any(f"accuracy[{c}]" in ms for c in cats)]
        lines += [
            "",
            "Accuracy per category (%), official / robust scoring:",
            "",
            "| category | " + " | ".join(f"`{t}`" for t in tasks) + " |",
        ]
        lines.append("|---|" + "---|" * len(tasks))

        def cell(t: str, key: str) -> str:
            return _pct(by_task[t][key].value, "accuracy") if key in by_task[t] else "-"

        for c in cats:
            row = [f"{cell(t, f'official_accuracy[{c}]')} / {cell(t, f'accuracy[{c}]')}" for t in tasks]
            lines.append(f"| {c} | " + " | ".join(row) + " |")
    if inp.eval_files:
        lines += ["", "Source: " + ", ".join(f"`{f}`" for f in inp.eval_files) + " (in this repo)."]
    return "\n".join(lines)


def _table(flat: dict[str, Any]) -> list[str]:
    return ["| setting | value |", "|---|---|"] + [f"| `{k}` | {_cell(v)} |" for k, v in flat.items()]


def _highlight(key: str) -> bool:
    return key in HIGHLIGHT_KEYS or any(w in key.split("_") for w in HIGHLIGHT_WORDS)


def split_run_record(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run facts, settings): the fine-tuning recipe's ``videonet_finetune.json`` keeps the
    settings under ``config`` next to facts of the run (base model, step, LoRA merged)."""
    if isinstance(doc.get("config"), dict):
        return {k: v for k, v in doc.items() if k != "config"}, doc["config"]
    return {}, doc


def _config_section(inp: ModelCardInputs) -> str:
    if not inp.training_config:
        return "No training configuration was published with this checkpoint."
    run, cfg = split_run_record(inp.training_config)
    flat = flatten_config(cfg)
    key = {k: v for k, v in flat.items() if _highlight(k.rsplit(".", 1)[-1])}
    lines = []
    if run:
        lines += ["Run: " + "; ".join(f"{k} `{_cell(v)}`" for k, v in flatten_config(run).items()), ""]
    if key and len(key) < len(flat):
        lines += [
            "Main settings:",
            "",
            *_table(key),
            "",
            f"<details><summary>All {len(flat)} settings</summary>",
            "",
        ]
        lines += [*_table(flat), "", "</details>"]
    else:
        lines += _table(flat)
    if inp.training_config_file:
        lines += [
            "",
            f"The full configuration is `{inp.training_config_file}` in this repo (local paths shown as `<local>/...`).",
        ]
    return "\n".join(lines)


def _data_section(inp: ModelCardInputs, local_data: list[str]) -> str:
    lines = []
    for spec in inp.datasets:
        repo, config = _split_dataset(spec)
        lines.append(
            f"- [`{repo}`](https://huggingface.co/datasets/{repo})"
            + (f", config `{config}`" if config else "")
            + (f': `load_dataset("{repo}", "{config}")`' if config else "")
        )
    for ref in local_data:
        lines.append(f"- a local dataset folder {ref} (not on the Hub)")
    if not lines:
        return "The training data is not recorded. Publish it with `videonet publish train` and pass `--dataset ORG/NAME:CONFIG`."
    return "\n".join(lines)


def card_metadata(inp: ModelCardInputs) -> ModelCardData:
    results = []
    dataset_type = inp.benchmark_repo or "videonet"
    names = {
        "official_accuracy": "accuracy (%), official scoring (over parsed answers)",
        "accuracy": "accuracy (%), robust scoring (unparsed = wrong)",
    }
    for r in inp.eval_rows:
        if r.metric not in names:
            continue
        bc = benchmark_config_of(r.task)
        results.append(
            EvalResult(
                task_type="video-classification",
                task_name="Domain-specific action recognition",
                dataset_type=dataset_type,
                dataset_name=f"VideoNet ({r.task})",
                dataset_config=bc[0] if bc else None,
                dataset_split=bc[1] if bc else None,
                metric_type="accuracy",
                metric_name=names[r.metric],
                metric_value=round(100 * r.value, 2) if 0 <= r.value <= 1 else r.value,
            )
        )
    return ModelCardData(
        base_model=inp.base_model,
        datasets=[_split_dataset(d)[0] for d in inp.datasets] or None,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        license=inp.license,
        language=["en"],
        tags=[
            "videonet",
            "video",
            "action-recognition",
            "fine-grained",
            str(inp.model_config.get("model_type", "model")),
        ],
        model_name=inp.repo_id.split("/")[-1] if results else None,
        eval_results=results or None,
    )


def render_model_card(inp: ModelCardInputs) -> str:
    """The complete ``README.md`` of the model repo."""
    local_data: list[str] = []
    if inp.training_config:
        base, hub, local_data = infer_from_training_config(flatten_config(inp.training_config))
        if not inp.base_model and base:
            inp.base_model = base
            inp.notes.append(f"base model {base!r} taken from the training configuration")
        if not inp.datasets and hub:
            inp.datasets = hub
            inp.notes.append(f"training data {', '.join(hub)} taken from the training configuration")
        if inp.datasets:
            local_data = []  # the Hub ids describe the data
    archs = inp.model_config.get("architectures") or ["unknown"]
    name = inp.repo_id.split("/")[-1]
    base_sentence = (
        f"[`{inp.base_model}`](https://huggingface.co/{inp.base_model})"
        if inp.base_model
        else "a vision-language model"
    )
    return render_template(
        "model",
        card_metadata(inp).to_yaml(),
        model_name=name,
        model_slug=re.sub(r"[^\w.-]", "_", name),
        repo_id=inp.repo_id,
        base_sentence=base_sentence,
        tool_version=__version__,
        architecture=archs[0],
        model_type=inp.model_config.get("model_type", "unknown"),
        n_params=_fmt_params(inp.n_params),
        weights=inp.weights or "-",
        processor=inp.processor or "none published",
        benchmark_repo=inp.benchmark_repo or "ORG/videonet",
        data_section=_data_section(inp, local_data),
        config_section=_config_section(inp),
        eval_section=_eval_section(inp),
        license=inp.license,
    )

"""``videonet publish model``: check a ``save_pretrained`` folder and bundle it with its card.

What goes up is what ``AutoModelForImageTextToText.from_pretrained(repo)`` and
``AutoProcessor.from_pretrained(repo)`` need - config, weights, processor/tokenizer files -
plus the training configuration and evaluation results as provenance.  Training state
(``checkpoint-*/``, optimizer/scheduler/RNG state, pickled ``training_args.bin``, logs) is
left out by default: it is large, machine-specific and, as pickles, flagged by the Hub's
scanner.

Checked: ``config.json`` parses and transformers' ``AutoConfig`` reads it; weights exist
(a sharded index names only shards that exist and tensors those shards hold); a
processor is present; no local absolute path in any config/JSON/YAML/text file (tokenizer
vocabularies excepted - their tokens are not paths).  A PEFT adapter must name its base
model by Hub id, or nobody else can load it.  Provenance files (the recipe's
``videonet_finetune.json``, training configs, evaluation logs) are rewritten in the bundle
with local paths as ``<local>/<name>``; files transformers reads never are - a local path
there is an error to fix at the source.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from videonet_datasets.publish.bundle import (
    Bundle,
    PublishError,
    record_marker,
    redact_metadata_files,
    write_bundle,
)
from videonet_datasets.publish.check import Finding, Findings, list_files, scan_text_files
from videonet_datasets.publish.hashing import CACHE_FILE, digest_files
from videonet_datasets.publish.model_card import ModelCardInputs, parse_eval_results, render_model_card
from videonet_datasets.publish.paths import PathScanner, dump_structured, load_structured

__all__ = [
    "DEFAULT_MODEL_EXCLUDES",
    "EVAL_RESULT_NAMES",
    "TRAINING_CONFIG_NAMES",
    "ModelReport",
    "WeightsInfo",
    "check_model",
    "discover_eval_results",
    "inspect_weights",
    "stage_model",
]

DEFAULT_MODEL_EXCLUDES = (
    "checkpoint-*",
    "runs",
    "wandb",
    "logs",
    "optimizer.pt",
    "optimizer.bin",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "random_states_*.pkl",
    "*.pkl",
    "training_args.bin",
    "trainer_state.json",
    "*.lock",
)
# Looked up in the model folder when --training-config / --eval-results are not given.
TRAINING_CONFIG_NAMES = (
    "videonet_finetune.json",  # recipes/finetune_molmo2.py: {base_model, step, lora..., config: {...}}
    "training_config.yaml",
    "training_config.yml",
    "training_config.json",
    "train_config.yaml",
    "train_config.json",
    "finetune_config.yaml",
)
EVAL_RESULT_NAMES = ("eval_results.json", "videonet_eval.json", "lmms_eval_results.json", "results.json")
PROCESSOR_FILES = (
    "processor_config.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
)
# What transformers/peft read to load the model: never rewritten (a local path there is an error).
LOADER_FILES = (
    "config.json",
    "generation_config.json",
    "adapter_config.json",
    "model.safetensors.index.json",
    "adapter_model.safetensors.index.json",
    *PROCESSOR_FILES,
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.json",
    "vocab.json",
)
VOCAB_FILES = (
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "added_tokens.json",
    "special_tokens_map.json",
)


@dataclass
class WeightsInfo:
    files: list[str] = field(default_factory=list)
    num_parameters: int | None = None
    num_bytes: int = 0
    adapter: bool = False
    problems: list[Finding] = field(default_factory=list)

    def describe(self) -> str:
        shards = [f for f in self.files if not f.endswith(".index.json")]
        if not shards:
            return "none"
        what = (
            "LoRA/PEFT adapter"
            if self.adapter
            else "safetensors"
            if shards[0].endswith(".safetensors")
            else "pickled weights"
        )
        count = f"{len(shards)} shards" if len(shards) > 1 else f"`{shards[0]}`"
        return f"{what}, {count}, {self.num_bytes / 1e6:.1f} MB"


def _safetensors_keys(path: Path) -> dict[str, int]:
    """Tensor name -> number of elements, from the file's header alone.

    The format is an 8-byte little-endian header length, a JSON header
    ``{name: {dtype, shape, data_offsets}}`` and the data.  Reading it here needs no
    ``safetensors`` package (not a core dependency) and checks more than opening it would:
    every tensor's bytes must lie inside the file, which catches a truncated copy.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        n = int.from_bytes(head, "little")
        if n <= 0 or 8 + n > size:
            raise ValueError(f"header length {n} does not fit a file of {size} bytes")
        header = json.loads(f.read(n))
    data = size - 8 - n
    out: dict[str, int] = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        if not 0 <= begin <= end <= data:
            raise ValueError(f"tensor {name!r} lies outside the file (truncated?)")
        out[name] = math.prod(t["shape"])
    return out


def inspect_weights(root: Path, rels: list[str]) -> WeightsInfo:
    """Which weight files there are, whether they are complete, and the parameter count."""
    info = WeightsInfo()
    present = set(rels)
    index_name = next(
        (r for r in ("model.safetensors.index.json", "adapter_model.safetensors.index.json") if r in present),
        None,
    )
    if index_name:
        try:
            weight_map: dict[str, str] = json.loads((root / index_name).read_text())["weight_map"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            info.problems.append(Finding(index_name, "", f"unreadable shard index: {e}"))
            return info
        shards = sorted(set(weight_map.values()))
        info.files = [index_name, *shards]
        total = 0
        for shard in shards:
            if shard not in present:
                info.problems.append(
                    Finding(index_name, "weight_map", f"names shard {shard!r}, which is missing")
                )
                continue
            try:
                keys = _safetensors_keys(root / shard)
            except (OSError, ValueError, KeyError, TypeError) as e:
                info.problems.append(Finding(shard, "", f"not a readable safetensors file: {e}"))
                continue
            total += sum(keys.values())
            wrong = [k for k, s in weight_map.items() if s == shard and k not in keys]
            if wrong:
                info.problems.append(
                    Finding(
                        shard, "", f"{len(wrong)} tensor(s) of the index are not in it, e.g. {wrong[0]!r}"
                    )
                )
        info.num_parameters = total or None
    else:
        single = [r for r in ("model.safetensors", "adapter_model.safetensors") if r in present]
        for name in single:
            try:
                info.num_parameters = sum(_safetensors_keys(root / name).values())
            except (OSError, ValueError, KeyError, TypeError) as e:
                info.problems.append(Finding(name, "", f"not a readable safetensors file: {e}"))
        info.files = single or [
            r for r in rels if r.endswith((".bin", ".pt")) and "/" not in r and "model" in r
        ]
        if info.files and not single:
            info.problems.append(
                Finding(
                    info.files[0],
                    "",
                    "pickled weights; save with safe_serialization (safetensors)",
                    "warning",
                )
            )
    info.adapter = any(f.startswith("adapter_model") for f in info.files)
    info.num_bytes = sum((root / f).stat().st_size for f in info.files if f in present)
    if not info.files:
        info.problems.append(
            Finding(
                "", "", "no weights: expected model.safetensors, a sharded index or adapter_model.safetensors"
            )
        )
    return info


@dataclass
class ModelReport(Findings):
    root: Path
    findings: list[Finding] = field(default_factory=list)
    weights: WeightsInfo | None = None
    model_type: str | None = None
    num_files: int = 0
    num_bytes: int = 0

    def format(self, limit: int = 50) -> str:
        w = self.weights
        lines = [
            f"Checked model {self.root}: {self.num_files} files, {self.num_bytes / 1e6:.1f} MB",
            f"  model_type: {self.model_type or '?'}; weights: {w.describe() if w else '?'}"
            + (f"; {w.num_parameters:,} parameters" if w and w.num_parameters else ""),
        ]
        return "\n".join(lines + self.format_findings(limit))


def _check_autoconfig(report: ModelReport, root: Path) -> None:
    try:
        from transformers import AutoConfig
    except ImportError:
        report.findings.append(
            Finding(
                "config.json",
                "",
                "transformers is not installed: AutoConfig could not try to load it",
                "warning",
            )
        )
        return
    try:
        AutoConfig.from_pretrained(str(root))
    except Exception as e:  # transformers raises many kinds here (ValueError, KeyError, OSError, ...)
        report.findings.append(Finding("config.json", "", f"transformers' AutoConfig cannot read it: {e}"))


def check_model(
    root: str | os.PathLike, *, scanner: PathScanner | None = None, load_config: bool = True
) -> ModelReport:
    """The checks of the module docstring on a model folder."""
    root = Path(root)
    rels, _ = list_files(root)
    report = ModelReport(
        root=root, num_files=len(rels), num_bytes=sum((root / r).stat().st_size for r in rels)
    )
    scanner = scanner or PathScanner(extra=[root.resolve()])
    present = set(rels)
    adapter_cfg = None
    if "adapter_config.json" in present:
        try:
            adapter_cfg = json.loads((root / "adapter_config.json").read_text())
        except json.JSONDecodeError as e:
            report.findings.append(Finding("adapter_config.json", "", f"not JSON: {e}"))
    if "config.json" in present:
        try:
            cfg = json.loads((root / "config.json").read_text())
            report.model_type = cfg.get("model_type")
            if not report.model_type:
                report.findings.append(
                    Finding("config.json", "$.model_type", "missing: transformers cannot pick a class")
                )
        except json.JSONDecodeError as e:
            report.findings.append(Finding("config.json", "", f"not JSON: {e}"))
        else:
            if load_config and report.model_type:
                _check_autoconfig(report, root)
    elif adapter_cfg is None:
        report.findings.append(Finding("config.json", "", "missing: not a save_pretrained folder"))
    if adapter_cfg is not None:
        base = adapter_cfg.get("base_model_name_or_path")
        if (
            not base
            or "/" not in str(base)
            or str(base).startswith(("/", ".", "~"))
            or scanner.find(str(base))
        ):
            report.findings.append(
                Finding(
                    "adapter_config.json",
                    "$.base_model_name_or_path",
                    f"{base!r} is not a Hub model id; set it to the base model's id (e.g. allenai/Molmo2-4B)",
                )
            )
    report.weights = inspect_weights(root, rels)
    report.findings += report.weights.problems
    if not present & set(PROCESSOR_FILES):
        report.findings.append(
            Finding(
                "",
                "",
                "no processor/tokenizer files: AutoProcessor and lmms-eval need them (save the processor too)",
                "warning",
            )
        )
    report.findings += scan_text_files(root, rels, scanner, skip=VOCAB_FILES)
    return report


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        if "/" in pat:
            if fnmatch.fnmatch(rel, pat):
                return True
        elif any(fnmatch.fnmatch(p, pat) for p in parts):
            return True
    return False


def _read_provenance(src: Path, path: Path, dest_dir: str, scanner: PathScanner) -> tuple[str, Any, str, int]:
    """(name in the bundle, object with local paths replaced, its text, replacements) of a
    training config or evaluation file, inside the model folder or given from elsewhere."""
    if not path.is_file():
        raise PublishError(f"{path}: no such file")
    try:
        name = path.resolve().relative_to(src.resolve()).as_posix()
    except ValueError:
        name = f"{dest_dir}/{path.name}"
    try:
        obj = load_structured(path)
    except (OSError, json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise PublishError(f"{path}: cannot be read as JSON/YAML: {e}") from e
    clean, n = scanner.redact_obj(obj)
    return name, clean, dump_structured(path, clean), n


def discover_eval_results(src: Path, rels: list[str]) -> list[Path]:
    """Evaluation results next to the weights, else the newest ``*_results.json`` that the
    fine-tuning recipe's evaluation hook wrote under ``OUTPUT/eval/`` (``src`` = ``OUTPUT/final``)."""
    inside = [src / r for r in EVAL_RESULT_NAMES if r in rels]
    if inside:
        return inside[:1]
    runs = sorted((src.parent / "eval").rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
    return runs[-1:]


def _hint_for(src: Path) -> str:
    nested = [p.parent.name for p in sorted(src.glob("*/config.json"))]
    return f" (did you mean {src / nested[0]}?)" if nested else " (save model and processor there)"


def stage_model(
    src: str | os.PathLike,
    repo_id: str,
    out: str | os.PathLike | None = None,
    *,
    training_config: str | os.PathLike | None = None,
    eval_results: list[str | os.PathLike] | None = None,
    base_model: str | None = None,
    datasets: list[str] | None = None,
    benchmark_repo: str | None = None,
    license: str = "other",
    excludes: tuple[str, ...] = DEFAULT_MODEL_EXCLUDES,
    progress: bool = True,
) -> Bundle:
    """Check a model folder and write its bundle with a rendered card.

    ``training_config`` / ``eval_results`` default to what is found: a training config or
    the recipe's ``videonet_finetune.json`` in the folder; evaluation results in the folder
    or, for the recipe's ``OUTPUT/final``, the newest under ``OUTPUT/eval/``.
    """
    src = Path(src)
    if not src.is_dir():
        raise PublishError(f"{src}: not a folder")
    rels, hidden = list_files(src)
    skipped = [h for h in hidden if h != CACHE_FILE] + [r for r in rels if _excluded(r, excludes)]
    rels = [r for r in rels if not _excluded(r, excludes)]
    if "config.json" not in rels and "adapter_config.json" not in rels:
        raise PublishError(f"{src}: no config.json - not a save_pretrained folder{_hint_for(src)}")
    model_config = json.loads((src / "config.json").read_text()) if "config.json" in rels else {}
    scanner = PathScanner(extra=[src.resolve()] + ([Path(out).resolve()] if out else []))
    generated: dict[str, str] = {}
    replaced: dict[str, int] = {}
    # Provenance files in the folder lose their local paths; files transformers loads keep
    # theirs and, if they have any, fail the check.
    for rel, (text, n) in redact_metadata_files(src, rels, scanner, keep=LOADER_FILES).items():
        generated[rel], replaced[rel] = text, n

    inp = ModelCardInputs(
        repo_id=repo_id,
        model_config=model_config,
        base_model=base_model,
        datasets=list(datasets or []),
        benchmark_repo=benchmark_repo,
        license=license,
    )
    tc_path = (
        Path(training_config)
        if training_config
        else next((src / r for r in TRAINING_CONFIG_NAMES if r in rels), None)
    )
    if tc_path is not None:
        name, obj, text, n = _read_provenance(src, tc_path, "training", scanner)
        if not isinstance(obj, dict):
            raise PublishError(f"{tc_path}: the training configuration must be a mapping")
        inp.training_config, inp.training_config_file = obj, name
        generated[name], replaced[name] = text, n
    eval_paths = [Path(e) for e in eval_results] if eval_results else discover_eval_results(src, rels)
    for path in eval_paths:
        name, obj, text, n = _read_provenance(src, path, "eval", scanner)
        try:
            rows = parse_eval_results(obj, str(path))
        except ValueError as e:
            raise PublishError(str(e)) from e
        if not rows:
            raise PublishError(f"{path}: no numeric metrics found in it")
        inp.eval_rows += rows
        inp.eval_files.append(name)
        generated[name], replaced[name] = text, n

    notes = [
        f"{rel}: replaced {n} local path(s) by <local>/<name>" for rel, n in sorted(replaced.items()) if n
    ]
    if eval_paths and not eval_results:
        notes.append(f"evaluation results from {eval_paths[0]} (pass --eval-results to choose others)")
    weights = inspect_weights(src, rels)
    inp.n_params = weights.num_parameters
    inp.weights = weights.describe()
    inp.processor = ", ".join(f"`{r}`" for r in PROCESSOR_FILES if r in rels)
    if "README.md" in rels:
        notes.append("replaced the folder's README.md by the rendered model card")
    generated["README.md"] = render_model_card(inp)
    notes += [f"card: {n}" for n in inp.notes]
    if not inp.base_model:
        notes.append("card: no base model Hub id recorded (pass --base-model ORG/NAME)")
    all_rels = sorted(set(rels) | set(generated))

    def check(staged: Path) -> ModelReport:
        return check_model(staged, scanner=PathScanner(extra=[*scanner.extra, staged.resolve()]))

    root, report, temporary = write_bundle(src, Path(out) if out else None, all_rels, generated, check)
    files = digest_files(root, list_files(root)[0], cache=src / CACHE_FILE, progress=progress)
    bundle = Bundle(
        kind="model",
        repo_type="model",
        repo_id=repo_id,
        root=root,
        files=files,
        report=report,
        notes=notes,
        skipped=skipped,
        temporary=temporary,
    )
    record_marker(bundle)
    return bundle

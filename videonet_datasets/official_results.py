"""The authors' result files, both ways: written from lmms-eval samples, read into reports.

The VideoNet authors' evaluation code (``RAIVNLab/VideoNet`` ``src/eval.py``) saves one JSON
file per benchmark configuration - ``results/<model>/{mcq_test,mcq_val,zero,one,two,three}.json``
- mapping each question's ``key`` to::

    {"accurate": 1 | 0 | -1, "prediction": "<the extracted answer>", "response": "<the model's text>"}

(1 correct, 0 wrong, -1 unparsable).  :func:`export_samples` writes that layout from lmms-eval's
``--log_samples`` output, scoring every answer under the ``official`` convention
(:mod:`videonet_datasets.official`, the published code's defects fixed); :func:`read_file`
and :func:`rescore` read such files - the authors' own runs or ours - back into the metric keys
the lmms-eval tasks report, so ``videonet report`` puts published runs and ours in one table.

Differences from the published files, on purpose: a question whose model call failed is
written with ``accurate: -1`` and an empty response (the published code leaves it out);
``response`` is the text that was scored (lmms-eval's filtered response: reasoning blocks
already removed).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets import official
from videonet_datasets.fsutil import atomic_write_text, labelled_path

__all__ = [
    "FILE_FOR_TASK",
    "OfficialRun",
    "SampleRun",
    "export_samples",
    "is_official_results",
    "read_file",
    "read_samples",
    "rescore",
    "task_for_file",
]

#: lmms-eval task -> the authors' file name (their ``src/eval.py`` default names).
FILE_FOR_TASK: dict[str, str] = {
    "videonet_mc": "mcq_test.json",
    "videonet_mc_val": "mcq_val.json",
    "videonet_binary_hard_0shot": "zero.json",
    "videonet_binary_hard_1shot": "one.json",
    "videonet_binary_hard_2shot": "two.json",
    "videonet_binary_hard_3shot": "three.json",
}
_TASK_FOR_FILE = {v: k for k, v in FILE_FOR_TASK.items()}
_KSHOT_NAME = re.compile(r"(?:binary_)?(?P<k>[0-3])[-_]?shot")
_SAMPLES_RE = re.compile(r"^(?P<date>.+?)_samples_(?P<task>videonet_\w+)\.jsonl$")


def _key_kind(key: str) -> str | None:
    from videonet_datasets.benchmark.release import parse_key

    parsed = parse_key(key)
    return parsed[1] if parsed else None


def is_official_results(doc: object) -> bool:
    """A JSON object of release keys -> ``{"accurate", "prediction", "response"}``."""
    if not isinstance(doc, dict) or not doc:
        return False
    return all(
        isinstance(v, dict) and "accurate" in v and "response" in v and _key_kind(str(k)) is not None
        for k, v in doc.items()
    )


def task_for_file(path: Path, keys: Iterable[str]) -> str | None:
    """The lmms-eval task a result file holds: by the authors' file name, else by its keys
    (MC test/validation) and a k in its name (``binary_2shot.json``, ``2shot``)."""
    if path.name in _TASK_FOR_FILE:
        return _TASK_FOR_FILE[path.name]
    kinds = {_key_kind(k) for k in keys}
    if kinds == {"mcq-test"}:
        return "videonet_mc"
    if kinds == {"mcq-val"}:
        return "videonet_mc_val"
    m = _KSHOT_NAME.search(path.stem)
    if kinds <= {"pos", "neg"} and m:
        return f"videonet_binary_hard_{m.group('k')}shot"
    if path.stem.startswith("videonet_"):
        return path.stem
    return None


@dataclass
class OfficialRun:
    """One result file: its task and entries (key -> accurate/prediction/response)."""

    path: Path
    task: str
    entries: dict[str, dict[str, Any]]


def read_file(path: str | os.PathLike) -> OfficialRun | None:
    """The result file at ``path``, or None when it is not in the authors' format.

    Raises ``ValueError`` naming the file when it is but its task cannot be told."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not is_official_results(doc):
        return None
    task = task_for_file(path, doc)
    if task is None:
        raise ValueError(
            f"{path}: an official result file, but its configuration is unknown: name it like the authors' "
            f"files ({', '.join(FILE_FOR_TASK.values())}) or binary_<k>shot.json"
        )
    return OfficialRun(path, task, {str(k): v for k, v in doc.items()})


# ----------------------------------------------------------------------------- writing


def _text(value: Any) -> str:
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else ""


def entry_for(doc: Mapping[str, Any], response: str) -> dict[str, Any]:
    """One question's result entry under the official convention."""
    from videonet_datasets.prompts import option_letters

    if doc.get("options") is not None:
        score = official.score_mc(response, str(doc["answer"]), option_letters(len(doc["options"])))
    else:
        score = official.score_binary(response, str(doc["label"]))
    return {"accurate": score.accurate, "prediction": score.prediction, "response": response}


def _sample_entry(line: str, where: str) -> tuple[str, dict[str, Any]]:
    """(key, result entry) of one lmms-eval sample line of a VideoNet task.

    lmms-eval 0.7.3's sample logs drop the document; the tasks' per-question record (the
    ``answer_counts`` value) names the question and carries its official scoring.  Logs that
    keep the document are scored from it."""
    try:
        sample = json.loads(line)
    except ValueError as e:
        raise ValueError(f"{where}: not JSON ({e})") from e
    if not isinstance(sample, dict):
        raise ValueError(f"{where}: not an lmms-eval sample")
    response = _text(sample.get("filtered_resps"))
    record = sample.get("answer_counts")
    if isinstance(record, dict) and record.get("question_id") and "official_accurate" in record:
        entry = {
            "accurate": record["official_accurate"],
            "prediction": record.get("official_prediction", ""),
            "response": response,
        }
        return str(record["question_id"]), entry
    doc = sample.get("doc")
    if isinstance(doc, dict) and doc.get("question_id"):
        return str(doc["question_id"]), entry_for(doc, response)
    raise ValueError(
        f"{where}: not a sample of a VideoNet task (no question id: logged by an older version of the tasks?)"
    )


@dataclass
class ExportSummary:
    written: dict[str, list[Path]] = field(default_factory=dict)  # model label -> files
    notes: list[str] = field(default_factory=list)


def _samples_files(run: Path) -> dict[tuple[Path, str], Path]:
    """(model folder, task) -> newest samples file of the task under ``run``."""
    found: dict[tuple[Path, str], Path] = {}
    for f in sorted(run.rglob("*_samples_videonet_*.jsonl")):
        m = _SAMPLES_RE.match(f.name)
        if not m:
            continue
        key = (f.parent, m.group("task"))
        if key not in found or f.name > found[key].name:  # date-stamped names sort by time
            found[key] = f
    return found


def _label_of(folder: Path) -> str:
    """The model label of an lmms-eval output folder (from its results file, else its name)."""
    for f in sorted(folder.glob("*_results.json"), reverse=True):
        try:
            cfg = json.loads(f.read_text(encoding="utf-8")).get("config") or {}
        except (OSError, ValueError):
            continue
        model = str(cfg.get("model") or "")
        for part in str(cfg.get("model_args") or "").split(","):
            k, _, v = part.partition("=")
            if k.strip() in ("pretrained", "model", "model_version", "model_name") and v.strip():
                return Path(v.strip().rstrip("/")).name
        if model:
            return model
    return folder.name


@dataclass
class SampleRun:
    """One task's logged samples of one model: question key -> result entry (``response`` is
    the text that was scored)."""

    model: str
    task: str
    path: Path
    entries: dict[str, dict[str, Any]]


def read_samples(runs: Sequence[str | os.PathLike]) -> list[SampleRun]:
    """Every VideoNet task's newest samples file under the lmms-eval runs ``RUN`` or ``NAME=RUN``
    (made with ``--log_samples``), labelled like ``videonet report`` labels them."""
    out: list[SampleRun] = []
    for spec in runs:
        label, run = labelled_path(spec)
        if not run.exists():
            raise FileNotFoundError(f"{run}: no such lmms-eval output directory")
        files = _samples_files(run) if run.is_dir() else {}
        if not files:
            raise FileNotFoundError(
                f"{run}: no VideoNet samples files (*_samples_videonet_*.jsonl); run lmms-eval / videonet eval "
                "with --log_samples"
            )
        folders = sorted({folder for folder, _ in files})
        for (folder, task), path in sorted(files.items()):
            name = label or _label_of(folder)
            if label and len(folders) > 1:
                name = f"{label}-{_label_of(folder)}"
            entries: dict[str, dict[str, Any]] = {}
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, start=1):
                    if line.strip():
                        key, entry = _sample_entry(line, f"{path}:{n}")
                        entries[key] = entry
            out.append(SampleRun(name, task, path, entries))
    return out


def export_samples(runs: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> ExportSummary:
    """Write the authors' layout ``OUT/<model>/<file>.json`` from lmms-eval runs made with
    ``--log_samples`` (``RUN`` or ``NAME=RUN``).  Tasks outside the release's six
    configurations are written as ``<task>.json`` in the same format."""
    out = Path(out_dir)
    summary = ExportSummary()
    for run in read_samples(runs):
        fname = FILE_FOR_TASK.get(run.task, f"{run.task}.json")
        target = out / run.model / fname
        atomic_write_text(target, json.dumps(run.entries, ensure_ascii=False, indent=1) + "\n")
        summary.written.setdefault(run.model, []).append(target)
        if run.task not in FILE_FOR_TASK:
            summary.notes.append(
                f"{run.model}: {run.task} is not one of the release's configurations; wrote {fname}"
            )
    return summary


# ----------------------------------------------------------------------------- reading back


def rescore(
    run: OfficialRun, questions: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The metric values (the lmms-eval tasks' keys, both conventions) of a result file, and notes.

    With ``questions`` (question_id -> benchmark row) every response is re-scored exactly as
    the tasks score it, categories and domains included.  Without, binary files are re-scored
    from their responses (the answer is in the key) with overall keys only, and MC files -
    whose correct letter is not in the file - keep their stored ``accurate`` codes for the
    official convention (the robust one needs the questions).
    """
    from videonet_datasets import scoring as metrics

    notes: list[str] = []
    binary = run.task not in ("videonet_mc", "videonet_mc_val") and "_mc" not in run.task
    if questions is not None:
        missing = [k for k in run.entries if k not in questions]
        if missing:
            notes.append(
                f"{run.path}: {len(missing)} key(s) are not questions of the given data (e.g. {missing[0]}); "
                "left out"
            )
        docs = [(questions[k], e) for k, e in run.entries.items() if k in questions]
        values = [
            (metrics.score_binary if binary else metrics.score_mc)(doc, _text(e.get("response")))
            for doc, e in docs
        ]
        cats = list(dict.fromkeys(d["category"] for d, _ in docs))
        doms = list(dict.fromkeys((d["category"], d["domain"]) for d, _ in docs))
        return metrics.aggregate(values, metrics.metric_list(binary, cats, doms)), notes
    if binary:
        values = []
        for key, e in run.entries.items():
            doc = {"category": "-", "domain": "-", "label": "yes" if _key_kind(key) == "pos" else "no"}
            v = metrics.score_binary(doc, _text(e.get("response")))
            values.append({k: x for k, x in v.items() if "[" not in k})
        notes.append(f"{run.path}: no question data given: overall numbers only (pass --data for categories)")
        return metrics.aggregate(values, metrics.metric_list(True, [], [])), notes
    codes, predictions = [], []
    for key, e in run.entries.items():
        code = e.get("accurate")
        if code not in (1, 0, -1):
            raise ValueError(f"{run.path}: key {key!r}: 'accurate' must be 1, 0 or -1, got {code!r}")
        codes.append(code)
        predictions.append(str(e.get("prediction") or ""))
    fixed = official.summarize(codes)
    out: dict[str, Any] = {"official_unparsable": fixed.unparsable}
    if fixed.accuracy is not None:
        out["official_accuracy"] = fixed.accuracy
        out["official_as_published"] = official.summarize(
            codes, published=True, predictions=predictions
        ).accuracy
    notes.append(
        f"{run.path}: multiple-choice file without question data: official scores from its stored codes "
        "(\\boxed{X} answers stay unparsable there); pass --data to re-score both conventions"
    )
    return out, notes

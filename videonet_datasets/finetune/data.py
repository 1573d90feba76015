"""Training rows -> clips with their question-answer pairs.

Two row formats are read, both through 🤗 ``datasets`` (a local directory or a Hub id, in
memory or streamed):

* **training data** (``videonet train-data``, ``videonet_datasets/train_data/output.py``): one
  row per clip - ``clip_uid``, ``video`` (relative to the dataset root), ``qa`` = three
  ``{kind, asked_action, prompt, answer, options}`` whose ``prompt`` is the project prompt
  builder's text with its ``<video>`` placeholder;
* **benchmark rows** (``videonet build-benchmark``): one question per row (``mc`` or
  ``binary_0shot``-style configs).  Their questions are rebuilt with the same prompt builder
  the evaluation tasks use; several configs can be read at once and the questions of one
  clip grouped into one packed sample, like the training data's three.

Either way a clip becomes a :class:`ClipRecord`: the video as stored plus
:class:`QAPair` s whose question is the prompt *text* (the placeholder removed: Molmo2's chat
template puts the video first, exactly as at evaluation time) and whose answer is the target
("yes"/"no" or a letter).  Rows that cannot be trained on raise :class:`DataError` naming
the dataset, config, split, row and problem; nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.prompts import binary_prompt, binary_target, mc_prompt

log = logging.getLogger(__name__)

__all__ = [
    "VIDEO_PLACEHOLDER",
    "ClipRecord",
    "DataError",
    "DataSource",
    "QAPair",
    "VideoResolver",
    "benchmark_qa",
    "detect_format",
    "group_by_clip",
    "open_source",
    "question_text",
    "record_from_train_row",
]

#: The video placeholder of :meth:`videonet_datasets.prompts.Prompt.render` (training ``prompt`` s).
VIDEO_PLACEHOLDER = "<video>"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?")


class DataError(ValueError):
    """A row cannot be trained on; the message says where and why."""


@dataclass(frozen=True)
class QAPair:
    question: str  # prompt text without the video placeholder
    answer: str  # the target: "yes" / "no" / an option letter
    kind: str = ""  # binary_yes | binary_no | mc (training data), mc | binary (benchmark)
    # What a question is about, for rebuilding it (MC options re-drawn per epoch) and for the
    # reinforcement fine-tuning's rewards and tools; the supervised recipe needs none of it.
    domain: str = ""
    action: str = ""  # the action asked about (binary) or the correct option (MC)
    options: tuple[str, ...] = ()  # MC option texts in letter order
    definition: str = ""  # of ``action``, when the rows carry it (benchmark rows)
    subdomain: str = ""  # of ``action``, when the rows carry it (the MC question's wording may use it)


@dataclass(frozen=True)
class ClipRecord:
    """One training sample: a clip and the questions asked about it."""

    uid: str
    video: str  # as stored: relative to the dataset root, or absolute
    qas: tuple[QAPair, ...]
    where: str = ""  # "dataset[config/split] row i", for error messages


@dataclass
class VideoResolver:
    """Turns a row's ``video`` into a local file: under the dataset root, or fetched from the Hub.

    Plain attributes only, so it pickles into data-loader workers.
    """

    root: Path | None = None
    repo_id: str | None = None
    revision: str | None = None

    def __call__(self, video: str) -> Path:
        path = Path(video)
        if path.is_absolute():
            return path
        if self.repo_id is not None:
            from huggingface_hub import hf_hub_download

            return Path(
                hf_hub_download(self.repo_id, filename=video, repo_type="dataset", revision=self.revision)
            )
        if self.root is None:
            raise DataError(f"relative video path {video!r} but no dataset root to resolve it against")
        return self.root / path


def question_text(prompt: str, where: str = "") -> str:
    """The question of a rendered training prompt: its text without the ``<video>`` placeholder.

    Molmo2 takes one video per sample and its chat template hoists it before the text, which
    is also how the evaluation tasks present the question; text around the placeholder is
    joined by one space, as the template joins a turn's text parts.
    """
    count = prompt.count(VIDEO_PLACEHOLDER)
    if count != 1:
        raise DataError(
            f"{where}: a prompt must hold exactly one {VIDEO_PLACEHOLDER} placeholder (Molmo2 takes one "
            f"video per sample), found {count}: {prompt[:80]!r}"
        )
    parts = [p.strip("\n") for p in prompt.split(VIDEO_PLACEHOLDER)]
    text = " ".join(p for p in parts if p.strip())
    if not text.strip():
        raise DataError(f"{where}: the prompt has no question text")
    return text


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: column {key!r} must be a non-empty string, got {value!r}")
    return value


def record_from_train_row(row: Mapping[str, Any], where: str) -> ClipRecord:
    """A training-data row (``train_data/output.py`` FEATURES) as a :class:`ClipRecord`."""
    uid = _text(row, "clip_uid", where)
    where = f"{where} (clip_uid={uid})"
    video = _text(row, "video", where)
    qa = row.get("qa")
    if not isinstance(qa, list) or not qa:
        raise DataError(f"{where}: column 'qa' must be a non-empty list of question-answer pairs, got {qa!r}")
    pairs = []
    for i, item in enumerate(qa):
        at = f"{where} qa[{i}]"
        if not isinstance(item, Mapping):
            raise DataError(f"{at}: expected a mapping with prompt and answer, got {item!r}")
        pairs.append(
            QAPair(
                question=question_text(_text(item, "prompt", at), at),
                answer=_text(item, "answer", at).strip(),
                kind=str(item.get("kind") or ""),
                domain=str(row.get("domain") or ""),
                action=str(item.get("asked_action") or ""),
                options=tuple(str(o) for o in item.get("options") or ()),
            )
        )
    return ClipRecord(uid=uid, video=video, qas=tuple(pairs), where=where)


def benchmark_qa(row: Mapping[str, Any], where: str) -> QAPair:
    """The question of a benchmark row, built with the evaluation tasks' prompt builder."""
    try:
        options = row.get("options")
        if options is not None:
            answer = _text(row, "answer", where).strip()
            letters = [chr(ord("A") + i) for i in range(len(options))]
            if answer not in letters:
                raise DataError(f"{where}: answer {answer!r} is not one of the option letters {letters}")
            domain = _text(row, "domain", where)
            return QAPair(
                mc_prompt(domain, list(options), row.get("subdomain")).plain_text(), answer, "mc", domain=domain,
                action=str(row.get("action") or ""), options=tuple(str(o) for o in options),
                definition=str(row.get("definition") or ""), subdomain=str(row.get("subdomain") or ""),
            )  # fmt: skip
        if "label" not in row:
            raise DataError(
                f"{where}: neither 'options' (multiple choice) nor 'label' (binary): not a benchmark row"
            )
        k = int(row.get("k") or 0)
        if k or row.get("example_videos"):
            raise DataError(
                f"{where}: a {k}-shot binary question carries {k} in-context videos, but Molmo2 takes one "
                "video per sample: train on the mc / binary_0shot / binary_random_0shot configs"
            )
        action, domain = _text(row, "action", where), _text(row, "domain", where)
        prompt = binary_prompt(action, domain, row.get("subdomain"))
        return QAPair(prompt.plain_text(), binary_target(row["label"]), "binary", domain=domain, action=action,
                      definition=str(row.get("definition") or ""))  # fmt: skip
    except DataError:
        raise
    except ValueError as e:  # the prompt builder's checks
        raise DataError(f"{where}: {e}") from e


def group_by_clip(rows: Iterable[tuple[Mapping[str, Any], str]]) -> list[ClipRecord]:
    """Benchmark rows -> one record per clip (first-seen order) holding all its questions."""
    by_clip: dict[str, dict[str, Any]] = {}
    for row, where in rows:
        qa = benchmark_qa(row, where)
        clip_id = _text(row, "clip_id", where)
        entry = by_clip.setdefault(clip_id, {"video": _text(row, "video", where), "qas": [], "where": where})
        if entry["video"] != row["video"]:
            raise DataError(f"{where}: clip {clip_id!r} has video {row['video']!r} here and {entry['video']!r} "
                            f"at {entry['where']}")  # fmt: skip
        entry["qas"].append(qa)
    return [
        ClipRecord(uid=c, video=e["video"], qas=tuple(e["qas"]), where=e["where"]) for c, e in by_clip.items()
    ]


def detect_format(columns: Iterable[str], where: str) -> str:
    """``"train"`` (a ``qa`` column) or ``"benchmark"`` (``question_id`` + options/label)."""
    cols = set(columns)
    if {"clip_uid", "video", "qa"} <= cols:
        return "train"
    if {"question_id", "clip_id", "video"} <= cols and ("options" in cols or "label" in cols):
        return "benchmark"
    raise DataError(
        f"{where}: unrecognised columns {sorted(cols)}; expected the training-data schema (clip_uid, video, "
        "qa, ...) or benchmark rows (question_id, clip_id, video, options/label, ...)"
    )


# ---------------------------------------------------------------------------- opening


@dataclass
class DataSource:
    """What :func:`open_source` opened: records in memory, or a stream of rows."""

    description: str
    format: str
    resolver: VideoResolver
    records: list[ClipRecord] | None = None  # in memory
    stream: Any = None  # datasets.IterableDataset (streaming)
    skipped: list[str] = field(default_factory=list)  # clips left out, with the reason

    def stream_records(self, rows: Iterable[Mapping[str, Any]], offset: int = 0) -> Iterator[ClipRecord]:
        """Records of streamed rows (training format, or one benchmark question per record)."""
        for i, row in enumerate(rows, start=offset):
            where = f"{self.description} streamed row {i}"
            if self.format == "train":
                yield record_from_train_row(row, where)
            else:
                yield group_by_clip([(row, where)])[0]


def _split_spec(dataset: str) -> tuple[str, str | None]:
    name, _, revision = dataset.partition("@")
    return name, revision or None


def _is_hub_id(dataset: str) -> bool:
    return bool(_HUB_ID.fullmatch(dataset)) and not dataset.startswith((".", "~", "/"))


def _hub_snapshot(repo_id: str, revision: str | None, configs: list[str]) -> Path:
    """Card + the data files of ``configs`` from the Hub (videos are fetched per clip later)."""
    from huggingface_hub import snapshot_download

    patterns = ["README.md", *(f"data/{c}/*" for c in configs)]
    return Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=patterns))


def _load(root: str, config: str, split: str, streaming: bool, description: str):
    from videonet_datasets.local_datasets import load_local_dataset

    try:
        if Path(root).is_dir():
            return load_local_dataset(root, config, split=split, streaming=streaming)
        import datasets

        return datasets.load_dataset(root, config, split=split, streaming=streaming)
    except (ValueError, FileNotFoundError) as e:
        raise DataError(f"{description}: cannot load config {config!r} split {split!r}: {e}") from e


def open_source(
    dataset: str,
    configs: str | list[str],
    split: str,
    *,
    fmt: str = "auto",
    streaming: bool = False,
    max_clips: int | None = None,
    check_videos: bool = True,
    skip_missing_videos: bool = False,
) -> DataSource:
    """Open the training rows of ``dataset`` (local directory or Hub id ``ns/name[@rev]``).

    In memory (the default) every row is converted and checked up front - a wrong row fails
    before the first step, and with a local root every video file must exist (or, with
    ``skip_missing_videos``, the clip is left out and listed in ``skipped``).  Streamed,
    rows are converted as they are read.
    """
    config_list = [
        c.strip() for c in (configs.split(",") if isinstance(configs, str) else configs) if c.strip()
    ]
    if not config_list:
        raise DataError(f"{dataset}: no dataset config given")
    name, revision = _split_spec(dataset)
    local = Path(name).expanduser()
    if local.exists():
        if not local.is_dir():
            raise DataError(f"{dataset}: {local} is a file; give the dataset directory (with its README.md)")
        root: Path = local.resolve()
        resolver = VideoResolver(root=root)
        load_root = str(root)
    elif _is_hub_id(name):
        resolver = VideoResolver(repo_id=name, revision=revision)
        if streaming:
            load_root = name
        else:
            root = _hub_snapshot(name, revision, config_list)
            load_root = str(root)
    else:
        raise DataError(
            f"training data not found: {dataset!r} is neither a directory nor a Hub dataset id (namespace/name)"
        )
    description = f"{dataset}[{','.join(config_list)}/{split}]"
    if streaming:
        if len(config_list) != 1:
            raise DataError(f"{description}: streaming reads one config at a time")
        stream = _load(load_root, config_list[0], split, True, description)
        columns = list(stream.features) if stream.features is not None else list(next(iter(stream)))
        found = detect_format(columns, description) if fmt == "auto" else fmt
        return DataSource(description, found, resolver, stream=stream)

    tables = [(c, _load(load_root, c, split, False, description)) for c in config_list]
    formats = {c: detect_format(t.column_names, f"{dataset}[{c}/{split}]") for c, t in tables}
    found = formats[config_list[0]] if fmt == "auto" else fmt
    mixed = sorted({f for f in formats.values() if f != found})
    if mixed:
        raise DataError(f"{description}: configs mix row formats {formats}; train on one format at a time")
    if found == "train":
        if len(tables) != 1:
            raise DataError(f"{description}: give one training-data config (a filter), not several")
        config, table = tables[0]
        records = [
            record_from_train_row(row, f"{dataset}[{config}/{split}] row {i}") for i, row in enumerate(table)
        ]
    else:
        rows = ((row, f"{dataset}[{c}/{split}] row {i}") for c, t in tables for i, row in enumerate(t))
        records = group_by_clip(rows)
    if max_clips is not None:
        records = records[:max_clips]
    source = DataSource(description, found, resolver, records=records)
    if check_videos and resolver.repo_id is None:
        _check_videos(source, skip_missing_videos)
    if not source.records:
        raise DataError(f"{description}: no clips to train on")
    return source


def _check_videos(source: DataSource, skip_missing: bool) -> None:
    """Every clip's video file exists, or the clip is left out (``skip_missing``) and listed."""
    assert source.records is not None
    missing = [r for r in source.records if not os.path.isfile(source.resolver(r.video))]
    if not missing:
        return
    listed = "\n  ".join(f"{r.where}: {source.resolver(r.video)}" for r in missing[:20])
    more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
    if not skip_missing:
        raise DataError(
            f"{source.description}: {len(missing)} of {len(source.records)} clip(s) have no video file "
            f"(pass skip_missing_videos to leave them out):\n  {listed}{more}"
        )
    gone = {id(r) for r in missing}
    source.records = [r for r in source.records if id(r) not in gone]
    source.skipped += [f"{r.uid}: video file missing ({source.resolver(r.video)})" for r in missing]
    log.warning(
        "%s: left out %d clip(s) with missing videos:\n  %s%s", source.description, len(missing), listed, more
    )

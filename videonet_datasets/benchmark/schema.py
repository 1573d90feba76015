"""The benchmark's Hub schema: config names, splits and the columns of every row.

One place defines it; the builder writes it, the dataset card documents it, the
lmms-eval tasks and the publisher read it.

Layout of a built benchmark directory (a 🤗 dataset repo)::

    videonet/
      README.md                         dataset card; YAML ``configs:`` lists every config
      data/mc/test-00000-of-00001.parquet
      data/mc/validation-00000-of-00001.parquet
      data/binary_0shot/test-00000-of-00001.parquet   ... binary_3shot
      data/binary_random_0shot/test-00000-of-00001.parquet ... binary_random_3shot
      videos/<clip_id>.mp4              every clip once, trimmed, silent (shared pool)
      annotations/{actions,hard_negatives,clips}.csv   the validated source tables
      build_info.json                   seed, counts, tool version, skipped clips

Video columns hold paths *relative to the dataset root* (``videos/<clip_id>.mp4``), not
bytes: a clip used by many rows (in-context examples appear in every k-shot question
of their action) is stored once.  :func:`videonet_datasets.benchmark.resolve_video`
turns them into local paths.

Every row is a question in the official release's form too: ``question_id`` is the
release's ``key`` (``<action_id>-mcq-val-1``, ``<action_id>-mcq-test-<n>``,
``<action_id>-pos-<n>``, ``<action_id>-neg-<n>``) and ``question`` its stored prompt - text
and video entries in order, videos named by their file in ``videos/``.  Tasks send the stored
question; a benchmark imported with ``videonet import-release`` holds the release's own text.
"""

from __future__ import annotations

import datasets

MC_CONFIG = "mc"
BINARY_SHOTS = (0, 1, 2, 3)
LETTERS = ("A", "B", "C", "D")


def binary_config(k: int, random_negatives: bool = False) -> str:
    """``binary_{k}shot`` or ``binary_random_{k}shot``."""
    if k not in BINARY_SHOTS:
        raise ValueError(f"k must be one of {BINARY_SHOTS}, got {k}")
    return f"binary_{'random_' if random_negatives else ''}{k}shot"


BINARY_CONFIGS = tuple(binary_config(k) for k in BINARY_SHOTS)
BINARY_RANDOM_CONFIGS = tuple(binary_config(k, True) for k in BINARY_SHOTS)
ALL_CONFIGS = (MC_CONFIG, *BINARY_CONFIGS, *BINARY_RANDOM_CONFIGS)
SPLITS = {MC_CONFIG: ("test", "validation"), **{c: ("test",) for c in BINARY_CONFIGS + BINARY_RANDOM_CONFIGS}}

#: One entry of a stored question (the release's ``question`` list): text or a video file name.
QUESTION_ENTRY = {
    "type": datasets.Value("string"),  # "text" | "video"
    "text": datasets.Value("string"),  # text entries
    "video": datasets.Value("string"),  # video entries: the file name in videos/
}

# Columns shared by every row: where the clip comes from and what it is.
_COMMON = {
    "question_id": datasets.Value("string"),  # the release's key; stable across k for binary questions
    "action_id": datasets.Value("string"),  # the asked action's number (the key's first field)
    "question": datasets.List(QUESTION_ENTRY),  # the prompt as sent: text and videos in order
    "clip_id": datasets.Value("string"),  # the clip asked about
    "video": datasets.Value("string"),  # "videos/<clip_id>.mp4", relative to the dataset root
    "duration": datasets.Value("float64"),  # seconds (null when an imported clip was not available)
    "category": datasets.Value("string"),
    "domain": datasets.Value("string"),
    "clip_action": datasets.Value("string"),  # the clip's true action
    "source_video": datasets.Value("string"),  # as written in clips.csv (provenance)
    "source_start": datasets.Value("float64"),
    "source_end": datasets.Value("float64"),
}

MC_FEATURES = datasets.Features(
    {
        **_COMMON,
        "action": datasets.Value("string"),  # = clip_action (the correct option)
        "subdomain": datasets.Value("string"),
        "definition": datasets.Value("string"),  # of the correct action
        "options": datasets.List(datasets.Value("string")),  # 4 options, A-D order
        "option_definitions": datasets.List(datasets.Value("string")),
        "answer": datasets.Value("string"),  # "A".."D"
        "answer_index": datasets.Value("int32"),
    }
)

BINARY_FEATURES = datasets.Features(
    {
        **_COMMON,
        "action": datasets.Value("string"),  # the action asked about
        "subdomain": datasets.Value("string"),  # of the action asked about
        "definition": datasets.Value("string"),  # of the action asked about
        "label": datasets.Value("string"),  # "yes" | "no"
        "negative_type": datasets.Value("string"),  # "positive" | "hard" | "random"
        "k": datasets.Value("int32"),
        "example_clip_ids": datasets.List(datasets.Value("string")),  # clips 1..k of `action`
        "example_videos": datasets.List(datasets.Value("string")),
    }
)

COLUMN_DOCS: dict[str, str] = {
    "question_id": "The question's key in the official release's form: <action_id>-mcq-val-1, <action_id>-mcq-test-<n>, <action_id>-pos-<n>, <action_id>-neg-<n>; the same binary question has the same key for every k.",
    "action_id": "Number of the asked action (the key's first field; the release's action number when imported).",
    "question": "The prompt exactly as sent: a list of {type: text|video, text, video} entries in order; video entries name a file in videos/ (the official release's `question` field).",
    "clip_id": "Id of the clip asked about (clips.csv).",
    "video": "Path of the clip, relative to the dataset root (videos/<clip_id>.mp4); trimmed, silent H.264.",
    "duration": "Clip duration in seconds.",
    "category": "One of VideoNet's categories (e.g. Sports).",
    "domain": "The domain (e.g. Figure Skating); every option/question stays inside it.",
    "clip_action": "The clip's true action.",
    "source_video": "The source video as named in clips.csv (provenance; relative to the annotation directory; the release's file name when imported).",
    "source_start": "Start of the clip in the source video (seconds).",
    "source_end": "End of the clip in the source video (seconds).",
    "action": "MC: the correct action. Binary: the action the question asks about.",
    "subdomain": "Word used in the binary prompt ('<a/an> <ACTION> is <a/an> <SUBDOMAIN> in <DOMAIN>'); default 'action'.",
    "definition": "Plain-language definition of `action` (for the definition ablation).",
    "options": "MC: the four options in A-D order (the true action + its 3 hard negatives, seeded order per question; as published when imported).",
    "option_definitions": "MC: definitions of the four options, same order.",
    "answer": "MC: the correct letter.",
    "answer_index": "MC: 0-based index of the correct option.",
    "label": "Binary: 'yes' if the clip shows `action`, else 'no'.",
    "negative_type": "Binary: 'positive', 'hard' (clip 4 of one of the action's MC wrong options) or 'random' (clip 4 of a random action of the domain).",
    "k": "Binary: number of in-context example clips.",
    "example_clip_ids": "Binary: the in-context clips (clips 1..k of `action`: its MC validation clip, then MC test clips 1 and 2).",
    "example_videos": "Binary: their paths, relative to the dataset root.",
}


def features_for(config: str) -> datasets.Features:
    if config == MC_CONFIG:
        return MC_FEATURES
    if config in BINARY_CONFIGS or config in BINARY_RANDOM_CONFIGS:
        return BINARY_FEATURES
    raise ValueError(f"unknown config {config!r}; expected one of {', '.join(ALL_CONFIGS)}")


def data_file(config: str, split: str) -> str:
    """Path of a config's split file, relative to the dataset root."""
    return f"data/{config}/{split}-00000-of-00001.parquet"

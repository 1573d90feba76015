"""VideoNet's question sets from a validated annotation set (paper §3.5 and App. C.1), in the
official release's structure.

Pure functions of the annotations and a seed: no I/O, so the rules can be tested
exhaustively and the builder stays a thin orchestration layer.

The structure is the released benchmark's (``RAIVNLab/VideoNet`` ``benchmarks/*.jsonl``),
which the paper's numbers were measured on.  Per action, its clips 1..5 in file order are:

* clip 1 - the MC **validation** question (key ``<id>-mcq-val-1``) and the first in-context
  example of the binary k-shot questions;
* clips 2-5 - the MC **test** questions ``<id>-mcq-test-1..4``; clips 2 and 3 are the second
  and third in-context examples, clips 4 and 5 the binary **positive** test clips
  (``<id>-pos-1``, ``<id>-pos-2``);
* the binary **negatives** ``<id>-neg-1``, ``<id>-neg-2``: clip 4 of two other actions, chosen
  (seeded) among the action's three MC wrong options - its hard negatives.

MC options are the action and its three hard negatives - one wrong-option set per action,
the same in all five of its questions - in a seeded order per question.  The four binary
test questions are identical for every k (same keys).  The random-negative variant (paper
Table 5) draws the two negative actions at random from the other actions of the domain
instead (clip 4 again).  ``<id>`` is the action's 1-based position in ``actions.csv``.

Where this departs from the paper's text, the release wins: the paper says one *seeded*
clip per action is the validation question and a seeded clip of each negative action is
shown; the released files always use clip 1 and clip 4 (so the validation clip is also the
first in-context example, and an action's clip 4 is the positive of its own questions and
the negative of others').

Every question also carries its prompt (``question``: the release's text and video entries,
built by :mod:`videonet_datasets.prompts`).  Every choice draws from
:func:`~videonet_datasets.fsutil.stable_rng` keyed by the item, so rows do not depend on
file order beyond what the protocol defines (clip order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from videonet_datasets.annotations import CLIPS_PER_ACTION, Action, AnnotationSet, Clip
from videonet_datasets.benchmark.schema import BINARY_SHOTS, LETTERS, MC_CONFIG, binary_config
from videonet_datasets.fsutil import stable_rng
from videonet_datasets.prompts import binary_prompt, mc_prompt

NUM_EXAMPLES = 3  # clips 1..3 are the in-context pool
VALIDATION_INDEX = 1  # clip 1 is the MC validation question
POSITIVE_INDICES = (4, 5)  # clips 4 and 5 are the positive test clips
NEGATIVE_INDEX = 4  # a negative action shows its clip 4
NEGATIVES_PER_ACTION = 2


@dataclass
class QuestionSets:
    """Rows per config and split, plus what could not be built and why."""

    rows: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def add(self, config: str, split: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(config, {}).setdefault(split, []).append(row)


def video_path(clip_id: str) -> str:
    """Where the builder stores a clip, relative to the dataset root."""
    return f"videos/{video_file(clip_id)}"


def video_file(clip_id: str) -> str:
    """The clip's file name in ``videos/`` (what a stored question's video entry says)."""
    return f"{clip_id}.mp4"


def action_ids(ann: AnnotationSet) -> dict[tuple[str, str], str]:
    """(domain, action) -> its number, 1-based in ``actions.csv`` order."""
    return {key: str(i) for i, key in enumerate(ann.actions, start=1)}


def mc_key(action_id: str, split: str, n: int) -> str:
    """``12-mcq-val-1`` / ``12-mcq-test-3``."""
    return f"{action_id}-mcq-{'val' if split == 'validation' else 'test'}-{n}"


def binary_key(action_id: str, label: str, n: int) -> str:
    """``12-pos-1`` / ``12-neg-2``."""
    return f"{action_id}-{'pos' if label == 'yes' else 'neg'}-{n}"


def _common(clip: Clip, asked: Action) -> dict[str, Any]:
    assert clip.duration is not None, "clips must be validated with their videos checked"
    return {
        "clip_id": clip.clip_id,
        "video": video_path(clip.clip_id),
        "duration": round(float(clip.duration), 6),
        "category": asked.category,
        "domain": asked.domain,
        "clip_action": clip.action,
        "source_video": clip.video,
        "source_start": float(clip.start),
        "source_end": float(clip.resolved_end),  # type: ignore[arg-type]
    }


def mc_rows(ann: AnnotationSet, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(test rows, validation rows), in annotation order."""
    test, validation = [], []
    ids = action_ids(ann)
    for key, action in ann.actions.items():
        clips = ann.clips_of(*key)[:CLIPS_PER_ACTION]
        negs = ann.negative_actions(key)
        for i, clip in enumerate(clips, start=1):
            # Sorted first: the order of negative_1..3 in the CSV is not part of the protocol.
            choices = [action, *sorted(negs, key=lambda a: (a.name, a.domain))]
            order = stable_rng(seed, "mc-options", clip.clip_id).permutation(len(choices))
            choices = [choices[j] for j in order]
            options = [a.name for a in choices]
            answer_index = choices.index(action)
            split = "validation" if i == VALIDATION_INDEX else "test"
            n = 1 if split == "validation" else i - VALIDATION_INDEX
            row = {
                "question_id": mc_key(ids[key], split, n),
                "action_id": ids[key],
                "question": mc_prompt(action.domain, options, action.subdomain).to_question(
                    video_file(clip.clip_id)
                ),
                **_common(clip, action),
                "action": action.name,
                "subdomain": action.subdomain,
                "definition": action.definition,
                "options": options,
                "option_definitions": [a.definition for a in choices],
                "answer": LETTERS[answer_index],
                "answer_index": answer_index,
            }
            (validation if split == "validation" else test).append(row)
    return test, validation


def _binary_row(
    asked: Action,
    action_id: str,
    n: int,
    clip: Clip,
    label: str,
    negative_type: str,
    k: int,
    examples: list[Clip],
) -> dict[str, Any]:
    shown = examples[:k]
    prompt = binary_prompt(asked.name, asked.domain, asked.subdomain, k=k)
    return {
        "question_id": binary_key(action_id, label, n),
        "action_id": action_id,
        "question": prompt.to_question(video_file(clip.clip_id), [video_file(c.clip_id) for c in shown]),
        **_common(clip, asked),
        "action": asked.name,
        "subdomain": asked.subdomain,
        "definition": asked.definition,
        "label": label,
        "negative_type": negative_type,
        "k": k,
        "example_clip_ids": [c.clip_id for c in shown],
        "example_videos": [video_path(c.clip_id) for c in shown],
    }


def binary_test_set(
    ann: AnnotationSet, seed: int, asked: Action, random_negatives: bool
) -> list[tuple[Clip, str, str]] | None:
    """The 4 test questions of one action as (clip, label, negative_type), or ``None``
    when the action lacks the 5 clips, or the negatives with a clip 4, the protocol needs."""
    own = ann.clips_of(asked.domain, asked.name)
    if len(own) < CLIPS_PER_ACTION:
        return None
    positives = [(own[i - 1], "yes", "positive") for i in POSITIVE_INDICES]
    if random_negatives:
        candidates = [a for a in ann.actions_of(asked.domain) if a.key != asked.key]
        variant = "random"
    else:
        candidates = list(ann.negative_actions(asked.key))
        variant = "hard"
    pool = sorted(
        (a for a in candidates if len(ann.clips_of(a.domain, a.name)) >= NEGATIVE_INDEX),
        key=lambda a: (a.name, a.domain),
    )
    if len(pool) < NEGATIVES_PER_ACTION:
        return None
    rng = stable_rng(seed, f"binary-{variant}-actions", asked.domain, asked.name)
    chosen = [pool[j] for j in sorted(rng.choice(len(pool), size=NEGATIVES_PER_ACTION, replace=False))]
    negatives = [(ann.clips_of(a.domain, a.name)[NEGATIVE_INDEX - 1], "no", variant) for a in chosen]
    return positives + negatives


def build_question_sets(ann: AnnotationSet, seed: int = 0) -> QuestionSets:
    """Every config's rows (see module docstring)."""
    qs = QuestionSets()
    test, validation = mc_rows(ann, seed)
    for r in test:
        qs.add(MC_CONFIG, "test", r)
    for r in validation:
        qs.add(MC_CONFIG, "validation", r)
    ids = action_ids(ann)
    for random_negatives in (False, True):
        for asked in ann.actions.values():
            tests = binary_test_set(ann, seed, asked, random_negatives)
            if tests is None:
                if not random_negatives:
                    n = len(ann.clips_of(asked.domain, asked.name))
                    why = (
                        f"has {n} clip(s) (needs {CLIPS_PER_ACTION})"
                        if n < CLIPS_PER_ACTION
                        else f"has fewer than {NEGATIVES_PER_ACTION} hard negatives with a clip {NEGATIVE_INDEX}"
                    )
                    qs.skipped.append(
                        f"binary: action {asked.name!r} of {asked.domain!r} {why}; its binary questions are not built"
                    )
                continue
            examples = ann.clips_of(asked.domain, asked.name)[:NUM_EXAMPLES]
            for k in BINARY_SHOTS:
                config = binary_config(k, random_negatives)
                counters = {"yes": 0, "no": 0}
                for clip, label, neg_type in tests:
                    counters[label] += 1
                    row = _binary_row(
                        asked, ids[asked.key], counters[label], clip, label, neg_type, k, examples
                    )
                    qs.add(config, "test", row)
    return qs

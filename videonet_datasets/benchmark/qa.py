"""VideoNet's question sets from a validated annotation set (paper §3.5 and App. C.1).

Pure functions of the annotations and a seed: no I/O, so the rules can be tested
exhaustively and the builder stays a thin orchestration layer.

* MC: one question per clip; options = its action + the action's 3 hard negatives in a
  seeded order; ``validation`` = one seeded clip per action, ``test`` = the others.
* Binary k-shot: per action, clips 1..k are the in-context examples; its clips 4 and 5
  are positive test clips; 2 of its 3 hard-negative actions (seeded) each give one
  seeded clip as a negative test clip.  The four test questions are identical for every
  k.  The random-negative variant draws the negative clips' actions at random from the
  other actions of the domain instead.

Every choice draws from :func:`~videonet_datasets.fsutil.stable_rng` keyed by the item,
so rows do not depend on file order beyond what the protocol defines (clip order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from videonet_datasets.annotations import CLIPS_PER_ACTION, Action, AnnotationSet, Clip
from videonet_datasets.benchmark.schema import BINARY_SHOTS, LETTERS, MC_CONFIG, binary_config
from videonet_datasets.fsutil import stable_rng

NUM_EXAMPLES = 3  # clips 1..3 are the in-context pool
POSITIVE_INDICES = (4, 5)  # clips 4 and 5 are the positive test clips
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
    return f"videos/{clip_id}.mp4"


def _common(clip: Clip, action: Action) -> dict[str, Any]:
    assert clip.duration is not None, "clips must be validated with their videos checked"
    return {
        "clip_id": clip.clip_id,
        "video": video_path(clip.clip_id),
        "duration": round(float(clip.duration), 6),
        "category": action.category,
        "domain": clip.domain,
        "clip_action": clip.action,
        "source_video": clip.video,
        "source_start": float(clip.start),
        "source_end": float(clip.resolved_end),  # type: ignore[arg-type]
    }


def mc_rows(ann: AnnotationSet, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(test rows, validation rows), in annotation order."""
    test, validation = [], []
    for key, action in ann.actions.items():
        clips = ann.clips_of(*key)[:CLIPS_PER_ACTION]
        if not clips:
            continue
        negs = ann.negatives[key]
        val_pos = int(stable_rng(seed, "mc-validation", *key).integers(len(clips)))
        for i, clip in enumerate(clips):
            # Sorted first: the order of negative_1..3 in the CSV is not part of the protocol.
            options = [action.name, *sorted(negs)]
            order = stable_rng(seed, "mc-options", clip.clip_id).permutation(len(options))
            options = [options[j] for j in order]
            answer_index = options.index(action.name)
            row = {
                "question_id": f"mc:{clip.clip_id}",
                **_common(clip, action),
                "action": action.name,
                "subdomain": action.subdomain,
                "definition": action.definition,
                "options": options,
                "option_definitions": [ann.actions[(action.domain, o)].definition for o in options],
                "answer": LETTERS[answer_index],
                "answer_index": answer_index,
            }
            (validation if i == val_pos else test).append(row)
    return test, validation


def _binary_row(
    ann: AnnotationSet,
    asked: Action,
    clip: Clip,
    label: str,
    negative_type: str,
    k: int,
    examples: list[Clip],
) -> dict[str, Any]:
    return {
        "question_id": f"binary:{asked.domain}/{asked.name}:{clip.clip_id}",
        **_common(clip, ann.actions[(clip.domain, clip.action)]),
        "action": asked.name,
        "subdomain": asked.subdomain,
        "definition": asked.definition,
        "label": label,
        "negative_type": negative_type,
        "k": k,
        "example_clip_ids": [c.clip_id for c in examples[:k]],
        "example_videos": [video_path(c.clip_id) for c in examples[:k]],
    }


def _negative_clip(ann: AnnotationSet, seed: int, asked: Action, neg_action: str, variant: str) -> Clip:
    clips = ann.clips_of(asked.domain, neg_action)[:CLIPS_PER_ACTION]
    j = int(
        stable_rng(seed, f"binary-{variant}-clip", asked.domain, asked.name, neg_action).integers(len(clips))
    )
    return clips[j]


def binary_test_set(
    ann: AnnotationSet, seed: int, asked: Action, random_negatives: bool
) -> list[tuple[Clip, str, str]] | None:
    """The 4 test questions of one action as (clip, label, negative_type), or ``None``
    when the action lacks the 5 clips the protocol needs."""
    own = ann.clips_of(asked.domain, asked.name)
    if len(own) < CLIPS_PER_ACTION:
        return None
    positives = [(own[i - 1], "yes", "positive") for i in POSITIVE_INDICES]
    if random_negatives:
        pool = sorted(
            a.name
            for a in ann.actions_of(asked.domain)
            if a.name != asked.name and ann.clips_of(a.domain, a.name)
        )
        variant = "random"
    else:
        pool = sorted(n for n in ann.negatives[asked.key] if ann.clips_of(asked.domain, n))
        variant = "hard"
    if len(pool) < NEGATIVES_PER_ACTION:
        return None
    rng = stable_rng(seed, f"binary-{variant}-actions", asked.domain, asked.name)
    chosen = [pool[j] for j in sorted(rng.choice(len(pool), size=NEGATIVES_PER_ACTION, replace=False))]
    negatives = [(_negative_clip(ann, seed, asked, n, variant), "no", variant) for n in chosen]
    return positives + negatives


def build_question_sets(ann: AnnotationSet, seed: int = 0) -> QuestionSets:
    """Every config's rows (see module docstring)."""
    qs = QuestionSets()
    test, validation = mc_rows(ann, seed)
    for r in test:
        qs.add(MC_CONFIG, "test", r)
    for r in validation:
        qs.add(MC_CONFIG, "validation", r)
    for random_negatives in (False, True):
        for asked in ann.actions.values():
            tests = binary_test_set(ann, seed, asked, random_negatives)
            if tests is None:
                if not random_negatives:
                    n = len(ann.clips_of(asked.domain, asked.name))
                    qs.skipped.append(
                        f"binary: action {asked.name!r} of {asked.domain!r} has {n} clip(s) "
                        f"(needs {CLIPS_PER_ACTION}); its binary questions are not built"
                    )
                continue
            examples = ann.clips_of(asked.domain, asked.name)[:NUM_EXAMPLES]
            for k in BINARY_SHOTS:
                config = binary_config(k, random_negatives)
                for clip, label, neg_type in tests:
                    qs.add(config, "test", _binary_row(ann, asked, clip, label, neg_type, k, examples))
    return qs

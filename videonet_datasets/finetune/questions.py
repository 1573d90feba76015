"""Questions for reinforcement fine-tuning: one per QA pair of the training clips, with what the
rewards and tools need to check an answer.

The supervised recipe trains on a *clip* (its 3 QA pairs packed together); GRPO samples
``num_generations`` answers per *question*, so the clips of :func:`.data.open_source` (training
data or benchmark rows, local or Hub) are flattened here into :class:`Question` s.  Each keeps its
clip's video, the answer, the MC options and the action it is about, and that action's definition
(from the rows themselves - benchmark rows carry it - or from the annotations' ``actions.csv``:
:class:`DefinitionBook`).

Multiple choice: :func:`redraw_options` rebuilds the question with its options in a new seeded
order (the project's one prompt builder, so the words are the evaluation's), one draw per
question and epoch: a model cannot learn "clip 17 -> D"; it has to read the letter of the action
it recognises.  The draw depends only on ``(seed, question, epoch)`` - resuming reproduces it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .data import ClipRecord, DataError, DataSource
from .options import LETTERS, mc_subdomain, redraw_mc

log = logging.getLogger(__name__)

__all__ = [
    "DefinitionBook",
    "Question",
    "find_definitions",
    "questions_from_source",
    "redraw_options",
]


@dataclass(frozen=True)
class Question:
    """One question about one clip, with everything needed to check an answer to it."""

    uid: str  # "<clip uid>#<qa index>"
    clip_uid: str
    video: str  # as stored (see :class:`.data.VideoResolver`)
    kind: str  # as in the data: binary_yes | binary_no | mc (training data), mc | binary (benchmark)
    text: str  # the prompt text without the video placeholder (the evaluation's words)
    answer: str  # "yes" / "no" / the option letter
    domain: str = ""
    action: str = ""  # binary: the action asked about; MC: the correct option
    options: tuple[str, ...] = ()  # MC option texts in letter order
    definition: str = ""  # of ``action`` ("" when unknown)
    where: str = ""
    subdomain: str = ""  # what the MC question's wording was built with (see :func:`redraw_options`)

    @property
    def is_mc(self) -> bool:
        return bool(self.options)


class DefinitionBook:
    """Action definitions by ``(domain, action)`` (an annotation directory's ``actions.csv``)."""

    def __init__(self, definitions: Mapping[tuple[str, str], str], source: str = "") -> None:
        self.definitions = {
            (d.casefold(), a.casefold()): text for (d, a), text in definitions.items() if text
        }
        self.names = {(d.casefold(), a.casefold()): a for (d, a) in definitions}
        self.source = source

    @classmethod
    def from_annotations(cls, path: str | Path) -> DefinitionBook:
        """From an annotation directory or its ``actions.csv`` (read by the annotations' own loader)."""
        from videonet_datasets.annotations import AnnotationError, load_actions

        path = Path(path)
        root = path.parent if path.is_file() else path
        try:
            actions = load_actions(root)
        except AnnotationError as e:
            raise DataError(f"definitions: {e}") from e
        return cls({key: a.definition for key, a in actions.items()}, source=str(root))

    def __len__(self) -> int:
        return len(self.definitions)

    def lookup(self, domain: str, action: str) -> str:
        """The definition of ``action`` in ``domain``, or "" (case-insensitive names)."""
        return self.definitions.get((domain.casefold(), action.casefold()), "")

    def actions_of(self, domain: str) -> list[str]:
        return [name for (d, _), name in self.names.items() if d == domain.casefold()]


def find_definitions(definitions: str | None, dataset: str) -> DefinitionBook | None:
    """The definitions to use: ``definitions`` (a path) if given, else the dataset's own
    ``annotations/`` (``videonet build-benchmark`` writes one), else None."""
    if definitions:
        if not Path(definitions).exists():
            raise DataError(
                f"definitions: {definitions} does not exist (an annotation directory or its actions.csv)"
            )
        return DefinitionBook.from_annotations(definitions)
    local = Path(dataset.partition("@")[0]).expanduser() / "annotations"
    if (local / "actions.csv").is_file():
        return DefinitionBook.from_annotations(local)
    return None


def questions_from_source(
    source: DataSource,
    *,
    kinds: Iterable[str] = (),
    definitions: DefinitionBook | None = None,
    shuffle_options: bool = True,
) -> list[Question]:
    """Every QA pair of ``source`` (in memory) as a :class:`Question`, filtered to ``kinds``."""
    if source.records is None:
        raise DataError(f"{source.description}: GRPO needs the questions in memory (not a streamed dataset)")
    wanted = set(kinds)
    out: list[Question] = []
    found_kinds: set[str] = set()
    for record in source.records:
        for i, qa in enumerate(record.qas):
            found_kinds.add(qa.kind)
            if wanted and qa.kind not in wanted:
                continue
            out.append(_question(record, i, definitions, shuffle_options))
    if not out:
        raise DataError(
            f"{source.description}: no questions of kind(s) {sorted(wanted)}; the data has {sorted(found_kinds)}"
        )
    return out


def _question(
    record: ClipRecord, i: int, definitions: DefinitionBook | None, shuffle_options: bool
) -> Question:
    qa = record.qas[i]
    definition = qa.definition
    if not definition and definitions is not None and qa.domain and qa.action:
        definition = definitions.lookup(qa.domain, qa.action)
    where = f"{record.where} qa[{i}]"
    if qa.options and (not qa.domain or qa.answer not in LETTERS[: len(qa.options)]):
        raise DataError(f"{where}: an MC question needs its domain and a letter answer within its options")
    subdomain = mc_subdomain(qa, where) if qa.options and shuffle_options else qa.subdomain
    return Question(
        uid=f"{record.uid}#{i}", clip_uid=record.uid, video=record.video, kind=qa.kind, text=qa.question,
        answer=qa.answer, domain=qa.domain, action=qa.action, options=qa.options, definition=definition,
        where=where, subdomain=subdomain,
    )  # fmt: skip


def redraw_options(question: Question, seed: int, epoch: int) -> Question:
    """``question`` with its MC options in the seeded order of ``epoch`` (binary: unchanged).

    The same draw as the supervised trainer's (:mod:`.options`).
    """
    if not question.is_mc:
        return question
    text, options, answer = redraw_mc(question.uid, question.domain, question.options, question.answer,
                                      question.subdomain, seed, epoch)  # fmt: skip
    return replace(question, text=text, options=options, answer=answer)

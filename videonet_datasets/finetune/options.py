"""Multiple-choice option order, re-drawn per epoch: the one mechanism both trainers use.

A clip's MC question is built once, with its options in one order.  Trained on for tens of epochs
(a small domain, or the CPU demo's 82 clips x 1,200 steps) the model learns "this clip -> D": the
loss reaches zero without the letter ever being *read*, and the benchmark, whose options come in
other orders, stays near chance (``docs/demo_experiments.md``, round 5).  Re-drawing the order per
epoch keeps the question's words - the text is rebuilt by the project's one prompt builder
(:func:`videonet_datasets.prompts.mc_prompt`), the answer by
:func:`~videonet_datasets.prompts.mc_target`, exactly as the training data and the benchmark build
them - and changes only which letter is right.

The draw depends only on ``(seed, question uid, epoch)``: a resumed run, another number of
processes or loader workers, and the supervised and the reinforcement trainer all see the same
order for the same question and epoch.
"""

from __future__ import annotations

from dataclasses import replace

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.prompts import mc_prompt, mc_target

from .data import ClipRecord, DataError, QAPair

__all__ = ["LETTERS", "mc_subdomain", "redraw_mc", "redraw_record", "with_mc_subdomains"]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mc_subdomain(qa: QAPair, where: str) -> str:
    """The subdomain that makes the prompt builder write ``qa``'s MC question word for word.

    Re-drawing the options rebuilds the question, which must stay the evaluation's wording. A
    domain named by what its actions are ("Knots") is asked about without "actions"; training
    rows do not carry the subdomain, so when the row's own does not reproduce the text, the
    domain's singular is tried (the builder only checks that the domain is its plural)."""
    if not qa.domain or qa.answer not in LETTERS[: len(qa.options)]:
        raise DataError(f"{where}: an MC question needs its domain and a letter answer within its options")
    for subdomain in dict.fromkeys((qa.subdomain, qa.domain[:-1] if qa.domain.endswith("s") else "")):
        if mc_prompt(qa.domain, list(qa.options), subdomain or None).plain_text() == qa.question:
            return subdomain
    raise DataError(
        f"{where}: the MC question is not the prompt builder's for its domain and options, so its options "
        "cannot be re-drawn; set shuffle_options to false"
    )


def redraw_mc(
    uid: str, domain: str, options: tuple[str, ...], answer: str, subdomain: str, seed: int, epoch: int
) -> tuple[str, tuple[str, ...], str]:
    """``(text, options, answer)`` of the MC question ``uid`` with its options in epoch ``epoch``'s order."""
    correct = options[LETTERS.index(answer)]
    order = stable_rng(seed, "grpo-options", uid, epoch).permutation(len(options))
    drawn = tuple(options[int(k)] for k in order)
    text = mc_prompt(domain, list(drawn), subdomain or None).plain_text()
    return text, drawn, mc_target(list(drawn), correct)


def with_mc_subdomains(record: ClipRecord) -> ClipRecord:
    """``record`` with the wording subdomain of each MC question filled in (checked up front, so a
    question the prompt builder cannot rebuild fails before training, naming its row)."""
    qas = tuple(
        replace(qa, subdomain=mc_subdomain(qa, f"{record.where} qa[{i}]")) if qa.options else qa
        for i, qa in enumerate(record.qas)
    )
    return replace(record, qas=qas)


def redraw_record(record: ClipRecord, seed: int, epoch: int) -> ClipRecord:
    """``record`` (from :func:`with_mc_subdomains`) with every MC question's options in ``epoch``'s
    order; binary questions are unchanged.  Question ``i`` is drawn as ``"<clip uid>#i"``, the uid
    the reinforcement trainer's :class:`~.questions.Question` has."""
    qas = []
    for i, qa in enumerate(record.qas):
        if qa.options:
            text, options, answer = redraw_mc(
                f"{record.uid}#{i}", qa.domain, qa.options, qa.answer, qa.subdomain, seed, epoch
            )
            qa = replace(qa, question=text, options=options, answer=answer)
        qas.append(qa)
    return replace(record, qas=tuple(qas))

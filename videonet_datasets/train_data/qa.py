"""Three question-answer pairs per labeled clip (paper App. G.1).

* ``binary_yes`` - the 0-shot binary question about the clip's own action, answer "yes";
* ``binary_no``  - the same question about one random *other* action of the domain, "no";
* ``mc``         - a 4-way multiple-choice question: the clip's action and 3 random other
  actions of the domain in a random order, answer the letter.

Negatives are random, not the benchmark's hard negatives (the paper draws them "from the
action list for that domain").  Texts come from :mod:`videonet_datasets.prompts`, the
builder the evaluation tasks use, rendered with its default video placeholder, so the
fine-tuned model reads exactly the words it is evaluated with.  Every draw comes from
``stable_rng(seed, clip_uid, action)``: a clip's questions do not depend on which other
clips exist or in which order they are processed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videonet_datasets.annotations import Action
from videonet_datasets.fsutil import stable_rng
from videonet_datasets.prompts import binary_prompt, binary_target, mc_prompt, mc_target

__all__ = ["MC_OPTIONS", "QA_KINDS", "check_domain_size", "make_qa"]

QA_KINDS: tuple[str, ...] = ("binary_yes", "binary_no", "mc")
MC_OPTIONS = 4  # the paper found 10-way MCQs raise the binary yes/no bias (App. G.1)


def check_domain_size(domain: str, actions: Sequence[Action]) -> None:
    """A domain needs ``MC_OPTIONS`` actions for its questions; fail early and clearly."""
    if len(actions) < MC_OPTIONS:
        raise ValueError(
            f"domain {domain!r} has {len(actions)} action(s) in the taxonomy; the training questions "
            f"need at least {MC_OPTIONS} (1 correct + {MC_OPTIONS - 1} other actions for the MC question)"
        )


def make_qa(
    action: Action, domain_actions: Sequence[Action], *, clip_uid: str, seed: int
) -> list[dict[str, Any]]:
    """The three QA dicts ``{kind, asked_action, prompt, answer, options}`` of one clip."""
    others = [a for a in domain_actions if a.name != action.name]
    check_domain_size(action.domain, domain_actions)
    rng = stable_rng(seed, "train-qa", clip_uid, action.domain, action.name)
    neg = others[int(rng.integers(len(others)))]
    picks = rng.choice(len(others), size=MC_OPTIONS - 1, replace=False)
    options = [action.name, *(others[int(i)].name for i in picks)]
    options = [options[int(i)] for i in rng.permutation(len(options))]
    return [
        {
            "kind": "binary_yes",
            "asked_action": action.name,
            "prompt": binary_prompt(action.name, action.domain, action.subdomain).render(),
            "answer": binary_target(True),
            "options": [],
        },
        {
            "kind": "binary_no",
            "asked_action": neg.name,
            "prompt": binary_prompt(neg.name, neg.domain, neg.subdomain).render(),
            "answer": binary_target(False),
            "options": [],
        },
        {
            "kind": "mc",
            "asked_action": action.name,
            "prompt": mc_prompt(action.domain, options, action.subdomain).render(),
            "answer": mc_target(options, action.name),
            "options": options,
        },
    ]

"""Three QA pairs per clip (paper App. G.1), with the evaluation prompt builder."""

from __future__ import annotations

from collections import Counter

import pytest

from videonet_datasets.annotations import Action
from videonet_datasets.prompts import binary_prompt, mc_prompt
from videonet_datasets.train_data.qa import QA_KINDS, check_domain_size, make_qa

ACTIONS = [
    Action("Hobbies", "Skateboarding", n, "trick", f"The {n}.")
    for n in ["kickflip", "heelflip", "ollie", "pop shove-it", "manual", "nollie"]
]


def test_three_pairs_as_the_paper() -> None:
    qa = make_qa(ACTIONS[0], ACTIONS, clip_uid="c1", seed=0)
    assert [q["kind"] for q in qa] == list(QA_KINDS)
    yes, no, mc = qa
    assert yes["asked_action"] == "kickflip" and yes["answer"] == "yes" and yes["options"] == []
    assert yes["prompt"] == binary_prompt("kickflip", "Skateboarding", "trick").render()
    assert no["asked_action"] != "kickflip" and no["answer"] == "no"
    assert no["prompt"] == binary_prompt(no["asked_action"], "Skateboarding", "trick").render()
    assert "a kickflip is a trick in Skateboarding" in yes["prompt"] and yes["prompt"].endswith("<video>")
    assert len(mc["options"]) == 4 and len(set(mc["options"])) == 4 and "kickflip" in mc["options"]
    assert mc["answer"] == "ABCD"[mc["options"].index("kickflip")]
    assert mc["prompt"] == mc_prompt("Skateboarding", mc["options"]).render()
    assert all(o in {a.name for a in ACTIONS} for o in mc["options"])


def test_seeded_per_clip_and_varied_across_clips() -> None:
    a = make_qa(ACTIONS[2], ACTIONS, clip_uid="c9", seed=3)
    assert a == make_qa(ACTIONS[2], ACTIONS, clip_uid="c9", seed=3)
    assert a != make_qa(ACTIONS[2], ACTIONS, clip_uid="c9", seed=4) or a != make_qa(
        ACTIONS[2], ACTIONS, clip_uid="c8", seed=3
    )
    letters = Counter(make_qa(ACTIONS[0], ACTIONS, clip_uid=f"c{i}", seed=0)[2]["answer"] for i in range(400))
    negatives = Counter(
        make_qa(ACTIONS[0], ACTIONS, clip_uid=f"c{i}", seed=0)[1]["asked_action"] for i in range(400)
    )
    assert set(letters) == set("ABCD") and min(letters.values()) > 60  # answer position is random
    assert set(negatives) == {a.name for a in ACTIONS[1:]}  # binary negative: any other action


def test_small_domains_fail_clearly() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        check_domain_size("Tiny", ACTIONS[:3])
    with pytest.raises(ValueError, match="Skateboarding"):
        make_qa(ACTIONS[0], ACTIONS[:3], clip_uid="x", seed=0)

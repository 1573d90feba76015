"""The ``coarse`` taxonomy (``make demo``'s world): the same contract as the default one - enough
categories, domains and actions, hard negatives by the paper's rule, a middle frame that cannot tell
an action from the others while the motion can - with actions told apart by direction of travel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_synth import (
    check_distinct_motions_and_balanced_negatives,
    loo_nearest_centroid,
    middle_mask,
    middle_pixels,
    motion_feature,
    plans_per_action,
)

from videonet_datasets.synth import SynthConfig, preset
from videonet_datasets.synth.coarse import COARSE_DOMAINS, DIRECTIONS
from videonet_datasets.synth.motion import evaluate, max_extent
from videonet_datasets.synth.plan import plan_clips
from videonet_datasets.synth.taxonomies import select_domains, taxonomy_domains
from videonet_datasets.synth.taxonomy import definition_for
from videonet_datasets.synth.world import DOMAINS


def test_coarse_taxonomy_has_the_paper_shape_and_nearest_directions_as_negatives() -> None:
    assert taxonomy_domains("coarse") is COARSE_DOMAINS and taxonomy_domains() is DOMAINS
    assert len({d.category for d in COARSE_DOMAINS}) >= 3 and len(COARSE_DOMAINS) >= 4
    assert [d.name for d in COARSE_DOMAINS] == [d.name for d in DOMAINS]  # same domains, other actions
    for d in COARSE_DOMAINS:
        assert len(d.actions) >= 6
        assert {(a.attrs["vertical"], a.attrs["horizontal"]) for a in d.actions} == set(DIRECTIONS)
        negatives = check_distinct_motions_and_balanced_negatives(d, 0.2)
        for a in d.actions:
            here = np.array(DIRECTIONS[(a.attrs["vertical"], a.attrs["horizontal"])])
            angles = []
            for n in negatives[a.name]:
                other = d.action(n).attrs
                there = np.array(DIRECTIONS[(other["vertical"], other["horizontal"])])
                angles.append(math.degrees(math.acos(float(np.clip(here @ there, -1, 1)))))
            # hard negatives: both 60-degree neighbours, and one more action differing in one attribute
            assert sorted(angles)[:2] == pytest.approx([60, 60], abs=1), (a.name, angles)
            text = definition_for(d, a, negatives[a.name])
            assert all(n in text for n in negatives[a.name]) and "direction of travel" in text


def test_every_action_of_a_domain_travels_the_same_distance_in_its_own_direction() -> None:
    for d in COARSE_DOMAINS:
        extents = {round(max_extent(a.motion), 3) for a in d.actions}
        assert len(extents) <= 2, (d.name, extents)  # hops add a little only to upward travel
        for a in d.actions:
            pose = evaluate(a.motion, [0.0, 1.0])
            travel = np.array([pose.x[1] - pose.x[0], pose.y[1] - pose.y[0]])
            unit = np.array(DIRECTIONS[(a.attrs["vertical"], a.attrs["horizontal"])])
            assert np.linalg.norm(travel) > 1.0 and travel @ unit / np.linalg.norm(travel) > 0.99


@pytest.mark.parametrize("domain_name", ["Figure Skating", "Knots"])
def test_coarse_middle_frame_is_at_chance_while_motion_separates_actions(domain_name: str) -> None:
    cfg = SynthConfig(taxonomy="coarse", size=(64, 64), fps=10.0)
    (domain,) = select_domains([domain_name], taxonomy="coarse")
    plans = plans_per_action(
        cfg, domain, 20
    )  # with 10, leave-one-out over 60 clips swings +-0.15 around chance
    labels = [p.action for p in plans]
    chance = 1.0 / len(domain.actions)
    assert loo_nearest_centroid([motion_feature(p) for p in plans], labels) >= 0.9
    assert loo_nearest_centroid([middle_pixels(p) for p in plans], labels) <= chance + 0.15
    assert loo_nearest_centroid([middle_mask(p) for p in plans], labels) <= chance + 0.15


def test_demo_preset_builds_the_coarse_world() -> None:
    cfg = preset("demo")
    assert cfg.taxonomy == "coarse" and cfg.to_json()["taxonomy"] == "coarse"
    plans = plan_clips(cfg, select_domains(taxonomy=cfg.taxonomy))
    assert len(plans) == 5 * 30 and {p.action for p in plans} == {
        a.name for d in COARSE_DOMAINS for a in d.actions
    }
    with pytest.raises(ValueError, match="taxonomy"):
        SynthConfig(taxonomy="fine")
    with pytest.raises(ValueError, match="unknown taxonomy"):
        select_domains(taxonomy="fine")

"""``videonet synth --preset full``: VideoNet's real shape (37 domains, 1,000 actions, 5,000 clips
with the paper's Table 8 clip lengths), checked on its plan without rendering, and rendered at a
scaled-down size."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

import pytest

from videonet_datasets.synth import generate_world, preset
from videonet_datasets.synth.full import FULL_DOMAINS, TABLE8
from videonet_datasets.synth.plan import TABLE8_RANGE, clip_durations, plan_clips
from videonet_datasets.synth.taxonomies import select_domains
from videonet_datasets.synth.taxonomy import check_taxonomy, domain_negatives, ring_negatives

FULL = preset("full")


def test_full_taxonomy_has_videonets_shape() -> None:
    assert len(FULL_DOMAINS) == 37
    assert len({d.category for d in FULL_DOMAINS}) == 7
    assert sum(len(d.actions) for d in FULL_DOMAINS) == 1000
    assert [len(d.actions) for d in FULL_DOMAINS] == [row[2] for row in TABLE8]
    assert len({d.slug for d in FULL_DOMAINS}) == 37
    for d in FULL_DOMAINS:
        negatives = domain_negatives(d)
        uses = Counter(n for negs in negatives.values() for n in negs)
        assert all(2 <= uses[a.name] <= 5 for a in d.actions), d.name


def test_full_preset_plan_has_the_real_clip_counts_and_lengths() -> None:
    """The whole 5,000-clip plan (no pixels): counts and Table 8's duration statistics."""
    domains = select_domains(FULL.domains, FULL.actions_per_domain, FULL.taxonomy)
    clips = plan_clips(FULL, domains)
    assert len(clips) == 5000 and len({c.clip_id for c in clips}) == 5000
    assert Counter(c.index for c in clips) == dict.fromkeys(range(1, 6), 1000)
    d = [c.duration for c in clips]
    # paper Table 8: min 0.26, max 260, mean 12.2, median 5.0, std 21.5
    # (a whole-video clip lasts a whole number of frames: 0.26 s is 1 frame at 4 fps)
    assert TABLE8_RANGE[0] - 1 / FULL.fps <= min(d) < 0.6 and 150 < max(d) <= TABLE8_RANGE[1]
    assert 4.5 <= statistics.median(d) <= 5.5, statistics.median(d)
    assert 11.0 <= statistics.fmean(d) <= 13.5, statistics.fmean(d)
    assert 15.0 <= statistics.pstdev(d) <= 28.0, statistics.pstdev(d)
    # every clip's window lies inside its planned video, long tail included
    for c in clips:
        end = c.end if c.end is not None else c.spec["duration"]
        assert 0 <= c.start < end <= c.spec["duration"] + 1e-6
    # per domain, the median follows its Table 8 row
    by_domain = {row[1]: row[4] for row in TABLE8}
    for name, want in by_domain.items():
        got = statistics.median(c.duration for c in clips if c.domain == name)
        assert 0.7 * want <= got <= 1.35 * want, (name, got, want)


def test_fitted_lognormal_needs_mean_above_median() -> None:
    from dataclasses import replace

    bad = replace(FULL_DOMAINS[0], clip_mean=1.0)
    with pytest.raises(ValueError, match="clip_mean"):
        check_taxonomy([bad])
    assert len(clip_durations(FULL_DOMAINS[0], 60, 0, 1.0)) == 60


def test_ring_negatives_use_every_action_three_times_and_bad_fixed_negatives_are_named() -> None:
    from dataclasses import replace

    for n in (4, 5, 6, 27, 55):
        names = [f"a{i}" for i in range(n)]
        negs = ring_negatives(names)
        assert all(len(set(v)) == 3 and k not in v for k, v in negs.items())
        assert set(Counter(x for v in negs.values() for x in v).values()) == {3}
    with pytest.raises(ValueError, match="at least 4"):
        ring_negatives(["a", "b", "c"])
    d = FULL_DOMAINS[2]  # Tattooing: 6 actions
    names = [a.name for a in d.actions]
    wrong = dict(ring_negatives(names))
    wrong[names[0]] = (names[0], names[1], names[2])
    with pytest.raises(ValueError, match="not 3 other actions"):
        check_taxonomy([replace(d, negatives=wrong)])
    # truncating a domain with fixed negatives re-draws them on the kept actions
    small = select_domains([d.name], 4, "full")[0]
    assert set(domain_negatives(small)) == set(names[:4])
    assert all(set(v) <= set(names[:4]) for v in domain_negatives(small).values())


def test_scaled_down_full_world_renders_validates_and_resumes(tmp_path: Path) -> None:
    from videonet_datasets.annotations import load_annotations

    names = tuple(row[1] for row in TABLE8[:3])
    cfg = preset("full", domains=names, actions_per_domain=4, jobs=1)
    out = tmp_path / "full_small"
    summary = generate_world(out, cfg, progress=False)
    assert (summary.domains, summary.actions, summary.clips, summary.web_videos) == (3, 12, 60, 0)
    ann = load_annotations(out)
    assert len(ann.actions) == 12 and len(ann.clips) == 60 and not ann.warnings
    again = generate_world(out, cfg, progress=False)
    assert again.rendered == 0 and again.reused == summary.clip_videos

"""The offline miner on VideoNet-mini (``videonet_datasets.synth``): the generated world's
hard negatives are replaced by mined ones, which must pass every rule, come out the same
twice, and feed the benchmark builder."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from videonet_datasets import cli
from videonet_datasets.annotations import NEGATIVES_FILE, load_annotations
from videonet_datasets.negatives.rules import BALANCE_RANGE, check_table, use_counts

synth = pytest.importorskip("videonet_datasets.synth.generate")
from videonet_datasets.synth.config import preset  # noqa: E402


def run_cli(*argv: str) -> int:
    return cli.main(["mine-negatives", *argv])


def mini_world(root: Path, name: str = "tiny") -> Path:
    synth.generate_world(root, preset(name, web_videos=0, jobs=1), progress=False)
    (root / NEGATIVES_FILE).rename(root.parent / f"{name}_synth_negatives.csv")  # keep the world's own
    return root


def rows(path: Path) -> dict[tuple[str, str], set[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {
            (r["domain"], r["action"]): {r["negative_1"], r["negative_2"], r["negative_3"]}
            for r in csv.DictReader(f)
        }


def check_all_rules(root: Path) -> None:
    ann = load_annotations(root)  # the benchmark builder's input check, videos included
    lo, hi = BALANCE_RANGE
    for d in ann.domains:
        names = [a.name for a in ann.actions_of(d)]
        table = {a.name: ann.negatives[a.key] for a in ann.actions_of(d)}
        assert check_table(d, names, [[n, *table[n]] for n in names]).ok
        assert all(lo <= c <= hi for c in use_counts(names, table).values())


def test_offline_miner_on_videonet_mini(tmp_path: Path) -> None:
    root = mini_world(tmp_path / "mini")
    assert run_cli(str(root), "--embedder", "ngram") == 0
    check_all_rules(root)
    first = (root / NEGATIVES_FILE).read_text()
    assert run_cli(str(root), "--embedder", "ngram", "--force") == 0
    assert (root / NEGATIVES_FILE).read_text() == first


@pytest.mark.slow
def test_minilm_miner_on_full_videonet_mini_builds_a_benchmark(tmp_path: Path) -> None:
    """All five domains with the real sentence model, then the benchmark build.  The
    world's definitions say how each action differs from the negatives the generator
    chose, so the mined table should mostly agree with the generator's."""
    from videonet_datasets.benchmark.build import build_benchmark

    root = mini_world(tmp_path / "mini", "default")
    assert run_cli(str(root)) == 0
    check_all_rules(root)
    mined, generated = rows(root / NEGATIVES_FILE), rows(tmp_path / "default_synth_negatives.csv")
    agree = sum(len(mined[k] & generated[k]) for k in generated)
    assert agree >= 0.6 * 3 * len(generated)
    summary = build_benchmark(root, tmp_path / "bench", progress=False, workers=1)
    assert summary.rows["mc"]["test"] + summary.rows["mc"]["validation"] == 5 * len(generated)

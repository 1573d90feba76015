"""The offline miner: the balanced global assignment, the embedders and the
``videonet mine-negatives`` command without an endpoint."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_annotation_dir

from videonet_datasets import cli
from videonet_datasets.annotations import NEGATIVES_FILE, Action, load_annotations
from videonet_datasets.negatives.assign import AssignmentError, assign_negatives
from videonet_datasets.negatives.offline import mine_offline, ngram_embedder, similarity_matrix
from videonet_datasets.negatives.rules import check_table, histogram, use_counts

JUMPS = ["Axel", "Lutz", "Flip", "Loop", "Salchow", "Toe Loop", "Walley", "Euler", "Split Jump", "Waltz Jump"]
COUNTS = ["Single", "Double", "Triple", "Quad", "Half"]
EDGES = {"Axel": "forward outside", "Lutz": "back outside", "Flip": "back inside", "Loop": "back outside"}


def big_domain(n: int = 50) -> list[Action]:
    """A generated domain of ``n`` jump actions whose definitions share structure, so
    similarity alone would pile the negatives onto a few actions."""
    out = []
    for count, jump in itertools.islice(itertools.product(COUNTS, JUMPS), n):
        edge = EDGES.get(jump, "back inside")
        definition = (
            f"A {count.lower()} rotation {jump.lower()} jump taking off from a {edge} edge "
            f"and landing on the right back outside edge."
        )
        out.append(Action("Sports", "Figure Skating", f"{count} {jump}", "jump", definition))
    return out


def run_cli(*argv: str) -> int:
    return cli.main(["mine-negatives", *argv])


def assert_valid(domain: str, actions: list[Action], table: dict, lo: int = 2, hi: int = 5) -> dict[int, int]:
    names = [a.name for a in actions]
    result = check_table(domain, names, [[n, *table[n]] for n in names])
    assert result.ok, result.errors
    counts = use_counts(names, table)
    assert all(lo <= c <= hi for c in counts.values()), counts
    return histogram(counts)


# ------------------------------------------------------------------------- assignment


def test_fifty_action_domain_all_constraints_and_deterministic() -> None:
    actions = big_domain(50)
    domains = {"Figure Skating": actions}
    first, embed_s = mine_offline(domains, ngram_embedder())
    second, _ = mine_offline(domains, ngram_embedder())
    r = first["Figure Skating"]
    assert r.table == second["Figure Skating"].table  # same output twice
    hist = assert_valid("Figure Skating", actions, r.table)
    assert sum(hist.values()) == 50 and sum(k * v for k, v in hist.items()) == 150
    assert r.assignment.deviation == 0 and r.assignment.optimal
    # every row is ordered most similar first, and the ranks/similarities agree
    for name in r.names:
        sims = r.similarity[name]
        assert sims == sorted(sims, reverse=True)
        assert all(1 <= k <= 49 for k in r.rank[name])
    # greedy top-3 would break the 2-5 range on this domain; the global assignment does not
    sim = similarity_matrix(ngram_embedder()([f"{a.name}: {a.definition}" for a in actions]))
    np.fill_diagonal(sim, -np.inf)
    greedy = np.bincount(np.argsort(-sim, axis=1)[:, :3].ravel(), minlength=50)
    assert greedy.min() < 2 or greedy.max() > 5
    # the price of balance is small: the table keeps most of the greedy similarity
    assert r.assignment.total_similarity >= 0.9 * float(np.sort(sim, axis=1)[:, -3:].sum())


def test_prefers_the_most_similar_candidates() -> None:
    """Three clusters of 4 near-identical actions: every negative must come from the
    action's own cluster (that table is balanced, so nothing forces a worse choice)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    emb = np.concatenate([c + 0.05 * rng.normal(size=(4, 32)) for c in centres])
    names = [f"a{i}" for i in range(12)]
    a = assign_negatives(similarity_matrix(emb), names)
    for i, row in enumerate(a.negatives):
        assert {j // 4 for j in row} == {i // 4}
    assert a.uses == [3] * 12


def test_four_actions_is_the_forced_table() -> None:
    a = assign_negatives(np.eye(4), list("abcd"))
    assert [sorted(r) for r in a.negatives] == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]
    assert a.uses == [3, 3, 3, 3]


def test_too_small_or_over_excluded_domains_are_errors() -> None:
    with pytest.raises(AssignmentError, match="at least 4"):
        assign_negatives(np.eye(3), list("abc"))
    with pytest.raises(AssignmentError, match="'e' would have fewer than 3"):
        assign_negatives(np.eye(5), list("abcde"), [(4, 0), (1, 4)])


def test_exclusions_are_never_paired() -> None:
    actions = big_domain(50)
    names = [a.name for a in actions]
    rng = np.random.default_rng(1)
    pairs = {frozenset(rng.choice(names, size=2, replace=False)) for _ in range(120)}
    res, _ = mine_offline({"Figure Skating": actions}, ngram_embedder(), {"Figure Skating": pairs})
    table = res["Figure Skating"].table
    assert not any(frozenset((a, n)) in pairs for a, negs in table.items() for n in negs)
    assert_valid("Figure Skating", actions, table)
    result = check_table("Figure Skating", names, [[n, *table[n]] for n in names], pairs)
    assert result.ok


def test_unreachable_balance_is_minimised_not_failed() -> None:
    """Actions a-f may only pair with g, h, i: those three are used >= 6 times and a-f
    share only 9 slots (they need 12 for 2 each), so the least possible distance
    outside 2-5 is 3 + 3 = 6 - the solver must reach exactly that."""
    names = list("abcdefghi")
    excluded = [(x, y) for x, y in itertools.combinations(range(6), 2)]
    a = assign_negatives(np.zeros((9, 9)), names, excluded)
    assert a.deviation == 6
    assert all(set(a.negatives[i]) == {6, 7, 8} for i in range(6))
    assert a.uses[6:] == [6, 6, 6]


# ------------------------------------------------------------------------- embedders


def test_ngram_embedder_is_deterministic_and_lexical() -> None:
    e = ngram_embedder()(["Triple Lutz", "Triple Lutz", "Double Lutz", "Hydro blade"])
    sim = similarity_matrix(e)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0) and sim[0, 1] == pytest.approx(1.0)
    assert sim[0, 2] > sim[0, 3]


@pytest.mark.slow
def test_minilm_embedder_on_an_annotation_dir(tmp_path: Path) -> None:
    """The real offline sentence model (about 10 s to load on 2 CPU cores)."""
    from videonet_datasets.negatives.offline import minilm_embedder

    embed = minilm_embedder()
    e = embed(
        [
            "Triple Lutz: a jump from a back outside edge",
            "Triple Flip: a jump from a back inside edge",
            "Stir the soup",
        ]
    )
    assert e.shape == (3, 384)
    sim = similarity_matrix(e)
    assert sim[0, 1] > sim[0, 2]
    root = make_annotation_dir(tmp_path / "ann", domains=2, actions_per_domain=6)
    (root / NEGATIVES_FILE).unlink()
    assert run_cli(str(root), "--embedder", "minilm") == 0
    ann = load_annotations(root)
    assert len(ann.negatives) == 12


# ------------------------------------------------------------------------- the command


def test_command_writes_a_valid_file_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_annotation_dir(tmp_path / "ann", domains=2, actions_per_domain=5)
    (root / NEGATIVES_FILE).unlink()
    assert run_cli(str(root), "--embedder", "ngram") == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "annotation check (videos not opened): OK" in out
    ann = load_annotations(root)  # the benchmark builder's input check, videos included
    assert len(ann.negatives) == 10
    for d in ann.domains:
        assert_valid(d, ann.actions_of(d), {a.name: ann.negatives[a.key] for a in ann.actions_of(d)})
    report = json.loads((root / "hard_negatives_report.json").read_text())
    assert report["mode"] == "offline" and report["written"] is True
    d0 = report["domains"][0]
    assert d0["status"] == "ok" and d0["outside_range"] == 0
    assert sum(d0["histogram"].values()) == 5 and d0["violations"] == []
    assert all(len(r["similarity"]) == 3 and len(r["rank"]) == 3 for r in d0["negatives"])
    md = (root / "hard_negatives_report.md").read_text()
    assert "| Domain 0 | 5 | ok |" in md and "(cosine similarity" in md
    # same output twice, and no silent overwrite
    text = (root / NEGATIVES_FILE).read_text()
    assert run_cli(str(root), "--embedder", "ngram") == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert run_cli(str(root), "--embedder", "ngram", "--force") == 0
    assert (root / NEGATIVES_FILE).read_text() == text


def test_command_with_exclusions_and_output_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=6)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("domain,action_a,action_b\nDomain 0,move 0-0,move 0-1\nDomain 0,move 0-2,move 0-1\n")
    out = tmp_path / "out" / "negs.csv"
    assert run_cli(str(root), "--embedder", "ngram", "--exclude", str(pairs), "--output", str(out)) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    assert len(rows) == 6
    for r in rows:
        if r[1] in ("move 0-0", "move 0-2"):
            assert "move 0-1" not in r[2:]
        if r[1] == "move 0-1":
            assert "move 0-0" not in r[2:] and "move 0-2" not in r[2:]
    assert (tmp_path / "out" / "negs_report.md").exists()
    assert "co-occurring pairs excluded: 2" in (tmp_path / "out" / "negs_report.md").read_text()
    # the annotation dir's own file was not touched
    assert (root / NEGATIVES_FILE).read_text().startswith("domain,action,negative_1")


def test_command_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4)
    (root / NEGATIVES_FILE).unlink()
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("domain,action_a,action_b\nDomain 0,move 0-0,mvoe 0-1\n")
    assert run_cli(str(root), "--embedder", "ngram", "--exclude", str(pairs)) == 2
    err = capsys.readouterr().err
    assert "pairs.csv:2: action_b='mvoe 0-1': not an action of 'Domain 0'" in err
    assert not (root / NEGATIVES_FILE).exists()
    # one excluded pair in a 4-action domain leaves two actions with only 2 candidates
    pairs.write_text("domain,action_a,action_b\nDomain 0,move 0-0,move 0-1\n")
    assert run_cli(str(root), "--embedder", "ngram", "--exclude", str(pairs)) == 2
    assert "Domain 0: too many exclusions" in capsys.readouterr().err
    assert not (root / NEGATIVES_FILE).exists()
    (root / "actions.csv").write_text(
        "category,domain,action,subdomain,definition\nSports,D,a,,x\nSports,D,b,,y\n"
    )
    assert run_cli(str(root), "--base-url", "http://127.0.0.1:9/v1") == 2  # refused before any request
    assert "a domain needs at least 4 actions: 'D' (2)" in capsys.readouterr().err
    (root / "actions.csv").write_text(
        "category,domain,action,subdomain,definition\nSports,D,a,,x\nSports,D,a,,y\n"
    )
    assert run_cli(str(root), "--embedder", "ngram") == 2
    assert "actions.csv:3: action='a': duplicate action" in capsys.readouterr().err

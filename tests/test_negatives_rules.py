"""The shared hard-negative rules, the reply parser, the exclusions file and the
paper's prompts (hard_negatives/{rules,reply,exclusions,prompts}.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videonet_datasets.annotations import Action, AnnotationError
from videonet_datasets.negatives import prompts
from videonet_datasets.negatives.exclusions import read_exclusions
from videonet_datasets.negatives.reply import extract_table
from videonet_datasets.negatives.rules import balance_problems, check_table, histogram, use_counts

SKATING = ["Triple Lutz", "Triple Flip", "Triple Loop", "Triple Salchow", "Triple Toe Loop", "Double Axel"]
VALID = [
    ["Triple Lutz", "Triple Flip", "Triple Toe Loop", "Double Axel"],
    ["Triple Flip", "Triple Lutz", "Triple Loop", "Triple Salchow"],
    ["Triple Loop", "Triple Salchow", "Triple Toe Loop", "Triple Flip"],
    ["Triple Salchow", "Triple Loop", "Double Axel", "Triple Lutz"],
    ["Triple Toe Loop", "Triple Loop", "Triple Flip", "Double Axel"],
    ["Double Axel", "Triple Salchow", "Triple Lutz", "Triple Toe Loop"],
]
PAPER = Path(__file__).resolve().parent / "data" / "paper_prompts.txt"  # the paper's App. B.4, verbatim


def csv_text(rows: list[list[str]], header: bool = True) -> str:
    lines = (["action,negative_1,negative_2,negative_3"] if header else []) + [",".join(r) for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------- rules


def test_valid_table_passes_in_domain_order() -> None:
    shuffled = VALID[::-1]
    result = check_table("Figure Skating", SKATING, shuffled)
    assert result.ok and result.errors == []
    assert list(result.table) == SKATING  # actions.csv order, whatever the reply's order
    assert result.table["Triple Lutz"] == ("Triple Flip", "Triple Toe Loop", "Double Axel")


def test_misspelling_gets_a_precise_message() -> None:
    rows = [r[:] for r in VALID]
    rows[2][0] = "Tripple Loop"
    rows[0][2] = "triple toe loop"
    result = check_table("Figure Skating", SKATING, rows)
    assert not result.ok
    msgs = [str(p) for p in result.errors]
    assert "row 3: 'Tripple Loop' is not an action of Figure Skating - did you mean 'Triple Loop'?" in msgs
    assert (
        "row 1: 'triple toe loop' is not an action of Figure Skating - did you mean 'Triple Toe Loop'?"
        in msgs
    )
    # the row whose *action* was unknown is also a missing row
    assert any(p.kind == "missing_row" and "'Triple Loop'" in p.message for p in result.errors)


@pytest.mark.parametrize(
    ("row", "kind", "fragment"),
    [
        (["Triple Lutz", "Triple Lutz", "Triple Flip", "Double Axel"], "self", "cannot be its own negative"),
        (["Triple Lutz", "Triple Flip", "Triple Flip", "Double Axel"], "repeat", "appears twice"),
        (["Triple Lutz", "Triple Flip", "Double Axel"], "field_count", "expected 4 fields"),
        (["Triple Lutz", "Triple Flip", "", "Double Axel"], "empty", "empty negative"),
        (["Triple Lutz", "Triple Flip", "Camel Spin", "Double Axel"], "unknown_name", "not an action of"),
    ],
)
def test_each_hard_rule(row: list[str], kind: str, fragment: str) -> None:
    rows = [row] + VALID[1:]
    result = check_table("Figure Skating", SKATING, rows)
    assert not result.ok
    hits = [p for p in result.errors if p.kind == kind]
    assert hits and fragment in hits[0].message and hits[0].row == 1


def test_duplicate_and_missing_rows() -> None:
    result = check_table("Figure Skating", SKATING, [*VALID[:5], VALID[0]])
    kinds = {p.kind for p in result.errors}
    assert kinds == {"duplicate_row", "missing_row"}
    assert "row 6: 'Triple Lutz' already has a row (row 1)" in str(result.errors[0])
    assert "'Double Axel'" in str(result.errors[1])


def test_excluded_pair_is_an_error_both_ways() -> None:
    excluded = {frozenset(("Triple Lutz", "Double Axel"))}
    result = check_table("Figure Skating", SKATING, VALID, excluded)
    rows_hit = sorted(p.row for p in result.errors if p.kind == "excluded")
    assert rows_hit == [1, 6]  # Lutz->Axel and Axel->Lutz


def test_domain_too_small() -> None:
    result = check_table("Tiny", ["a", "b", "c"], [["a", "b", "c", "b"]])
    assert any(p.kind == "domain_too_small" for p in result.errors)


def test_balance_histogram_and_warnings() -> None:
    table = {r[0]: tuple(r[1:]) for r in VALID}
    counts = use_counts(SKATING, table)
    assert sum(counts.values()) == 18
    hist = histogram(counts)
    assert sum(hist.values()) == len(SKATING) and sum(k * v for k, v in hist.items()) == 18
    assert balance_problems("Figure Skating", counts) == []
    lopsided = {n: ("Triple Lutz", "Triple Flip", "Triple Loop") for n in SKATING[3:]}
    lopsided |= {n: tuple(x for x in SKATING[3:] if x != n)[:2] + ("Triple Loop",) for n in SKATING[:3]}
    warn = balance_problems("Figure Skating", use_counts(SKATING, lopsided))
    assert warn and all(p.severity == "warning" for p in warn)
    assert histogram({"a": 0, "b": 3}) == {0: 1, 1: 0, 2: 0, 3: 1}


# ------------------------------------------------------------------------- reply parsing


def test_fenced_csv_with_prose_around() -> None:
    text = (
        "Sure, here are the hard negatives, as requested:\n\n```csv\n" + csv_text(VALID) + "\n```\n\n"
        "Let me know, if you need changes, to any row."
    )
    t = extract_table(text, SKATING)
    assert t.source == "fenced" and t.had_header and t.rows == VALID


def test_plain_csv_without_header_and_quoted_names() -> None:
    rows = ['"' + '","'.join(r) + '"' for r in VALID]
    text = "Here is the revised CSV:\n" + "\n".join(rows) + "\nThese changes, I think, help."
    t = extract_table(text, SKATING)
    assert t.source == "plain" and not t.had_header and t.rows == VALID


def test_explanation_then_csv_takes_the_table() -> None:
    explanation = (
        "Changes:\n- Triple Lutz, Double Axel: swapped to avoid a pattern.\n"
        "- For Triple Flip, I replaced Triple Loop with Triple Salchow.\n\n"
    )
    t = extract_table(explanation + "```\n" + csv_text(VALID) + "\n```", SKATING)
    assert t.rows == VALID


def test_largest_fenced_block_wins_and_last_on_tie() -> None:
    first = [r[:] for r in VALID]
    first[0][1] = "Triple Salchow"
    text = f"```csv\n{csv_text(first)}\n```\nrevised:\n```csv\n{csv_text(VALID)}\n```"
    assert extract_table(text, SKATING).rows == VALID
    short = f"```csv\n{csv_text(VALID)}\n```\n```\n{csv_text(VALID[:2])}\n```"
    assert extract_table(short, SKATING).rows == VALID


def test_markdown_table() -> None:
    lines = ["| action | negative 1 | negative 2 | negative 3 |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in VALID]
    t = extract_table("\n".join(lines), SKATING)
    assert t.rows == VALID and t.had_header


def test_misspelled_and_short_rows_are_kept_for_correction() -> None:
    rows = [r[:] for r in VALID]
    rows[2][0] = "Tripple Loop"
    rows[4] = rows[4][:3]
    t = extract_table(csv_text(rows), SKATING)
    assert len(t.rows) == 6 and t.rows[2][0] == "Tripple Loop" and len(t.rows[4]) == 3


def test_unquoted_comma_inside_a_name_is_rejoined() -> None:
    names = ["Pass, Receive", "Dribble", "Shoot", "Block", "Steal"]
    text = "action,negative_1,negative_2,negative_3\nDribble,Pass, Receive,Shoot,Block\nShoot,Dribble,Block,Steal"
    t = extract_table(text, names)
    assert t.rows[0] == ["Dribble", "Pass, Receive", "Shoot", "Block"] and t.notes


def test_refusal_has_no_table() -> None:
    t = extract_table("I'm sorry, but I can't help with that request.", SKATING)
    assert not t.found and t.source == "none"
    assert not extract_table("", SKATING).found


# ------------------------------------------------------------------------- exclusions


def test_read_exclusions(tmp_path: Path) -> None:
    p = tmp_path / "pairs.csv"
    p.write_text(
        "domain,action_a,action_b\nFigure Skating,Triple Lutz,Double Axel\nFigure Skating,Double Axel,Triple Lutz\n",
        encoding="utf-8",
    )
    pairs, warnings = read_exclusions(p, {"Figure Skating": SKATING})
    assert pairs == {"Figure Skating": {frozenset(("Triple Lutz", "Double Axel"))}}
    assert len(warnings) == 1 and "same pair as line 2" in str(warnings[0])


def test_read_exclusions_reports_every_bad_row(tmp_path: Path) -> None:
    p = tmp_path / "pairs.csv"
    p.write_text(
        "domain,action_a,action_b\nFigure Skatin,Triple Lutz,Double Axel\n"
        "Figure Skating,Tripple Lutz,Double Axel\nFigure Skating,Double Axel,Double Axel\n",
        encoding="utf-8",
    )
    with pytest.raises(AnnotationError) as e:
        read_exclusions(p, {"Figure Skating": SKATING})
    text = str(e.value)
    assert "pairs.csv:2: domain='Figure Skatin': unknown domain (did you mean 'Figure Skating'?)" in text
    assert "pairs.csv:3: action_a='Tripple Lutz'" in text and "did you mean 'Triple Lutz'?" in text
    assert "pairs.csv:4" in text and "two different actions" in text
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("domain,a,b\n", encoding="utf-8")
    with pytest.raises(AnnotationError, match="missing column"):
        read_exclusions(bad_header, {"Figure Skating": SKATING})


# ------------------------------------------------------------------------- prompts


def test_first_prompt_fills_the_placeholders() -> None:
    actions = [Action("Sports", "Figure Skating", n, "jump", f"{n} <ACTION LIST> def.") for n in SKATING]
    text = prompts.first_prompt("Figure Skating", actions, {frozenset(("Triple Lutz", "Double Axel"))})
    assert text.startswith('Below is my list of "Figure Skating" actions, along with their definitions:\n')
    assert "Triple Lutz: Triple Lutz <ACTION LIST> def.\nTriple Flip:" in text  # single-pass substitution
    assert "same order as provided:\n" + "\n".join(SKATING) + "\nNegatives should only EXACTLY" in text
    assert "<ACTION>" not in text and "<ACTION DEFINITION>" not in text
    assert text.endswith("- Double Axel / Triple Lutz")


def _words(text: str) -> list[str]:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).strip().split(" ")


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("SYSTEM_PROMPT", " System Prompt", "Figure 10 |"),
        ("FIRST_PROMPT", "Figure 10 |", "API Details"),
        ("ANALYSIS_PROMPT", "Figure 11 |", "API Details"),
        ("REVISION_PROMPT", "Figure 12 |", "API Details"),
        ("FINAL_PROMPT", "Figure 13 |", "API Details"),
    ],
)
def test_prompts_are_the_papers_words(name: str, start: str, end: str) -> None:
    """Word for word what the paper prints between the figure's labels."""
    paper = PAPER.read_text(encoding="utf-8")
    i = paper.index(start, paper.index("B.4 LLM Generated Hard Negatives"))
    j = paper.index(end, i + len(start))
    block = paper[paper.index("\n", i) : j]  # from the line after the start label (a caption)
    block = block.replace("User Prompt", "")
    assert _words(getattr(prompts, name)) == _words(block)

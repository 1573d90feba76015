"""``videonet report``: the paper's tables and plots from real lmms-eval output of two scripted models."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from lmms_world import build_world, read_rows, script_binary, script_mc, write_script
from PIL import Image

from videonet_datasets.report import Report, load_results, results_from_dict
from videonet_lmms_tasks.catalog import BY_NAME, TASKS_DIR

TASKS = [
    "videonet_mc",
    "videonet_mc_middle_frame",
    *[f"videonet_binary_hard_{k}shot" for k in range(4)],
    *[f"videonet_binary_random_{k}shot" for k in range(4)],
    "videonet_binary_hard_0shot_middle_frame",
    "videonet_binary_hard_0shot_definition",
    "videonet_binary_hard_0shot_lenient",
    "videonet_binary_hard_0shot_balanced",
]
MODELS = {"alpha": 0, "beta": 1}  # label -> script shift (different answers per model)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """lmms-eval output directories of two scripted models, and the hand-computed expectations."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.loggers import EvaluationTracker
    from lmms_eval.tasks import TaskManager

    root = tmp_path_factory.mktemp("report")
    world = build_world(root).resolve()
    tm = TaskManager("WARNING", include_path=str(TASKS_DIR), model_name="videonet_scripted")
    expected: dict[str, dict] = {}
    dirs = {}
    old = os.environ.get("VIDEONET_DATA")
    os.environ["VIDEONET_DATA"] = str(world)
    try:
        for label, shift in MODELS.items():
            per_task, expected[label] = {}, {}
            for i, task in enumerate(TASKS):  # answers differ per model and per task
                spec = BY_NAME[task]
                script = script_binary if spec.binary else script_mc
                rows = read_rows(world, spec.config, spec.split)
                per_task[task], expected[label][task] = script(rows, shift=shift + i)
            answers = write_script(root / f"{label}.json", per_task=per_task)
            tracker = EvaluationTracker(output_path=str(root / "runs" / label))
            results = simple_evaluate(
                model="videonet_scripted",
                model_args=f"answers={answers}",
                tasks=TASKS,
                task_manager=tm,
                verbosity="WARNING",
                evaluation_tracker=tracker,
            )
            tracker.save_results_aggregated(results=results, samples=None, datetime_str="2026-01-01T00-00-00")
            dirs[label] = root / "runs" / label
    finally:
        if old is None:
            os.environ.pop("VIDEONET_DATA", None)
        else:
            os.environ["VIDEONET_DATA"] = old
    return dirs, expected, root


@pytest.fixture(scope="module")
def written(runs):
    from videonet_datasets.cli import main

    dirs, _, root = runs
    out = root / "report"
    assert main(["report", *(f"{label}={d}" for label, d in dirs.items()), "--out", str(out)]) == 0
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(open(path, encoding="utf-8")))


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def test_table3_mc_by_category_matches_hand_computed(runs, written: Path):
    _, expected, _ = runs
    rows = {r["Model"]: r for r in _csv(written / "table3_mc.csv")}
    assert list(rows) == ["Random", "alpha", "beta"]
    assert list(rows["alpha"]) == ["Model", "Dance", "Sports", "Overall"]  # paper's category order
    for label in MODELS:
        m = expected[label]["videonet_mc"].metrics()
        assert rows[label]["Overall"] == _pct(m["accuracy"])
        for cat in ("Dance", "Sports"):
            assert rows[label][cat] == _pct(m[f"accuracy[{cat}]"])
            assert rows["Random"][cat] == _pct(m[f"random_baseline[{cat}]"])
        assert rows["Random"]["Overall"] == _pct(m["random_baseline"])
    md = (written / "table3_mc.md").read_text()
    assert md.startswith("### Table 3") and "| Random |" in md and "(robust scoring" in md
    official = {r["Model"]: r for r in _csv(written / "table3_mc_official.csv")}
    for label in MODELS:
        m = expected[label]["videonet_mc"].metrics()
        assert official[label]["Overall"] == _pct(m["official_accuracy"])
        for cat in ("Dance", "Sports"):
            assert official[label][cat] == _pct(m[f"official_accuracy[{cat}]"])
    pn = {(r["Model"], r["k"]): r for r in _csv(written / "table17_positive_negative_official.csv")}
    m = expected["beta"]["videonet_binary_hard_2shot"].metrics()
    assert pn[("beta", "2")]["Negative clips"] == _pct(m["official_accuracy_negative"])
    assert pn[("beta", "2")]["Unparsable (count)"] == str(m["official_unparsable"])


def test_kshot_and_positive_negative_tables(runs, written: Path):
    _, expected, _ = runs
    k_rows = _csv(written / "table12_kshot.csv")
    assert [(r["Model"], r["k"]) for r in k_rows] == [(m, str(k)) for m in MODELS for k in range(4)]
    for r in k_rows:
        m = expected[r["Model"]][f"videonet_binary_hard_{r['k']}shot"].metrics()
        assert r["Overall"] == _pct(m["accuracy"]) and r["Sports"] == _pct(m["accuracy[Sports]"])
    pn = _csv(written / "table17_positive_negative.csv")
    for r in pn:
        m = expected[r["Model"]][f"videonet_binary_hard_{r['k']}shot"].metrics()
        assert r["Positive clips"] == _pct(m["accuracy_positive"])
        assert r["Negative clips"] == _pct(m["accuracy_negative"])
        assert r["Yes-rate"] == _pct(m["yes_rate"])
        assert r["Unparsed"] == _pct(m["unparsed_rate"])
    hr = _csv(written / "table5_hard_vs_random.csv")
    assert len(hr) == 8
    r0 = next(r for r in hr if r["Model"] == "beta" and r["k"] == "2")
    assert r0["Random negatives"] == _pct(
        expected["beta"]["videonet_binary_random_2shot"].metrics()["accuracy"]
    )


def test_ablation_and_domain_tables(runs, written: Path):
    _, expected, _ = runs
    inputs = _csv(written / "table11_inputs.csv")
    got = {(r["Model"], r["Input"]): r["Overall"] for r in inputs}
    exp = expected["alpha"]
    assert got[("alpha", "Middle frame")] == _pct(
        exp["videonet_binary_hard_0shot_middle_frame"].metrics()["accuracy"]
    )
    assert got[("alpha", "Video w/ definition")] == _pct(
        exp["videonet_binary_hard_0shot_definition"].metrics()["accuracy"]
    )
    assert got[("alpha", "MC middle frame")] == _pct(exp["videonet_mc_middle_frame"].metrics()["accuracy"])
    prompts_rows = _csv(written / "table16_prompts.csv")
    assert {r["Prompt"] for r in prompts_rows} == {"Default", "Balanced", "Lenient"}
    domains = _csv(written / "domains.csv")
    assert [(r["Category"], r["Domain"]) for r in domains] == [("Dance", "Domain 1"), ("Sports", "Domain 0")]
    assert domains[1]["alpha (MC)"] == _pct(exp["videonet_mc"].metrics()["accuracy[Sports > Domain 0]"])


def test_plots_are_real_readable_pngs(written: Path):
    for name, min_width in (
        ("fig5_kshot.png", 700),
        ("fig18_positive_negative.png", 700),
        ("mc_by_category.png", 700),
        ("binary_0shot_by_category.png", 700),
    ):
        with Image.open(written / name) as img:
            assert img.format == "PNG" and img.width >= min_width and img.height >= 400
            colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
            assert colors is not None and len(colors) > 50  # lines, bars, text - not a blank canvas
    report = (written / "report.md").read_text()
    assert "![fig5_kshot](fig5_kshot.png)" in report and "### Table 12" in report
    assert "![fig5_kshot_official](fig5_kshot_official.png)" in report
    assert report.index("## Official scoring") < report.index("## Robust scoring")
    assert "The paper's tables use it" in report or "the paper's tables use it" in report


def test_newest_run_wins_and_partial_runs_are_flagged(tmp_path: Path):
    def result(acc: float, date: float, effective: int) -> dict:
        return {
            "results": {
                "videonet_mc": {"alias": "videonet_mc", "accuracy,none": acc, "accuracy_stderr,none": 0.1}
            },
            "n-samples": {"videonet_mc": {"original": 10, "effective": effective}},
            "config": {"model": "qwen3_vl", "model_args": "pretrained=Qwen/Qwen3-VL-8B-Instruct,fps=2"},
            "date": date,
        }

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "old_results.json").write_text(json.dumps(result(0.1, 1.0, 10)))
    (tmp_path / "a" / "new_results.json").write_text(json.dumps(result(0.4, 2.0, 5)))
    (tmp_path / "a" / "junk_results.json").write_text("{not json")
    results, notes = load_results([tmp_path / "a"])
    assert len(results) == 1 and results[0].value("accuracy") == 0.4
    assert results[0].model == "qwen3_vl:Qwen3-VL-8B-Instruct"
    assert any("partial run (5 of 10" in n for n in notes)
    assert any("older:" in n and "old_results.json" in n for n in notes)
    assert any("junk_results.json" in n for n in notes)
    assert Report(results).summary().rows[0][-1] == "partial"
    with pytest.raises(FileNotFoundError):
        load_results([tmp_path / "missing"])


def test_report_command_errors(tmp_path: Path, capsys):
    from videonet_datasets.cli import main

    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x_results.json").write_text(json.dumps({"results": {"mme": {"acc,none": 0.5}}}))
    assert main(["report", str(tmp_path / "other"), "--out", str(tmp_path / "o")]) == 2
    assert "no VideoNet task results" in capsys.readouterr().err
    assert results_from_dict({"results": {"videonet_mc": {"accuracy,none": 0.5}}})[0].model == "model"

"""The official release through lmms-eval, the authors' result files both ways, one report.

A scripted model answers the release fixture's questions (read straight from the release's
folder: the tasks import it as published on first use).  Checked: models are shown the stored
prompt text in the stored order; both conventions' metrics equal the hand-computed ones;
``export-results`` writes the authors' layout with the per-question codes computed by hand;
``report`` reads those files back (with and without the questions) to the same numbers; tasks
the release cannot serve refuse when they load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from lmms_world import script_binary, script_mc, task_metrics, write_script
from release_world import ACTIONS, write_release
from test_prompts import RELEASED_0SHOT, RELEASED_2SHOT_INTRO, RELEASED_QUESTION

from videonet_datasets.benchmark.release import import_release
from videonet_datasets.benchmark.schema import data_file
from videonet_datasets.official_results import FILE_FOR_TASK, export_samples, read_file, rescore
from videonet_datasets.report import load_results
from videonet_lmms_tasks.catalog import BY_NAME, TASKS_DIR

TASKS = ["videonet_mc", "videonet_mc_val", *[f"videonet_binary_hard_{k}shot" for k in range(4)]]


def _rows(root: Path, config: str, split: str) -> list[dict]:
    return pq.read_table(root / data_file(config, split)).to_pylist()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("release_eval")
    release = write_release(root / "VideoNet")
    imported = root / "videonet"
    import_release(release.root, imported, progress=False)
    return root, release, imported


@pytest.fixture(scope="module")
def run(world):
    """One lmms-eval run of the main tasks on the release folder itself, samples logged."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.loggers import EvaluationTracker
    from lmms_eval.tasks import TaskManager

    root, release, imported = world
    per_task, expected = {}, {}
    for i, task in enumerate(TASKS):
        spec = BY_NAME[task]
        rows = _rows(imported, spec.config, spec.split)
        per_task[task], expected[task] = (script_binary if spec.binary else script_mc)(rows, shift=i)
    answers = write_script(root / "answers.json", per_task=per_task)
    log = root / "requests.jsonl"
    env = {"VIDEONET_DATA": str(release.root), "VIDEONET_CACHE": str(root / "cache")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        tm = TaskManager("WARNING", include_path=str(TASKS_DIR), model_name="videonet_scripted")
        tracker = EvaluationTracker(output_path=str(root / "runs" / "scripted"))
        results = simple_evaluate(
            model="videonet_scripted",
            model_args=f"answers={answers},log={log}",
            tasks=TASKS,
            task_manager=tm,
            verbosity="WARNING",
            evaluation_tracker=tracker,
            log_samples=True,
        )
        samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=samples, datetime_str="2026-01-01T00-00-00")
        for task, task_samples in samples.items():
            tracker.save_results_samples(task_name=task, samples=task_samples)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return results, expected, requests, per_task, root / "runs" / "scripted"


def test_models_see_the_stored_prompts_in_the_stored_order(world, run):
    _, release, _ = world
    _, _, requests, _, _ = run
    files = {"videonet_mc": "mcq_test.jsonl", "videonet_mc_val": "mcq_val.jsonl"}
    files.update({f"videonet_binary_hard_{k}shot": f"binary_{k}shot.jsonl" for k in range(4)})
    seen = 0
    for req in requests:
        doc = release.by_key(files[req["task"]])[req["question_id"]]
        content = req["messages"][0]["content"]
        assert [c["type"] for c in content] == [e["type"] for e in doc["question"]]
        for c, e in zip(content, doc["question"]):
            if e["type"] == "text":
                assert c["text"] == e["text"]  # byte for byte, hand-written grammar included
            else:
                assert Path(c["url"]).name == e["video"]
        seen += 1
    assert seen == 4 * len(ACTIONS) * 5 + len(ACTIONS)
    # The wording quoted from the official files, on both paths: imported (here) and built (test_prompts).
    sent = {
        (r["task"], r["question_id"]): [c.get("text") for c in r["messages"][0]["content"]] for r in requests
    }
    assert sent[("videonet_binary_hard_2shot", "1-pos-1")] == [
        RELEASED_2SHOT_INTRO,
        None,
        None,
        RELEASED_QUESTION,
        None,
    ]
    assert sent[("videonet_binary_hard_0shot", "1-neg-2")][0] == RELEASED_0SHOT
    assert sent[("videonet_binary_hard_0shot", "3-pos-1")][0].startswith(
        "Recall that Crossovers are an action in Figure Skating. Does the following video show Crossovers?"
    )


def test_both_conventions_equal_the_hand_computed_metrics(run):
    results, expected, _, _, _ = run
    for task in TASKS:
        got = task_metrics(results, task)
        want = expected[task].metrics()
        for key, value in want.items():
            assert got[key] == pytest.approx(value), (task, key)
        assert set(got) - set(want) == {"answer_counts"}, task
        # The conventions really differ on this script.
        assert want["official_unparsable"] > 0 and want["official_accuracy"] != want["accuracy"]


def test_export_writes_the_authors_layout_with_hand_computed_codes(run, tmp_path: Path):
    _, expected, _, per_task, run_dir = run
    summary = export_samples([f"scripted={run_dir}"], tmp_path / "results")
    files = sorted(p.name for p in summary.written["scripted"])
    assert files == sorted(FILE_FOR_TASK.values())
    for task, fname in FILE_FOR_TASK.items():
        data = json.loads((tmp_path / "results" / "scripted" / fname).read_text())
        assert set(data) == set(per_task[task])  # every question, keyed by the release's key
        for key, entry in data.items():
            assert set(entry) == {"accurate", "prediction", "response"}
            assert entry["accurate"] == expected[task].codes[key], (task, key, entry)
            assert entry["response"] == (per_task[task][key] or "")
    assert not summary.notes
    # The command.
    from videonet_datasets.cli import main

    assert main(["export-results", str(run_dir), "--format", "official", "--out", str(tmp_path / "r2")]) == 0
    assert len(list((tmp_path / "r2").rglob("*.json"))) == 6


def test_report_reads_exported_files_back_to_the_same_numbers(world, run, tmp_path: Path):
    _, release, imported = world
    results, _, _, _, run_dir = run
    export_samples([f"scripted={run_dir}"], tmp_path / "results")
    for data in (imported, release.root):  # an imported directory, or the release itself
        back, notes = load_results([tmp_path / "results"], data=data)
        assert {r.task for r in back} == set(TASKS) and {r.model for r in back} == {"scripted"}
        for r in back:
            got = task_metrics(results, r.task)
            for key, value in r.metrics.items():
                if key == "answer_counts":
                    continue
                assert value == pytest.approx(got[key]), (r.task, key)
            assert set(r.metrics) == set(got), r.task
            assert not r.partial
    # Without the questions: binary files re-scored from their keys (overall only), MC from their codes.
    back, notes = load_results([tmp_path / "results"])
    by_task = {r.task: r for r in back}
    for k in range(4):
        got = task_metrics(results, f"videonet_binary_hard_{k}shot")
        m = by_task[f"videonet_binary_hard_{k}shot"].metrics
        for key in ("accuracy", "official_accuracy", "official_unparsable", "official_accuracy_negative"):
            assert m[key] == pytest.approx(got[key]), (k, key)
    mc = task_metrics(results, "videonet_mc")
    assert by_task["videonet_mc"].metrics["official_accuracy"] == pytest.approx(mc["official_accuracy"])
    assert "accuracy" not in by_task["videonet_mc"].metrics
    assert any("pass --data" in n for n in notes)


def test_report_puts_lmms_eval_runs_and_result_files_in_one_table(world, run, tmp_path: Path, capsys):
    from videonet_datasets.cli import main

    _, _, imported = world
    results, expected, _, _, run_dir = run
    export_samples([f"scripted={run_dir}"], tmp_path / "results")
    out = tmp_path / "report"
    code = main(
        ["report", f"ours={run_dir}", f"exported={tmp_path / 'results' / 'scripted'}", "--data", str(imported),
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| videonet_mc | ours | official |" in printed and "| videonet_mc | exported | robust |" in printed
    import csv

    table3 = {r["Model"]: r for r in csv.DictReader(open(out / "table3_mc_official.csv"))}
    want = expected["videonet_mc"].metrics()
    assert (
        table3["ours"]["Overall"] == table3["exported"]["Overall"] == f"{100 * want['official_accuracy']:.2f}"
    )
    robust3 = {r["Model"]: r for r in csv.DictReader(open(out / "table3_mc.csv"))}
    assert robust3["ours"]["Overall"] == f"{100 * want['accuracy']:.2f}"
    summary = list(csv.DictReader(open(out / "summary.csv")))
    row = next(r for r in summary if r["Task"] == "videonet_mc" and r["Model"] == "ours")
    assert row["Unparsable (count)"] == str(want["official_unparsable"])
    # The published code's defect 1 counts the unparsable answers as correct: shown beside it.
    assert row["As published"] == f"{100 * want['official_as_published']:.2f}" != row["Official"]
    report = (out / "report.md").read_text()
    assert "## Official scoring" in report and "## Robust scoring" in report
    assert (out / "fig5_kshot_official.png").is_file() and (out / "fig5_kshot.png").is_file()


def test_the_authors_own_files_are_rescored_with_the_defects_fixed(tmp_path: Path):
    """A result file as the published code writes it: its fallback scored a negative clip's
    multi-line "No, ..." as wrong (defect 2); re-scoring fixes it."""
    entries = {
        "1-pos-1": {"accurate": 1, "prediction": "yes", "response": "Yes"},
        "1-neg-1": {"accurate": 0, "prediction": "the edge is inside", "response": "No, it is not.\nThe edge is inside."},
        "1-neg-2": {"accurate": 1, "prediction": "the edge is outside", "response": "Yes, it is.\nThe edge is outside."},
        "2-pos-1": {"accurate": -1, "prediction": "maybe", "response": "Maybe"},
    }  # fmt: skip
    path = tmp_path / "gpt-5" / "zero.json"
    path.parent.mkdir()
    path.write_text(json.dumps(entries))
    run = read_file(path)
    assert run is not None and run.task == "videonet_binary_hard_0shot"
    metrics, _ = rescore(run)
    assert metrics["official_accuracy"] == pytest.approx(2 / 3)  # 1-pos-1, 1-neg-1 right; 1-neg-2 wrong
    assert metrics["official_as_published"] == pytest.approx(2 / 3)  # 1-pos-1 and (wrongly) 1-neg-2
    assert metrics["official_accuracy_negative"] == pytest.approx(1 / 2)
    assert metrics["official_unparsable"] == 1
    results, _ = load_results([tmp_path])
    assert results[0].model == "gpt-5" and results[0].value("official_accuracy") == pytest.approx(2 / 3)
    results, notes = load_results([f"mine={path}"])  # a single file, labelled
    assert results[0].model == "mine" and not any("skipped" in n for n in notes)
    (tmp_path / "gpt-5" / "weird.json").write_text(json.dumps(entries))
    _, notes = load_results([tmp_path])
    assert any("weird.json" in n and "configuration is unknown" in n for n in notes)


def test_tasks_the_release_cannot_serve_refuse_when_they_load(world, tmp_path: Path, monkeypatch):
    """Random negatives and definitions are not in the release: one clear message at load time."""
    from videonet_lmms_tasks import source
    from videonet_lmms_tasks.tasks.videonet import utils

    _, _, imported = world
    monkeypatch.setenv("VIDEONET_DATA", str(imported))
    with pytest.raises(source.MissingFieldError, match=r"no config 'binary_random_0shot'.*videonet_main"):
        utils.DATA_PATH_binary_random_0shot  # noqa: B018 - what lmms-eval reads when the task loads
    with pytest.raises(
        source.MissingFieldError,
        match=rf"definition.*{4 * len(ACTIONS)} of {4 * len(ACTIONS)}.*publishes no definitions",
    ):
        utils.DATA_PATH_binary_0shot__definition  # noqa: B018
    assert utils.DATA_PATH_binary_0shot == str(imported.resolve())


def test_raivn_videonet_on_the_hub_is_read_as_published(world, tmp_path: Path, monkeypatch):
    """Up to the Hub boundary: the release's repo layout (question files + videos) stands in for
    ``raivn/VideoNet``; the question files are fetched, imported into the cache, then only the
    clips the config shows are downloaded - and reach the models through the import."""
    import fnmatch
    import shutil

    import huggingface_hub

    from videonet_lmms_tasks import source

    _, release, _ = world
    calls = []
    snapshot = tmp_path / "hub" / "snapshot"

    def fake_snapshot_download(repo_id, repo_type, revision=None, allow_patterns=None):
        calls.append((repo_id, list(allow_patterns)))
        for f in release.root.rglob("*"):
            rel = f.relative_to(release.root).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns):
                (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, snapshot / rel)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setenv("VIDEONET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(source, "_hub_roots", {})
    info = source.open_config("binary_1shot", spec="raivn/VideoNet")
    assert calls[0][0] == "raivn/VideoNet" and "benchmarks/*.jsonl" in calls[0][1]
    assert info.root.parent == tmp_path / "cache" / "releases" and info.rows == {"test": 4 * len(ACTIONS)}
    assert not (snapshot / "data").exists()  # the repo's own layout; the import is in the cache
    shown = {v for d in release.lines["binary_1shot.jsonl"] for e in d["question"] if (v := e.get("video"))}
    assert {Path(p).name for p in calls[1][1]} == shown  # only the clips this config shows
    assert sorted(p.name for p in (snapshot / "videos").iterdir()) == sorted(shown)
    rows = _rows(info.root, "binary_1shot", "test")
    assert [r["question_id"] for r in rows] == [d["key"] for d in release.lines["binary_1shot.jsonl"]]
    path = source.playable_path(info.root, rows[0]["video"])
    assert Path(path).resolve() == (snapshot / rows[0]["video"]).resolve()

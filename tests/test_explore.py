"""``videonet explore``: the site's data against hand-computed scores and ``videonet report``'s numbers,
the comparison's clustered standard errors, the exports, and the page in a real Chromium.

Two scripted models (lmms_world's messy reply styles) answer MC and binary 0/1-shot through real
lmms-eval runs with ``--log_samples``.  The page's screenshot is written to ``docs/explore.png``
with ``VIDEONET_SCREENSHOTS=docs`` (the README's picture).
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest
from lmms_world import build_world, read_rows, script_binary, script_mc, write_script

from videonet_datasets.report import Report, load_results
from videonet_datasets.scoring import paired_difference
from videonet_lmms_tasks.catalog import BY_NAME, TASKS_DIR

TASKS = ["videonet_mc", "videonet_binary_hard_0shot", "videonet_binary_hard_1shot"]
MODELS = {"alpha": 0, "beta": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """lmms-eval runs (samples logged) of two scripted models, and what each was scripted to say."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.loggers import EvaluationTracker
    from lmms_eval.tasks import TaskManager

    root = tmp_path_factory.mktemp("explore")
    world = build_world(root).resolve()
    tm = TaskManager("WARNING", include_path=str(TASKS_DIR), model_name="videonet_scripted")
    expected: dict[str, dict] = {}
    replies: dict[str, dict] = {}
    dirs = {}
    old = os.environ.get("VIDEONET_DATA")
    os.environ["VIDEONET_DATA"] = str(world)
    try:
        for label, shift in MODELS.items():
            per_task, expected[label] = {}, {}
            for i, task in enumerate(TASKS):
                spec = BY_NAME[task]
                rows = read_rows(world, spec.config, spec.split)
                script = script_binary if spec.binary else script_mc
                per_task[task], expected[label][task] = script(rows, shift=shift + i)
            replies[label] = per_task
            answers = write_script(root / f"{label}.json", per_task=per_task)
            tracker = EvaluationTracker(output_path=str(root / "runs" / label))
            results = simple_evaluate(
                model="videonet_scripted",
                model_args=f"answers={answers}",
                tasks=TASKS,
                task_manager=tm,
                verbosity="WARNING",
                evaluation_tracker=tracker,
                log_samples=True,
            )
            samples = results.pop("samples")
            tracker.save_results_aggregated(
                results=results, samples=samples, datetime_str="2026-01-01T00-00-00"
            )
            for task, task_samples in samples.items():
                tracker.save_results_samples(task_name=task, samples=task_samples)
            dirs[label] = root / "runs" / label
    finally:
        if old is None:
            os.environ.pop("VIDEONET_DATA", None)
        else:
            os.environ["VIDEONET_DATA"] = old
    return dirs, expected, replies, world, root


@pytest.fixture(scope="module")
def site(runs):
    from videonet_datasets.cli import main

    dirs, _, _, world, root = runs
    out = root / "site"
    specs = [f"{label}={d}" for label, d in dirs.items()]
    assert main(["explore", *specs, "--data", str(world), "--out", str(out), "--quiet"]) == 0
    return out


def _doc(site: Path) -> dict:
    text = (site / "data.js").read_text(encoding="utf-8")
    prefix = "window.VIDEONET_EXPLORE = "
    assert text.startswith(prefix) and text.rstrip().endswith(";")
    return json.loads(text[len(prefix) :].rstrip().rstrip(";"))


def test_every_answer_is_scored_as_scripted(runs, site: Path) -> None:
    _, expected, replies, _, _ = runs
    doc = _doc(site)
    q, strings = doc["q"], doc["strings"]
    assert doc["models"] == list(MODELS) and doc["tasks"] == TASKS
    for label in MODELS:
        a = doc["answers"][label]
        for t, task in enumerate(TASKS):
            picked = [i for i, ti in enumerate(q["task"]) if ti == t]
            exp = expected[label][task]
            assert len(picked) == exp.n
            assert sum(a["ok"][i] for i in picked) == exp.correct
            assert sum(1 for i in picked if strings[a["status"][i]] != "ok") == exp.unparsed
            for i in picked:
                qid = q["qid"][i]
                assert a["official"][i] == exp.codes[qid], (label, task, qid)
                assert strings[a["raw"][i]] == replies[label][task][qid]
    assert not [n for n in doc["notes"] if "not the same run" in n or "no per-question" in n]


def test_prompts_are_the_prompts_sent(runs, site: Path) -> None:
    _, _, _, world, _ = runs
    doc = _doc(site)
    q = doc["q"]
    one_shot = TASKS.index("videonet_binary_hard_1shot")
    rows = {r["question_id"]: r for r in read_rows(world, "binary_1shot")}
    i = q["task"].index(one_shot)
    row = rows[q["qid"][i]]
    prompt = doc["prompts"][q["prompt"][i]]
    texts = [e["text"] for e in row["question"] if e["type"] == "text"]
    assert prompt.count("<video>") == 2 and all(t in prompt for t in texts)
    assert len(q["examples"][i]) == 1 and doc["clips"]["href"][q["examples"][i][0]].endswith(".mp4")


def test_tables_are_the_reports_numbers(runs, site: Path) -> None:
    dirs, expected, _, _, _ = runs
    doc = _doc(site)
    results, _ = load_results([f"{label}={d}" for label, d in dirs.items()])
    for conv in ("official", "robust"):
        ours = {t["name"]: t for t in doc["tables"][conv]}
        report = {t.name: t for t in Report(results, conv).tables()}
        assert set(ours) == set(report) and "domains" + ("_official" if conv == "official" else "") in ours
        for name, table in report.items():
            got = ours[name]["rows"]
            assert len(got) == len(table.rows)
            for g, r in zip(got, table.rows):
                for gv, rv in zip(g, r):
                    assert gv == rv or (isinstance(rv, float) and gv == pytest.approx(rv, abs=1e-6)), name
    domains = {
        (r[0], r[1]): r[2:] for r in {t["name"]: t for t in doc["tables"]["robust"]}["domains"]["rows"]
    }
    exp = expected["alpha"]["videonet_mc"]
    for (cat, dom), oks in exp.by_domain.items():
        assert domains[(cat, dom)][0] == pytest.approx(sum(oks) / len(oks))


def test_comparison_delta_is_the_report_difference_with_a_clustered_se(runs, site: Path) -> None:
    dirs, expected, _, _, _ = runs
    doc = _doc(site)
    cmp = next(c for c in doc["comparisons"] if c["task"] == "videonet_mc")
    assert (cmp["a"], cmp["b"]) == ("alpha", "beta")
    overall = cmp["rows"][0]
    ea, eb = expected["alpha"]["videonet_mc"], expected["beta"]["videonet_mc"]
    assert overall["category"] == "" and overall["n"] == ea.n
    assert overall["delta"] == pytest.approx(ea.correct / ea.n - eb.correct / eb.n, abs=1e-6)
    assert overall["clusters"] == 8  # 2 domains x 4 actions
    assert overall["se"] is not None and 0 < overall["se"] < 0.5
    assert {r["domain"] for r in cmp["rows"] if r["domain"]} == {"Domain 0", "Domain 1"}


def test_paired_difference_by_hand() -> None:
    # Two actions: x has differences (1, 1, 0) and y has (0, -1); mean d = 1/5.
    pairs = [("x", 1, 0), ("x", 1, 0), ("x", 1, 1), ("y", 0, 0), ("y", 0, 1)]
    diff = paired_difference(pairs)
    assert diff is not None and diff.n == 5 and diff.clusters == 2
    assert diff.delta == pytest.approx(0.2) and diff.a == pytest.approx(0.6) and diff.b == pytest.approx(0.4)
    # residual sums: x: 3 * (1 - .2) - .2 = 2.2... as d - mean: (.8, .8, -.2) = 1.4; y: (-.2, -1.2) = -1.4
    assert diff.stderr == pytest.approx(math.sqrt(2 / 1 * (1.4**2 + 1.4**2)) / 5)
    assert paired_difference([("x", 1, 0)]).stderr is None
    assert paired_difference([]) is None


def test_leaderboard_exports(runs, site: Path) -> None:
    _, expected, _, _, _ = runs
    with open(site / "leaderboard.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    levels = {r["level"] for r in rows}
    assert levels == {"overall", "category", "domain", "action"} and {r["scoring"] for r in rows} == {
        "official",
        "robust",
    }
    overall = next(
        r
        for r in rows
        if (r["model"], r["task"], r["scoring"], r["level"]) == ("alpha", "videonet_mc", "robust", "overall")
    )
    exp = expected["alpha"]["videonet_mc"]
    assert float(overall["accuracy"]) == pytest.approx(100 * exp.correct / exp.n, abs=1e-4)
    actions = [
        r
        for r in rows
        if (r["model"], r["task"], r["scoring"], r["level"]) == ("alpha", "videonet_mc", "robust", "action")
    ]
    assert len(actions) == 8 and sum(int(r["questions"]) for r in actions) == exp.n
    assert sum(float(r["accuracy"]) / 100 * int(r["questions"]) for r in actions) == pytest.approx(
        exp.correct
    )
    card = (site / "leaderboard" / "README.md").read_text(encoding="utf-8")
    assert (
        "config_name: default" in card
        and (site / "leaderboard" / "data" / "train-00000-of-00001.parquet").is_file()
    )
    assert "| alpha | videonet_mc | robust |" in (site / "leaderboard.md").read_text(encoding="utf-8")


def test_the_leaderboard_folder_publishes_and_loads(site: Path, tmp_path: Path) -> None:
    from datasets import load_dataset

    from videonet_datasets.cli import main

    bundle = tmp_path / "bundle"
    argv = ["publish", "leaderboard", str(site / "leaderboard"), "--repo", "me/videonet-leaderboard"]
    assert main([*argv, "--dry-run", "--out", str(bundle), "--no-progress"]) == 0
    board = load_dataset(str(bundle), split="train")
    assert set(board.column_names) >= {"model", "task", "scoring", "level", "accuracy"}
    assert {"alpha", "beta"} == set(board["model"])


def test_posters_come_from_the_sampler_and_a_rerun_keeps_them(runs, site: Path, capsys) -> None:
    from PIL import Image

    from videonet_datasets.cli import main

    doc = _doc(site)
    posters = [p for p in doc["clips"]["poster"] if p]
    assert len(posters) == len(doc["clips"]["id"])
    with Image.open(site / posters[0]) as img:
        assert min(img.size) == 112
    dirs, _, _, world, _ = runs
    assert main(["explore", f"alpha={dirs['alpha']}", "--data", str(world), "--out", str(site.parent / "again"),
                 "--quiet", "--copy-videos"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "copied" in printed and "clips missing 0" in printed
    again = _doc(site.parent / "again")
    assert all(h.startswith("videos/") for h in again["clips"]["href"])


def test_bad_input_is_a_clear_error(runs, tmp_path: Path, capsys) -> None:
    from videonet_datasets.cli import main

    _, _, _, world, _ = runs
    (tmp_path / "empty").mkdir()
    assert main(["explore", str(tmp_path / "empty"), "--data", str(world), "--out", str(tmp_path / "s")]) == 2
    assert "--log_samples" in capsys.readouterr().err


# ----------------------------------------------------------------------------- in a real browser


def _open(browser, site: Path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto((site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    return ctx, page, problems


def test_the_page_in_chromium(browser, runs, site: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    _, expected, _, _, _ = runs
    doc = _doc(site)
    total = len(doc["q"]["qid"])
    ctx, page, problems = _open(browser, site)
    try:
        expect(page.locator("#count")).to_have_text(f"{total} of {total} questions")
        # A filter narrows the list to the hand-computed count: alpha's wrong (parsed) MC answers.
        exp = expected["alpha"]["videonet_mc"]
        page.select_option("#f-task", label="videonet_mc")
        page.select_option("#f-model", label="alpha")
        page.select_option("#f-outcome", "wrong")
        wrong = exp.n - exp.correct - exp.unparsed
        expect(page.locator("#count")).to_have_text(f"{wrong} of {total} questions")
        expect(page.locator("article.q")).to_have_count(min(wrong, 25))
        page.select_option("#f-outcome", "unparsed")
        expect(page.locator("#count")).to_have_text(f"{exp.unparsed} of {total} questions")
        page.click("#f-reset")
        page.fill("#f-search", "move 1-2")
        n_action = sum(
            1
            for i in range(total)
            if "move 1-2"
            in (doc["strings"][doc["q"]["action"][i]], doc["strings"][doc["q"]["clipAction"][i]])
        )
        expect(page.locator("#count")).to_have_text(f"{n_action} of {total} questions")
        page.click("#f-reset")
        # A clip plays: the poster becomes a playing <video>.
        page.locator("article.q .clip.test").first.click()
        video = page.locator("article.q video").first
        expect(video).to_be_visible()
        page.wait_for_function(
            "() => { const v = document.querySelector('article.q video'); return v && v.currentTime > 0; }",
            timeout=15000,
        )
        page.screenshot(path=str(tmp_path / "explore.png"))
        # A confusion cell opens its questions.
        page.click("#tabs button[data-tab='confusions']")
        page.select_option("#c-task", label="videonet_mc")
        page.select_option("#c-model", label="alpha")
        cell = page.locator("#c-matrix td.cell.off").first
        n_cell = int(cell.inner_text())
        cell.click()
        expect(page.locator("#questions")).to_be_visible()
        expect(page.locator("#count")).to_have_text(f"{n_cell} of {total} questions")
        expect(page.locator("#selection-label")).to_contain_text("Confusion cell (alpha, videonet_mc)")
        # A comparison shows the right delta, and its "differ" link lists those questions.
        page.click("#tabs button[data-tab='compare']")
        page.select_option("#p-task", "videonet_mc")
        eb = expected["beta"]["videonet_mc"]
        delta = 100 * (exp.correct / exp.n - eb.correct / eb.n)
        expect(page.locator("#p-table tr.overall td.delta")).to_have_text(
            f"{'+' if delta >= 0 else ''}{delta:.1f}"
        )
        differ = page.locator("#p-table tr.overall a.differ")
        n_differ = int(differ.inner_text())
        differ.click()
        expect(page.locator("#count")).to_have_text(f"{n_differ} of {total} questions")
        # The report's tables, in the convention asked for.
        page.click("#tabs button[data-tab='tables']")
        expect(page.locator("table.report[data-name='domains_official']")).to_be_visible()
        page.select_option("#t-conv", "robust")
        expect(page.locator("table.report[data-name='domains']")).to_be_visible()
        assert problems == []
    finally:
        ctx.close()
    shot = tmp_path / "explore.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("VIDEONET_SCREENSHOTS")
    if target:
        from PIL import Image

        img = Image.open(shot).convert("RGB")
        img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            Path(target) / "explore.png", optimize=True
        )


def test_40000_questions_x_3_models_load_and_filter(browser, tmp_path: Path) -> None:
    """Scale, not speed (the bench times it): generated data, every interaction still answers."""
    from bench.explore import build

    built = build(tmp_path / "big", 40_000, 3)
    doc = built["doc"]
    assert built["questions"] == 40_000 and built["data_mb"] < 20
    mc = doc["tasks"].index("videonet_mc")
    a = doc["answers"]["model-2"]
    unparsed = sum(
        1
        for i, t in enumerate(doc["q"]["task"])
        if t == mc and a["ok"][i] == 0 and doc["strings"][a["status"][i]] != "ok"
    )
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto((tmp_path / "big" / "index.html").as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        assert page.inner_text("#count") == "40000 of 40000 questions"
        page.select_option("#f-task", label="videonet_mc")
        page.select_option("#f-model", label="model-2")
        page.select_option("#f-outcome", "unparsed")
        assert page.inner_text("#count") == f"{unparsed} of 40000 questions"
        assert page.locator("article.q").count() == 25
        page.check("#f-disagree")
        n = int(page.inner_text("#count").split()[0])
        assert 0 < n <= unparsed
        assert problems == []
    finally:
        page.close()


def test_hostile_names_and_answers_are_shown_as_text(browser, tmp_path: Path) -> None:
    from bench.explore import TASKS as BENCH_TASKS
    from bench.explore import synthetic_runs
    from videonet_datasets.explore.data import TaskView, build_data
    from videonet_datasets.explore.site import copy_static, write_data_script

    payload = '<img src=x onerror="window.pwned=1">'
    rows, runs = synthetic_runs(400, 2)
    for table in rows.values():
        for row in table.values():
            row["domain"] = payload
    first = next(iter(runs[0].answers))
    runs[0].answers[first] = payload + "<script>window.pwned=2</script>"
    views = {t: TaskView(c, "test", lambda r: r["prompt"] + payload) for t, (c, _) in BENCH_TASKS.items()}
    data = build_data(runs, lambda config, split: rows[config], views, [])
    n = len(data.clip_paths)
    data.doc["clips"].update(href=["x.mp4"] * n, poster=[None] * n)
    data.doc["meta"] = {"data": payload, "runs": [], "generated": payload, "exports": [payload]}
    write_data_script(data.doc, tmp_path / "data.js")
    copy_static(tmp_path)
    page = browser.new_page()
    try:
        page.goto((tmp_path / "index.html").as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#f-search", first)
        assert payload in page.inner_text("#list")
        page.click("#tabs button[data-tab='confusions']")
        page.click("#tabs button[data-tab='export']")
        assert page.evaluate("window.pwned") is None
    finally:
        page.close()


def test_the_authors_result_files_explore_like_the_run(runs, site: Path, tmp_path: Path) -> None:
    """Result files in the authors' layout (written by export-results) give the same answers and verdicts."""
    from videonet_datasets.cli import main

    dirs, _, _, world, _ = runs
    assert main(["export-results", f"alpha={dirs['alpha']}", "--out", str(tmp_path / "results")]) == 0
    out = tmp_path / "site"
    assert main(["explore", str(tmp_path / "results" / "alpha"), "--data", str(world), "--out", str(out),
                 "--quiet", "--no-posters"]) == 0  # fmt: skip
    ours, theirs = _doc(site), _doc(out)
    assert theirs["models"] == ["alpha"] and theirs["tasks"] == ours["tasks"]
    key = {(t, q): i for i, (t, q) in enumerate(zip(ours["q"]["task"], ours["q"]["qid"]))}
    for j, (t, q) in enumerate(zip(theirs["q"]["task"], theirs["q"]["qid"])):
        i = key[(t, q)]
        for field in ("ok", "official", "parsed"):
            assert theirs["answers"]["alpha"][field][j] == ours["answers"]["alpha"][field][i], (q, field)
    robust = {t["name"]: t["rows"] for t in theirs["tables"]["robust"]}
    mine = {t["name"]: t["rows"] for t in ours["tables"]["robust"]}
    assert [r[:3] for r in robust["domains"]] == [r[:3] for r in mine["domains"]]
    assert all(p is None for p in theirs["clips"]["poster"])

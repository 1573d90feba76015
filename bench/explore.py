"""The results explorer at scale: 40,000 questions x 3 models in a real Chromium.

``python -m bench explore`` (also part of ``python -m bench`` / ``make bench``).

Material: generated questions (MC and binary 0/1/2-shot; 50 domains x 8 actions) and three
"models" answering them in the reply styles lmms-eval sees (bare letters, sentences, reasoning
blocks, empty answers), built into a site by the explorer's own code
(:func:`videonet_datasets.explore.data.build_data`, every answer scored by
:mod:`videonet_datasets.scoring`) - without clips, which do not change what the page loads.

Measured at ``--questions`` (default 40,000) and at a tenth of it (the baseline, same run):
the Python build, the size of ``data.js``, and in headless Chromium the time from navigation
to a rendered first page, a filter change (task + model + outcome over every question), the
next page, a text search and the confusion matrix of one model on 10,000 MC questions.  The
ratio large/baseline says whether the page scales linearly (10x) or worse; an interaction is
"frozen" when it blocks the page for more than ``--freeze`` seconds (default 1).
Results: ``bench/results/explore.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = {
    "videonet_mc": ("mc", None),
    "videonet_binary_hard_0shot": ("binary_0shot", 0),
    "videonet_binary_hard_1shot": ("binary_1shot", 1),
    "videonet_binary_hard_2shot": ("binary_2shot", 2),
}
MC_REPLIES = [
    "{l}",
    "({l})",
    "The answer is {l}.",
    "<think>maybe A</think>\n{l}",
    "",
    "Not sure.",
    "\\boxed{{{l}}}",
]
BINARY_REPLIES = ["{y}", "{Y}.", "Final answer: {y}", "", "Hard to say.", "<think>hmm</think>\n{Y}"]


def synthetic_runs(n_questions: int, n_models: int = 3, seed: int = 0):
    """(rows per task: question_id -> row, RunAnswers list) of a generated benchmark and models."""
    from videonet_datasets.explore.answers import RunAnswers

    rng = random.Random(seed)
    domains = [(f"Category {d % 5}", f"Domain {d}") for d in range(50)]
    actions = {dom: [f"action {d}-{a}" for a in range(8)] for d, (_, dom) in enumerate(domains)}
    per_task = n_questions // len(TASKS)
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for task, (config, k) in TASKS.items():
        table = {}
        for i in range(per_task):
            cat, dom = domains[i % len(domains)]
            names = actions[dom]
            true = names[(i // len(domains)) % len(names)]
            clip = f"{dom}-{true}-{i % 5}".replace(" ", "_")
            row = {
                "question_id": f"{task}-{i}",
                "category": cat,
                "domain": dom,
                "clip_id": clip,
                "video": f"videos/{clip}.mp4",
                "duration": 1.0 + (i % 40) / 10,
                "clip_action": true,
            }
            if k is None:
                opts = [true, *rng.sample([a for a in names if a != true], 3)]
                rng.shuffle(opts)
                row.update(action=true, options=opts, answer="ABCD"[opts.index(true)])
                row["prompt"] = f"What is happening in this {dom} video?\n<video>\n" + "\n".join(
                    f"{'ABCD'[j]}. {o}" for j, o in enumerate(opts)
                )
            else:
                asked = true if i % 2 else rng.choice([a for a in names if a != true])
                row.update(action=asked, label="yes" if asked == true else "no", k=k,
                           negative_type="positive" if asked == true else "hard",
                           example_videos=[f"videos/{dom}-{asked}-{j}.mp4".replace(" ", "_") for j in range(k)],
                           example_clip_ids=[f"{dom}-{asked}-{j}" for j in range(k)])  # fmt: skip
                row["prompt"] = "<video>\n" * k + f"Is this {asked} in {dom}?\n<video>"
            table[row["question_id"]] = row
        rows[config] = table
    runs = []
    for m in range(n_models):
        for task, (config, k) in TASKS.items():
            answers = {}
            for qid, row in rows[config].items():
                right = rng.random() < 0.4 + 0.15 * m
                if k is None:
                    letter = row["answer"] if right else rng.choice([x for x in "ABCD" if x != row["answer"]])
                    answers[qid] = rng.choice(MC_REPLIES).format(l=letter)
                else:
                    y = row["label"] if right else ("no" if row["label"] == "yes" else "yes")
                    answers[qid] = rng.choice(BINARY_REPLIES).format(y=y, Y=y.capitalize())
            runs.append(RunAnswers(f"model-{m}", task, answers, "generated"))
    return rows, runs


def build(out: Path, n_questions: int, n_models: int = 3) -> dict[str, Any]:
    """Write a site of generated data to ``out``; returns timings and sizes."""
    from videonet_datasets.explore.data import TaskView, build_data
    from videonet_datasets.explore.site import copy_static, write_data_script

    rows, runs = synthetic_runs(n_questions, n_models)
    views = {task: TaskView(config, "test", lambda r: r["prompt"]) for task, (config, _) in TASKS.items()}
    t0 = time.perf_counter()
    data = build_data(runs, lambda config, split: rows[config], views, [])
    build_s = time.perf_counter() - t0
    n_clips = len(data.clip_paths)
    data.doc["clips"]["href"] = [None] * n_clips
    data.doc["clips"]["poster"] = [None] * n_clips
    data.doc["meta"] = {"data": "generated", "runs": [], "generated": "bench", "exports": []}
    out.mkdir(parents=True, exist_ok=True)
    size = write_data_script(data.doc, out / "data.js")
    copy_static(out)
    return {
        "questions": len(data.rows),
        "models": n_models,
        "build_s": build_s,
        "data_mb": size / 1e6,
        "doc": data.doc,
    }


def _timed(page, action, ready: str) -> float:
    """Seconds from the action until ``ready`` (a JS expression) holds; the page is blocked meanwhile."""
    t0 = time.perf_counter()
    action()
    page.wait_for_function(ready, timeout=120_000)
    return time.perf_counter() - t0


def measure(browser, site: Path, doc: dict[str, Any]) -> dict[str, float]:
    """Load and interaction times of the page at ``site`` (each action is synchronous in the page)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    out = {}
    try:
        out["load_s"] = _timed(page, lambda: page.goto(site.as_uri()), "document.body.dataset.ready === '1'")
        mc = doc["tasks"].index("videonet_mc")
        expected = sum(
            1
            for i, t in enumerate(doc["q"]["task"])
            if t == mc
            and doc["answers"]["model-0"]["ok"][i] == 0
            and doc["strings"][doc["answers"]["model-0"]["status"][i]] == "ok"
        )

        def filt() -> None:
            page.evaluate(
                """(mc) => { const set = (id, v) => { const el = document.getElementById(id); el.value = v; };
                set('f-task', mc); set('f-model', 0); set('f-outcome', 'wrong');
                document.getElementById('filters').dispatchEvent(new Event('change')); }""",
                mc,
            )

        out["filter_s"] = _timed(
            page, filt, f"document.getElementById('count').textContent.startsWith('{expected} of')"
        )
        out["next_page_s"] = _timed(
            page,
            lambda: page.evaluate("document.getElementById('next').click()"),
            "document.getElementById('page').textContent.startsWith('page 2')",
        )
        page.click("#f-reset")
        out["search_s"] = _timed(page, lambda: page.fill("#f-search", "action 7-3"),
                                 "document.getElementById('count').textContent.split(' ')[0] !== document.getElementById('count').textContent.split(' ')[2]")  # fmt: skip
        page.click("#tabs button[data-tab='confusions']")
        out["confusions_s"] = _timed(
            page,
            lambda: page.select_option("#c-model", "1"),
            "document.querySelectorAll('#c-matrix td.cell').length > 0",
        )
        if problems:
            raise RuntimeError(f"page errors: {problems}")
    finally:
        page.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench explore", description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=40_000)
    p.add_argument("--models", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="10,000 questions (baseline 1,000)")
    p.add_argument("--freeze", type=float, default=1.0, help="seconds an interaction may block the page")
    args = p.parse_args(argv)
    if args.quick:
        args.questions = 10_000
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from browser import chromium

    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        for name, n in (("baseline", args.questions // 10), ("large", args.questions)):
            built = build(Path(tmp) / name, n, args.models)
            doc = built.pop("doc")
            built.update(measure(browser, Path(tmp) / name / "index.html", doc))
            report[name] = built
    keys = ["build_s", "data_mb", "load_s", "filter_s", "next_page_s", "search_s", "confusions_s"]
    print(f"{'':>10} {'questions':>9} " + " ".join(f"{k:>12}" for k in keys))
    for name, r in report.items():
        print(f"{name:>10} {r['questions']:>9} " + " ".join(f"{r[k]:>12.3f}" for k in keys))
    ratios = {k: report["large"][k] / report["baseline"][k] for k in keys if report["baseline"][k] > 0}
    print(f"{'ratio':>10} {'':>9} " + " ".join(f"{ratios.get(k, float('nan')):>12.1f}" for k in keys))
    frozen = [
        k for k in ("filter_s", "next_page_s", "search_s", "confusions_s") if report["large"][k] > args.freeze
    ]
    print(
        "interactions over the freeze limit: "
        + (", ".join(frozen) if frozen else f"none (limit {args.freeze} s)")
    )
    report["ratios"] = ratios
    report["frozen"] = frozen
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "explore.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0

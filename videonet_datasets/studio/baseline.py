"""The human baseline (paper Figure 5, App. F): people answer a built benchmark's questions.

The admin opens a *session* on a benchmark directory made by ``videonet build-benchmark``: a
config (``mc``, ``binary_{k}shot``, ``binary_random_{k}shot``), with or without the asked
action's definition, a seeded sample of its test questions, each to be answered by
``answers_per_question`` different people (the paper: 698 questions, 3 answers each).
Raters see the question as the models see it - the words of the project's prompt builder,
the example clips and the test clip in the same order - without the instructions meant for
models ("respond with only the letter", "output 'yes' or 'no' on the final line"), and
answer with buttons.

Answers become an lmms-eval results file (``<session>_results.json``, model ``human``) with
the suite's task name (``videonet_mc``, ``videonet_binary_hard_{k}shot`` or its
``_definition`` variant, ``videonet_binary_random_{k}shot``) and metric keys (accuracy per
category and domain, positive/negative accuracy, yes-rate), rewritten after every answer,
so ``videonet report human=DIR`` puts a "human" row beside the models.  Every answer is one
sample (three people answering a question are three samples, as in the paper's accuracy);
``n-samples`` says how many of the split's questions were asked, so the report marks the row
as a partial run.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from videonet_datasets import prompts
from videonet_datasets.fsutil import atomic_write_json, stable_rng
from videonet_datasets.studio import leases
from videonet_datasets.studio.db import now
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.settings import StudioSettings

__all__ = [
    "RESULTS_DIR",
    "create_session",
    "display_parts",
    "next_item",
    "record_answer",
    "results_dict",
    "session_progress",
    "task_name",
    "write_results",
]

RESULTS_DIR = "human_baseline"  # inside the annotation directory: videonet report human=DIR/human_baseline
_DOC_FIELDS = (
    "question_id", "clip_id", "video", "category", "domain", "action", "subdomain", "definition", "options",
    "answer", "label", "k", "example_videos", "negative_type",
)  # fmt: skip
_MODEL_ONLY = (prompts.MC_INSTRUCTION, prompts.FINAL_LINE_INSTRUCTION, prompts.DEFAULT_REASONING)


def task_name(config: str, definition: bool) -> str:
    """The lmms-eval task of the suite that asks these questions this way."""
    if config == "mc":
        if definition:
            raise ValueError("the suite has no multiple-choice task with definitions; use a binary config")
        return "videonet_mc"
    m = re.fullmatch(r"binary_(random_)?([0-3])shot", config)
    if not m:
        raise ValueError(f"unknown config {config!r}: mc, binary_{{0..3}}shot or binary_random_{{0..3}}shot")
    if m.group(1):
        if definition:
            raise ValueError("the suite has no random-negative task with definitions")
        return f"videonet_binary_random_{m.group(2)}shot"
    return f"videonet_binary_hard_{m.group(2)}shot" + ("_definition" if definition else "")


def _load_rows(benchmark: Path, config: str) -> list[dict[str, Any]]:
    from videonet_datasets.local_datasets import load_local_dataset

    ds = load_local_dataset(benchmark, config, split="test")
    return [dict(r) for r in ds]


def create_session(
    conn: sqlite3.Connection,
    benchmark: Path,
    name: str,
    config: str,
    definition: bool,
    questions: int,
    answers_per_question: int,
    seed: int,
) -> dict[str, Any]:
    """Open a session: a seeded sample of the config's test questions (every video checked)."""
    name = " ".join(name.split())
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", name):
        raise ValueError(
            "a session name is 1-60 letters, digits, '.', '-' or '_' (it names the results file)"
        )
    task = task_name(config, definition)
    if questions < 1 or answers_per_question < 1:
        raise ValueError("questions and answers per question must be >= 1")
    rows = _load_rows(benchmark, config)
    if not rows:
        raise ValueError(f"{benchmark}: config {config!r} has no test questions")
    n = min(questions, len(rows))
    picked = sorted(
        stable_rng(seed, "baseline", config, name).choice(len(rows), size=n, replace=False).tolist()
    )
    missing = []
    for i in picked:
        for v in [rows[i]["video"], *(rows[i].get("example_videos") or [])]:
            if not (benchmark / v).is_file():
                missing.append(v)
    if missing:
        raise ValueError(f"{benchmark}: {len(missing)} video(s) missing, e.g. {sorted(set(missing))[:5]}")
    cur = conn.execute(
        "INSERT INTO baseline_sessions (name, benchmark, config, definition, task, answers_per_question, seed, "
        "questions_total, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, str(benchmark), config, int(definition), task, answers_per_question, seed, len(rows), now()),
    )
    session_id = int(cur.lastrowid)
    order = stable_rng(seed, "baseline-order", config, name).permutation(n)
    for position, k in enumerate(order):
        row = rows[picked[k]]
        doc = {f: row.get(f) for f in _DOC_FIELDS if f in row}
        conn.execute(
            "INSERT INTO baseline_items (session_id, question_id, position, doc) VALUES (?, ?, ?, ?)",
            (session_id, row["question_id"], position, json.dumps(doc, ensure_ascii=False)),
        )
    return dict(conn.execute("SELECT * FROM baseline_sessions WHERE id = ?", (session_id,)).fetchone())


def display_parts(doc: dict[str, Any], definition: bool) -> list[tuple[str, Any]]:
    """The question as a person sees it: ("text", str) and ("video", relative path) in prompt
    order, the instructions meant for models left out."""
    if doc.get("options"):
        prompt = prompts.mc_prompt(doc["domain"], list(doc["options"]), doc.get("subdomain"))
    else:
        prompt = prompts.binary_prompt(
            doc["action"],
            doc["domain"],
            doc.get("subdomain"),
            k=len(doc.get("example_videos") or []),
            definition=(doc.get("definition") or None) if definition else None,
        )
    out: list[tuple[str, Any]] = []
    for part in prompt.parts:
        if isinstance(part, prompts.TextPart):
            text = part.text
            for s in _MODEL_ONLY:
                text = text.replace(s, "")
            out.append(
                ("text", "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip()))
            )
        else:
            out.append(("video", doc["video"] if part.is_test else doc["example_videos"][part.example]))
    return out


def next_item(conn: sqlite3.Connection, person: Person, settings: StudioSettings) -> dict[str, Any] | None:
    """The next question for this person (active sessions, fewest answers first); leased."""
    row = conn.execute(
        "SELECT i.*, s.answers_per_question, s.definition, s.name AS session_name, s.benchmark, "
        "(SELECT COUNT(*) FROM baseline_answers b WHERE b.item_id = i.id) AS n_answers, "
        "(SELECT COUNT(*) FROM leases l WHERE l.kind = 'baseline' AND l.item_id = i.id AND l.person_id != :me "
        " AND l.expires > :t) AS other_leases, "
        "EXISTS (SELECT 1 FROM leases l WHERE l.kind = 'baseline' AND l.item_id = i.id AND l.person_id = :me "
        " AND l.expires > :t) AS mine "
        "FROM baseline_items i JOIN baseline_sessions s ON s.id = i.session_id "
        "WHERE s.active = 1 AND NOT EXISTS (SELECT 1 FROM baseline_answers b WHERE b.item_id = i.id "
        " AND b.person_id = :me) "
        "AND (mine OR n_answers + other_leases < s.answers_per_question) "
        "ORDER BY mine DESC, s.id, n_answers DESC, i.position LIMIT 1",
        {"me": person.id, "t": now()},
    ).fetchone()
    if row is None:
        return None
    leases.take(conn, "baseline", row["id"], person.id, settings.lease_minutes)
    item = dict(row)
    item["doc"] = json.loads(item["doc"])
    return item


def record_answer(
    conn: sqlite3.Connection, person: Person, item_id: int, answer: str, seconds: float | None
) -> int:
    """Store one answer (inside the caller's transaction); returns the session id."""
    row = conn.execute(
        "SELECT i.*, s.answers_per_question, s.active FROM baseline_items i JOIN baseline_sessions s "
        "ON s.id = i.session_id WHERE i.id = ?",
        (item_id,),
    ).fetchone()
    if row is None or not row["active"]:
        raise ValueError("no such open question")
    doc = json.loads(row["doc"])
    allowed = prompts.option_letters(len(doc["options"])) if doc.get("options") else ("yes", "no")
    if answer not in allowed:
        raise ValueError(f"answer must be one of {', '.join(allowed)}")
    if conn.execute(
        "SELECT 1 FROM baseline_answers WHERE item_id = ? AND person_id = ?", (item_id, person.id)
    ).fetchone():
        raise ValueError("you already answered this question")
    n = conn.execute("SELECT COUNT(*) FROM baseline_answers WHERE item_id = ?", (item_id,)).fetchone()[0]
    if n >= row["answers_per_question"] and not leases.holds(conn, "baseline", item_id, person.id):
        raise ValueError("this question already has all its answers")
    if seconds is not None and not (math.isfinite(seconds) and 0 <= seconds < 86400):
        seconds = None
    conn.execute(
        "INSERT INTO baseline_answers (item_id, person_id, answer, seconds, created) VALUES (?, ?, ?, ?, ?)",
        (item_id, person.id, answer, seconds, now()),
    )
    leases.release(conn, "baseline", item_id, person.id)
    return int(row["session_id"])


def _mean_stderr(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def results_dict(conn: sqlite3.Connection, session_id: int) -> dict[str, Any]:
    """The session's answers as an lmms-eval results dictionary (model ``human``)."""
    from videonet_datasets.metric_keys import category_key, domain_key  # the tasks' metric keys

    s = conn.execute("SELECT * FROM baseline_sessions WHERE id = ?", (session_id,)).fetchone()
    answers = conn.execute(
        "SELECT a.answer, a.person_id, i.doc, i.question_id FROM baseline_answers a JOIN baseline_items i "
        "ON i.id = a.item_id WHERE i.session_id = ? ORDER BY a.id",
        (session_id,),
    ).fetchall()
    values: dict[str, list[float]] = {}
    counts: Counter[str] = Counter()
    binary = not s["config"] == "mc"
    for a in answers:
        doc = json.loads(a["doc"])
        gold = doc["answer"] if not binary else doc["label"]
        correct = 1.0 if a["answer"] == gold else 0.0
        keys = [
            "accuracy",
            category_key("accuracy", doc["category"]),
            domain_key("accuracy", doc["category"], doc["domain"]),
        ]
        for k in keys:
            values.setdefault(k, []).append(correct)
        values.setdefault("unparsed_rate", []).append(0.0)
        if binary:
            values.setdefault("accuracy_positive" if gold == "yes" else "accuracy_negative", []).append(
                correct
            )
            values.setdefault("yes_rate", []).append(1.0 if a["answer"] == "yes" else 0.0)
        counts[a["answer"]] += 1
    task = s["task"]
    metrics: dict[str, Any] = {"alias": task}
    for k, vs in values.items():
        mean, se = _mean_stderr(vs)
        metrics[f"{k},none"] = mean
        metrics[f"{k}_stderr,none"] = se if math.isfinite(se) else "N/A"
    metrics["answer_counts,none"] = dict(sorted(counts.items()))
    return {
        "results": {task: metrics},
        "n-samples": {
            task: {"original": s["questions_total"], "effective": len({a["question_id"] for a in answers})}
        },
        "config": {"model": "human", "model_args": "", "limit": None},
        "date": now(),
        "videonet_human_baseline": {
            "session": s["name"],
            "benchmark": Path(s["benchmark"]).name,
            "config": s["config"],
            "with_definition": bool(s["definition"]),
            "answers": len(answers),
            "raters": len({a["person_id"] for a in answers}),
            "questions_answered": len({a["question_id"] for a in answers}),
            "answers_per_question": s["answers_per_question"],
            "seed": s["seed"],
        },
    }


def write_results(conn: sqlite3.Connection, root: Path, session_id: int) -> Path:
    """Rewrite ``<root>/human_baseline/<session>_results.json`` (atomically)."""
    s = conn.execute("SELECT name FROM baseline_sessions WHERE id = ?", (session_id,)).fetchone()
    return atomic_write_json(
        Path(root) / RESULTS_DIR / f"{s['name']}_results.json", results_dict(conn, session_id)
    )


def session_progress(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    out = []
    for s in conn.execute("SELECT * FROM baseline_sessions ORDER BY id").fetchall():
        items = conn.execute(
            "SELECT COUNT(*) FROM baseline_items WHERE session_id = ?", (s["id"],)
        ).fetchone()[0]
        answers = conn.execute(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT person_id) AS people FROM baseline_answers a "
            "JOIN baseline_items i ON i.id = a.item_id WHERE i.session_id = ?",
            (s["id"],),
        ).fetchone()
        correct = None
        if answers["n"]:
            res = results_dict(conn, s["id"])["results"][s["task"]]
            correct = res.get("accuracy,none")
        out.append(
            {
                **dict(s),
                "items": items,
                "answers": answers["n"],
                "people": answers["people"],
                "wanted": items * s["answers_per_question"],
                "accuracy": correct,
            }
        )
    return out

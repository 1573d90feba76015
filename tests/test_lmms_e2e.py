"""Every VideoNet task end to end through lmms-eval, with the scripted chat model.

The scripted model replies in messy styles (letters in brackets, "Answer: B", option text,
reasoning blocks, markdown, empty replies, failed API calls, hedges); the metrics lmms-eval
reports must equal the ones computed by hand from the script, per task, category and domain.
What the model was shown (interleaved text and clips, prompts byte-for-byte, middle frames,
definitions, prompt variants) is checked from its request log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lmms_world import (
    BINARY_STYLES,
    MC_STYLES,
    build_world,
    read_rows,
    script_binary,
    script_mc,
    task_metrics,
    write_script,
)

from videonet_datasets import prompts
from videonet_datasets.parsing import parse_binary, parse_mc
from videonet_lmms_tasks.catalog import TASKS, TASKS_DIR

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("lmms_world")).resolve()


def _script_all(data: Path, out: Path) -> tuple[Path, dict]:
    """Answers for every task (keyed task:question_id) and the expected metrics per task."""
    per_task, expected = {}, {}
    for i, spec in enumerate(TASKS):
        rows = read_rows(data, spec.config, spec.split)
        replies, exp = (script_binary if spec.binary else script_mc)(rows, shift=i)
        per_task[spec.name] = replies
        expected[spec.name] = exp
    return write_script(out, per_task=per_task), expected


@pytest.fixture(scope="module")
def run_all(world: Path, tmp_path_factory: pytest.TempPathFactory):
    """One lmms-eval run of all tasks (in-process), from an empty working directory."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    tmp = tmp_path_factory.mktemp("lmms_run")
    answers, expected = _script_all(world, tmp / "answers.json")
    log = tmp / "requests.jsonl"
    cwd = tmp / "cwd"
    cwd.mkdir()
    old_cwd, old_env = os.getcwd(), os.environ.get("VIDEONET_DATA")
    os.chdir(cwd)
    os.environ["VIDEONET_DATA"] = str(world)
    try:
        tm = TaskManager("WARNING", include_path=str(TASKS_DIR), model_name="videonet_scripted")
        results = simple_evaluate(
            model="videonet_scripted",
            model_args=f"answers={answers},log={log}",
            tasks=[t.name for t in TASKS],
            task_manager=tm,
            verbosity="WARNING",
        )
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop("VIDEONET_DATA", None)
        else:
            os.environ["VIDEONET_DATA"] = old_env
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return results, expected, requests, cwd


def test_script_styles_are_what_they_claim():
    """Sanity of the test table itself: readable styles parse to the meant answer, the others do not."""
    options = ["Kickflip", "Heelflip", "Ollie", "Shove-it"]
    for name, render, readable, *_ in MC_STYLES:
        for letter, text in zip("ABCD", options):
            got = parse_mc(render(letter, text), options=options)
            assert (got.answer == letter) if readable else (got.answer is None), (name, letter, got)
    for name, render, readable, *_ in BINARY_STYLES:
        for yn in ("yes", "no"):
            got = parse_binary(render(yn))
            assert (got.answer == yn) if readable else (got.answer is None), (name, yn, got)


def test_every_task_reports_hand_computed_metrics(run_all):
    results, expected, _, _ = run_all
    assert set(results["results"]) == {t.name for t in TASKS}
    for spec in TASKS:
        got = task_metrics(results, spec.name)
        want = expected[spec.name].metrics()
        assert results["n-samples"][spec.name]["effective"] == expected[spec.name].n
        for key, value in want.items():
            assert got[key] == pytest.approx(value), (spec.name, key)
        # Nothing reported that we did not expect (except the answer histogram).
        assert set(got) - set(want) == {"answer_counts"}, spec.name
        assert got["answer_counts"] == dict(sorted(expected[spec.name].answers.items())), spec.name


def test_some_answers_of_every_kind_were_exercised(run_all):
    _, expected, _, _ = run_all
    mc = expected["videonet_mc"]
    assert 0 < mc.correct < mc.n and mc.unparsed > 0
    assert {"empty", "failed_request", "unparsed"} <= set(mc.answers)
    b = expected["videonet_binary_hard_3shot"]
    assert 0 < sum(b.positive) < len(b.positive) and 0 < sum(b.negative) < len(b.negative)


def test_no_folder_in_working_directory(run_all):
    _, _, _, cwd = run_all
    assert list(cwd.iterdir()) == []


def _requests_of(requests: list[dict], task: str) -> list[dict]:
    found = [r for r in requests if r["task"] == task]
    assert found, task
    return found


def test_chat_content_is_interleaved_and_byte_exact(run_all, world: Path):
    _, _, requests, _ = run_all
    for spec in TASKS:
        rows = {r["question_id"]: r for r in read_rows(world, spec.config, spec.split)}
        for req in _requests_of(requests, spec.name):
            row = rows[req["question_id"]]
            content = req["messages"][0]["content"]
            if spec.binary:
                prompt = prompts.binary_prompt(
                    row["action"],
                    row["domain"],
                    row["subdomain"],
                    k=spec.k,
                    variant=spec.variant,
                    definition=row["definition"] if spec.definition else None,
                )
                clips = [*row["example_videos"], row["video"]]
            else:
                prompt = prompts.mc_prompt(row["domain"], row["options"])
                clips = [row["video"]]
            # Text parts in order, byte for byte; one visual item per clip slot, in prompt order.
            texts = [c["text"] for c in content if c["type"] == "text"]
            assert texts == [p.text for p in prompt.parts if isinstance(p, prompts.TextPart)]
            kinds = ["text" if c["type"] == "text" else "clip" for c in content]
            assert kinds == ["text" if isinstance(p, prompts.TextPart) else "clip" for p in prompt.parts]
            visuals = [c for c in content if c["type"] != "text"]
            if spec.middle_frame:
                assert [v["type"] for v in visuals] == ["image"] * len(clips)
                assert all(v["size"] == [32, 32] for v in visuals)
            else:
                assert [v["type"] for v in visuals] == ["video"] * len(clips)
                assert [v["url"] for v in visuals] == [str(world / c) for c in clips]
            assert req["gen_kwargs"]["until"] == [] and req["gen_kwargs"]["temperature"] == 0


def test_kshot_examples_are_the_actions_first_clips(run_all, world: Path):
    _, _, requests, _ = run_all
    for k in (1, 2, 3):
        for req in _requests_of(requests, f"videonet_binary_hard_{k}shot"):
            urls = [c["url"] for c in req["messages"][0]["content"] if c["type"] == "video"]
            assert len(urls) == k + 1
            # example clips of action a of domain d are d{d}a{a}c0..c{k-1}; the test clip is different
            stems = [Path(u).stem for u in urls[:k]]
            assert [s[-2:] for s in stems] == [f"c{i}" for i in range(k)]
            assert len({s[:-2] for s in stems}) == 1 and Path(urls[-1]).stem not in stems


def test_ablation_prompts_differ_only_where_they_should(run_all):
    _, _, requests, _ = run_all
    by_q = {}
    for task in (
        "videonet_binary_hard_0shot",
        "videonet_binary_hard_0shot_definition",
        "videonet_binary_hard_0shot_lenient",
    ):
        for req in _requests_of(requests, task):
            by_q.setdefault(req["question_id"], {})[task] = req["messages"][0]["content"][0]["text"]
    for texts in by_q.values():
        base = texts["videonet_binary_hard_0shot"]
        assert "Here is its definition: The actor does move" in texts["videonet_binary_hard_0shot_definition"]
        assert prompts.LENIENT_TEXT in texts["videonet_binary_hard_0shot_lenient"]
        assert base.endswith(prompts.FINAL_LINE_INSTRUCTION)


def test_videonet_eval_command_prints_tables_and_matches_hand_computed(world: Path, tmp_path: Path):
    """The exact README command, as a subprocess, from an empty working directory."""
    mc, mc_exp = script_mc(read_rows(world, "mc"))
    b3, b3_exp = script_binary(read_rows(world, "binary_3shot"))
    answers = write_script(
        tmp_path / "answers.json", per_task={"videonet_mc": mc, "videonet_binary_hard_3shot": b3}
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "VIDEONET_CACHE": str(tmp_path / "cache")}
    env.pop("VIDEONET_DATA", None)
    cmd = [
        str(VENV_BIN / "videonet"), "eval", "--data", str(world),
        "--model", "videonet_scripted", "--model_args", f"answers={answers}",
        "--tasks", "videonet_mc,videonet_binary_hard_3shot",
        "--output_path", str(tmp_path / "runs"), "--log_samples",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "VideoNet - accuracy (%) by category" in out
    header = next(line for line in out.splitlines() if line.startswith("| Task | Model"))
    assert "| Dance |" in header and "| Sports |" in header
    mc = mc_exp.metrics()
    robust = next(
        line for line in out.splitlines() if line.startswith("| videonet_mc |") and "| robust |" in line
    )
    assert f"| {100 * mc['accuracy']:.1f} |" in robust
    official = next(
        line for line in out.splitlines() if line.startswith("| videonet_mc |") and "| official |" in line
    )
    assert f"| {100 * mc['official_accuracy']:.1f} |" in official
    assert f"| {mc['official_unparsable']} answers |" in official
    assert "official: the authors' convention" in out
    results_file = next((tmp_path / "runs").rglob("*_results.json"))
    results = json.loads(results_file.read_text())
    for task, exp in (("videonet_mc", mc_exp), ("videonet_binary_hard_3shot", b3_exp)):
        got = task_metrics(results, task)
        for key, value in exp.metrics().items():
            assert got[key] == pytest.approx(value), (task, key)
    assert list(cwd.iterdir()) == []
    assert list((tmp_path / "runs").rglob("*_samples_videonet_mc.jsonl"))


def test_videonet_eval_fails_clearly(world: Path, tmp_path: Path, capsys, monkeypatch):
    from videonet_datasets.cli import main

    # A wrong --data path: one line, before lmms-eval starts.
    assert (
        main(
            [
                "eval",
                "--data",
                str(tmp_path / "nowhere"),
                "--model",
                "videonet_scripted",
                "--tasks",
                "videonet_mc",
            ]
        )
        == 2
    )
    assert "VideoNet benchmark not found" in capsys.readouterr().err
    assert main(["eval", "--preset", "bogus", "--tasks", "videonet_mc"]) == 2
    assert main(["eval", "--print-include-path"]) == 0
    assert capsys.readouterr().out.strip() == str(TASKS_DIR)
    # A folder of the user's own: kept when the entry-point plugin puts the suite on lmms-eval's path
    # (here the run then stops on the missing data), refused when the plugin is switched off.
    monkeypatch.setenv("VIDEONET_DATA", str(tmp_path / "absent"))
    assert main(["eval", "--include_path", "x", "--tasks", "videonet_mc"]) == 2
    assert "VideoNet benchmark not found" in capsys.readouterr().err
    monkeypatch.setenv("VIDEONET_LMMS_AUTO_INCLUDE", "0")
    assert main(["eval", "--include_path", "x", "--tasks", "videonet_mc"]) == 2
    assert "videonet eval adds its own --include_path" in capsys.readouterr().err
    monkeypatch.delenv("VIDEONET_LMMS_AUTO_INCLUDE")
    monkeypatch.delenv("VIDEONET_DATA")
    # A missing video is found when the task loads, and the command exits non-zero.
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(world, broken)
    victim = sorted((broken / "videos").glob("*.mp4"))[0]
    victim.unlink()
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "eval",
            "--data",
            str(broken),
            "--model",
            "videonet_scripted",
            "--model_args",
            "default=A",
            "--tasks",
            "videonet_mc",
        ]
    )
    assert code == 1
    assert os.environ.get("VIDEONET_DATA") != str(broken)  # the command restores the environment
    err = capsys.readouterr().err
    assert "videonet eval: the evaluation failed:" in err and f"videos/{victim.name}" in err


def test_frame_cache_decodes_each_clip_once_and_changes_no_answer(
    world: Path, tmp_path: Path, capsys, monkeypatch
):
    """A frame preset through `videonet eval`: the k-shot examples repeat across questions, so
    the run decodes fewer clips than it feeds; a second run over the same --frame-cache
    decodes none; --no-frame-cache gives the same results."""
    from videonet_datasets.cli import main

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("VIDEONET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VIDEONET_FRAME_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    limit = 12

    def run(name: str, *cache_args: str) -> tuple[dict, str]:
        capsys.readouterr()
        status = main(
            [
                "eval", "--data", str(world), "--preset", "gpt5,max_frames=4", *cache_args,
                "--model", "videonet_scripted", "--model_args", "default=yes", "--limit", str(limit),
                "--tasks", "videonet_binary_hard_2shot", "--output_path", str(tmp_path / name),
            ]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert status == 0, err[-3000:]
        results = json.loads(next((tmp_path / name).rglob("*_results.json")).read_text())
        return task_metrics(results, "videonet_binary_hard_2shot"), err

    first, err1 = run("a", "--frame-cache", str(tmp_path / "frames"))
    line = next(x for x in err1.splitlines() if x.startswith("frame cache:"))
    inputs, decoded = (int(w) for w in re.findall(r"(\d+) (?:clip inputs|decoded)", line))
    assert inputs == 3 * limit and decoded < inputs  # 2 examples + the test clip per question
    second, err2 = run("b", "--frame-cache", str(tmp_path / "frames"))
    # a later run (a new process would start the same way): every clip from disk, none decoded
    assert (
        f"frame cache: {inputs} clip inputs, 0 decoded, {inputs - decoded} from memory, {decoded} from disk"
        in err2
    )
    third, err3 = run("c", "--no-frame-cache")
    assert "frame cache:" not in err3
    assert first == second == third


def test_models_answer_each_clips_questions_together_so_a_small_cache_decodes_each_clip_once(
    world: Path, tmp_path: Path, capsys, monkeypatch
):
    """lmms-eval hands the model every task's requests, task after task; with a memory cache too
    small for the run (here 16 of 40 clips; at full size 1 GB against ~10 GB of frames) that order
    decodes a clip again in every task that uses it.  `order=locality` (the default) answers each
    clip's questions together: each clip is decoded about once, and no result changes.  The
    cache holds 16 clips, less than one domain's 20 (4 actions x 5 clips)."""
    from videonet_datasets.cli import main
    from videonet_datasets.video import sample_frames

    tasks = [
        "videonet_mc",
        "videonet_binary_hard_0shot",
        "videonet_binary_hard_2shot",
        "videonet_binary_random_2shot",
    ]
    preset = "gpt5,max_frames=4"
    one_clip = sample_frames(next((world / "videos").glob("*.mp4")), fps=1.0, max_frames=4).frames.nbytes
    monkeypatch.setenv("VIDEONET_FRAME_CACHE_MEMORY_MB", str(16 * one_clip / 2**20))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("VIDEONET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VIDEONET_FRAME_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    distinct = set()
    for spec in TASKS:
        if spec.name in tasks:
            for row in read_rows(world, spec.config, spec.split):
                distinct.update([*(row.get("example_videos") or []), row["video"]])

    def run(order: str) -> tuple[dict, int, int]:
        capsys.readouterr()
        status = main(
            [
                "eval", "--data", str(world), "--preset", preset,
                "--model", "videonet_scripted", "--model_args", f"default=yes,order={order}",
                "--tasks", ",".join(tasks), "--output_path", str(tmp_path / order),
            ]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert status == 0, err[-3000:]
        results = json.loads(next((tmp_path / order).rglob("*_results.json")).read_text())
        line = next(x for x in err.splitlines() if x.startswith("frame cache:"))
        inputs, decoded = (int(w) for w in re.findall(r"(\d+) (?:clip inputs|decoded)", line))
        return {t: task_metrics(results, t) for t in tasks}, inputs, decoded

    given, inputs, decoded_given = run("given")
    local, inputs_local, decoded_local = run("locality")
    assert inputs == inputs_local > 2 * len(distinct)
    assert decoded_given > 2 * len(distinct)  # each task decodes its clips again
    assert decoded_local <= 1.1 * len(distinct)  # 42 of 40 here; lmms-eval's order decoded 110
    assert local == given

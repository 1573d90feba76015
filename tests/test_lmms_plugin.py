"""``lmms-eval --tasks videonet_mc`` after ``pip install``, and the README's evaluation commands run
from the folder that holds the default data directory ``./videonet``."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from videonet_lmms_tasks import plugin

VENV_BIN = Path(sys.executable).parent
README = Path(__file__).resolve().parents[1] / "README.md"


def test_registration_is_version_guarded_switchable_and_idempotent(monkeypatch):
    from lmms_eval.tasks import TaskManager

    monkeypatch.setenv(plugin.ENV_SWITCH, "0")
    assert plugin.register_tasks() is False
    monkeypatch.delenv(plugin.ENV_SWITCH)
    real_version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "0.8.0" if name == "lmms-eval" else real_version(name)
    )
    assert plugin.register_tasks() is False  # an lmms-eval this was not checked with is left alone
    monkeypatch.setattr(metadata, "version", real_version)
    assert real_version("lmms-eval").startswith(plugin.SUPPORTED)
    assert plugin.register_tasks() is True
    wrapped = TaskManager.initialize_tasks
    assert plugin.register_tasks() is True and TaskManager.initialize_tasks is wrapped  # wrapped once


def test_the_suite_joins_a_users_include_path(tmp_path: Path):
    from lmms_eval.tasks import TaskManager

    plugin.register_tasks()
    mine = tmp_path / "my_tasks"
    mine.mkdir()
    (mine / "my_task.yaml").write_text(
        "task: my_probe_task\ndataset_path: nowhere\noutput_type: generate_until\ndoc_to_text: x\ndoc_to_target: y\n"
    )
    index = TaskManager("WARNING", include_path=str(mine)).task_index
    assert "my_probe_task" in index and "videonet_mc" in index
    # lmms-eval's built-ins keep precedence (a same-named task of ours would be shadowed, as before).
    assert "/lmms_eval/tasks/videonet/" in index["videonet_binary_0shot"]["yaml_path"]


def _readme_commands() -> list[str]:
    """The shell commands of the first two code blocks of the README's evaluation section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Evaluating models with lmms-eval") :]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)[:2]
    commands = []
    for block in blocks:
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split(" #", 1)[0].strip()
            if cmd:
                commands.append(cmd)
    return commands


def test_readme_commands_run_from_the_folder_holding_the_default_data(tmp_path: Path):
    commands = _readme_commands()
    assert [shlex.split(c)[:2] for c in commands] == [
        ["videonet", "synth"],
        ["videonet", "build-benchmark"],
        ["videonet", "eval"],
        ["videonet", "report"],
        ["videonet", "export-results"],
        ["lmms-eval", "--model"],
    ]
    assert "--tasks videonet_all" in commands[2] and "--tasks videonet_mc" in commands[5]
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "VIDEONET_CACHE": str(tmp_path / "cache"),
    }
    env.pop("VIDEONET_DATA", None)
    env.pop(plugin.ENV_SWITCH, None)
    cwd = tmp_path / "work"
    cwd.mkdir()

    def sh(cmd: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            shlex.split(cmd),
            cwd=cwd,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=900,
        )

    for cmd in commands:
        proc = sh(cmd)
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        if cmd.startswith("lmms-eval"):
            assert "Tasks not found" not in proc.stdout + proc.stderr
    assert (cwd / "videonet" / "README.md").is_file()  # the default data directory is here...
    results = json.loads(next((cwd / "runs" / "always-a").rglob("*_results.json")).read_text())
    assert len(results["results"]) == 9  # ...and the tag ran its 9 tasks, not the folder
    assert "official_accuracy,none" in results["results"]["videonet_mc"]
    direct = json.loads(next((cwd / "runs" / "direct").rglob("*_results.json")).read_text())
    assert set(direct["results"]) == {"videonet_mc"}
    assert (cwd / "report" / "table3_mc_official.md").is_file() and (cwd / "report" / "summary.md").is_file()
    exported = sorted(p.name for p in (cwd / "results" / "always-a").glob("*.json"))
    assert exported == sorted(["mcq_test.json", "zero.json", "one.json", "two.json", "three.json",
                               *[f"videonet_binary_random_{k}shot.json" for k in range(4)]])  # fmt: skip
    # Without the plugin, plain lmms-eval does not know the suite (what the entry point fixes).
    off = sh(commands[5], {plugin.ENV_SWITCH: "0"})
    assert "Tasks not found: videonet_mc" in off.stdout + off.stderr  # (lmms-eval logs it and exits 0)
    # The former tag: a clear message instead of lmms-eval reading ./videonet as a task folder.
    former = sh("videonet eval --model videonet_scripted --model_args default=A --tasks videonet")
    assert former.returncode == 2 and "--tasks videonet_all" in former.stderr


@pytest.mark.parametrize("name", ["videonet_main", "videonet_all"])
def test_no_tag_is_named_like_the_default_data_directory(name):
    from videonet_lmms_tasks.catalog import TASKS
    from videonet_lmms_tasks.source import DEFAULT_DATA

    tags = {t for spec in TASKS for t in spec.tags}
    assert name in tags and DEFAULT_DATA not in tags and DEFAULT_DATA not in {t.name for t in TASKS}

"""The vLLM recipes up to the server boundary (no GPU or vLLM here).

``serve.sh`` is checked for the flags multi-video prompts need.  ``eval.sh`` is run for real
against a stand-in OpenAI-compatible server (a few lines of ``http.server``): lmms-eval's
``openai`` chat backend must send each question's clips as ``file://`` video URLs below the
benchmark directory, interleaved with the prompt's text, and the report must be written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lmms_world import build_world, read_rows

from videonet_datasets import prompts

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "vllm"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("recipes")).resolve()


def _run(script: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(RECIPES / script), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_scripts_parse():
    for script in ("serve.sh", "eval.sh", "models.sh"):
        subprocess.run(["bash", "-n", str(RECIPES / script)], check=True)


@pytest.mark.parametrize(
    ("model", "hf_id", "videos", "sampling"),
    [
        ("qwen3-vl-8b", "Qwen/Qwen3-VL-8B-Instruct", 4, '"fps": 2'),
        ("internvl3.5-8b", "OpenGVLab/InternVL3_5-8B", 4, '"num_frames": 48'),
        ("molmo2-8b", "allenai/Molmo2-8B", 1, '"fps": 4, "num_frames": 64'),
    ],
)
def test_serve_command_has_multi_video_settings(world: Path, tmp_path: Path, model, hf_id, videos, sampling):
    env = {**os.environ, "DRY_RUN": "1", "VIDEONET_DATA": str(world)}
    proc = _run("serve.sh", model, "--seed", "0", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cmd = proc.stdout.replace("\\", "")
    assert cmd.startswith(f"vllm serve {hf_id} ")
    assert f'--limit-mm-per-prompt {{"video": {videos}, "image": 1}}' in cmd
    assert f"--allowed-local-media-path {world}" in cmd
    assert sampling in cmd.split("--media-io-kwargs", 1)[1]
    assert cmd.rstrip().endswith("--seed 0")


def test_serve_refuses_unknown_model_and_missing_data(tmp_path: Path):
    env = {**os.environ, "DRY_RUN": "1", "VIDEONET_DATA": str(tmp_path / "absent")}
    assert _run("serve.sh", "gpt-9", env=env, cwd=tmp_path).returncode == 2
    proc = _run("serve.sh", "qwen3-vl-8b", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "build-benchmark" in proc.stderr


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Answers every chat completion with "B" and keeps the request bodies."""

    requests: list[dict] = []

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "Qwen/Qwen3-VL-8B-Instruct", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        self._send(
            {
                "id": f"cmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
            }
        )


def test_eval_script_against_an_openai_compatible_server(world: Path, tmp_path: Path):
    _FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            **os.environ,
            "VIDEONET_DATA": str(world),
            "PORT": str(server.server_address[1]),
            "OUT": str(tmp_path / "runs"),
            "TASKS": "videonet_mc,videonet_binary_hard_2shot",
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "HF_HOME": str(tmp_path / "hf"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        proc = _run("eval.sh", "qwen3-vl-8b", "--limit", "3", env=env, cwd=tmp_path)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reqs = _FakeOpenAI.requests
    assert len(reqs) == 6 and {r["model"] for r in reqs} == {"Qwen/Qwen3-VL-8B-Instruct"}
    assert all(r["temperature"] == 0 for r in reqs)
    rows = {r["question_id"]: r for r in read_rows(world, "binary_2shot")}
    kshot = [
        r for r in reqs if len([c for c in r["messages"][0]["content"] if c["type"] == "video_url"]) == 3
    ]
    assert len(kshot) == 3
    for r in kshot:
        content = r["messages"][0]["content"]
        assert [c["type"] for c in content] == ["text", "video_url", "video_url", "text", "video_url"]
        urls = [c["video_url"]["url"] for c in content if c["type"] == "video_url"]
        assert all(u.startswith(f"file://{world}/videos/") for u in urls)
        row = next(row for row in rows.values() if f"file://{world}/{row['video']}" == urls[-1])
        prompt = prompts.binary_prompt(row["action"], row["domain"], row["subdomain"], k=2)
        assert [c["text"] for c in content if c["type"] == "text"] == [
            p.text for p in prompt.parts if isinstance(p, prompts.TextPart)
        ]
    report = tmp_path / "runs" / "qwen3-vl-8b" / "report"
    assert (report / "table3_mc.md").is_file() and "| qwen3-vl-8b |" in (report / "table3_mc.md").read_text()

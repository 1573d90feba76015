"""The LLM miner against a local OpenAI-compatible test server (http.server on
127.0.0.1, ``POST /v1/chat/completions``): the four rounds and their parameters as the
server receives them, the correction loop, refusals, resume, transport errors, the audit
log, and that nothing invalid is ever written."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import make_video, write_csv

from videonet_datasets import cli
from videonet_datasets.annotations import NEGATIVES_FILE, load_annotations
from videonet_datasets.negatives import prompts
from videonet_datasets.negatives.client import ChatClient, ChatError

SKATING = ["Triple Lutz", "Triple Flip", "Triple Loop", "Triple Salchow", "Triple Toe Loop", "Double Axel"]
BALLET = ["Pirouette", "Fouette", "Arabesque", "Grand Jete", "Pas de Chat"]
API_KEY = "sk-test-do-not-print-0123456789"
PAPER_WRITER = {"model": "gpt-4.5-preview-2025-02-27", "temperature": 0.5, "max_tokens": 4096}
PAPER_REASONER = {"model": "o3-2025-04-16", "reasoning_effort": "high"}

Reply = tuple[int, str]  # (HTTP status, assistant content or error body)
Policy = Callable[[dict[str, Any]], Reply]


# ------------------------------------------------------------------------- the test server


class FakeLLM:
    """A scripted chat server.  ``policy(request_body) -> (status, content)``; every
    request body and its headers are recorded in arrival order."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    status, content = 404, json.dumps({"error": {"message": f"no route {self.path}"}})
                else:
                    status, content = fake.policy(body)
                if status == 200:
                    payload = {
                        "id": f"chatcmpl-{len(fake.requests)}",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    }
                    data = json.dumps(payload).encode()
                else:
                    data = content.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "7")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def for_domain(self, domain: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if domain_of(r) == domain]


@pytest.fixture
def llm_server() -> Iterator[Callable[[Policy], FakeLLM]]:
    servers: list[FakeLLM] = []

    def start(policy: Policy) -> FakeLLM:
        servers.append(FakeLLM(policy))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


# ------------------------------------------------------------------------- conversation helpers


def domain_of(body: dict[str, Any]) -> str:
    return re.search(r'Below is my list of "(.+?)" actions', body["messages"][1]["content"]).group(1)


def names_of(body: dict[str, Any]) -> list[str]:
    first = body["messages"][1]["content"]
    block = first.split("same order as provided:\n", 1)[1].split("\nNegatives should only EXACTLY", 1)[0]
    return block.splitlines()


def round_of(body: dict[str, Any]) -> tuple[int, int]:
    """(round, number of corrections already sent in this round)."""
    starts = {
        "Below is my list of": 1,
        "Please provide your analysis": 2,
        "Based on the analysis": 3,
        "Based on the comprehensive": 4,
    }
    corrections = 0
    for m in reversed(body["messages"]):
        if m["role"] != "user":
            continue
        for prefix, n in starts.items():
            if m["content"].startswith(prefix):
                return n, corrections
        corrections += 1
    raise AssertionError("no round prompt in the conversation")


def circulant(names: list[str], shift: int = 1) -> list[list[str]]:
    n = len(names)
    return [[names[i], *(names[(i + shift + k) % n] for k in range(3))] for i in range(n)]


def as_csv(rows: list[list[str]], header: bool = True, quote: bool = False) -> str:
    fmt = (lambda r: '"' + '","'.join(r) + '"') if quote else ",".join
    return "\n".join((["action,negative_1,negative_2,negative_3"] if header else []) + [fmt(r) for r in rows])


def good_reply(body: dict[str, Any]) -> str:
    """A well-behaved model: each CSV round in a different format."""
    names = names_of(body)
    rnd, _ = round_of(body)
    if rnd == 1:
        return (
            f"Here are my choices, as requested:\n\n```csv\n{as_csv(circulant(names))}\n```\nHope this helps."
        )
    if rnd == 2:
        return "The negatives follow a predictable pattern: every action takes its next three neighbours."
    if rnd == 3:
        rows = circulant(names, shift=2)
        return f"Changes:\n- {names[0]}, {names[1]}: shifted to break the pattern.\n\n{as_csv(rows, header=False, quote=True)}"
    return as_csv(circulant(names, shift=2))


def make_dir(root: Path, domains: dict[str, list[str]]) -> Path:
    """actions.csv + clips.csv (5 windows of one shared video per action)."""
    root.mkdir(parents=True)
    make_video(root / "videos" / "src.mp4", seconds=3.0)
    actions, clips = [], []
    for domain, names in domains.items():
        for i, name in enumerate(names):
            actions.append(["Sports", domain, name, "jump", f"The skater performs a {name.lower()}."])
            for c in range(5):
                clips.append([f"{domain[:3]}{i}c{c}", domain, name, "videos/src.mp4", c * 0.5, c * 0.5 + 0.5])
    write_csv(root / "actions.csv", ["category", "domain", "action", "subdomain", "definition"], actions)
    write_csv(root / "clips.csv", ["clip_id", "domain", "action", "video", "start", "end"], clips)
    return root


def run_cli(*argv: str) -> int:
    return cli.main(["mine-negatives", *argv])


def strip_params(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "messages"}


# ------------------------------------------------------------------------- tests


def test_four_rounds_with_the_papers_parameters(
    tmp_path: Path, llm_server: Callable[[Policy], FakeLLM], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING})
    server = llm_server(lambda body: (200, good_reply(body)))
    assert run_cli(str(root), "--base-url", server.base_url, "--api-key", API_KEY) == 0
    out, err = capsys.readouterr()

    reqs = server.requests
    assert [strip_params(r) for r in reqs] == [PAPER_WRITER, PAPER_REASONER, PAPER_REASONER, PAPER_WRITER]
    assert [len(r["messages"]) for r in reqs] == [2, 4, 6, 8]  # one growing conversation
    for r in reqs:
        assert r["messages"][0] == {"role": "system", "content": prompts.SYSTEM_PROMPT}
    assert reqs[0]["messages"][1]["content"].startswith('Below is my list of "Figure Skating" actions')
    assert "Triple Lutz: The skater performs a triple lutz." in reqs[0]["messages"][1]["content"]
    assert [r["messages"][-1]["content"] for r in reqs[1:]] == [
        prompts.ANALYSIS_PROMPT,
        prompts.REVISION_PROMPT,
        prompts.FINAL_PROMPT,
    ]
    assert reqs[3]["messages"][6]["role"] == "assistant"  # round 3's reply went back to the model
    assert all(h["Authorization"] == f"Bearer {API_KEY}" for h in server.headers)

    # the final round's table, in the annotation format, accepted by the benchmark's loader
    ann = load_annotations(root)
    expected = {r[0]: tuple(r[1:]) for r in circulant(SKATING, shift=2)}
    assert {a.name: ann.negatives[a.key] for a in ann.actions_of("Figure Skating")} == expected

    audit_file = root / "hard_negatives_llm" / "figure_skating.json"
    audit = json.loads(audit_file.read_text())
    assert audit["status"] == "ok" and audit["table"] == [list(r) for r in circulant(SKATING, shift=2)]
    roles = [t["role"] for t in audit["turns"]]
    assert roles == ["system"] + ["user", "assistant"] * 4
    assert [t["params"] for t in audit["turns"] if t["role"] == "assistant"] == [
        PAPER_WRITER,
        PAPER_REASONER,
        PAPER_REASONER,
        PAPER_WRITER,
    ]
    assert audit["turns"][2]["csv"] == {"source": "fenced", "header": True, "rows": 6}
    assert audit["turns"][6]["csv"]["source"] == "plain" and audit["turns"][6]["csv"]["header"] is False

    report = json.loads((root / "hard_negatives_report.json").read_text())
    d = report["domains"][0]
    assert report["mode"] == "llm" and d["requests"] == 4 and d["corrections"] == 0
    assert d["histogram"] == {"0": 0, "1": 0, "2": 0, "3": 6}
    everything = out + err + audit_file.read_text() + (root / "hard_negatives_report.md").read_text()
    assert API_KEY not in everything + json.dumps(report)


def test_misspelling_is_corrected_and_rounds_are_configurable(
    tmp_path: Path, llm_server: Callable[[Policy], FakeLLM]
) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING})

    def policy(body: dict[str, Any]) -> Reply:
        rnd, corrections = round_of(body)
        if rnd == 1 and corrections == 0:
            rows = circulant(SKATING)
            rows[2][0] = "Tripple Loop"  # row 3
            return 200, "```\n" + as_csv(rows) + "\n```"
        if rnd == 2 and corrections == 0:
            return 200, ""  # an empty analysis is sent back too
        return 200, good_reply(body)

    server = llm_server(policy)
    argv = [str(root), "--base-url", server.base_url, "--model", "my-open-model"]
    argv += ["--round", "2:reasoning_effort=none,temperature=0.2", "--round", "4:max_tokens=1000,top_p=0.9"]
    assert run_cli(*argv) == 0

    reqs = server.requests
    assert len(reqs) == 6  # 4 rounds + 2 corrections
    correction = reqs[1]["messages"][-1]["content"]
    assert correction.startswith("Your CSV breaks 2 rule(s):\n")
    assert (
        "- row 3: 'Tripple Loop' is not an action of Figure Skating - did you mean 'Triple Loop'?"
        in correction
    )
    assert "- missing row(s) for 1 action(s) of Figure Skating: 'Triple Loop'" in correction
    assert correction.endswith("\n".join(SKATING))
    assert reqs[3]["messages"][-1]["content"].startswith("Your reply was empty.")
    params = [strip_params(r) for r in reqs]
    writer = {"model": "my-open-model", "temperature": 0.5, "max_tokens": 4096}
    assert params[0] == params[1] == writer  # the correction uses its round's parameters
    assert params[2] == params[3] == {"model": "my-open-model", "temperature": 0.2}
    assert params[4] == {"model": "my-open-model", "reasoning_effort": "high"}
    assert params[5] == {"model": "my-open-model", "temperature": 0.5, "max_tokens": 1000, "top_p": 0.9}

    audit = json.loads((root / "hard_negatives_llm" / "figure_skating.json").read_text())
    kinds = [t.get("kind") for t in audit["turns"] if t["role"] == "user"]
    assert kinds == ["prompt", "correction", "prompt", "correction", "prompt", "prompt"]
    first_reply = audit["turns"][2]
    assert first_reply["problems"][0].startswith("row 3: 'Tripple Loop'")
    report = json.loads((root / "hard_negatives_report.json").read_text())
    assert report["domains"][0]["corrections"] == 2
    assert load_annotations(root).negatives


def test_refusal_writes_nothing_then_resume(
    tmp_path: Path, llm_server: Callable[[Policy], FakeLLM], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING, "Ballet": BALLET})
    refusing = llm_server(
        lambda body: (
            (200, "I'm sorry, but I can't help with that.")
            if domain_of(body) == "Ballet"
            else (200, good_reply(body))
        )
    )
    assert run_cli(str(root), "--base-url", refusing.base_url) == 1
    err = capsys.readouterr().err
    assert "FAILED: no valid table for 1 domain(s): Ballet" in err and "NOT written" in err
    assert not (root / NEGATIVES_FILE).exists()  # not even Figure Skating's valid rows
    ballet = refusing.for_domain("Ballet")
    assert len(ballet) == 3  # round 1 + 2 corrections, then the domain is abandoned
    assert all(
        r["messages"][-1]["content"].startswith("I could not find a CSV in your reply.") for r in ballet[1:]
    )
    audit = json.loads((root / "hard_negatives_llm" / "ballet.json").read_text())
    assert audit["status"] == "failed" and audit["table"] is None
    assert "round 1 (first CSV) still invalid after 2 correction(s): no CSV found" in audit["error"]
    report = json.loads((root / "hard_negatives_report.json").read_text())
    assert report["written"] is False and [d["status"] for d in report["domains"]] == ["ok", "failed"]

    # the next run reuses the finished domain and only talks about Ballet
    fixed = llm_server(lambda body: (200, good_reply(body)))
    assert run_cli(str(root), "--base-url", fixed.base_url) == 0
    assert {domain_of(r) for r in fixed.requests} == {"Ballet"} and len(fixed.requests) == 4
    assert "Figure Skating: 6 actions, ok (reused)" in capsys.readouterr().out
    ann = load_annotations(root)
    assert len(ann.negatives) == len(SKATING) + len(BALLET)
    # --restart ignores the saved conversations
    again = llm_server(lambda body: (200, good_reply(body)))
    assert run_cli(str(root), "--base-url", again.base_url, "--force", "--restart") == 0
    assert len(again.requests) == 8


def test_invalid_final_round_is_never_written(
    tmp_path: Path, llm_server: Callable[[Policy], FakeLLM]
) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING})

    def policy(body: dict[str, Any]) -> Reply:
        if round_of(body)[0] == 4:
            rows = circulant(SKATING)
            rows[0][2] = rows[0][0]  # an action as its own negative, every time
            return 200, as_csv(rows)
        return 200, good_reply(body)

    server = llm_server(policy)
    assert run_cli(str(root), "--base-url", server.base_url, "--max-corrections", "1") == 1
    assert len(server.requests) == 5
    assert "row 1: 'Triple Lutz' cannot be its own negative" in server.requests[-1]["messages"][-1]["content"]
    assert not (root / NEGATIVES_FILE).exists()
    audit = json.loads((root / "hard_negatives_llm" / "figure_skating.json").read_text())
    assert "round 4 (final synthesis) still invalid after 1 correction(s)" in audit["error"]


def test_server_error_stops_the_run(
    tmp_path: Path, llm_server: Callable[[Policy], FakeLLM], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING, "Ballet": BALLET})
    server = llm_server(lambda body: (401, json.dumps({"error": {"message": "invalid api key"}})))
    assert run_cli(str(root), "--base-url", server.base_url, "--api-key", API_KEY) == 1
    out, err = capsys.readouterr()
    assert len(server.requests) == 1  # 401 is not retried, and Ballet is not attempted
    assert "HTTP 401" in out and "invalid api key" in out
    report = json.loads((root / "hard_negatives_report.json").read_text())
    assert [d["status"] for d in report["domains"]] == ["failed", "not attempted"]
    assert API_KEY not in out + err + json.dumps(report)
    assert not (root / NEGATIVES_FILE).exists()


def test_bad_round_spec_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_dir(tmp_path / "ann", {"Figure Skating": SKATING})
    assert run_cli(str(root), "--base-url", "http://127.0.0.1:9/v1", "--round", "5:model=x") == 2
    assert "--round '5:model=x': expected N:KEY=VALUE with N in 1-4" in capsys.readouterr().err
    assert run_cli(str(root), "--base-url", "http://127.0.0.1:9/v1", "--round", "1:temperature=hot") == 2
    assert "bad value for temperature" in capsys.readouterr().err


# ------------------------------------------------------------------------- the client


def test_client_retries_transient_errors_with_backoff(llm_server: Callable[[Policy], FakeLLM]) -> None:
    statuses = iter([503, 429, 200])
    server = llm_server(lambda body: (s := next(statuses), "ok" if s == 200 else '{"error": "busy"}'))
    sleeps: list[float] = []
    client = ChatClient(server.base_url, "k", retries=3, backoff=0.5, sleep=sleeps.append)
    reply = client.complete([{"role": "user", "content": "hi"}], {"model": "m"})
    assert reply.content == "ok" and reply.attempts == 3 and reply.finish_reason == "stop"
    assert sleeps == [0.5, 7.0]  # exponential backoff, then the server's Retry-After
    assert len(server.requests) == 3


def test_client_gives_up_and_does_not_retry_client_errors(llm_server: Callable[[Policy], FakeLLM]) -> None:
    server = llm_server(lambda body: (400, '{"error": {"message": "unknown model m"}}'))
    sleeps: list[float] = []
    client = ChatClient(server.base_url, None, retries=3, backoff=0.5, sleep=sleeps.append)
    with pytest.raises(ChatError, match="HTTP 400 .*unknown model m"):
        client.complete([{"role": "user", "content": "hi"}], {"model": "m"})
    assert sleeps == [] and len(server.requests) == 1 and "Authorization" not in server.headers[0]

    dead = ChatClient(
        "http://127.0.0.1:9/v1", API_KEY, retries=2, backoff=0.25, timeout=2, sleep=sleeps.append
    )
    with pytest.raises(ChatError, match="giving up after 3 attempt"):
        dead.complete([{"role": "user", "content": "hi"}], {"model": "m"})
    assert sleeps == [0.25, 0.5]
    assert API_KEY not in repr(dead)

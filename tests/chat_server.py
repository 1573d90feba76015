"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, the stand-in for a VLM
or LLM endpoint in the localizer and caption-tree labeler tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict | str, dict]  # status, body, headers


class FakeVLM:
    """A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (an ephemeral port).

    Each request pops the next behaviour: ``(status, body, headers)``, or a callable that
    gets the request JSON and returns one, or ``("sleep", seconds)`` to stall.  ``port`` 0 picks a
    free one; a fixed port lets a second server stand in for the first at the same URL.
    """

    def __init__(self, script: list, port: int = 0):
        self.script = list(script)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                outer.headers.append(dict(self.headers))
                step = outer.script.pop(0) if outer.script else (500, "script exhausted", {})
                if callable(step):
                    step = step(body)
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = (200, chat(json.dumps({"clips": []})), {})
                status, payload, headers = step
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except BrokenPipeError:  # the client timed out and left
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeVLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def chat(content: str) -> dict:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


def ok(content: str) -> Reply:
    return (200, chat(content), {})

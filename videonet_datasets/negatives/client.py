"""A minimal OpenAI-compatible chat client (``POST {base_url}/chat/completions``).

Plain ``urllib`` so the LLM miner needs nothing beyond the standard library and works
with any server that speaks the protocol: ``vllm serve`` (``http://localhost:8000/v1``),
OpenAI, or a provider's gateway.  Only what a long unattended run needs is here:
per-request parameters passed through unchanged (a reasoning model rejects
``temperature``, an open model ignores ``reasoning_effort`` - the caller decides what to
send), a timeout, and retries with exponential backoff on transport errors, timeouts,
429 and 5xx (honouring ``Retry-After``).  Other HTTP errors (bad model name, bad key) fail
at once with the server's message.  The API key goes only into the Authorization header;
it is never logged, printed or saved.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ChatClient", "ChatError", "ChatReply"]

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatError(RuntimeError):
    """The server could not be used (after retries, or a non-retryable error)."""


@dataclass(frozen=True)
class ChatReply:
    content: str
    finish_reason: str | None
    model: str | None
    usage: dict[str, Any] | None
    reasoning: str | None  # reasoning text some servers return separately (vLLM reasoning parsers)
    refusal: str | None
    seconds: float
    attempts: int


class ChatClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 600.0,
        retries: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"ChatClient({self.url!r}, api_key={'***' if self._api_key else None})"

    def _post(self, body: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def complete(self, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> ChatReply:
        """One chat completion.  ``params`` holds ``model`` and any other body fields."""
        body = json.dumps({**params, "messages": list(messages)}).encode("utf-8")
        t0 = time.perf_counter()
        last = ""
        for attempt in range(1, self.retries + 2):
            wait = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
            try:
                data = self._post(body)
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:500]
                last = f"HTTP {e.code} from {self.url}: {detail}"
                if e.code not in RETRY_STATUS:
                    raise ChatError(last) from None
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after:
                    try:
                        wait = min(max(float(retry_after), wait), self.max_backoff)
                    except ValueError:
                        pass
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,
                OSError,
            ) as e:
                last = f"{type(e).__name__} talking to {self.url}: {getattr(e, 'reason', e)}"
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                last = f"unreadable response from {self.url}: {e}"
            else:
                return self._reply(data, time.perf_counter() - t0, attempt)
            if attempt <= self.retries:
                log.warning("%s; retry %d/%d in %.1fs", last, attempt, self.retries, wait)
                self._sleep(wait)
        raise ChatError(f"giving up after {self.retries + 1} attempt(s): {last}")

    def _reply(self, data: dict[str, Any], seconds: float, attempts: int) -> ChatReply:
        if "error" in data and not data.get("choices"):
            raise ChatError(f"error from {self.url}: {json.dumps(data['error'])[:500]}")
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ChatError(
                f"malformed reply from {self.url} (no choices): {json.dumps(data)[:500]}"
            ) from None
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return ChatReply(
            content=message.get("content") or "",
            finish_reason=choice.get("finish_reason"),
            model=data.get("model"),
            usage=data.get("usage"),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            refusal=message.get("refusal"),
            seconds=seconds,
            attempts=attempts,
        )

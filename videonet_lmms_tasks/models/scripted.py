"""``videonet_scripted``: an lmms-eval chat model that answers from a script, for offline tests.

It receives requests exactly like a real chat backend (``doc_to_messages`` of the task,
validated against lmms-eval's ``ChatMessages`` protocol), proves that every clip it is
given is a decodable video file and every frame a PIL image, then replies with the text
the script holds for that question.  With ``log=`` it writes what it was shown (text, video
paths and sampling hints, image sizes) as JSON lines, so tests can check the interleaving
and the frame sampling end to end.

Model arguments (``--model_args``)::

    answers=PATH   JSON object: "question_id" or "task:question_id" -> reply text
                   (null = an empty reply); "task:..." wins over the bare id
    default=TEXT   reply for questions the script does not list (without it, a missing
                   question is an error listing every missing id, before any reply)
    log=PATH       JSON lines of what each request contained (appended)
    check_media=true|false   open every video (first frame decoded) and check every image
    order=locality|given     build the requests' messages (decode their clips) in
                   :func:`~videonet_datasets.feed_order.locality_order` (default; each clip's
                   uses together, so the frame cache holds it once) or in lmms-eval's order;
                   the replies and the log are in lmms-eval's order either way
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from lmms_eval.protocol import ChatMessages
from PIL import Image

from videonet_datasets.feed_order import ORDERS, answer_order, restore_order
from videonet_datasets.video import probe_video
from videonet_lmms_tasks.tasks.videonet.utils import doc_clip_paths

__all__ = ["ScriptedChat"]


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class ScriptedChat(lmms):
    """Replies from a JSON script; see the module docstring for the model arguments."""

    is_simple = False

    def __init__(
        self,
        answers: str | None = None,
        default: str | None = None,
        log: str | None = None,
        check_media: bool | str = True,
        order: str = "locality",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"videonet_scripted: order={order!r}; choose from {', '.join(ORDERS)}")
        self.order = order
        if answers is None and default is None:
            raise ValueError(
                "videonet_scripted needs answers=PATH (a JSON map question_id -> reply) or default=TEXT"
            )
        self.answers: dict[str, str | None] = {}
        if answers is not None:
            path = Path(answers)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise FileNotFoundError(f"videonet_scripted: answers file {path} not found") from None
            except json.JSONDecodeError as e:
                raise ValueError(f"videonet_scripted: {path} is not valid JSON ({e})") from None
            if not isinstance(data, dict) or not all(isinstance(v, (str, type(None))) for v in data.values()):
                raise ValueError(
                    f"videonet_scripted: {path} must be a JSON object of question_id -> reply text (or null)"
                )
            self.answers = {str(k): v for k, v in data.items()}
        self.default = default
        self.log_path = Path(log) if log else None
        self.check_media = _as_bool(check_media)
        self._checked: set[str] = set()
        self._lock = threading.Lock()
        self.requests_seen = 0

    # ------------------------------------------------------------------ lookup

    def _reply_for(self, task: str, question_id: str) -> tuple[bool, str]:
        for key in (f"{task}:{question_id}", question_id):
            if key in self.answers:
                return True, self.answers[key] or ""
        if self.default is not None:
            return True, self.default
        return False, ""

    def _check_video(self, path: Any) -> None:
        if not isinstance(path, str):
            raise TypeError(f"video item url must be a path string, got {type(path).__name__}")
        if path in self._checked:
            return
        probe_video(path, decode_check=True)  # raises FileNotFoundError / VideoDecodeError
        with self._lock:
            self._checked.add(path)

    def _check(self, item: dict[str, Any]) -> None:
        """Raise unless ``item`` is a text, a decodable video path or a PIL image."""
        kind = item.get("type")
        if kind == "text":
            return
        if kind == "video":
            if self.check_media:
                self._check_video(item.get("url"))
            return
        if kind == "image":
            img = item.get("url")
            if not isinstance(img, Image.Image):
                raise TypeError(f"image item must carry a PIL image, got {type(img).__name__}")
            return
        raise ValueError(f"unexpected content item type {kind!r}")

    def _describe(self, item: dict[str, Any]) -> dict[str, Any]:
        self._check(item)
        kind = item["type"]
        if kind == "text":
            return {"type": "text", "text": item["text"]}
        if kind == "video":
            return {k: v for k, v in item.items() if k != "url"} | {"url": str(item.get("url"))}
        return {"type": "image", "size": list(item["url"].size)}

    def _order(self, docs: list[Any]) -> list[int]:
        return answer_order([doc_clip_paths(doc) for doc in docs], self.order)

    # ------------------------------------------------------------------ lmms API

    def generate_until(self, requests: list[Instance]) -> list[str]:
        plan = []
        missing = []
        for request in requests:
            _ctx, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            qid = str(doc.get("question_id", doc_id))
            found, reply = self._reply_for(task, qid)
            if not found:
                missing.append(f"{task}:{qid}")
            plan.append((doc_to_messages, gen_kwargs, doc, task, qid, reply))
        if missing:
            shown = ", ".join(missing[:10]) + (f" ... ({len(missing)} in all)" if len(missing) > 10 else "")
            raise KeyError(f"videonet_scripted: no reply scripted for {shown}; add them or pass default=TEXT")
        # build the messages (decode the clips) in an order that keeps each clip's uses together,
        # as a real backend would answer; replies and log lines go back in lmms-eval's order
        order = self._order([doc for _dtm, _gen, doc, *_ in plan])
        replies = []
        log_lines = []
        for doc_to_messages, gen_kwargs, doc, task, qid, reply in (plan[i] for i in order):
            messages = doc_to_messages(doc)
            ChatMessages(messages=messages)  # the lmms-eval chat protocol every backend parses
            if self.log_path is not None:
                log_lines.append(
                    {
                        "task": task,
                        "question_id": qid,
                        "messages": [
                            {"role": m["role"], "content": [self._describe(c) for c in m["content"]]}
                            for m in messages
                        ],
                        "gen_kwargs": {
                            k: v
                            for k, v in (gen_kwargs or {}).items()
                            if isinstance(v, (int, float, str, list))
                        },
                        "reply": reply,
                    }
                )
            elif self.check_media:
                for m in messages:
                    for c in m["content"]:
                        self._check(c)
            replies.append(reply)
            self.requests_seen += 1
        replies = restore_order(order, replies)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:
                for line in restore_order(order, log_lines):
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return replies

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            "videonet_scripted only generates text (the VideoNet tasks are generate_until)"
        )

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError(
            "videonet_scripted has no multi-round mode (the VideoNet tasks are single-turn)"
        )

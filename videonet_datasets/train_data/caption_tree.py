"""``--localizer action100m``: Action100M's labeling pipeline as a localizer for any video.

The paper's weak labels need a narrated video; this labels videos from what is *seen*,
following Action100M (paper §3; the prompts here are this project's own wording of what
the paper describes):

1. **segmentation** - frame embeddings at ``feature_fps`` (any image encoder,
   :mod:`segment_tree`), hierarchical Ward clustering with a temporal-adjacency
   constraint: a tree of contiguous segments, nodes under 0.5 s dropped;
2. **tree of captions** - every node is captioned by the VLM (any OpenAI-compatible
   server): a leaf by its middle frame ("Describe this image in detail."), a longer node
   by ``caption_frames`` evenly spaced frames ("Describe this video in detail."), sent as
   timestamped images;
3. **aggregation** - *one* conversation per video with the LLM (default: the VLM's
   endpoint): the metadata and the whole tree of captions (depth first, as Markdown) in,
   the release's ``gpt`` fields (``summary.brief/detailed``, ``action.brief/detailed/actor``)
   out for every node of at least ``annotate_min_seconds``, as JSON.  Every reply is
   checked against that structure (every asked segment exactly once, every field a
   non-empty string); a broken reply gets a precise correction, up to ``max_corrections``
   times; then ``refine_rounds`` rounds of self-refinement (the paper's three rounds in
   all by default), each checked the same way - a refinement that stays broken keeps the
   last valid draft (counted).

The result is an Action100M row (``caption_tree/<video>/row.json``, readable by
``--source action100m``, which ignores its extra ``fingerprint`` key), and the localizer's
output is what the ingest takes from a release row: the windows (the tree cut of ``--segment-level``, default the finest
annotated segments) and every annotated segment with the domain's action names its text
mentions - ``segment_action_match``'s input.

Resumable per video, and auditable: the tree, each caption (appended as it arrives, so a
rerun continues mid-video), the aggregation conversation (every message and reply, with
timings and token usage) and the row are files under ``WORK/caption_tree/<video>/``; a
video whose row exists for the same settings is not asked again.  Images are not stored
in the logs (their frame times are).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from videonet_datasets.fsutil import atomic_write_json, stable_hash
from videonet_datasets.negatives.client import ChatClient, ChatError
from videonet_datasets.train_data.action100m import (
    GPT_FIELDS,
    Node,
    Row,
    annotated_segments,
    check_gpt,
    parse_row,
    row_to_dict,
    window_nodes,
    without_na,
)
from videonet_datasets.train_data.config import CaptionTreeConfig, SegmentConfig, VLMConfig, WindowPolicy
from videonet_datasets.train_data.localize import (
    LocalizeError,
    Localizer,
    LocalizeResult,
    clean_windows,
    json_candidates,
    strip_reasoning,
)
from videonet_datasets.train_data.manifest import VideoRow
from videonet_datasets.train_data.match import ActionMatcher
from videonet_datasets.train_data.segment_tree import ImageEncoder, load_encoder, segment_tree
from videonet_datasets.video import sample_frames

__all__ = [
    "IMAGE_PROMPT",
    "REFINE_PROMPT",
    "VIDEO_PROMPT",
    "CaptionTreeLocalizer",
    "aggregation_prompt",
    "check_aggregation",
    "format_tree",
]

log = logging.getLogger(__name__)

IMAGE_PROMPT = "Describe this image in detail."  # the paper's leaf prompt (Llama-3.2-Vision)
VIDEO_PROMPT = "Describe this video in detail."  # the paper's segment prompt (PerceptionLM)
SYSTEM_PROMPT = (
    "You aggregate machine-generated captions of a video into structured, faithful descriptions of "
    "what is visible. You reply with JSON only."
)
REFINE_PROMPT = (
    "Now check your draft against the captions and the guidelines: correct anything the captions do not "
    "support, resolve contradictions in favour of the majority of the captions, remove what cannot be "
    "seen, and make sure every segment describes only its own time span. Reply with the complete revised "
    "JSON in the same structure."
)
_FORMAT = {
    "segments": [
        {
            "id": "S1",
            "summary": {"brief": "one sentence", "detailed": "a dense description"},
            "action": {
                "brief": "a verb phrase",
                "detailed": "an imperative sentence",
                "actor": "a noun phrase",
            },
        }
    ]
}


def format_tree(nodes: Sequence[Node], labels: dict[str, str], captions: dict[str, str]) -> str:
    """The tree of captions, depth first, as Markdown: a heading per node for the top levels,
    a bold line below (the layout the paper describes)."""
    kids: dict[str | None, list[Node]] = {}
    for n in nodes:
        kids.setdefault(n.parent_id, []).append(n)
    lines: list[str] = []

    def walk(n: Node, depth: int) -> None:
        span = f"[{labels[n.node_id]}] {n.start:.2f}s - {n.end:.2f}s ({n.end - n.start:.1f}s)"
        head = ("#" * (depth + 2) + " " + span) if depth <= 2 else f"**{span}**"
        lines.append(head)
        lines.append("")
        lines.append(captions.get(n.node_id, "").strip() or "(no caption)")
        lines.append("")
        for c in sorted(kids.get(n.node_id, []), key=lambda c: c.start):
            walk(c, depth + 1)

    for root in kids.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


def aggregation_prompt(
    video: VideoRow,
    duration: float,
    nodes: Sequence[Node],
    labels: dict[str, str],
    captions: dict[str, str],
    wanted: Sequence[Node],
    vocabulary: Sequence[str],
) -> str:
    """The aggregation request (one per video): metadata, the tree of captions, the task."""
    meta = [f"video_uid: {video.video_id}", f"title: {json.dumps(video.title, ensure_ascii=False)}"]
    meta.append(f"duration: {duration:.2f} s")
    if video.channel:
        meta.append(f"channel: {json.dumps(video.channel, ensure_ascii=False)}")
    if video.upload_date:
        meta.append(f"upload_date: {video.upload_date}")
    todo = "\n".join(f"- {labels[n.node_id]}: {n.start:.2f}s - {n.end:.2f}s" for n in wanted)
    names = ", ".join(vocabulary)
    return f"""# Video metadata

```yaml
{chr(10).join(meta)}
```

# Tree of captions

Each heading is a segment of the video with its id and time span; the segments below a heading
split it in time. A short segment's caption describes its middle frame; a longer one's describes
the segment as a video.

{format_tree(nodes, labels, captions)}

# Your task

The captions come from models that saw only a short window or a single frame: they may be wrong,
hallucinated, or contradict each other. For each segment listed below, aggregate the captions of
the segment and of the segments inside it into an accurate description of what is visible in
that segment's own time span. Guidelines:

- Describe what can be seen: the physical motion and procedure, and the appearance of the actor,
  objects, background and any text on screen.
- Time spans in headings and metadata are reliable; times written inside captions are not.
- Use the rest of the tree and the metadata only to disambiguate; do not add what cannot be seen
  (speech content, names that the segment itself does not show).
- Ignore captions of very short pieces at a segment's edges that belong to a neighbouring scene.
- Be cautious and conservative; where captions disagree, follow the majority.
- This is a {video.domain} video. Its actions have these names: {names}. Use one of these names
  for the action when - and only when - the captions clearly show that action; otherwise describe
  the motion in plain words.

For each segment give:
- summary.brief: a single-sentence caption of the segment;
- summary.detailed: a detailed, dense description, events in order, without timestamps;
- action.brief: a single verb phrase (no -ing form) naming the main physical action, or "N/A" when
  no actor performs a physical action (e.g. a static shot, a title card);
- action.detailed: a single imperative sentence saying how the action is performed, or "N/A";
- action.actor: who performs the action, as a noun phrase or one sentence, or "N/A".

Segments to describe:
{todo}

Reply with only JSON of this form, one entry per listed segment, using its id:
{json.dumps(_FORMAT, indent=1)}
"""


def check_aggregation(reply: str, wanted: Sequence[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The ``gpt`` fields per segment id from a reply, and every way the reply breaks the
    structure (empty: valid).  Accepts ``{"segments": [...]}``, a bare list, or an object
    keyed by segment id; entries name their segment as ``id``, ``segment`` or ``node_id``."""
    text = strip_reasoning(reply or "").strip()
    if not text:
        return {}, ["the reply is empty"]
    data: Any = None
    for cand in json_candidates(text):
        try:
            data = json.loads(cand)
            break
        except json.JSONDecodeError:
            continue
    else:
        return {}, ["the reply holds no JSON object"]
    items: list[tuple[str, Any]] = []
    if isinstance(data, dict) and isinstance(data.get("segments"), list):
        data = data["segments"]
    if isinstance(data, list):
        for i, item in enumerate(data):
            sid = next(
                (item.get(k) for k in ("id", "segment", "node_id") if isinstance(item, dict) and k in item),
                None,
            )
            items.append((str(sid) if sid is not None else f"entry {i + 1}", item))
    elif isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        items = [(str(k), v) for k, v in data.items()]
    else:
        return {}, ['expected {"segments": [...]} with one entry per listed segment']
    want = set(wanted)
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for sid, item in items:
        if sid not in want:
            problems.append(f"{sid}: not one of the listed segments ({', '.join(wanted)})"[:300])
            continue
        if sid in out:
            problems.append(f"{sid}: given twice")
            continue
        msgs = check_gpt(item)
        if msgs:
            problems += [f"{sid}: {m}" for m in msgs]
            continue
        out[sid] = {g: {f: item[g][f].strip() for f in fields} for g, fields in GPT_FIELDS.items()}
    missing = [s for s in wanted if s not in out and not any(p.startswith(f"{s}:") for p in problems)]
    if missing:
        problems.append(f"missing segment(s): {', '.join(missing)}")
    return out, problems


def _correction(problems: Sequence[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems[:40])
    return (
        "Your reply does not follow the required structure:\n"
        f"{listed}\n"
        "Reply again with the complete JSON: one entry per listed segment, with its id and every field "
        'as a non-empty string ("N/A" where the guidelines say so).'
    )


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class CaptionTreeLocalizer(Localizer):
    """Action100M's pipeline (segmentation, VLM captions, LLM aggregation) as a localizer."""

    name = "action100m"

    def __init__(
        self,
        vlm: VLMConfig,
        config: CaptionTreeConfig,
        segments: SegmentConfig,
        action_names: Callable[[str], Sequence[str]],
        policy: WindowPolicy = WindowPolicy(),
        *,
        cache_dir: Path,
        encoder: ImageEncoder | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.vlm = vlm
        self.config = config
        self.segments = segments
        self.action_names = action_names
        self.policy = policy
        self.cache_dir = Path(cache_dir)
        self._encoder = encoder
        self._sleep = sleep
        self._clients: dict[str, ChatClient] = {}

    # ------------------------------------------------------------------ plumbing

    @property
    def encoder(self) -> ImageEncoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.config.encoder, self.config.encoder_device)
        return self._encoder

    def _client(self, base_url: str, api_key: str | None) -> ChatClient:
        if base_url not in self._clients:
            self._clients[base_url] = ChatClient(
                base_url,
                api_key,
                timeout=self.vlm.timeout_seconds,
                retries=max(0, self.vlm.max_attempts - 1),
                backoff=self.vlm.backoff_seconds,
                max_backoff=self.vlm.backoff_max_seconds,
                sleep=self._sleep,
            )
        return self._clients[base_url]

    def _vlm_client(self) -> ChatClient:
        key = self.vlm.api_key or os.environ.get("VIDEONET_VLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        return self._client(self.vlm.base_url, key)

    def _llm_client(self) -> ChatClient:
        if not self.config.llm_url:
            return self._vlm_client()
        key = (
            self.config.llm_api_key
            or os.environ.get("VIDEONET_LLM_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
        )
        return self._client(self.config.llm_url, key)

    def fingerprint(self, domain: str) -> str:
        """What decides a video's result: the models, the tree and caption settings, the
        domain's action names (the aggregation's vocabulary)."""
        c = self.config
        parts = {
            "vlm": [self.vlm.model, self.vlm.temperature, self.vlm.max_tokens, self.vlm.extra_body],
            "llm": [c.llm_model or self.vlm.model, c.llm_temperature, c.llm_max_tokens, c.llm_extra_body],
            "tree": [c.encoder, c.feature_fps, c.feature_short_side, c.min_node_seconds, c.max_depth],
            "captions": [c.caption_frames, c.caption_short_side],
            "aggregation": [c.annotate_min_seconds, c.refine_rounds, c.max_corrections],
            "names": list(self.action_names(domain)),
        }
        return f"{stable_hash(json.dumps(parts, sort_keys=True, default=str)):016x}"

    def video_dir(self, video_id: str) -> Path:
        safe = _SAFE.sub("_", video_id)
        if safe != video_id:
            safe = f"{safe[:48]}_{stable_hash(video_id) & 0xFFFFFFFF:08x}"
        return self.cache_dir / safe

    # ------------------------------------------------------------------ the stages

    def _tree(self, video: VideoRow, duration: float, fp: str, folder: Path) -> list[Node]:
        path = folder / "tree.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == fp:
                return [Node(**n) for n in data["nodes"]]
        c = self.config
        assert video.path is not None
        # The thumbnail encoder wants tiny frames; a model's processor resizes to its own input
        # (224 px short side keeps an hour of frames in memory).
        size = c.feature_short_side if c.encoder == "thumbnails" else 224
        fr = sample_frames(video.path, fps=c.feature_fps, size=size, threads=1)
        times = np.append(fr.timestamps + fr.clip_start, duration)
        feats = self.encoder.embed(fr.frames)
        nodes = segment_tree(
            feats, times, video_id=video.video_id, min_seconds=c.min_node_seconds, max_depth=c.max_depth
        )
        atomic_write_json(
            path,
            {
                "fingerprint": fp,
                "encoder": self.encoder.name,
                "frames": len(fr.frames),
                "nodes": [
                    {
                        "node_id": n.node_id,
                        "parent_id": n.parent_id,
                        "level": n.level,
                        "start": n.start,
                        "end": n.end,
                    }
                    for n in nodes
                ],
            },
        )
        return nodes

    def _caption_request(self, video_path: str, node: Node, leaf: bool) -> tuple[list[dict], list[float]]:
        from PIL import Image

        c = self.config
        if leaf:
            fr = sample_frames(
                video_path, start=node.start, end=node.end, middle=True, size=c.caption_short_side, threads=1
            )
        else:
            fr = sample_frames(
                video_path, start=node.start, end=node.end, num_frames=c.caption_frames,
                size=c.caption_short_side, threads=1,
            )  # fmt: skip
        times = [round(float(t), 2) for t in fr.timestamps + fr.clip_start]
        content: list[dict[str, Any]] = []
        for img, t in zip(fr.frames, times):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=85)
            if not leaf:
                content.append({"type": "text", "text": f"{t:.1f}s"})
            url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            content.append({"type": "image_url", "image_url": {"url": url}})
        content.append({"type": "text", "text": IMAGE_PROMPT if leaf else VIDEO_PROMPT})
        return [{"role": "user", "content": content}], times

    def _captions(
        self, video: VideoRow, nodes: list[Node], fp: str, folder: Path, notes: Counter
    ) -> dict[str, str]:
        """A caption per node; each appended to ``captions.jsonl`` as it arrives (a rerun asks
        only for the missing ones)."""
        path = folder / "captions.jsonl"
        done: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line of a killed run
                if rec.get("fingerprint") == fp:
                    done[rec["node_id"]] = rec["caption"]
        parents = {n.parent_id for n in nodes}
        todo = [n for n in nodes if n.node_id not in done]
        notes["labeler:captions_reused"] += len(nodes) - len(todo)
        if not todo:
            return done
        client = self._vlm_client()
        params: dict[str, Any] = {
            "model": self.vlm.model,
            "temperature": self.vlm.temperature,
            "max_tokens": self.vlm.max_tokens,
            **self.vlm.extra_body,
        }
        lock = threading.Lock()
        assert video.path is not None

        def one(node: Node) -> None:
            leaf = node.node_id not in parents
            messages, times = self._caption_request(video.path, node, leaf)
            reply = client.complete(messages, params)
            rec = {
                "fingerprint": fp,
                "node_id": node.node_id,
                "kind": "frame" if leaf else "segment",
                "prompt": IMAGE_PROMPT if leaf else VIDEO_PROMPT,
                "frame_times": times,
                "caption": reply.content.strip(),
                "model": reply.model,
                "usage": reply.usage,
                "seconds": round(reply.seconds, 3),
            }
            with lock:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                done[node.node_id] = rec["caption"]

        try:
            with ThreadPoolExecutor(max_workers=self.config.caption_concurrency) as pool:
                for fut in [pool.submit(one, n) for n in todo]:
                    fut.result()
        except ChatError as e:
            raise LocalizeError(
                f"captioning failed ({len(done)}/{len(nodes)} nodes captioned, kept): {e}"
            ) from e
        notes["labeler:captions_requested"] += len(todo)
        return done

    def _aggregate(
        self, video: VideoRow, duration: float, nodes: list[Node], captions: dict[str, str], fp: str,
        folder: Path, notes: Counter,
    ) -> dict[str, dict[str, Any]]:  # fmt: skip
        """One conversation: draft, corrections, self-refinement; ``gpt`` fields per node id."""
        c = self.config
        labels = {n.node_id: f"S{i + 1}" for i, n in enumerate(nodes)}  # nodes are in depth-first order
        by_label = {v: k for k, v in labels.items()}
        wanted = [n for n in nodes if n.end - n.start >= c.annotate_min_seconds]
        if not wanted:
            return {}
        want = [labels[n.node_id] for n in wanted]
        prompt = aggregation_prompt(
            video, duration, nodes, labels, captions, wanted, self.action_names(video.domain)
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ]
        params: dict[str, Any] = {"model": c.llm_model or self.vlm.model, "max_tokens": c.llm_max_tokens}
        if c.llm_temperature is not None:
            params["temperature"] = c.llm_temperature
        params.update(c.llm_extra_body)
        client = self._llm_client()
        log_rounds: list[dict[str, Any]] = []
        conversation = folder / "aggregation.json"

        def save(result: dict[str, Any] | None) -> None:
            atomic_write_json(
                conversation,
                {
                    "fingerprint": fp,
                    "video_id": video.video_id,
                    "params": params,
                    "labels": labels,
                    "rounds": log_rounds,
                    "messages": messages,
                    "result": result,
                },
            )

        best: dict[str, dict[str, Any]] | None = None
        for rnd in range(c.refine_rounds + 1):
            if rnd > 0:
                messages.append({"role": "user", "content": REFINE_PROMPT})
            for attempt in range(c.max_corrections + 1):
                try:
                    reply = client.complete(messages, params)
                except ChatError as e:
                    save(None)
                    raise LocalizeError(f"aggregation failed: {e}") from e
                messages.append({"role": "assistant", "content": reply.content})
                fields, problems = check_aggregation(reply.content, want)
                log_rounds.append(
                    {
                        "round": rnd,
                        "kind": "draft" if rnd == 0 else "refine",
                        "attempt": attempt,
                        "problems": problems,
                        "finish_reason": reply.finish_reason,
                        "reasoning": reply.reasoning,
                        "usage": reply.usage,
                        "seconds": round(reply.seconds, 3),
                    }
                )
                if not problems:
                    best = fields
                    break
                notes["labeler:corrections"] += 1
                if attempt < c.max_corrections:
                    messages.append({"role": "user", "content": _correction(problems)})
            else:
                save(None if best is None else {by_label[k]: v for k, v in best.items()})
                if best is None:
                    raise LocalizeError(
                        f"aggregation: no valid reply after {c.max_corrections} correction(s): {'; '.join(problems)[:400]}"
                    )
                notes["labeler:refine_failed"] += 1
                break
        assert best is not None
        result = {by_label[k]: v for k, v in best.items()}
        save(result)
        return result

    # ------------------------------------------------------------------ the localizer

    def label(self, video: VideoRow, duration: float, notes: Counter | None = None) -> Row:
        """The video's Action100M row (tree, captions, aggregated fields), from the cache when
        it holds one for the same settings."""
        notes = notes if notes is not None else Counter()
        if video.path is None:
            raise LocalizeError("no local video file")
        fp = self.fingerprint(video.domain)
        folder = self.video_dir(video.video_id)
        folder.mkdir(parents=True, exist_ok=True)
        row_path = folder / "row.json"
        if row_path.exists():
            data = json.loads(row_path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == fp:
                row, problems = parse_row(data, str(row_path), 1)
                if row is not None:
                    notes["labeler:videos_reused"] += 1
                    return row
                log.warning("%s: relabeling, the saved row is broken: %s", row_path, problems[0])
        nodes = self._tree(video, duration, fp, folder)
        if not nodes:
            raise LocalizeError("no frames to segment")
        captions = self._captions(video, nodes, fp, folder, notes)
        fields = self._aggregate(video, duration, nodes, captions, fp, folder, notes)
        parents = {n.parent_id for n in nodes}
        full = [
            Node(
                n.node_id, n.parent_id, n.level, n.start, n.end, fields.get(n.node_id),
                plm_caption=captions.get(n.node_id) if n.node_id in parents else None,
                llama3_caption=captions.get(n.node_id) if n.node_id not in parents else None,
            )
            for n in nodes
        ]  # fmt: skip
        row = Row(
            video_uid=video.video_id, title=video.title, nodes=full, duration=round(duration, 3),
            upload_date=video.upload_date,
        )  # fmt: skip
        atomic_write_json(row_path, {**row_to_dict(row), "fingerprint": fp})  # a row, plus its key
        notes["labeler:videos_labeled"] += 1
        return row

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        notes: Counter = Counter()
        row = self.label(video, duration, notes)
        matcher = ActionMatcher(list(self.action_names(video.domain)))
        wins, na = window_nodes(row.nodes, self.segments.level), 0
        if not self.segments.keep_na:
            wins, na = without_na(wins)
        windows, drops = clean_windows([(n.start, n.end) for n in wins], duration, self.policy)
        if na:
            drops["dropped:not_an_action"] += na
        drops.update(notes)
        return LocalizeResult(
            windows, drops, segments=annotated_segments(row.nodes, matcher, self.segments.text)
        )

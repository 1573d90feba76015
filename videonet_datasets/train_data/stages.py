"""The pipeline's stage functions, shared by the local runner and the Ray engine.

Stages and what flows between them (paths and small JSON records, never frames):

1. :func:`observe_video` (per video, expensive) - probe the file, localize windows,
   transcribe speech with word times.  Speech is skipped for a video with no window:
   no filter can label anything in it.  Failures are recorded in the observation with the
   stage and the reason.
2. :func:`label_observations` (all videos, cheap) - match action names in titles and
   transcripts and apply the three filters; one candidate row per (window, filter label).
3. :func:`cut_clip` (per labeled clip) - trim the window once into the shared clip pool
   with the project's ``trim_clip`` (re-encoded, short GOP, silent).
4. :func:`finish_rows` - the 3 QA pairs and the output schema.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from videonet_datasets.train_data.action100m_ingest import AnnotationLocalizer
from videonet_datasets.train_data.caption_tree import CaptionTreeLocalizer
from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.filters import (
    ALL_FILTERS,
    SEGMENT_ACTION_MATCH,
    Mention,
    apply_filters,
    segment_action_labels,
)
from videonet_datasets.train_data.localize import (
    LocalizeError,
    Localizer,
    ProposalLocalizer,
    VLMLocalizer,
    WindowsFileLocalizer,
)
from videonet_datasets.train_data.manifest import Taxonomy, VideoRow
from videonet_datasets.train_data.match import ActionMatcher
from videonet_datasets.train_data.qa import make_qa
from videonet_datasets.train_data.transcribe import Transcriber, Transcript, asr_prompt, load_transcriber
from videonet_datasets.video import VideoDecodeError, probe_video, trim_clip

__all__ = [
    "PerceptionContext",
    "clip_uid",
    "cut_clip",
    "finish_rows",
    "label_observations",
    "observe_localize",
    "observe_speech",
    "observe_video",
]

log = logging.getLogger(__name__)


class PerceptionContext:
    """The models one worker needs, built on first use (a worker that never transcribes
    never loads Whisper)."""

    def __init__(self, settings: BuildConfig, names_by_domain: dict[str, list[str]], asr_threads: int = 0):
        self.settings = settings
        self.names_by_domain = names_by_domain
        self.asr_threads = asr_threads
        self._localizer: Localizer | None = None
        self._transcriber: Transcriber | None = None

    @property
    def localizer(self) -> Localizer:
        if self._localizer is None:
            s = self.settings
            if s.source == "action100m":
                self._localizer = AnnotationLocalizer(s.work, s.window_policy)
            elif s.localizer == "action100m":
                assert s.vlm is not None
                self._localizer = CaptionTreeLocalizer(
                    s.vlm,
                    s.caption_tree,
                    s.segments,
                    lambda d: self.names_by_domain.get(d, []),
                    s.window_policy,
                    cache_dir=s.work / "caption_tree",
                )
            elif s.localizer == "vlm":
                assert s.vlm is not None
                self._localizer = VLMLocalizer(
                    s.vlm, lambda d: self.names_by_domain.get(d, []), s.window_policy
                )
            elif s.localizer == "windows-file":
                assert s.windows_file is not None
                self._localizer = WindowsFileLocalizer(s.windows_file, s.window_policy)
            else:
                self._localizer = ProposalLocalizer(s.proposals, s.window_policy)
        return self._localizer

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            a = self.settings.asr
            self._transcriber = load_transcriber(
                a.backend,
                a.model,
                device=a.device,
                compute_type=a.compute_type,
                cpu_threads=self.asr_threads,
                beam_size=a.beam_size,
                language=a.language,
                prompt_mode=a.prompt_mode,
                vad_filter=a.vad_filter,
                batch_size=a.batch_size,
            )
        return self._transcriber


def _failed(rec: dict[str, Any], stage: str, reason: str) -> dict[str, Any]:
    rec["status"] = "failed"
    rec["failure"] = {"stage": stage, "reason": reason}
    return rec


def observe_localize(row: VideoRow, ctx: PerceptionContext) -> dict[str, Any]:
    """Probe and localize one video into a JSON-able observation record."""
    rec: dict[str, Any] = {
        "video_id": row.video_id,
        "domain": row.domain,
        "title": row.title,
        "path": row.path,
        "line": row.line,
        "status": "ok",
        "failure": None,
        "duration": None,
        "windows": [],
        "window_notes": {},
        "transcript": None,
        "timing": {},
    }
    if not row.path:
        return _failed(rec, "input", "no local video file" + (" (URL not downloaded)" if row.url else ""))
    t0 = time.perf_counter()
    try:
        info = probe_video(row.path, decode_check=True)
    except FileNotFoundError:
        return _failed(rec, "probe", "video file not found")
    except VideoDecodeError as e:
        return _failed(rec, "probe", f"cannot decode video: {e.reason}")
    duration = info.duration  # windows are on the player's timeline: [0, duration]
    rec["duration"] = round(duration, 3)
    t1 = time.perf_counter()
    try:
        res = ctx.localizer.localize(row, duration)
    except LocalizeError as e:
        return _failed(rec, "localize", str(e))
    except Exception as e:  # one odd file must not stop a crawl-sized run; counted and reported
        log.debug("localize %s: %s", row.video_id, traceback.format_exc())
        return _failed(rec, "localize", f"{type(e).__name__}: {e}")
    rec["windows"] = [[s, e] for s, e in res.windows]
    rec["window_notes"] = dict(res.drops)
    if res.segments is not None:
        rec["segments"] = res.segments
    if res.transcript is not None:
        rec["transcript"] = res.transcript
    rec["localize_attempts"] = res.attempts
    rec["timing"] = {"probe": round(t1 - t0, 3), "localize": round(time.perf_counter() - t1, 3)}
    return rec


def observe_speech(rec: dict[str, Any], ctx: PerceptionContext) -> dict[str, Any]:
    """Add word-timed speech to a localized record (skipped when no filter could use it:
    failed videos, videos without a window, and videos whose speech came with them)."""
    if rec["status"] != "ok" or not rec["windows"] or rec.get("transcript") is not None:
        return rec
    t0 = time.perf_counter()
    try:
        prompt = asr_prompt(rec["domain"], ctx.names_by_domain.get(rec["domain"], []))
        tr = ctx.transcriber.transcribe(rec["path"], prompt)
    except Exception as e:
        log.debug("transcribe %s: %s", rec["video_id"], traceback.format_exc())
        return _failed(rec, "transcribe", f"{type(e).__name__}: {e}")
    rec["transcript"] = tr.to_dict()
    rec["timing"]["asr"] = round(time.perf_counter() - t0, 3)
    return rec


def observe_video(row: VideoRow, ctx: PerceptionContext) -> dict[str, Any]:
    """Probe, localize and transcribe one video (phase A for one video)."""
    return observe_speech(observe_localize(row, ctx), ctx)


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def clip_uid(video_id: str, start: float, end: float) -> str:
    """A readable, filesystem-safe, deterministic id for a window of a video."""
    safe = _UNSAFE.sub("_", video_id)
    if safe != video_id or len(safe) > 64:
        safe = safe[:48] + "_" + hashlib.sha1(video_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{round(start * 1000):08d}-{round(end * 1000):08d}"


def label_observations(
    observations: Iterable[dict[str, Any]], taxonomy: Taxonomy, T: float
) -> tuple[dict[str, list[dict[str, Any]]], Counter]:
    """Candidate rows per filter (before balancing) and the labeling counters."""
    matchers: dict[str, ActionMatcher] = {}
    rows: dict[str, list[dict[str, Any]]] = {f: [] for f in ALL_FILTERS}
    counts: Counter = Counter()
    for obs in observations:
        if obs["status"] != "ok" or not obs["windows"]:
            continue
        m = matchers.get(obs["domain"]) or matchers.setdefault(
            obs["domain"], ActionMatcher(taxonomy.names_of(obs["domain"]))
        )
        title_actions = m.actions_in(obs["title"] or "")
        tr = Transcript.from_dict(obs["transcript"]) if obs.get("transcript") else None
        words = tr.words if tr else []
        texts = [w.text for w in words]
        spoken = [Mention(m.names[x.action], words[x.first].start) for x in m.find_in_words(texts)]
        counts["speech:action_mentions"] += len(spoken)
        windows = [tuple(w) for w in obs["windows"]]
        labels = apply_filters(windows, spoken, title_actions, T=T)
        counts.update(labels.drops)
        if obs.get("segments") is not None:
            seg_labels, seg_drops = segment_action_labels(windows, obs["segments"], T=T)
            counts.update(seg_drops)
            for w, label in zip(labels.windows, seg_labels):
                if label is not None:
                    w.labels[SEGMENT_ACTION_MATCH] = label
        starts = [w.start for w in words]
        for w in labels.windows:
            if not w.labels:
                continue
            lo, hi = bisect.bisect_left(starts, w.start - T), bisect.bisect_right(starts, w.end + T)
            speech = " ".join(t.strip() for t in texts[lo:hi])
            uid = clip_uid(obs["video_id"], w.start, w.end)
            for f, action in w.labels.items():
                rows[f].append(
                    {
                        "clip_uid": uid,
                        "source_video_id": obs["video_id"],
                        "source_path": obs["path"],
                        "source_start": w.start,
                        "source_end": w.end,
                        "domain": obs["domain"],
                        "category": taxonomy.category_of(obs["domain"]),
                        "action": action,
                        "filter": f,
                        "title": obs["title"] or "",
                        "speech": speech,
                    }
                )
    for f in ALL_FILTERS:
        counts[f"{f}:labeled"] = len(rows[f])
    return rows, counts


def clip_path(out: Path, uid: str) -> Path:
    return out / "videos" / f"{uid}.mp4"


def cut_clip(task: dict[str, Any]) -> dict[str, Any]:
    """Trim one clip into the pool (skipped when the file exists: writes are atomic, so an
    existing file is complete).  Returns ``{"clip_uid", "ok", "error", "seconds", "cut"}``."""
    dst = Path(task["dst"])
    out = {"clip_uid": task["clip_uid"], "ok": True, "error": None, "seconds": 0.0, "cut": False}
    if dst.exists():
        return out
    t0 = time.perf_counter()
    try:
        trim_clip(
            task["src"],
            dst,
            task["start"],
            task["end"],
            crf=task.get("crf", 20),
            short_side=task.get("short_side"),
            threads=task.get("threads", 1),
        )
        out["cut"] = True
    except (FileNotFoundError, VideoDecodeError, ValueError) as e:
        out.update(ok=False, error=f"{type(e).__name__}: {e}")
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def finish_rows(rows: list[dict[str, Any]], taxonomy: Taxonomy, seed: int) -> list[dict[str, Any]]:
    """Output-schema rows with their 3 QA pairs."""
    out = []
    for r in rows:
        action = taxonomy.action(r["domain"], r["action"])
        out.append(
            {
                "clip_uid": r["clip_uid"],
                "video": f"videos/{r['clip_uid']}.mp4",
                "duration": round(r["source_end"] - r["source_start"], 3),
                "source_video_id": r["source_video_id"],
                "source_start": r["source_start"],
                "source_end": r["source_end"],
                "category": r["category"],
                "domain": r["domain"],
                "action": r["action"],
                "filter": r["filter"],
                "title": r["title"],
                "qa": make_qa(action, taxonomy.actions_of(r["domain"]), clip_uid=r["clip_uid"], seed=seed),
            }
        )
    return out

"""Localizers: where in a video does *some* action of the domain happen?

The paper asks Gemini 2.5 Flash for the start and end of every clip of a domain's
actions: it localizes well even where it cannot name the action (§4.1).  Labels come
later, from the title and the transcript (``filters.py``).  Three localizers share one
interface (``localize(video, duration) -> LocalizeResult``):

* :class:`VLMLocalizer` - any OpenAI-compatible chat-completions server (``vllm serve``
  of an open VLM, or a hosted provider).  The video goes as a base64 ``video_url``, as a
  ``file://`` URL (vLLM with ``--allowed-local-media-path``: paths, not bytes), or as
  timestamped frames from the project's sampler (servers without video input).  Replies
  are parsed leniently (code fences, ``[[s, e]]`` or ``{"clips": [{"start", "end"}]}``,
  "mm:ss" times), windows are clamped to the video and merged; transient failures are
  retried with exponential backoff, and a video whose localization finally fails is
  recorded with the reason - never silently skipped.
* :class:`ProposalLocalizer` - the offline default.  It proposes windows from shot cuts
  (PySceneDetect's histogram detector) and, inside each shot, Ward clustering with
  temporal connectivity over cheap frame features (Action100M's segmentation recipe),
  then drops windows with no motion.  **It proposes candidate windows; it does not
  detect actions** - its windows are shots and motion segments, which is why it is a
  stand-in for a VLM, not a substitute.
* :class:`WindowsFileLocalizer` - windows computed elsewhere (JSONL, one video per line),
  e.g. a cluster's batch VLM job, or VideoNet-mini's ground truth as an oracle.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videonet_datasets.train_data.config import ProposalConfig, VLMConfig, WindowPolicy
from videonet_datasets.train_data.manifest import VideoRow
from videonet_datasets.video import sample_frames

__all__ = [
    "LocalizeError",
    "LocalizeResult",
    "Localizer",
    "ProposalLocalizer",
    "VLMConfig",
    "VLMLocalizer",
    "WindowPolicy",
    "WindowsFileLocalizer",
    "clean_windows",
    "json_candidates",
    "localization_prompt",
    "parse_windows",
    "smooth3",
    "strip_reasoning",
    "thumbnails",
]

log = logging.getLogger(__name__)

Window = tuple[float, float]


class LocalizeError(RuntimeError):
    """Localization of one video failed for good (after retries); the message says why."""


@dataclass
class LocalizeResult:
    windows: list[Window]
    drops: Counter = field(default_factory=Counter)  # "dropped:<reason>" / "fixed:<repair>" counts
    attempts: int = 1
    # Annotated segments ({node_id, start, end, actions, na, brief}) for ``segment_action_match``,
    # from localizers that describe what they found (Action100M rows, the caption-tree labeler).
    segments: list[dict[str, Any]] | None = None
    # Speech that came with the video (Action100M caption lines): no speech recognition then.
    transcript: dict[str, Any] | None = None


class Localizer:
    name = "base"

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        raise NotImplementedError


# ----------------------------------------------------------------------------- windows


def clean_windows(
    raw: Sequence[Sequence[float]], duration: float, policy: WindowPolicy
) -> tuple[list[Window], Counter]:
    """Clamp to ``[0, duration]``, merge overlapping (and near) windows, drop the too short
    and the too long.

    Returns the windows and a counter of what happened: ``dropped:<reason>`` for windows
    removed, ``fixed:<what>`` for windows kept after a repair (clamped, merged, reversed).
    Overlapping windows are one performance reported twice and are merged; windows that
    only touch are usually two performances back to back and stay apart unless
    ``policy.merge_gap`` > 0 asks to merge gaps up to that length.
    """
    notes: Counter = Counter()
    spans: list[Window] = []
    for w in raw:
        s, e = float(w[0]), float(w[1])
        if not (math.isfinite(s) and math.isfinite(e)):
            notes["dropped:not_a_number"] += 1
            continue
        if s > e:
            s, e = e, s
            notes["fixed:reversed"] += 1
        cs, ce = max(0.0, s), min(float(duration), e)
        if ce - cs <= 0:
            notes["dropped:outside_video"] += 1
            continue
        if (cs, ce) != (s, e):
            notes["fixed:clamped"] += 1
        spans.append((cs, ce))
    spans.sort()
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and (s < merged[-1][1] or (policy.merge_gap > 0 and s <= merged[-1][1] + policy.merge_gap)):
            merged[-1][1] = max(merged[-1][1], e)
            notes["fixed:merged"] += 1
        else:
            merged.append([s, e])
    out: list[Window] = []
    for s, e in merged:
        if e - s < policy.min_seconds:
            notes["dropped:too_short"] += 1
        elif e - s > policy.max_seconds:
            notes["dropped:too_long"] += 1
        else:
            out.append((round(s, 3), round(e, 3)))
    return out, notes


_TIME = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*$")


def _seconds(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"not a time: {v!r}")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip().rstrip("s").strip()
        m = _TIME.match(s)
        if m:
            h, mi, sec = m.groups()
            return int(h or 0) * 3600 + int(mi) * 60 + float(sec)
        return float(s)
    raise ValueError(f"not a time: {v!r}")


def strip_reasoning(text: str) -> str:
    text = re.sub(r"<(think|thinking|reasoning)>.*?</\1>", "", text, flags=re.S | re.I)
    return re.sub(r"^.*?</(think|thinking|reasoning)>", "", text, flags=re.S | re.I)


def json_candidates(text: str) -> list[str]:
    out = [m.group(1) for m in re.finditer(r"```(?:json)?\s*(.*?)```", text, flags=re.S | re.I)]
    for open_c, close_c in (("{", "}"), ("[", "]")):
        i, j = text.find(open_c), text.rfind(close_c)
        if 0 <= i < j:
            out.append(text[i : j + 1])
    out.append(text)
    return out


def parse_windows(reply: str) -> list[Window]:
    """Windows from a model's reply; raises ``ValueError`` when it holds no readable list.

    Accepts ``{"clips": [...]}`` (also ``windows``/``segments``/``actions``), a bare list,
    items as ``{"start", "end"}`` (also ``start_time``/``end_time``, ``from``/``to``) or
    ``[start, end]``, times as seconds, numeric strings, "12.5s" or "mm:ss(.f)".  An empty
    list is a valid answer (no action in the video).
    """
    text = strip_reasoning(reply or "").strip()
    if not text:
        raise ValueError("empty reply")
    last_err: Exception | None = None
    for cand in json_candidates(text):
        try:
            data = json.loads(cand)
        except json.JSONDecodeError as e:
            last_err = e
            continue
        try:
            return _windows_from_json(data)
        except (ValueError, TypeError, KeyError) as e:
            last_err = e
    raise ValueError(f"no list of windows in the reply ({last_err}): {text[:200]!r}")


def _windows_from_json(data: Any) -> list[Window]:
    if isinstance(data, dict):
        for k in ("clips", "windows", "segments", "actions", "intervals", "timestamps"):
            if k in data:
                data = data[k]
                break
        else:
            if any(k in data for k in ("start", "start_time")):
                data = [data]
            else:
                raise ValueError(f"object without a clips list (keys: {sorted(data)})")
    if not isinstance(data, list):
        raise ValueError(f"expected a list of windows, got {type(data).__name__}")
    out = []
    for item in data:
        if isinstance(item, dict):
            s = next((item[k] for k in ("start", "start_time", "from", "begin") if k in item), None)
            e = next((item[k] for k in ("end", "end_time", "to", "stop") if k in item), None)
            if s is None or e is None:
                raise ValueError(f"window without start/end: {item!r}")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            s, e = item
        else:
            raise ValueError(f"not a window: {item!r}")
        out.append((_seconds(s), _seconds(e)))
    return out


# ----------------------------------------------------------------------------- VLM

SYSTEM_PROMPT = (
    "You are a precise video annotator. You find when actions happen in a video and report "
    "start and end times in seconds. You answer with JSON only."
)


def localization_prompt(domain: str, action_names: Sequence[str], duration: float) -> str:
    """The localization request (modelled on the paper's: "provide start and end timestamps
    for each clip in a video where a skateboarding action occurs").  The action names are
    examples of the domain's vocabulary; the model is asked to localize, not to label."""
    examples = ", ".join(action_names[:40])
    return (
        f"This video is {duration:.1f} seconds long. Find every clip in which a {domain} action is "
        f"performed (for example: {examples}). Give the start and end time in seconds of each clip; "
        "one clip per action performance; do not name the actions. Leave out intros, talking, "
        "replays of the same performance, and anything that is not a "
        f"{domain} action. Reply with only JSON of the form "
        '{"clips": [{"start": 12.0, "end": 15.5}]}, or {"clips": []} if there is none.'
    )


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class VLMLocalizer(Localizer):
    """Localization by a VLM behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    name = "vlm"

    def __init__(
        self,
        config: VLMConfig,
        action_names: Callable[[str], Sequence[str]],
        policy: WindowPolicy = WindowPolicy(),
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if config.transport not in ("base64", "file", "frames"):
            raise ValueError(
                f"unknown VLM video transport {config.transport!r}; choose base64, file or frames"
            )
        self.config = config
        self.action_names = action_names
        self.policy = policy
        self._sleep = sleep
        self._client = None

    def _http(self):
        if self._client is None:
            import httpx

            key = (
                self.config.api_key
                or os.environ.get("VIDEONET_VLM_API_KEY")
                or os.environ.get("OPENAI_API_KEY")
            )
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            self._client = httpx.Client(timeout=self.config.timeout_seconds, headers=headers)
        return self._client

    def _video_content(self, path: str) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.transport == "file":
            return [{"type": "video_url", "video_url": {"url": Path(path).resolve().as_uri()}}]
        if cfg.transport == "base64":
            size_mb = os.path.getsize(path) / 2**20
            if size_mb > cfg.max_video_mb:
                raise LocalizeError(
                    f"video is {size_mb:.1f} MB, over the {cfg.max_video_mb:g} MB base64 limit "
                    "(use transport 'file' with a local vLLM server, or 'frames')"
                )
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            return [{"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{data}"}}]
        from PIL import Image

        fr = sample_frames(
            path, fps=cfg.frames_fps, max_frames=cfg.frames_max, size=cfg.frame_short_side, threads=1
        )
        content: list[dict[str, Any]] = []
        for img, t in zip(fr.frames, fr.timestamps + fr.clip_start):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=85)
            url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            content.append({"type": "text", "text": f"{t:.1f}s"})
            content.append({"type": "image_url", "image_url": {"url": url}})
        return content

    def request_body(self, video: VideoRow, duration: float) -> dict[str, Any]:
        assert video.path is not None
        prompt = localization_prompt(video.domain, list(self.action_names(video.domain)), duration)
        user = [*self._video_content(video.path), {"type": "text", "text": prompt}]
        body = {
            "model": self.config.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        body.update(self.config.extra_body)
        return body

    def _post(self, body: dict[str, Any]) -> str:
        import httpx

        url = self.config.base_url.rstrip("/") + "/chat/completions"
        try:
            r = self._http().post(url, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as e:
            raise _Retryable(f"{type(e).__name__}: {e}") from e
        if r.status_code == 429 or r.status_code >= 500:
            ra = r.headers.get("retry-after")
            try:
                retry_after = float(ra) if ra else None
            except ValueError:
                retry_after = None
            raise _Retryable(f"HTTP {r.status_code}: {r.text[:200]}", retry_after)
        if r.status_code >= 400:
            raise LocalizeError(f"HTTP {r.status_code} from {url}: {r.text[:300]}")
        try:
            msg = r.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise _Retryable(f"response is not a chat completion: {r.text[:200]!r}") from e
        content = msg.get("content")
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content or ""

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        body = self.request_body(video, duration)
        cfg = self.config
        errors: list[str] = []
        for attempt in range(1, cfg.max_attempts + 1):
            retry_after = None
            try:
                reply = self._post(body)
                try:
                    raw = parse_windows(reply)
                except ValueError as e:
                    raise _Retryable(f"malformed reply: {e}") from e
                windows, drops = clean_windows(raw, duration, self.policy)
                return LocalizeResult(windows, drops, attempts=attempt)
            except _Retryable as e:
                errors.append(f"attempt {attempt}: {e}")
                retry_after = e.retry_after
            if attempt < cfg.max_attempts:
                delay = min(cfg.backoff_max_seconds, cfg.backoff_seconds * 2 ** (attempt - 1))
                if retry_after is not None:
                    delay = min(cfg.backoff_max_seconds, max(delay, retry_after))
                log.debug("%s: retrying localization in %.1fs (%s)", video.video_id, delay, errors[-1])
                self._sleep(delay)
        raise LocalizeError(f"localization failed after {cfg.max_attempts} attempts: " + " | ".join(errors))


# ----------------------------------------------------------------------------- offline proposals


class ProposalLocalizer(Localizer):
    """Offline window *proposals*, not an action detector.

    1. shot cuts: PySceneDetect's histogram detector on the sampler's frames, plus a jump in
       a colour thumbnail (a cut between two scenes of equal brightness);
    2. inside each shot, runs of *movement* (smoothed frame-difference energy above a floor
       and above a fraction of the video's typical motion; short pauses bridged);
    3. runs longer than ``2 * segment_seconds`` are split by Ward clustering with temporal
       connectivity over appearance + motion features (Action100M's segmentation, at the
       level of about one segment per ``segment_seconds``).
    """

    name = "proposals"

    def __init__(self, config: ProposalConfig = ProposalConfig(), policy: WindowPolicy = WindowPolicy()):
        self.config = config
        self.policy = policy

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        assert video.path is not None
        cfg = self.config
        fr = sample_frames(video.path, fps=cfg.feature_fps, size=cfg.feature_short_side, threads=1)
        times = np.append(fr.timestamps + fr.clip_start, duration)  # times[i+1] ends frame i
        frames = fr.frames
        thumbs = thumbnails(frames)
        cuts = sorted(
            set(shot_cuts(frames, cfg.feature_fps, cfg.cut_threshold, cfg.min_shot_seconds))
            | set(_jump_cuts(thumbs, cfg.cut_jump))
        )
        motion = _motion(frames, cuts)
        still = max(
            cfg.motion_floor, cfg.motion_relative * float(np.percentile(motion, 90)) if len(motion) else 0.0
        )
        drops: Counter = Counter()
        raw: list[Window] = []
        bounds = [0, *cuts, len(frames)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            for s, e in _moving_runs(motion[a:b], still, round(cfg.fill_gap_seconds * cfg.feature_fps)):
                if e - s < 2:
                    drops["dropped:too_short"] += 1
                    continue
                for s2, e2 in ward_segments(
                    thumbs[a + s : a + e], motion[a + s : a + e], cfg.feature_fps, cfg.segment_seconds
                ):
                    raw.append((float(times[a + s + s2]), float(times[a + s + e2])))
            if not _moving_runs(motion[a:b], still, 0):
                drops["dropped:still_shot"] += 1
        windows, more = clean_windows(raw, duration, self.policy)
        drops.update(more)
        return LocalizeResult(windows, drops)


def shot_cuts(frames: np.ndarray, fps: float, threshold: float, min_shot_seconds: float) -> list[int]:
    """Frame indices that start a new shot (PySceneDetect's HistogramDetector on our frames)."""
    try:
        from scenedetect.common import FrameTimecode
        from scenedetect.detectors import HistogramDetector
    except ImportError as e:  # pragma: no cover - the 'localize' extra
        raise ImportError("offline proposals need PySceneDetect: pip install 'videonet[localize]'") from e
    det = HistogramDetector(threshold=threshold, min_scene_len=max(1, round(min_shot_seconds * fps)))
    cuts: list[int] = []
    for i, img in enumerate(frames):
        for tc in det.process_frame(FrameTimecode(i, fps=float(fps)), np.ascontiguousarray(img[..., ::-1])):
            cuts.append(int(tc.frame_num))
    return sorted(c for c in set(cuts) if 0 < c < len(frames))


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """4x4 colour thumbnails (block means), flattened, in [0, 1]."""
    n, h, w, _ = frames.shape
    hh, ww = h // 4 * 4, w // 4 * 4
    if hh == 0 or ww == 0:
        return frames.reshape(n, -1).astype(np.float32) / 255.0
    blocks = frames[:, :hh, :ww].reshape(n, 4, hh // 4, 4, ww // 4, 3).astype(np.float32).mean(axis=(2, 4))
    return blocks.reshape(n, -1) / 255.0


def _jump_cuts(thumbs: np.ndarray, jump: float) -> list[int]:
    if len(thumbs) < 2:
        return []
    d = np.abs(np.diff(thumbs, axis=0)).mean(axis=1)
    return [int(i) + 1 for i in np.nonzero(d > jump)[0]]


def _motion(frames: np.ndarray, cuts: Sequence[int]) -> np.ndarray:
    """Per-frame motion energy: mean |difference| to the previous frame in [0, 1]; a frame
    that starts a shot takes its successor's value (a cut is not motion)."""
    n = len(frames)
    if n < 2:
        return np.zeros(n)
    f = frames.astype(np.float32) / 255.0
    d = np.concatenate([[0.0], np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))])
    for i in [0, *cuts]:
        d[i] = d[i + 1] if i + 1 < n and (i + 1) not in cuts else 0.0
    return d


def smooth3(x: np.ndarray) -> np.ndarray:
    """3-frame moving average, edges repeated (a shot's last frame is not diluted by zeros)."""
    if len(x) < 3:
        return x
    return np.convolve(np.pad(x, 1, mode="edge"), np.ones(3) / 3, mode="valid")


def _moving_runs(motion: np.ndarray, still: float, fill: int) -> list[tuple[int, int]]:
    """[start, end) frame runs whose 3-frame-smoothed motion exceeds ``still``; pauses of
    at most ``fill`` frames inside a movement are bridged, and so is a gap of a frame or
    two between a movement and the shot's edge (a cut often lands mid-movement)."""
    if len(motion) == 0:
        return []
    active = smooth3(motion) > still
    runs: list[list[int]] = []
    for i, a in enumerate(active):
        if not a:
            continue
        if runs and i - runs[-1][1] <= fill:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    if runs and fill:
        edge = min(fill, 2)  # only a frame or two: a still lead-in is not part of the action
        if runs[0][0] <= edge:
            runs[0][0] = 0
        if len(motion) - runs[-1][1] <= edge:
            runs[-1][1] = len(motion)
    return [(s, e) for s, e in runs]


def ward_segments(
    thumbs: np.ndarray, motion: np.ndarray, fps: float, segment_seconds: float
) -> list[tuple[int, int]]:
    """Split one moving run into contiguous segments: Ward agglomerative clustering with a
    chain connectivity (each frame linked to its neighbours only - Action100M's recipe),
    cut at about one segment per ``segment_seconds``; runs shorter than twice that stay whole.
    Features: the colour thumbnail and the smoothed motion energy (scaled up so that a change
    of pace separates segments as much as a change of scene)."""
    n = len(thumbs)
    k = round(n / fps / segment_seconds)
    if k < 2 or n < 4:
        return [(0, n)]
    from scipy.sparse import diags
    from sklearn.cluster import AgglomerativeClustering

    feats = np.concatenate([thumbs, np.repeat(smooth3(motion)[:, None] * 10.0, 8, axis=1)], axis=1)
    conn = diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], shape=(n, n))
    labels = AgglomerativeClustering(n_clusters=k, linkage="ward", connectivity=conn).fit_predict(feats)
    out, start = [], 0
    for i in range(1, n):
        if labels[i] != labels[i - 1]:
            out.append((start, i))
            start = i
    out.append((start, n))
    return out


# ----------------------------------------------------------------------------- precomputed windows


class WindowsFileLocalizer(Localizer):
    """Windows read from a JSONL file: ``{"video_id": ..., "windows": [[s, e], ...]}`` per
    line (``"segments": [{"start", "end"}, ...]`` is accepted too, so VideoNet-mini's
    ground truth works as an oracle localizer).  A video missing from the file fails."""

    name = "windows-file"

    def __init__(self, path: str | os.PathLike, policy: WindowPolicy = WindowPolicy()):
        self.path = Path(path)
        self.policy = policy
        self._windows: dict[str, list[Window]] = {}
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    vid = str(d["video_id"])
                    items = d.get("windows", d.get("segments"))
                    if items is None:
                        raise KeyError("windows")
                    self._windows[vid] = _windows_from_json(items)
                except (ValueError, KeyError, TypeError) as e:
                    raise ValueError(f"{self.path}:{lineno}: not a windows record ({e})") from e

    def localize(self, video: VideoRow, duration: float) -> LocalizeResult:
        if video.video_id not in self._windows:
            raise LocalizeError(f"no windows for {video.video_id!r} in {self.path}")
        windows, drops = clean_windows(self._windows[video.video_id], duration, self.policy)
        return LocalizeResult(windows, drops)

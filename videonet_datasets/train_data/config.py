"""Everything a ``videonet build-train`` run is configured with, in one picklable object.

Split in two on purpose: *perception* settings (localizer, speech recognizer, window
rules) decide the expensive per-video observations that are cached in the work folder
shard by shard; *labeling* settings (T, seed, balancing, output) only change the cheap
second half and may differ between runs on the same work folder.  A resumed run whose
perception settings differ from the recorded ones is refused, because its shards would
mix two pipelines.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonet_datasets.config import setting
from videonet_datasets.fsutil import stable_hash
from videonet_datasets.train_data.balance import BalanceConfig
from videonet_datasets.train_data.filters import DEFAULT_T

__all__ = [
    "LOCALIZERS",
    "SEGMENT_TEXT_FIELDS",
    "SOURCES",
    "Action100MConfig",
    "AsrConfig",
    "BuildConfig",
    "CaptionTreeConfig",
    "ProposalConfig",
    "SegmentConfig",
    "VLMConfig",
    "WindowPolicy",
]

LOCALIZERS = ("proposals", "vlm", "windows-file", "action100m")
SOURCES = ("manifest", "action100m")
#: The fields of an Action100M node's ``gpt`` annotation that may make up its action text.
SEGMENT_TEXT_FIELDS = ("action.brief", "action.detailed", "action.actor", "summary.brief", "summary.detailed")


# ----------------------------------------------------------------------------- localizers


@dataclass(frozen=True)
class WindowPolicy:
    """What every localizer's windows must satisfy (seconds)."""

    # VideoNet's shortest verified clip is 0.26 s; the paper removes clips longer than 5 minutes.
    min_seconds: float = setting(
        0.25, "drop windows shorter than this (s)", flag="--min-window", group="localizer"
    )
    max_seconds: float = setting(
        300.0, "drop windows longer than this (s)", flag="--max-window", group="localizer"
    )
    merge_gap: float = setting(
        0.0,
        "merge windows closer than this (s; overlaps always merge)",
        flag="--merge-gap",
        group="localizer",
    )


@dataclass(frozen=True)
class ProposalConfig:
    feature_fps: float = 10.0  # frames analysed per second (decoding costs the same either way)
    feature_short_side: int = 32
    cut_threshold: float = 0.35  # HistogramDetector luma-histogram correlation (lower = fewer cuts)
    cut_jump: float = 0.12  # ... or a mean colour change of a thumbnail above this (hue-only cuts)
    min_shot_seconds: float = 0.5
    motion_floor: float = 0.002  # mean |frame difference| (0-1) that always counts as still
    motion_relative: float = 0.3  # ... and below this fraction of the video's 90th percentile
    fill_gap_seconds: float = 0.5  # still gaps shorter than this inside a movement are bridged
    segment_seconds: float = setting(
        6.0,
        "proposals: target segment length (moving runs longer than 2x this are split by Ward clustering)",
        flag="--segment-seconds",
        group="localizer",
    )


@dataclass(frozen=True)
class VLMConfig:
    base_url: str = setting(
        help="base URL, e.g. http://localhost:8000/v1 (vllm serve)", flag="--vlm-url", group="localizer"
    )
    model: str = setting(help="model name the server knows", flag="--vlm-model", group="localizer")
    api_key: str | None = None  # default: $VIDEONET_VLM_API_KEY, then $OPENAI_API_KEY
    transport: str = setting(
        "base64", "how clips reach the server", flag="--vlm-transport", group="localizer",
        choices=("base64", "file", "frames"),
    )  # fmt: skip
    frames_fps: float = 1.0
    frames_max: int = 64
    frame_short_side: int = 448
    max_video_mb: float = 64.0
    max_attempts: int = setting(4, "attempts per request", flag="--vlm-attempts", group="localizer")
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    timeout_seconds: float = setting(300.0, "seconds per request", flag="--vlm-timeout", group="localizer")
    temperature: float = 0.0
    max_tokens: int = 2048
    extra_body: dict[str, Any] = setting(
        {},
        'JSON merged into each request, e.g. \'{"mm_processor_kwargs": {"fps": 2}}\' for vLLM',
        flag="--vlm-extra-body",
        group="localizer",
    )


def _text_fields(text: str) -> tuple[str, ...]:
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in fields if f not in SEGMENT_TEXT_FIELDS]
    if bad or not fields:
        raise ValueError(f"--segment-text: {bad or text!r}: choose from {', '.join(SEGMENT_TEXT_FIELDS)}")
    return fields


@dataclass(frozen=True)
class SegmentConfig:
    """How a tree of annotated segments (Action100M's release, or the caption-tree labeler's output)
    becomes windows and segment labels; shared by both so their results compare."""

    level: int | None = setting(
        None,
        "tree level whose segments are the windows (default: the finest annotated segments - the annotated "
        "nodes with no annotated descendant)",
        flag="--segment-level", group="action100m",
    )  # fmt: skip
    text: tuple[str, ...] = setting(
        ("action.brief", "action.detailed"),
        "the annotation fields whose text names the segment's action (comma-separated; "
        + ", ".join(SEGMENT_TEXT_FIELDS) + ")",
        flag="--segment-text", group="action100m", parse=_text_fields, metavar="FIELD,...",
    )  # fmt: skip

    keep_na: bool = setting(
        False,
        'keep windows whose own annotation says no physical action happens ("N/A"; default: not candidates)',
        flag="--keep-na-windows", group="action100m", action="store_true",
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.level is not None and self.level < 0:
            raise ValueError(f"segment level must be >= 0, got {self.level}")
        _text_fields(",".join(self.text))


@dataclass(frozen=True)
class Action100MConfig:
    """``--source action100m``: Action100M rows (parquet / JSONL / JSON) as the input."""

    videos_dir: Path | None = setting(
        None,
        "folder of <video_uid>.<ext> files (default: a 'videos' folder beside the annotations, if any)",
        flag="--videos-dir", group="action100m",
    )  # fmt: skip
    download: bool = setting(
        True,
        "do not download videos missing from --videos-dir (they are counted as missing)",
        flag="--no-download", group="action100m", action="store_false",
    )  # fmt: skip
    url_template: str = "https://www.youtube.com/watch?v={video_uid}"
    domain: str | None = setting(
        None,
        "put every video in this domain (default: infer it from the title, description and action texts)",
        flag="--a100m-domain", group="action100m",
    )  # fmt: skip
    skip_invalid_rows: bool = setting(
        False,
        "leave out malformed rows (each counted and listed) instead of stopping with every problem listed",
        flag="--skip-invalid-rows", group="action100m", action="store_true",
    )  # fmt: skip


@dataclass(frozen=True)
class CaptionTreeConfig:
    """``--localizer action100m``: Action100M's labeling pipeline (paper §3) on any video.

    Hierarchical segmentation of frame embeddings (Ward linkage, each frame linked to its
    neighbours only), a caption per tree node from the VLM (``--vlm-url``), one aggregation
    conversation per video with the LLM (``--llm-url``, default: the VLM's endpoint) into the
    release's ``gpt`` fields, self-refined; then the windows and ``segment_action_match``."""

    encoder: str = setting(
        "thumbnails",
        "frame encoder of the segmentation: 'thumbnails' (offline: colour layout + motion energy) or a "
        "transformers image model (Hub id or folder, e.g. facebook/dinov2-small)",
        flag="--tree-encoder", group="caption_tree",
    )  # fmt: skip
    encoder_device: str = setting(
        "cpu", "device of a transformers encoder", flag="--tree-device", group="caption_tree"
    )
    feature_fps: float = setting(4.0, "frames embedded per second", flag="--tree-fps", group="caption_tree")
    feature_short_side: int = 32  # the thumbnail encoder's frames (a model's processor resizes itself)
    min_node_seconds: float = 0.5  # the paper keeps nodes longer than 0.5 s
    max_depth: int | None = setting(
        None,
        "deepest tree level kept and captioned (default: all)",
        flag="--tree-max-depth",
        group="caption_tree",
    )
    annotate_min_seconds: float = setting(
        4.0,
        "nodes at least this long get the LLM's action fields (the paper: 4 s)",
        flag="--annotate-min-seconds", group="caption_tree",
    )  # fmt: skip
    caption_frames: int = setting(
        8,
        "frames per segment caption (the paper's PLM-3B: 32)",
        flag="--caption-frames",
        group="caption_tree",
    )
    caption_short_side: int = 320  # the paper's 320 px
    caption_concurrency: int = setting(
        4, "caption requests in flight per video", flag="--caption-concurrency", group="caption_tree"
    )
    llm_url: str | None = setting(
        None, "aggregation LLM's base URL (default: --vlm-url)", flag="--llm-url", group="caption_tree"
    )
    llm_model: str | None = setting(
        None, "aggregation model (default: --vlm-model)", flag="--llm-model", group="caption_tree"
    )
    llm_api_key: str | None = None  # default: $VIDEONET_LLM_API_KEY, then the VLM's key
    llm_max_tokens: int = 16384
    llm_temperature: float | None = None  # None: the server's default (reasoning models reject it)
    llm_extra_body: dict[str, Any] = setting(
        {},
        'JSON merged into each aggregation request, e.g. \'{"reasoning_effort": "high"}\'',
        flag="--llm-extra-body", group="caption_tree",
    )  # fmt: skip
    refine_rounds: int = setting(
        2, "self-refine rounds after the first draft (the paper: 3 rounds in all)", flag="--refine-rounds",
        group="caption_tree",
    )  # fmt: skip
    max_corrections: int = setting(
        2, "corrections asked per round when a reply breaks the JSON structure", flag="--max-corrections",
        group="caption_tree",
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.feature_fps <= 0:
            raise ValueError(f"tree fps must be > 0, got {self.feature_fps}")
        if self.caption_frames < 1 or self.caption_concurrency < 1:
            raise ValueError("caption frames and concurrency must be >= 1")
        if self.refine_rounds < 0 or self.max_corrections < 0:
            raise ValueError("refine rounds and corrections must be >= 0")


# ----------------------------------------------------------------------------- speech and the build


@dataclass(frozen=True)
class AsrConfig:
    backend: str = setting(
        "auto", "speech recognizer (auto: WhisperX when installed, else faster-whisper)",
        flag="--asr-backend", group="speech", choices=("auto", "whisperx", "faster-whisper"),
    )  # fmt: skip
    model: str = setting(
        "tiny.en", "model directory or name (default tiny.en, offline)", flag="--asr-model", group="speech"
    )
    device: str = setting("cpu", "device of the recognizer", flag="--asr-device", group="speech")
    compute_type: str = setting("int8", "CTranslate2 compute type", flag="--asr-compute-type", group="speech")
    beam_size: int = setting(5, "beam size", flag="--asr-beam-size", group="speech")
    language: str | None = setting(
        None, "spoken language (default: detect)", flag="--asr-language", group="speech"
    )
    prompt_mode: str = setting(
        "hotwords", "how the domain's action names reach the decoder (default: hotwords)",
        flag="--asr-prompt", group="speech", choices=("hotwords", "initial_prompt", "both", "none"),
    )  # fmt: skip
    vad_filter: bool = setting(
        True,
        "do not skip non-speech with Silero VAD (VAD is on by default: without it Whisper repeats earlier "
        "words in silences and pulls first-word times to the segment start)",
        flag="--no-asr-vad", group="speech", action="store_false",
    )  # fmt: skip
    batch_size: int = 8  # WhisperX only


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of a build; the fields with a ``flag`` are ``videonet build-train``'s options
    (``config.add_flags``), and a ``--config FILE.yaml`` holds the same names (nested mappings for
    ``asr``, ``balance``, ``vlm``, ``proposals``, ``window_policy``, ``caption_tree``, ``segments``,
    ``action100m``)."""

    manifest: Path  # the input: a crawl manifest CSV, or Action100M rows with source="action100m"
    taxonomy: Path
    out: Path
    source: str = setting(
        "manifest",
        "what the input is: a crawl manifest (default), or Action100M rows (parquet file or folder, JSONL, "
        "JSON) whose tree of segments gives the windows and whose timed caption lines give the speech",
        flag="--source", group="inputs", choices=SOURCES,
    )  # fmt: skip
    work_dir: Path | None = setting(
        None, "resume state and caches (default OUT/.build)", flag="--work-dir", group="inputs"
    )
    ground_truth: Path | None = None
    # perception
    localizer: str = setting(
        "proposals",
        "proposals: offline shot/cluster window proposals (default; not an action detector); vlm: an "
        "OpenAI-compatible VLM server; windows-file: precomputed windows (JSONL); action100m: Action100M's "
        "caption-tree labeler (segmentation, VLM captions, LLM aggregation; see the caption-tree options)",
        flag="--localizer", group="localizer", choices=LOCALIZERS,
    )  # fmt: skip
    windows_file: Path | None = setting(
        None,
        "JSONL {video_id, windows: [[start, end], ...]} per line",
        flag="--windows-file",
        group="localizer",
    )
    vlm: VLMConfig | None = None
    proposals: ProposalConfig = setting(ProposalConfig())
    caption_tree: CaptionTreeConfig = setting(CaptionTreeConfig())
    segments: SegmentConfig = setting(SegmentConfig())
    action100m: Action100MConfig = setting(Action100MConfig())
    window_policy: WindowPolicy = setting(WindowPolicy())
    asr: AsrConfig = setting(AsrConfig())
    # download (URL manifests)
    download_dir: Path | None = setting(
        None,
        "where URL manifests are downloaded (default WORK_DIR/downloads)",
        flag="--download-dir",
        group="inputs",
    )
    download_min_interval: float = setting(
        1.0, "seconds between download starts", flag="--download-interval", group="inputs"
    )
    download_rate_limit: str | None = setting(
        None, "yt-dlp bandwidth limit, e.g. 2M (bytes/s)", flag="--download-rate-limit", group="inputs"
    )
    download_attempts: int = setting(3, "attempts per download", flag="--download-attempts", group="inputs")
    # labeling and output
    T: float = setting(DEFAULT_T, "seconds around a window a spoken name may be", flag="--T", group="labels")
    seed: int = setting(0, "seed of QA options and balancing", flag="--seed", group="labels")
    balance: BalanceConfig = setting(BalanceConfig())
    max_shard_mb: float = setting(
        256.0, "bound on a parquet shard's size", flag="--max-shard-mb", group="labels"
    )
    clip_short_side: int | None = setting(
        None, "downscale clips to this short side (pixels)", flag="--clip-short-side", group="labels"
    )
    clip_crf: int = setting(20, "x264 CRF of the cut clips", flag="--clip-crf", group="labels")
    # execution
    engine: str = setting(
        "local", "local processes or Ray Data", flag="--engine", group="execution", choices=("local", "ray")
    )
    workers: int = setting(0, "processes (default: one per core)", flag="--workers", group="execution")
    shard_size: int = setting(16, "videos per resumable shard", flag="--shard-size", group="execution")
    progress: bool = setting(
        True, "no progress bars", flag="--no-progress", group="execution", action="store_false"
    )
    ray_address: str | None = setting(
        None, "Ray cluster address (default: start a local Ray)", flag="--ray-address", group="execution"
    )
    ray_localize_gpus: float = setting(
        0.0, "GPUs per localize actor", flag="--ray-localize-gpus", group="execution"
    )
    ray_asr_gpus: float = setting(0.0, "GPUs per speech actor", flag="--ray-asr-gpus", group="execution")

    def __post_init__(self) -> None:
        if self.localizer not in LOCALIZERS:
            raise ValueError(f"unknown localizer {self.localizer!r}; choose one of {', '.join(LOCALIZERS)}")
        if self.localizer in ("vlm", "action100m") and self.vlm is None:
            raise ValueError(f"the {self.localizer!r} localizer needs --vlm-url and --vlm-model")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; choose one of {', '.join(SOURCES)}")
        if self.localizer == "windows-file" and self.windows_file is None:
            raise ValueError("the 'windows-file' localizer needs --windows-file")
        if self.engine not in ("local", "ray"):
            raise ValueError(f"unknown engine {self.engine!r}; choose local or ray")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        if self.T < 0:
            raise ValueError(f"T must be >= 0 seconds, got {self.T}")

    @property
    def work(self) -> Path:
        return self.work_dir or (self.out / ".build")

    @property
    def annotated(self) -> bool:
        """Whether observations carry annotated segments (and ``segment_action_match`` runs)."""
        return self.source == "action100m" or self.localizer == "action100m"

    def perception(self) -> dict[str, Any]:
        """The settings that decide the cached per-video observations."""
        if self.source == "action100m":  # windows, segments and speech come from the rows
            a = dataclasses.asdict(self.action100m)
            a.pop("videos_dir", None)  # where the files are does not change what is observed
            return {
                "source": "action100m",
                "action100m": a,
                "segments": dataclasses.asdict(self.segments),
                "window_policy": dataclasses.asdict(self.window_policy),
            }
        d: dict[str, Any] = {
            "localizer": self.localizer,
            "window_policy": dataclasses.asdict(self.window_policy),
            "asr": dataclasses.asdict(self.asr),
        }
        if self.localizer == "proposals":
            d["proposals"] = dataclasses.asdict(self.proposals)
        elif self.localizer in ("vlm", "action100m") and self.vlm is not None:
            v = dataclasses.asdict(self.vlm)
            v.pop("api_key", None)  # never written to disk
            for k in ("max_attempts", "backoff_seconds", "backoff_max_seconds", "timeout_seconds"):
                v.pop(k, None)  # how hard to try does not change the result
            d["vlm"] = v
            if self.localizer == "action100m":
                t = dataclasses.asdict(self.caption_tree)
                for k in ("llm_api_key", "caption_concurrency", "encoder_device"):
                    t.pop(k, None)
                d["caption_tree"] = t
                d["segments"] = dataclasses.asdict(self.segments)
        else:
            d["windows_file"] = str(self.windows_file)
        return d

    def perception_fingerprint(self) -> str:
        return f"{stable_hash(json.dumps(self.perception(), sort_keys=True, default=str)):016x}"

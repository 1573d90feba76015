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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.fsutil import stable_hash
from videonet_datasets.train_data.balance import BalanceConfig
from videonet_datasets.train_data.filters import DEFAULT_T
from videonet_datasets.train_data.localize import ProposalConfig, VLMConfig, WindowPolicy

__all__ = ["AsrSettings", "BuildSettings", "LOCALIZERS"]

LOCALIZERS = ("proposals", "vlm", "windows-file")


@dataclass(frozen=True)
class AsrSettings:
    backend: str = "auto"  # auto | whisperx | faster-whisper
    model: str = "tiny.en"
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    language: str | None = None
    prompt_mode: str = "hotwords"  # hotwords | initial_prompt | both | none
    vad_filter: bool = True  # Silero VAD: fewer hallucinations in silence, better first-word times
    batch_size: int = 8  # WhisperX only


@dataclass(frozen=True)
class BuildSettings:
    manifest: Path
    taxonomy: Path
    out: Path
    work_dir: Path | None = None
    ground_truth: Path | None = None
    # perception
    localizer: str = "proposals"
    windows_file: Path | None = None
    vlm: VLMConfig | None = None
    proposals: ProposalConfig = field(default_factory=ProposalConfig)
    window_policy: WindowPolicy = field(default_factory=WindowPolicy)
    asr: AsrSettings = field(default_factory=AsrSettings)
    # download (URL manifests)
    download_dir: Path | None = None
    download_min_interval: float = 1.0
    download_rate_limit: str | None = None
    download_attempts: int = 3
    # labeling and output
    T: float = DEFAULT_T
    seed: int = 0
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    max_shard_mb: float = 256.0
    clip_short_side: int | None = None
    clip_crf: int = 20
    # execution
    engine: str = "local"  # local | ray
    workers: int = 0  # 0 = one per core
    shard_size: int = 16  # videos per work shard
    progress: bool = True
    ray_address: str | None = None
    ray_localize_gpus: float = 0.0
    ray_asr_gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.localizer not in LOCALIZERS:
            raise ValueError(f"unknown localizer {self.localizer!r}; choose one of {', '.join(LOCALIZERS)}")
        if self.localizer == "vlm" and self.vlm is None:
            raise ValueError("the 'vlm' localizer needs --vlm-url and --vlm-model")
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

    def perception(self) -> dict[str, Any]:
        """The settings that decide the cached per-video observations."""
        d: dict[str, Any] = {
            "localizer": self.localizer,
            "window_policy": dataclasses.asdict(self.window_policy),
            "asr": dataclasses.asdict(self.asr),
        }
        if self.localizer == "proposals":
            d["proposals"] = dataclasses.asdict(self.proposals)
        elif self.localizer == "vlm" and self.vlm is not None:
            v = dataclasses.asdict(self.vlm)
            v.pop("api_key", None)  # never written to disk
            for k in ("max_attempts", "backoff_seconds", "backoff_max_seconds", "timeout_seconds"):
                v.pop(k, None)  # how hard to try does not change the result
            d["vlm"] = v
        else:
            d["windows_file"] = str(self.windows_file)
        return d

    def perception_fingerprint(self) -> str:
        return f"{stable_hash(json.dumps(self.perception(), sort_keys=True, default=str)):016x}"

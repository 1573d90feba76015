"""``videonet build-benchmark``: annotations -> a 🤗 dataset directory with every config.

The build runs in a staging directory next to the output and is swapped in only when
complete, so a reader of ``videonet/`` sees either the old or the new dataset, never a
mixture.  Trimmed clips are recorded in the staging directory as they finish (and are
reused from a previous complete build when their source window and encoding settings
match), so an interrupted build resumes without redoing finished clips.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets import __version__
from videonet_datasets.annotations import (
    ACTIONS_FILE,
    CLIPS_FILE,
    NEGATIVES_FILE,
    AnnotationError,
    AnnotationSet,
    Clip,
    validate_annotations,
)
from videonet_datasets.benchmark import stats
from videonet_datasets.benchmark.card import CardInputs, render_card
from videonet_datasets.benchmark.qa import build_question_sets, video_path
from videonet_datasets.benchmark.schema import ALL_CONFIGS, SPLITS, data_file
from videonet_datasets.benchmark.writer import write_config
from videonet_datasets.fsutil import atomic_write_json, atomic_write_text, file_fingerprint, swap_in_directory
from videonet_datasets.video import VideoDecodeError, trim_clip

log = logging.getLogger(__name__)

BUILD_INFO = "build_info.json"
TRIM_LOG = ".trimmed.jsonl"  # staging only: one line per finished clip


@dataclass
class TrimConfig:
    """Encoding settings of the clip pool; part of each clip's identity for reuse.

    ``keep_whole_clips``: a clip whose window is its whole video (``start`` 0, ``end``
    empty) is linked (or copied) into the pool byte for byte instead of re-encoded - for
    sources that already are trimmed clips, such as the official release's (the tables
    ``videonet import-release`` recovers).  Such clips keep their encoding and any audio
    track (the tasks give models silent copies).
    """

    crf: int = 20
    preset: str = "veryfast"
    gop_seconds: float = 1.0
    short_side: int | None = None
    keep_whole_clips: bool = False

    def key(self) -> dict[str, Any]:
        return {
            # 2: windows on the player's timeline, rotation written into the pixels (clips
            # cut by earlier versions from offset or rotated sources are cut again).
            "cut": 2,
            "crf": self.crf,
            "preset": self.preset,
            "gop_seconds": self.gop_seconds,
            "short_side": self.short_side,
        }

    def keeps(self, clip: Clip) -> bool:
        """Whether ``clip`` goes into the pool as is (see the class docstring)."""
        return self.keep_whole_clips and clip.start == 0 and clip.end is None


@dataclass
class BuildSummary:
    out_dir: Path
    rows: dict[str, dict[str, int]]
    videos_total: int
    videos_trimmed: int
    videos_reused: int
    bytes_videos: int
    bytes_data: int
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    videos_kept: int = 0  # linked/copied byte for byte (TrimConfig.keep_whole_clips)

    def format(self) -> str:
        lines = [f"Built {self.out_dir}"]
        for config, splits in self.rows.items():
            lines.append(f"  {config:<22}" + "  ".join(f"{s}={n:,}" for s, n in splits.items()))
        lines.append(
            f"  videos: {self.videos_total} ({self.videos_trimmed} trimmed now, "
            + (f"{self.videos_kept} kept byte for byte, " if self.videos_kept else "")
            + f"{self.videos_reused} reused), "
            f"{self.bytes_videos / 1e6:.1f} MB; data files {self.bytes_data / 1e3:.1f} kB"
        )
        if self.skipped:
            lines.append(f"  skipped ({len(self.skipped)}):")
            lines += [f"    - {s}" for s in self.skipped]
        else:
            lines.append("  skipped: nothing")
        if self.warnings:
            lines.append(f"  warnings ({len(self.warnings)}):")
            lines += [f"    - {w}" for w in self.warnings]
        return "\n".join(lines)


def _clip_record(clip: Clip, settings: TrimConfig) -> dict[str, Any]:
    # Content fingerprint, not path or mtime: deterministic across clones and machines,
    # and no local absolute path ends up in the published build_info.json.
    record = {
        "clip_id": clip.clip_id,
        "source": clip.video,
        "source_fingerprint": file_fingerprint(clip.path),
        "start": clip.start,
        "end": clip.resolved_end,
        **settings.key(),
    }
    if settings.keeps(clip):
        record = {**{k: v for k, v in record.items() if k not in settings.key()}, "kept": True}
    return record


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes ``src``'s bytes: a hard link on the same file system, else a copy."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _trim_one(clip_id: str, src: str, dst: str, start: float, end: float, settings: dict[str, Any]) -> str:
    trim_clip(
        src,
        dst,
        start,
        end,
        crf=settings["crf"],
        preset=settings["preset"],
        gop_seconds=settings["gop_seconds"],
        short_side=settings["short_side"],
        threads=1,  # one process per core decodes faster than threads per clip
    )
    return clip_id


def _read_records(path: Path) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from an interrupted run
            records[r["clip_id"]] = r
    return records


def _trim_pool(
    clips: list[Clip], staging: Path, previous: Path, settings: TrimConfig, workers: int, progress: bool
) -> tuple[int, int, int, list[str]]:
    """Fill ``staging/videos`` with every clip; returns (trimmed, kept as is, reused, failures)."""
    videos = staging / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    log_path = staging / TRIM_LOG
    done = _read_records(log_path)
    prev_info = {}
    if (previous / BUILD_INFO).exists():
        prev_info = json.loads((previous / BUILD_INFO).read_text()).get("clips", {})
    todo: list[Clip] = []
    reused = kept = 0
    with open(log_path, "a", encoding="utf-8") as logf:
        for clip in clips:
            rec = _clip_record(clip, settings)
            dst = staging / video_path(clip.clip_id)
            if done.get(clip.clip_id) == rec and dst.exists():
                reused += 1
                continue
            old = previous / video_path(clip.clip_id)
            if prev_info.get(clip.clip_id) == rec and old.exists():
                try:
                    os.link(old, dst)  # same file system: free
                except OSError:
                    shutil.copy2(old, dst)
                logf.write(json.dumps(rec) + "\n")
                reused += 1
                continue
            if settings.keeps(clip):
                _link_or_copy(clip.path, dst)  # byte for byte, never re-encoded
                logf.write(json.dumps(rec) + "\n")
                kept += 1
                continue
            todo.append(clip)
        failures: list[str] = []
        if todo:
            from tqdm.auto import tqdm

            with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {
                    pool.submit(
                        _trim_one,
                        c.clip_id,
                        str(c.path),
                        str(staging / video_path(c.clip_id)),
                        c.start,
                        float(c.resolved_end),  # type: ignore[arg-type]
                        settings.key(),
                    ): c
                    for c in todo
                }
                bar = tqdm(total=len(todo), desc="trimming clips", unit="clip", disable=not progress)
                for fut in as_completed(futures):
                    c = futures[fut]
                    try:
                        fut.result()
                    except (VideoDecodeError, FileNotFoundError, ValueError) as e:
                        failures.append(f"{CLIPS_FILE}:{c.line}: clip {c.clip_id!r}: {e}")
                    else:
                        # Recorded only after the file is complete (trim_clip renames atomically).
                        logf.write(json.dumps(_clip_record(c, settings)) + "\n")
                        logf.flush()
                    bar.update(1)
                bar.close()
    return len(todo) - len(failures), kept, reused, failures


def _load_valid(
    annotations: Path, skip_invalid_clips: bool, workers: int, progress: bool
) -> tuple[AnnotationSet, list[str], list[str]]:
    ann, problems = validate_annotations(
        annotations, skip_invalid_clips=skip_invalid_clips, workers=workers, progress=progress
    )
    if ann is None:
        raise AnnotationError(annotations, problems)
    skipped = [str(p) for p in problems if p.severity == "skipped"]
    warnings = [str(p) for p in problems if p.severity == "warning"]
    return ann, skipped, warnings


def build_benchmark(
    annotations: str | os.PathLike,
    out_dir: str | os.PathLike = "videonet",
    *,
    seed: int = 0,
    skip_invalid_clips: bool = False,
    settings: TrimConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
    pretty_name: str = "VideoNet",
    license: str = "other",
) -> BuildSummary:
    """Build every config of the benchmark from an annotation directory.

    Raises :class:`AnnotationError` (listing every problem) when the annotations are
    invalid, unless ``skip_invalid_clips`` - then invalid clips are left out and listed
    in the summary and the card.  Nothing is written to ``out_dir`` until the whole
    dataset is complete.
    """
    annotations = Path(annotations)
    out = Path(out_dir)
    settings = settings or TrimConfig()
    workers = workers or min(4, os.cpu_count() or 1)
    ann, skipped, warnings = _load_valid(annotations, skip_invalid_clips, workers, progress)
    warnings += stats.negative_usage_warnings(ann)

    staging = out.with_name(f".{out.name}.building")
    staging.mkdir(parents=True, exist_ok=True)
    trimmed, kept, reused, failures = _trim_pool(ann.clips, staging, out, settings, workers, progress)
    if failures:
        if not skip_invalid_clips:
            raise RuntimeError(
                "could not trim every clip (finished clips are kept; rerun to resume, or pass "
                "--skip-invalid-clips):\n  " + "\n  ".join(failures)
            )
        # Rebuild the question sets without the clips that failed.
        failed_ids = {f.split("clip ", 1)[1].split(":", 1)[0].strip("'") for f in failures}
        ann = AnnotationSet(
            root=ann.root,
            actions=ann.actions,
            negatives=ann.negatives,
            clips=[c for c in ann.clips if c.clip_id not in failed_ids],
            warnings=ann.warnings,
        )
        skipped += failures

    qs = build_question_sets(ann, seed)
    skipped += qs.skipped
    num_bytes: dict[tuple[str, str], int] = {}
    for config in ALL_CONFIGS:
        for split in SPLITS[config]:
            rows = qs.rows.get(config, {}).get(split)
            if rows is None:
                continue
            num_bytes[(config, split)] = write_config(rows, config, staging / data_file(config, split))

    # Drop pool entries no row uses (clips removed from the annotations since last time).
    used = {r["video"] for c in qs.rows.values() for s in c.values() for r in s}
    used |= {v for c in qs.rows.values() for s in c.values() for r in s for v in r.get("example_videos", [])}
    for f in (staging / "videos").glob("*.mp4"):
        if f"videos/{f.name}" not in used:
            f.unlink()

    ann_dir = staging / "annotations"
    ann_dir.mkdir(exist_ok=True)
    for name in (ACTIONS_FILE, NEGATIVES_FILE, CLIPS_FILE):
        shutil.copyfile(annotations / name, ann_dir / name)

    card = CardInputs(
        ann=ann,
        rows=qs.rows,
        num_bytes=num_bytes,
        seed=seed,
        pretty_name=pretty_name,
        license=license,
        load_path=out.name,
        skipped=skipped,
        warnings=warnings,
    )
    atomic_write_text(staging / "README.md", render_card(card))
    records = _read_records(staging / TRIM_LOG)
    atomic_write_json(
        staging / BUILD_INFO,
        {
            "tool": "videonet build-benchmark",
            "version": __version__,
            "seed": seed,
            "trim_settings": settings.key(),
            # Trimmed clips are silent; clips kept as is may carry audio (the tasks check).
            "clips_silent": not any(r.get("kept") for r in records.values()),
            "rows": {c: {s: len(r) for s, r in sp.items()} for c, sp in qs.rows.items()},
            "skipped": skipped,
            "warnings": warnings,
            # Reuse keys for the next build (absolute source paths stay out of the data files).
            "clips": {cid: r for cid, r in sorted(records.items()) if f"videos/{cid}.mp4" in used},
        },
    )
    (staging / TRIM_LOG).unlink()
    swap_in_directory(staging, out)

    pool = list((out / "videos").glob("*.mp4"))
    return BuildSummary(
        out_dir=out,
        rows={c: {s: len(r) for s, r in sp.items()} for c, sp in qs.rows.items()},
        videos_total=len(pool),
        videos_trimmed=trimmed,
        videos_kept=kept,
        videos_reused=reused,
        bytes_videos=sum(f.stat().st_size for f in pool),
        bytes_data=sum(num_bytes.values()),
        skipped=skipped,
        warnings=warnings,
    )

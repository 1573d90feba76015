"""Generating a VideoNet-mini world: plan, render in a process pool, write the tables.

The flow is plan (pure, seeded) -> jobs (one per video file) -> render/encode/narrate in
worker processes -> tables.  Resumable: after each video a line goes into
``OUT/.synth_done.jsonl`` with the hash of the job's spec (and of the code that renders
it) and the file's sha256; a rerun skips a video whose file still has that content and
redoes everything else.  Videos appear atomically (temporary name + rename), and the
tables are written last, so an interrupted run never leaves a directory whose CSVs
point at missing or half-written videos.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from videonet_datasets import video as video_module
from videonet_datasets.fsutil import atomic_write_text, sha256_file, stable_hash
from videonet_datasets.synth import motion, narration, render
from videonet_datasets.synth.action100m import annotate_web_video
from videonet_datasets.synth.config import SynthConfig
from videonet_datasets.synth.plan import FIT, ORIGIN_JITTER, ClipPlan, plan_clips
from videonet_datasets.synth.taxonomies import select_domains
from videonet_datasets.synth.taxonomy import DomainDef, definition_for, domain_negatives
from videonet_datasets.synth.web import NEAR, VOICES, WebPlan, plan_web_videos, shown_near
from videonet_datasets.synth.writer import (
    ACTIONS_HEADER,
    CLIPS_HEADER,
    MANIFEST_HEADER,
    NEGATIVES_HEADER,
    fmt_seconds,
    write_csv,
    write_json,
    write_jsonl,
)
from videonet_datasets.train_data.action100m import write_rows

__all__ = ["DONE_FILE", "GENERATOR", "SynthError", "SynthSummary", "generate_world", "run_job"]

log = logging.getLogger(__name__)
GENERATOR = "videonet synth"
FORMAT_VERSION = 1
DONE_FILE = ".synth_done.jsonl"
TABLES = (
    "actions.csv",
    "hard_negatives.csv",
    "clips.csv",
    "web/manifest.csv",
    "web/ground_truth.jsonl",
    "web/action100m.jsonl",
    "world.json",
)


class SynthError(RuntimeError):
    """The world cannot be generated here (bad output directory, missing tools...)."""


def _code_version() -> str:
    """Hash of the code that decides a video's bytes: editing the renderer, the motion
    model, the narration or the encoder invalidates the done-file's entries."""
    h = hashlib.sha256(str(FORMAT_VERSION).encode())
    for mod in (motion, render, narration):
        h.update(Path(mod.__file__).read_bytes())
    # Only the encoder of the shared video module: edits to the sampler change no bytes here.
    for name in ("write_video", "_encoder_options"):
        fn = getattr(video_module, name, None)
        if fn is not None:
            h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------- workers


def run_job(out_dir: str, job: dict[str, Any]) -> dict[str, Any]:
    """Render one video file (in a worker process) and report what was written.

    ``job``: ``key`` (path relative to ``out_dir``), ``spec`` (render spec) and, for
    narrated videos, ``audio`` (``voice``, ``speed``, ``script``, ``noise_seed``).
    """
    path = Path(out_dir) / job["key"]
    spec = job["spec"]
    frames = render.render_frames(spec)
    n = render.num_frames(spec["duration"], spec["fps"])
    result: dict[str, Any] = {"key": job["key"], "frames": n, "duration": n / spec["fps"]}
    audio = job.get("audio")
    if audio is None:
        video_module.write_video(path, frames, spec["fps"], crf=spec["crf"])
    else:
        silent = path.with_name(f".{path.stem}.silent{os.getpid()}.mp4")
        try:
            video_module.write_video(silent, frames, spec["fps"], crf=spec["crf"])
            script = audio["script"]
            spoken = [narration.speak(line["text"], audio["voice"], audio["speed"]) for line in script]
            rate = spoken[0][1] if spoken else 22050
            lengths = [len(s) / r for s, r in spoken]
            placed, dropped = narration.place_lines(script, lengths, result["duration"])
            track = narration.mix(
                [(start, spoken[i][0]) for i, start in placed],
                result["duration"],
                rate,
                noise_seed=audio["noise_seed"],
            )
            narration.mux_audio(silent, track, rate, path)
        finally:
            if silent.exists():
                silent.unlink()
        result["narration"] = [
            {
                "start": round(start, 3),
                "end": round(start + lengths[i], 3),
                "text": script[i]["text"],
                "action": script[i]["action"],
            }
            for i, start in placed
        ]
        result["dropped_lines"] = dropped
    result["sha256"] = sha256_file(path)
    result["bytes"] = path.stat().st_size
    return result


# ------------------------------------------------------------------------ summary


@dataclass
class SynthSummary:
    out: Path
    seed: int
    categories: int
    domains: int
    actions: int
    clips: int
    windowed_clips: int
    clip_videos: int
    web_videos: int
    web_kinds: dict[str, int]
    clip_seconds: float  # sum of clip windows
    clip_video_seconds: float  # sum of the benchmark's video files (sources included)
    web_seconds: float
    rendered: int
    reused: int
    bytes_on_disk: int
    seconds_taken: float
    narration_lines: int = 0
    dropped_lines: int = 0
    stale_files: list[str] = field(default_factory=list)
    clip_durations: list[float] = field(default_factory=list, repr=False)

    def format(self) -> str:
        d = sorted(self.clip_durations)
        med = d[len(d) // 2] if d else 0.0
        kinds = ", ".join(f"{k} {v}" for k, v in self.web_kinds.items() if v)
        lines = [
            f"VideoNet-mini (seed {self.seed}) -> {self.out}",
            f"  {self.categories} categories, {self.domains} domains, {self.actions} actions",
            f"  {self.clips} clips ({self.windowed_clips} windows of longer source videos) in {self.clip_videos} videos;"
            f" clip length min {d[0] if d else 0:.2f}s / median {med:.2f}s / max {d[-1] if d else 0:.2f}s,"
            f" {self.clip_seconds:.0f}s of clips, {self.clip_video_seconds:.0f}s of video",
            f"  {self.web_videos} narrated web videos ({kinds or 'none'}), {self.web_seconds:.0f}s,"
            f" {self.narration_lines} narration lines"
            + (f" ({self.dropped_lines} did not fit and were left out)" if self.dropped_lines else ""),
            f"  {self.rendered} videos rendered, {self.reused} reused; {self.bytes_on_disk / 1e6:.1f} MB on disk;"
            f" took {self.seconds_taken:.1f}s",
        ]
        if self.stale_files:
            lines.append(
                f"  note: {len(self.stale_files)} video file(s) in {self.out} are not part of this world "
                f"(left in place), e.g. {self.stale_files[0]}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------- main flow


def _check_out_dir(out: Path) -> None:
    """Refuse to overwrite an annotation directory this generator did not make."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SynthError(f"{out} exists and is not a directory")
    world = out / "world.json"
    has_tables = any((out / t).exists() for t in ("actions.csv", "clips.csv", "hard_negatives.csv"))
    if world.exists():
        try:
            gen = json.loads(world.read_text(encoding="utf-8")).get("generator")
        except (OSError, ValueError) as e:
            raise SynthError(f"{world} is unreadable ({e}); remove it or pick another --out") from e
        if gen != GENERATOR:
            raise SynthError(f"{world} was not written by `{GENERATOR}`; refusing to overwrite {out}")
    elif has_tables and not (out / DONE_FILE).exists():
        raise SynthError(
            f"{out} holds an annotation directory not made by `{GENERATOR}`; refusing to overwrite it"
        )


def _load_done(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    bad = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            done[rec["key"]] = rec
        except (ValueError, KeyError, TypeError):
            bad += 1  # a line cut short by an interrupted run: that video is simply redone
    if bad:
        log.info("%s: ignored %d unreadable line(s)", path, bad)
    return done


def _job_hash(job: dict[str, Any], code: str) -> str:
    body = json.dumps({"code": code, "spec": job["spec"], "audio": job.get("audio")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def _world_json(
    config: SynthConfig, domains: list[DomainDef], negatives: dict[str, dict[str, tuple[str, ...]]]
) -> dict:
    return {
        "generator": GENERATOR,
        "format": FORMAT_VERSION,
        "seed": config.seed,
        "config": config.to_json(),
        "render": {
            "size": list(config.size),
            "fps": config.fps,
            "crf": config.crf,
            "codec": "h264 (videonet_datasets.video.write_video), web videos + AAC narration",
            "coordinates": "normalised: the short side spans [-1, 1], y points down, angles clockwise",
            "origin_jitter": ORIGIN_JITTER,
            "fit": FIT,
            "actor_styles": render.ACTOR_STYLES,
            "background_kinds": list(render.BACKGROUND_KINDS),
        },
        "narration": {"tts": "espeak-ng", "voices": list(VOICES), "near_seconds": NEAR},
        "negatives_rule": "3 actions of the domain differing in the fewest motion attributes, preferring "
        "different attributes, each action used 2-5 times (world.choose_negatives)",
        "domains": [
            {
                "category": d.category,
                "domain": d.name,
                "actor": d.actor,
                "clip_median_seconds": d.clip_median,
                "actions": [
                    {
                        "action": a.name,
                        "subdomain": a.subdomain or "action",
                        "attrs": dict(a.attrs),
                        "motion": list(a.motion),
                        "random_loop_phase": a.phase,
                        "negatives": list(negatives[d.name][a.name]),
                    }
                    for a in d.actions
                ],
            }
            for d in domains
        ],
    }


def _run_jobs(
    out: Path, jobs: list[dict[str, Any]], workers: int, progress: bool, on_done: Callable[[dict, dict], None]
) -> None:
    if not jobs:
        return
    bar = tqdm(total=len(jobs), desc="videonet synth", unit="video", disable=not progress)
    # Longest first: the pool's tail is then short videos, not one long straggler.
    jobs = sorted(jobs, key=lambda j: -j["spec"]["duration"])
    try:
        if workers <= 1 or len(jobs) == 1:
            for job in jobs:
                on_done(job, run_job(str(out), job))
                bar.update()
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures: dict[Future, dict[str, Any]] = {pool.submit(run_job, str(out), j): j for j in jobs}
            pending = set(futures)
            while pending:
                # FIRST_COMPLETED: each video is recorded (done-file, progress bar) as it finishes, so an
                # interrupted run keeps its finished videos; a failure still stops the run.
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    job = futures[f]
                    try:
                        result = f.result()
                    except Exception as e:
                        for p in pending:
                            p.cancel()
                        raise SynthError(f"rendering {job['key']} failed: {e}") from e
                    on_done(job, result)
                    bar.update()
    finally:
        bar.close()


def generate_world(
    out_dir: str | os.PathLike, config: SynthConfig | None = None, *, progress: bool = True
) -> SynthSummary:
    """Generate (or finish, or refresh) a VideoNet-mini world in ``out_dir``."""
    t_start = time.perf_counter()
    config = config or SynthConfig()
    out = Path(out_dir)
    _check_out_dir(out)
    domains = select_domains(config.domains, config.actions_per_domain, config.taxonomy)
    negatives = {d.name: domain_negatives(d) for d in domains}
    clips: list[ClipPlan] = plan_clips(config, domains)
    webs: list[WebPlan] = plan_web_videos(config, domains, negatives) if config.web_videos else []
    if webs:
        narration.check_tools()

    code = _code_version()
    jobs: list[dict[str, Any]] = [{"key": c.video, "spec": c.spec} for c in clips]
    for w in webs:
        audio = {
            "voice": w.voice,
            "speed": w.speed,
            "script": w.script,
            "noise_seed": stable_hash(config.seed, "web-audio", w.video_id) & 0x7FFFFFFF,
        }
        jobs.append({"key": f"web/{w.path}", "spec": w.spec, "audio": audio})
    keys = [j["key"] for j in jobs]
    if len(set(keys)) != len(keys):
        raise SynthError(
            f"two videos planned under one name: {[k for k, n in Counter(keys).items() if n > 1][:3]}"
        )

    out.mkdir(parents=True, exist_ok=True)
    for sub in ("videos", "web/videos"):  # temporaries of a killed run (ours by their names)
        if (out / sub).is_dir():
            for tmp in (out / sub).glob(".*.mp4"):
                if ".tmp" in tmp.name or ".silent" in tmp.name:
                    tmp.unlink()
    for name in TABLES:  # written again at the end; until then the directory is visibly unfinished
        (out / name).unlink(missing_ok=True)
    done_path = out / DONE_FILE
    done = _load_done(done_path)
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        job_hash = _job_hash(job, code)
        rec = done.get(job["key"])
        path = out / job["key"]
        if (
            rec
            and rec.get("spec_hash") == job_hash
            and path.exists()
            and sha256_file(path) == rec["result"]["sha256"]
        ):
            results[job["key"]] = rec["result"]
        else:
            job["hash"] = job_hash
            todo.append(job)
    reused = len(results)

    with open(done_path, "a", encoding="utf-8") as done_file:

        def on_done(job: dict[str, Any], result: dict[str, Any]) -> None:
            results[job["key"]] = result
            done_file.write(
                json.dumps({"key": job["key"], "spec_hash": job["hash"], "result": result}) + "\n"
            )
            done_file.flush()

        _run_jobs(out, todo, config.workers, progress, on_done)
    # Compact the done-file to exactly this world's entries.
    atomic_write_text(
        done_path,
        "".join(
            json.dumps({"key": j["key"], "spec_hash": _job_hash(j, code), "result": results[j["key"]]}) + "\n"
            for j in jobs
        ),
    )

    _write_tables(out, config, domains, negatives, clips, webs, results)

    planned = set(keys)
    stale = sorted(
        str(p.relative_to(out))
        for sub in ("videos", "web/videos")
        if (out / sub).is_dir()
        for p in (out / sub).glob("*.mp4")
        if str(p.relative_to(out)) not in planned
    )
    web_results = [results[f"web/{w.path}"] for w in webs]
    return SynthSummary(
        out=out,
        seed=config.seed,
        categories=len({d.category for d in domains}),
        domains=len(domains),
        actions=sum(len(d.actions) for d in domains),
        clips=len(clips),
        windowed_clips=sum(c.windowed for c in clips),
        clip_videos=len({c.video for c in clips}),
        web_videos=len(webs),
        web_kinds=dict(Counter(w.kind for w in webs)),
        clip_seconds=sum(c.duration for c in clips),
        clip_video_seconds=sum(results[c.video]["duration"] for c in clips),
        web_seconds=sum(r["duration"] for r in web_results),
        rendered=len(todo),
        reused=reused,
        bytes_on_disk=sum(r["bytes"] for r in results.values())
        + sum((out / t).stat().st_size for t in TABLES if (out / t).exists()),
        seconds_taken=time.perf_counter() - t_start,
        narration_lines=sum(len(r.get("narration", [])) for r in web_results),
        dropped_lines=sum(r.get("dropped_lines", 0) for r in web_results),
        stale_files=stale,
        clip_durations=[c.duration for c in clips],
    )


def _write_tables(
    out: Path,
    config: SynthConfig,
    domains: list[DomainDef],
    negatives: dict[str, dict[str, tuple[str, ...]]],
    clips: list[ClipPlan],
    webs: list[WebPlan],
    results: dict[str, dict[str, Any]],
) -> None:
    write_csv(
        out / "actions.csv",
        ACTIONS_HEADER,
        (
            (d.category, d.name, a.name, a.subdomain, definition_for(d, a, negatives[d.name][a.name]))
            for d in domains
            for a in d.actions
        ),
    )
    write_csv(
        out / "hard_negatives.csv",
        NEGATIVES_HEADER,
        ((d.name, a.name, *negatives[d.name][a.name]) for d in domains for a in d.actions),
    )
    write_csv(
        out / "clips.csv",
        CLIPS_HEADER,
        ((c.clip_id, c.domain, c.action, c.video, fmt_seconds(c.start), fmt_seconds(c.end)) for c in clips),
    )
    write_csv(
        out / "web" / "manifest.csv",
        MANIFEST_HEADER,
        ((w.video_id, w.path, w.title, w.domain, w.channel, w.upload_date) for w in webs),
    )
    truth = []
    a100m_rows = []
    by_name = {d.name: d for d in domains}
    for w in webs:
        r = results[f"web/{w.path}"]
        shots = [[round(s["t0"], 3), round(min(s["t1"], r["duration"]), 3)] for s in w.spec["shots"]]
        a100m_row, a100m_truth = annotate_web_video(
            seed=config.seed,
            video_id=w.video_id,
            title=w.title,
            channel=w.channel,
            upload_date=w.upload_date,
            domain=by_name[w.domain],
            negatives=negatives[w.domain],
            duration=r["duration"],
            shots=shots,
            segments=w.segments,
            narration=r["narration"],
            duration_scale=config.duration_scale,
        )
        a100m_rows.append(a100m_row)
        truth.append(
            {
                "video_id": w.video_id,
                "domain": w.domain,
                "kind": w.kind,
                "title": w.title,
                "title_action": w.title_action,
                "title_correct": w.title_correct,
                "duration": round(r["duration"], 3),
                "segments": w.segments,
                "narration": [
                    {**line, "shown": shown_near(line["action"], line["start"], line["end"], w.segments)}
                    for line in r["narration"]
                ],
                "shots": shots,
                "noise": w.noise,
                "action100m": a100m_truth,
            }
        )
    write_jsonl(out / "web" / "ground_truth.jsonl", truth)
    write_rows(out / "web" / "action100m.jsonl", a100m_rows)
    write_json(out / "world.json", _world_json(config, domains, negatives))

"""``python -m bench frame_cache``: feeding the whole 9-task suite's clip inputs, with and without the cache.

The question: how much decoding does the frame cache save when the suite is fed through a
frame preset?  VideoNet's structure decides the access pattern (per action 5 clips: MC asks
each once; binary k = 0..3, hard and random negatives, 4 questions each, show the first k
clips as examples plus one test clip), so a full run feeds ~17 clip inputs per distinct clip
(84,000 for 5,000).  This benchmark replays that pattern on ``--actions`` actions'
generated clips (ffmpeg ``testsrc2`` + noise, H.264, ``--seconds`` long, ``--res``) and
measures the wall time of producing every input's frames:

* ``no cache`` - the baseline: :func:`sample_frames` for every input (what ran before);
* ``memory`` - one :class:`FrameCache` in memory (one evaluation process);
* ``disk, cold`` - memory off, an empty disk cache (the first of several processes);
* ``disk, warm`` - memory off, the disk cache written by the previous line (a later run, or
  another process of the same run).

Then the model's side: a stand-in model that needs ``--model-ms`` per clip input (it sleeps,
as a GPU model leaves the CPU free) is fed each clip's first use in suite order (the inputs
that cost a decode; the rest are cache hits), decoding in place (``in place + model``) or
with :class:`~videonet_datasets.prefetch.Prefetcher` decoding the next
clips in ``--workers`` processes (``prefetch + model``); the ratio of the two is how much of
the decoding the model no longer waits for.  ``warm the set`` is what lmms-eval's own backends
get (:class:`~videonet_datasets.prefetch.CacheWarmer`): the set of clips is decoded in the
background in suite order while the model consumes them in another (shuffled) order.

Ratios are against ``no cache`` (and ``in place + model``) measured in the same run.  Every method's frames are
checked equal to the baseline's.  Negatives in the real suite are other actions' clips;
here they are drawn from the same pool in the same way, so the distinct-clip count is the
real one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from videonet_datasets.frame_cache import FrameCache
from videonet_datasets.prefetch import CacheWarmer, Prefetcher
from videonet_datasets.video import sample_frames

RESULTS = Path(__file__).resolve().parent / "results"
RESOLUTIONS = {"240p": (426, 240), "480p": (854, 480), "720p": (1280, 720)}
#: The presets' sampling rules (videonet_lmms_tasks.presets): gpt5 = 1 fps, at most 56 frames,
#: molmo2 = 4 fps, at most 64.
PRESETS = {"gpt5": {"fps": 1.0, "max_frames": 56}, "molmo2": {"fps": 4.0, "max_frames": 64}}


def make_clips(out: Path, n: int, seconds: float, res: str) -> list[Path]:
    """``n`` distinct clips (different noise seeds), generated once and reused."""
    w, h = RESOLUTIONS[res]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = out / f"clip{i:04d}_{res}_{seconds:g}s.mp4"
        if not p.exists():
            tmp = p.with_name(f".{p.name}.tmp.mp4")
            cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi"]
            cmd += [
                "-i",
                f"testsrc2=size={w}x{h}:rate=30,noise=alls=6:allf=t:all_seed={i}",
                "-t",
                f"{seconds}",
            ]
            cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-g", "60"]
            subprocess.run([*cmd, str(tmp)], check=True)
            os.replace(tmp, p)
        paths.append(p)
    return paths


def suite_inputs(n_actions: int, seed: int = 0) -> list[int]:
    """Clip indices in the order the 9 test tasks feed them (clip 5a+j is action a's clip j+1)."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    clips = lambda a: [5 * a + j for j in range(5)]  # noqa: E731
    for a in range(n_actions):  # videonet_mc: test clips 2-5 (+ the validation clip, mc_val)
        order += clips(a)
    for _negatives in ("hard", "random"):
        for k in range(4):
            for a in range(n_actions):
                others = [b for b in range(n_actions) if b != a]
                negs = rng.choice(others, size=2, replace=False)
                tests = [clips(a)[3], clips(a)[4], clips(int(negs[0]))[3], clips(int(negs[1]))[3]]
                for t in tests:
                    order += clips(a)[:k] + [t]
    return order


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench frame_cache", description=__doc__.split("\n")[0])
    ap.add_argument("--actions", type=int, default=12, help="actions (5 clips each; default 12)")
    ap.add_argument("--seconds", type=float, default=4.0, help="clip length (VideoNet's median is ~4 s)")
    ap.add_argument("--res", choices=sorted(RESOLUTIONS), default="480p")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="gpt5")
    ap.add_argument("--size", type=int, default=224, help="short side the preset resizes to (0: none)")
    ap.add_argument("--model-ms", type=float, default=40.0, help="the stand-in model's time per input")
    ap.add_argument("--workers", type=int, default=1, help="prefetch worker processes")
    ap.add_argument("--quick", action="store_true", help="4 actions, 2 s clips")
    args = ap.parse_args(argv)
    if args.quick:
        args.actions, args.seconds = 4, 2.0
    if args.actions < 3:
        ap.error("--actions must be >= 3 (two negatives from other actions)")
    clips = make_clips(RESULTS / "videos" / "frame_cache", 5 * args.actions, args.seconds, args.res)
    order = suite_inputs(args.actions)
    kwargs: dict[str, Any] = dict(PRESETS[args.preset], threads=1)
    if args.size:
        kwargs["size"] = args.size
    print(
        f"{len(order)} clip inputs over {len(set(order))} clips ({len(order) / len(set(order)):.1f} per clip), "
        f"{args.res}, {args.seconds:g} s, preset {args.preset} {kwargs}",
        flush=True,
    )
    reference = {i: sample_frames(clips[i], **kwargs).frames for i in set(order)}
    disk = Path(tempfile.mkdtemp(prefix="vn-frame-cache-bench-"))
    rows: list[dict[str, Any]] = []
    try:
        methods: list[tuple[str, Any]] = [
            ("no cache", None),
            ("memory", FrameCache()),
            ("disk, cold", FrameCache(memory_bytes=0, disk_dir=disk)),
            ("disk, warm", FrameCache(memory_bytes=0, disk_dir=disk)),
        ]
        for name, cache in methods:
            t0 = time.perf_counter()
            for i in order:
                got = (
                    sample_frames(clips[i], **kwargs)
                    if cache is None
                    else cache.sample_frames(clips[i], **kwargs)
                )
                if not np.array_equal(got.frames, reference[i]):
                    raise SystemExit(f"{name}: clip {i} frames differ from the sampler's")
            seconds = time.perf_counter() - t0
            decoded = len(order) if cache is None else cache.stats.misses
            rows.append({"method": name, "seconds": seconds, "decoded": decoded})
        size_mb = sum(p.stat().st_size for p in disk.glob("*/*.npz")) / 2**20
        first = list(dict.fromkeys(order))  # each clip's first use: where decoding costs
        model_rows = []
        for name, workers in (
            ("in place + model", 0),
            (f"prefetch ({args.workers} worker) + model", args.workers),
        ):
            cache = FrameCache()
            t0 = time.perf_counter()
            with Prefetcher(cache, [(clips[i], kwargs) for i in first], workers=workers, lookahead=8) as pf:
                for i in first:
                    got = pf.frames(clips[i], **kwargs)
                    if not np.array_equal(got.frames, reference[i]):
                        raise SystemExit(f"{name}: clip {i} frames differ from the sampler's")
                    time.sleep(args.model_ms / 1000)
            model_rows.append(
                {"method": name, "seconds": time.perf_counter() - t0, "decoded": cache.stats.misses}
            )
        # lmms-eval's own backends: the set of clips is known, the order is the backend's (shuffled here)
        shuffled = list(np.random.default_rng(1).permutation(first))
        cache = FrameCache()
        t0 = time.perf_counter()
        warmer = CacheWarmer(cache, workers=max(1, args.workers))
        try:
            warmer.add([(clips[i], kwargs) for i in first])
            for i in shuffled:
                got = warmer.frames(clips[i], **kwargs)
                if not np.array_equal(got.frames, reference[i]):
                    raise SystemExit(f"warmer: clip {i} frames differ from the sampler's")
                time.sleep(args.model_ms / 1000)
        finally:
            warmer.close()
        model_rows.append(
            {
                "method": f"warm the set ({max(1, args.workers)} worker), any order + model",
                "seconds": time.perf_counter() - t0,
                "decoded": cache.stats.misses,
            }
        )
    finally:
        shutil.rmtree(disk, ignore_errors=True)
    base = rows[0]["seconds"]
    print("\n| method | wall s | decoded clips | speed-up vs no cache |\n|---|---:|---:|---:|")
    for r in rows:
        r["speedup"] = base / r["seconds"]
        print(f"| {r['method']} | {r['seconds']:.2f} | {r['decoded']} | {r['speedup']:.1f}x |")
    floor = len(first) * args.model_ms / 1000
    print(
        f"\n| first use of each clip, model {args.model_ms:g} ms per input (floor {floor:.1f} s) "
        "| wall s | decoded | speed-up |"
    )
    print("|---|---:|---:|---:|")
    for r in model_rows:
        r["speedup"] = model_rows[0]["seconds"] / r["seconds"]
        print(f"| {r['method']} | {r['seconds']:.2f} | {r['decoded']} | {r['speedup']:.2f}x |")
    rows += model_rows
    per_clip = size_mb / len(set(order))
    print(f"\ndisk cache: {size_mb:.1f} MB for {len(set(order))} clips ({per_clip:.2f} MB per clip entry)")
    full = 5000 * per_clip / 1024
    print(f"at VideoNet's size (5,000 clips) with these settings: ~{full:.1f} GB on disk")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "frame_cache.json").write_text(
        json.dumps({"args": vars(args), "inputs": len(order), "rows": rows, "disk_mb": size_mb}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

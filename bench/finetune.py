"""Speed and memory of the fine-tuning recipe's data path, packing, and the tiny model's steps.

``python -m bench finetune`` (``--quick`` for a smaller run).  Results:
``bench/results/finetune.json``; the numbers feed ``recipes/README.md``.

1. **Loader throughput per core** at the paper's setting (4 fps, max 64 frames, Molmo2-4B's
   frame geometry: 378 px, 14 px patches, 3x3 pooling -> 81 tokens per frame): CPU seconds per
   clip to decode (the project's sampler, resized while decoding) and to encode the clip's
   packed QA row (the processor), on VideoNet-mini clips (128 px synthetic sources) and on 720p
   H.264 clips of 5 s and 16 s.  CPU time, not wall time: the machine is shared.
2. **Tokens and packing** on VideoNet-mini (``mc`` + ``binary_0shot`` test questions grouped
   by clip, like the training data's 3 QAs): tokens per packed row vs the same questions as
   separate rows, and real / padded tokens of micro-batches of 1..8 clips in the recipe's
   random order.
3. **The tiny model** (the CPU demo's setting: 56 px, max 8 frames, 2 clips per micro-batch):
   the recipe's own step time and data-wait share with 0 and 1 loader workers, against the
   loader's CPU time per clip at that setting.
4. **Activation memory, measured small**: peak resident memory of one forward + backward at
   the paper's geometry (a 64-frame, ~5.5K-token packed clip) for a reduced-width Molmo2, with
   and without activation checkpointing, in a fresh subprocess each; divided into bytes per
   token per unit of width for the README's extrapolation to Molmo2-4B.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PAPER_FPS, PAPER_MAX_FRAMES = 4.0, 64
# Molmo2-4B's frame geometry (hub preprocessor): 378 px squares, 14 px patches, video pooled 3x3.
PAPER_GEOMETRY = {"image_size": 378, "patch_size": 14, "video_pooling": 3, "image_pooling": 2}


# ----------------------------------------------------------------------------- material


def ensure_mini(work: Path) -> Path:
    """VideoNet-mini (synthetic, 185 clips) built as a benchmark directory, once."""
    bench = work / "videonet-mini"
    if (bench / "README.md").is_file():
        return bench
    from videonet_datasets.benchmark.build import build_benchmark
    from videonet_datasets.synth import generate_world, preset

    world = work / "mini-world"
    print("  generating VideoNet-mini (videonet synth, no web videos) ...", flush=True)
    generate_world(world, preset("default", web_videos=0), progress=False)
    build_benchmark(world, bench, progress=False)
    return bench


def ensure_720p_clips(work: Path) -> dict[str, Path]:
    """720p H.264 clips of 5 s and 16 s, trimmed like the benchmark builder's (GOP 1 s)."""
    from bench.sampler import ensure_video
    from videonet_datasets.video import trim_clip

    source = ensure_video(RESULTS / "videos", "720p", 60)
    clips = {}
    for seconds in (5, 16):
        out = work / f"720p_{seconds}s.mp4"
        if not out.exists():
            trim_clip(source, out, 20.0, 20.0 + seconds)
        clips[f"720p {seconds}s"] = out
    return clips


def paper_processor():
    from videonet_datasets.molmo2 import TinyMolmo2Config
    from videonet_datasets.molmo2.tiny import make_tiny_processor

    return make_tiny_processor(TinyMolmo2Config(**PAPER_GEOMETRY))


# ----------------------------------------------------------------------------- 1 + 2


def _cpu() -> float:
    return time.process_time()


def measure_clip(
    processor, record, resolver, *, fps: float, max_frames: int, packing: bool = True
) -> dict[str, Any]:
    """CPU seconds to decode and to encode one clip, and its token counts."""
    from videonet_datasets.finetune.batches import ClipEncoder

    encoder = ClipEncoder(processor, resolver, fps=fps, max_frames=max_frames, packing=packing)
    t0 = _cpu()
    frames = encoder.frames(record)
    t1 = _cpu()
    packed = encoder.encode(record, frames)
    t2 = _cpu()
    separate = ClipEncoder(processor, resolver, fps=fps, max_frames=max_frames, packing=False).encode(
        record, frames
    )
    return {
        "uid": record.uid,
        "frames": len(frames),
        "questions": len(record.qas),
        "decode_cpu_s": t1 - t0,
        "encode_cpu_s": t2 - t1,
        "packed_tokens": int(packed[0]["input_ids"].numel()),
        "separate_tokens": [int(ex["input_ids"].numel()) for ex in separate],
        "pixel_mb": packed[0]["pixel_values_videos"].numel() * 4 / 1e6,
    }


def loader_throughput(work: Path, mini: Path, limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from videonet_datasets.finetune.data import ClipRecord, VideoResolver, open_source

    processor = paper_processor()
    source = open_source(str(mini), "mc,binary_0shot", "test")
    records = source.records[:limit]
    print(f"  VideoNet-mini: {len(records)} clips at 378 px, 4 fps, max 64 frames ...", flush=True)
    rows = [
        measure_clip(processor, r, source.resolver, fps=PAPER_FPS, max_frames=PAPER_MAX_FRAMES)
        for r in records
    ]
    summary: dict[str, Any] = {"videonet-mini": _throughput(rows)}
    qas = records[0].qas[:3]
    for name, path in ensure_720p_clips(work).items():
        record = ClipRecord(uid=name, video=str(path), qas=qas)
        runs = [measure_clip(processor, record, VideoResolver(), fps=PAPER_FPS, max_frames=PAPER_MAX_FRAMES)
                for _ in range(3)]  # fmt: skip
        summary[name] = _throughput(runs)
        print(f"  {name}: {summary[name]['frames']:.0f} frames, {summary[name]['clips_per_cpu_s']:.2f} clips/s per core",
              flush=True)  # fmt: skip
    return summary, rows


def _throughput(rows: list[dict[str, Any]]) -> dict[str, Any]:
    decode = statistics.median(r["decode_cpu_s"] for r in rows)
    encode = statistics.median(r["encode_cpu_s"] for r in rows)
    return {
        "clips": len(rows),
        "frames": statistics.median(r["frames"] for r in rows),
        "decode_cpu_s": decode,
        "encode_cpu_s": encode,
        "clips_per_cpu_s": 1.0 / (decode + encode),
        "packed_tokens": statistics.median(r["packed_tokens"] for r in rows),
        "pixel_mb": statistics.median(r["pixel_mb"] for r in rows),
    }


def packing_table(rows: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Real / padded tokens per micro-batch size, packed rows vs separate rows, recipe order."""
    order = np.random.default_rng([seed, 0]).permutation(len(rows))
    out: dict[str, Any] = {
        "tokens_packed_total": sum(r["packed_tokens"] for r in rows),
        "tokens_separate_total": sum(sum(r["separate_tokens"]) for r in rows),
        "packed_tokens_by_frames": _by_frames(rows),
        "efficiency": {},
    }
    out["separate_over_packed"] = out["tokens_separate_total"] / out["tokens_packed_total"]
    for clips_per_batch in (1, 2, 4, 8):
        real = padded = real_sep = padded_sep = 0
        for start in range(0, len(order) - clips_per_batch + 1, clips_per_batch):
            batch = [rows[i] for i in order[start : start + clips_per_batch]]
            lengths = [r["packed_tokens"] for r in batch]
            real += sum(lengths)
            padded += len(lengths) * max(lengths)
            sep = [n for r in batch for n in r["separate_tokens"]]
            real_sep += sum(sep)
            padded_sep += len(sep) * max(sep)
        out["efficiency"][clips_per_batch] = {"packed": real / padded, "separate": real_sep / padded_sep,
                                              "padded_packed_over_padded_separate": padded / padded_sep}  # fmt: skip
    return out


def _by_frames(rows: list[dict[str, Any]]) -> dict[int, float]:
    groups: dict[int, list[int]] = {}
    for r in rows:
        groups.setdefault(r["frames"], []).append(r["packed_tokens"])
    return {
        k: float(statistics.median(v))
        for k, v in sorted(groups.items())
        if k in (1, 4, 8, 16, 32, 64) or k == max(groups)
    }


# ----------------------------------------------------------------------------- 3


def tiny_training(work: Path, mini: Path, steps: int) -> dict[str, Any]:
    """The recipe on the tiny model at the demo's setting, 0 and 1 loader workers."""
    from accelerate.state import AcceleratorState, GradientState

    from videonet_datasets.finetune import parse_config, train
    from videonet_datasets.finetune.data import open_source
    from videonet_datasets.molmo2 import make_tiny_molmo2

    out: dict[str, Any] = {}
    config = Path(__file__).resolve().parent.parent / "recipes" / "configs" / "tiny_cpu.yaml"
    for workers in (0, 1):
        run = work / f"tiny-run-w{workers}"
        flags = ["--config", str(config), "--dataset", str(mini), "--output_dir", str(run),
                 "--model_name_or_path", str(work / "tiny-model"), "--max_steps", str(steps),
                 "--logging_steps", str(steps), "--save_steps", "0", "--save_final_model", "false",
                 "--eval_at_end", "false", "--report_to", "none", "--resume_from_checkpoint", "none",
                 "--overwrite_output_dir", "--dataloader_num_workers", str(workers)]  # fmt: skip
        result = train(parse_config(flags))
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        entry = result.history[-1]
        out[f"workers={workers}"] = {k: entry[k] for k in ("perf/step_s", "perf/data_wait_frac", "perf/clips_per_s",
                                                             "perf/packing_efficiency", "train/loss")}  # fmt: skip
        print(f"  tiny model, {workers} loader worker(s): {entry['perf/step_s']:.3f} s/step "
              f"({entry['perf/clips_per_s']:.1f} clips/s), data wait {100 * entry['perf/data_wait_frac']:.0f}%",
              flush=True)  # fmt: skip
    # The loader's own cost per clip at this setting (CPU time), and the model's per micro-batch.
    _, processor = make_tiny_molmo2(seed=0)
    source = open_source(str(mini), "mc,binary_0shot", "test")
    rows = [measure_clip(processor, r, source.resolver, fps=4.0, max_frames=8) for r in source.records[:40]]
    out["loader_cpu_s_per_clip"] = statistics.median(r["decode_cpu_s"] + r["encode_cpu_s"] for r in rows)
    out["model_s_per_step_estimate"] = out["workers=0"]["perf/step_s"] * (
        1 - out["workers=0"]["perf/data_wait_frac"]
    )
    return out


# ----------------------------------------------------------------------------- 4

_PROBE = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
from videonet_datasets.molmo2 import TinyMolmo2Config, make_tiny_molmo2, encode_packed_clip, collate_packed, answer_loss
from videonet_datasets.video import Frames
import numpy as np
spec = json.loads(sys.argv[1]); ckpt = sys.argv[2] == "1"; n_frames = int(sys.argv[3])
model, processor = make_tiny_molmo2(TinyMolmo2Config(**spec), seed=0)
model.train()
if ckpt:
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
rng = np.random.default_rng(0)
size = spec["image_size"]
frames = Frames(frames=rng.integers(0, 255, (n_frames, size, size, 3), dtype=np.uint8),
                timestamps=np.arange(n_frames) / 4.0, requested=np.arange(n_frames) / 4.0,
                clip_start=0.0, clip_end=n_frames / 4.0, video_fps=30.0)
qas = [("Does the following video show a jump? Please reason through your answer.", "yes"),
       ("Does the following video show a spin? Please reason through your answer.", "no"),
       ("Which of the following actions is shown in the video?\nA. a\nB. b\nC. c\nD. d", "B")]
batch = collate_packed([encode_packed_clip(processor, frames, qas)], processor.tokenizer.pad_token_id)
batch["attention_mask"] = batch["attention_mask"] == 0
batch.pop("segment_ids")
tokens = batch["input_ids"].numel()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.process_time()
answer_loss(model, batch).loss.backward()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"tokens": tokens, "patches": int(batch["pixel_values_videos"].shape[0] * batch["pixel_values_videos"].shape[1]),
                  "peak_mb": (peak - base) / 1024, "cpu_s": time.process_time() - t}))
"""


def activation_probe(n_frames: int = 64) -> dict[str, Any]:
    """Peak RSS growth of one fwd+bwd at the paper geometry, small widths, ckpt on/off."""
    spec = {**PAPER_GEOMETRY, "text_hidden_size": 256, "text_layers": 4, "text_heads": 4, "text_kv_heads": 2,
            "text_intermediate_size": 768, "vit_hidden_size": 128, "vit_layers": 4, "vit_heads": 4,
            "vit_intermediate_size": 512, "adapter_intermediate_size": 512}  # fmt: skip
    out: dict[str, Any] = {"spec": spec, "frames": n_frames}
    for ckpt in (False, True):
        proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(spec), "1" if ckpt else "0", str(n_frames)],
                              capture_output=True, text=True, check=True)  # fmt: skip
        out["checkpointing" if ckpt else "plain"] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = out["checkpointing" if ckpt else "plain"]
        print(f"  fwd+bwd, {r['tokens']} tokens, {r['patches']} ViT patches, checkpointing={ckpt}: "
              f"+{r['peak_mb']:.0f} MB peak, {r['cpu_s']:.1f} CPU s", flush=True)  # fmt: skip
    return out


# ----------------------------------------------------------------------------- report


def _print(summary: dict[str, Any]) -> None:
    print("\n## Loader, paper setting (4 fps, max 64 frames, 378 px), CPU seconds per clip (1 core)\n")
    print(
        "| clips | frames | decode s | encode (packed) s | clips/s per core | tokens / packed row | pixels MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, t in summary["loader"].items():
        print(f"| {name} | {t['frames']:.0f} | {t['decode_cpu_s']:.3f} | {t['encode_cpu_s']:.3f} | "
              f"{t['clips_per_cpu_s']:.2f} | {t['packed_tokens']:.0f} | {t['pixel_mb']:.0f} |")  # fmt: skip
    p = summary["packing"]
    print(f"\n## Packing on VideoNet-mini ({p['clips']} clips, mc + binary_0shot questions per clip)\n")
    print(f"tokens: packed {p['tokens_packed_total']:,} vs separate rows {p['tokens_separate_total']:,} "
          f"(x{p['separate_over_packed']:.2f}); median packed tokens by frame count: {p['packed_tokens_by_frames']}")  # fmt: skip
    print(
        "\n| clips / micro-batch | real/padded, packed | real/padded, separate | padded tokens packed / separate |"
    )
    print("|---:|---:|---:|---:|")
    for b, e in p["efficiency"].items():
        print(
            f"| {b} | {e['packed']:.3f} | {e['separate']:.3f} | {e['padded_packed_over_padded_separate']:.2f} |"
        )
    if "tiny" in summary:
        t = summary["tiny"]
        print("\n## Tiny model (demo setting: 56 px, max 8 frames, 2 clips per micro-batch, 4 per step)\n")
        for k in ("workers=0", "workers=1"):
            e = t[k]
            print(f"- {k}: {e['perf/step_s']:.3f} s/step, {e['perf/clips_per_s']:.1f} clips/s, "
                  f"data wait {100 * e['perf/data_wait_frac']:.0f}%")  # fmt: skip
        print(f"- loader CPU time per clip: {t['loader_cpu_s_per_clip'] * 1000:.1f} ms; model time per step "
              f"~{t['model_s_per_step_estimate'] * 1000:.0f} ms")  # fmt: skip
    if "activations" in summary:
        a = summary["activations"]
        print("\n## One fwd+bwd at the paper geometry, reduced widths (peak RSS growth)\n")
        for k in ("plain", "checkpointing"):
            r = a[k]
            print(
                f"- {k}: {r['tokens']} LLM tokens, {r['patches']} ViT patches: +{r['peak_mb']:.0f} MB, {r['cpu_s']:.1f} CPU s"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench finetune", description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=RESULTS / "finetune", help="generated material and runs")
    ap.add_argument("--clips", type=int, default=185, help="VideoNet-mini clips to measure (default: all)")
    ap.add_argument("--steps", type=int, default=20, help="tiny-model training steps per setting")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: tiny,activations")
    ap.add_argument("--quick", action="store_true", help="40 clips, 8 steps, no activation probe")
    ap.add_argument("--out", type=Path, default=RESULTS / "finetune.json")
    args = ap.parse_args(argv)
    if args.quick:
        args.clips, args.steps, args.skip = 40, 8, ",".join(filter(None, [args.skip, "activations"]))
    skip = set(filter(None, args.skip.split(",")))
    import torch

    torch.set_num_threads(1)  # per-core numbers
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load = os.getloadavg()[0]
    print(f"finetune benchmark: load average {load:.2f} on {os.cpu_count()} CPUs (CPU times are reported)")
    mini = ensure_mini(args.work)
    loader, rows = loader_throughput(args.work, mini, args.clips)
    summary: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_start": load,
            "torch": torch.__version__,
        },  # fmt: skip
        "loader": loader,
        "packing": {"clips": len(rows), **packing_table(rows)},
    }
    if "tiny" not in skip:
        summary["tiny"] = tiny_training(args.work, mini, args.steps)
    if "activations" not in skip:
        summary["activations"] = activation_probe()
    summary["seconds"] = time.time() - started
    summary["machine"]["load_end"] = os.getloadavg()[0]
    summary["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    _print(summary)
    print(f"\nresults: {args.out} (took {summary['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How often each clip is decoded when a model walks the 9-task suite in a given order through a
memory cache of a given size: the simulation behind :mod:`videonet_datasets.feed_order`.

Reads a built benchmark (its 9 test configs, task after task as lmms-eval hands them to a model),
and replays the clip inputs through an LRU bounded in bytes, as
:class:`~videonet_datasets.frame_cache.FrameCache`'s memory part is, with each clip's frames at
``--fps`` (at most ``--max-frames``; the gpt5 preset by default) at each frame size.  No video is
decoded, so the frame size is a parameter: the synthetic world's 32x32 clips say nothing about
the memory a real run needs.  Prints decodes per distinct clip (1.00 = each clip decoded once)::

    python -m research.feed_order bench/results/worlds/full_benchmark
"""

from __future__ import annotations

import argparse
import math
from collections import OrderedDict
from pathlib import Path

from videonet_datasets.benchmark.schema import ALL_CONFIGS
from videonet_datasets.feed_order import ORDERS, answer_order

#: The 9 test tasks' configs in lmms-eval's order of ``videonet_all``.
SUITE = [c for c in ALL_CONFIGS if c == "mc" or (c.startswith("binary_") and c.endswith("shot"))]


def suite_requests(benchmark: Path) -> tuple[list[list[str]], dict[str, float]]:
    """Every test question's clips (examples, then the test clip) and each clip's duration."""
    import datasets

    datasets.disable_progress_bars()
    requests: list[list[str]] = []
    duration: dict[str, float] = {}
    for config in SUITE:
        rows = datasets.load_dataset(str(benchmark), config, split="test")
        cols = ["video", "duration"] + (["example_videos"] if "example_videos" in rows.column_names else [])
        for row in rows.select_columns(cols):
            requests.append([*(row.get("example_videos") or []), row["video"]])
            duration[row["video"]] = row["duration"]
    return requests, duration


def decodes(requests: list[list[str]], order: list[int], capacity: int, clip_bytes: dict[str, int]) -> int:
    """Clips decoded by an LRU of ``capacity`` bytes fed the requests in ``order``."""
    lru: OrderedDict[str, int] = OrderedDict()
    used = n = 0
    for i in order:
        for clip in requests[i]:
            if clip in lru:
                lru.move_to_end(clip)
                continue
            n += 1
            lru[clip] = clip_bytes[clip]
            used += clip_bytes[clip]
            while used > capacity and len(lru) > 1:
                used -= lru.popitem(last=False)[1]
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m research.feed_order", description=__doc__.split("\n")[0])
    ap.add_argument("benchmark", type=Path, help="a built benchmark directory (videonet build-benchmark)")
    ap.add_argument("--sizes", default="320x240,640x360,1280x720", help="frame sizes WxH, comma-separated")
    ap.add_argument("--memory-mb", default="256,1024,4096", help="memory cache sizes in MB, comma-separated")
    ap.add_argument("--fps", type=float, default=1.0)
    ap.add_argument("--max-frames", type=int, default=56)
    args = ap.parse_args(argv)
    requests, duration = suite_requests(args.benchmark)
    distinct = {c for r in requests for c in r}
    frames = {c: max(1, min(args.max_frames, math.ceil(duration.get(c, 1.0) * args.fps))) for c in distinct}
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    caps = [float(v) for v in args.memory_mb.split(",")]
    print(
        f"{len(requests)} questions, {sum(map(len, requests))} clip inputs, {len(distinct)} distinct clips, "
        f"{sum(frames.values())} frames at {args.fps:g} fps (max {args.max_frames})"
    )
    print("| order | frame size | all frames GB | " + " | ".join(f"{c:g} MB cache" for c in caps) + " |")
    print("|---|---|---:|" + "---:|" * len(caps))
    orders = {how: answer_order(requests, how) for how in ORDERS}
    for w, h in sizes:
        clip_bytes = {c: n * w * h * 3 for c, n in frames.items()}
        total = sum(clip_bytes.values()) / 2**30
        for how in ("given", "locality"):
            ratios = [
                decodes(requests, orders[how], int(c * 2**20), clip_bytes) / len(distinct) for c in caps
            ]
            print(f"| {how} | {w}x{h} | {total:.1f} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The sampler benchmark compares like with like: every method it times returns the same
frames as ``sample_frames`` for the same request (on a tiny video, in-process).

Methods whose library is not installed are skipped (they come with ``.[bench]``).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench import sampler as bench

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

SMALL_CASES = (
    bench.Case("clip", "clip at 4 fps", 3, {"fps": 4}),
    bench.Case("window", "window at 4 fps", 3, {"fps": 4, "start": 1.0, "end": 2.5}),
    bench.Case("uniform", "uniform", 3, {"num_frames": 7}),
)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "v.mp4"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=30,noise=alls=6:allf=t"]
    cmd += ["-t", "3", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True)
    return out


def _installed(method: str) -> bool:
    need = bench._NEEDS[method]
    return shutil.which("ffmpeg") is not None if need is None else importlib.util.find_spec(need) is not None


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: c.key)
@pytest.mark.parametrize("method", [m for m in bench.METHODS if m != "videonet"])
def test_every_method_returns_our_frames(video: Path, case: bench.Case, method: str) -> None:
    if not _installed(method):
        pytest.skip(f"{method} is not installed (pip install -e '.[bench]')")
    times = bench._targets(video, case)
    ours = bench.run_videonet(video, case, times, 1)
    theirs = bench.RUNNERS[method](video, case, times, 1)
    assert theirs.shape == ours.shape
    # The libraries convert colour alike (swscale), so the same frame differs by ~0 and
    # neighbouring frames of this noisy video by far more.
    mad = np.abs(theirs.astype(np.int16) - ours.astype(np.int16)).reshape(len(ours), -1).mean(axis=1)
    assert mad.max() < bench.SAME_FRAME_MAD, mad
    every = bench.run_videonet(video, bench.Case("x", "x", 3, {"fps": 30}), times, 1).astype(np.int16)
    step = np.abs(every[1:] - every[:-1]).reshape(len(every) - 1, -1).mean(axis=1)
    assert step.min() > bench.SAME_FRAME_MAD, "the test video's neighbouring frames are too alike"


def test_full_decode_counts_every_frame(video: Path) -> None:
    assert bench.run_full_decode(video, SMALL_CASES[0], np.zeros(1), 1) == 90


def test_bound_feeds_only_what_the_requested_frames_depend_on(video: Path) -> None:
    import av

    case = SMALL_CASES[1]  # [1.0 s, 2.5 s] at 4 fps; keyframes at 0 s and 2 s
    times = bench._targets(video, case)
    plan = bench.prepare_bound(video, times)
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        size = (c.streams.video[0].codec_context.extradata[4] & 3) + 1
        packets = [
            (int(p.pts), p.is_keyframe, bench._h264_reference(memoryview(p), size))
            for p in c.demux(s)
            if p.size
        ]
    refs = {pts for pts, _, ref in packets if ref}
    fed = [int(p.pts) for group, _ in plan.groups for p in group]
    targets = set(plan.frame_of)
    assert len(plan.groups) == 2 and set(fed) <= refs | targets and targets <= set(fed)
    assert len(refs) < len(packets)  # B-frames nobody refers to are never fed
    last = max(i for i, (pts, _, _) in enumerate(packets) if pts in targets)
    assert len(fed) < last + 1
    assert all(
        p.pts * s.time_base >= 2.0 - 1e-6 for p in plan.groups[1][0]
    )  # the second group from its keyframe


def test_long_sources_are_the_piece_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from videonet_datasets.video import probe_video

    monkeypatch.setitem(bench.RESOLUTIONS, "tiny", (64, 48))
    monkeypatch.setattr(bench, "LONG_PIECE_SECONDS", 2)
    long = bench.ensure_video(tmp_path, "tiny", 6, fps=10)
    info = probe_video(long)
    assert info.duration == pytest.approx(6.0, abs=0.05) and info.num_frames == 60
    assert bench.video_path(tmp_path, "tiny", 2, 10).exists()  # the piece, encoded once
    hour = [c for c in bench.CASES if c.seconds == 3600]
    assert len(hour) == 2 and all(c.res == "720p" and {"naive", "full-decode"} <= set(c.skip) for c in hour)

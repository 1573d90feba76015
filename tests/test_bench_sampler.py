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

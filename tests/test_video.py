"""The frame sampler, probing, trimming and writing (videonet_datasets.video).

Test videos are encoded here with the ffmpeg CLI from frames whose pixels spell their own
index in binary (16 blocks of black/white), so every returned frame can be identified
exactly; ``ffprobe``'s frame times are the ground truth for timestamps.  The videos are
tiny (64x16) so the whole module runs in a few seconds.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

import videonet_datasets.video as V
from videonet_datasets.video import (
    Frames,
    VideoDecodeError,
    probe_video,
    sample_frames,
    sample_times,
    trim_clip,
    write_video,
)

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg"
)

H, W = 16, 64
# Irregular frame times (33, 53, 83 and 103 ms apart): a variable-frame-rate video.
VFR = "settb=1/1000,setpts=(N/30+0.05*floor(N/5)+0.02*floor(N/3))/TB"


# ----------------------------------------------------------------------------- helpers


def index_frames(n: int, start: int = 0) -> np.ndarray:
    """``n`` RGB frames; frame i shows the 16 bits of ``start + i`` as 8x8 blocks."""
    idx = np.arange(start, start + n)
    bits = (idx[:, None] >> np.arange(16)) & 1
    img = np.where(bits.reshape(n, 2, 8), 235, 16).astype(np.uint8)
    img = np.repeat(np.repeat(img, H // 2, axis=1), W // 8, axis=2)
    return np.repeat(img[..., None], 3, axis=3)


def index_of(img: np.ndarray) -> int:
    """Read back the index drawn by :func:`index_frames` (at any resize)."""
    h, w = img.shape[:2]
    gray = img.astype(np.float64).mean(axis=2)
    ys = ((np.arange(2) + 0.5) * h / 2).astype(int)
    xs = ((np.arange(8) + 0.5) * w / 8).astype(int)
    bits = (gray[np.ix_(ys, xs)] > 125).reshape(16).astype(np.int64)
    return int((bits << np.arange(16)).sum())


def encode(
    path: Path,
    n: int,
    *,
    fps: int = 30,
    gop: int = 30,
    bframes: int = 3,
    vf: str | None = None,
    x264: str | None = None,
    audio: bool = False,
    faststart: bool = True,
) -> Path:
    """H.264 mp4 of :func:`index_frames` (B-frames and a fixed GOP by default)."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        str(fps),
        "-i",
        "-",
    ]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={n / fps}"]
    if vf:
        cmd += ["-vf", vf, "-fps_mode", "passthrough", "-enc_time_base", "1/1000"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    cmd += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", str(bframes)]
    if x264:
        cmd += ["-x264-params", x264]
    if audio:
        cmd += ["-c:a", "aac", "-shortest"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    subprocess.run([*cmd, str(path)], input=index_frames(n).tobytes(), check=True)
    return path


def probe_times(path: Path) -> np.ndarray:
    """ffprobe's presentation time of every frame on the player's timeline (seconds from
    the first displayed frame), ascending."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = np.array(sorted(float(x.strip(",")) for x in out.split()))
    return times - times[0]


def assert_exact(f: Frames, path: Path, *, index_offset: int = 0) -> None:
    """Every frame is the one on screen at its requested time, per ffprobe and pixels."""
    times = probe_times(path)
    assert len(f) == len(f.requested) == len(f.timestamps)
    for k in range(len(f)):
        want = f.clip_start + f.requested[k]
        on = max(int(np.searchsorted(times, want + 1e-6, side="right")) - 1, 0)
        assert index_of(f.frames[k]) == on + index_offset, (
            f"target {want:.4f}s: got frame {index_of(f.frames[k])}"
        )
        # a real frame time, never after the requested time, within one frame period of it
        assert f.timestamps[k] == pytest.approx(max(times[on] - f.clip_start, 0.0), abs=1e-6)
        if times[on] <= want:
            nxt = times[on + 1] if on + 1 < len(times) else math.inf
            assert times[on] <= want + 1e-6 and want - times[on] < nxt - times[on]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "cfr": encode(d / "cfr.mp4", 120),  # 4 s, 30 fps, GOP 1 s, B-frames
        "vfr": encode(d / "vfr.mp4", 90, vf=VFR),
        "long": encode(d / "long.mp4", 900, gop=60),  # 30 s, GOP 2 s
        "open_gop": encode(d / "open.mp4", 150, gop=25, x264="open-gop=1"),
        "audio": encode(d / "audio.mp4", 60, audio=True),
    }


# ------------------------------------------------------------------------ sample_times


def test_sample_times_paper_rule() -> None:
    # S fps while the clip fits in F/S seconds ...
    assert np.allclose(sample_times(5.0, fps=4, max_frames=32), np.arange(20) / 4)
    assert len(sample_times(5.0, fps=4)) == 20
    assert np.allclose(sample_times(8.0, fps=4, max_frames=32), np.arange(32) / 4)  # exactly F/S
    # ... F frames uniformly (segment mid-points) when it is longer.
    t = sample_times(10.0, fps=4, max_frames=32)
    assert len(t) == 32 and np.allclose(t, (np.arange(32) + 0.5) * 10 / 32)
    assert np.allclose(sample_times(0.26, fps=4), [0.0, 0.25])
    assert np.allclose(sample_times(0.1, fps=4), [0.0])
    assert np.allclose(sample_times(2.0, num_frames=4), [0.25, 0.75, 1.25, 1.75])
    assert np.allclose(sample_times(3.0, num_frames=1), [1.5])
    assert np.allclose(sample_times(3.0, middle=True), [1.5])
    assert all(np.all(np.diff(sample_times(d, fps=4, max_frames=8)) > 0) for d in (0.3, 1.9, 2.0, 2.1, 100.0))


@pytest.mark.parametrize(
    "duration, kwargs",
    [
        (5.0, {}),
        (5.0, {"fps": 4, "num_frames": 8}),
        (5.0, {"fps": 4, "middle": True}),
        (0.0, {"fps": 4}),
        (-1.0, {"fps": 4}),
        (math.nan, {"fps": 4}),
        (math.inf, {"num_frames": 4}),
        (5.0, {"fps": 0}),
        (5.0, {"fps": -2}),
        (5.0, {"fps": 4, "max_frames": 0}),
        (5.0, {"num_frames": 0}),
    ],
)
def test_sample_times_rejects_bad_arguments(duration: float, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        sample_times(duration, **kwargs)


def test_sample_frames_rejects_bad_arguments(videos: dict[str, Path]) -> None:
    p = videos["cfr"]
    for kwargs in (
        {},
        {"max_frames": 8},
        {"fps": 4, "start": 2.0, "end": 1.0},
        {"fps": 4, "start": -1.0},
        {"fps": 4, "size": (1, 2, 3)},
    ):
        with pytest.raises(ValueError):
            sample_frames(p, **kwargs)


# -------------------------------------------------------------------- exact timestamps


@pytest.mark.parametrize("threads", [1, 0])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"fps": 4},
        {"fps": 4, "max_frames": 6},
        {"num_frames": 7},
        {"middle": True},
        {"fps": 60},  # faster than the video: frames repeat, never a later one
        {"fps": 3, "start": 1.01, "end": 3.3},  # off frame boundaries
    ],
)
def test_cfr_timestamps_match_ffprobe(videos: dict[str, Path], kwargs: dict, threads: int) -> None:
    f = sample_frames(videos["cfr"], threads=threads, **kwargs)
    assert f.frames.dtype == np.uint8 and f.frames.shape[1:] == (H, W, 3)
    assert f.video_fps == pytest.approx(30.0)
    assert np.all(np.diff(f.timestamps) >= 0)
    assert_exact(f, videos["cfr"])


def test_short_and_boundary_windows(videos: dict[str, Path]) -> None:
    # 0.26 s at 4 fps: frames at 0 and 0.25 s of the clip (frames 30 and 37 of the video).
    f = sample_frames(videos["cfr"], fps=4, start=1.0, end=1.26)
    assert [index_of(x) for x in f.frames] == [30, 37] and np.allclose(f.timestamps, [0.0, 7 / 30])
    # Exactly F/S seconds: still S fps, not uniform.
    g = sample_frames(videos["cfr"], fps=4, max_frames=8, start=1.0, end=3.0)
    assert [index_of(x) for x in g.frames] == [30 + math.floor(7.5 * k) for k in range(8)]
    # One frame period long window.
    h = sample_frames(videos["cfr"], middle=True, start=2.0, end=2.0 + 1 / 30)
    assert [index_of(x) for x in h.frames] == [60]
    assert_exact(f, videos["cfr"])
    assert_exact(g, videos["cfr"])


def test_cfr_frame_times_are_exact_at_every_frame(videos: dict[str, Path]) -> None:
    times = probe_times(videos["cfr"])
    f = sample_frames(videos["cfr"], fps=30)
    assert len(f) == len(times) == 120
    assert np.allclose(f.timestamps, times, atol=1e-6)
    assert [index_of(x) for x in f.frames] == list(range(120))
    assert np.array_equal(f.indices, np.arange(120))


@pytest.mark.parametrize(
    "kwargs", [{"fps": 4}, {"fps": 7, "start": 0.5, "end": 2.7}, {"num_frames": 9}, {"fps": 50}]
)
def test_vfr_timestamps_match_ffprobe(videos: dict[str, Path], kwargs: dict) -> None:
    times = probe_times(videos["vfr"])
    gaps = np.round(np.diff(times), 3)
    assert len(set(gaps)) >= 3, f"the test video is not variable-frame-rate: {sorted(set(gaps))}"
    assert_exact(sample_frames(videos["vfr"], **kwargs), videos["vfr"])


@pytest.mark.parametrize("threads", [1, 0])
def test_window_of_a_longer_video(videos: dict[str, Path], threads: int) -> None:
    f = sample_frames(videos["long"], fps=4, start=12.3, end=18.0, threads=threads)
    assert len(f) == 23 and f.clip_start == 12.3 and f.clip_end == 18.0
    assert f.timestamps[0] == 0.0  # the frame on screen at 12.3 s began at 12.2667 s
    assert index_of(f.frames[0]) == 369
    assert_exact(f, videos["long"])
    assert_exact(
        sample_frames(videos["long"], num_frames=16, start=3.0, end=27.0, threads=threads), videos["long"]
    )


@pytest.mark.parametrize("start", [0.0, 1.0, 2.9, 3.05, 4.5])
def test_open_gop_windows(videos: dict[str, Path], start: float) -> None:
    # Open GOPs: pictures shown before a keyframe depend on the group before it.
    assert_exact(sample_frames(videos["open_gop"], fps=30, start=start, end=start + 0.5), videos["open_gop"])


def test_edit_list_clip_from_stream_copy(videos: dict[str, Path], tmp_path: Path) -> None:
    # ``-c copy`` starts at the keyframe before 1.5 s and hides the frames before 1.5 s
    # behind an edit list: they must be decoded (references) but never returned.
    out = tmp_path / "copy.mp4"
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-ss",
        "1.5",
        "-i",
        str(videos["long"]),
        "-t",
        "2",
        "-c",
        "copy",
        str(out),
    ]
    subprocess.run(cmd, check=True)
    first = index_of(sample_frames(out, middle=True, start=0.0, end=0.01).frames[0])
    assert first == 45
    for kwargs in ({"fps": 30}, {"fps": 4, "start": 0.5, "end": 1.5}, {"num_frames": 5}):
        assert_exact(sample_frames(out, **kwargs), out, index_offset=first)


@pytest.mark.parametrize(
    "name, args",
    [
        ("x.mkv", ["-c:v", "libx264", "-bf", "3", "-g", "30", "-pix_fmt", "yuv420p"]),
        ("x.ts", ["-c:v", "libx264", "-bf", "3", "-g", "30", "-pix_fmt", "yuv420p"]),
        ("x.webm", ["-c:v", "libvpx-vp9", "-g", "30", "-deadline", "realtime", "-pix_fmt", "yuv420p"]),
        (
            "hevc.mp4",
            [
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=error:keyint=30:open-gop=1",
                "-pix_fmt",
                "yuv420p",
            ],
        ),
    ],
)
def test_other_containers_and_codecs(tmp_path: Path, name: str, args: list[str]) -> None:
    out = tmp_path / name
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        "30",
        "-i",
        "-",
    ]
    proc = subprocess.run([*cmd, *args, str(out)], input=index_frames(240).tobytes(), capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"this ffmpeg cannot encode {name}: {proc.stderr.decode()[-200:]}")
    for kwargs in ({"fps": 30}, {"fps": 4, "start": 3.3, "end": 6.0}, {"num_frames": 6}):
        assert_exact(sample_frames(out, **kwargs), out)


def test_threads_and_repeats_give_identical_frames(videos: dict[str, Path]) -> None:
    a = sample_frames(videos["long"], num_frames=12, threads=1)
    b = sample_frames(videos["long"], num_frames=12, threads=0)
    c = sample_frames(videos["long"], num_frames=12, threads=2)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.frames, c.frames)
    assert np.array_equal(a.timestamps, b.timestamps)


def test_planned_decoding_equals_sequential_fallback(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = sample_frames(videos["long"], fps=2, start=7.7, end=13.0)

    def refuse(self: V._GopPlanner) -> None:
        raise V._Unplannable("forced by the test")

    monkeypatch.setattr(V._GopPlanner, "run", refuse)
    sequential = sample_frames(videos["long"], fps=2, start=7.7, end=13.0)
    assert np.array_equal(planned.frames, sequential.frames)
    assert np.array_equal(planned.timestamps, sequential.timestamps)
    assert_exact(sequential, videos["long"])


# ---------------------------------------------------------------------------- seeking


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The times of the packets the sampler feeds to the decoder (a deterministic cost)."""
    times: list[float] = []
    real = V._GopPlanner._decode

    def counting(self: V._GopPlanner, packet: av.Packet | None) -> None:
        if packet is not None:
            times.append(float(packet.pts * packet.time_base))
        real(self, packet)

    monkeypatch.setattr(V._GopPlanner, "_decode", counting)
    return times


@pytest.fixture
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planned decoding must deliver every frame itself (the sequential fallback would
    hide a planning bug behind correct but slow results)."""

    def refuse(*args: object) -> None:
        raise AssertionError("the planner fell back to sequential decoding")

    monkeypatch.setattr(V, "_decode_sequential", refuse)


@pytest.mark.usefixtures("no_fallback")
def test_seeks_instead_of_decoding_from_the_start(videos: dict[str, Path], fed: list[float]) -> None:
    f = sample_frames(videos["long"], fps=4, start=20.0, end=23.0)
    assert_exact(f, videos["long"])
    # 3 s of a 30 s video (GOP 2 s): only the groups from the keyframe at 20 s are fed.
    assert len(fed) <= 90 and min(fed) >= 20.0 - 1e-6, (len(fed), min(fed))

    fed.clear()
    f = sample_frames(videos["long"], num_frames=4)  # at 3.75, 11.25, 18.75 and 26.25 s
    assert_exact(f, videos["long"])
    # Each target needs at most its group up to itself: 4 partial GOPs, not 900 frames.
    assert len(fed) <= 4 * 60, len(fed)
    assert not [t for t in fed if 5.0 < t < 10.0 or 12.5 < t < 18.0 or 20.0 < t < 26.0]

    fed.clear()
    g = sample_frames(videos["long"], num_frames=3, start=2.0, end=26.0)  # 6, 14 and 22 s: keyframes
    assert_exact(g, videos["long"])
    assert fed == [6.0, 14.0, 22.0]  # each frame is its group's keyframe: nothing else is fed


def test_does_not_decode_the_rest_of_the_file(videos: dict[str, Path], fed: list[float]) -> None:
    sample_frames(videos["long"], fps=4, start=0.0, end=2.5)
    assert max(fed) < 2.5 + 0.2 and len(fed) <= 80


# -------------------------------------------------------------------------- bad files


def _assert_names(err: BaseException, path: Path) -> None:
    assert str(path) in str(err)


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.mp4"
    for call in (
        lambda: sample_frames(p, fps=1),
        lambda: probe_video(p),
        lambda: trim_clip(p, tmp_path / "o.mp4", 0, 1),
    ):
        with pytest.raises(FileNotFoundError) as e:
            call()
        _assert_names(e.value, p)


@pytest.mark.parametrize(
    "kind", ["random", "text", "empty", "directory", "audio_only", "truncated_moov_at_end"]
)
def test_unreadable_files_raise_video_decode_error(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"{kind}.mp4"
    if kind == "random":
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif kind == "text":
        p.write_text("clip_id,domain\nnot,a video\n")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "directory":
        p.mkdir()
    elif kind == "audio_only":
        p = tmp_path / "tone.m4a"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(p)],
            check=True,
        )
    else:
        full = encode(tmp_path / "src.mp4", 60, faststart=False)  # index (moov) written last
        p.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    for call in (lambda: sample_frames(p, fps=2), lambda: probe_video(p)):
        with pytest.raises(VideoDecodeError) as e:
            call()
        _assert_names(e.value, p)
        assert e.value.path == str(p)


def test_truncated_data_is_reported_not_papered_over(tmp_path: Path) -> None:
    full = encode(tmp_path / "src.mp4", 300, gop=30)  # 10 s, index first (faststart)
    p = tmp_path / "cut.mp4"
    data = full.read_bytes()
    mdat = data.index(b"mdat")  # keep the index and the first half of the frames' data
    p.write_bytes(data[: mdat + (len(data) - mdat) // 2])
    assert probe_video(p, decode_check=False).duration == pytest.approx(10.0)  # the header still says 10 s
    with pytest.raises(VideoDecodeError, match="truncated or corrupt") as e:
        sample_frames(p, fps=1)
    _assert_names(e.value, p)
    # The part that is there still decodes exactly.
    assert_exact(sample_frames(p, fps=2, start=0.0, end=2.0), full)


def test_window_past_the_end(videos: dict[str, Path]) -> None:
    with pytest.raises(VideoDecodeError, match="past the end") as e:
        sample_frames(videos["cfr"], fps=1, start=2.0, end=9.0)
    _assert_names(e.value, videos["cfr"])
    with pytest.raises(VideoDecodeError, match="past the end"):
        sample_frames(videos["cfr"], fps=1, start=6.0, end=8.0)
    # Less than the tolerance past the end: the last frame is still on screen.
    f = sample_frames(videos["cfr"], fps=1, start=3.0, end=4.5)
    assert [index_of(x) for x in f.frames] == [90, 119]


def test_corrupt_packets_in_the_middle(tmp_path: Path) -> None:
    full = encode(tmp_path / "src.mp4", 150, gop=30)
    data = bytearray(full.read_bytes())
    rng = np.random.default_rng(1)
    lo, hi = len(data) // 3, 2 * len(data) // 3
    for i in rng.integers(lo, hi, 400):
        data[i] = int(rng.integers(0, 256))
    p = tmp_path / "garbled.mp4"
    p.write_bytes(bytes(data))
    # Either frames come back (FFmpeg conceals errors) or a VideoDecodeError naming the
    # file: never a raw PyAV exception.
    try:
        f = sample_frames(p, fps=4)
    except VideoDecodeError as e:
        _assert_names(e, p)
    else:
        assert len(f) == 20 and f.frames.shape[1:] == (H, W, 3)


# ------------------------------------------------------------------------------ sizes


def test_resize_short_side_and_exact_shape(videos: dict[str, Path]) -> None:
    f = sample_frames(videos["cfr"], fps=2, size=32)
    assert f.frames.shape == (8, 32, 128, 3)
    assert [index_of(x) for x in f.frames] == [0, 15, 30, 45, 60, 75, 90, 105]
    g = sample_frames(videos["cfr"], fps=2, size=(24, 40))
    assert g.frames.shape == (8, 24, 40, 3)
    assert [index_of(x) for x in g.frames] == [0, 15, 30, 45, 60, 75, 90, 105]
    with pytest.raises(ValueError):
        sample_frames(videos["cfr"], fps=2, size=1)


def test_probe_video(videos: dict[str, Path]) -> None:
    info = probe_video(videos["audio"])
    assert (info.width, info.height, info.codec) == (W, H, "h264")
    assert info.fps == pytest.approx(30.0) and info.duration == pytest.approx(2.0, abs=0.05)
    assert info.num_frames == 60 and info.has_audio and info.start_time == 0.0
    assert not probe_video(videos["cfr"]).has_audio


# -------------------------------------------------------------------------- trim_clip


def test_trim_clip_exact_window(videos: dict[str, Path], tmp_path: Path) -> None:
    out = trim_clip(videos["audio"], tmp_path / "clip.mp4", 0.5, 1.5)
    times = probe_times(out)
    assert len(times) == 30 and times[0] == 0.0
    assert np.allclose(np.diff(times), 1 / 30, atol=1e-4)
    f = sample_frames(out, fps=30)
    assert [index_of(x) for x in f.frames] == list(range(15, 45))
    info = probe_video(out)
    assert not info.has_audio and info.duration == pytest.approx(1.0, abs=0.04)


def test_trim_clip_off_boundary_start_keeps_the_frame_on_screen(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    out = trim_clip(videos["cfr"], tmp_path / "clip.mp4", 1.01, 2.0)
    assert probe_times(out)[0] == 0.0
    f = sample_frames(out, fps=30)
    assert index_of(f.frames[0]) == 30 and index_of(f.frames[-1]) == 59


def test_trim_clip_preserves_variable_frame_times(videos: dict[str, Path], tmp_path: Path) -> None:
    src = probe_times(videos["vfr"])
    out = trim_clip(videos["vfr"], tmp_path / "vfr_clip.mp4", 0.6, 2.0)
    got = probe_times(out)
    first = int(np.searchsorted(src, 0.6 + 1e-9, side="right")) - 1
    want = src[(src >= src[first]) & (src < 2.0)]
    assert len(got) == len(want)
    assert np.allclose(got, want - want[0], atol=2e-3)
    f = sample_frames(out, num_frames=5)
    assert_exact(f, out, index_offset=first)


def test_trim_clip_is_deterministic_and_atomic(videos: dict[str, Path], tmp_path: Path) -> None:
    a = trim_clip(videos["long"], tmp_path / "a.mp4", 10.0, 11.0)
    b = trim_clip(videos["long"], tmp_path / "b.mp4", 10.0, 11.0)
    assert a.read_bytes() == b.read_bytes()
    # A failing trim leaves nothing behind: neither the clip nor a temporary file.
    bad = tmp_path / "bad" / "clip.mp4"
    with pytest.raises(VideoDecodeError):
        trim_clip(videos["cfr"], bad, 50.0, 51.0)
    assert not bad.exists() and list(bad.parent.iterdir()) == []
    with pytest.raises(ValueError):
        trim_clip(videos["cfr"], bad, 2.0, 1.0)
    assert not bad.exists()


def test_trim_clip_short_side(videos: dict[str, Path], tmp_path: Path) -> None:
    out = trim_clip(videos["cfr"], tmp_path / "s.mp4", 0.0, 0.5, short_side=32)
    info = probe_video(out)
    assert (info.height, info.width) == (32, 128)


# ------------------------------------------------------------------------ write_video


def test_write_video_round_trip(tmp_path: Path) -> None:
    frames = index_frames(45, start=100)
    out = write_video(tmp_path / "w" / "rt.mp4", iter(frames), 15, crf=10)
    times = probe_times(out)
    assert len(times) == 45 and np.allclose(times, np.arange(45) / 15, atol=1e-4)
    f = sample_frames(out, fps=15)
    assert [index_of(x) for x in f.frames] == list(range(100, 145))
    assert np.abs(f.frames.astype(int) - frames.astype(int)).mean() < 4
    assert write_video(tmp_path / "rt2.mp4", frames, 15, crf=10).read_bytes() == out.read_bytes()


def test_write_video_bytes_do_not_depend_on_uninitialised_memory(tmp_path: Path) -> None:
    """Identical runs used to write different bytes now and then: x264's macroblock-tree rate
    control reads memory it never initialised.  Two processes whose freed heap holds 0x00 and
    0xFF bytes when the encoder opens must write the same file (with mbtree on, 0xFF changed it)."""
    script = (
        "import sys, types, av, numpy as np\n"
        "import videonet_datasets.video as V\n"
        "fill = int(sys.argv[2])\n"
        "def from_ndarray(*a, **k):  # fill freed heap with `fill` right before each frame is made\n"
        "    junk = [bytearray([fill]) * n for n in (4096, 8192, 16384, 27648, 30000, 65536, 131072) * 20]\n"
        "    del junk  # (the first frame's encode opens the encoder on this heap)\n"
        "    return av.VideoFrame.from_ndarray(*a, **k)\n"
        "frames = types.SimpleNamespace(from_ndarray=from_ndarray)\n"
        "V.av = types.SimpleNamespace(open=av.open, codec=av.codec, VideoFrame=frames)\n"
        "y, x = np.mgrid[0:96, 0:96]\n"
        "f = [np.stack([(x * 3 + i) % 256, (y * 2) % 256, (x + y + 7 * i) % 256], -1).astype(np.uint8) for i in range(12)]\n"
        "V.write_video(sys.argv[1], f, 15)\n"
    )
    outs = []
    for fill in (0, 255):
        out = tmp_path / f"{fill}.mp4"
        subprocess.run([sys.executable, "-c", script, str(out), str(fill)], check=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [np.zeros((15, 64, 3), np.uint8)],
        [np.zeros((16, 64), np.uint8)],
        [np.zeros((16, 64, 3), np.float32)],
    ],
)
def test_write_video_rejects_bad_frames_atomically(tmp_path: Path, frames: list[np.ndarray]) -> None:
    out = tmp_path / "x.mp4"
    with pytest.raises(ValueError):
        write_video(out, frames, 10)
    assert list(tmp_path.iterdir()) == []

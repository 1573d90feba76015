"""Real-world files: the sampler against the frames the ``ffmpeg`` CLI shows.

The corpus is generated here with Debian's ffmpeg: the containers (MP4, MOV, MKV, WebM,
MPEG-TS, AVI, GIF), codecs and pixel formats (H.264 8/10-bit 4:2:0/4:4:4, HEVC 10-bit, VP8,
VP9, AV1, MPEG-4 part 2, MPEG-2, MJPEG, ProRes), interlaced material, odd frame sizes,
variable frame rates, stream start offsets (MPEG-TS ~1.4 s, ``-output_ts_offset``, a
broadcast capture cut mid-stream, an edit list) and every display orientation (the
``tkhd`` matrix in its eight quarter-turn/mirror forms, an H.264 orientation SEI).  Frames
are tiny (64x48) and spell their own index in coloured blocks under an asymmetric marker
row, so any frame, and any frame shown the wrong way round, is identified exactly.

For every file the sampler must return, at every requested time of the player's timeline
(seconds from the first displayed frame), the frame the ffmpeg CLI shows at that time
(``-fps_mode passthrough`` and ffprobe's best-effort timestamps): nearest-frame equality
on 4x4-pooled pixels, which tolerates colour-conversion rounding (the CLI is FFmpeg 5.1,
PyAV bundles 7.1) but not a neighbouring frame.  Whole files, windows, and
``trim_clip`` -> ``probe_video`` -> ``sample_frames`` round trips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import set_display_matrix

from videonet_datasets.video import VideoDecodeError, frame_times, probe_video, sample_frames, trim_clip

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg"
)

W, H = 64, 48
FPS = 25
MARKER = 0b00010111  # top block row; reads differently mirrored, flipped or transposed
ON, OFF = (235, 190, 40), (20, 50, 140)
POOL = 4  # pixels per side averaged before frames are compared
SAME = 6.0  # pooled mean absolute difference below which two frames are the same frame


# ------------------------------------------------------------------------ the pictures


def pictures(n: int, w: int = W, h: int = H) -> np.ndarray:
    """``n`` upright RGB frames: block rows ``MARKER``, the index's low and high byte."""
    idx = np.arange(n)
    rows = np.stack([np.full(n, MARKER), idx & 0xFF, (idx >> 8) & 0xFF], axis=1)
    bits = (rows[:, :, None] >> np.arange(8)) & 1  # (n, 3, 8)
    ys = np.minimum(np.arange(h) * 3 // h, 2)
    xs = np.minimum(np.arange(w) * 8 // w, 7)
    on = bits[:, ys][:, :, xs].astype(bool)  # (n, h, w)
    return np.where(on[..., None], np.array(ON, np.uint8), np.array(OFF, np.uint8))


def index_of(img: np.ndarray) -> int | None:
    """The index drawn by :func:`pictures`, or ``None`` when the marker row is not on top
    reading left to right (the frame is not upright)."""
    h, w = img.shape[:2]
    gray = img.astype(np.float64).mean(axis=2)
    ys = ((np.arange(3) + 0.5) * h / 3).astype(int)
    xs = ((np.arange(8) + 0.5) * w / 8).astype(int)
    bits = (gray[np.ix_(ys, xs)] > 110).astype(np.int64)
    rows = (bits << np.arange(8)).sum(axis=1)
    return None if rows[0] != MARKER else int(rows[1] | rows[2] << 8)


def pooled(frames: np.ndarray) -> np.ndarray:
    n, h, w = frames.shape[:3]
    h, w = h // POOL * POOL, w // POOL * POOL
    f = frames[:, :h, :w].astype(np.float32).reshape(n, h // POOL, POOL, w // POOL, POOL, 3)
    return f.mean(axis=(2, 4))


# ---------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    name: str  # file name; the extension picks the container
    args: list[str]  # codec (and muxer) arguments
    inp: list[str] = field(default_factory=list)  # options of the pictures' input
    coded: str | None = None  # filter from the upright pictures to the coded ones
    show: str | None = None  # the display filter ffmpeg >= 6.1 inserts where 5.1's differs
    size: tuple[int, int] = (W, H)
    frames: int = 50
    vf: str | None = None  # timing filter (variable frame rate)
    audio: str | None = None  # audio codec of a sine track
    post: Callable[[Path, Path], None] | None = None  # made from an intermediate file
    first: float | None = None  # expected stream start time of the first displayed frame
    rotation: int = 0
    mirrored: bool = False


def _tkhd_matrix(a: int, b: int, c: int, d: int) -> Callable[[Path, Path], None]:
    """Rewrite the video track's ``tkhd`` display matrix (what phones write)."""

    def post(src: Path, dst: Path) -> None:
        set_display_matrix(src, dst, a, b, c, d)

    return post


def _remux(*args: str) -> Callable[[Path, Path], None]:
    def post(src: Path, dst: Path) -> None:
        _ffmpeg("-i", str(src), "-c", "copy", *args, str(dst))

    return post


def _cut_bytes(fraction: float) -> Callable[[Path, Path], None]:
    """A broadcast capture: the transport stream from an arbitrary packet on."""

    def post(src: Path, dst: Path) -> None:
        data = src.read_bytes()
        cut = int(len(data) // 188 * fraction) * 188
        dst.write_bytes(data[cut:])

    return post


def _copy_trim(start: float, seconds: float) -> Callable[[Path, Path], None]:
    """``-c copy`` from a non-keyframe: hidden frames behind an edit list."""

    def post(src: Path, dst: Path) -> None:
        _ffmpeg("-ss", str(start), "-i", str(src), "-t", str(seconds), "-c", "copy", str(dst))

    return post


X264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p"]
VFR = "settb=1/1000,setpts=(N/25+0.03*floor(N/4)+0.013*floor(N/3))/TB"

CASES = [
    # The issue's three files.
    Case("issue_ts_start.ts", X264, audio="aac", first=1.4),
    Case("issue_mp4_offset10.mp4", [*X264, "-output_ts_offset", "10"], first=10.0),
    Case(
        "issue_phone_rot90.mp4", X264, coded="transpose=cclock", post=_tkhd_matrix(0, 1, -1, 0), rotation=90
    ),
    # Every orientation of the tkhd matrix (ffmpeg 5.1 applies the rotations, not the mirrors).
    Case("rot180.mov", X264, coded="hflip,vflip", post=_tkhd_matrix(-1, 0, 0, -1), rotation=180),
    Case("rot270.mp4", X264, coded="transpose=clock", post=_tkhd_matrix(0, -1, 1, 0), rotation=270),
    Case("hflip.mp4", X264, coded="hflip", show="hflip", post=_tkhd_matrix(-1, 0, 0, 1), mirrored=True),
    Case(
        "vflip.mp4",
        X264,
        coded="vflip",
        show="vflip",
        post=_tkhd_matrix(1, 0, 0, -1),
        rotation=180,
        mirrored=True,
    ),
    Case(
        "transpose.mp4",
        X264,
        coded="transpose=cclock_flip",
        show="transpose=cclock_flip",
        post=_tkhd_matrix(0, 1, 1, 0),
        rotation=270,
        mirrored=True,
    ),
    Case(
        "antitranspose.mp4",
        X264,
        coded="transpose=clock_flip",
        show="transpose=clock_flip",
        post=_tkhd_matrix(0, -1, -1, 0),
        rotation=90,
        mirrored=True,
    ),
    # An H.264 display-orientation SEI (anticlockwise 90 after a mirror) on the first frame
    # only; ffmpeg 5.1 does not apply SEI orientation.
    Case(
        "sei_orientation.mp4",
        X264,
        coded="transpose=cclock_flip",
        show="transpose=cclock_flip",
        post=_remux("-bsf:v", "h264_metadata=display_orientation=insert:rotate=90:flip=horizontal"),
        rotation=270,
        mirrored=True,
    ),
    Case(
        "sei_orientation.ts",
        X264,
        coded="transpose=cclock",
        show="transpose=clock",
        post=_remux("-bsf:v", "h264_metadata=display_orientation=insert:rotate=270"),
        rotation=90,
    ),
    # Start offsets, edit lists, captures.
    Case("offset5.mkv", [*X264, "-output_ts_offset", "5"], first=5.0),
    Case("edit_list.mp4", X264, frames=100, post=_copy_trim(1.3, 2.0)),
    Case(
        "broadcast_cut.ts",
        [*X264[:-4], "-g", "25", "-x264-params", "open-gop=1:repeat-headers=1", "-pix_fmt", "yuv420p"],
        frames=150,
        audio="mp2",
        post=_cut_bytes(0.4),
    ),
    Case("video_after_audio.mp4", X264, inp=["-itsoffset", "0.5"], audio="aac"),
    # Codecs and pixel formats.
    Case("h264_10bit.mp4", [*X264[:-2], "-pix_fmt", "yuv420p10le"]),
    Case("h264_444_odd.mkv", [*X264[:-2], "-pix_fmt", "yuv444p"], size=(63, 47)),
    Case(
        "hevc_10bit.mp4",
        [
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p10le",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error:keyint=12:open-gop=1",
        ],
    ),  # fmt: skip
    Case("vp9_opus.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-g", "12"], audio="libopus"),
    Case("vp9_odd.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-g", "12"], size=(63, 47)),
    Case("vp8.webm", ["-c:v", "libvpx", "-b:v", "300k", "-g", "12"]),
    Case("av1.mp4", ["-c:v", "libaom-av1", "-cpu-used", "8", "-g", "12"]),
    Case("av1_rav1e.mkv", ["-c:v", "librav1e", "-speed", "10"]),
    Case("mpeg4_bframes.avi", ["-c:v", "mpeg4", "-q:v", "3", "-bf", "2", "-g", "12"]),
    Case("h264_bframes.avi", X264),
    Case("mjpeg_odd.mov", ["-c:v", "mjpeg", "-q:v", "3"], size=(63, 47)),
    Case("mjpeg.avi", ["-c:v", "mjpeg", "-q:v", "3"]),
    Case("prores.mov", ["-c:v", "prores_ks", "-profile:v", "3"]),
    Case("interlaced_h264.ts", [*X264, "-flags", "+ildct+ilme", "-x264-params", "tff=1"]),
    Case(
        "interlaced_mpeg2.ts",
        ["-c:v", "mpeg2video", "-q:v", "3", "-flags", "+ildct+ilme", "-top", "1", "-bf", "2"],
    ),
    Case("animated.gif", ["-c:v", "gif"], frames=30),
    # Variable frame rate.
    Case("vfr.mp4", [*X264, "-enc_time_base", "1/1000"], vf=VFR),
    Case("vfr.mkv", [*X264, "-enc_time_base", "1/1000"], vf=VFR),
]


def _ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *args], input=stdin, capture_output=True
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-400:])


def make(case: Case, out: Path) -> Path:
    w, h = case.size
    cmd = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(FPS), *case.inp, "-i", "-"]
    if case.audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={case.frames / FPS}"]
    filters = [f for f in (case.coded, case.vf) if f]
    if filters:
        cmd += ["-vf", ",".join(filters)]
    if case.vf:
        cmd += ["-fps_mode", "passthrough"]
    cmd += case.args
    if case.audio:
        cmd += ["-c:a", case.audio]
    target = out.with_name("pre_" + out.name) if case.post else out
    _ffmpeg(*cmd, str(target), stdin=pictures(case.frames, w, h).tobytes())
    if case.post:
        case.post(target, out)
    return out


@dataclass
class Reference:
    """What the ffmpeg CLI shows: every frame (upright) and its time on the timeline."""

    times: np.ndarray  # seconds from the first displayed frame
    first: float  # the first displayed frame's time in the stream's clock
    frames: np.ndarray
    pooled: np.ndarray

    def on_screen(self, t: float) -> int:
        return max(int(np.searchsorted(self.times, t + 1e-6, side="right")) - 1, 0)


def reference(path: Path, case: Case) -> Reference:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=best_effort_timestamp_time,width,height", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = json.loads(out)["frames"]
    times: list[float] = []
    for row in rows:  # the decoder's last frames can lack a timestamp: one period on
        t = row.get("best_effort_timestamp_time")
        times.append(float(t) if t is not None else times[-1] + 1 / FPS)
    cmd = ["-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough"]
    if case.show:
        cmd = ["-noautorotate", *cmd, "-vf", case.show]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", *cmd, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    w, h = int(rows[0]["width"]), int(rows[0]["height"])
    if case.rotation in (90, 270):
        w, h = h, w
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    assert len(frames) == len(times), (len(frames), len(times))
    t = np.array(times)
    return Reference(t - t[0], float(t[0]), frames, pooled(frames))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Reference] | str]:
    d = tmp_path_factory.mktemp("corpus")
    made: dict[str, tuple[Path, Reference] | str] = {}
    for case in CASES:
        try:
            path = make(case, d / case.name)
        except RuntimeError as e:
            made[case.name] = f"this ffmpeg cannot make {case.name}: {e}"
            continue
        made[case.name] = (path, reference(path, case))
    return made


def _get(corpus: dict, case: Case) -> tuple[Path, Reference]:
    got = corpus[case.name]
    if isinstance(got, str):
        pytest.skip(got)
    return got


def assert_shows(frames, ref: Reference, where: str) -> None:
    """Each returned frame is the frame the CLI shows at its requested time (nearest by
    pooled pixels, and by its drawn index), with that frame's timestamp."""
    got = pooled(frames.frames)
    for k in range(len(frames)):
        want = frames.clip_start + frames.requested[k]
        i = ref.on_screen(want)
        dist = np.abs(ref.pooled - got[k]).reshape(len(ref.pooled), -1).mean(axis=1)
        assert dist[i] < SAME and dist[i] <= dist.min() + 1e-6, (
            f"{where}: at {want:.3f}s expected frame {i} (distance {dist[i]:.2f}), "
            f"nearest is frame {int(dist.argmin())} ({dist.min():.2f})"
        )
        assert index_of(frames.frames[k]) == index_of(ref.frames[i]), f"{where}: frame at {want:.3f}s"
        assert frames.timestamps[k] == pytest.approx(max(ref.times[i] - frames.clip_start, 0.0), abs=2e-3)


# -------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_probe_reports_what_a_player_shows(corpus: dict, case: Case) -> None:
    path, ref = _get(corpus, case)
    info = probe_video(path)
    assert (info.height, info.width) == ref.frames.shape[1:3]
    assert (info.rotation, info.mirrored) == (case.rotation, case.mirrored)
    assert info.start_time == pytest.approx(ref.first, abs=2e-3)
    if case.first is not None:
        assert info.start_time == pytest.approx(case.first, abs=0.1)
    # The timeline runs from the first displayed frame to the end of the last one.
    gaps = np.diff(ref.times)
    assert info.duration == pytest.approx(ref.times[-1] + gaps[-1], abs=gaps.max() + 1e-3)
    assert all(index_of(f) is not None for f in ref.frames), "the reference is not upright"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_frame_times_are_the_players(corpus: dict, case: Case) -> None:
    path, ref = _get(corpus, case)
    assert np.allclose(frame_times(path), ref.times, atol=2e-3)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_frame_matches_ffmpeg(corpus: dict, case: Case) -> None:
    path, ref = _get(corpus, case)
    # Twice the frame rate: every frame comes back (some twice), never a later one.
    f = sample_frames(path, fps=2 * FPS, threads=1)
    assert_shows(f, ref, "whole")
    # Every frame a player shows (a header whose duration ends before the last frame starts
    # hides that frame from every request: the VFR mp4 here, by 4 ms).
    shown = ref.frames[ref.times < probe_video(path).duration]
    assert {index_of(x) for x in f.frames} == {index_of(x) for x in shown}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_windows_match_ffmpeg(corpus: dict, case: Case) -> None:
    path, ref = _get(corpus, case)
    end = float(ref.times[-1])
    for kwargs in (
        {"fps": 4, "start": 0.37, "end": end * 0.8},
        {"num_frames": 5, "start": end * 0.45, "end": end},
        {"middle": True, "start": end * 0.7, "end": end * 0.9},
        {"fps": 3, "start": 0.0, "end": 0.5},
    ):
        assert_shows(sample_frames(path, threads=0, **kwargs), ref, str(kwargs))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_trim_reprobe_resample(corpus: dict, case: Case, tmp_path: Path) -> None:
    path, ref = _get(corpus, case)
    a, b = 0.31, float(ref.times[-1]) * 0.75
    clip = trim_clip(path, tmp_path / "clip.mp4", a, b, threads=1)
    info = probe_video(clip)
    h, w = ref.frames.shape[1:3]
    assert (info.width, info.height) == (w - w % 2, h - h % 2)
    assert (info.rotation, info.mirrored, info.start_time) == (0, False, 0.0)
    first = ref.on_screen(a)
    kept = ref.times[(ref.times >= ref.times[first]) & (ref.times < b)]
    assert info.duration == pytest.approx(b - ref.times[first], abs=np.diff(ref.times).max() + 1e-3)
    # Every frame of the window, upright, at its own time since the clip's first frame.
    f = sample_frames(clip, fps=2 * FPS)
    shown = [index_of(x) for x in f.frames]
    want = [index_of(ref.frames[ref.on_screen(min(ref.times[first] + t, kept[-1]))]) for t in f.requested]
    assert shown == want
    assert len(set(shown)) == len(kept)
    # Re-encoded (CRF 20), not converted twice or turned: close to the source's pixels.
    size = (info.height, info.width)  # (odd sizes are scaled to even ones)
    src = pooled(sample_frames(path, fps=2 * FPS, start=ref.times[first], end=b, size=size).frames)
    n = min(len(src), len(f))
    assert np.abs(pooled(f.frames)[:n] - src[:n]).mean() < SAME
    # A decoder that ignores display matrices shows the clip upright too.
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-noautorotate", "-i", str(clip), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert index_of(np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3)) == shown[0]


# ------------------------------------------------------------ the issue's reproductions


def test_issue_mpeg_ts_window(corpus: dict) -> None:
    path, ref = _get(corpus, CASES[0])
    assert ref.first > 1.3  # the stream's own clock starts at ~1.4 s
    f = sample_frames(path, fps=4, start=0, end=2)
    assert [index_of(x) for x in f.frames] == [0, 6, 12, 18, 25, 31, 37, 43]
    assert np.allclose(f.timestamps, [ref.times[i] for i in (0, 6, 12, 18, 25, 31, 37, 43)])
    g = sample_frames(path, fps=4, start=1.0, end=1.9)
    assert [index_of(x) for x in g.frames] == [25, 31, 37, 43]


def test_issue_mp4_offset_window(corpus: dict) -> None:
    path, _ = _get(corpus, CASES[1])
    f = sample_frames(path, fps=4, start=0.5, end=1.5)
    assert [index_of(x) for x in f.frames] == [12, 18, 25, 31]
    assert np.allclose(f.timestamps, [0.0, 0.22, 0.5, 0.74])


def test_issue_phone_rotation(corpus: dict, tmp_path: Path) -> None:
    path, _ = _get(corpus, CASES[2])
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (W, H, 90)  # stored sideways (48x64)
    f = sample_frames(path, num_frames=3, size=24)
    assert f.frames.shape == (3, 24, 32, 3) and [index_of(x) for x in f.frames] == [8, 25, 41]
    clip = trim_clip(path, tmp_path / "clip.mp4", 0.2, 1.0)
    out = probe_video(clip)
    assert (out.width, out.height, out.rotation) == (W, H, 0)
    assert index_of(sample_frames(clip, middle=True).frames[0]) == 15


# ------------------------------------------------------------------- not videos at all


@pytest.mark.parametrize(
    "name, args, reason",
    [
        ("tone.m4a", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"], "has no video stream"),
        ("tone.opus", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus"], "has no video stream"),
        ("still.png", ["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1"], "still image"),
        ("still.jpg", ["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1"], "still image"),
        (
            "cover.mp3",
            [
                "-f",
                "lavfi",
                "-i",
                "sine=duration=1",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x48:duration=0.1",
                "-map",
                "0",
                "-map",
                "1",
                "-frames:v",
                "1",
                "-c:v",
                "mjpeg",
                "-disposition:v",
                "attached_pic",
            ],
            "only a cover picture",
        ),  # fmt: skip
    ],
)
def test_audio_and_image_files_are_named_errors(
    tmp_path: Path, name: str, args: list[str], reason: str
) -> None:
    p = tmp_path / name
    _ffmpeg(*args, str(p))
    for call in (
        lambda: probe_video(p),
        lambda: sample_frames(p, fps=1),
        lambda: trim_clip(p, tmp_path / "o.mp4"),
    ):
        with pytest.raises(VideoDecodeError, match=reason) as e:
            call()
        assert e.value.path == str(p)
    assert not (tmp_path / "o.mp4").exists()


def _serve(route, root: Path) -> None:
    """A same-origin http server for the page and its videos, with byte ranges so the
    browser can seek (a file:// video would taint the canvas the frames are read from)."""
    data = (root / route.request.url.rsplit("/", 1)[-1]).read_bytes()
    kind = "text/html" if route.request.url.endswith(".html") else "video/mp4"
    wanted = route.request.headers.get("range", "")
    if not wanted.startswith("bytes="):
        route.fulfill(status=200, body=data, headers={"content-type": kind, "accept-ranges": "bytes"})
        return
    first, _, last = wanted[len("bytes=") :].partition("-")
    a, b = int(first or 0), min(int(last) if last else len(data) - 1, len(data) - 1)
    route.fulfill(
        status=206,
        body=data[a : b + 1],
        headers={
            "content-type": kind,
            "accept-ranges": "bytes",
            "content-range": f"bytes {a}-{b}/{len(data)}",
        },
    )


def test_a_browser_shows_the_phone_video_and_its_clip_upright(corpus: dict, browser, tmp_path: Path) -> None:
    """Chromium applies the display matrix as the sampler does, and shows the trimmed clip,
    which has none, upright too."""
    path, _ = _get(corpus, CASES[2])
    shutil.copy(path, tmp_path / "phone.mp4")
    trim_clip(path, tmp_path / "clip.mp4", 0.2, 1.0)
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title><canvas id=c></canvas>")
    page = browser.new_page()
    page.route("http://clips.test/**", lambda route: _serve(route, tmp_path))
    page.goto("http://clips.test/index.html")
    shown = {}
    for name, at in (("phone.mp4", 0.5), ("clip.mp4", 0.42)):  # mid-frame: source frames 12 and 15
        w, h, rgba = page.evaluate(
            """async ([src, at]) => {
                const v = document.createElement('video');
                v.muted = true; v.src = src;
                await new Promise((ok, bad) => { v.onloadeddata = ok; v.onerror = bad; });
                v.currentTime = at;
                await new Promise(ok => { v.onseeked = ok; });
                const c = document.getElementById('c');
                c.width = v.videoWidth; c.height = v.videoHeight;
                const g = c.getContext('2d');
                g.drawImage(v, 0, 0);
                return [v.videoWidth, v.videoHeight, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
            }""",
            [name, at],
        )
        shown[name] = ((w, h), index_of(np.array(rgba, np.uint8).reshape(h, w, 4)[..., :3]))
    page.close()
    assert shown == {"phone.mp4": ((W, H), 12), "clip.mp4": ((W, H), 15)}
    assert index_of(sample_frames(path, middle=True, start=0.48, end=0.52).frames[0]) == 12  # (at 0.5 s)

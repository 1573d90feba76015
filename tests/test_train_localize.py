"""Localizers: the VLM client against a local OpenAI-compatible server, the offline
proposals on generated videos, precomputed windows, and window cleaning."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from chat_server import FakeVLM, ok

from videonet_datasets.train_data.config import BuildConfig
from videonet_datasets.train_data.localize import (
    LocalizeError,
    ProposalConfig,
    ProposalLocalizer,
    VLMConfig,
    VLMLocalizer,
    WindowPolicy,
    WindowsFileLocalizer,
    clean_windows,
    parse_windows,
)
from videonet_datasets.train_data.manifest import VideoRow
from videonet_datasets.train_data.stages import PerceptionContext, observe_localize
from videonet_datasets.video import write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("vlm") / "v.mp4"
    frames = [np.full((32, 32, 3), 10 * i % 250, np.uint8) for i in range(40)]  # 4 s at 10 fps
    return write_video(p, frames, 10)


def row(path: Path, vid: str = "vid1") -> VideoRow:
    return VideoRow(video_id=vid, title="t", domain="Skateboarding", path=str(path))


def localizer(url: str, sleeps: list[float] | None = None, **kw) -> VLMLocalizer:
    cfg = VLMConfig(base_url=url, model="test-vlm", api_key="secret", backoff_seconds=0.5, **kw)
    record: Callable[[float], None] = sleeps.append if sleeps is not None else (lambda s: None)
    return VLMLocalizer(cfg, lambda d: ["kickflip", "ollie"], WindowPolicy(min_seconds=0.3), sleep=record)


# ----------------------------------------------------------------------------- protocol


def test_request_protocol_and_result(video: Path) -> None:
    with FakeVLM(
        [ok('```json\n{"clips": [{"start": 0.5, "end": 1.5}, {"start": "00:02", "end": "3.5s"}]}\n```')]
    ) as srv:
        res = localizer(srv.url).localize(row(video), 4.0)
    assert res.windows == [(0.5, 1.5), (2.0, 3.5)] and res.attempts == 1
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions"
    body = req["body"]
    assert body["model"] == "test-vlm" and body["temperature"] == 0.0
    assert srv.headers[0]["Authorization"] == "Bearer secret"
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    video_items = [c for c in user["content"] if c["type"] == "video_url"]
    assert len(video_items) == 1
    url = video_items[0]["video_url"]["url"]
    assert url.startswith("data:video/mp4;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == video.read_bytes()
    text = " ".join(c["text"] for c in user["content"] if c["type"] == "text")
    assert (
        "Skateboarding action" in text and "4.0 seconds" in text and "kickflip" in text and '"clips"' in text
    )


def test_file_and_frames_transports(video: Path) -> None:
    with FakeVLM([ok("[]"), ok("[[0, 1]]")]) as srv:
        localizer(srv.url, transport="file").localize(row(video), 4.0)
        res = localizer(srv.url, transport="frames", frames_fps=1.0, frame_short_side=32).localize(
            row(video), 4.0
        )
    file_item = srv.requests[0]["body"]["messages"][1]["content"][0]
    assert file_item["video_url"]["url"] == video.resolve().as_uri()
    content = srv.requests[1]["body"]["messages"][1]["content"]
    images = [c for c in content if c["type"] == "image_url"]
    stamps = [c["text"] for c in content if c["type"] == "text"][:-1]
    assert len(images) == 4 and stamps == ["0.0s", "1.0s", "2.0s", "3.0s"]
    assert images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert res.windows == [(0.0, 1.0)]


def test_retries_with_backoff_then_success(video: Path) -> None:
    sleeps: list[float] = []
    script = [
        (500, "upstream error", {}),
        (429, "slow down", {"Retry-After": "3"}),
        (200, {"unexpected": "shape"}, {}),  # not a chat completion
        ok("Sure! Here they are: [[1, 2]]"),
    ]
    with FakeVLM(script) as srv:
        res = localizer(srv.url, sleeps, max_attempts=4).localize(row(video), 4.0)
    assert res.windows == [(1.0, 2.0)] and res.attempts == 4 and len(srv.requests) == 4
    assert sleeps == [0.5, 3.0, 2.0]  # exponential, and Retry-After honoured (capped by backoff_max)


def test_malformed_replies_fail_after_max_attempts_and_are_recorded(video: Path, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with FakeVLM([ok("I cannot watch videos."), ok('{"clips": [{"begin": 1}]}'), ok("")]) as srv:
        with pytest.raises(LocalizeError, match="after 3 attempts") as ei:
            localizer(srv.url, sleeps, max_attempts=3).localize(row(video), 4.0)
    msg = str(ei.value)
    assert (
        "attempt 1: malformed reply" in msg and "attempt 3: malformed reply" in msg and len(srv.requests) == 3
    )
    # in the pipeline the failure becomes a record, not a crash
    with FakeVLM([ok("nope")] * 2) as srv:
        settings = BuildConfig(
            manifest=tmp_path / "m.csv",
            taxonomy=tmp_path / "actions.csv",
            out=tmp_path / "out",
            localizer="vlm",
            vlm=VLMConfig(base_url=srv.url, model="m", max_attempts=2, backoff_seconds=0.0),
        )
        rec = observe_localize(row(video), PerceptionContext(settings, {"Skateboarding": ["ollie"]}))
    assert rec["status"] == "failed" and rec["failure"]["stage"] == "localize"
    assert "malformed reply" in rec["failure"]["reason"]


def test_client_errors_are_not_retried(video: Path) -> None:
    with FakeVLM([(400, {"error": "video too long"}, {}), ok("[]")]) as srv:
        with pytest.raises(LocalizeError, match="HTTP 400"):
            localizer(srv.url, max_attempts=3).localize(row(video), 4.0)
    assert len(srv.requests) == 1


def test_timeouts_are_retried(video: Path) -> None:
    with FakeVLM([("sleep", 1.5), ok("[[0.5, 2.5]]")]) as srv:
        res = localizer(srv.url, timeout_seconds=0.4, max_attempts=2).localize(row(video), 4.0)
    assert res.windows == [(0.5, 2.5)] and res.attempts == 2


def test_oversized_video_is_refused_for_base64(video: Path) -> None:
    with pytest.raises(LocalizeError, match="base64 limit"):
        localizer("http://127.0.0.1:9", max_video_mb=1e-6).localize(row(video), 4.0)


# ----------------------------------------------------------------------------- parsing and cleaning


@pytest.mark.parametrize(
    "reply,expected",
    [
        ('{"clips": []}', []),
        ("[]", []),
        ('[{"start_time": 1, "end_time": 2}]', [(1.0, 2.0)]),
        ('{"windows": [[1, 2], ["0:03", "0:04.5"]]}', [(1.0, 2.0), (3.0, 4.5)]),
        ("<think>maybe [[9, 9]]</think>\n[[1.5, 2]]", [(1.5, 2.0)]),
        ('The clips: ```\n[{"from": "1:00:00", "to": "1:00:02"}]\n``` done', [(3600.0, 3602.0)]),
        ('{"start": 1, "end": 3}', [(1.0, 3.0)]),
    ],
)
def test_parse_windows(reply: str, expected: list) -> None:
    assert parse_windows(reply) == expected


@pytest.mark.parametrize("reply", ["", "no idea", '{"clips": [1, 2, 3]}', '[{"start": 1}]', '[["a", "b"]]'])
def test_parse_windows_rejects(reply: str) -> None:
    with pytest.raises(ValueError):
        parse_windows(reply)


def test_clean_windows_clamps_merges_and_drops() -> None:
    raw = [(-1, 2), (1.5, 3), (3, 4), (5, 4.7), (9, 12), (20, 30), (6.0, 6.1), (float("nan"), 1), (7, 8)]
    windows, notes = clean_windows(raw, 10.0, WindowPolicy(min_seconds=0.5, max_seconds=5))
    assert windows == [(0.0, 3.0), (3.0, 4.0), (7.0, 8.0), (9.0, 10.0)]
    assert notes == {
        "fixed:clamped": 2,
        "fixed:merged": 1,
        "fixed:reversed": 1,
        "dropped:outside_video": 1,
        "dropped:not_a_number": 1,
        "dropped:too_short": 2,  # [4.7, 5] and [6.0, 6.1]
    }
    merged, notes = clean_windows([(0, 1), (1.2, 2)], 5, WindowPolicy(min_seconds=0.1, merge_gap=0.5))
    assert merged == [(0.0, 2.0)] and notes["fixed:merged"] == 1
    long_, notes = clean_windows([(0, 9)], 10, WindowPolicy(max_seconds=5))
    assert long_ == [] and notes["dropped:too_long"] == 1


# ----------------------------------------------------------------------------- offline proposals


def _shots_video(path: Path, shots: list[tuple[float, bool, tuple[int, int, int]]], fps: int = 10) -> Path:
    frames = []
    for seconds, moving, bg in shots:
        n = int(seconds * fps)
        for k in range(n):
            img = np.empty((48, 64, 3), np.uint8)
            img[:] = bg
            x = 20 + int(16 * np.sin(k / 2.0)) if moving else 26
            img[18:30, x : x + 12] = 255 - np.array(bg, np.uint8)
            frames.append(img)
    return write_video(path, frames, fps)


def test_proposals_find_moving_shots_and_skip_still_ones(tmp_path: Path) -> None:
    # still | moving | moving (same brightness, other hue: a cut only the colour test sees) | still
    p = _shots_video(
        tmp_path / "cuts.mp4",
        [
            (1.5, False, (40, 40, 40)),
            (3.0, True, (200, 60, 60)),
            (2.0, True, (60, 60, 200)),
            (1.5, False, (230, 230, 230)),
        ],
    )
    res = ProposalLocalizer().localize(row(p), 8.0)
    assert res.windows == [(1.5, 4.5), (4.5, 6.5)]
    assert res.drops["dropped:still_shot"] == 2


def test_proposals_split_a_still_pause_inside_one_shot_and_long_runs(tmp_path: Path) -> None:
    fps = 10
    frames = []
    for k in range(int(14 * fps)):
        t = k / fps
        img = np.full((48, 64, 3), 90, np.uint8)
        moving = 1.0 <= t < 4.0 or 6.0 <= t < 14.0
        x = 20 + int(16 * np.sin(k / 2.0)) if moving else 26
        img[18:30, x : x + 12] = 240
        frames.append(img)
    p = write_video(tmp_path / "pause.mp4", frames, fps)
    res = ProposalLocalizer(ProposalConfig(segment_seconds=3.0)).localize(row(p), 14.0)
    starts = [w[0] for w in res.windows]
    assert abs(res.windows[0][0] - 1.0) <= 0.2 and abs(res.windows[0][1] - 4.0) <= 0.2
    assert abs(starts[1] - 6.0) <= 0.2 and len(res.windows) >= 3  # the 8 s run is split by Ward
    assert abs(res.windows[-1][1] - 14.0) <= 0.2
    assert all(b[0] >= a[1] for a, b in zip(res.windows, res.windows[1:]))


def test_windows_file_localizer(tmp_path: Path, video: Path) -> None:
    f = tmp_path / "w.jsonl"
    f.write_text(
        json.dumps({"video_id": "vid1", "windows": [[0.5, 1.5], [1.0, 3.0], [3.5, 9]]})
        + "\n"
        + json.dumps({"video_id": "gt", "segments": [{"start": 1, "end": 2, "action": "x"}]})
        + "\n"
    )
    loc = WindowsFileLocalizer(f, WindowPolicy(min_seconds=0.2))
    assert loc.localize(row(video), 4.0).windows == [(0.5, 3.0), (3.5, 4.0)]
    assert loc.localize(row(video, "gt"), 4.0).windows == [(1.0, 2.0)]
    with pytest.raises(LocalizeError, match="no windows"):
        loc.localize(row(video, "missing"), 4.0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"video_id": "a"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        WindowsFileLocalizer(bad)

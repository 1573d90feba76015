"""Action100M as a source of training data: the row format (parquet in the release's schema,
JSONL, the sample's JSON column layout), errors naming file/row/what, the window cut through
the tree, caption lines as word times, ``segment_action_match``, and ``videonet build-train
--source action100m`` on a project-made parquet of silent videos."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from train_world import write_actions

from videonet_datasets.cli import main
from videonet_datasets.publish import stage_dataset
from videonet_datasets.train_data.action100m import (
    Action100MError,
    Node,
    Row,
    caption_transcript,
    read_rows,
    release_schema,
    row_to_dict,
    window_nodes,
    without_na,
    write_parquet,
    write_rows,
)
from videonet_datasets.train_data.config import Action100MConfig, BuildConfig
from videonet_datasets.train_data.filters import ALL_FILTERS, FILTERS, segment_action_labels
from videonet_datasets.train_data.runner import build_train
from videonet_datasets.video import write_video

FPS = 10


def gpt(brief: str, summary: str = "A person on a plain background.") -> dict:
    return {
        "summary": {"brief": summary, "detailed": summary + " Nothing else happens."},
        "action": {
            "brief": brief,
            "detailed": "N/A" if brief == "N/A" else f"{brief} with control.",
            "actor": "N/A" if brief == "N/A" else "a skater",
        },
    }


def make_row(
    uid: str,
    title: str,
    parts: list[tuple[float, float, str | None]],
    transcript: list[tuple[float, str]] = (),
) -> Row:
    """A root over the parts and one child per part; ``None`` leaves a part unannotated."""
    end = parts[-1][1]
    root = Node(f"{uid}-root", None, 0, 0.0, end, gpt("Skate around", "A skater skates."))
    kids = [
        Node(f"{uid}-{i}", root.node_id, 1, a, b, None if text is None else gpt(text))
        for i, (a, b, text) in enumerate(parts)
    ]
    return Row(
        uid, title, [root, *kids], list(transcript), "a video", float(end), "20240101",
        extra_metadata={"view_count": 10, "like_count": 1},
    )  # fmt: skip


# ----------------------------------------------------------------------------- the format


def test_parquet_in_the_release_schema_round_trips(tmp_path: Path) -> None:
    rows = [
        make_row("a1", "kickflips", [(0, 4.5, "Do a kickflip"), (4.5, 9, "N/A")], [(0.5, "hi there")]),
        make_row("a2", "ollies", [(0, 5, None), (5, 10, "Perform an ollie")]),
    ]
    p = write_parquet(tmp_path / "part-0.parquet", rows)
    assert pq.ParquetFile(p).schema_arrow.equals(release_schema())
    back = [r for r, problems in read_rows(p) if not problems]
    assert [r.video_uid for r in back] == ["a1", "a2"]
    assert back[0].nodes == rows[0].nodes and back[0].transcript == [(0.5, "hi there")]
    assert back[0].extra_metadata == {"view_count": 10, "like_count": 1}
    assert back[1].where == f"{p}:2"
    # JSON Lines, and the column layout of the repository's sample (data/<video_uid>.json)
    write_rows(tmp_path / "rows.jsonl", rows)
    d = row_to_dict(rows[1])
    (tmp_path / "sample.json").write_text(json.dumps({k: [v] for k, v in d.items()}))
    for f in ("rows.jsonl", "sample.json"):
        got = [r for r, _ in read_rows(tmp_path / f)]
        assert got[-1] is not None and got[-1].nodes == rows[1].nodes, f


def test_malformed_rows_are_reported_with_file_row_and_what(tmp_path: Path) -> None:
    good = row_to_dict(make_row("ok1", "t", [(0, 4, "Do a kickflip"), (4, 8, "N/A")]))
    bad = []
    r = json.loads(json.dumps(good))
    r["video_uid"] = ""
    bad.append(r)  # row 2
    r = json.loads(json.dumps(good))
    r["video_uid"] = "b3"
    r["nodes"][1]["end"] = -1.0
    r["nodes"][2]["parent_id"] = "nobody"
    bad.append(r)  # row 3: two problems
    r = json.loads(json.dumps(good))
    r["video_uid"] = "b4"
    r["nodes"][1]["gpt"]["action"]["actor"] = ""
    r["metadata"]["transcript"] = [{"time": "5", "text": "b"}, {"time": "1", "text": "a"}]
    bad.append(r)  # row 4: two problems
    r = json.loads(json.dumps(good))
    r["video_uid"] = "b5"
    r["nodes"][2]["start"] = 9.0
    r["nodes"][2]["end"] = 12.0
    bad.append(r)  # row 5: a child outside its parent
    dup = json.loads(json.dumps(good))  # row 6: the same video twice
    p = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([good, *bad, dup], schema=release_schema()), p)
    results = list(read_rows(p))
    assert [r is not None for r, _ in results] == [True, False, False, False, False, False]
    text = "\n".join(str(x) for _, problems in results for x in problems)
    for expected in (
        f"{p}:2: video_uid='': video_uid must be a non-empty string",
        f"{p}:3: nodes.start/end='0.0..-1.0': [b3] node 2: needs 0 <= start < end",
        f"{p}:3: nodes.parent_id='nobody': [b3] node ok1-1: parent_id names no node of this row",
        f"{p}:4: nodes.gpt: [b4] node 2 (ok1-0): gpt.action.actor must be a non-empty string",
        f"{p}:4: metadata.transcript='1': [b4] transcript line 2 starts at 1 s, before the line above it (5 s)",
        f"{p}:5: nodes.start/end: [b5] node ok1-1: [9, 12] s is outside its parent's [0, 8] s",
        f"{p}:6: video_uid='ok1': video_uid repeats the row at {p}:1",
    ):
        assert expected in text, (expected, text)
    # A file that is not parquet, or lacks a column, is one problem naming the file.
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    [(row, [problem])] = list(read_rows(tmp_path / "junk.parquet"))
    assert row is None and str(problem).startswith(
        f"{tmp_path / 'junk.parquet'}: not a readable parquet file"
    )
    pq.write_table(pa.table({"video_uid": ["x"]}), tmp_path / "cols.parquet")
    [(_, [problem])] = list(read_rows(tmp_path / "cols.parquet"))
    assert "missing column(s) metadata, nodes" in str(problem)
    (tmp_path / "lines.jsonl").write_text(json.dumps(good) + "\n{broken\n")
    assert [str(p) for _, ps in read_rows(tmp_path / "lines.jsonl") for p in ps] == [
        f"{tmp_path / 'lines.jsonl'}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    ]


def test_window_nodes_finest_annotated_or_a_level_cut() -> None:
    n = [
        Node("r", None, 0, 0, 20, gpt("x")),
        Node("a", "r", 1, 0, 12, gpt("x")),
        Node("b", "r", 1, 12, 20),  # not annotated, no annotated descendant
        Node("a1", "a", 2, 0, 5, gpt("x")),
        Node("a2", "a", 2, 5, 12, gpt("x")),
        Node("a2x", "a2", 3, 5, 7),  # too short to be annotated
        Node("a2y", "a2", 3, 7, 12),
    ]
    assert [x.node_id for x in window_nodes(n)] == ["a1", "a2"]
    assert [x.node_id for x in window_nodes(n, 1)] == ["a", "b"]
    assert [x.node_id for x in window_nodes(n, 3)] == ["a1", "a2x", "a2y", "b"]  # leaves above the level
    na = [Node("x", None, 0, 0, 5, gpt("N/A")), Node("y", None, 0, 5, 9, gpt("Do an ollie")), n[2]]
    kept, dropped = without_na(na)
    assert [k.node_id for k in kept] == ["y", "b"] and dropped == 1  # unannotated: no evidence, kept


def test_caption_lines_become_words_with_interpolated_times() -> None:
    lines = [(0.0, "[Music]"), (3.0, "now a  kickflip"), (4.0, "and then"), (30.0, "bye")]
    t = caption_transcript(lines, 32.0)
    assert [w.text for w in t.words] == ["now", "a", "kickflip", "and", "then", "bye"]
    starts = {w.text: w.start for w in t.words}
    # "now a kickflip" lasts until the next line (1 s): its words share it by length
    assert starts["now"] == 3.0 and starts["a"] == pytest.approx(3.0 + 4 / 14, abs=1e-3)
    assert starts["kickflip"] == pytest.approx(3.0 + 6 / 14, abs=1e-3)
    # "and then" is followed by 26 s of silence: at most 0.6 s per word, not stretched
    then = next(w for w in t.words if w.text == "then")
    assert then.end == pytest.approx(4.0 + 1.2, abs=1e-3)
    assert t.has_audio and t.backend == "action100m-captions"
    assert caption_transcript([], 10.0).words == []


def test_segment_action_match_labels_windows_described_by_one_action() -> None:
    segs = [
        {"start": 0.0, "end": 4.0, "actions": ["kickflip"], "na": False},
        {"start": 0.2, "end": 3.5, "actions": ["kickflip"], "na": False},  # a child within T
        {"start": 4.0, "end": 8.0, "actions": ["kickflip", "ollie"], "na": False},
        {"start": 8.0, "end": 12.0, "actions": [], "na": True},
        {"start": 12.0, "end": 16.0, "actions": [], "na": False},
        {"start": 16.0, "end": 20.0, "actions": ["ollie"], "na": False},
        {"start": 16.5, "end": 19.0, "actions": ["manual"], "na": False},  # disagrees within T
    ]
    windows = [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 24)]
    labels, drops = segment_action_labels(windows, segs, T=1.0)
    assert labels == ["kickflip", None, None, None, None, None]
    assert drops == {
        "segment_action_match:several_actions_named": 2,
        "segment_action_match:not_an_action": 1,
        "segment_action_match:no_action_named": 1,
        "segment_action_match:no_annotated_segment": 1,
    }
    assert segment_action_labels(windows[4:5], segs, T=0.0)[0] == ["ollie"]  # T=0: only exact ends


# ----------------------------------------------------------------------------- the ingest


def _silent_video(path: Path, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(int(seconds * FPS)):
        img = np.full((32, 48, 3), rng.integers(40, 200, 3), np.uint8) if k % 40 == 0 else frames[-1].copy()
        img[10:20, (k * 2) % 36 : (k * 2) % 36 + 10] = 255
        frames.append(img)
    return write_video(path, frames, FPS)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A project-made Action100M-format folder: a parquet of 7 rows, one of them malformed, and
    a ``videos`` folder beside it holding 4 of the 6 videos that belong to a domain."""
    root = tmp_path_factory.mktemp("a100m")
    write_actions(root)
    rows = [
        # the title names one action, the speech names it in the first segment, whose text does too
        make_row("sk1", "My first kickflip", [(0, 4, "Perform a kickflip"), (4, 8, "Stand still")],
                 [(0.5, "watch this kickflip"), (5.0, "that was fun")]),
        # no speech: only the segment texts label it (an ollie, and a segment naming two actions)
        make_row("sk2", "skateboarding session", [(0, 4, "Do an ollie"), (4, 8, "Do a kickflip, then a manual")]),
        # juggling, put in the domain by its action texts alone
        make_row("ju1", "weekend practice", [(0, 4.5, "Juggle a cascade"), (4.5, 9, "N/A")]),
        make_row("ju2", "Juggling: the shower", [(0, 5, "Juggle a shower pattern"), (5, 10, None)],
                 [(1.0, "the shower goes like this")]),
        make_row("sk3", "kickflip fail", [(0, 4, "Perform a kickflip"), (4, 8, "N/A")]),  # no video file
        make_row("ju3", "juggling mills mess", [(0, 4, "Juggle a mills mess"), (4, 8, "N/A")]),  # no file
        make_row("cook", "pasta recipe", [(0, 4, "Stir the sauce"), (4, 8, "Boil water")]),  # no domain
    ]  # fmt: skip
    data = [row_to_dict(r) for r in rows]
    broken = row_to_dict(make_row("bad", "a kickflip", [(0, 4, "x"), (4, 8, "y")]))
    broken["nodes"][1]["level"] = 5
    data.insert(3, broken)  # row 4 of the file
    pq.write_table(pa.Table.from_pylist(data, schema=release_schema()), root / "rows.parquet")
    (root / "videos").mkdir()
    for i, (uid, seconds) in enumerate([("sk1", 8), ("sk2", 8), ("ju1", 9), ("ju2", 10)]):
        _silent_video(root / "videos" / f"{uid}.mp4", seconds, i)
    (root / "videos" / "sk2.webm").write_bytes(b"")  # a worse suffix: the mp4 is preferred
    return root


def _settings(root: Path, out: Path, **kw) -> BuildConfig:
    return BuildConfig(
        manifest=root / "rows.parquet", taxonomy=root / "actions.csv", out=out, source="action100m",
        workers=1, shard_size=2, progress=False, **kw,
    )  # fmt: skip


def test_malformed_rows_stop_the_build_listing_file_and_row(release: Path, tmp_path: Path) -> None:
    with pytest.raises(Action100MError) as e:
        build_train(_settings(release, tmp_path / "out", action100m=Action100MConfig(download=False)))
    assert (
        f"{release / 'rows.parquet'}:4: nodes.level: [bad] node bad-0: level 5 but its parent's level is 0"
        in (str(e.value))
    )
    assert not (tmp_path / "out" / "README.md").exists()


def test_ingest_labels_clips_through_the_existing_stages(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = Action100MConfig(download=False, skip_invalid_rows=True)
    rep = build_train(_settings(release, out, action100m=cfg))
    c = rep.counts
    assert c["action100m:rows"] == 8 and c["action100m:invalid_rows"] == 1
    assert c["action100m:domain_named"] == 3  # sk2, ju2, ju3 name their domain
    assert c["action100m:domain_actions"] == 3 and c["action100m:domain_unrelated"] == 1
    assert c["action100m:videos_kept"] == 6 == c["videos:in"]
    assert c["action100m:videos_local"] == 4 and c["action100m:videos_not_local"] == 2
    assert c["failed:input"] == 2 and c["videos:with_windows"] == 4
    assert c["asr:videos"] == 4 and c["asr:compute_ms"] == 0  # caption lines: no recognizer ran
    got = {
        f: sorted(
            (r["source_video_id"], r["action"], r["source_start"], r["source_end"]) for r in _table(out, f)
        )
        for f in ALL_FILTERS
    }
    assert got["segment_action_match"] == [
        ("ju1", "cascade", 0.0, 4.5),
        ("ju2", "shower", 0.0, 5.0),
        ("sk1", "kickflip", 0.0, 4.0),
        ("sk2", "ollie", 0.0, 4.0),
    ]
    assert got["transcript_localized"] == [("ju2", "shower", 0.0, 5.0), ("sk1", "kickflip", 0.0, 4.0)]
    assert got["transcript_localized_title_match"] == [
        ("ju2", "shower", 0.0, 5.0),
        ("sk1", "kickflip", 0.0, 4.0),
    ]
    assert got["single_action"] == [("ju2", "shower", 0.0, 5.0)]  # its only annotated segment
    assert c["segment_action_match:several_actions_named"] == 1
    assert c["windows:dropped:not_an_action"] == 1  # ju1's "N/A" segment is not a candidate clip
    assert c["segment_action_match:no_action_named"] == 1
    # every skipped item is accounted for, and the data's license travels with it
    failures = [json.loads(x) for x in (out / ".build" / "failures.jsonl").read_text().splitlines()]
    reasons = sorted(f["reason"] for f in failures)
    assert any(":4: nodes.level" in r for r in reasons), reasons
    assert sum("no local video file" in r for r in reasons) == 2, reasons
    card = (out / "README.md").read_text()
    assert "license_name: fair-noncommercial-research-license" in card
    assert "word times are interpolated" in card and "Segment Action Match" in card
    assert "Action100M rows read" in rep.summary and "invalid 1" in rep.summary
    # publishing keeps the license fields and knows the fourth config
    bundle = stage_dataset(out, "train", "my-org/a100m-train", tmp_path / "bundle", progress=False)
    assert bundle.report.ok and not bundle.report.warnings, bundle.report.format()
    assert (
        "license_link: https://github.com/facebookresearch/Action100M"
        in (bundle.root / "README.md").read_text()
    )
    # a rerun resumes from the recorded shards: nothing is localized again
    first = {f: _table(out, f) for f in ALL_FILTERS}
    rep2 = build_train(_settings(release, out, action100m=cfg))
    assert {f: _table(out, f) for f in ALL_FILTERS} == first
    assert rep2.counts["shards:resumed"] == rep2.counts["shards:total"] == 3


def test_videos_not_on_disk_go_through_the_download_stage(release: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _silent_video(site / "sk3.mp4", 8, 7)  # ju3 is not on the site: a 404, counted
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{{video_uid}}.mp4"
        cfg = Action100MConfig(skip_invalid_rows=True, url_template=url)
        rep = build_train(_settings(release, tmp_path / "out", action100m=cfg), download_only=True)
    finally:
        server.shutdown()
        server.server_close()
    c = rep.counts
    assert c["videos:in"] == 6 and c["download:ok"] == 1 and c["download:failed_permanent"] == 1, c
    assert [f["video_id"] for f in rep.failures if f.get("status") == "failed"] == ["ju3"]


def test_cli_build_train_source_action100m(release: Path, tmp_path: Path, capsys) -> None:
    args = ["build-train", "--source", "action100m", str(release / "rows.parquet"), "--actions",
            str(release / "actions.csv"), "--out", str(tmp_path / "out"), "--no-download", "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert "rows.parquet:4: nodes.level" in capsys.readouterr().err
    assert main([*args, "--skip-invalid-rows", "--segment-level", "1", "--keep-na-windows"]) == 0
    assert "segment_action_match" in capsys.readouterr().out
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["counts"]["segment_action_match:labeled"] == 4
    assert stats["counts"]["segment_action_match:not_an_action"] == 1  # kept, then not labeled
    assert main([*args, "--localizer", "vlm"]) == 2
    assert "--localizer does not apply" in capsys.readouterr().err


def _table(out: Path, config: str) -> list[dict]:
    files = sorted((out / "data" / config).glob("train-*.parquet"))
    return sorted((r for f in files for r in pq.read_table(f).to_pylist()), key=lambda r: r["clip_uid"])


def test_the_three_paper_filters_stay_the_default() -> None:
    assert ALL_FILTERS[: len(FILTERS)] == FILTERS and ALL_FILTERS[-1] == "segment_action_match"

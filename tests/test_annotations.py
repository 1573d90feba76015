"""The annotation validator reports every defect, each with file, line and value."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import ffmpeg, set_display_matrix

from videonet_datasets.annotations import AnnotationError, load_annotations, validate_annotations
from videonet_datasets.cli import main


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_valid_directory_loads(annotation_dir: Path) -> None:
    ann = load_annotations(annotation_dir)
    assert len(ann.actions) == 4
    assert len(ann.clips) == 20
    assert ann.domains == ["Domain 0"]
    a0 = ann.actions[("Domain 0", "move 0-0")]
    assert a0.subdomain == "jump"
    assert ann.actions[("Domain 0", "move 0-1")].subdomain == "action"  # empty -> default
    clips = ann.clips_of("Domain 0", "move 0-0")
    assert [c.index for c in clips] == [1, 2, 3, 4, 5]
    assert clips[0].end is None and clips[0].duration == pytest.approx(1.0, abs=0.05)
    assert clips[4].start == 1.0 and clips[4].duration == pytest.approx(1.0)
    assert ann.negatives[("Domain 0", "move 0-0")] == ("move 0-1", "move 0-2", "move 0-3")


def test_every_defect_is_reported_together(annotation_dir: Path, tmp_path: Path) -> None:
    root = annotation_dir
    # actions.csv: a duplicate action and a domain in two categories
    acts = _rows(root / "actions.csv")
    acts.append(["Sports", "Domain 0", "move 0-0", "", "dup"])
    acts.append(["Dance", "Domain 0", "move 0-9", "", "other category"])
    _write(root / "actions.csv", acts)
    # hard_negatives.csv: misspelt negative, self negative, repeated negative, unknown action
    negs = _rows(root / "hard_negatives.csv")
    negs[1][2] = "move 0-I"  # line 2: misspelt
    negs[2][3] = negs[2][1]  # line 3: its own negative
    negs[3][4] = negs[3][2]  # line 4: repeated
    negs.append(["Domain 0", "no such move", "move 0-0", "move 0-1", "move 0-2"])
    _write(root / "hard_negatives.csv", negs)
    # clips.csv: duplicate id, end<=start, past the duration, too long, missing file,
    # corrupt file, escaping path, unknown action, unknown domain, bad number
    clips = _rows(root / "clips.csv")
    (root / "videos" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"x")
    clips[1][0] = clips[2][0]  # line 2 duplicates line 3's id
    clips[6][4], clips[6][5] = "0.8", "0.5"  # line 7: end <= start
    clips[7][5] = "9.0"  # line 8: window past the 1 s video
    clips[8][5] = "400"  # line 9: longer than 5 minutes
    clips[9][3] = "videos/missing.mp4"  # line 10
    clips[11][3] = "videos/corrupt.mp4"  # line 12
    clips[12][3] = "../outside.mp4"  # line 13: escapes
    clips[13][2] = "move 0-7"  # line 14: unknown action
    clips[14][1] = "Domain 9"  # line 15: unknown domain
    clips[15][4] = "abc"  # line 16: not a number
    _write(root / "clips.csv", clips)

    ann, problems = validate_annotations(root)
    assert ann is None
    text = "\n".join(map(str, problems))
    expect = [
        "actions.csv:6: action='move 0-0': duplicate action (first on line 2)",
        "actions.csv:7: category='Dance': domain 'Domain 0' is in category 'Sports'",
        "hard_negatives.csv:2: negative_1='move 0-I': not an exact action name of 'Domain 0' (did you mean",
        "hard_negatives.csv:3: negative_2='move 0-1': an action cannot be its own negative",
        "hard_negatives.csv:4: negative_3='move 0-3': repeats negative_1",
        "hard_negatives.csv:6: action='no such move': not an action of 'Domain 0'",
        "clips.csv:3: clip_id='d0a0c1': duplicate clip id (first on line 2)",
        "clips.csv:7: end='0.5': end must be greater than start (0.8)",
        "clips.csv:8: end='9': window ends past the end of the video",
        "clips.csv:9: end='400': clip lasts 400.0s; VideoNet clips are at most 300s",
        "clips.csv:10: video='videos/missing.mp4': video file not found",
        "clips.csv:12: video='videos/corrupt.mp4': cannot decode video",
        "clips.csv:13: video='../outside.mp4': relative path escapes the annotation directory",
        "clips.csv:14: action='move 0-7': not an action of 'Domain 0'",
        "clips.csv:15: domain='Domain 9': unknown domain",
        "clips.csv:16: start='abc': not a number of seconds",
        "has 4 valid clip(s); VideoNet needs 5",
    ]
    for e in expect:
        assert e in text, f"missing: {e}\n--- got:\n{text}"
    with pytest.raises(AnnotationError) as err:
        load_annotations(root)
    assert "clips.csv:13" in str(err.value)


def test_windows_are_checked_on_the_player_timeline(annotation_dir: Path) -> None:
    """A broadcast capture (MPEG-TS, its clock starting at ~1.4 s), an MP4 shifted by 10 s
    and a phone video stored sideways: windows count from the first displayed frame, so
    a window past the end is caught even where the stream's own clock runs further."""
    root = annotation_dir
    src = root / "videos" / "d0a0c4_src.mp4"  # 3 s
    ffmpeg("-i", str(src), "-c", "copy", str(root / "videos" / "capture.ts"))
    ffmpeg("-i", str(src), "-c", "copy", "-output_ts_offset", "10", str(root / "videos" / "shifted.mp4"))
    set_display_matrix(src, root / "videos" / "phone.mp4", 0, 1, -1, 0)
    clips = _rows(root / "clips.csv")
    clips[5][3:6] = ["videos/capture.ts", "2.0", "2.9"]  # line 6: fine
    clips[6][3:6] = ["videos/capture.ts", "2.5", "4.0"]  # line 7: past the end (the TS clock says 4.4 s)
    clips[7][3:6] = ["videos/shifted.mp4", "1.0", "2.5"]  # line 8: fine
    clips[8][3:6] = ["videos/shifted.mp4", "8.0", "9.0"]  # line 9: past the end (the clock says 13 s)
    clips[9][3:6] = ["videos/phone.mp4", "0.5", "3.0"]  # line 10: fine
    _write(root / "clips.csv", clips)
    _, problems = validate_annotations(root)
    text = "\n".join(map(str, problems))
    assert "clips.csv:7: end='4': window ends past the end of the video (3.000s)" in text, text
    assert "clips.csv:9: start='8': start is past the end of the video (3.000s)" in text, text
    assert not [p for p in problems if p.line in (6, 8, 10)], text


def test_missing_files_and_columns(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    _, problems = validate_annotations(root)
    files = {p.file for p in problems}
    assert {"actions.csv", "hard_negatives.csv", "clips.csv"} <= files
    (root / "actions.csv").write_text("category,domain,action\nA,B,C\n")
    _, problems = validate_annotations(root)
    assert any("missing column(s) subdomain, definition" in str(p) for p in problems)


def test_more_than_five_clips_is_a_warning(annotation_dir: Path) -> None:
    clips = _rows(annotation_dir / "clips.csv")
    extra = list(clips[1])
    extra[0] = "extra"
    clips.append(extra)
    _write(annotation_dir / "clips.csv", clips)
    ann = load_annotations(annotation_dir)
    assert any("has 6 clips" in str(w) for w in ann.warnings)


def test_negatives_optional_before_mining(annotation_dir: Path) -> None:
    (annotation_dir / "hard_negatives.csv").unlink()
    with pytest.raises(AnnotationError):
        load_annotations(annotation_dir)
    ann = load_annotations(annotation_dir, require_negatives=False)
    assert ann.negatives == {}


def test_cli_validate_exit_codes(annotation_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(annotation_dir)]) == 0
    assert "OK: 1 categories, 1 domains, 4 actions, 20 clips" in capsys.readouterr().out
    clips = _rows(annotation_dir / "clips.csv")
    clips[3][5] = "0"
    _write(annotation_dir / "clips.csv", clips)
    assert main(["validate", str(annotation_dir)]) == 1
    out = capsys.readouterr().out
    assert "clips.csv:4: end='0': end must be greater than start (0)" in out
    assert "INVALID: 2 error(s)" in out

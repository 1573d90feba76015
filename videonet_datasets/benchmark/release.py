"""The official VideoNet release, read as published.

The authors publish the benchmark's questions as six JSON-lines files (``RAIVNLab/VideoNet``
on GitHub, and the gated ``raivn/VideoNet`` on the Hub, which also holds the clips)::

    RELEASE/benchmarks/mcq_test.jsonl, mcq_val.jsonl, binary_{0,1,2,3}shot.jsonl
    RELEASE/videos/<uuid>.mp4                 (or wherever $VN_VIDEOS_DIR points)

Each line is ``{"key", "question": [{"type": "text", "text"} | {"type": "video", "video":
"<uuid>.mp4"}, ...], "answer"}``.  Keys: ``<id>-mcq-val-1``, ``<id>-mcq-test-<n>`` (multiple
choice, ``<id>`` the action's number), ``<id>-pos-<n>`` / ``<id>-neg-<n>`` (binary; the same
keys in every k-shot file).

:func:`read_release` parses and checks every line (a broken line is reported with its file
and line; all of them at once).  It tolerates what the real files do: names written by hand
(Title Case with articles and plurals in binary prompts - "Recall that Crossovers are an
action in Figure Skating" - lower case in MC options), any subdomain word ("is a Penalty in
American Football"), wrong options from another domain.  :meth:`Release.rows` turns the
questions into this toolkit's benchmark rows *as published*: the key is ``question_id``,
options and their order, answers, binary pairs, in-context clips and the stored prompt text
(``question``) are the file's.  :meth:`Release.recovered_tables` recovers annotation tables
(actions, hard negatives = each action's MC wrong options, clips in order) for analysis and
rebuilding.  :func:`import_release` writes a benchmark directory with both, the clips linked
or copied byte for byte (never re-encoded).

What the release does not contain: definitions (empty; the definition ablation refuses to
run on it), categories (taken from the paper's domain table, Table 9; ``--categories`` for
others), source videos and windows (the clips are already trimmed).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
from collections import Counter, OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets import __version__
from videonet_datasets.annotations import (
    ACTIONS_COLUMNS,
    CLIPS_COLUMNS,
    CROSS_DOMAIN_SEP,
    DEFAULT_SUBDOMAIN,
    NEGATIVES_COLUMNS,
    Action,
    AnnotationSet,
    Clip,
)
from videonet_datasets.benchmark.schema import LETTERS, MC_CONFIG, binary_config, data_file
from videonet_datasets.fsutil import atomic_write_json, atomic_write_text, sha256_file, swap_in_directory
from videonet_datasets.prompts import names_its_actions

log = logging.getLogger(__name__)

__all__ = [
    "BINARY_FILES",
    "ENV_VIDEOS",
    "MC_FILES",
    "PAPER_DOMAIN_CATEGORIES",
    "ImportSummary",
    "Release",
    "ReleaseFormatError",
    "import_release",
    "is_release_dir",
    "parse_key",
    "read_release",
]

# Paper Table 9: domain -> category.
PAPER_DOMAIN_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(["Hairstyling", "Spa Massage", "Tattooing"], "Beauty & Self Care"),
    **dict.fromkeys(
        [
            "Calligraphy",
            "Crochet",
            "Hand Sewing / Embroidery",
            "Knots",
            "Painting",
            "Pottery",
            "Woodworking / Whittling",
        ],
        "Crafts & Art",
    ),
    **dict.fromkeys(["Ballet", "Bharatanatyam", "Break Dance", "Salsa", "Tap Dance"], "Dance"),
    **dict.fromkeys(["Bartending", "Coffee", "Cooking"], "Food & Beverage"),
    **dict.fromkeys(
        ["Bouldering", "Gardening", "Gym", "Juggling", "Parkour", "Pen Spinning", "Skateboarding", "Yo-yo"],
        "Hobbies",
    ),
    **dict.fromkeys(["Neurological Abnormalities", "Neurological Assessments", "Suturing"], "Medical"),
    **dict.fromkeys(
        [
            "American Football",
            "Basketball",
            "Cheerleading",
            "Cricket",
            "Figure Skating",
            "Ice Hockey",
            "Soccer",
            "Tennis",
        ],
        "Sports",
    ),
}

#: file -> (config, split) of the multiple-choice files.
MC_FILES: dict[str, str] = {"mcq_test.jsonl": "test", "mcq_val.jsonl": "validation"}
#: file -> k of the binary files.
BINARY_FILES: dict[str, int] = {f"binary_{k}shot.jsonl": k for k in range(4)}
#: The authors' variable for "the folder that holds the release's mp4 files".
ENV_VIDEOS = "VN_VIDEOS_DIR"

_KEY_RE = re.compile(r"(?P<id>[A-Za-z0-9_]+)-(?:mcq-(?P<split>val|test)|(?P<kind>pos|neg))-(?P<n>[0-9]+)")
# "Figure Skating actions"; a domain named by its actions has no "actions" ("Knots")
_MC_HEAD_RE = re.compile(r"Which of the following (?P<domain>.+?)(?: actions)? is shown in the video\?")
_OPTION_RE = re.compile(r"(?P<letter>[A-Z])\.\s+(?P<name>\S.*?)\s*")
_ZERO_RE = re.compile(
    r"Recall that (?P<np>.+?) (?P<be>is|are) (?:(?:an?|the) )?(?P<sub>.+?)(?: in (?P<domain>[^.?]+?))?\.\s+"
    r"Does the following video show (?P<np2>.+?)\?"
)
_KSHOT_RE = re.compile(
    r"The following (?:video shows?|(?P<count>\w+) videos show) (?P<np>.+), which (?P<be>is|are) "
    r"(?:(?:an?|the) )?(?P<sub>.+?)(?: in (?P<domain>[^.?]+?))?\.(?:\s|$)"
)
_KSHOT_QUESTION_RE = re.compile(
    r"Now consider the following video\. (?:Does it also show|Is it also) (?P<np>.+?)\?"
)
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ARTICLE_RE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)
_MAX_LISTED = 50


class ReleaseFormatError(ValueError):
    """Release files that are not the official format; names every broken file and line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(problems) == 1:
            super().__init__(problems[0])
            return
        shown = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        super().__init__(f"{len(problems)} problems in the release:\n  {shown}{more}")


def parse_key(key: str) -> tuple[str, str, int] | None:
    """``"29-neg-2"`` -> ``("29", "neg", 2)``; ``"32-mcq-val-1"`` -> ``("32", "mcq-val", 1)``."""
    m = _KEY_RE.fullmatch(key) if isinstance(key, str) else None
    if not m:
        return None
    kind = f"mcq-{m.group('split')}" if m.group("split") else m.group("kind")
    return m.group("id"), kind, int(m.group("n"))


def is_release_dir(path: str | os.PathLike) -> bool:
    """A folder in the release's layout: ``benchmarks/`` holding at least one question file."""
    bench = Path(path) / "benchmarks"
    return bench.is_dir() and any((bench / f).is_file() for f in (*MC_FILES, *BINARY_FILES))


# ----------------------------------------------------------------------------- parsed questions


@dataclass(frozen=True)
class Line:
    """One question as stored, and where."""

    file: str
    line: int
    key: str
    action_id: str
    kind: str  # "mcq-val" | "mcq-test" | "pos" | "neg"
    n: int
    question: tuple[dict[str, Any], ...]  # entries with both "text" and "video" keys (one None)
    answer: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class MCQuestion:
    line: Line
    domain: str
    options: tuple[str, ...]
    answer_index: int
    video: str  # file name

    @property
    def correct(self) -> str:
        return self.options[self.answer_index]


@dataclass(frozen=True)
class Wording:
    """What a binary prompt says about its action (hand-written grammar kept)."""

    phrase: str  # the action as the prompt writes it, article included ("a Biellmann Spin", "Crossovers")
    subdomain: str
    domain: str | None  # None: not repeated ("which is a Knot."; prompts.names_its_actions)


@dataclass(frozen=True)
class BinaryQuestion:
    line: Line
    k: int
    label: str  # "yes" | "no"
    examples: tuple[str, ...]  # file names, in order
    video: str  # the test clip's file name (the last video)
    wording: Wording | None


def _entries(doc: Mapping[str, Any], where: str, problems: list[str]) -> tuple[dict[str, Any], ...] | None:
    raw = doc.get("question")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: 'question' must be a non-empty list of text and video entries")
        return None
    out = []
    for i, e in enumerate(raw):
        kind = e.get("type") if isinstance(e, dict) else None
        value = e.get(kind) if kind in ("text", "video") else None
        if not isinstance(value, str) or not value.strip():
            problems.append(
                f"{where}: question entry {i} is not a text or video entry: {json.dumps(e)[:120]}"
            )
            return None
        out.append(
            {
                "type": kind,
                "text": value if kind == "text" else None,
                "video": value if kind == "video" else None,
            }
        )
    return tuple(out)


def _read_lines(path: Path, problems: list[str]) -> list[Line]:
    lines: list[Line] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, start=1):
            if not text.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: not JSON ({e.msg})")
                continue
            if not isinstance(doc, dict):
                problems.append(f"{where}: expected a JSON object with 'key', 'question' and 'answer'")
                continue
            key = doc.get("key")
            parsed = parse_key(key) if isinstance(key, str) else None
            if parsed is None:
                problems.append(
                    f"{where}: key {key!r} is not a VideoNet key (<id>-mcq-val-<n>, <id>-mcq-test-<n>, "
                    "<id>-pos-<n>, <id>-neg-<n>)"
                )
                continue
            if key in seen:
                problems.append(f"{where}: key {key!r} repeats line {seen[key]}")
                continue
            seen[key] = n
            entries = _entries(doc, where, problems)
            answer = doc.get("answer")
            if not isinstance(answer, str) or not answer.strip():
                problems.append(f"{where}: key {key!r}: 'answer' must be a non-empty string, got {answer!r}")
                continue
            if entries is None:
                continue
            lines.append(Line(path.name, n, key, parsed[0], parsed[1], parsed[2], entries, answer.strip()))
    return lines


def _mc_question(line: Line, problems: list[str]) -> MCQuestion | None:
    texts = [e["text"] for e in line.question if e["type"] == "text"]
    videos = [e["video"] for e in line.question if e["type"] == "video"]
    text = "\n".join(texts)
    head = _MC_HEAD_RE.search(text)
    options: list[str] = []
    for row in text.splitlines():
        m = _OPTION_RE.fullmatch(row.strip())
        if m and m.group("letter") == LETTERS[len(options)]:
            options.append(m.group("name"))
    where = f"{line.where}: key {line.key!r}"
    if head is None or len(options) < 2:
        problems.append(
            f"{where}: not a VideoNet multiple-choice question (no 'Which of the following <domain> "
            "actions is shown in the video?' with lettered options)"
        )
        return None
    if len(videos) != 1:
        problems.append(f"{where}: a multiple-choice question shows one video, this one {len(videos)}")
        return None
    letter = line.answer.upper()
    if letter not in LETTERS[: len(options)]:
        problems.append(
            f"{where}: answer {line.answer!r} is not one of the options {''.join(LETTERS[: len(options)])}"
        )
        return None
    if len({o.casefold() for o in options}) != len(options):
        problems.append(f"{where}: repeated options {options}")
        return None
    return MCQuestion(line, head.group("domain"), tuple(options), LETTERS.index(letter), videos[0])


def _wording(texts: list[str], k: int) -> tuple[Wording | None, int | None]:
    """(what the prompt says, the number of examples its words announce)."""
    if k == 0:
        m = _ZERO_RE.search(" ".join(texts))
        return (Wording(m.group("np"), m.group("sub"), m.group("domain")), 0) if m else (None, None)
    m = _KSHOT_RE.search(texts[0]) if texts else None
    if not m:
        return None, None
    count = m.group("count")
    announced = (
        1 if count is None else (_COUNTS.get(count.lower()) or (int(count) if count.isdigit() else None))
    )
    return Wording(m.group("np"), m.group("sub"), m.group("domain")), announced


def _binary_question(line: Line, k: int, problems: list[str], warnings: list[str]) -> BinaryQuestion | None:
    where = f"{line.where}: key {line.key!r}"
    if line.kind not in ("pos", "neg"):
        problems.append(f"{where}: a binary file holds <id>-pos-<n> and <id>-neg-<n> questions")
        return None
    label = line.answer.lower()
    if label not in ("yes", "no"):
        problems.append(f"{where}: answer {line.answer!r} must be 'yes' or 'no'")
        return None
    if label != ("yes" if line.kind == "pos" else "no"):
        problems.append(
            f"{where}: a {line.kind} question must be answered {'yes' if line.kind == 'pos' else 'no'}, "
            f"not {line.answer!r}"
        )
        return None
    videos = [e["video"] for e in line.question if e["type"] == "video"]
    if len(videos) != k + 1:
        problems.append(
            f"{where}: a {k}-shot question shows {k + 1} videos ({k} examples, then the test clip), "
            f"this one {len(videos)}"
        )
        return None
    texts = [e["text"] for e in line.question if e["type"] == "text"]
    if not any("yes" in t and "no" in t for t in texts):
        problems.append(f"{where}: not a VideoNet binary question (no yes/no instruction in its text)")
        return None
    wording, announced = _wording(texts, k)
    if wording is None:
        warnings.append(
            f"{where}: its wording names no action/subdomain/domain the importer recognises; "
            "sent as stored, subdomain recorded as 'action'"
        )
    elif announced != k:
        warnings.append(f"{where}: the text announces {announced} example video(s) in a {k}-shot question")
    return BinaryQuestion(line, k, label, tuple(videos[:-1]), videos[-1], wording)


# ----------------------------------------------------------------------------- the release


@dataclass
class ActionInfo:
    """One action of the release, as its questions describe it."""

    action_id: str
    domain: str
    mc_name: str  # the correct option's text (as the MC questions write it, lower case)
    name: str  # as the binary prompts write it (Title Case), else the MC name
    subdomain: str = DEFAULT_SUBDOMAIN
    category: str = "Unknown"
    wrong_options: tuple[str, ...] = ()  # as written, in the first MC question's order
    negative_ids: tuple[str | None, ...] = ()  # the actions those options name (None: unresolved)
    clips: list[str] = field(default_factory=list)  # file names: val-1, test-1..4


@dataclass
class Release:
    """Every question of a release, checked, and what they say about its actions."""

    root: Path
    mc: dict[str, list[MCQuestion]]  # split -> questions, file order
    binary: dict[int, list[BinaryQuestion]]  # k -> questions, file order
    actions: dict[str, ActionInfo]  # action_id -> info, in id order
    clip_action: dict[str, str]  # video file name -> action_id (from the MC answers)
    files: dict[str, str]  # question file -> sha256
    warnings: list[str] = field(default_factory=list)

    @property
    def videos(self) -> list[str]:
        """Every video file the questions show, sorted."""
        names = {q.video for qs in self.mc.values() for q in qs}
        names |= {v for qs in self.binary.values() for q in qs for v in (*q.examples, q.video)}
        return sorted(names)

    # ------------------------------------------------------------------ rows as published

    def _clip_name(self, video: str) -> str | None:
        aid = self.clip_action.get(video)
        return self.actions[aid].name if aid else None

    def rows(self, durations: Mapping[str, float | None] | None = None) -> dict[str, dict[str, list[dict]]]:
        """config -> split -> rows in this toolkit's schema; every row *is* a release question."""
        durations = durations or {}
        out: dict[str, dict[str, list[dict]]] = {}

        def common(line: Line, asked: ActionInfo, video: str) -> dict[str, Any]:
            duration = durations.get(video)
            return {
                "question_id": line.key,
                "action_id": asked.action_id,
                "question": [dict(e) for e in line.question],
                "clip_id": Path(video).stem,
                "video": f"videos/{video}",
                "duration": duration,
                "category": asked.category,
                "domain": asked.domain,
                "clip_action": self._clip_name(video),
                "source_video": video,
                "source_start": 0.0,
                "source_end": duration,
                "subdomain": asked.subdomain,
                "definition": "",
            }

        for split, questions in self.mc.items():
            rows = []
            for q in questions:
                asked = self.actions[q.line.action_id]
                rows.append(
                    {
                        **common(q.line, asked, q.video),
                        "action": asked.name,
                        "options": list(q.options),
                        "option_definitions": [""] * len(q.options),
                        "answer": LETTERS[q.answer_index],
                        "answer_index": q.answer_index,
                    }
                )
            out.setdefault(MC_CONFIG, {})[split] = rows
        for k, questions in self.binary.items():
            rows = []
            for q in questions:
                asked = self.actions[q.line.action_id]
                rows.append(
                    {
                        **common(q.line, asked, q.video),
                        "action": asked.name,
                        "label": q.label,
                        "negative_type": "positive" if q.label == "yes" else "hard",
                        "k": k,
                        "example_clip_ids": [Path(v).stem for v in q.examples],
                        "example_videos": [f"videos/{v}" for v in q.examples],
                    }
                )
            out[binary_config(k)] = {"test": rows}
        return out

    # ------------------------------------------------------------------ recovered tables

    def _negative_cell(self, info: ActionInfo, option: str, target: str | None) -> str:
        if target is None:
            return option  # named no action of the release: kept verbatim (the tables say so)
        other = self.actions[target]
        return other.name if other.domain == info.domain else f"{other.domain}{CROSS_DOMAIN_SEP}{other.name}"

    def recovered_tables(self) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
        """(actions.csv, hard_negatives.csv, clips.csv) rows; clips are named ``videos/<file>``."""
        actions, negatives, clips = [], [], []
        for info in self.actions.values():
            actions.append(
                {
                    "category": info.category,
                    "domain": info.domain,
                    "action": info.name,
                    "subdomain": "" if info.subdomain == DEFAULT_SUBDOMAIN else info.subdomain,
                    "definition": "",
                }
            )
            cells = [self._negative_cell(info, o, t) for o, t in zip(info.wrong_options, info.negative_ids)]
            negatives.append(dict(zip(NEGATIVES_COLUMNS, (info.domain, info.name, *cells))))
            for video in info.clips:
                clips.append(
                    {
                        "clip_id": Path(video).stem,
                        "domain": info.domain,
                        "action": info.name,
                        "video": f"videos/{video}",
                        "start": "0",
                        "end": "",
                    }
                )
        return actions, negatives, clips

    def annotation_set(self, root: Path, durations: Mapping[str, float | None]) -> AnnotationSet:
        """The recovered tables as an in-memory :class:`AnnotationSet` (for the dataset card's
        statistics); unresolved negatives are left out."""
        acts: dict[tuple[str, str], Action] = {}
        negs: dict[tuple[str, str], tuple[str, ...]] = {}
        clips: list[Clip] = []
        for info in self.actions.values():
            key = (info.domain, info.name)
            acts[key] = Action(info.category, info.domain, info.name, info.subdomain, "")
            negs[key] = tuple(
                self._negative_cell(info, o, t) for o, t in zip(info.wrong_options, info.negative_ids) if t
            )
            for i, video in enumerate(info.clips, start=1):
                clips.append(
                    Clip(
                        Path(video).stem,
                        info.domain,
                        info.name,
                        f"videos/{video}",
                        root / "videos" / video,
                        0.0,
                        None,
                        i,
                        video_duration=durations.get(video),
                    )
                )
        return AnnotationSet(root=root, actions=acts, negatives=negs, clips=clips)  # type: ignore[arg-type]


def _id_order(action_id: str) -> tuple[int, int | str]:
    return (0, int(action_id)) if action_id.isdigit() else (1, action_id)


def _display_name(mc_name: str, phrase: str) -> tuple[str, bool]:
    """The action's name as a binary prompt writes it: the phrase without its article, found
    by the MC name (case-insensitively) at the phrase's end; (name, matched)."""
    if phrase.casefold().endswith(mc_name.casefold()):
        cut = len(phrase) - len(mc_name)
        if cut == 0 or phrase[cut - 1] == " ":
            return phrase[cut:], True
    return _ARTICLE_RE.sub("", phrase), False


def read_release(
    release: str | os.PathLike, categories: Mapping[str, str] | None = None, strict_files: bool = False
) -> Release:
    """Parse and check every question file of ``release`` (see the module docstring).

    Raises :class:`ReleaseFormatError` listing every broken line (file and line), or when
    there is no multiple-choice file (clip labels and domains come from it).  Deviations
    from the release's usual structure that do not stop it from being read are warnings.
    ``strict_files=True`` also requires all six files.
    """
    root = Path(release)
    bench = root / "benchmarks"
    expected = [*MC_FILES, *BINARY_FILES]
    if not bench.is_dir():
        raise ReleaseFormatError([f"{root}: no benchmarks/ folder (expected {', '.join(expected)})"])
    present = [f for f in expected if (bench / f).is_file()]
    if not any(f in MC_FILES for f in present):
        raise ReleaseFormatError(
            [
                f"{bench}: no multiple-choice file ({', '.join(MC_FILES)}); clip labels and domains come from them"
            ]
        )
    if strict_files and len(present) < len(expected):
        missing = sorted(set(expected) - set(present))
        raise ReleaseFormatError([f"{bench}: missing {', '.join(missing)}"])
    problems: list[str] = []
    warnings: list[str] = []
    cats = {**PAPER_DOMAIN_CATEGORIES, **(categories or {})}

    mc: dict[str, list[MCQuestion]] = {}
    for fname, split in MC_FILES.items():
        if fname not in present:
            continue
        want = "mcq-val" if split == "validation" else "mcq-test"
        qs = []
        for line in _read_lines(bench / fname, problems):
            if line.kind != want:
                problems.append(
                    f"{line.where}: key {line.key!r} does not belong in {fname} (<id>-{want}-<n>)"
                )
                continue
            q = _mc_question(line, problems)
            if q is not None:
                qs.append(q)
        mc[split] = qs
    binary: dict[int, list[BinaryQuestion]] = {}
    for fname, k in BINARY_FILES.items():
        if fname not in present:
            continue
        qs = []
        for line in _read_lines(bench / fname, problems):
            q = _binary_question(line, k, problems, warnings)
            if q is not None:
                qs.append(q)
        binary[k] = qs
    if problems:
        raise ReleaseFormatError(problems)

    # --- actions from the MC questions: domain, name, wrong options, clips in key order
    by_action: OrderedDict[str, list[MCQuestion]] = OrderedDict()
    for split in ("validation", "test"):
        for q in mc.get(split, []):
            by_action.setdefault(q.line.action_id, []).append(q)
    clip_action: dict[str, str] = {}
    actions: dict[str, ActionInfo] = {}
    for aid in sorted(by_action, key=_id_order):
        qs = by_action[aid]
        names = Counter(q.correct for q in qs)
        domains = Counter(q.domain for q in qs)
        if len(names) > 1 or len(domains) > 1:
            detail = "; ".join(f"{q.line.where} answers {q.correct!r} in {q.domain!r}" for q in qs)
            problems.append(f"action {aid}: its multiple-choice questions disagree on the action: {detail}")
            continue
        first = qs[0]
        wrong = tuple(o for i, o in enumerate(first.options) if i != first.answer_index)
        for q in qs[1:]:
            if {o for i, o in enumerate(q.options) if i != q.answer_index} != set(wrong):
                warnings.append(
                    f"{q.line.where}: key {q.line.key!r}: wrong options differ from "
                    f"{first.line.where}'s; the recovered hard negatives are the first set"
                )
        ordered = sorted(qs, key=lambda q: (q.line.kind != "mcq-val", q.line.n))
        for q in ordered:
            other = clip_action.get(q.video)
            if other is not None and other != aid:
                problems.append(f"{q.line.where}: clip {q.video} is also asked as action {other}'s clip")
            clip_action[q.video] = aid
        domain = first.domain
        if domain not in cats:
            warnings.append(
                f"domain {domain!r} is not in the paper's table; category set to 'Unknown' (use --categories)"
            )
            cats[domain] = "Unknown"
        actions[aid] = ActionInfo(
            aid,
            domain,
            first.correct,
            first.correct,
            category=cats[domain],
            wrong_options=wrong,
            clips=[q.video for q in ordered],
        )
    for qs in binary.values():
        for q in qs:
            if q.line.action_id not in actions:
                problems.append(
                    f"{q.line.where}: key {q.line.key!r}: action {q.line.action_id} has no multiple-choice "
                    "question (its domain and label come from mcq_val/mcq_test)"
                )
    if problems:
        raise ReleaseFormatError(problems)

    # --- names and subdomains from the binary wording
    named: set[str] = set()
    for k in sorted(binary):
        for q in binary[k]:
            info = actions[q.line.action_id]
            w = q.wording
            if w is None:
                continue
            if w.domain is None and not names_its_actions(info.domain, w.subdomain):
                warnings.append(
                    f"{q.line.where}: key {q.line.key!r} calls it {w.subdomain!r} without naming a domain; "
                    f"its MC questions say {info.domain!r}"
                )
            elif w.domain is not None and w.domain != info.domain:
                problems.append(
                    f"{q.line.where}: key {q.line.key!r} says {w.domain!r}; its MC questions say {info.domain!r}"
                )
                continue
            if info.action_id in named:
                continue
            named.add(info.action_id)
            name, matched = _display_name(info.mc_name, w.phrase)
            if not matched:
                warnings.append(
                    f"{q.line.where}: the binary prompt names {w.phrase!r}, the MC answer {info.mc_name!r}; "
                    f"recorded name {name!r}"
                )
            info.name, info.subdomain = name, w.subdomain
    if problems:
        raise ReleaseFormatError(problems)
    names = Counter((a.domain, a.name) for a in actions.values())
    for (domain, name), n in names.items():
        if n > 1:
            warnings.append(
                f"{n} actions of {domain!r} are named {name!r}; the recovered tables will not validate"
            )

    # --- wrong options -> actions (cross-domain options resolved; binary negatives confirm)
    by_text: dict[str, list[str]] = {}
    for a in actions.values():
        by_text.setdefault(a.mc_name, []).append(a.action_id)
    neg_actions: dict[str, set[str]] = {}
    for qs in binary.values():
        for q in qs:
            if q.label == "no" and q.video in clip_action:
                neg_actions.setdefault(q.line.action_id, set()).add(clip_action[q.video])
    for info in actions.values():
        targets: list[str | None] = []
        for option in info.wrong_options:
            cands = by_text.get(option, [])
            same = [c for c in cands if actions[c].domain == info.domain and c != info.action_id]
            confirmed = [c for c in cands if c in neg_actions.get(info.action_id, set())]
            pick = same or confirmed or [c for c in cands if c != info.action_id]
            if len(pick) != 1:
                warnings.append(
                    f"action {info.action_id} ({info.name!r}, {info.domain}): wrong option {option!r} names "
                    + ("no action of the release" if not pick else f"{len(pick)} actions ({', '.join(pick)})")
                    + "; kept verbatim in the recovered hard_negatives.csv, which will not validate until fixed"
                )
                targets.append(None)
                continue
            targets.append(pick[0])
        info.negative_ids = tuple(targets)

    # --- the release's structure, checked (warnings: the rows are the file's either way)
    binary_by_key: dict[str, dict[int, BinaryQuestion]] = {}
    for k, qs in binary.items():
        for q in qs:
            binary_by_key.setdefault(q.line.key, {})[k] = q
    for key, per_k in binary_by_key.items():
        tests = {(q.video, q.label) for q in per_k.values()}
        if len(tests) > 1:
            warnings.append(f"key {key!r}: the k-shot files ask it about different clips ({sorted(tests)})")
        q = next(iter(per_k.values()))
        info = actions[q.line.action_id]
        for k, qk in per_k.items():
            if list(qk.examples) != info.clips[:k]:
                warnings.append(
                    f"{qk.line.where}: key {key!r}: in-context clips are not the action's MC "
                    "validation clip, then test clips 1 and 2"
                )
        if q.label == "yes" and q.video not in info.clips[3:5]:
            warnings.append(
                f"{q.line.where}: key {key!r}: positive clip {q.video} is not the action's MC test clip 3 or 4"
            )
        if q.label == "no":
            neg = clip_action.get(q.video)
            if neg is None:
                warnings.append(f"{q.line.where}: key {key!r}: negative clip {q.video} is in no MC question")
            elif neg not in info.negative_ids:
                warnings.append(
                    f"{q.line.where}: key {key!r}: negative clip {q.video} is action {neg}'s, "
                    f"not one of action {info.action_id}'s wrong options"
                )
            elif actions[neg].clips[3:4] != [q.video]:
                warnings.append(
                    f"{q.line.where}: key {key!r}: negative clip {q.video} is not action {neg}'s MC test clip 3"
                )
    files = {f: sha256_file(bench / f) for f in present}
    return Release(root, mc, binary, actions, clip_action, files, warnings)


# ----------------------------------------------------------------------------- writing


@dataclass
class ImportSummary:
    out_dir: Path
    rows: dict[str, dict[str, int]]
    actions: int
    domains: int
    videos: int
    videos_present: int
    how: str  # "linked" | "copied" | "directory linked"
    warnings: list[str]

    def format(self) -> str:
        lines = [f"Imported {self.out_dir} (the official release as published)"]
        for config, splits in self.rows.items():
            lines.append(f"  {config:<22}" + "  ".join(f"{s}={n:,}" for s, n in splits.items()))
        lines.append(
            f"  {self.actions} actions in {self.domains} domains; videos: {self.videos_present} of "
            f"{self.videos} {self.how}"
        )
        missing = self.videos - self.videos_present
        if missing:
            lines.append(
                f"  MISSING {missing} video(s): add them to {self.out_dir}/videos (or import again with "
                f"--videos DIR / ${ENV_VIDEOS}); tasks refuse to run until every video exists"
            )
        lines.append(
            "  not in the release: definitions (empty: the definition ablation will refuse), categories "
            "(from the paper's domain table)"
        )
        if self.warnings:
            lines.append(f"  warnings ({len(self.warnings)}):")
            lines += [f"    - {w}" for w in self.warnings]
        lines.append(
            f"  recovered tables: {self.out_dir}/annotations (rebuild with `videonet build-benchmark "
            f"{self.out_dir}/annotations --out OTHER --keep-whole-clips`)"
        )
        return "\n".join(lines)


def videos_dir_for(release: Path, videos: str | os.PathLike | None = None) -> Path:
    """Where the release's clips are: ``videos``, else ``$VN_VIDEOS_DIR``, else ``RELEASE/videos``."""
    if videos:
        return Path(videos)
    env = (os.environ.get(ENV_VIDEOS) or "").strip()
    return Path(env).expanduser() if env else release / "videos"


def _durations(paths: dict[str, Path], progress: bool) -> dict[str, float | None]:
    from tqdm.auto import tqdm

    from videonet_datasets.video import VideoDecodeError, probe_video

    def one(item: tuple[str, Path]) -> tuple[str, float | None]:
        name, path = item
        try:
            return name, round(float(probe_video(path, decode_check=False).duration), 6)
        except (VideoDecodeError, OSError):
            return name, None

    with ThreadPoolExecutor(max_workers=4) as pool:
        it = pool.map(one, sorted(paths.items()))
        return dict(
            tqdm(it, total=len(paths), desc="reading clip durations", unit="clip", disable=not progress)
        )


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _place(src: Path, dst: Path, copy: bool) -> None:
    if copy:
        shutil.copyfile(src, dst)
    else:
        os.symlink(src.resolve(), dst)


def import_release(
    release: str | os.PathLike,
    out_dir: str | os.PathLike = "videonet",
    *,
    videos: str | os.PathLike | None = None,
    copy_videos: bool = False,
    link_videos_dir: bool = False,
    categories: Mapping[str, str] | None = None,
    pretty_name: str = "VideoNet (official release)",
    license: str = "other",
    probe_durations: bool = True,
    progress: bool = True,
) -> ImportSummary:
    """Write ``out_dir``: a benchmark directory whose rows are the release's questions as
    published, its clips (symlinked, or copied byte for byte with ``copy_videos``; with
    ``link_videos_dir`` the ``videos`` folder itself is a link to the clips' folder, for
    on-the-fly imports of a Hub snapshot whose clips arrive later), the recovered annotation
    tables in ``annotations/`` and ``build_info.json``.  Written in a staging directory and
    swapped in when complete.  ``probe_durations=False`` skips reading every clip's duration
    (the ``duration`` column and the card's statistics stay empty).
    """
    from videonet_datasets.benchmark.card import CardInputs, render_card
    from videonet_datasets.benchmark.writer import write_config

    root = Path(release)
    rel = read_release(root, categories)
    vdir = videos_dir_for(root, videos)
    names = rel.videos
    present = {n: vdir / n for n in names if (vdir / n).is_file()}
    warnings = list(rel.warnings)
    if not vdir.is_dir():
        warnings.append(f"no videos folder at {vdir}: rows written, clips to be added")
    durations = _durations(present, progress) if present and probe_durations else {}
    unreadable = sorted(n for n, d in durations.items() if d is None)
    if unreadable:
        warnings.append(f"{len(unreadable)} clip(s) could not be opened: {', '.join(unreadable[:5])}")

    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.importing")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "annotations").mkdir(parents=True)
    if link_videos_dir:
        os.symlink(vdir.resolve(), staging / "videos", target_is_directory=True)
        how = "directory linked"
    else:
        (staging / "videos").mkdir()
        from tqdm.auto import tqdm

        for name, src in tqdm(
            sorted(present.items()), desc="placing clips", unit="clip", disable=not progress
        ):
            _place(src, staging / "videos" / name, copy_videos)
        how = "copied" if copy_videos else "linked"

    rows = rel.rows(durations)
    num_bytes: dict[tuple[str, str], int] = {}
    for config, splits in rows.items():
        for split, split_rows in splits.items():
            num_bytes[(config, split)] = write_config(split_rows, config, staging / data_file(config, split))

    acts, negs, clips = rel.recovered_tables()
    ann_dir = staging / "annotations"
    atomic_write_text(ann_dir / "actions.csv", _csv_text(ACTIONS_COLUMNS, acts))
    atomic_write_text(ann_dir / "hard_negatives.csv", _csv_text(NEGATIVES_COLUMNS, negs))
    atomic_write_text(ann_dir / "clips.csv", _csv_text(CLIPS_COLUMNS, clips))
    try:  # the tables name clips videos/<file>: a link inside makes the folder self-contained
        os.symlink(Path("..") / "videos", ann_dir / "videos", target_is_directory=True)
    except OSError as e:
        warnings.append(
            f"could not link annotations/videos to ../videos ({e}); rebuilding needs the clips there"
        )

    ann = rel.annotation_set(out, durations)
    card = CardInputs(
        ann=ann,
        rows=rows,
        num_bytes=num_bytes,
        seed=None,
        pretty_name=pretty_name,
        license=license,
        load_path=out.name,
        warnings=warnings,
        provenance=(
            "It is the **official VideoNet release, imported as published** (`videonet import-release`, "
            f"version {__version__}): every row is one of the release's questions - its key "
            "(`question_id`), options in their order, answer, binary pairs, in-context clips and prompt "
            "text (`question`) unchanged; its clips are the release's files, byte for byte."
        ),
    )
    atomic_write_text(staging / "README.md", render_card(card))
    atomic_write_json(
        staging / "build_info.json",
        {
            "tool": "videonet import-release",
            "version": __version__,
            "source_files": rel.files,  # sha256 of each question file
            "clips_silent": False,  # the release's clips may carry audio: tasks check and silence
            "videos": {"count": len(names), "present": len(present), "placed": how},
            "rows": {c: {s: len(r) for s, r in sp.items()} for c, sp in rows.items()},
            "warnings": warnings,
        },
    )
    swap_in_directory(staging, out)
    return ImportSummary(
        out_dir=out,
        rows={c: {s: len(r) for s, r in sp.items()} for c, sp in rows.items()},
        actions=len(rel.actions),
        domains=len({a.domain for a in rel.actions.values()}),
        videos=len(names),
        videos_present=len(present),
        how=how,
        warnings=warnings,
    )

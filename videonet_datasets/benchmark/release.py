"""``videonet import-release``: recover annotation tables from the official release.

The official VideoNet release (the gated ``raivn/VideoNet`` on the Hub, read by
lmms-eval's built-in ``videonet_*`` tasks) ships question files, not annotation tables::

    RELEASE/benchmarks/mcq_test.jsonl, mcq_val.jsonl, binary_{0,1,2,3}shot.jsonl
    RELEASE/videos/<clip>.mp4

Each line is ``{"key", "question": [{"type": "text", "text": ...}, {"type": "video",
"video": "<file>.mp4"}, ...], "answer"}`` with the paper's prompts as text.  Parsing the
prompts back gives, per clip, its domain and action (MC: the answer's option), per
action its three hard negatives (the other MC options), its subdomain (binary prompts),
and its clip order (binary k-shot: clips 1-3 are the examples, clips 4-5 the positive
test clips).  Categories come from the paper's domain table (Table 9).

What the release does not contain, and this importer therefore cannot recover:
definitions (left empty: the definition ablation needs them from elsewhere), source
videos and windows (the release's clips are already trimmed: ``start=0``, ``end`` empty),
and categories of domains outside the paper's table (``--categories`` supplies them).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.annotations import ACTIONS_COLUMNS, CLIPS_COLUMNS, NEGATIVES_COLUMNS
from videonet_datasets.fsutil import atomic_write_text

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

MC_FILES = ("mcq_test.jsonl", "mcq_val.jsonl")
BINARY_FILES = tuple(f"binary_{k}shot.jsonl" for k in range(4))

_ART = r"(?:a|an)"
_MC_RE = re.compile(r"Which of the following (?P<domain>.+?) actions is shown in the video\?")
_OPTION_RE = re.compile(r"^\s*(?P<letter>[A-Z])[.)]\s+(?P<name>.+?)\s*$")
_ZERO_RE = re.compile(
    rf"Recall that {_ART} (?P<action>.+?) is {_ART} (?P<sub>.+?) in (?P<domain>.+?)\.\s+"
    rf"Does the following video show {_ART} (?P<action2>.+?)\?"
)
_KSHOT_RE = re.compile(
    rf"The following (?P<k>\d+) videos? shows? (?:examples of )?{_ART} (?P<action>.+), which is {_ART} "
    rf"(?P<sub>.+?) in (?P<domain>.+?)\."
)


class ReleaseFormatError(ValueError):
    """A release file that does not follow the expected layout (names file and line)."""


@dataclass
class ImportResult:
    actions: list[dict[str, str]]
    negatives: list[dict[str, str]]
    clips: list[dict[str, str]]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"recovered {len({a['domain'] for a in self.actions})} domains, {len(self.actions)} actions, "
            f"{len(self.clips)} clips, {len(self.negatives)} hard-negative rows",
            "not recoverable from the release: definitions (left empty), source videos/windows "
            "(clips are pre-trimmed: start=0, end empty)",
        ]
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    docs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise ReleaseFormatError(f"{path}:{n}: not JSON ({e.msg})") from e
        if not isinstance(doc, dict) or not isinstance(doc.get("question"), list):
            raise ReleaseFormatError(f"{path}:{n}: expected an object with a 'question' list")
        docs.append((n, doc))
    return docs


def _parts(doc: dict[str, Any], where: str) -> tuple[list[str], list[str]]:
    texts, videos = [], []
    for entry in doc["question"]:
        if entry.get("type") == "text":
            texts.append(str(entry.get("text", "")))
        elif entry.get("type") == "video":
            videos.append(str(entry.get("video", "")))
        else:
            raise ReleaseFormatError(f"{where}: unknown question entry {entry!r}")
    return texts, videos


def _clip_id(video: str) -> str:
    return Path(video).stem


def import_release(release: str | Path, categories: dict[str, str] | None = None) -> ImportResult:
    """Parse a release directory into annotation rows (see module docstring)."""
    root = Path(release)
    bench = root / "benchmarks"
    if not bench.is_dir():
        raise ReleaseFormatError(
            f"{root}: no benchmarks/ folder (expected {', '.join(MC_FILES + BINARY_FILES)})"
        )
    cats = {**PAPER_DOMAIN_CATEGORIES, **(categories or {})}
    warnings: list[str] = []

    # --- MC: clip -> (domain, action); action -> negatives
    clip_action: OrderedDict[str, tuple[str, str]] = OrderedDict()
    clip_video: dict[str, str] = {}
    negatives: dict[tuple[str, str], tuple[str, ...]] = {}
    action_order: OrderedDict[tuple[str, str], None] = OrderedDict()
    mc_found = False
    for fname in MC_FILES:
        path = bench / fname
        if not path.exists():
            continue
        mc_found = True
        for n, doc in _read_jsonl(path):
            where = f"{path}:{n}"
            texts, videos = _parts(doc, where)
            text = "\n".join(texts)
            m = _MC_RE.search(text)
            if not m or len(videos) != 1:
                raise ReleaseFormatError(f"{where}: not a VideoNet multiple-choice question")
            domain = m.group("domain")
            options = {
                o.group("letter"): o.group("name") for o in map(_OPTION_RE.match, text.splitlines()) if o
            }
            answer = str(doc.get("answer", "")).strip().upper()
            if answer not in options:
                raise ReleaseFormatError(
                    f"{where}: answer {doc.get('answer')!r} is not one of the options {sorted(options)}"
                )
            action = options[answer]
            key = (domain, action)
            negs = tuple(sorted(v for k, v in options.items() if k != answer))
            if key in negatives and negatives[key] != negs:
                warnings.append(
                    f"{where}: options of {action!r} differ from an earlier question; kept the first set"
                )
            negatives.setdefault(key, negs)
            action_order.setdefault(key, None)
            cid = _clip_id(videos[0])
            if cid in clip_action and clip_action[cid] != key:
                raise ReleaseFormatError(f"{where}: clip {cid} was already labelled {clip_action[cid][1]!r}")
            clip_action[cid] = key
            clip_video[cid] = videos[0]
    if not mc_found:
        raise ReleaseFormatError(
            f"{bench}: no multiple-choice files ({', '.join(MC_FILES)}); clip labels come from them"
        )

    # --- binary: subdomains and clip order
    subdomain: dict[tuple[str, str], str] = {}
    examples: dict[tuple[str, str], list[str]] = {}
    positives: dict[tuple[str, str], list[str]] = defaultdict(list)
    for fname in BINARY_FILES:
        path = bench / fname
        if not path.exists():
            continue
        for n, doc in _read_jsonl(path):
            where = f"{path}:{n}"
            texts, videos = _parts(doc, where)
            text = " ".join(texts)
            m0, mk = _ZERO_RE.search(text), _KSHOT_RE.search(text)
            if m0:
                key, sub, ex = (m0.group("domain"), m0.group("action2")), m0.group("sub"), []
            elif mk:
                key, sub, ex = (mk.group("domain"), mk.group("action")), mk.group("sub"), videos[:-1]
            else:
                raise ReleaseFormatError(f"{where}: not a VideoNet binary question")
            if key not in negatives:
                warnings.append(
                    f"{where}: action {key[1]!r} ({key[0]}) has no multiple-choice question; ignored"
                )
                continue
            subdomain.setdefault(key, sub)
            if len(ex) > len(examples.get(key, [])):
                examples[key] = [_clip_id(v) for v in ex]
            if str(doc.get("answer", "")).strip().lower() == "yes":
                cid = _clip_id(videos[-1])
                if cid not in positives[key]:
                    positives[key].append(cid)

    # --- assemble tables in a stable order: domains, then actions, as first seen in MC
    actions_rows, neg_rows, clip_rows = [], [], []
    for key in action_order:
        domain, action = key
        if domain not in cats:
            warnings.append(
                f"domain {domain!r} is not in the paper's table; category set to 'Unknown' (use --categories)"
            )
            cats[domain] = "Unknown"
        actions_rows.append(
            {
                "category": cats[domain],
                "domain": domain,
                "action": action,
                "subdomain": "" if subdomain.get(key, "action") == "action" else subdomain[key],
                "definition": "",
            }
        )
        neg_rows.append(dict(zip(NEGATIVES_COLUMNS, (domain, action, *negatives[key]))))
        own = [c for c, k in clip_action.items() if k == key]
        ordered = [c for c in examples.get(key, []) if c in own]
        ordered += [c for c in positives.get(key, []) if c in own and c not in ordered]
        ordered += [c for c in own if c not in ordered]  # no binary info: MC order
        if key not in examples:
            warnings.append(
                f"action {action!r} ({domain}): no k-shot question; clip order taken from the MC files"
            )
        for c in ordered:
            clip_rows.append(
                {
                    "clip_id": c,
                    "domain": domain,
                    "action": action,
                    "video": f"videos/{Path(clip_video[c]).name}",
                    "start": "0",
                    "end": "",
                }
            )
    return ImportResult(actions_rows, neg_rows, clip_rows, warnings)


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_annotations(
    result: ImportResult, release: str | Path, out_dir: str | Path, link_videos: bool = True
) -> Path:
    """Write the recovered tables; videos are symlinked (or copied) into ``out/videos``
    so the annotation directory is self-contained."""
    import os
    import shutil

    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    missing = []
    for row in result.clips:
        src = Path(release) / row["video"]
        dst = out / row["video"]
        if not src.exists():
            missing.append(row["video"])
            continue
        if dst.exists() or dst.is_symlink():
            continue
        if link_videos:
            os.symlink(src.resolve(), dst)
        else:
            shutil.copy2(src, dst)
    if missing:
        result.warnings.append(
            f"{len(missing)} video file(s) named by the questions are missing: {', '.join(missing[:5])}"
        )
    atomic_write_text(out / "actions.csv", _csv_text(ACTIONS_COLUMNS, result.actions))
    atomic_write_text(out / "hard_negatives.csv", _csv_text(NEGATIVES_COLUMNS, result.negatives))
    atomic_write_text(out / "clips.csv", _csv_text(CLIPS_COLUMNS, result.clips))
    return out

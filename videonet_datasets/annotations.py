"""The annotation format users fill in, and its one-pass validator.

An annotation directory holds three CSV files (UTF-8, header row first):

``actions.csv``        ``category,domain,action,subdomain,definition``
``hard_negatives.csv`` ``domain,action,negative_1,negative_2,negative_3``
``clips.csv``          ``clip_id,domain,action,video,start,end``

``subdomain`` may be empty (it defaults to "action", as in the paper).  ``video`` is a
path relative to the directory (or absolute); ``start``/``end`` are seconds in that
source video, ``end`` empty meaning "to the end".  An action's clips in file order are its
clips 1..5 (clips 1-3 are the binary in-context examples, 4-5 the positive test clips).

The validator reads everything and reports *all* problems at once - each naming the
file, the line and the offending value - because a user fixing a 5,000-clip sheet one
error per run would give up.  Nothing downstream (benchmark builder, negative miner,
training pipeline) sees an :class:`AnnotationSet` that did not pass.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from videonet_datasets.video import VideoDecodeError, VideoInfo, probe_video

__all__ = [
    "ACTIONS_COLUMNS",
    "CLIPS_COLUMNS",
    "CLIPS_PER_ACTION",
    "CROSS_DOMAIN_SEP",
    "DEFAULT_SUBDOMAIN",
    "MAX_CLIP_SECONDS",
    "NEGATIVES_COLUMNS",
    "Action",
    "AnnotationError",
    "AnnotationSet",
    "Clip",
    "Problem",
    "did_you_mean",
    "load_actions",
    "load_annotations",
    "read_csv_rows",
    "split_qualified",
    "validate_annotations",
]

ACTIONS_FILE = "actions.csv"
NEGATIVES_FILE = "hard_negatives.csv"
CLIPS_FILE = "clips.csv"
ACTIONS_COLUMNS = ("category", "domain", "action", "subdomain", "definition")
NEGATIVES_COLUMNS = ("domain", "action", "negative_1", "negative_2", "negative_3")
CLIPS_COLUMNS = ("clip_id", "domain", "action", "video", "start", "end")
DEFAULT_SUBDOMAIN = "action"
#: A hard negative from another domain is written "<domain> > <action>" (the official release
#: offers a few cross-domain wrong options; the paper's rule is the same domain).
CROSS_DOMAIN_SEP = " > "
CLIPS_PER_ACTION = 5
NUM_NEGATIVES = 3
MAX_CLIP_SECONDS = 300.0  # the paper removes clips longer than 5 minutes
# A window may overrun the probed duration by up to this much (container durations
# round to the millisecond and the last frame's duration is sometimes not counted).
DURATION_TOLERANCE = 0.05


@dataclass(frozen=True)
class Problem:
    """One defect: where it is and what is wrong.  ``line`` is the 1-based line in the
    file (the header is line 1), 0 for whole-file problems."""

    file: str
    line: int
    message: str
    column: str | None = None
    value: str | None = None
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f" {self.column}={self.value!r}:" if self.column is not None else ""
        tag = "" if self.severity == "error" else f" [{self.severity}]"
        return f"{where}:{what} {self.message}{tag}"


class AnnotationError(ValueError):
    """Raised with every problem found, not just the first."""

    def __init__(self, root: Path, problems: list[Problem]):
        self.root = root
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = "\n".join(f"  {p}" for p in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{root}: {len(errors)} annotation problem(s):\n{lines}{more}")


@dataclass(frozen=True)
class Action:
    category: str
    domain: str
    name: str
    subdomain: str
    definition: str
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.name)


@dataclass(frozen=True)
class Clip:
    clip_id: str
    domain: str
    action: str
    video: str  # as written in clips.csv
    path: Path  # resolved absolute path
    start: float
    end: float | None  # None = to the end of the video
    index: int  # 1-based position among its action's clips, in file order
    line: int = 0
    video_duration: float | None = None  # filled in when videos are checked

    @property
    def resolved_end(self) -> float | None:
        return self.end if self.end is not None else self.video_duration

    @property
    def duration(self) -> float | None:
        e = self.resolved_end
        return None if e is None else e - self.start


@dataclass
class AnnotationSet:
    """A validated annotation directory.  Order is file order everywhere."""

    root: Path
    actions: dict[tuple[str, str], Action]
    negatives: dict[tuple[str, str], tuple[str, str, str]]
    clips: list[Clip]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def domains(self) -> list[str]:
        return list(dict.fromkeys(a.domain for a in self.actions.values()))

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(a.category for a in self.actions.values()))

    def category_of(self, domain: str) -> str:
        for a in self.actions.values():
            if a.domain == domain:
                return a.category
        raise KeyError(domain)

    def actions_of(self, domain: str) -> list[Action]:
        return [a for a in self.actions.values() if a.domain == domain]

    def clips_of(self, domain: str, action: str) -> list[Clip]:
        return [c for c in self.clips if c.domain == domain and c.action == action]

    def clip(self, clip_id: str) -> Clip:
        for c in self.clips:
            if c.clip_id == clip_id:
                return c
        raise KeyError(clip_id)

    def negative_actions(self, key: tuple[str, str]) -> tuple[Action, ...]:
        """The hard-negative actions of ``key``, in CSV order; a negative written
        ``"Other Domain > name"`` is that domain's action (cross-domain, validated)."""
        out = []
        for neg in self.negatives.get(key, ()):
            found = self.actions.get((key[0], neg)) or self.actions.get(split_qualified(neg) or ("", ""))
            if found is None:
                raise KeyError(f"negative {neg!r} of {key} is not an action (annotations not validated?)")
            out.append(found)
        return tuple(out)


def split_qualified(negative: str) -> tuple[str, str] | None:
    """``"Ice Hockey > boarding"`` -> ``("Ice Hockey", "boarding")``; None if not qualified."""
    domain, sep, name = negative.partition(CROSS_DOMAIN_SEP)
    return (domain.strip(), name.strip()) if sep and domain.strip() and name.strip() else None


# --------------------------------------------------------------------------- reading


def read_csv_rows(
    path: Path, columns: tuple[str, ...], problems: list[Problem]
) -> list[tuple[int, dict[str, str]]]:
    """Rows as (line number, {column: stripped value}); header problems are reported and
    make the file unreadable (returns []).  Shared by every CSV the project reads (crawl
    manifests too), so all of them report problems the same way."""
    name = path.name
    if not path.exists():
        problems.append(Problem(name, 0, f"file not found in {path.parent}"))
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        problems.append(Problem(name, 0, f"not UTF-8 text ({e})"))
        return []
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(name, 0, "file is empty (expected a header: " + ",".join(columns) + ")"))
        return []
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    extra = [h for h in header if h not in columns]
    if missing:
        problems.append(
            Problem(name, 1, f"missing column(s) {', '.join(missing)}; expected header: {','.join(columns)}")
        )
        return []
    if extra:
        problems.append(
            Problem(name, 1, f"unknown column(s) {', '.join(extra)} (ignored)", severity="warning")
        )
    rows = []
    for lineno, raw in enumerate(reader, start=2):
        if not raw or all(not c.strip() for c in raw):
            continue  # blank line
        if len(raw) != len(header):
            problems.append(
                Problem(
                    name,
                    lineno,
                    f"has {len(raw)} fields, header has {len(header)} (quote values that contain commas)",
                    value=",".join(raw),
                )
            )
            continue
        rows.append((lineno, {h: v.strip() for h, v in zip(header, raw) if h in columns}))
    return rows


def _unknown_action(file: str, line: int, domain: str, name: str, names: Iterable[str]) -> Problem:
    """The problem of a row naming an action its domain does not have (with a "did you mean")."""
    return Problem(
        file, line, f"not an action of {domain!r}" + did_you_mean(name, names), column="action", value=name
    )


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A " (did you mean 'X'?)" hint for a name that is close to a valid one, else ""."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
    if close:
        return f" (did you mean {close[0]!r}?)"
    lowered = {c.lower(): c for c in choices}
    if value.lower() in lowered:
        return f" (did you mean {lowered[value.lower()]!r}? names are case-sensitive)"
    return ""


def _read_actions(root: Path, problems: list[Problem]) -> dict[tuple[str, str], Action]:
    actions: dict[tuple[str, str], Action] = {}
    domain_category: dict[str, tuple[str, int]] = {}
    for line, row in read_csv_rows(root / ACTIONS_FILE, ACTIONS_COLUMNS, problems):
        bad = False
        for col in ("category", "domain", "action"):
            if not row[col]:
                problems.append(Problem(ACTIONS_FILE, line, "must not be empty", column=col, value=row[col]))
                bad = True
        if bad:
            continue
        if not row["definition"]:
            # Allowed (an imported release has none) but the definition ablation needs it.
            problems.append(
                Problem(
                    ACTIONS_FILE,
                    line,
                    "empty definition: prompts with the action's definition will lack it",
                    column="definition",
                    value="",
                    severity="warning",
                )
            )
        domain, name, category = row["domain"], row["action"], row["category"]
        if (domain, name) in actions:
            first = actions[(domain, name)].line
            problems.append(
                Problem(
                    ACTIONS_FILE,
                    line,
                    f"duplicate action (first on line {first})",
                    column="action",
                    value=name,
                )
            )
            continue
        if domain in domain_category and domain_category[domain][0] != category:
            cat0, line0 = domain_category[domain]
            problems.append(
                Problem(
                    ACTIONS_FILE,
                    line,
                    f"domain {domain!r} is in category {cat0!r} on line {line0}; a domain has one category",
                    column="category",
                    value=category,
                )
            )
            continue
        domain_category.setdefault(domain, (category, line))
        actions[(domain, name)] = Action(
            category=category,
            domain=domain,
            name=name,
            subdomain=row["subdomain"] or DEFAULT_SUBDOMAIN,
            definition=row["definition"],
            line=line,
        )
    if not actions and not any(p.file == ACTIONS_FILE for p in problems):
        problems.append(Problem(ACTIONS_FILE, 0, "no actions"))
    return actions


def load_actions(root: str | Path) -> dict[tuple[str, str], Action]:
    """Only ``actions.csv`` (the taxonomy), for jobs that run before clips or negatives
    exist: mining hard negatives, the training-data pipeline's (larger) action list.
    Raises :class:`AnnotationError` naming every bad line."""
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(root, [Problem(str(root), 0, "annotation directory not found")])
    problems: list[Problem] = []
    actions = _read_actions(root, problems)
    if any(p.severity == "error" for p in problems):
        raise AnnotationError(root, problems)
    return actions


def _read_negatives(
    root: Path, actions: dict[tuple[str, str], Action], problems: list[Problem], required: bool
) -> dict[tuple[str, str], tuple[str, str, str]]:
    negatives: dict[tuple[str, str], tuple[str, str, str]] = {}
    path = root / NEGATIVES_FILE
    if not path.exists() and not required:
        return negatives
    domains = {a.domain for a in actions.values()}
    first_line: dict[tuple[str, str], int] = {}
    for line, row in read_csv_rows(path, NEGATIVES_COLUMNS, problems):
        domain, name = row["domain"], row["action"]
        if domain not in domains:
            problems.append(
                Problem(
                    NEGATIVES_FILE,
                    line,
                    "unknown domain" + did_you_mean(domain, domains),
                    column="domain",
                    value=domain,
                )
            )
            continue
        names = [a.name for a in actions.values() if a.domain == domain]
        if (domain, name) not in actions:
            problems.append(_unknown_action(NEGATIVES_FILE, line, domain, name, names))
            continue
        if (domain, name) in negatives:
            problems.append(
                Problem(
                    NEGATIVES_FILE,
                    line,
                    f"second row for this action (first on line {first_line[(domain, name)]})",
                    column="action",
                    value=name,
                )
            )
            continue
        negs = [row[f"negative_{i}"] for i in range(1, NUM_NEGATIVES + 1)]
        ok = True
        seen: dict[str, str] = {}
        for i, neg in enumerate(negs, start=1):
            col = f"negative_{i}"
            if not neg:
                problems.append(Problem(NEGATIVES_FILE, line, "must not be empty", column=col, value=neg))
                ok = False
            elif neg == name:
                problems.append(
                    Problem(
                        NEGATIVES_FILE, line, "an action cannot be its own negative", column=col, value=neg
                    )
                )
                ok = False
            elif (domain, neg) not in actions and (qualified := split_qualified(neg)) in actions:
                if qualified == (domain, name):
                    problems.append(
                        Problem(
                            NEGATIVES_FILE,
                            line,
                            "an action cannot be its own negative",
                            column=col,
                            value=neg,
                        )
                    )
                    ok = False
                elif neg in seen:
                    problems.append(
                        Problem(NEGATIVES_FILE, line, f"repeats {seen[neg]}", column=col, value=neg)
                    )
                    ok = False
                else:
                    seen[neg] = col
                    problems.append(
                        Problem(
                            NEGATIVES_FILE,
                            line,
                            "cross-domain negative (the paper takes negatives from the same domain; the "
                            "official release has a few like it)",
                            column=col,
                            value=neg,
                            severity="warning",
                        )
                    )
            elif (domain, neg) not in actions:
                other = [a.domain for a in actions.values() if a.name == neg]
                hint = (
                    f" (it is an action of {other[0]!r}; negatives come from the same domain - write "
                    f"'{other[0]}{CROSS_DOMAIN_SEP}{neg}' to use it across domains)"
                    if other
                    else ""
                )
                problems.append(
                    Problem(
                        NEGATIVES_FILE,
                        line,
                        f"not an exact action name of {domain!r}" + (hint or did_you_mean(neg, names)),
                        column=col,
                        value=neg,
                    )
                )
                ok = False
            elif neg in seen:
                problems.append(Problem(NEGATIVES_FILE, line, f"repeats {seen[neg]}", column=col, value=neg))
                ok = False
            else:
                seen[neg] = col
        first_line[(domain, name)] = line
        if ok:
            negatives[(domain, name)] = (negs[0], negs[1], negs[2])
    if required:
        reported = set(first_line)
        for key, a in actions.items():
            if key not in reported:
                problems.append(
                    Problem(NEGATIVES_FILE, 0, f"no hard negatives for action {a.name!r} of {a.domain!r}")
                )
    return negatives


def _parse_seconds(value: str, file: str, line: int, column: str, problems: list[Problem]) -> float | None:
    try:
        x = float(value)
    except ValueError:
        problems.append(Problem(file, line, "not a number of seconds", column=column, value=value))
        return None
    if not math.isfinite(x) or x < 0:
        problems.append(Problem(file, line, "must be a finite number >= 0", column=column, value=value))
        return None
    return x


def _resolve_video(root: Path, video: str) -> tuple[Path, str | None]:
    """Absolute path of a clip's video, and an error message when a relative path
    escapes the annotation directory (datasets built from it would leak files).

    The check is lexical (``..`` components), so a symlink placed inside the directory
    on purpose (``videonet import-release`` links the release's videos) is allowed.
    """
    p = Path(video)
    if p.is_absolute():
        return p, None
    base = Path(os.path.abspath(root))
    joined = Path(os.path.normpath(base / p))
    try:
        joined.relative_to(base)
    except ValueError:
        return joined, "relative path escapes the annotation directory"
    return joined, None


def _read_clips(root: Path, actions: dict[tuple[str, str], Action], problems: list[Problem]) -> list[Clip]:
    clips: list[Clip] = []
    ids: dict[str, int] = {}
    per_action: Counter[tuple[str, str]] = Counter()
    domains = {a.domain for a in actions.values()}
    for line, row in read_csv_rows(root / CLIPS_FILE, CLIPS_COLUMNS, problems):
        bad = False
        cid, domain, name, video = row["clip_id"], row["domain"], row["action"], row["video"]
        for col in ("clip_id", "domain", "action", "video", "start"):
            if not row[col]:
                problems.append(Problem(CLIPS_FILE, line, "must not be empty", column=col, value=row[col]))
                bad = True
        if bad:
            continue
        if cid in ids:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    line,
                    f"duplicate clip id (first on line {ids[cid]})",
                    column="clip_id",
                    value=cid,
                )
            )
            bad = True
        else:
            ids[cid] = line
        if "/" in cid or "\\" in cid or cid in (".", ".."):
            problems.append(
                Problem(CLIPS_FILE, line, "clip ids name files: no slashes", column="clip_id", value=cid)
            )
            bad = True
        if domain not in domains:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    line,
                    "unknown domain" + did_you_mean(domain, domains),
                    column="domain",
                    value=domain,
                )
            )
            bad = True
        elif (domain, name) not in actions:
            names = [a.name for a in actions.values() if a.domain == domain]
            problems.append(_unknown_action(CLIPS_FILE, line, domain, name, names))
            bad = True
        start = _parse_seconds(row["start"], CLIPS_FILE, line, "start", problems)
        end = None
        if row["end"]:
            end = _parse_seconds(row["end"], CLIPS_FILE, line, "end", problems)
            if end is None:
                bad = True
        if start is None:
            bad = True
        if start is not None and end is not None:
            if end <= start:
                problems.append(
                    Problem(
                        CLIPS_FILE,
                        line,
                        f"end must be greater than start ({row['start']})",
                        column="end",
                        value=row["end"],
                    )
                )
                bad = True
            elif end - start > MAX_CLIP_SECONDS:
                problems.append(
                    Problem(
                        CLIPS_FILE,
                        line,
                        f"clip lasts {end - start:.1f}s; VideoNet clips are at most {MAX_CLIP_SECONDS:.0f}s",
                        column="end",
                        value=row["end"],
                    )
                )
                bad = True
        path, escape = _resolve_video(root, video)
        if escape:
            problems.append(Problem(CLIPS_FILE, line, escape, column="video", value=video))
            bad = True
        if bad:
            continue
        per_action[(domain, name)] += 1
        clips.append(
            Clip(
                clip_id=cid,
                domain=domain,
                action=name,
                video=video,
                path=path,
                start=float(start),  # type: ignore[arg-type]
                end=end,
                index=per_action[(domain, name)],
                line=line,
            )
        )
    return clips


def _check_clip_counts(
    actions: dict[tuple[str, str], Action], clips: list[Clip], problems: list[Problem], clips_per_action: int
) -> None:
    counts = Counter((c.domain, c.action) for c in clips)
    lines = defaultdict(list)
    for c in clips:
        lines[(c.domain, c.action)].append(c.line)
    for key, a in actions.items():
        n = counts.get(key, 0)
        if n < clips_per_action:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    0,
                    f"action {a.name!r} of {a.domain!r} has {n} valid clip(s); VideoNet needs {clips_per_action}"
                    + (f" (lines {', '.join(map(str, lines[key]))})" if lines[key] else ""),
                )
            )
        elif n > clips_per_action:
            extra = lines[key][clips_per_action:]
            problems.append(
                Problem(
                    CLIPS_FILE,
                    extra[0],
                    f"action {a.name!r} of {a.domain!r} has {n} clips; the benchmark uses the first "
                    f"{clips_per_action} in file order (lines {', '.join(map(str, extra))} are not used)",
                    severity="warning",
                )
            )


def _probe_all(paths: list[Path], workers: int, progress: bool) -> dict[Path, VideoInfo | str]:
    def probe(p: Path) -> VideoInfo | str:
        try:
            return probe_video(p, decode_check=True)
        except FileNotFoundError:
            return "video file not found"
        except VideoDecodeError as e:
            return f"cannot decode video: {e.reason}"

    out: dict[Path, VideoInfo | str] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = pool.map(probe, paths)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, total=len(paths), desc="checking videos", unit="video", leave=False)
        for p, r in zip(paths, it):
            out[p] = r
    return out


def _check_videos(clips: list[Clip], problems: list[Problem], workers: int, progress: bool) -> list[Clip]:
    """Probe each distinct video once; report missing/undecodable files and windows past
    the video's duration; return the clips with ``video_duration`` filled in."""
    infos = _probe_all(list(dict.fromkeys(c.path for c in clips)), workers, progress)
    checked: list[Clip] = []
    for c in clips:
        info = infos[c.path]
        if isinstance(info, str):
            problems.append(Problem(CLIPS_FILE, c.line, info, column="video", value=c.video))
            checked.append(c)
            continue
        video_end = info.duration  # windows are on the player's timeline: [0, duration]
        if c.start >= video_end:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    c.line,
                    f"start is past the end of the video ({info.duration:.3f}s)",
                    column="start",
                    value=f"{c.start:g}",
                )
            )
        elif c.end is not None and c.end > video_end + DURATION_TOLERANCE:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    c.line,
                    f"window ends past the end of the video ({info.duration:.3f}s)",
                    column="end",
                    value=f"{c.end:g}",
                )
            )
        elif c.end is None and video_end - c.start > MAX_CLIP_SECONDS:
            problems.append(
                Problem(
                    CLIPS_FILE,
                    c.line,
                    f"clip runs to the end of a {info.duration:.1f}s video ({video_end - c.start:.1f}s); "
                    f"VideoNet clips are at most {MAX_CLIP_SECONDS:.0f}s",
                    column="end",
                    value="",
                )
            )
        checked.append(replace(c, video_duration=video_end))
    return checked


def validate_annotations(
    root: str | Path,
    *,
    check_videos: bool = True,
    require_negatives: bool = True,
    clips_per_action: int = CLIPS_PER_ACTION,
    skip_invalid_clips: bool = False,
    workers: int = 4,
    progress: bool = False,
) -> tuple[AnnotationSet | None, list[Problem]]:
    """Check an annotation directory in one pass.

    Returns the set (``None`` when any error was found) and every problem (errors and
    warnings).  ``require_negatives=False`` accepts a directory without
    ``hard_negatives.csv`` (for ``videonet mine-negatives``, which writes it).
    ``skip_invalid_clips=True`` leaves out clips whose own row is wrong (bad window,
    missing or corrupt video, ...) instead of failing: their problems come back with
    severity ``"skipped"`` and actions left with too few clips become warnings.  Errors
    in the action or negative tables still fail.
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem(str(root), 0, "annotation directory not found"))
        return None, problems
    actions = _read_actions(root, problems)
    negatives = _read_negatives(root, actions, problems, required=require_negatives)
    clips = _read_clips(root, actions, problems)
    if check_videos and clips:
        clips = _check_videos(clips, problems, workers, progress)
    if skip_invalid_clips:
        bad_lines = {p.line for p in problems if p.file == CLIPS_FILE and p.line and p.severity == "error"}
        problems[:] = [
            replace(p, severity="skipped")
            if p.file == CLIPS_FILE and p.line in bad_lines and p.severity == "error"
            else p
            for p in problems
        ]
        kept: list[Clip] = []
        seen: Counter[tuple[str, str]] = Counter()
        for c in clips:
            if c.line in bad_lines:
                continue
            seen[(c.domain, c.action)] += 1
            kept.append(replace(c, index=seen[(c.domain, c.action)]))
        clips = kept
        count_problems: list[Problem] = []
        _check_clip_counts(actions, clips, count_problems, clips_per_action)
        problems += [replace(p, severity="warning") for p in count_problems]
    else:
        _check_clip_counts(actions, clips, problems, clips_per_action)
    order = {ACTIONS_FILE: 0, NEGATIVES_FILE: 1, CLIPS_FILE: 2}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.line))  # stable: file, then line
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if errors:
        return None, problems
    return AnnotationSet(
        root=root, actions=actions, negatives=negatives, clips=clips, warnings=warnings
    ), problems


def load_annotations(root: str | Path, **kwargs: object) -> AnnotationSet:
    """Validate and return the annotation set; raise :class:`AnnotationError` listing
    every problem when anything is wrong."""
    ann, problems = validate_annotations(root, **kwargs)  # type: ignore[arg-type]
    if ann is None:
        raise AnnotationError(Path(root), problems)
    return ann

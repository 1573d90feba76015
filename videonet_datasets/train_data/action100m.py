"""The Action100M row format: reading and checking rows, writing them, and what the pipeline
takes from one - its windows (a cut through the tree of segments), its annotated segments
and its timed caption lines as words.

Action100M (Chen et al., 2026; ``facebookresearch/Action100M``, the Hub preview
``facebook/action100m-preview``, parquet) annotates YouTube videos.  One row per video::

    video_uid   the YouTube id
    metadata    {title, description, duration, upload_date, view_count, like_count,
                 transcript: [{time: "3.45", text: "hey guys it's ..."}, ...]}  (caption lines)
    nodes       [{node_id, parent_id, level, start, end,
                  plm_caption, plm_action, llama3_caption,
                  gpt: {summary: {brief, detailed}, action: {brief, detailed, actor}} | null}]

``nodes`` is a tree of temporal segments (hierarchical Ward clustering of V-JEPA 2 frame
features: the root is the whole video, ``level`` is the depth, children split their parent
in time); ``gpt`` holds the LLM-aggregated fields and is present only on nodes of at least
4 s in the release; ``action.brief`` is ``"N/A"`` where nothing physical happens.  Rows
come as parquet (files or a folder of them), JSON Lines (one row per line) or JSON (one
row, a list of rows, or the column layout of the repository's sample, ``{"video_uid":
["..."], ...}``).

Every problem of a row is reported with its file and row (parquet: the 1-based row in the
file; JSON Lines: the line), and the video id when it has one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.annotations import Problem
from videonet_datasets.fsutil import atomic_write_text
from videonet_datasets.train_data.match import ActionMatcher
from videonet_datasets.train_data.transcribe import Transcript, Word

__all__ = [
    "GPT_FIELDS",
    "LICENSE_LINK",
    "LICENSE_NAME",
    "MAX_SECONDS_PER_WORD",
    "NA",
    "Action100MError",
    "Node",
    "Row",
    "action_text",
    "annotated_segments",
    "caption_transcript",
    "check_gpt",
    "input_files",
    "is_na",
    "parse_row",
    "read_rows",
    "row_to_dict",
    "window_nodes",
    "without_na",
    "release_schema",
    "write_parquet",
    "write_rows",
]

LICENSE_NAME = "fair-noncommercial-research-license"
LICENSE_LINK = "https://github.com/facebookresearch/Action100M/blob/main/LICENSE"
#: The release's aggregated fields, ``gpt[group][field]``, all strings.
GPT_FIELDS: dict[str, tuple[str, ...]] = {
    "summary": ("brief", "detailed"),
    "action": ("brief", "detailed", "actor"),
}
NA = "N/A"
#: A caption line's words are spread over at most this many seconds per word (then silence).
MAX_SECONDS_PER_WORD = 0.6
_TIME_TOLERANCE = 1e-3  # float32 times in the parquet: a child may poke out by rounding
_SUFFIXES = (".parquet", ".jsonl", ".json")


class Action100MError(ValueError):
    """Every problem of the input rows, not just the first."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{path}: {len(problems)} Action100M row problem(s):\n{lines}{more}")


@dataclass(frozen=True)
class Node:
    node_id: str
    parent_id: str | None
    level: int
    start: float
    end: float
    gpt: dict[str, Any] | None = None
    plm_caption: str | None = None
    plm_action: str | None = None
    llama3_caption: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Row:
    """One checked row.  ``where`` is ``file:row`` for messages."""

    video_uid: str
    title: str
    nodes: list[Node]
    transcript: list[tuple[float, str]] = field(default_factory=list)
    description: str = ""
    duration: float | None = None
    upload_date: str = ""
    where: str = ""
    extra_metadata: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- checking


def check_gpt(value: Any) -> list[str]:
    """Problems of a ``gpt`` annotation against the release's structure (empty: valid).

    Used on every input row and on the caption-tree labeler's LLM replies."""
    if not isinstance(value, dict):
        return [f"gpt must be an object with {', '.join(GPT_FIELDS)}, got {type(value).__name__}"]
    out = []
    for group, names in GPT_FIELDS.items():
        sub = value.get(group)
        if not isinstance(sub, dict):
            out.append(f"gpt.{group} must be an object with {', '.join(names)}")
            continue
        for name in names:
            v = sub.get(name)
            if not isinstance(v, str) or not v.strip():
                out.append(f"gpt.{group}.{name} must be a non-empty string, got {v!r}"[:200])
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def parse_row(raw: Any, file: str, row: int) -> tuple[Row | None, list[Problem]]:
    """Check one raw row (a mapping as parquet or JSON gives it); the row, or None with its problems."""
    problems: list[Problem] = []

    def bad(message: str, column: str | None = None, value: Any = None) -> None:
        if value is None:  # no value to show: name the column in the message, not as "column=None"
            message, column = (message if column is None else f"{column}: {message}"), None
        problems.append(
            Problem(file, row, message, column=column, value=None if value is None else str(value)[:80])
        )

    if not isinstance(raw, dict):
        bad(f"a row must be an object with video_uid, metadata, nodes; got {type(raw).__name__}")
        return None, problems
    uid = raw.get("video_uid")
    if not isinstance(uid, str) or not uid.strip():
        bad("video_uid must be a non-empty string", "video_uid", uid)
        return None, problems
    tag = f"[{uid}] "
    meta = raw.get("metadata")
    if not isinstance(meta, dict):
        bad(
            tag + "metadata must be an object (title, description, duration, upload_date, transcript)",
            "metadata",
        )
        meta = {}
    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        bad(tag + "title must be a string", "metadata.title", title)
    duration = meta.get("duration")
    if duration is not None and (_number(duration) is None or _number(duration) < 0):
        bad(tag + "duration must be a number of seconds >= 0", "metadata.duration", duration)
    transcript: list[tuple[float, str]] = []
    lines = meta.get("transcript")
    if lines is not None and not isinstance(lines, list):
        bad(tag + "transcript must be a list of {time, text}", "metadata.transcript", type(lines).__name__)
        lines = []
    last = -math.inf
    for i, line in enumerate(lines or []):
        t = _number(line.get("time")) if isinstance(line, dict) else None
        text = line.get("text") if isinstance(line, dict) else None
        if t is None or t < 0 or not isinstance(text, str):
            bad(tag + f"transcript line {i + 1} must be {{time: seconds >= 0, text: string}}",
                "metadata.transcript", line)  # fmt: skip
            continue
        if t < last:
            bad(tag + f"transcript line {i + 1} starts at {t:g} s, before the line above it ({last:g} s)",
                "metadata.transcript", line.get("time"))  # fmt: skip
        last = max(last, t)
        transcript.append((t, text))
    nodes = _parse_nodes(raw.get("nodes"), bad, tag)
    if problems:
        return None, problems
    extra = {
        k: v
        for k, v in meta.items()
        if k not in ("title", "description", "duration", "upload_date", "transcript")
    }
    return (
        Row(
            video_uid=uid,
            title=title or "",
            nodes=nodes,
            transcript=transcript,
            description=_opt_str(meta.get("description")) or "",
            duration=_number(duration) if duration is not None else None,
            upload_date=str(meta.get("upload_date") or ""),
            where=f"{file}:{row}",
            extra_metadata=extra,
        ),
        [],
    )


def _parse_nodes(raw_nodes: Any, bad, tag: str) -> list[Node]:
    if not isinstance(raw_nodes, list) or not raw_nodes:
        bad(tag + "nodes must be a non-empty list of segments", "nodes")
        return []
    nodes: list[Node] = []
    ids: set[str] = set()
    for i, n in enumerate(raw_nodes):
        where = f"node {i + 1}"
        if not isinstance(n, dict):
            bad(tag + f"{where} must be an object", "nodes")
            continue
        nid, pid = n.get("node_id"), n.get("parent_id")
        start, end, level = _number(n.get("start")), _number(n.get("end")), n.get("level")
        ok = True
        if not isinstance(nid, str) or not nid:
            bad(tag + f"{where}: node_id must be a non-empty string", "nodes.node_id", nid)
            ok = False
        elif nid in ids:
            bad(tag + f"{where}: node_id repeats an earlier node", "nodes.node_id", nid)
            ok = False
        if pid is not None and not isinstance(pid, str):
            bad(tag + f"{where}: parent_id must be a string or null", "nodes.parent_id", pid)
            ok = False
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            bad(tag + f"{where}: level must be an integer >= 0", "nodes.level", level)
            ok = False
        if start is None or end is None or start < 0 or end <= start:
            bad(
                tag + f"{where}: needs 0 <= start < end (seconds)",
                "nodes.start/end",
                f"{n.get('start')}..{n.get('end')}",
            )
            ok = False
        gpt = n.get("gpt")
        if gpt is not None:
            for msg in check_gpt(gpt):
                bad(tag + f"{where} ({nid}): {msg}", "nodes.gpt")
                ok = False
        if not ok:
            continue
        ids.add(nid)
        nodes.append(
            Node(nid, pid, int(level), float(start), float(end), gpt,
                 _opt_str(n.get("plm_caption")), _opt_str(n.get("plm_action")), _opt_str(n.get("llama3_caption")))
        )  # fmt: skip
    by_id = {n.node_id: n for n in nodes}
    roots = [n for n in nodes if n.parent_id is None]
    if nodes and len(roots) != 1:
        bad(
            tag + f"the tree needs exactly one root node (parent_id null), found {len(roots)}",
            "nodes.parent_id",
        )
    for n in nodes:
        if n.parent_id is None:
            continue
        parent = by_id.get(n.parent_id)
        if parent is None:
            bad(
                tag + f"node {n.node_id}: parent_id names no node of this row", "nodes.parent_id", n.parent_id
            )
        elif n.level != parent.level + 1:
            bad(
                tag + f"node {n.node_id}: level {n.level} but its parent's level is {parent.level}",
                "nodes.level",
            )
        elif n.start < parent.start - _TIME_TOLERANCE or n.end > parent.end + _TIME_TOLERANCE:
            bad(tag + f"node {n.node_id}: [{n.start:g}, {n.end:g}] s is outside its parent's "
                f"[{parent.start:g}, {parent.end:g}] s", "nodes.start/end")  # fmt: skip
    return nodes


# ----------------------------------------------------------------------------- reading


def input_files(path: str | os.PathLike) -> list[Path]:
    """The row files of ``path``: itself, or every parquet / JSONL / JSON file under a folder."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder (expected Action100M rows)")
    if p.is_file():
        if p.suffix.lower() not in _SUFFIXES:
            raise ValueError(f"{p}: not a .parquet, .jsonl or .json file of Action100M rows")
        return [p]
    files = sorted(
        f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _SUFFIXES
        and not any(part.startswith(".") for part in f.relative_to(p).parts)
    )  # fmt: skip
    if not files:
        raise ValueError(f"{p}: no .parquet, .jsonl or .json files of Action100M rows in this folder")
    return files


def _raw_rows(path: Path) -> Iterator[tuple[int, Any] | Problem]:
    """(row number, raw row) of one file, or a Problem for what cannot be read at all."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError...
            yield Problem(name, 0, f"not a readable parquet file ({e})")
            return
        missing = [c for c in ("video_uid", "metadata", "nodes") if c not in pf.schema_arrow.names]
        if missing:
            yield Problem(
                name,
                0,
                f"missing column(s) {', '.join(missing)}; columns: {', '.join(pf.schema_arrow.names)}",
            )
            return
        n = 0
        for batch in pf.iter_batches(batch_size=32, columns=["video_uid", "metadata", "nodes"]):
            for raw in batch.to_pylist():
                n += 1
                yield n, raw
        return
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as e:
                    yield Problem(name, lineno, f"not valid JSON ({e.msg} at column {e.colno})")
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        yield Problem(name, e.lineno, f"not valid JSON ({e.msg})")
        return
    if isinstance(data, dict) and isinstance(data.get("video_uid"), list):  # the sample's column layout
        cols = {k: v for k, v in data.items() if isinstance(v, list)}
        n = len(data["video_uid"])
        if any(len(v) != n for v in cols.values()):
            yield Problem(name, 0, "column layout with columns of different lengths")
            return
        for i in range(n):
            yield i + 1, {k: v[i] for k, v in cols.items()}
    elif isinstance(data, list):
        yield from enumerate(data, start=1)
    else:
        yield 1, data


def read_rows(path: str | os.PathLike) -> Iterator[tuple[Row | None, list[Problem]]]:
    """Every row under ``path``, checked: ``(row, [])`` or ``(None, problems)``, streaming
    (a parquet file is read 32 rows at a time).  Duplicate video ids are problems too."""
    seen: dict[str, str] = {}
    for f in input_files(path):
        for item in _raw_rows(f):
            if isinstance(item, Problem):
                yield None, [item]
                continue
            n, raw = item
            row, problems = parse_row(raw, str(f), n)
            if row is not None and row.video_uid in seen:
                problems = [Problem(str(f), n, f"video_uid repeats the row at {seen[row.video_uid]}",
                                    column="video_uid", value=row.video_uid)]  # fmt: skip
                row = None
            if row is not None:
                seen[row.video_uid] = row.where
            yield row, problems


# ----------------------------------------------------------------------------- writing


def row_to_dict(row: Row) -> dict[str, Any]:
    """The release's layout (what :func:`read_rows` reads back)."""
    meta: dict[str, Any] = {
        "title": row.title,
        "description": row.description,
        **row.extra_metadata,
        "duration": int(row.duration)
        if row.duration is not None and float(row.duration).is_integer()
        else row.duration,
        "upload_date": row.upload_date,
        "transcript": [{"time": f"{t:g}", "text": text} for t, text in row.transcript],
    }
    return {
        "video_uid": row.video_uid,
        "metadata": meta,
        "nodes": [
            {
                "node_id": n.node_id,
                "parent_id": n.parent_id,
                "level": n.level,
                "start": round(n.start, 3),
                "end": round(n.end, 3),
                "plm_action": n.plm_action,
                "plm_caption": n.plm_caption,
                "llama3_caption": n.llama3_caption,
                "gpt": n.gpt,
            }
            for n in row.nodes
        ],
    }


def write_rows(path: str | os.PathLike, rows: Iterable[Row]) -> Path:
    """Rows as JSON Lines (atomically)."""
    return atomic_write_text(
        path, "".join(json.dumps(row_to_dict(r), ensure_ascii=False) + "\n" for r in rows)
    )


def release_schema():
    """The preview release's arrow schema (``facebook/action100m-preview``, as in the public
    repository's ``data/examples.parquet``): float32 times, int16 levels, int64 duration,
    caption-line times as strings."""
    import pyarrow as pa

    text_pair = pa.struct([("brief", pa.string()), ("detailed", pa.string())])
    gpt = pa.struct(
        [
            ("summary", text_pair),
            (
                "action",
                pa.struct([("brief", pa.string()), ("detailed", pa.string()), ("actor", pa.string())]),
            ),
        ]
    )
    node = pa.struct(
        [
            ("node_id", pa.string()),
            ("parent_id", pa.string()),
            ("level", pa.int16()),
            ("start", pa.float32()),
            ("end", pa.float32()),
            ("plm_action", pa.string()),
            ("plm_caption", pa.string()),
            ("llama3_caption", pa.string()),
            ("gpt", gpt),
        ]
    )
    metadata = pa.struct(
        [
            ("title", pa.string()),
            ("description", pa.string()),
            ("view_count", pa.int64()),
            ("like_count", pa.int64()),
            ("duration", pa.int64()),
            ("upload_date", pa.string()),
            ("transcript", pa.list_(pa.struct([("time", pa.string()), ("text", pa.string())]))),
        ]
    )
    return pa.schema([("video_uid", pa.string()), ("metadata", metadata), ("nodes", pa.list_(node))])


def write_parquet(path: str | os.PathLike, rows: Iterable[Row]) -> Path:
    """Rows as a parquet file in the release's schema (:func:`release_schema`), atomically.
    A duration is rounded to whole seconds and counts absent from ``extra_metadata`` are null,
    as in the release."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = []
    for r in rows:
        d = row_to_dict(r)
        meta = d["metadata"]
        meta["duration"] = None if r.duration is None else int(round(r.duration))
        meta = {k: meta.get(k) for k in ("title", "description", "view_count", "like_count", "duration",
                                         "upload_date", "transcript")}  # fmt: skip
        records.append({**d, "metadata": meta})
    table = pa.Table.from_pylist(records, schema=release_schema())
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ----------------------------------------------------------------------------- the tree


def _children(nodes: Sequence[Node]) -> dict[str | None, list[Node]]:
    out: dict[str | None, list[Node]] = {}
    for n in nodes:
        out.setdefault(n.parent_id, []).append(n)
    for kids in out.values():
        kids.sort(key=lambda n: (n.start, n.end))
    return out


def window_nodes(nodes: Sequence[Node], level: int | None = None) -> list[Node]:
    """The tree's segments used as windows, in time order, never overlapping.

    ``level=None`` (default): the *finest annotated* segments - nodes with a ``gpt``
    annotation none of whose descendants has one (in the release: the shortest segments of
    at least 4 s, the finest grain the action texts describe).  ``level=K``: the cut at depth
    K - every node of level K, and every leaf above it (a branch that stops early)."""
    kids = _children(nodes)
    out: list[Node] = []

    def walk(n: Node) -> bool:  # returns whether n's subtree holds an annotation
        below = [walk(c) for c in kids.get(n.node_id, [])]
        annotated_below = any(below)
        if level is None and n.gpt is not None and not annotated_below:
            out.append(n)
        return annotated_below or n.gpt is not None

    if level is None:
        for root in kids.get(None, []):
            walk(root)
    else:
        stack = list(kids.get(None, []))
        while stack:
            n = stack.pop()
            below = kids.get(n.node_id, [])
            if n.level == level or (n.level < level and not below):
                out.append(n)
            elif n.level < level:
                stack.extend(below)
    return sorted(out, key=lambda n: (n.start, n.end))


def without_na(windows: Sequence[Node]) -> tuple[list[Node], int]:
    """The windows whose own annotation does not say "N/A", and how many did.

    The tree tiles the whole video, idle stretches and title cards included; a segment its
    annotator says holds no physical action is not a place where an action happens, so it is
    not a candidate clip (a window without an annotation is kept: no evidence either way)."""
    kept = [n for n in windows if n.gpt is None or not is_na(n.gpt)]
    return kept, len(windows) - len(kept)


def is_na(gpt: dict[str, Any] | None) -> bool:
    """Whether an annotation says no physical action happens ("N/A")."""
    brief = ((gpt or {}).get("action") or {}).get("brief")
    return not isinstance(brief, str) or brief.strip().rstrip(".").upper() in ("N/A", "NA", "NONE", "")


def action_text(gpt: dict[str, Any], fields: Sequence[str]) -> str:
    """The text of ``fields`` ("action.brief", "summary.detailed", ...) of an annotation, joined."""
    parts = []
    for f in fields:
        group, _, name = f.partition(".")
        v = (gpt.get(group) or {}).get(name)
        if isinstance(v, str) and v.strip() and v.strip().rstrip(".").upper() != "N/A":
            parts.append(v.strip())
    return " | ".join(parts)


def annotated_segments(
    nodes: Sequence[Node], matcher: ActionMatcher, fields: Sequence[str]
) -> list[dict[str, Any]]:
    """Every annotated node as ``{node_id, start, end, actions, na, brief}``: ``actions`` are the
    distinct action names of the domain its text names (the matcher of the title and speech
    filters), ``na`` whether it says nothing physical happens; sorted by start."""
    out = []
    for n in nodes:
        if n.gpt is None:
            continue
        na = is_na(n.gpt)
        out.append(
            {
                "node_id": n.node_id,
                "start": round(n.start, 3),
                "end": round(n.end, 3),
                "actions": [] if na else matcher.actions_in(action_text(n.gpt, fields)),
                "na": na,
                "brief": str((n.gpt.get("action") or {}).get("brief", ""))[:200],
            }
        )
    return sorted(out, key=lambda s: (s["start"], s["end"]))


# ----------------------------------------------------------------------------- speech


def _is_sound_tag(token: str) -> bool:
    return token.startswith("[") and token.endswith("]")  # "[Music]", "[Applause]"


def caption_transcript(lines: Sequence[tuple[float, str]], duration: float | None) -> Transcript:
    """Timed caption lines as words with interpolated times.

    A caption line has only a start time.  It is taken to last until the next line starts
    (the last one: until the video ends), but at most ``MAX_SECONDS_PER_WORD`` per word - a
    line followed by a long silence is not stretched over it.  Within the line each word
    starts at the share of the line's characters before it: words are spread evenly by
    length, so a word's time is off by up to a few tenths of a second where the real speech
    was uneven (Whisper's word starts, for comparison, are within ~0.13 s).  Sound tags such
    as ``[Music]`` keep their share of time but are not words."""
    words: list[Word] = []
    for i, (t0, text) in enumerate(lines):
        tokens = text.split()
        if not tokens:
            continue
        nxt = lines[i + 1][0] if i + 1 < len(lines) else (duration if duration is not None else math.inf)
        t1 = min(max(nxt, t0), t0 + MAX_SECONDS_PER_WORD * len(tokens))
        if t1 <= t0:  # two lines at one instant: give the words a nominal pace
            t1 = t0 + 0.3 * len(tokens)
        total = sum(len(tok) for tok in tokens) + len(tokens) - 1
        pos = 0
        for tok in tokens:
            start = t0 + (t1 - t0) * pos / total
            end = t0 + (t1 - t0) * (pos + len(tok)) / total
            pos += len(tok) + 1
            if not _is_sound_tag(tok):
                words.append(Word(tok, round(start, 3), round(end, 3)))
    return Transcript(
        words=words,
        audio_seconds=float(duration or (lines[-1][0] if lines else 0.0)),
        backend="action100m-captions",
        has_audio=bool(lines),
    )

"""Where the tasks' data comes from, checked when lmms-eval loads a task.

The data is a benchmark directory written by ``videonet build-benchmark`` or ``videonet
import-release`` (parquet configs plus a shared ``videos/`` pool referenced by relative
paths), the same layout published on the Hub, or the **official release itself** (its
``benchmarks/*.jsonl`` question files and ``videos/``, locally or ``raivn/VideoNet`` on the
Hub), which is imported as published into the cache on first use (clips linked, never
copied).  ``VIDEONET_DATA`` selects it:

* a local directory (default ``./videonet``, resolved against the working directory), or
* a Hub dataset id ``namespace/name`` (optionally ``@revision``): its card and data files
  (or question files) are fetched with ``huggingface_hub.snapshot_download`` into the Hub
  cache, then exactly the videos the loaded config uses.

:func:`open_config` does the checks lmms-eval's built-in VideoNet tasks leave to the model
loop: every video a config refers to is resolved and must exist *before* the first request
(one error lists all the missing files), binary rows must carry as many example videos as
their ``k``.  Clips that still have an audio track (data not written by our builder, which
trims to silent clips) are remuxed once, video only, into a cache directory: the paper shows
models silenced videos.  Clips stored sideways behind a display matrix (phone videos) are
re-encoded upright there too, since many models' own video readers ignore the matrix.
Nothing is written to the working directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from videonet_datasets.benchmark import resolve_video
from videonet_datasets.benchmark.release import is_release_dir
from videonet_datasets.benchmark.schema import ALL_CONFIGS, SPLITS, data_file
from videonet_datasets.video import probe_video, trim_clip

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DATA",
    "ENV_CACHE",
    "ENV_DATA",
    "ConfigInfo",
    "DataSourceError",
    "MissingFieldError",
    "data_spec",
    "open_config",
    "playable_path",
    "resolve_root",
]

#: Environment variable naming the benchmark: a local directory or a Hub dataset id.
ENV_DATA = "VIDEONET_DATA"
#: Default benchmark location (what ``videonet build-benchmark ... --out videonet`` writes).
DEFAULT_DATA = "videonet"
#: Where silent copies of clips that carry audio go (default ``$XDG_CACHE_HOME/videonet``).
ENV_CACHE = "VIDEONET_CACHE"

BUILD_INFO = "build_info.json"
_lock = threading.Lock()
_hub_roots: dict[str, Path] = {}
_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?")
_MAX_LISTED = 20


class DataSourceError(FileNotFoundError):
    """The benchmark (or part of it) cannot be found; the message says where we looked."""


class MissingFieldError(DataSourceError):
    """The data lacks something a task needs (a config, a column, definitions); raised when
    the task loads, before any request, with what is missing and what to do."""


@dataclass(frozen=True)
class ConfigInfo:
    """One config of the benchmark, opened and checked."""

    root: Path
    config: str
    rows: dict[str, int]  # split -> number of rows
    categories: tuple[str, ...]  # in first-seen order
    domains: tuple[tuple[str, str], ...]  # (category, domain), first-seen order
    videos: int  # distinct videos referenced (test clips and in-context examples)
    silenced: int  # of which had audio and were remuxed without it
    turned: int = 0  # of which were stored sideways and re-encoded upright (and silent)
    source: str = ""  # what VIDEONET_DATA said


def data_spec() -> str:
    """The data source the tasks use now: ``$VIDEONET_DATA`` or ``videonet``."""
    return (os.environ.get(ENV_DATA) or "").strip() or DEFAULT_DATA


def cache_dir() -> Path:
    base = os.environ.get(ENV_CACHE)
    if base:
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "videonet"


def _looks_like_hub_id(spec: str) -> bool:
    return bool(_HUB_ID_RE.fullmatch(spec)) and not spec.startswith((".", "~", "/"))


def _not_found(spec: str, path: Path) -> DataSourceError:
    return DataSourceError(
        f"VideoNet benchmark not found: {spec!r} is not a directory ({path}) nor a Hub dataset id "
        f"(namespace/name). Build it with `videonet build-benchmark ANNOTATIONS --out {path}` or point "
        f"{ENV_DATA} (or `videonet eval --data`) at a built benchmark directory or Hub id."
    )


def resolve_root(spec: str | None = None) -> tuple[Path, bool]:
    """(local root, is_hub) of the benchmark named by ``spec`` (default: :func:`data_spec`).

    A Hub id downloads the card and the data files (not the videos) into the Hub cache;
    the snapshot directory is remembered, so later calls do not ask the Hub again.  A folder
    in the official release's layout (``benchmarks/*.jsonl``; local or on the Hub) is imported
    as published into the cache (:func:`imported_release`) and that directory returned.
    """
    spec = spec or data_spec()
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DataSourceError(
                f"{ENV_DATA}={spec!r}: {path.resolve()} is a file, not a benchmark directory"
            )
        path = path.resolve()
        if not (path / "README.md").is_file() or not (path / "data").is_dir():
            if is_release_dir(path):
                return imported_release(path), False
        if not (path / "README.md").is_file():
            raise DataSourceError(
                f"{path} has no README.md: not a benchmark directory written by `videonet build-benchmark` "
                "or `videonet import-release`, nor the official release (benchmarks/*.jsonl)"
            )
        return path, False
    if _looks_like_hub_id(spec):
        with _lock:
            known = _hub_roots.get(spec)
        if known is None:
            snapshot = _hub_download(spec, ["README.md", BUILD_INFO, "data/**", "benchmarks/*.jsonl"])
            known = snapshot
            if not (snapshot / "data").is_dir() and is_release_dir(snapshot):
                known = imported_release(snapshot, videos=snapshot / "videos")
            with _lock:
                _hub_roots[spec] = known
        return known, True
    raise _not_found(spec, path.resolve())


def imported_release(release: Path, videos: Path | None = None) -> Path:
    """The official release at ``release``, imported as published into the cache (once per
    content of its question files and clip folder); the import's ``videos`` is a link to
    the release's clip folder (``videos``, ``$VN_VIDEOS_DIR`` or ``RELEASE/videos``)."""
    from videonet_datasets.benchmark.release import BINARY_FILES, MC_FILES, ReleaseFormatError, videos_dir_for
    from videonet_datasets.benchmark.release import import_release as do_import

    vdir = videos_dir_for(release, videos).resolve()
    h = hashlib.sha1(f"{release}|{vdir}".encode())
    for name in (*MC_FILES, *BINARY_FILES):
        f = release / "benchmarks" / name
        if f.is_file():
            h.update(f"{name}:".encode() + f.read_bytes())
    out = cache_dir() / "releases" / h.hexdigest()[:16]
    with _lock:
        if not (out / BUILD_INFO).is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                do_import(
                    release, out, videos=vdir, link_videos_dir=True, probe_durations=False, progress=False
                )
            except ReleaseFormatError as e:
                raise DataSourceError(
                    f"{release}: the official release's question files are broken: {e}"
                ) from e
            log.info("VideoNet: imported the official release %s as published into %s", release, out)
    return out


def _hub_download(spec: str, patterns: list[str]) -> Path:
    """``snapshot_download`` of ``patterns`` from the dataset repo ``spec`` (``id[@revision]``)."""
    from huggingface_hub import snapshot_download

    repo_id, _, revision = spec.partition("@")
    try:
        local = snapshot_download(
            repo_id=repo_id, repo_type="dataset", revision=revision or None, allow_patterns=patterns
        )
    except Exception as e:  # offline, gated, missing repo, ...
        raise DataSourceError(f"could not fetch {patterns[:3]}... of the Hub dataset {spec!r}: {e}") from e
    return Path(local)


# ----------------------------------------------------------------------------- checking

_opened: dict[tuple, ConfigInfo] = {}
#: root -> {relative video path -> path to hand to models (the clip or its silent copy)}
_playable: dict[Path, dict[str, str]] = {}


def _columns(path: Path) -> list[str]:
    return pq.read_schema(path).names


def _read_rows(root: Path, config: str) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for split in SPLITS[config]:
        path = root / data_file(config, split)
        if not path.is_file():
            continue
        names = _columns(path)
        wanted = [
            c for c in ("question_id", "category", "domain", "video", "example_videos", "k") if c in names
        ]
        missing = {"question_id", "category", "domain", "video"} - set(names)
        if missing:
            raise DataSourceError(
                f"{path}: missing columns {sorted(missing)} (not a VideoNet benchmark file)"
            )
        rows[split] = pq.read_table(path, columns=wanted).to_pylist()
    if not rows:
        expected = ", ".join(data_file(config, s) for s in SPLITS[config])
        present = sorted(c for c in ALL_CONFIGS if any((root / data_file(c, s)).is_file() for s in SPLITS[c]))
        hint = ""
        if _tool(root) == "videonet import-release":
            hint = (
                " The official release has only mc and binary_{0..3}shot (no random negatives): run the tag "
                "videonet_main, or build random negatives from its annotations with `videonet build-benchmark`."
            )
        raise MissingFieldError(
            f"{root}: the data has no config {config!r} (expected {expected}; it has "
            f"{', '.join(present) or 'none'}).{hint}"
        )
    return rows


def _check_rows(root: Path, config: str, rows: dict[str, list[dict]]) -> tuple[dict[str, str], list[str]]:
    """Every video of ``rows`` -> (relative -> first user), and the list of row problems."""
    users: dict[str, str] = {}
    problems: list[str] = []
    for split, split_rows in rows.items():
        for i, row in enumerate(split_rows):
            where = f"{data_file(config, split)} row {i} (question_id {row.get('question_id')!r})"
            for key in ("category", "domain", "video"):
                if not isinstance(row.get(key), str) or not row[key].strip():
                    problems.append(f"{where}: empty {key!r}")
            examples = row.get("example_videos") or []
            if "k" in row and row["k"] is not None and len(examples) != row["k"]:
                problems.append(f"{where}: k={row['k']} but {len(examples)} example videos")
            for rel in [row.get("video"), *examples]:
                if isinstance(rel, str) and rel:
                    users.setdefault(rel, where)
    return users, problems


def _build_info(root: Path) -> dict:
    try:
        import json

        info = json.loads((root / BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _tool(root: Path) -> str:
    return str(_build_info(root).get("tool", ""))


def _clips_silent(root: Path) -> bool:
    """Whether the data's writer guarantees silent clips (our builder trims to silent clips;
    an import, or a build that kept whole clips, says ``clips_silent: false``)."""
    info = _build_info(root)
    return bool(info.get("clips_silent", info.get("tool") == "videonet build-benchmark"))


def _needs_copy(path: str) -> str | None:
    """``"upright"`` for a clip stored sideways or mirrored, ``"silent"`` for one with sound."""
    info = probe_video(path)
    if info.rotation or info.mirrored:
        return "upright"
    return "silent" if info.has_audio else None


def _cached(src: Path, kind: str) -> Path:
    st = src.stat()
    key = hashlib.sha1(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir() / kind / f"{src.stem}-{key}{src.suffix or '.mp4'}"


def _upright_copy(src: Path) -> Path:
    """The whole clip re-encoded upright and silent by the project's ``trim_clip`` (made once)."""
    dst = _cached(src, "upright").with_suffix(".mp4")
    if not dst.is_file():
        trim_clip(src, dst, threads=1)
    return dst


def _silent_copy(src: Path) -> Path:
    """A video-only remux of ``src`` in the cache (made once; keyed by path, size and mtime)."""
    import av

    dst = _cached(src, "silent")
    if dst.is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}{src.suffix or '.mp4'}")
    try:
        with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
            vin = inp.streams.video[0]
            vout = out.add_stream_from_template(vin)
            for packet in inp.demux(vin):
                if packet.dts is None:
                    continue
                packet.stream = vout
                out.mux(packet)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst


def _playable_map(root: Path, rels: Iterable[str], probe: bool) -> tuple[dict[str, str], int, int]:
    """relative path -> absolute path to give models; clips with audio become silent copies,
    sideways ones upright copies.  Also returns how many of each."""
    absolute = {rel: str(resolve_video(root, rel)) for rel in rels}
    if not probe:
        return absolute, 0, 0
    todo = sorted(absolute)
    with ThreadPoolExecutor(max_workers=4) as pool:
        needs = dict(zip(todo, pool.map(lambda r: _needs_copy(absolute[r]), todo)))
    audio = [rel for rel in todo if needs[rel] == "silent"]
    turned = [rel for rel in todo if needs[rel] == "upright"]
    for rel in audio:
        absolute[rel] = str(_silent_copy(Path(absolute[rel])))
    for rel in turned:
        absolute[rel] = str(_upright_copy(Path(absolute[rel])))
    if audio or turned:
        log.warning(
            "%s: %d clip(s) had an audio track, %d were stored sideways; models get silent, "
            "upright copies from %s",
            root,
            len(audio) + len(turned),
            len(turned),
            cache_dir(),
        )
    return absolute, len(audio) + len(turned), len(turned)


def open_config(config: str, spec: str | None = None, require_definitions: bool = False) -> ConfigInfo:
    """Resolve the data source, read ``config``'s rows and check every video they use.

    Raises :class:`DataSourceError` naming the directory, the config and every missing
    video (up to 20, then a count) - at task load time, before any request is built;
    :class:`MissingFieldError` when the data lacks the config, or (``require_definitions``,
    for the definition ablation) a question's action has no definition.
    Results are cached per (source, config, data-file mtimes).
    """
    info = _open_config(config, spec)
    if require_definitions:
        _check_definitions(info)
    return info


def _check_definitions(info: ConfigInfo) -> None:
    empty = total = 0
    for split in info.rows:
        path = info.root / data_file(info.config, split)
        cols = _columns(path)
        values = (
            pq.read_table(path, columns=["definition"]).column(0).to_pylist() if "definition" in cols else []
        )
        total += info.rows[split]
        empty += info.rows[split] - sum(1 for d in values if isinstance(d, str) and d.strip())
    if empty:
        release = (
            " (the official release publishes no definitions)"
            if _tool(info.root) == "videonet import-release"
            else ""
        )
        raise MissingFieldError(
            f"{info.root}: the definition ablation needs the asked action's definition in every question, and "
            f"{empty} of {total} questions of config {info.config!r} have none{release}. Fill `definition` in "
            "actions.csv and rebuild with `videonet build-benchmark`, or run the task without `_definition`."
        )


def _open_config(config: str, spec: str | None) -> ConfigInfo:
    if config not in ALL_CONFIGS:
        raise ValueError(f"unknown config {config!r}; expected one of {', '.join(ALL_CONFIGS)}")
    spec = spec or data_spec()
    root, is_hub = resolve_root(spec)
    stamps = tuple(
        (root / data_file(config, s)).stat().st_mtime_ns if (root / data_file(config, s)).exists() else 0
        for s in SPLITS[config]
    )
    key = (str(root), config, stamps)
    with _lock:
        if key in _opened:
            return _opened[key]
    rows = _read_rows(root, config)
    users, problems = _check_rows(root, config, rows)
    if problems:
        shown = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise DataSourceError(
            f"{root}: config {config!r} has {len(problems)} invalid row(s):\n  {shown}{more}"
        )
    if is_hub:  # fetch exactly the videos this config uses
        fetched = _hub_download(spec, sorted(users))
        if not (root / "videos").is_symlink():  # an imported release links to the snapshot's videos
            root = fetched
    missing = [rel for rel in sorted(users) if not resolve_video(root, rel).is_file()]
    if missing:
        listed = "\n  ".join(f"{rel}  (used by {users[rel]})" for rel in missing[:_MAX_LISTED])
        more = f"\n  ... and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        raise DataSourceError(
            f"{root}: {len(missing)} of {len(users)} videos used by config {config!r} are missing:\n  {listed}{more}"
        )
    probe = not _clips_silent(root)  # our builder writes silent, upright clips
    playable, silenced, turned = _playable_map(root, users, probe)
    categories: dict[str, None] = {}
    domains: dict[tuple[str, str], None] = {}
    for split_rows in rows.values():
        for row in split_rows:
            categories.setdefault(row["category"], None)
            domains.setdefault((row["category"], row["domain"]), None)
    info = ConfigInfo(
        root=root,
        config=config,
        rows={split: len(r) for split, r in rows.items()},
        categories=tuple(categories),
        domains=tuple(domains),
        videos=len(users),
        silenced=silenced,
        turned=turned,
        source=spec,
    )
    with _lock:
        _opened[key] = info
        _playable.setdefault(root, {}).update(playable)
    log.info(
        "VideoNet %s: %s from %s, %d videos checked%s",
        config,
        ", ".join(f"{s}={n}" for s, n in info.rows.items()),
        root,
        info.videos,
        f", {silenced} silenced ({turned} turned upright)" if silenced else "",
    )
    return info


def playable_path(root: Path, rel: str) -> str:
    """The absolute path models get for the row video ``rel`` (its silent copy if it had audio)."""
    known = _playable.get(Path(root), {})
    if rel in known:
        return known[rel]
    path = resolve_video(root, rel)
    if not path.is_file():
        raise DataSourceError(f"{root}: video {rel!r} is missing")
    return str(path)

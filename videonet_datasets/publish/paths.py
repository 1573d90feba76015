"""Find local absolute paths that would leak into a published repo.

A dataset built on one machine easily carries that machine's paths: a ``video`` column
written with ``to_parquet`` without embedding stores ``/home/me/...``, a training config
records ``output_dir: /scratch/run7``, lmms-eval's results record
``pretrained=/tmp/ckpt``.  On the Hub such a path is useless to everyone else (the row
points nowhere) and tells the world the author's user name and directory layout.

A *local path* here is: a path under a well-known root (``/home``, ``/tmp``, ``/root``,
``/Users``, ``/mnt``, ...), a Windows drive path (``C:\\`` or ``C:/``), a ``file://`` URL,
a ``~/`` path, or any occurrence of this machine's home directory, working directory or
dataset directory.  The match is anchored so that relative paths (``data/mc/...``) and
URLs (``https://host/home/...``) do not count.

Parquet columns are scanned with Arrow compute (RE2, no look-behind) as a coarse
pre-filter; only the few candidate values go through the exact Python expression.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

__all__ = ["LOCAL_ROOTS", "PathHit", "PathScanner", "dump_structured", "load_structured"]

# First component of absolute paths that only make sense on the machine that wrote them.
LOCAL_ROOTS = (
    "home",
    "tmp",
    "root",
    "Users",
    "mnt",
    "media",
    "var",
    "opt",
    "srv",
    "scratch",
    "private",
    "Volumes",
    "data",
    "work",
    "workspace",
    "gpfs",
    "lustre",
    "nfs",
    "net",
    "storage",
    "content",  # Colab
    "kaggle",
)

# A path token continues until whitespace, a quote or a separator typical of key=value lists.
_TOKEN_TAIL = r"[^\s\"'`,;=()\[\]{}<>|]*"


@dataclass(frozen=True)
class PathHit:
    """One leaked path: ``where`` says which row/column/key, ``match`` is the path."""

    where: str
    match: str
    value: str

    def describe(self, limit: int = 120) -> str:
        value = self.value if len(self.value) <= limit else self.value[: limit - 3] + "..."
        return f"{self.where}: local path {self.match!r} in {value!r}"


class PathScanner:
    """Detects local absolute paths in strings, parquet files and text files.

    ``extra`` adds literal prefixes (e.g. the dataset directory); the home directory, the
    working directory and the temporary directory of this process are always included.
    """

    def __init__(self, extra: Iterable[str | os.PathLike] = ()):
        self.extra = [Path(e) for e in extra]
        literals = {str(Path.home()), os.getcwd(), tempfile.gettempdir(), *(str(e) for e in extra)}
        for e in list(literals):
            try:
                literals.add(str(Path(e).resolve()))
            except OSError:
                pass
        # "/" alone (or a one-letter root) would match every relative path's separator.
        self.literals = sorted(
            (s.rstrip("/\\") for s in literals if len(s.rstrip("/\\")) > 2), key=len, reverse=True
        )
        roots = "|".join(LOCAL_ROOTS)
        lit = "|".join(re.escape(s) for s in self.literals)
        self._exact = re.compile(
            r"(?:"
            rf"(?<![\w.~:/\\-])/(?:{roots})(?=[/\\\s\"',;)\]}}]|$)"  # /home/..., /tmp
            r"|(?<![\w])[A-Za-z]:[\\/](?=[\w.$ -])"  # C:\Users, D:/data
            r"|file://"
            r"|(?<![\w/.~-])~[/\\]"  # ~/data
            + (rf"|(?<![\w.-])(?:{lit})(?=[/\\\s\"',;)\]}}]|$)" if lit else "")
            + rf"){_TOKEN_TAIL}"
        )
        # RE2 version for Arrow: superset of the exact expression (no look-around).
        self._coarse = rf"/(?:{roots})\b|[A-Za-z]:[\\/]|file://|~[/\\]" + (
            f"|(?:{'|'.join(re.escape(s) for s in self.literals)})" if lit else ""
        )

    # -- strings -------------------------------------------------------------------------------
    def find(self, text: str) -> list[str]:
        """Every local path in ``text`` (empty if none)."""
        return [m.group(0) for m in self._exact.finditer(text)]

    def redact(self, text: str) -> tuple[str, int]:
        """``text`` with every local path replaced by ``<local>/<last component>``; returns
        the new text and the number of replacements.  Used for provenance files (training
        configs, evaluation logs) that are copied into a model repo, never for data."""

        def repl(m: re.Match[str]) -> str:
            name = re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1]
            return f"<local>/{name}" if name and not name.endswith(":") else "<local>"

        return self._exact.subn(repl, text)

    def redact_obj(self, obj: Any) -> tuple[Any, int]:
        """A parsed JSON/YAML document with :meth:`redact` applied to every string value."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            out, n = {}, 0
            for k, v in obj.items():
                out[k], m = self.redact_obj(v)
                n += m
            return out, n
        if isinstance(obj, (list, tuple)):
            items = [self.redact_obj(v) for v in obj]
            return [v for v, _ in items], sum(m for _, m in items)
        return obj, 0

    def scan_strings(self, values: Iterable[tuple[str, str]]) -> list[PathHit]:
        """``values`` = (where, text) pairs."""
        hits = []
        for where, text in values:
            for m in self.find(text):
                hits.append(PathHit(where, m, text))
        return hits

    def scan_json(self, obj: object, where: str = "$") -> list[PathHit]:
        """Every string (and key) of a parsed JSON/YAML document, located by a JSONPath-like key."""
        return self.scan_strings(_walk_json(obj, where))

    # -- parquet -------------------------------------------------------------------------------
    def scan_parquet(self, path: str | os.PathLike, max_hits: int = 20) -> tuple[list[PathHit], int]:
        """Scan every string value of a parquet file (nested lists and structs included).

        Returns up to ``max_hits`` hits (``where`` = "row N, column C") and the total count.
        Row groups are read one at a time, so memory stays bounded on large shards.
        """
        pf = pq.ParquetFile(path)
        cols = [f.name for f in pf.schema_arrow if _has_strings(f.type)]
        hits: list[PathHit] = []
        total = 0
        offset = 0
        for g in range(pf.num_row_groups):
            table = pf.read_row_group(g, columns=cols) if cols else None
            n = pf.metadata.row_group(g).num_rows
            if table is not None:
                for name in cols:
                    for arr, rows in _string_leaves(table.column(name)):
                        mask = pc.match_substring_regex(arr, self._coarse)
                        idx = pc.indices_nonzero(pc.fill_null(mask, False))
                        if len(idx) == 0:
                            continue
                        values = pc.take(arr, idx).to_pylist()
                        row_ids = pc.take(rows, idx).to_pylist()
                        for value, row in zip(values, row_ids):
                            found = self.find(value)
                            total += len(found)
                            for m in found:
                                if len(hits) < max_hits:
                                    hits.append(PathHit(f"row {offset + row}, column {name!r}", m, value))
            offset += n
        return hits, total


def load_structured(path: Path) -> Any:
    """A JSON or YAML file (YAML by extension; JSON, then YAML, otherwise)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return yaml.safe_load(text)


def dump_structured(path: Path, obj: Any) -> str:
    """``obj`` serialised in the format of ``path`` (YAML or JSON by extension)."""
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _walk_json(obj: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, str):
        yield where, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{where} (key)", str(k)
            yield from _walk_json(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk_json(v, f"{where}[{i}]")


def _has_strings(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_dictionary(t):
        return _has_strings(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _has_strings(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_strings(t.field(i).type) for i in range(t.num_fields))
    return False


def _string_leaves(col: pa.ChunkedArray | pa.Array) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(string array, row index of each element) for every string leaf of a column."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    start = 0
    for chunk in chunks:
        rows = pa.array(range(start, start + len(chunk)), type=pa.int64())
        yield from _leaves(chunk, rows)
        start += len(chunk)


def _leaves(arr: pa.Array, rows: pa.Array) -> Iterator[tuple[pa.Array, pa.Array]]:
    t = arr.type
    if pa.types.is_dictionary(t):
        yield from _leaves(arr.dictionary_decode(), rows)
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        yield arr, rows
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        parents = pc.list_parent_indices(arr)
        yield from _leaves(arr.flatten(), pc.take(rows, parents))
    elif pa.types.is_struct(t):
        # StructArray.flatten() honours the parent's offset (field() does not).
        for child in arr.flatten():
            yield from _leaves(child, rows)

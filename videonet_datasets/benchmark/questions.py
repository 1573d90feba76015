"""The questions of a benchmark, read for re-scoring answers outside lmms-eval (``videonet report``).

A benchmark directory (built or imported: parquet configs), the official release's folder
(``benchmarks/*.jsonl``, read as published, in memory), or a Hub dataset id of either
(``namespace/name[@revision]``: only the question files are fetched, never the clips).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from videonet_datasets.benchmark.release import is_release_dir, read_release
from videonet_datasets.benchmark.schema import data_file

__all__ = ["Questions"]

_HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?")


class Questions:
    """question_id -> row, per (config, split), of the benchmark named by ``spec`` (read lazily)."""

    def __init__(self, spec: str | os.PathLike):
        self.spec = os.fspath(spec)
        self._root: Path | None = None
        self._release: dict[str, dict[str, list[dict[str, Any]]]] | None = None
        self._cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def _resolve(self) -> Path:
        if self._root is None:
            path = Path(self.spec).expanduser()
            if path.is_dir():
                self._root = path
            elif _HUB_ID_RE.fullmatch(self.spec) and not self.spec.startswith((".", "/", "~")):
                from huggingface_hub import snapshot_download

                repo, _, revision = self.spec.partition("@")
                self._root = Path(
                    snapshot_download(
                        repo_id=repo,
                        repo_type="dataset",
                        revision=revision or None,
                        allow_patterns=["README.md", "data/**", "benchmarks/*.jsonl"],
                    )
                )
            else:
                raise FileNotFoundError(f"{self.spec}: no such benchmark directory (nor a Hub dataset id)")
        return self._root

    def rows(self, config: str, split: str) -> dict[str, dict[str, Any]]:
        """question_id -> row of ``config``/``split``; FileNotFoundError if the data has none."""
        if (config, split) not in self._cache:
            root = self._resolve()
            path = root / data_file(config, split)
            if path.is_file():
                import pyarrow.parquet as pq

                rows = pq.read_table(path).to_pylist()
            elif is_release_dir(root):
                if self._release is None:
                    self._release = read_release(root).rows()
                rows = self._release.get(config, {}).get(split)
                if rows is None:
                    raise FileNotFoundError(f"{self.spec}: the release has no {config}/{split} questions")
            else:
                raise FileNotFoundError(f"{self.spec}: no {config}/{split} questions ({path})")
            self._cache[(config, split)] = {r["question_id"]: r for r in rows}
        return self._cache[(config, split)]

"""Read, complete and write the card (``README.md``) of a dataset folder.

🤗 datasets reads two things from a card's YAML: ``configs`` (which files make which
split of which config) and ``dataset_info`` (features and split sizes).  The builders of
this project write both; the publisher must not lose or contradict them, so it

* keeps the YAML text byte-for-byte when nothing needs adding,
* fills in what is missing (``configs`` from the ``data/<config>/<split>-*.parquet``
  layout, ``dataset_info`` and ``size_categories`` from the parquet files) and says so,
* never overwrites a number the card states: a stated split size that disagrees with the
  files is an error for :mod:`.check`, not something to paper over,
* points the body's ``load_dataset("...")`` examples at the Hub repo.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import yaml
from datasets.data_files import resolve_pattern, sanitize_patterns
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

__all__ = [
    "Card",
    "CardError",
    "complete_metadata",
    "data_file_features",
    "infer_configs",
    "read_card",
    "resolve_configs",
    "set_load_path",
    "size_category",
]

SHARD_NAME_RE = re.compile(r"^(?P<split>\w+?)(?:-(?P<idx>\d{5})-of-(?P<n>\d{5}))?(?:-[^/]*)?\.parquet$")


class CardError(ValueError):
    """The card cannot be parsed (names the file and what is wrong)."""


@dataclass
class Card:
    metadata: dict[str, Any]
    body: str
    yaml_text: str | None = None  # the original YAML block, kept verbatim when unchanged
    notes: list[str] = field(default_factory=list)  # what the publisher added or changed

    def render(self, changed_metadata: bool) -> str:
        if not self.metadata:
            return self.body
        yml = (
            self.yaml_text
            if (self.yaml_text is not None and not changed_metadata)
            else _dump_yaml(self.metadata)
        )
        return "---\n" + yml.rstrip("\n") + "\n---\n\n" + self.body.lstrip("\n")


def _dump_yaml(metadata: dict[str, Any]) -> str:
    return DatasetCardData(**metadata).to_yaml()


def read_card(path: str | Path) -> Card:
    """Split ``README.md`` into its YAML metadata and its markdown body."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return Card(metadata={}, body=text)
    m = re.match(r"^---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|$)", text, re.S)
    if not m:
        raise CardError(f"{path}: the YAML block opened by '---' on line 1 is never closed")
    yml = m.group(1) or ""
    try:
        meta = yaml.safe_load(yml) or {}
    except yaml.YAMLError as e:
        raise CardError(f"{path}: invalid YAML metadata: {e}") from e
    if not isinstance(meta, dict):
        raise CardError(f"{path}: the YAML metadata must be a mapping, got {type(meta).__name__}")
    return Card(metadata=meta, body=text[m.end() :], yaml_text=yml)


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    for bound, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if n < bound:
            return name
    return "100M<n<1B"


def infer_configs(root: Path) -> list[dict[str, Any]]:
    """``configs`` entries for the ``data/<config>/<split>[-NNNNN-of-NNNNN].parquet`` layout."""
    configs: dict[str, set[str]] = {}
    for f in sorted((root / "data").glob("*/*.parquet")):
        m = SHARD_NAME_RE.match(f.name)
        if m and not f.name.startswith("."):
            configs.setdefault(f.parent.name, set()).add(m.group("split"))
    return [
        {
            "config_name": name,
            "data_files": [{"split": s, "path": f"data/{name}/{s}-*.parquet"} for s in sorted(splits)],
        }
        for name, splits in sorted(configs.items())
    ]


def resolve_configs(
    root: Path, metadata: dict[str, Any]
) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """config -> split -> data files (relative, sorted) exactly as ``load_dataset`` resolves
    them, and the problems found (unparsable entries, patterns that match nothing)."""
    problems: list[str] = []
    try:
        mcs = MetadataConfigs.from_dataset_card_data(DatasetCardData(**metadata))
    except ValueError as e:
        return {}, [f"invalid `configs` entry: {e}"]
    base = os.path.abspath(root)
    out: dict[str, dict[str, list[str]]] = {}
    for name, cfg in mcs.items():
        data_files = cfg.get("data_files")
        if data_files is None:
            problems.append(f"config {name!r} has no data_files")
            continue
        splits: dict[str, list[str]] = {}
        for split, patterns in sanitize_patterns(data_files).items():
            files: list[str] = []
            for pattern in patterns:
                try:
                    matched = resolve_pattern(pattern, base_path=base)
                except FileNotFoundError:
                    problems.append(
                        f"config {name!r}, split {split!r}: data_files {pattern!r} matches no file"
                    )
                    continue
                files += [Path(os.path.relpath(p, base)).as_posix() for p in matched]
            splits[split] = sorted(set(files))
        out[name] = splits
    return out, problems


def data_file_features(path: Path) -> tuple[datasets.Features, int]:
    """Features (from the 🤗 schema metadata when present) and row count of a parquet file,
    read from its footer only."""
    pf = pq.ParquetFile(path)
    return datasets.Features.from_arrow_schema(pf.schema_arrow), pf.metadata.num_rows


def complete_metadata(
    root: Path, card: Card, *, pretty_name: str | None = None, license: str | None = None
) -> bool:
    """Fill what the card lacks from the files; returns whether the metadata changed.

    Every addition is recorded in ``card.notes``.  Stated values are never replaced.
    """
    meta = card.metadata
    changed = False
    if not meta.get("configs"):
        inferred = infer_configs(root)
        if inferred:
            meta["configs"] = inferred
            card.notes.append(
                f"added `configs` for {len(inferred)} config(s) from the data/<config>/<split>-*.parquet layout"
            )
            changed = True
    resolved, _ = resolve_configs(root, meta)
    try:
        infos = DatasetInfosDict.from_dataset_card_data(DatasetCardData(**meta))
    except Exception:  # an unreadable dataset_info is reported by the check
        infos = DatasetInfosDict()
    missing = [c for c in resolved if c not in infos and resolved[c] and all(resolved[c].values())]
    if missing:
        new_infos = DatasetInfosDict()
        for c in missing:
            features = None
            split_dict = datasets.SplitDict()
            for split, files in resolved[c].items():
                rows, nbytes = 0, 0
                for rel in files:
                    feats, n = data_file_features(root / rel)
                    features = features or feats
                    rows += n
                    nbytes += (root / rel).stat().st_size
                split_dict.add(datasets.SplitInfo(name=split, num_bytes=nbytes, num_examples=rows))
            new_infos[c] = datasets.DatasetInfo(features=features, splits=split_dict)
        data = DatasetCardData(**meta)
        # to_dataset_card_data merges with what is already there (configs stated keep theirs).
        new_infos.to_dataset_card_data(data)
        meta.clear()
        meta.update(data.to_dict())
        card.notes.append(f"added `dataset_info` (features, split sizes) for: {', '.join(missing)}")
        changed = True
    if not meta.get("size_categories") and resolved:
        n = max(
            (
                sum(data_file_features(root / f)[1] for f in files)
                for sp in resolved.values()
                for files in sp.values()
            ),
            default=0,
        )
        meta["size_categories"] = [size_category(n)]
        card.notes.append(f"added size_categories {meta['size_categories']}")
        changed = True
    if pretty_name and not meta.get("pretty_name"):
        meta["pretty_name"] = pretty_name
        card.notes.append(f"added pretty_name {pretty_name!r}")
        changed = True
    if license and not meta.get("license"):
        meta["license"] = license
        card.notes.append(f"added license {license!r}")
        changed = True
    return changed


_LOAD_RE = re.compile(r"""(load_dataset\(\s*)(["'])([^"'\n]+)\2""")


def set_load_path(body: str, repo_id: str) -> tuple[str, int]:
    """Point every ``load_dataset("<path>", ...)`` example of the card body at ``repo_id``
    (the builder writes the local folder name there); returns the body and the count."""
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if m.group(3) == repo_id:
            return m.group(0)
        n += 1
        return f"{m.group(1)}{m.group(2)}{repo_id}{m.group(2)}"

    return _LOAD_RE.sub(repl, body), n

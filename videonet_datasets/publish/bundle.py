"""The *bundle*: a folder holding exactly what will be uploaded.

``--dry-run --out FOLDER`` writes it and stops; a real publish writes it to a hidden
staging folder next to the source and uploads from there.  Either way the checks run
on the bundle itself (the rendered card included), so what was checked is byte for
byte what is uploaded.  Source files are hard-linked into the bundle (free on one file
system; copied otherwise); only the card and JSON/YAML metadata files that recorded
local paths (rewritten to ``<local>/<name>``) are newly written.  Data files, tables and
the card's stated numbers are never rewritten: a problem there is a check error.

A folder given as ``--out`` is replaced atomically.  Because a careless ``--out`` could
name a folder full of someone's work, an existing non-empty folder is replaced only when
a previous publish wrote it (a marker file *next to* it records that - a marker inside
would itself be uploaded).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from videonet_datasets.fsutil import atomic_write_json, atomic_write_text, swap_in_directory
from videonet_datasets.publish.check import (
    BENCHMARK,
    LEADERBOARD,
    TRAIN,
    DatasetKind,
    check_dataset,
    list_files,
)
from videonet_datasets.publish.dataset_card import CardError, complete_metadata, read_card, set_load_path
from videonet_datasets.publish.hashing import CACHE_FILE, FileDigest, digest_files, fingerprint
from videonet_datasets.publish.paths import PathScanner, dump_structured, load_structured

__all__ = [
    "Bundle",
    "CheckFailed",
    "PublishError",
    "link_tree",
    "record_marker",
    "stage_dataset",
    "write_bundle",
]

DATASET_KINDS: dict[str, DatasetKind] = {"benchmark": BENCHMARK, "train": TRAIN, "leaderboard": LEADERBOARD}
METADATA_EXTENSIONS = (".json", ".yaml", ".yml")


class PublishError(RuntimeError):
    """A publish that cannot go ahead; the message says why and what to do."""


class Report(Protocol):
    root: Path

    @property
    def ok(self) -> bool: ...

    def format(self, limit: int = 50) -> str: ...


class CheckFailed(PublishError):
    """The pre-upload check found errors; ``report`` lists them all."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(
            "the pre-upload check failed.\n"
            + report.format()
            + "\nNothing was written or uploaded. Fix the problems above and rerun."
        )


@dataclass
class Bundle:
    kind: str  # benchmark | train | model
    repo_type: str  # dataset | model
    repo_id: str
    root: Path
    files: dict[str, FileDigest]
    report: Report
    notes: list[str] = field(default_factory=list)  # what the publisher added or rewrote
    skipped: list[str] = field(default_factory=list)  # source files not published (hidden/excluded)
    temporary: bool = False  # a staging folder to delete after the upload

    @property
    def num_bytes(self) -> int:
        return sum(d.size for d in self.files.values())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.files.values())

    def format(self) -> str:
        lines = [
            f"Bundle for {self.repo_type} repo {self.repo_id}: {len(self.files)} files, "
            f"{self.num_bytes / 1e6:.1f} MB, fingerprint {self.fingerprint}"
        ]
        lines += [f"  {n}" for n in self.notes]
        if self.skipped:
            lines.append(
                f"  not published ({len(self.skipped)} hidden or excluded source files), e.g. "
                + ", ".join(self.skipped[:3])
            )
        return "\n".join(lines)

    def cleanup(self) -> None:
        if self.temporary and self.root.exists():
            shutil.rmtree(self.root)


def _marker(out: Path) -> Path:
    return out.with_name(f".{out.name}.videonet-publish.json")


def link_tree(src: Path, dst: Path, rels: list[str]) -> None:
    """Hard-link (or copy, across file systems) ``src/rel`` to ``dst/rel`` for every rel."""
    for rel in rels:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src / rel, target)
        except OSError:
            shutil.copy2(src / rel, target)


def _check_out(src: Path, out: Path) -> None:
    s, o = src.resolve(), out.resolve()
    if o == s or s in o.parents or o in s.parents:
        raise PublishError(
            f"--out {out} must be outside the folder being published ({src}) and not contain it"
        )
    if out.exists():
        if not out.is_dir():
            raise PublishError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()) and not _marker(out).exists():
            raise PublishError(
                f"--out {out} exists, is not empty and was not written by `videonet publish`; "
                "choose a new or empty folder"
            )


def write_bundle(
    src: Path,
    out: Path | None,
    rels: list[str],
    generated: dict[str, str],
    check: Callable[[Path], Report],
) -> tuple[Path, Report, bool]:
    """Stage ``rels`` from ``src`` plus the ``generated`` text files, check the staged
    folder and move it to ``out`` (or keep it as a temporary folder when ``out`` is None).

    Returns (bundle folder, check report, temporary).  On check errors nothing is left
    behind and :class:`CheckFailed` is raised.
    """
    if out is not None:
        _check_out(src, out)
        base = out
    else:
        base = src.parent / f".{src.name}.publish"
    staging = base.with_name(f".{base.name}.staging{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        link_tree(src, staging, [r for r in rels if r not in generated])
        for rel, text in generated.items():
            atomic_write_text(staging / rel, text)
        report = check(staging)
        report.root = out if out is not None else src  # name the folder the user knows, not the staging one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not report.ok:
        shutil.rmtree(staging, ignore_errors=True)
        raise CheckFailed(report)
    final = out if out is not None else base
    if out is None:
        if base.exists():
            shutil.rmtree(base)  # left by an interrupted publish
        os.replace(staging, base)
    else:
        swap_in_directory(staging, out)
    report.root = out if out is not None else src
    return final, report, out is None


def record_marker(bundle: Bundle) -> None:
    if not bundle.temporary:
        atomic_write_json(
            _marker(bundle.root),
            {
                "kind": bundle.kind,
                "repo_id": bundle.repo_id,
                "fingerprint": bundle.fingerprint,
                "files": len(bundle.files),
            },
        )


def redact_metadata_files(
    src: Path, rels: list[str], scanner: PathScanner, keep: tuple[str, ...] = ()
) -> dict[str, tuple[str, int]]:
    """(new text, replacements) of every JSON/YAML metadata file (``build_info.json``,
    ``stats.json``, a training run's provenance) that records local paths - builders log
    their settings, and the absolute path of a manifest is provenance, not data.  Files
    named in ``keep`` (what a loader reads, e.g. ``config.json``) and unparsable files are
    left alone: the check scans them and reports what it finds."""
    out: dict[str, tuple[str, int]] = {}
    for rel in rels:
        if not rel.endswith(METADATA_EXTENSIONS) or rel == "README.md" or Path(rel).name in keep:
            continue
        try:
            obj = load_structured(src / rel)
        except (ValueError, yaml.YAMLError, UnicodeDecodeError):
            continue
        clean, n = scanner.redact_obj(obj)
        if n:
            out[rel] = (dump_structured(src / rel, clean), n)
    return out


def stage_dataset(
    src: str | os.PathLike,
    kind: str,
    repo_id: str,
    out: str | os.PathLike | None = None,
    *,
    pretty_name: str | None = None,
    license: str | None = None,
    progress: bool = True,
) -> Bundle:
    """Check a built dataset folder and write its bundle (card pointed at ``repo_id``)."""
    src = Path(src)
    dkind = DATASET_KINDS[kind]
    if not src.is_dir():
        raise PublishError(f"{src}: not a folder")
    rels, hidden = list_files(src)
    if not rels:
        raise PublishError(f"{src}: no files to publish")
    if not (src / "README.md").exists():
        raise PublishError(
            f"{src}: no README.md. A {kind} folder's card comes from its builder "
            f"(`{dkind.builder}`); rebuild it rather than publishing an undocumented folder."
        )
    try:
        card = read_card(src / "README.md")
    except CardError as e:
        raise PublishError(str(e)) from e
    changed = complete_metadata(src, card, pretty_name=pretty_name, license=license)
    card.body, n = set_load_path(card.body, repo_id)
    if n:
        card.notes.append(f"pointed {n} load_dataset(...) example(s) at {repo_id!r}")
    generated = {"README.md": card.render(changed_metadata=changed)}
    notes = [f"card: {n}" for n in card.notes]
    scanner = PathScanner(extra=[src.resolve()] + ([Path(out).resolve()] if out else []))
    for rel, (text, n) in redact_metadata_files(src, rels, scanner).items():
        generated[rel] = text
        notes.append(f"{rel}: replaced {n} local path(s) by <local>/<name> (build provenance, not data)")

    def check(staged: Path) -> Report:
        return check_dataset(staged, dkind, scanner=PathScanner(extra=[*scanner.extra, staged.resolve()]))

    root, report, temporary = write_bundle(src, Path(out) if out else None, rels, generated, check)
    files = digest_files(root, list_files(root)[0], cache=src / CACHE_FILE, progress=progress)
    bundle = Bundle(
        kind=kind,
        repo_type="dataset",
        repo_id=repo_id,
        root=root,
        files=files,
        report=report,
        notes=notes,
        skipped=[h for h in hidden if h != CACHE_FILE],
        temporary=temporary,
    )
    record_marker(bundle)
    return bundle

"""Upload a checked bundle to the Hub with ``huggingface_hub``, safely and resumably.

Before writing anything the repo's current files at the target revision are compared
with the bundle by content hash (:mod:`.hashing`):

* files the repo already has unchanged are not uploaded - a second publish of the same
  data makes no commit, and an interrupted publish resumes with only what is missing;
* a repo that holds a *different* dataset at that revision (a data file with other
  content, or files the bundle does not have) is refused unless ``force``: publishing a
  new release belongs on a new ``revision`` (branch) or ``tag``, not on top of the old one.
  Card-only changes (``README.md``) are updates, not conflicts;
* an existing ``tag`` is a release: it is not moved to another commit without ``force``.

``HfApi.upload_folder`` (huggingface_hub 2.x with ``hf_xet``) streams large folders in
several commits and resumes when re-run, which is what ``upload_large_folder`` did in
1.x (removed since).  Everything here goes through a small set of ``HfApi`` methods
(``create_repo``, ``repo_info``, ``list_repo_refs``, ``create_branch``,
``list_repo_tree``, ``upload_folder``, ``create_commit``, ``create_tag``,
``delete_tag``), so a local stand-in object can replace the Hub in tests.

The token comes from the standard login (``hf auth login``) or ``HF_TOKEN`` and is never
printed: :func:`redact` scrubs it (and anything shaped like a Hub token) from messages.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonet_datasets.publish.bundle import Bundle, PublishError, link_tree
from videonet_datasets.publish.hashing import FileDigest

__all__ = [
    "PublishOptions",
    "PublishRefused",
    "PublishResult",
    "RedactingFilter",
    "RemoteDiff",
    "compare_remote",
    "get_hub_token",
    "publish_bundle",
    "redact",
    "validate_repo_id",
]

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "main"
CARD = "README.md"
IGNORED_REMOTE = (".gitattributes",)
_TOKEN_RE = re.compile(r"\b(?:hf_|api_org_)[A-Za-z0-9]{16,}\b")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


class PublishRefused(PublishError):
    """The repo holds something this publish would overwrite; pass ``force`` to do it."""


def redact(text: str, token: str | None = None) -> str:
    """``text`` without ``token`` and without anything shaped like a Hub token."""
    if token:
        text = text.replace(token, "hf_***")
    return _TOKEN_RE.sub("hf_***", text)


class RedactingFilter(logging.Filter):
    """Scrubs a token from every log record that passes through a handler."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg, self.token)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def get_hub_token() -> str | None:
    """The token of the standard Hugging Face login (``HF_TOKEN``, ``hf auth login``)."""
    from huggingface_hub import get_token

    return get_token()


def validate_repo_id(repo_id: str) -> str:
    """``ORG/NAME`` or raise: a bare name resolves to a local folder in ``load_dataset``."""
    if not _REPO_ID_RE.match(repo_id or "") or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise PublishError(f"--repo {repo_id!r}: expected ORG/NAME (e.g. my-org/videonet)")
    return repo_id


@dataclass(frozen=True)
class PublishOptions:
    repo_id: str
    revision: str | None = None  # branch to publish to; None = main
    tag: str | None = None  # release tag to put on the published commit
    private: bool = False
    force: bool = False
    commit_message: str | None = None

    @property
    def branch(self) -> str:
        return self.revision or DEFAULT_BRANCH


@dataclass
class RemoteDiff:
    unchanged: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # in the bundle, not in the repo
    changed: list[str] = field(default_factory=list)  # in both, other content
    removed: list[str] = field(default_factory=list)  # in the repo, not in the bundle

    @property
    def conflicts(self) -> list[str]:
        """Changes that replace published data (the card excepted)."""
        return sorted(p for p in self.changed + self.removed if p != CARD)

    @property
    def to_upload(self) -> list[str]:
        return sorted(self.added + self.changed)


def _remote_matches(remote: Any, local: FileDigest) -> bool:
    if getattr(remote, "size", None) is not None and remote.size != local.size:
        return False
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        if sha:
            return sha == local.sha256
    return getattr(remote, "blob_id", None) == local.git_sha1


def compare_remote(local: dict[str, FileDigest], remote: Iterable[Any]) -> RemoteDiff:
    """Compare the bundle's digests with the repo's file listing (``RepoFile`` objects)."""
    diff = RemoteDiff()
    seen: set[str] = set()
    for rf in remote:
        path = getattr(rf, "path", None)
        if path is None or not hasattr(rf, "blob_id"):  # RepoFolder
            continue
        seen.add(path)
        if path in local:
            (diff.unchanged if _remote_matches(rf, local[path]) else diff.changed).append(path)
        elif path not in IGNORED_REMOTE:
            diff.removed.append(path)
    diff.added = sorted(p for p in local if p not in seen)
    for lst in (diff.unchanged, diff.changed, diff.removed):
        lst.sort()
    return diff


@dataclass
class PublishResult:
    repo_id: str
    repo_type: str
    branch: str
    uploaded: list[str]
    deleted: list[str]
    unchanged: int
    uploaded_bytes: int
    commit: str | None  # head of the branch after the publish
    commits_made: int
    tag: str | None = None
    tag_status: str = ""
    warnings: list[str] = field(default_factory=list)

    def format(self) -> str:
        where = f"{self.repo_type} repo {self.repo_id} @ {self.branch}"
        if not self.uploaded and not self.deleted:
            lines = [f"Nothing new to upload to {where}: all {self.unchanged} files are already there."]
        else:
            lines = [
                f"Published to {where}: uploaded {len(self.uploaded)} file(s) ({self.uploaded_bytes / 1e6:.1f} MB), "
                f"deleted {len(self.deleted)}, unchanged {self.unchanged}."
            ]
        if self.commit:
            lines.append(f"  head commit: {self.commit}")
        if self.tag:
            lines.append(f"  tag {self.tag}: {self.tag_status}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _ref_map(refs: Any, attr: str) -> dict[str, str]:
    return {r.name: r.target_commit for r in getattr(refs, attr, None) or []}


def _describe_conflicts(diff: RemoteDiff, limit: int = 10) -> str:
    lines = []
    for kind, paths in (
        ("different content", [p for p in diff.changed if p != CARD]),
        ("not in this bundle", diff.removed),
    ):
        if paths:
            lines.append(
                f"  {len(paths)} file(s) with {kind}: "
                + ", ".join(paths[:limit])
                + (" ..." if len(paths) > limit else "")
            )
    return "\n".join(lines)


def _upload_folder_for(bundle: Bundle, paths: list[str]) -> tuple[Path, bool]:
    """The folder to hand to ``upload_folder``: the bundle itself when every file goes,
    else a temporary folder of hard links holding only ``paths``."""
    if set(paths) == set(bundle.files):
        return bundle.root, False
    delta = bundle.root.with_name(f".{bundle.root.name}.delta{os.getpid()}")
    if delta.exists():
        shutil.rmtree(delta)
    delta.mkdir(parents=True)
    link_tree(bundle.root, delta, paths)
    return delta, True


@dataclass
class _Plan:
    """What a publish will do, decided before anything is written to the repo."""

    branch: str
    new_branch: bool
    diff: RemoteDiff
    deletions: list[str]
    tags: dict[str, str]
    warnings: list[str]


def _plan(api: Any, bundle: Bundle, opts: PublishOptions) -> _Plan:
    """Read the repo's refs and files at the target revision; refuse what needs ``force``."""
    repo_id, repo_type, branch = opts.repo_id, bundle.repo_type, opts.branch
    warnings: list[str] = []
    # private=None (not False) without --private: a new repo follows the organisation's default.
    api.create_repo(
        repo_id=repo_id, repo_type=repo_type, private=True if opts.private else None, exist_ok=True
    )
    info = api.repo_info(repo_id=repo_id, repo_type=repo_type)
    if opts.private and not getattr(info, "private", False):
        warnings.append(
            "the repo already existed and is public; --private only applies when creating it "
            "(change the visibility in the repo settings)"
        )
    refs = api.list_repo_refs(repo_id=repo_id, repo_type=repo_type)
    branches, tags = _ref_map(refs, "branches"), _ref_map(refs, "tags")
    if opts.tag and opts.tag in branches:
        raise PublishError(f"--tag {opts.tag!r} is already a branch of {repo_id}; choose another tag name")
    new_branch = branch not in branches
    if new_branch and branch in tags:
        raise PublishError(f"--revision {branch!r} is a tag of {repo_id}, not a branch; publish to a branch")
    # A new branch starts as a copy of main: compare with main, decide, and only then write.
    base = DEFAULT_BRANCH if new_branch else branch
    diff = compare_remote(
        bundle.files, api.list_repo_tree(repo_id=repo_id, recursive=True, revision=base, repo_type=repo_type)
    )
    if diff.conflicts and not new_branch and not opts.force:
        raise PublishRefused(
            f"{repo_id} @ {branch} already holds a different {bundle.kind}:\n{_describe_conflicts(diff)}\n"
            "Refusing to overwrite it. Publish this one to a new branch (--revision NAME) or pass --force "
            "to replace the repo's files at this revision."
        )
    deletions = diff.removed if (opts.force or new_branch) else []
    if opts.tag and opts.tag in tags and not opts.force:
        if diff.to_upload or deletions or tags[opts.tag] != branches.get(base):
            raise PublishRefused(
                f"tag {opts.tag!r} of {repo_id} already points to commit {tags[opts.tag][:12]}, which is not what "
                "this publish would produce. A tag is a release: choose a new tag, or pass --force to move it."
            )
    return _Plan(branch, new_branch, diff, deletions, tags, warnings)


def _commit(api: Any, bundle: Bundle, opts: PublishOptions, plan: _Plan) -> int:
    """Create the branch, upload the new/changed files, delete the stale ones; returns the
    number of commit batches started."""
    from huggingface_hub import CommitOperationDelete

    repo_id, repo_type = opts.repo_id, bundle.repo_type
    if plan.new_branch:
        api.create_branch(repo_id=repo_id, branch=plan.branch, repo_type=repo_type, exist_ok=True)
        log.info("created branch %s of %s", plan.branch, repo_id)
    commits = 0
    uploaded = plan.diff.to_upload
    if uploaded:
        folder, temporary = _upload_folder_for(bundle, uploaded)
        try:
            api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                repo_type=repo_type,
                revision=plan.branch,
                commit_message=opts.commit_message
                or f"videonet publish {bundle.kind} ({len(uploaded)} files, {bundle.fingerprint})",
                commit_description=f"Bundle fingerprint {bundle.fingerprint}; {len(bundle.files)} files in total.",
            )
        finally:
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
        commits += 1
    if plan.deletions:
        api.create_commit(
            repo_id=repo_id,
            operations=[CommitOperationDelete(path_in_repo=p) for p in plan.deletions],
            commit_message=f"videonet publish {bundle.kind}: remove {len(plan.deletions)} file(s) not in the new bundle",
            repo_type=repo_type,
            revision=plan.branch,
        )
        commits += 1
    return commits


def _apply_tag(api: Any, bundle: Bundle, opts: PublishOptions, plan: _Plan, head: str | None) -> str:
    """Put ``opts.tag`` on ``head``; returns what happened (for the summary)."""
    tag, old = opts.tag, plan.tags.get(opts.tag or "")
    if not tag:
        return ""
    if old == head:
        return "already points to this commit"
    if old is not None:  # the plan refused this without --force
        api.delete_tag(repo_id=opts.repo_id, tag=tag, repo_type=bundle.repo_type)
    api.create_tag(
        repo_id=opts.repo_id,
        tag=tag,
        revision=head or plan.branch,
        repo_type=bundle.repo_type,
        tag_message=f"videonet publish {bundle.kind} {bundle.fingerprint}",
    )
    return f"moved from {old[:12]} (--force)" if old is not None else "created"


def publish_bundle(api: Any, bundle: Bundle, opts: PublishOptions) -> PublishResult:
    """Upload ``bundle`` to ``opts.repo_id`` (see the module docstring for the rules)."""
    validate_repo_id(opts.repo_id)
    plan = _plan(api, bundle, opts)
    commits = _commit(api, bundle, opts, plan)
    head = getattr(
        api.repo_info(repo_id=opts.repo_id, repo_type=bundle.repo_type, revision=plan.branch), "sha", None
    )
    tag_status = _apply_tag(api, bundle, opts, plan, head)
    uploaded = plan.diff.to_upload
    return PublishResult(
        repo_id=opts.repo_id,
        repo_type=bundle.repo_type,
        branch=plan.branch,
        uploaded=uploaded,
        deleted=plan.deletions,
        unchanged=len(plan.diff.unchanged),
        uploaded_bytes=sum(bundle.files[p].size for p in uploaded),
        commit=head,
        commits_made=commits,
        tag=opts.tag,
        tag_status=tag_status,
        warnings=plan.warnings,
    )

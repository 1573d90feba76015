"""A local stand-in for ``huggingface_hub.HfApi`` (huggingface_hub ships no fake Hub server;
its own tests use a staging Hub) and a few tests that it behaves like the Hub where the
publisher relies on it.

Every repo is a set of commits; a commit maps paths to blobs kept in a content-addressed
folder, so the repo at any branch or tag can be checked out into a plain folder (and
loaded with ``load_dataset``).  The methods take the keyword arguments of the real ones and
return the real ``huggingface_hub`` data classes (``RepoFile``, ``GitRefs``, ``CommitInfo``),
listing large binary files with LFS metadata (sha256) and the others with their git blob
id only, as the Hub does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.hf_api import CommitInfo, GitRefInfo, GitRefs, RepoFile

LFS_PATTERNS = ("*.parquet", "*.mp4", "*.safetensors", "*.bin")
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.mp4 filter=lfs diff=lfs merge=lfs -text\n"


class FakeHubError(RuntimeError):
    pass


@dataclass
class _Repo:
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> {path: blob sha256}


class FakeHfApi:
    """Records every call in ``calls`` and every uploaded path in ``uploads``."""

    def __init__(
        self,
        root: Path,
        token: str | None = None,
        fail: dict[str, str] | None = None,
        log: dict[str, str] | None = None,
    ):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.fail = fail or {}  # method name -> message of the error it raises
        self.log = log or {}  # method name -> warning it logs through huggingface_hub's logger
        self.repos: dict[tuple[str, str], _Repo] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploads: list[list[str]] = []  # per upload_folder call: the paths it committed

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if name in self.log:
            logging.getLogger("huggingface_hub.hf_api").warning(self.log[name])
        if name in self.fail:
            raise FakeHubError(self.fail[name])

    def _repo(self, repo_id: str, repo_type: str | None) -> _Repo:
        key = (repo_type or "model", repo_id)
        if key not in self.repos:
            raise FakeHubError(f"404: repository {repo_id} ({key[0]}) not found")
        return self.repos[key]

    def _store(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        (self.objects / sha).write_bytes(data)
        return sha

    def _commit(self, repo: _Repo, branch: str, files: dict[str, str]) -> str:
        parent = repo.branches.get(branch, "")
        sha = hashlib.sha1(f"{parent}{sorted(files.items())}{len(repo.commits)}".encode()).hexdigest()
        repo.commits[sha] = files
        repo.branches[branch] = sha
        return sha

    def _resolve(self, repo: _Repo, revision: str | None) -> str:
        rev = revision or "main"
        if rev in repo.branches:
            return repo.branches[rev]
        if rev in repo.tags:
            return repo.tags[rev]
        if rev in repo.commits:
            return rev
        raise FakeHubError(f"404: revision {rev} not found")

    def checkout(
        self, repo_id: str, dest: Path, *, revision: str | None = None, repo_type: str = "dataset"
    ) -> Path:
        """Materialise the repo at ``revision`` as a plain folder."""
        repo = self._repo(repo_id, repo_type)
        dest.mkdir(parents=True, exist_ok=True)
        for path, blob in repo.commits[self._resolve(repo, revision)].items():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.objects / blob, dest / path)
        return dest

    def files(
        self, repo_id: str, *, revision: str | None = None, repo_type: str = "dataset"
    ) -> dict[str, str]:
        repo = self._repo(repo_id, repo_type)
        return dict(repo.commits[self._resolve(repo, revision)])

    # -- the HfApi methods the publisher calls ---------------------------------------------------
    def create_repo(
        self,
        repo_id: str,
        *,
        repo_type: str | None = None,
        private: bool | None = None,
        exist_ok: bool = False,
        **kw: Any,
    ) -> str:
        self._call(
            "create_repo", repo_id=repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok, **kw
        )
        key = (repo_type or "model", repo_id)
        if key in self.repos:
            if not exist_ok:
                raise FakeHubError(f"409: {repo_id} already exists")
        else:
            repo = _Repo(private=bool(private))
            self._commit(repo, "main", {".gitattributes": self._store(GITATTRIBUTES)})
            self.repos[key] = repo
        prefix = "" if key[0] == "model" else f"{key[0]}s/"
        return f"https://huggingface.co/{prefix}{repo_id}"

    def repo_info(
        self, repo_id: str, *, repo_type: str | None = None, revision: str | None = None, **kw: Any
    ) -> Any:
        self._call("repo_info", repo_id=repo_id, repo_type=repo_type, revision=revision, **kw)
        repo = self._repo(repo_id, repo_type)
        return SimpleNamespace(id=repo_id, private=repo.private, sha=self._resolve(repo, revision))

    def list_repo_refs(self, repo_id: str, *, repo_type: str | None = None, **kw: Any) -> GitRefs:
        self._call("list_repo_refs", repo_id=repo_id, repo_type=repo_type, **kw)
        repo = self._repo(repo_id, repo_type)
        return GitRefs(
            branches=[
                GitRefInfo(name=b, ref=f"refs/heads/{b}", target_commit=s) for b, s in repo.branches.items()
            ],
            converts=[],
            tags=[GitRefInfo(name=t, ref=f"refs/tags/{t}", target_commit=s) for t, s in repo.tags.items()],
        )

    def create_branch(
        self,
        repo_id: str,
        *,
        branch: str,
        revision: str | None = None,
        repo_type: str | None = None,
        exist_ok: bool = False,
        **kw: Any,
    ) -> None:
        self._call(
            "create_branch",
            repo_id=repo_id,
            branch=branch,
            revision=revision,
            repo_type=repo_type,
            exist_ok=exist_ok,
        )
        repo = self._repo(repo_id, repo_type)
        if branch in repo.branches:
            if not exist_ok:
                raise FakeHubError(f"409: branch {branch} exists")
            return
        repo.branches[branch] = self._resolve(repo, revision)

    def list_repo_tree(
        self,
        repo_id: str,
        path_in_repo: str | None = None,
        *,
        recursive: bool = False,
        revision: str | None = None,
        repo_type: str | None = None,
        **kw: Any,
    ) -> list[RepoFile]:
        self._call(
            "list_repo_tree", repo_id=repo_id, recursive=recursive, revision=revision, repo_type=repo_type
        )
        assert recursive, "the publisher lists the whole tree"
        repo = self._repo(repo_id, repo_type)
        out = []
        for path, blob in repo.commits[self._resolve(repo, revision)].items():
            data = (self.objects / blob).read_bytes()
            git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            lfs = None
            if any(fnmatch.fnmatch(Path(path).name, p) for p in LFS_PATTERNS):
                lfs = {"size": len(data), "oid": blob, "pointerSize": 134}
                git = hashlib.sha1(
                    f"lfs pointer {blob}".encode()
                ).hexdigest()  # the pointer's id, not the content's
            out.append(RepoFile(path=path, size=len(data), oid=git, lfs=lfs))
        return out

    def upload_folder(
        self,
        *,
        repo_id: str,
        folder_path: str | Path,
        path_in_repo: str | None = None,
        commit_message: str | None = None,
        commit_description: str | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        allow_patterns: Any = None,
        ignore_patterns: Any = None,
        delete_patterns: Any = None,
        **kw: Any,
    ) -> CommitInfo:
        self._call(
            "upload_folder",
            repo_id=repo_id,
            folder_path=str(folder_path),
            revision=revision,
            repo_type=repo_type,
            commit_message=commit_message,
        )
        assert path_in_repo in (None, ""), "the publisher uploads to the repo root"
        repo = self._repo(repo_id, repo_type)
        branch = revision or "main"
        files = dict(repo.commits[self._resolve(repo, branch)])
        root = Path(folder_path)
        added = []
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if not p.is_file() or rel.startswith(".git/"):
                continue
            if allow_patterns and not any(
                fnmatch.fnmatch(rel, a)
                for a in ([allow_patterns] if isinstance(allow_patterns, str) else allow_patterns)
            ):
                continue
            if ignore_patterns and any(
                fnmatch.fnmatch(rel, i)
                for i in ([ignore_patterns] if isinstance(ignore_patterns, str) else ignore_patterns)
            ):
                continue
            files[rel] = self._store(p.read_bytes())
            added.append(rel)
        self.uploads.append(added)
        sha = self._commit(repo, branch, files)
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{sha}",
            commit_message=commit_message or "",
            commit_description=commit_description or "",
            oid=sha,
        )

    def create_commit(
        self,
        repo_id: str,
        operations: list[Any],
        *,
        commit_message: str,
        repo_type: str | None = None,
        revision: str | None = None,
        **kw: Any,
    ) -> CommitInfo:
        self._call(
            "create_commit", repo_id=repo_id, operations=operations, revision=revision, repo_type=repo_type
        )
        repo = self._repo(repo_id, repo_type)
        branch = revision or "main"
        files = dict(repo.commits[self._resolve(repo, branch)])
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                if op.path_in_repo not in files:
                    raise FakeHubError(f"404: {op.path_in_repo} not in the repo")
                del files[op.path_in_repo]
            elif isinstance(op, CommitOperationAdd):
                files[op.path_in_repo] = self._store(Path(op.path_or_fileobj).read_bytes())
        sha = self._commit(repo, branch, files)
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{sha}",
            commit_message=commit_message,
            commit_description="",
            oid=sha,
        )

    def create_tag(
        self,
        repo_id: str,
        *,
        tag: str,
        tag_message: str | None = None,
        revision: str | None = None,
        repo_type: str | None = None,
        exist_ok: bool = False,
        **kw: Any,
    ) -> None:
        self._call("create_tag", repo_id=repo_id, tag=tag, revision=revision, repo_type=repo_type)
        repo = self._repo(repo_id, repo_type)
        if tag in repo.tags and not exist_ok:
            raise FakeHubError(f"409: tag {tag} exists")
        repo.tags[tag] = self._resolve(repo, revision)

    def delete_tag(self, repo_id: str, *, tag: str, repo_type: str | None = None, **kw: Any) -> None:
        self._call("delete_tag", repo_id=repo_id, tag=tag, repo_type=repo_type)
        del self._repo(repo_id, repo_type).tags[tag]


# -- the stand-in's own behaviour ------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path) -> FakeHfApi:
    return FakeHfApi(tmp_path / "hub")


def test_fake_hub_commits_branches_and_tags(hub: FakeHfApi, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "a.parquet").write_bytes(b"parquet-bytes")
    (src / "README.md").write_text("card")
    hub.create_repo("org/x", repo_type="dataset", exist_ok=True)
    assert set(hub.files("org/x")) == {".gitattributes"}
    info = hub.upload_folder(repo_id="org/x", folder_path=src, repo_type="dataset")
    assert hub.repo_info("org/x", repo_type="dataset").sha == info.oid
    tree = {f.path: f for f in hub.list_repo_tree("org/x", recursive=True, repo_type="dataset")}
    assert tree["data/a.parquet"].lfs.sha256 == hashlib.sha256(b"parquet-bytes").hexdigest()
    assert (
        tree["README.md"].lfs is None
        and tree["README.md"].blob_id == hashlib.sha1(b"blob 4\0card").hexdigest()
    )
    hub.create_branch("org/x", branch="v2", repo_type="dataset")
    hub.create_commit(
        "org/x",
        [CommitOperationDelete(path_in_repo="README.md")],
        commit_message="rm",
        repo_type="dataset",
        revision="v2",
    )
    assert "README.md" in hub.files("org/x") and "README.md" not in hub.files("org/x", revision="v2")
    hub.create_tag("org/x", tag="v1.0", revision=info.oid, repo_type="dataset")
    with pytest.raises(FakeHubError):
        hub.create_tag("org/x", tag="v1.0", repo_type="dataset")
    out = hub.checkout("org/x", tmp_path / "co", revision="v1.0")
    assert (out / "data" / "a.parquet").read_bytes() == b"parquet-bytes"

"""The upload path of ``videonet publish`` against a local stand-in for ``HfApi``: it uploads
exactly the dry-run files, a second publish uploads nothing, an interrupted one resumes,
a different dataset or a moved release tag is refused without ``--force``, branches and
tags work, and the token never appears in any output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import make_annotation_dir
from test_publish_benchmark import load_offline
from test_publish_fakes import FakeHfApi

from videonet_datasets.benchmark.build import build_benchmark
from videonet_datasets.cli import main
from videonet_datasets.commands import publish as publish_cmd
from videonet_datasets.publish import PublishOptions, PublishRefused, publish_bundle, stage_dataset
from videonet_datasets.publish.upload import compare_remote, redact

REPO = "my-org/videonet"
TOKEN = "hf_TESTtokenDoNotPrint0123456789abcdef"


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different benchmarks (other seed = other option order) built once."""
    root = tmp_path_factory.mktemp("pubup")
    ann = make_annotation_dir(root / "ann", domains=1, actions_per_domain=4)
    a, b = root / "a" / "videonet", root / "b" / "videonet"
    build_benchmark(ann, a, seed=1, progress=False)
    build_benchmark(ann, b, seed=2, progress=False)
    return {"a": a, "b": b}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHfApi:
    api = FakeHfApi(tmp_path / "hub", token=TOKEN)
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: api if token == TOKEN else None)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return api


def publish(*args: str) -> int:
    return main(["publish", *args, "--no-progress"])


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_upload_is_exactly_the_dry_run_and_loads(
    datasets_dir, hub: FakeHfApi, tmp_path: Path, capsys
) -> None:
    src = datasets_dir["a"]
    dry = tmp_path / "dry"
    assert publish("benchmark", str(src), "--repo", REPO, "--dry-run", "--out", str(dry)) == 0
    assert hub.calls == [], "a dry run never touches the Hub"
    assert publish("benchmark", str(src), "--repo", REPO, "--private") == 0
    out = capsys.readouterr().out
    assert "Published to dataset repo my-org/videonet @ main: uploaded 35 file(s)" in out
    create = next(kw for name, kw in hub.calls if name == "create_repo")
    assert create["private"] is True and create["repo_type"] == "dataset"
    assert [name for name, _ in hub.calls].count("upload_folder") == 1

    repo = hub.checkout(REPO, tmp_path / "repo")
    uploaded = tree_bytes(repo)
    assert uploaded.pop(".gitattributes")  # the Hub's own file
    assert uploaded == tree_bytes(dry)
    assert not list(src.parent.glob(".videonet.publish*")), "the staging bundle is removed"
    # The published repo loads like the dry-run folder.
    loaded = load_offline([repo, dry], ["mc", "binary_3shot"])
    assert (
        loaded[str(repo)]
        == loaded[str(dry)]
        == {"mc": {"test": 16, "validation": 4}, "binary_3shot": {"test": 16}}
    )


def test_second_publish_uploads_nothing_and_interrupted_publish_resumes(
    datasets_dir, hub: FakeHfApi, tmp_path: Path, capsys
) -> None:
    src = datasets_dir["a"]
    bundle = stage_dataset(src, "benchmark", REPO, tmp_path / "bundle", progress=False)
    # An interrupted upload: only the data files made it.
    hub.create_repo(REPO, repo_type="dataset", exist_ok=True)
    partial = tmp_path / "partial"
    from videonet_datasets.publish.bundle import link_tree

    link_tree(bundle.root, partial, [r for r in bundle.files if r.startswith("data/")])
    hub.upload_folder(repo_id=REPO, folder_path=partial, repo_type="dataset")
    first = publish_bundle(hub, bundle, PublishOptions(REPO))
    assert sorted(first.uploaded) == sorted(r for r in bundle.files if not r.startswith("data/"))
    assert hub.uploads[-1] == first.uploaded and first.unchanged == 10
    n_calls = len(hub.uploads)
    assert publish("benchmark", str(src), "--repo", REPO) == 0
    out = capsys.readouterr().out
    assert (
        "Nothing new to upload to dataset repo my-org/videonet @ main: all 35 files are already there." in out
    )
    assert len(hub.uploads) == n_calls and not any(n == "create_commit" for n, _ in hub.calls)


def test_different_dataset_is_refused_without_force(
    datasets_dir, hub: FakeHfApi, tmp_path: Path, capsys
) -> None:
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO) == 0
    assert next(kw for name, kw in hub.calls if name == "create_repo")["private"] is None  # the org's default
    before = hub.files(REPO)
    assert publish("benchmark", str(datasets_dir["b"]), "--repo", REPO) == 1
    err = capsys.readouterr().err
    assert "already holds a different benchmark" in err and "data/mc/test-00000-of-00001.parquet" in err
    assert "--force" in err and "--revision" in err
    assert hub.files(REPO) == before, "nothing changed on refusal"
    with pytest.raises(PublishRefused, match=r"file\(s\) with different content"):
        publish_bundle(
            hub,
            stage_dataset(datasets_dir["b"], "benchmark", REPO, tmp_path / "b", progress=False),
            PublishOptions(REPO),
        )
    assert hub.files(REPO) == before

    # The same data with only a card change is an update, not a conflict.
    a2 = tmp_path / "a2"
    bundle = stage_dataset(datasets_dir["a"], "benchmark", REPO, a2, progress=False)
    (a2 / "README.md").write_text((a2 / "README.md").read_text() + "\nErratum: fixed a typo.\n")
    from videonet_datasets.publish.hashing import digest_files

    bundle.files = digest_files(a2, list(bundle.files), progress=False)
    res = publish_bundle(hub, bundle, PublishOptions(REPO))
    assert res.uploaded == ["README.md"]

    # --force replaces the repo's files, deleting what the new bundle does not have.
    extra = tmp_path / "extra"
    (extra / "old").mkdir(parents=True)
    (extra / "old" / "stale.txt").write_text("from an older layout")
    hub.upload_folder(repo_id=REPO, folder_path=extra, repo_type="dataset")
    assert publish("benchmark", str(datasets_dir["b"]), "--repo", REPO, "--force") == 0
    repo = tree_bytes(hub.checkout(REPO, tmp_path / "repo"))
    repo.pop(".gitattributes")
    dry = stage_dataset(datasets_dir["b"], "benchmark", REPO, tmp_path / "dry", progress=False)
    assert repo == tree_bytes(dry.root)
    assert any(n == "create_commit" for n, _ in hub.calls)


def test_new_branch_and_release_tags(datasets_dir, hub: FakeHfApi, tmp_path: Path, capsys) -> None:
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO, "--tag", "v1.0") == 0
    assert "tag v1.0: created" in capsys.readouterr().out
    head = hub.repo_info(REPO, repo_type="dataset").sha
    assert hub.repos[("dataset", REPO)].tags == {"v1.0": head}
    # Same data, same tag: nothing to do.
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO, "--tag", "v1.0") == 0
    assert "already points to this commit" in capsys.readouterr().out

    # A different dataset goes to a new branch without --force; main and v1.0 stay.
    main_files = hub.files(REPO)
    assert (
        publish("benchmark", str(datasets_dir["b"]), "--repo", REPO, "--revision", "v2", "--tag", "v2.0") == 0
    )
    assert hub.files(REPO) == main_files and hub.files(REPO, revision="v1.0") == main_files
    v2 = tree_bytes(hub.checkout(REPO, tmp_path / "v2", revision="v2.0"))
    v2.pop(".gitattributes")
    assert v2 == tree_bytes(
        stage_dataset(datasets_dir["b"], "benchmark", REPO, tmp_path / "dry", progress=False).root
    )

    # Moving a release tag to other content needs --force (the data itself goes to a new branch).
    capsys.readouterr()
    assert (
        publish("benchmark", str(datasets_dir["a"]), "--repo", REPO, "--revision", "v3", "--tag", "v2.0") == 1
    )
    assert "tag 'v2.0' of my-org/videonet already points to commit" in capsys.readouterr().err
    assert hub.files(REPO, revision="v2.0") != main_files
    assert "v3" not in hub.repos[("dataset", REPO)].branches, "a refused publish writes nothing"
    assert (
        publish(
            "benchmark",
            str(datasets_dir["a"]),
            "--repo",
            REPO,
            "--revision",
            "v3",
            "--tag",
            "v2.0",
            "--force",
        )
        == 0
    )
    assert "tag v2.0: moved from" in capsys.readouterr().out
    assert hub.files(REPO, revision="v2.0") == main_files


def test_token_is_never_printed(
    datasets_dir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, caplog
) -> None:
    api = FakeHfApi(
        tmp_path / "hub",
        fail={"upload_folder": f"401 Client Error: bad credentials {TOKEN} for url"},
        log={"list_repo_tree": f"retrying with Authorization: Bearer {TOKEN}"},
    )
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: api)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO) == 1
    assert main(["-v", "publish", "benchmark", str(datasets_dir["a"]), "--repo", REPO, "--no-progress"]) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "bad credentials hf_*** for url" in captured.err
    assert "retrying with Authorization: Bearer hf_***" in caplog.text  # library log lines are scrubbed too
    assert TOKEN not in text and TOKEN[3:] not in text
    assert redact(f"x {TOKEN} y") == "x hf_*** y" and redact("secret-abc", "secret-abc") == "hf_***"


def test_no_token_is_a_clear_error(
    datasets_dir, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: pytest.fail("no Hub client without a token"))
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO) == 1
    assert "no Hugging Face token" in capsys.readouterr().err


def test_existing_public_repo_with_private_flag_warns(datasets_dir, hub: FakeHfApi, capsys) -> None:
    hub.create_repo(REPO, repo_type="dataset", private=False)
    assert publish("benchmark", str(datasets_dir["a"]), "--repo", REPO, "--private") == 0
    assert "warning: the repo already existed and is public" in capsys.readouterr().out


def test_bad_repo_ids(datasets_dir, hub: FakeHfApi, capsys) -> None:
    for bad in ("videonet", "org/", "/x", "a/b/c", "org/../x"):
        assert publish("benchmark", str(datasets_dir["a"]), "--repo", bad, "--dry-run") == 1
        assert "expected ORG/NAME" in capsys.readouterr().err
    assert hub.calls == []


def test_compare_remote_uses_lfs_sha256_or_git_blob_id(tmp_path: Path) -> None:
    from huggingface_hub.hf_api import RepoFile

    from videonet_datasets.publish.hashing import digest_files

    (tmp_path / "a.parquet").write_bytes(b"data")
    (tmp_path / "README.md").write_text("card")
    local = digest_files(tmp_path, ["a.parquet", "README.md"], progress=False)
    same = [
        RepoFile(
            path="a.parquet",
            size=4,
            oid="pointer-id",
            lfs={"size": 4, "oid": local["a.parquet"].sha256, "pointerSize": 1},
        ),
        RepoFile(path="README.md", size=4, oid=local["README.md"].git_sha1),
        RepoFile(path=".gitattributes", size=1, oid="x"),
    ]
    d = compare_remote(local, same)
    assert d.unchanged == ["README.md", "a.parquet"] and not (d.added or d.changed or d.removed)
    other = [
        RepoFile(
            path="a.parquet", size=4, oid="pointer-id", lfs={"size": 4, "oid": "0" * 64, "pointerSize": 1}
        ),
        RepoFile(path="old.parquet", size=4, oid="y"),
    ]
    d = compare_remote(local, other)
    assert d.changed == ["a.parquet"] and d.added == ["README.md"] and d.removed == ["old.parquet"]
    assert d.conflicts == ["a.parquet", "old.parquet"]

"""The locked install: the lock is a real lock, it agrees with setup.cfg, the environment is it,
and the code path a fresh resolve broke (lmms-eval's evaluator under filelock 4.3) runs.

The sync tests drive real pip in a throw-away virtual environment with ``--no-index`` and a
wheel built here, so they need no network and cannot touch the project's environment.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tools import lockfile

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _make_var(name: str) -> str:
    m = re.search(rf"^{name} \?= (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, f"Makefile has no default for {name}"
    return m.group(1).strip()


def _lock_path() -> Path:
    """The lock this environment was installed from (make test-latest points at its own)."""
    if os.environ.get("VIDEONET_LOCK"):
        return Path(os.environ["VIDEONET_LOCK"]).resolve()
    arch = os.uname().machine
    return ROOT / "requirements" / f"lock-linux_{arch}-py{sys.version_info[0]}{sys.version_info[1]}.txt"


@pytest.fixture(scope="module")
def lock() -> dict[str, lockfile.Pin]:
    path = _lock_path()
    if not path.is_file():
        pytest.fail(f"no lock for this platform and Python: {path} (make lock)")
    return lockfile.read_lock(path)


def test_every_pin_is_exact_and_hashed(lock: dict[str, lockfile.Pin]) -> None:
    assert len(lock) > 100  # the whole environment, not just the direct dependencies
    for pin in lock.values():
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), pin
    for spec in _make_var("TORCH_SPEC").split():
        name, version = spec.split("==")
        assert lock[name].version == version, f"the lock's {name} is not the Makefile's TORCH_SPEC {spec}"


def test_lock_satisfies_setup_cfg(lock: dict[str, lockfile.Pin]) -> None:
    """Editing setup.cfg without `make lock` fails here, not on a user's machine."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")

    def reqs(text: str) -> list[Requirement]:
        lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        return [Requirement(ln) for ln in lines if ln]

    wanted = reqs(cfg["options"]["install_requires"])
    for extra in _make_var("EXTRAS").split(","):
        wanted += reqs(cfg["options.extras_require"][extra])
    checked = 0
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = lockfile.normalize(req.name)
        assert name in lock, f"setup.cfg needs {req} but the lock has no {name}: run make lock"
        assert req.specifier.contains(lock[name].version, prereleases=True), (
            f"the lock pins {name}=={lock[name].version}, outside setup.cfg's {req}: run make lock"
        )
        checked += 1
    assert checked > 20


def test_known_breaking_releases_are_excluded(lock: dict[str, lockfile.Pin]) -> None:
    """filelock 4.3 removed the private module lmms-eval 0.7.3 imports."""
    from packaging.version import Version

    assert lock["lmms-eval"].version == "0.7.3"
    assert Version(lock["filelock"].version) < Version("4.3")


def test_environment_is_the_lock(lock: dict[str, lockfile.Pin]) -> None:
    drift = lockfile.compare(
        {n: p.version for n, p in lock.items()}, lockfile.installed(), ignore=lockfile.KEEP
    )
    assert drift.empty, "the environment is not the lock (make install):\n" + lockfile.describe(
        drift, "lock", "installed"
    )


def test_the_issue_command_evaluates(tmp_path: Path) -> None:
    """The exact command that died with "No module named 'filelock._api'" on a fresh resolve."""
    include = subprocess.run(
        [str(VENV_BIN / "videonet"), "eval", "--print-include-path"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    from lmms_world import build_world

    world = build_world(tmp_path / "world")
    out = tmp_path / "out"
    env = {**os.environ, "VIDEONET_DATA": str(world), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            str(VENV_BIN / "lmms-eval"),
            "--include_path",
            include,
            "--model",
            "videonet_scripted",
            "--model_args",
            "default=B",
            "--tasks",
            "videonet_mc,videonet_binary_hard_3shot",
            "--limit",
            "8",
            "--output_path",
            str(out),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert "filelock._api" not in log and "Error during evaluation" not in log, log[-3000:]
    assert proc.returncode == 0, log[-3000:]
    results = list(out.rglob("*_results.json"))
    assert results, f"lmms-eval wrote no results under {out}:\n{log[-2000:]}"
    got = json.loads(results[0].read_text())["results"]
    assert set(got) >= {"videonet_mc", "videonet_binary_hard_3shot"}


# --- tools/lockfile.py on its own ---------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_read_lock_names_file_and_line_of_what_is_wrong(tmp_path: Path) -> None:
    ok = "a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via b\n"
    assert lockfile.read_lock(_write(tmp_path / "ok.txt", ok))["a"].version == "1.0"
    cases = {
        "a==1.0\n": r"bad\.txt:1: a==1\.0 has no --hash",
        ok + "c>=2 \\\n    --hash=sha256:" + "1" * 64 + "\n": r"bad\.txt:4: not an exact pin",
        ok
        + "A==1.1 \\\n    --hash=sha256:"
        + "1" * 64
        + "\n": r"bad\.txt:4: a is pinned twice \(also on line 1\)",
        "# only a comment\n": r"bad\.txt: no pinned package",
    }
    for text, message in cases.items():
        with pytest.raises(lockfile.LockError, match=message):
            lockfile.read_lock(_write(tmp_path / "bad.txt", text))


def test_diff_reports_moved_new_and_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = " \\\n    --hash=sha256:" + "0" * 64 + "\n"
    old = _write(tmp_path / "old.txt", f"filelock==4.2.12{h}same==1{h}gone==2{h}")
    new = _write(tmp_path / "new.txt", f"filelock==4.3.1{h}same==1{h}fresh==0.1{h}")
    assert lockfile.main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "1 moved, 1 new, 1 gone" in out
    assert "filelock: 4.2.12 (lock) -> 4.3.1 (newest)" in out
    assert "only in newest: fresh==0.1" in out and "only in lock: gone==2" in out
    assert lockfile.main(["diff", str(old), str(old)]) == 0
    assert "no package moved" in capsys.readouterr().out


def test_explain_pip_failure_names_the_package() -> None:
    assert (
        lockfile.explain_pip_failure(
            "ERROR: Could not find a version that satisfies the requirement filelock==9.9.9 (from versions: 4.2.12)\n"
            "ERROR: No matching distribution found for filelock==9.9.9\n"
        )
        == "pip refused filelock==9.9.9: the index has no such release"
    )
    hashes = (
        "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n"
        "    torch==2.14.1 from https://files.example/torch.whl:\n"
        "        Expected sha256 00\n             Got        11\n"
    )
    assert lockfile.explain_pip_failure(hashes) == (
        "pip refused torch==2.14.1: its download does not match the locked hash"
    )
    assert lockfile.explain_pip_failure("something\nelse broke\n") == "pip failed: something | else broke"


def _wheel(folder: Path, name: str, version: str) -> tuple[Path, str]:
    """A minimal pure-Python wheel (one module) and its sha256."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    whl = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return whl, hashlib.sha256(whl.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scratch_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("scratch") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv / "bin" / "python"


def _sync(python: Path, lock: Path, wheels: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(python),
            str(ROOT / "tools" / "lockfile.py"),
            "sync",
            str(lock),
            "--pip-arg=--no-index",
            f"--pip-arg=--find-links={wheels}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sync_installs_exactly_the_lock_and_names_refused_pins(scratch_venv: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    good, good_sha = _wheel(wheels, "vnlockdemo", "1.0")
    any_sha = "0" * 64

    lock = _write(tmp_path / "lock.txt", f"vnlockdemo==1.0 \\\n    --hash=sha256:{good_sha}\n")
    proc = _sync(scratch_venv, lock, wheels)
    assert proc.returncode == 0, proc.stderr
    # the fresh venv's own setuptools is not in the lock, so it was removed: the env *is* the lock
    assert "removed 1 package(s) not in the lock: setuptools" in proc.stdout
    assert "1 pinned packages match the lock (installed or changed 1" in proc.stdout
    again = _sync(scratch_venv, lock, wheels)
    assert again.returncode == 0 and "nothing to install" in again.stdout

    check = subprocess.run(
        [str(scratch_venv), str(ROOT / "tools" / "lockfile.py"), "check", str(lock)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr

    # a pin the index does not have
    missing = _write(tmp_path / "missing.txt", f"vnlockdemo==2.0 \\\n    --hash=sha256:{any_sha}\n")
    proc = _sync(scratch_venv, missing, wheels)
    assert proc.returncode == 1
    assert "pip refused vnlockdemo==2.0: the index has no such release" in proc.stderr

    # a download whose bytes are not the locked ones
    _wheel(wheels, "vnlockother", "1.0")
    tampered = _write(
        tmp_path / "tampered.txt",
        f"vnlockdemo==1.0 \\\n    --hash=sha256:{good_sha}\n"
        f"vnlockother==1.0 \\\n    --hash=sha256:{'1' * 64}\n",
    )
    proc = _sync(scratch_venv, tampered, wheels)
    assert proc.returncode == 1
    assert "pip refused vnlockother==1.0" in proc.stderr and "hash" in proc.stderr

    # check sees an environment that is not the lock
    check = subprocess.run(
        [str(scratch_venv), str(ROOT / "tools" / "lockfile.py"), "check", str(missing)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 1 and "vnlockdemo: 2.0 (lock) -> 1.0 (installed)" in check.stderr

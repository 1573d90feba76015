"""The locked environment: install it exactly, check it, and say what moved.

Why a script and not one ``pip install -r``: a lock is only worth having when the environment
*is* the lock - nothing extra left over from an older install, nothing silently resolved
afresh - and when a refused pin says which package it was instead of ending a 3,000-line pip
log. ``make install`` runs ``sync``; ``make test-latest`` runs ``diff`` between the committed
lock and a fresh resolve of ``setup.cfg``'s ranges.

Standard library only: ``sync`` runs in a brand-new virtual environment, before anything is
installed in it. Lock files are the hashed requirement files written by
``uv pip compile --generate-hashes`` (``pip-compile --generate-hashes`` writes the same form).

    python tools/lockfile.py sync LOCK [--pip-arg=ARG ...]   # make the running env equal LOCK
    python tools/lockfile.py check LOCK                      # does it? (exit 1 when not)
    python tools/lockfile.py diff OLD NEW                    # packages that moved between two locks
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Never removed by sync: the installer itself and the project (installed after the lock).
KEEP = frozenset({"pip", "videonet"})

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=(?P<algo>sha256|sha384|sha512):(?P<digest>[0-9a-f]+)")


class LockError(Exception):
    """A lock file that cannot be used as one (names the file and the line)."""


@dataclass(frozen=True)
class Pin:
    name: str  # normalised (PEP 503)
    version: str
    hashes: tuple[str, ...]
    line: int  # 1-based line of the pin in its file


def normalize(name: str) -> str:
    """PEP 503 name: what pip, uv and importlib.metadata agree a package is called."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, Pin]:
    """Every pin of a hashed lock file, by normalised name.

    A lock without hashes, with a range instead of ``==``, or with a package twice is not a
    lock: pip would resolve again at install time, which is exactly what it exists to prevent.
    """
    pins: dict[str, Pin] = {}
    current: tuple[str, str, int] | None = None
    hashes: list[str] = []

    def close() -> None:
        if current is None:
            return
        name, version, line = current
        if not hashes:
            raise LockError(f"{path}:{line}: {name}=={version} has no --hash (regenerate with `make lock`)")
        if name in pins:
            raise LockError(f"{path}:{line}: {name} is pinned twice (also on line {pins[name].line})")
        pins[name] = Pin(name, version, tuple(hashes), line)

    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("--hash") else raw.strip()
        if not text:
            continue
        if text.startswith("--hash"):
            if current is None:
                raise LockError(f"{path}:{lineno}: a --hash line that follows no pin")
            hashes.extend(f"{m['algo']}:{m['digest']}" for m in _HASH.finditer(text))
            continue
        if text.startswith("-"):  # an option line (--index-url ...): pip reads it, it pins nothing
            continue
        close()
        hashes = []
        m = _PIN.match(text)
        if m is None:
            raise LockError(f"{path}:{lineno}: not an exact pin (NAME==VERSION): {raw.strip()!r}")
        current = (normalize(m["name"]), m["version"], lineno)
        hashes.extend(f"{h['algo']}:{h['digest']}" for h in _HASH.finditer(text))
    close()
    if not pins:
        raise LockError(f"{path}: no pinned package in it")
    return pins


def installed() -> dict[str, str]:
    """Name -> version of every distribution the running interpreter sees."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalize(name), dist.version)
    return found


@dataclass(frozen=True)
class Drift:
    """How an environment (or a second lock) differs from a lock."""

    moved: list[tuple[str, str, str]]  # name, locked version, other version
    missing: list[tuple[str, str]]  # in the lock only
    extra: list[tuple[str, str]]  # in the other side only

    @property
    def empty(self) -> bool:
        return not (self.moved or self.missing or self.extra)


def compare(locked: dict[str, str], other: dict[str, str], ignore: frozenset[str] = frozenset()) -> Drift:
    """Versions are compared as strings after dropping a local tag's case (``2.14.1+CPU``)."""
    names = (set(locked) | set(other)) - ignore
    moved = [
        (n, locked[n], other[n])
        for n in sorted(names & set(locked) & set(other))
        if locked[n].lower() != other[n].lower()
    ]
    missing = [(n, locked[n]) for n in sorted(names & (set(locked) - set(other)))]
    extra = [(n, other[n]) for n in sorted(names & (set(other) - set(locked)))]
    return Drift(moved, missing, extra)


# pip's own words when it refuses a requirement; each captures the package (and version).
_REFUSALS = (
    (
        re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
        "the index has no such release",
    ),
    (re.compile(r"No matching distribution found for (\S+)"), "the index has no such release"),
    (re.compile(r"^\s+(\S+==\S+) from \S+.*:\s*$", re.M), "its download does not match the locked hash"),
    (re.compile(r"(\S+) requires? a different Python"), "it does not support this Python"),
    (re.compile(r"Failed to build (\S+)"), "building it from source failed"),
    (re.compile(r"Could not install packages due to an OSError: (.*)"), "the download or the disk failed"),
)


def explain_pip_failure(stderr: str) -> str:
    """One sentence naming the package pip refused, with pip's reason; pip's last lines otherwise."""
    for pattern, why in _REFUSALS:
        m = pattern.search(stderr)
        if m:
            return f"pip refused {m.group(1)}: {why}"
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    return "pip failed: " + (" | ".join(tail) if tail else "no message")


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def _quiet(stderr: str) -> str:
    # Offline mirrors in a global pip.conf make pip warn about every package they lack.
    return "\n".join(
        line for line in stderr.splitlines() if "is ignored: it is neither a file nor a directory" not in line
    )


def sync(lock: Path, pip_args: list[str], quiet: bool = False) -> int:
    """Make the running environment hold exactly the lock's pins (plus pip and the project).

    ``quiet`` prints nothing when there was nothing to do: ``make install`` runs it every time,
    so a package changed by hand is put back before the tests run on it.
    """
    pins = read_lock(lock)
    want = {name: pin.version for name, pin in pins.items()}
    before = compare(want, installed(), ignore=KEEP)
    t0 = time.monotonic()
    if before.extra:
        names = [n for n, _ in before.extra]
        proc = _pip(["uninstall", "-y", "-q", *names])
        if proc.returncode != 0:
            print(
                f"error: could not remove packages that are not in {lock}: {explain_pip_failure(_quiet(proc.stderr))}",
                file=sys.stderr,
            )
            return 1
        print(f"   removed {len(names)} package(s) not in the lock: {', '.join(names)}")
    todo = len(before.moved) + len(before.missing)
    if quiet and before.empty:
        return 0
    if todo:
        proc = _pip(["install", "-q", "--require-hashes", "--no-deps", "-r", str(lock), *pip_args])
        if proc.returncode != 0:
            print(_quiet(proc.stderr).strip()[-4000:], file=sys.stderr)
            print(
                f"error: installing {lock} failed - {explain_pip_failure(_quiet(proc.stderr))}",
                file=sys.stderr,
            )
            return 1
    after = compare(want, installed(), ignore=KEEP)
    if not after.empty:
        print(f"error: after installing, the environment still differs from {lock}:", file=sys.stderr)
        print(describe(after, "lock", "installed"), file=sys.stderr)
        return 1
    took = time.monotonic() - t0
    done = f"installed or changed {todo}" if todo else "nothing to install"
    print(f"   {len(pins)} pinned packages match the lock ({done}; {took:.0f} s)")
    return 0


def check(lock: Path) -> int:
    """Exit 0 when the running environment equals the lock and ``pip check`` is clean."""
    pins = read_lock(lock)
    drift = compare({n: p.version for n, p in pins.items()}, installed(), ignore=KEEP)
    if not drift.empty:
        print(f"the environment differs from {lock} (run `make install`):", file=sys.stderr)
        print(describe(drift, "lock", "installed"), file=sys.stderr)
        return 1
    proc = _pip(["check"])
    if proc.returncode != 0:
        print(f"pip check: {proc.stdout.strip()}", file=sys.stderr)
        return 1
    print(f"   environment = {lock.name} ({len(pins)} packages), pip check clean")
    return 0


def describe(drift: Drift, left: str, right: str) -> str:
    lines = [f"  moved    {n}: {a} ({left}) -> {b} ({right})" for n, a, b in drift.moved]
    lines += [f"  only in {left}: {n}=={v}" for n, v in drift.missing]
    lines += [f"  only in {right}: {n}=={v}" for n, v in drift.extra]
    return "\n".join(lines)


def diff(old: Path, new: Path) -> int:
    """Print which packages moved between two locks; always exit 0 (it is a report)."""
    drift = compare(
        {n: p.version for n, p in read_lock(old).items()}, {n: p.version for n, p in read_lock(new).items()}
    )
    if drift.empty:
        print(f"   no package moved: the newest releases setup.cfg allows are the locked ones ({old.name})")
        return 0
    print(
        f"   {len(drift.moved)} moved, {len(drift.extra)} new, {len(drift.missing)} gone "
        f"(committed lock -> newest allowed):"
    )
    print(describe(drift, "lock", "newest"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lockfile", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sync", help="make the running environment equal LOCK")
    p.add_argument("lock", type=Path)
    p.add_argument("--pip-arg", action="append", default=[], help="passed on to pip install (repeatable)")
    p.add_argument(
        "--quiet", action="store_true", help="print nothing when the environment already is the lock"
    )
    p = sub.add_parser("check", help="exit 1 unless the running environment equals LOCK")
    p.add_argument("lock", type=Path)
    p = sub.add_parser("diff", help="packages that moved between two locks")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    try:
        for path in [getattr(args, k) for k in ("lock", "old", "new") if hasattr(args, k)]:
            if not path.is_file():
                raise LockError(f"{path}: no such lock file (create it with `make lock`)")
        if args.cmd == "sync":
            return sync(args.lock, args.pip_arg, quiet=args.quiet)
        if args.cmd == "check":
            return check(args.lock)
        return diff(args.old, args.new)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""A real Chromium for the web pages' tests (the annotation studio, the results explorer).

Debian's ``chromium`` (installed by ``make install``) driven by Playwright through its
``executable_path``: Playwright's own browser download needs its CDN, which this kind of machine
cannot reach. The flags keep a headless root session from phoning home, which a closed network
refuses many times a second.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # a test may press play without a real gesture
]


def chromium_path() -> str:
    """The system Chromium, or an error that says how to get it (never a silent skip)."""
    for candidate in (os.environ.get("VIDEONET_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError(
        "no Chromium found: `make install` installs Debian's chromium (or set VIDEONET_CHROMIUM)"
    )


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium ``Browser``; new contexts are separate users (cookies, storage)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()

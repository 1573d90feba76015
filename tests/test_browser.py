"""The browser the web pages are tested in works here: a page loads, its script runs, and an
H.264 clip made by the project's own writer plays (what the studio and the explorer show)."""

from __future__ import annotations

from pathlib import Path

from conftest import make_video


def test_chromium_renders_a_page_and_plays_a_project_clip(browser, tmp_path: Path) -> None:
    make_video(tmp_path / "clip.mp4", seconds=1.0, fps=10.0, size=(64, 64))
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>t</title><p id=p></p>"
        "<video id=v src='clip.mp4' muted playsinline></video>"
        "<script>document.getElementById('p').textContent = 'ran ' + (2 + 3);</script>"
    )
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((tmp_path / "index.html").as_uri())
    assert page.text_content("#p") == "ran 5"
    assert page.evaluate("document.getElementById('v').canPlayType('video/mp4; codecs=\"avc1.42E01E\"')")
    page.evaluate("document.getElementById('v').play()")
    page.wait_for_function("document.getElementById('v').currentTime > 0.2", timeout=10_000)
    size = page.evaluate(
        "[document.getElementById('v').videoWidth, document.getElementById('v').videoHeight]"
    )
    assert size == [64, 64]
    assert errors == []
    page.close()

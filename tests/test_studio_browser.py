"""The studio in a real browser (headless Chromium, tests/browser.py): a collector marks two
clips on the player with buttons and keys, three raters vote in separate browser contexts (one
clip gets a tie and goes to re-trimming), a re-trimmer moves its window, the admin exports and
reads ``videonet validate``'s report - the walk from a list of actions to a valid clips.csv.

The collect page is saved as a screenshot; ``VIDEONET_SCREENSHOTS=docs`` writes it to
``docs/studio.png`` (the README's picture).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from studio_world import make_studio_dir

from videonet_datasets.studio.media import frame_times
from videonet_datasets.studio.server import StudioServer, open_studio

ACTION = "double salchow"
SOURCE = "videos/figure_skating-double_salchow-5_source.mp4"
SHORT = "videos/figure_skating-double_salchow-4.mp4"


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """One domain of VideoNet-mini (4 actions, 20 clips) with two clips of one action left out
    of clips.csv: the collector finds them again."""
    from videonet_datasets.synth import generate_world, preset

    root = tmp_path / "mini"
    config = preset(
        "tiny", domains=("Figure Skating",), actions_per_domain=4, web_videos=0, size=(160, 120), jobs=1
    )
    generate_world(root, config, progress=False)
    lines = (root / "clips.csv").read_text().splitlines(keepends=True)
    kept = [line for line in lines if f",{SOURCE}," not in line and f",{SHORT}," not in line]
    assert len(kept) == len(lines) - 2
    (root / "clips.csv").write_text("".join(kept))
    return root


def _login(browser, server: StudioServer, token: str, **kwargs):
    ctx = browser.new_context(viewport={"width": 1180, "height": 900}, **kwargs)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(f"{server.url}/t/{token}")
    return ctx, page, problems


def _ready(page) -> None:
    # (the pages' Content-Security-Policy forbids eval, so no wait_for_function: attributes the player sets)
    expect(page.locator(".player:not([data-ready='1'])")).to_have_count(0, timeout=20_000)


def _frame(page) -> int:
    return int(page.get_attribute(".player[data-mode=mark]", "data-frame"))


def _ceil6(t: float) -> float:
    return math.ceil(t * 1e6 - 1e-6) / 1e6


def _floor6(t: float) -> float:
    return math.floor(t * 1e6 + 1e-6) / 1e6


def test_from_actions_to_a_valid_clips_csv_in_the_browser(browser, world: Path, tmp_path: Path) -> None:
    opened = open_studio(world)
    people = {}
    with opened.store.write() as conn:
        from videonet_datasets.studio.people import create_person

        for name in ("Ana (collector)", "Ben", "Caro", "Dev"):
            people[name] = create_person(conn, name, "annotator")
    server = StudioServer(world, opened.store, port=0).start()
    contexts = []
    try:
        # ---- collect: two candidates, marked on the player
        ctx, page, problems = _login(browser, server, people["Ana (collector)"].token)
        contexts.append(ctx)
        page.goto(f"{server.url}/collect")
        assert page.text_content("h1") == f"Collect clips of “{ACTION}”"  # the only action short of clips
        page.select_option("select[name=local]", SOURCE)
        page.click("#use-source")
        _ready(page)
        times = frame_times(world / SOURCE)
        for _ in range(3):
            page.click("button[data-act=next]")
        page.keyboard.press("Shift+ArrowRight")  # one second = 10 frames at 10 fps
        page.keyboard.press("ArrowLeft")
        assert _frame(page) == 12
        page.keyboard.press("i")
        for _ in range(19):
            page.keyboard.press("ArrowRight")
        page.click("button[data-act=out]")
        assert page.input_value("input[name=start]") == f"{times[12]:.6f}"
        assert page.input_value("input[name=end]") == f"{times[32]:.6f}"
        assert "in: frame 12" in page.text_content(".marks") and "out: frame 31" in page.text_content(
            ".marks"
        )
        page.click("button[data-act=preview]")  # plays the window and stops at its end
        expect(page.locator(".player[data-mode=mark]")).to_have_attribute(
            "data-state", "paused", timeout=15_000
        )
        assert _frame(page) == 31
        page.locator("h1").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "studio.png"))
        page.click("#save-candidate")
        assert "Saved figure_skating-double_salchow-s" in page.text_content(".flash.ok")
        page.select_option("select[name=local]", SHORT)
        page.click("#use-source")
        _ready(page)
        page.keyboard.press("i")
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("o")
        short_out = _frame(page)
        page.click("#save-candidate")
        assert page.locator("#candidates tr").count() == 1 + 5  # 3 imported + 2 collected
        assert problems == []
        with opened.store.read() as conn:
            cands = [
                dict(r) for r in conn.execute("SELECT * FROM candidates WHERE origin = 'studio' ORDER BY id")
            ]
        assert (cands[0]["start"], cands[0]["end"]) == (_ceil6(times[12]), _floor6(times[32]))
        short_times = frame_times(world / SHORT)
        assert short_out == 10 and (cands[1]["start"], cands[1]["end"]) == (0.0, _floor6(short_times[11]))

        # ---- verify: three raters in separate browsers, blind; clip B gets a tie
        votes = {"Ben": ("good", "good"), "Caro": ("good", "trim"), "Dev": ("good", "wrong")}
        for name, (a, b) in votes.items():
            ctx, page, problems = _login(browser, server, people[name].token)
            contexts.append(ctx)
            page.goto(f"{server.url}/verify")
            _ready(page)
            assert page.locator(".clip").count() == 2
            assert "votes" not in page.text_content("#verify-form").lower()  # nobody sees others' votes
            page.check(f"input[name=label_{cands[0]['id']}][value={a}]")
            page.check(f"input[name=label_{cands[1]['id']}][value={b}]")
            if name == "Dev":
                page.check(f"input[name=text_{cands[0]['id']}]")
            page.click("#submit-votes")
            assert page.text_content(".flash.ok") == "2 rating(s) saved."
            assert "No clip is waiting for your rating" in page.text_content("main")
            assert problems == []
        with opened.store.read() as conn:
            status = [
                r[0]
                for r in conn.execute("SELECT status FROM candidates WHERE origin = 'studio' ORDER BY id")
            ]
        assert status == ["accepted", "retrim"]

        # ---- re-trim: beside the well-trimmed examples, inside the cushion
        ctx, page, problems = _login(browser, server, people["Ben"].token)
        contexts.append(ctx)
        page.goto(f"{server.url}/retrim")
        _ready(page)
        assert page.locator(".player[data-mode=window]").count() == 4  # 3 imported + the accepted one
        mark = page.locator(".player[data-mode=mark]")
        assert int(mark.get_attribute("data-frame")) == 0
        page.keyboard.press("ArrowRight")
        page.keyboard.press("i")
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("o")
        out_frame = _frame(page)
        page.click("#save-retrim")
        assert "New window saved" in page.text_content(".flash.ok")
        assert problems == []
        with opened.store.read() as conn:
            b = dict(conn.execute("SELECT * FROM candidates WHERE id = ?", (cands[1]["id"],)).fetchone())
        assert b["status"] == "accepted"
        assert out_frame == 10  # 1, then one second on, one frame back
        assert (b["start"], b["end"]) == (_ceil6(short_times[1]), _floor6(short_times[11]))

        # ---- export and validate, as the admin
        ctx, page, problems = _login(browser, server, opened.admin.token)
        contexts.append(ctx)
        page.goto(f"{server.url}/admin")
        page.click("#export-button")
        report = page.text_content("#validate-report")
        assert report.startswith("$ videonet validate mini")
        assert "OK: 1 categories, 1 domains, 4 actions, 20 clips" in report
        assert "valid" in page.text_content("#export-summary")
        kappa = page.text_content("#kappa")
        assert "Figure Skating" in kappa and "(all domains)" in kappa
        assert "top fifth" in page.text_content("#collector-scores")
        assert problems == []
    finally:
        for ctx in contexts:
            ctx.close()
        server.stop()
    with open(world / "clips.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["action"] == ACTION]
    assert [r["video"] for r in rows][-2:] == [SOURCE, SHORT]  # the collected clips are its clips 4 and 5
    with open(world / "votes.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 6
    shot = tmp_path / "studio.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("VIDEONET_SCREENSHOTS")
    if target:
        from PIL import Image

        img = Image.open(shot).convert("RGB")
        img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            Path(target) / "studio.png", optimize=True
        )


def test_a_hostile_action_name_runs_no_script(browser, tmp_path: Path) -> None:
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    root = make_studio_dir(tmp_path / "ann", names=[payload, "b", "c", "d"], drop={payload: 5}, sources=1)
    opened = open_studio(root)
    server = StudioServer(root, opened.store, port=0).start()
    try:
        ctx, page, problems = _login(browser, server, opened.admin.token)
        for url in ("/actions", "/collect/1", "/admin", "/admin/clips"):
            page.goto(server.url + url)
        page.goto(server.url + "/collect/1")
        assert payload in page.text_content("h1")  # shown as text
        ctx.close()
    finally:
        server.stop()
    assert problems == []  # no dialog, no script error, no CSP violation

"""The studio over HTTP: the safety list (tokens for every write and page, no path leaves the
annotation directory, escaped names, cross-site posts refused, 20 concurrent votes neither lost
nor double-counted, a killed server loses nothing acknowledged), Prolific links, drafting
against a stand-in LLM server, URL sources through the download stage, browser copies of
videos the browser cannot play, and the command line."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from conftest import write_csv
from studio_world import ACTIONS, DOMAIN, make_studio_dir, open_test_studio

from videonet_datasets.annotations import load_actions
from videonet_datasets.cli import main as cli_main
from videonet_datasets.studio import collect, jobs
from videonet_datasets.studio.db import load_settings
from videonet_datasets.studio.server import StudioServer, open_studio
from videonet_datasets.studio.web import COOKIE
from videonet_datasets.video import sample_frames

XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def studio(tmp_path: Path):
    return open_test_studio(make_studio_dir(tmp_path / "ann", drop={"jump two": 5}))


def _add(studio, person, name: str, source: str) -> dict:
    with studio.store.write() as conn:
        aid = conn.execute("SELECT id FROM actions WHERE name = ?", (name,)).fetchone()[0]
        video = collect.register_local_video(conn, studio.root, source, person)
        return collect.add_candidate(
            conn, studio.root, person, load_settings(conn), aid, video["id"], 0.0, 1.0
        )


# ----------------------------------------------------------------------------- tokens and roles


def test_nothing_without_a_token(studio) -> None:
    routes = [r for r in studio.app.url_map.iter_rules() if r.endpoint not in ("static", "login", "prolific")]
    assert len(routes) >= 30
    checked = 0
    for rule in routes:
        url = re.sub(r"<(?:int:)?[a-z_]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Cookie": f"{COOKIE}=forged"}):
                r = studio.client.open(url, method=method, headers=headers, data={"csrf": "x"})
                assert r.status_code == 401, (method, url, headers, r.status_code)
                checked += 1
    assert checked >= 90
    assert studio.client.get("/t/wrong-token").status_code == 401
    with studio.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 1  # nothing was created


def test_roles(studio) -> None:
    ann = studio.person("ann")
    h = studio.bearer(ann)
    for url in ("/admin", "/actions", "/admin/clips", "/audit"):
        assert studio.client.get(url, headers=h).status_code == 403, url
    for url in ("/admin/export", "/admin/people", "/admin/settings", "/suggestions/1", "/actions/1"):
        assert studio.client.post(url, headers=h, data={"name": "x", "role": "admin"}).status_code == 403, url
    assert studio.client.get("/verify", headers=h).status_code == 200
    r = studio.client.post(
        "/admin/people", headers=studio.bearer(studio.admin), data={"name": "Eve", "role": "expert"}
    )
    assert r.status_code == 200 and r.json["link"].endswith(r.json["token"])
    assert (
        studio.client.get("/audit", headers={"Authorization": f"Bearer {r.json['token']}"}).status_code == 200
    )


# ----------------------------------------------------------------------------- paths


def test_no_path_leaves_the_annotation_directory(studio, tmp_path: Path) -> None:
    root = studio.root
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((root / "sources" / "src0.mp4").read_bytes())
    os.symlink(outside, root / "sources" / "link.mp4")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "v.mp4").write_bytes(outside.read_bytes())
    h = studio.bearer(studio.person("ann"))
    aid = 4
    for path, why in [
        ("../outside.mp4", "outside the annotation directory"),
        ("sources/../../outside.mp4", "outside the annotation directory"),
        (str(outside), "relative to the annotation directory"),
        ("/etc/passwd", "relative to the annotation directory"),
        ("sources/link.mp4", "through a link"),
        (".studio/studio.sqlite", "hidden folder"),
        (".hidden/v.mp4", "hidden folder"),
        ("sources/%2e%2e/%2e%2e/outside.mp4", "no such file"),
        ("C:\\Windows\\win.ini", "relative to the annotation directory"),
        ("sources/missing.mp4", "no such file"),
        ("actions.csv", "the sampler cannot read it"),
    ]:
        r = studio.client.post(f"/collect/{aid}/source", headers=h, data={"local": path})
        assert r.status_code == 400 and why in r.json["error"], (path, r.json)
    with studio.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM videos WHERE path LIKE 'sources/%'").fetchone()[0] == 0
    # media is served by id only; a clips.csv video outside the directory is imported, never served
    rows = (
        root / "clips.csv"
    ).read_text() + f"out1,{DOMAIN},jump two,{outside},0,\nout2,{DOMAIN},jump two,../outside.mp4,0,\n"
    (root / "clips.csv").write_text(rows)
    again = open_test_studio(root)
    with again.store.read() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM videos WHERE servable = 0 ORDER BY id")]
    assert len(ids) == 2
    h2 = again.bearer(again.admin)
    for vid in ids:
        assert again.client.get(f"/media/video/{vid}", headers=h2).status_code == 403
    for url in (
        "/media/video/..%2f..%2fetc%2fpasswd",
        "/media/video/-1",
        "/static/../studio.sqlite",
        "/media/video/999",
    ):
        assert again.client.get(url, headers=h2).status_code == 404, url
    assert again.client.get("/media/video/1", headers=h2).status_code == 200  # an imported clip inside


# ----------------------------------------------------------------------------- escaping


def test_names_and_definitions_are_rendered_escaped(tmp_path: Path) -> None:
    names = [XSS, "spin two", "jump one", "jump two"]
    root = make_studio_dir(tmp_path / "ann", names=names)
    text = (
        (root / "actions.csv")
        .read_text()
        .replace(f"The skater does {XSS}.", "x</textarea><script>alert(3)</script>")
    )
    (root / "actions.csv").write_text(text)
    studio = open_test_studio(root)
    rater = studio.person('"><svg onload=alert(4)>')
    admin_h, h = studio.bearer(studio.admin), studio.bearer(rater)
    with studio.store.write() as conn:
        conn.execute("UPDATE candidates SET status = 'verifying', decision = NULL WHERE clip_id = 'a0c0'")
    pages = {
        "/actions": admin_h,
        "/admin": admin_h,
        "/admin/clips": admin_h,
        "/collect/1": h,
        "/verify": h,
        "/actions/1/history": admin_h,
    }
    for url, headers in pages.items():
        r = studio.client.get(url, headers={**headers, "Accept": "text/html"})
        body = r.get_data(as_text=True)
        assert r.status_code == 200, url
        assert "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body, url
        assert "</textarea><script>" not in body, url
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    body = studio.client.get("/verify", headers={**h, "Accept": "text/html"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in body
    assert "<script" not in body.replace('<script src="/static/studio.js" defer></script>', "")


# ----------------------------------------------------------------------------- cross-site posts


def test_cross_site_posts_are_refused(studio) -> None:
    client = studio.client
    assert client.get(f"/t/{studio.admin.token}").status_code == 302  # the cookie
    page = client.get("/admin", headers={"Accept": "text/html"}).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)
    form = {"name": "Mallory", "role": "admin"}
    refused = [
        ({}, form),  # no form token
        ({}, {**form, "csrf": "0" * 40}),  # a wrong one
        ({"Origin": "http://evil.example"}, {**form, "csrf": token}),
        ({"Origin": "null"}, {**form, "csrf": token}),
        ({"Sec-Fetch-Site": "cross-site"}, {**form, "csrf": token}),
        ({"Sec-Fetch-Site": "same-site"}, {**form, "csrf": token}),
    ]
    for headers, data in refused:
        r = client.post("/admin/people", headers={**headers, "Accept": "application/json"}, data=data)
        assert r.status_code == 403, (headers, data)
    with studio.store.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM people WHERE name = 'Mallory'").fetchone()[0] == 0
    r = client.post(
        "/admin/people",
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin", "Accept": "application/json"},
        data={**form, "csrf": token},
    )
    assert r.status_code == 200  # same origin, right token
    set_cookie = client.get(f"/t/{studio.admin.token}").headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


# ----------------------------------------------------------------------------- concurrency


def _post(url: str, token: str, data: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(data, doseq=True).encode(),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_twenty_concurrent_votes_are_neither_lost_nor_double_counted(studio) -> None:
    col = studio.person("collector")
    many = _add(studio, col, "jump two", "sources/src0.mp4")
    few = _add(studio, col, "jump two", "sources/src1.mp4")
    raters = [studio.person(f"r{i}") for i in range(20)]
    studio.settings(raters_per_clip=20, max_votes=20)
    server = StudioServer(studio.root, studio.store, port=0).start()
    try:
        url = f"{server.url}/verify"

        def vote(args: tuple[Any, int]) -> tuple[int, dict]:
            rater, cand = args
            return _post(url, rater.token, {"candidate": cand, f"label_{cand}": "good"})

        # 20 raters, each sending their vote twice at the same moment: 20 votes count
        with ThreadPoolExecutor(40) as pool:
            results = list(pool.map(vote, [(r, many["id"]) for r in raters] * 2))
        assert sorted(code for code, _ in results) == [200] * 20 + [409] * 20
        reasons = {body["refused"][0]["reason"] for code, body in results if code == 409}
        assert reasons <= {
            "you already rated this clip",
            "this clip is no longer being verified (its votes are in)",
        }
        # a clip that needs 3 votes, 20 raters at once: exactly 3 count, one decision
        studio.settings(raters_per_clip=3, max_votes=5)
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(vote, [(r, few["id"]) for r in raters]))
        assert sorted(code for code, _ in results) == [200] * 3 + [409] * 17
    finally:
        server.stop()
    with studio.store.read() as conn:
        counts = dict(
            conn.execute("SELECT candidate_id, COUNT(*) FROM votes GROUP BY candidate_id").fetchall()
        )
        status = dict(
            conn.execute("SELECT id, status FROM candidates WHERE id IN (?, ?)", (many["id"], few["id"]))
        )
    assert counts == {many["id"]: 20, few["id"]: 3}
    assert status == {many["id"]: "accepted", few["id"]: "accepted"}


def _start_cli_server(root: Path) -> tuple[subprocess.Popen, str, str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "videonet_datasets.cli", "studio", str(root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(90, proc.kill)  # never hang the suite on a server that prints nothing
    watchdog.start()
    lines: list[str] = []
    try:
        while True:
            line = proc.stdout.readline()
            lines.append(line)
            m = re.search(r"admin link \(keep it private\): (http://[^/]+)/t/(\S+)", line)
            if m:
                return proc, m.group(1), m.group(2), lines
            if not line and proc.poll() is not None:
                break
    finally:
        watchdog.cancel()
    proc.kill()
    raise AssertionError("the studio did not start:\n" + "".join(lines))


def test_videonet_studio_on_mini_and_a_kill_that_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """`videonet studio` on an unmodified VideoNet-mini annotation directory; raters vote over
    HTTP while the server is killed (SIGKILL): every acknowledged vote is in the store after."""
    from videonet_datasets.synth import generate_world, preset

    root = tmp_path / "mini"
    generate_world(root, preset("tiny", web_videos=0, jobs=1), progress=False)
    proc, base, admin, lines = _start_cli_server(root)
    acknowledged: list[tuple[int, int]] = []
    stop = threading.Event()
    try:
        assert lines[0].startswith(f"VideoNet studio on {root}: 12 actions in 2 domains, 60 clips")
        assert _post(f"{base}/admin/reverify", admin, {"domain": "Figure Skating"})[0] == 200
        assert _post(f"{base}/admin/settings", admin, {"raters_per_clip": 16, "max_votes": 16})[0] == 200
        raters = [
            _post(f"{base}/admin/people", admin, {"name": f"r{i}", "role": "annotator"})[1] for i in range(16)
        ]
        with open_studio(root).store.read() as conn:
            cands = [
                r[0] for r in conn.execute("SELECT id FROM candidates WHERE status = 'verifying' LIMIT 3")
            ]
        assert len(cands) == 3

        def worker(rs: list[dict]) -> None:
            for r in rs:
                for c in cands:
                    if stop.is_set():
                        return
                    try:
                        code, body = _post(
                            f"{base}/verify", r["token"], {"candidate": c, f"label_{c}": "good"}
                        )
                    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
                        return  # the server died mid-request (or mid-answer): not acknowledged
                    if code == 200 and body["saved"]:
                        acknowledged.append((r["id"], c))

        threads = [threading.Thread(target=worker, args=(raters[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 90
        while len(acknowledged) < 15 and any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(acknowledged) >= 15, "the votes did not get through"
        proc.send_signal(signal.SIGKILL)  # mid-stream, no clean shutdown
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
    reopened = open_studio(root)
    with reopened.store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = set(map(tuple, conn.execute("SELECT rater_id, candidate_id FROM votes").fetchall()))
    assert set(acknowledged) <= stored and len(acknowledged) >= 15
    assert len(stored) - len(acknowledged) <= 4  # at most the requests in flight when it died
    assert reopened.clips == 60


# ----------------------------------------------------------------------------- Prolific


def test_prolific_study_link(studio) -> None:
    admin_h = studio.bearer(studio.admin)
    col = studio.person("collector")
    cand = _add(studio, col, "jump two", "sources/src0.mp4")
    r = studio.client.post(
        "/admin/studies",
        headers=admin_h,
        data={"name": "verify-1", "stage": "verify", "quota": 1, "completion_code": "C0DE42"},
    )
    with studio.store.read() as conn:
        token = conn.execute("SELECT token FROM studies").fetchone()[0]
    assert r.status_code == 200 and r.json["link"] == f"/p/{token}"
    client = studio.app.test_client()
    assert client.get(f"/p/{token}?PROLIFIC_PID=<bad>").status_code == 400
    assert client.get("/p/wrong?PROLIFIC_PID=abc").status_code == 404
    r = client.get(f"/p/{token}?PROLIFIC_PID=5f1e2d3c&STUDY_ID=s&SESSION_ID=x")
    assert r.status_code == 302 and r.headers["Location"].endswith("/verify")
    assert client.get(f"/p/{token}?PROLIFIC_PID=5f1e2d3c").status_code == 302  # same id, same person
    with studio.store.read() as conn:
        people = conn.execute("SELECT id, name FROM people WHERE prolific_pid = '5f1e2d3c'").fetchall()
    assert len(people) == 1 and people[0]["name"] == "prolific:5f1e2d3c"
    page = client.get("/verify").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)
    assert f'name="label_{cand["id"]}"' in page and "completion-code" not in page
    r = client.post("/verify", data={"csrf": csrf, "candidate": cand["id"], f"label_{cand['id']}": "good"})
    assert r.status_code == 302
    done = client.get("/verify").get_data(as_text=True)
    assert 'id="completion-code">C0DE42<' in done
    assert "https://app.prolific.com/submissions/complete?cc=C0DE42" in done
    with studio.store.read() as conn:
        assert conn.execute("SELECT rater_id FROM votes").fetchone()[0] == people[0]["id"]


# ----------------------------------------------------------------------------- drafting


class StandInLLM:
    """An OpenAI-compatible chat server answering the three drafting prompts."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                prompt = body["messages"][-1]["content"]
                if prompt.startswith("I have the following list"):
                    content = (
                        "Sure:\n1. **Spin** - the general spin\n2. Jump Three: three rotations\n- spin one\n"
                    )
                elif prompt.startswith("Are there any duplicates"):
                    content = '- "Spin" is general; "spin one" and "spin two" are varieties of it.\n'
                else:
                    names = (
                        prompt.split("Here are the actions to define:\n")[1]
                        .split("\nRemember")[0]
                        .splitlines()
                    )
                    content = "\n\n".join(f"**{n}**: How to see {n}, step by step." for n in names)
                data = json.dumps(
                    {
                        "choices": [
                            {"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_draft_actions_then_a_person_decides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_studio_dir(tmp_path / "ann", clips=0, sources=0)
    text = (root / "actions.csv").read_text().replace("The skater does jump two.", "")
    (root / "actions.csv").write_text(text)
    before = text
    llm = StandInLLM()
    try:
        code = cli_main(
            ["draft-actions", str(root), "--base-url", llm.url, "--model", "m1", "--api-key", "sk-secret"]
        )
    finally:
        llm.close()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Skating: 2 new action(s) suggested, 1 near-duplicate group(s), 2 definition(s) drafted" in out
    assert "'spin one' is already on the list" in out and "sk-secret" not in out
    prompts = [r["messages"][0]["content"] for r in llm.requests]
    assert [p.split("\n")[0] for p in prompts] == [
        "I have the following list of Skating actions:",
        "Are there any duplicates or near-duplicates in this list of Skating actions?",
        "Generate detailed definitions for the following Skating actions from",
    ]
    assert all(r["model"] == "m1" and r["max_tokens"] == 8192 for r in llm.requests)
    # the definition request lists the domain without the action proposed for dropping
    assert (
        "Here are the actions to define:\nspin one\nspin two\njump one\njump two\nJump Three\nRemember"
        in prompts[2]
    )
    assert (root / "actions.csv").read_text() == before  # suggestions only
    studio = open_test_studio(root)
    h = studio.bearer(studio.admin)
    page = studio.client.get("/actions", headers={**h, "Accept": "text/html"}).get_data(as_text=True)
    assert page.count('class="card suggestion"') == 4
    with studio.store.read() as conn:
        sug = {(r["kind"], json.loads(r["payload"]).get("name") or json.loads(r["payload"]).get("action")): r["id"]
               for r in conn.execute("SELECT * FROM suggestions")}  # fmt: skip
    dup = [v for (k, _), v in sug.items() if k == "duplicate"][0]
    r1 = studio.client.post(f"/suggestions/{sug[('add', 'Jump Three')]}", headers=h,
                            data={"decision": "accept", "name": "jump three", "subdomain": "jump", "definition": "Three turns in the air."})  # fmt: skip
    r2 = studio.client.post(
        f"/suggestions/{dup}", headers=h, data={"decision": "accept", "drop_present": "1", "drop": "Spin"}
    )
    r3 = studio.client.post(
        f"/suggestions/{sug[('definition', 'jump two')]}", headers=h, data={"decision": "accept"}
    )
    assert [r.status_code for r in (r1, r2, r3)] == [200] * 3
    assert r1.json["message"] == "Added 'jump three' to Skating."
    acts = load_actions(root)
    assert [n for _, n in acts] == [*ACTIONS, "jump three"]
    assert acts[(DOMAIN, "jump two")].definition == "How to see jump two, step by step."
    assert acts[(DOMAIN, "jump three")].subdomain == "jump"
    with studio.store.read() as conn:
        statuses = sorted(r[0] for r in conn.execute("SELECT status FROM suggestions"))
        runs = conn.execute("SELECT step, reply FROM draft_runs ORDER BY id").fetchall()
    assert statuses == ["accepted", "accepted", "edited", "rejected"]  # adding 'Spin' fell with its group
    assert [r["step"] for r in runs] == ["augment", "dedupe", "define"] and "Jump Three" in runs[0]["reply"]


# ----------------------------------------------------------------------------- sources


def test_a_url_source_is_downloaded_by_the_download_stage(studio, tmp_path: Path) -> None:
    served = tmp_path / "www"
    served.mkdir()
    (served / "clip.mp4").write_bytes((studio.root / "sources" / "src2.mp4").read_bytes())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"
        h = studio.bearer(studio.person("ann"))
        assert (
            studio.client.post("/collect/4/source", headers=h, data={"url": "ftp://x/y"}).status_code == 400
        )
        r = studio.client.post("/collect/4/source", headers=h, data={"url": url})
        assert r.json["status"] == "downloading"
        vid = r.json["video_id"]
        assert studio.client.get(f"/media/video/{vid}", headers=h).status_code == 409
        assert jobs.run_one(studio.store, studio.root) and not jobs.run_one(studio.store, studio.root)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert studio.client.get(f"/media/status/{vid}", headers=h).json == {"status": "ready", "error": None}
    r = studio.client.post(
        "/collect/4/candidates", headers=h, data={"video_id": vid, "start": 0.2, "end": 1.0}
    )
    assert r.status_code == 200 and r.json["candidate"]["end"] == 1.0
    with studio.store.read() as conn:
        path = conn.execute("SELECT path FROM videos WHERE id = ?", (vid,)).fetchone()[0]
    assert path.startswith("downloads/videos/u") and (studio.root / path).is_file()
    assert (studio.root / "downloads" / "records.jsonl").is_file()  # the download stage's own record


def test_a_video_the_browser_cannot_play_gets_a_browser_copy(studio) -> None:
    path = studio.root / "sources" / "old.mkv"
    with av.open(str(path), "w") as c:  # MPEG-4 part 2 in Matroska, starting at 0.5 s
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
            f.pts = i + 5
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    h = studio.bearer(studio.person("ann"))
    r = studio.client.post("/collect/4/source", headers=h, data={"local": "sources/old.mkv"})
    assert r.json["status"] == "preparing"
    vid = r.json["video_id"]
    jobs.run_one(studio.store, studio.root)
    with studio.store.read() as conn:
        video = dict(conn.execute("SELECT * FROM videos WHERE id = ?", (vid,)).fetchone())
    assert video["status"] == "ready" and video["playable"] == f".studio/proxies/{vid}.mp4"
    frames = studio.client.get(f"/media/frames/{vid}", headers=h).json
    # The copy starts at the source's first frame, the 0 of the source's player timeline.
    assert frames["offset"] == 0.0 and frames["end"] == pytest.approx(3.0) and frames["times"][0] == 0.0
    assert len(frames["times"]) == 30
    r = studio.client.get(f"/media/video/{vid}", headers={**h, "Range": "bytes=0-99"})
    assert r.status_code == 206 and r.headers["Content-Type"] == "video/mp4" and len(r.data) == 100
    r = studio.client.post(
        "/collect/4/candidates", headers=h, data={"video_id": vid, "start": 1.0, "end": 2.0}
    )
    assert (r.json["candidate"]["start"], r.json["candidate"]["end"]) == (1.0, 2.0)  # the source's timeline
    thumb = sample_frames(studio.root / "sources" / "old.mkv", start=1.0, end=2.0, fps=10).frames
    # frames 10-19 of the source (frame i is grey i * 8), not the stream clock's 5-14
    assert np.allclose([f.mean() for f in thumb], np.arange(10, 20) * 8, atol=6)


# ----------------------------------------------------------------------------- command line


def test_command_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["studio", str(tmp_path / "nope")]) == 2
    assert "error:" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    write_csv(
        bad / "actions.csv",
        ["category", "domain", "action", "subdomain", "definition"],
        [["", "D", "a", "", ""]],
    )
    assert cli_main(["studio", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "actions.csv:2: category='': must not be empty" in err
    ok = make_studio_dir(tmp_path / "ok", clips=0, sources=0)
    assert (
        cli_main(["draft-actions", str(ok), "--base-url", "http://127.0.0.1:9/v1", "--domain", "Tennis"]) == 2
    )
    assert "not in actions.csv" in capsys.readouterr().err
    assert (
        cli_main(["draft-actions", str(ok), "--base-url", "http://127.0.0.1:9/v1", "--steps", "augment,x"])
        == 2
    )
    assert cli_main(["draft-actions", str(ok), "--base-url", "http://127.0.0.1:9/v1", "--retries", "0"]) == 1
    assert "1 domain(s) failed" in capsys.readouterr().err

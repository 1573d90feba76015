"""The studio's stages on a real store and real videos, through the service functions:
actions and their history, suggestions, collection rules, verification with leases and tie
rules, re-trimming, export + ``videonet validate``, the audit, and the human baseline read
back by ``videonet report``."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from studio_world import ACTIONS, DOMAIN, make_studio_dir, open_test_studio

from videonet_datasets.annotations import load_actions
from videonet_datasets.studio import actions as actions_mod
from videonet_datasets.studio import audit, baseline, collect, retrim, verify
from videonet_datasets.studio.db import load_settings
from videonet_datasets.studio.export import ExportError, export
from videonet_datasets.studio.media import frame_times


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _action_id(studio, name: str) -> int:
    with studio.store.read() as conn:
        return conn.execute("SELECT id FROM actions WHERE name = ?", (name,)).fetchone()[0]


def _add(studio, person, name: str, source: str, start: float, end: float) -> dict:
    with studio.store.write() as conn:
        video = collect.register_local_video(conn, studio.root, source, person)
        return collect.add_candidate(
            conn, studio.root, person, load_settings(conn), _action_id(studio, name), video["id"], start, end
        )


def _vote(studio, person, cand_id: int, label: str, text: bool = False):
    with studio.store.write() as conn:
        return verify.record_vote(conn, person, load_settings(conn), cand_id, label, text)


def test_import_edit_history_and_hand_edits(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 2})
    studio = open_test_studio(root)
    assert studio.opened.actions == 4 and studio.opened.clips == 18
    assert studio.opened.notes == [
        "imported 4 actions from actions.csv",
        "imported 18 clip(s) from clips.csv as accepted",
    ]
    aid = _action_id(studio, "spin one")
    with studio.store.write() as conn:
        changed = actions_mod.edit_action(
            conn, root, aid, studio.admin, definition="  The skater spins\nonce. "
        )
    assert changed == ["definition"]
    assert load_actions(root)[(DOMAIN, "spin one")].definition == "The skater spins once."
    # someone edits actions.csv by hand while the studio runs: imported first, never overwritten
    text = (root / "actions.csv").read_text().replace("The skater does spin two.", "Edited by hand.")
    (root / "actions.csv").write_text(text)
    with studio.store.write() as conn:
        actions_mod.edit_action(conn, root, _action_id(studio, "jump one"), studio.admin, subdomain="jump")
    acts = load_actions(root)
    assert acts[(DOMAIN, "spin two")].definition == "Edited by hand."
    assert acts[(DOMAIN, "jump one")].subdomain == "jump"
    assert acts[(DOMAIN, "spin one")].definition == "The skater spins once."
    with studio.store.read() as conn:
        hist = actions_mod.action_history(conn, _action_id(studio, "spin two"))
        mine = actions_mod.action_history(conn, aid)
    assert [(h["field"], h["new"], h["source"]) for h in hist][-1] == (
        "definition",
        "Edited by hand.",
        "actions.csv",
    )
    assert [(h["field"], h["old"], h["person"]) for h in mine][-1] == (
        "definition",
        "The skater does spin one.",
        "admin",
    )
    # restarting the studio changes nothing
    assert open_test_studio(root).opened.notes == []


def test_suggestions_need_a_person(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", clips=0, sources=0)
    studio = open_test_studio(root)
    before = (root / "actions.csv").read_text()
    with studio.store.write() as conn:
        s_add = actions_mod.add_suggestion(
            conn, DOMAIN, "add", {"name": "spin three", "subdomain": "", "definition": "Three."}
        )
        s_add2 = actions_mod.add_suggestion(
            conn, DOMAIN, "add", {"name": "spin", "subdomain": "", "definition": ""}
        )
        s_dup = actions_mod.add_suggestion(
            conn,
            DOMAIN,
            "duplicate",
            {"group": ["spin one", "spin", "spin two"], "drop": ["spin"], "reason": "r"},
        )
        s_def = actions_mod.add_suggestion(
            conn, DOMAIN, "definition", {"action": "jump one", "definition": "Up."}
        )
        assert (
            actions_mod.add_suggestion(conn, DOMAIN, "add", {"name": "Spin Three"}) is None
        )  # already pending
    assert (root / "actions.csv").read_text() == before  # nothing reaches the file by itself
    with studio.store.write() as conn:
        msg = actions_mod.accept_suggestion(
            conn,
            root,
            s_add,
            studio.admin,
            {"name": "spin three", "subdomain": "spin", "definition": "Three turns."},
        )
        assert msg == "added 'spin three' to Skating"
        actions_mod.accept_suggestion(conn, root, s_dup, studio.admin, {"drop": ["spin"]})
        actions_mod.accept_suggestion(conn, root, s_def, studio.admin, {})
        statuses = {r["id"]: r["status"] for r in conn.execute("SELECT id, status FROM suggestions")}
        with pytest.raises(ValueError, match="already accepted"):
            actions_mod.reject_suggestion(conn, s_def, studio.admin)
    assert statuses == {s_add: "edited", s_add2: "rejected", s_dup: "accepted", s_def: "accepted"}
    acts = load_actions(root)
    assert list(n for _, n in acts) == [*ACTIONS, "spin three"]
    assert acts[(DOMAIN, "spin three")].definition == "Three turns."
    assert acts[(DOMAIN, "jump one")].definition == "Up."


def test_collecting_snaps_windows_and_wants_distinct_sources(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 3})
    shutil.copy(root / "sources" / "src0.mp4", root / "sources" / "copy_of_src0.mp4")
    studio = open_test_studio(root)
    ann = studio.person("ann")
    studio.settings(candidates_per_action=7)
    cand = _add(studio, ann, "jump two", "sources/src0.mp4", 0.5, 1.8)
    times = frame_times(root / "sources" / "src0.mp4")
    assert (cand["start"], cand["end"]) == (round(times[5], 6), round(times[18], 6))
    assert cand["clip_id"] == "skating-jump_two-s3" and cand["status"] == "verifying"
    for source, message in [
        ("sources/src0.mp4", "already comes from this source video"),
        ("sources/copy_of_src0.mp4", "already comes from this source video"),  # same file, other name
        ("videos/a3c0.mp4", "already comes from this source video"),  # an imported clip's video
    ]:
        with pytest.raises(collect.CollectError, match=message):
            _add(studio, ann, "jump two", source, 0.0, 0.5)
    with pytest.raises(collect.CollectError, match="at least one frame"):
        _add(studio, ann, "jump two", "sources/src1.mp4", 1.0, 1.0)
    with pytest.raises(collect.CollectError, match="already has the candidates it needs"):
        _add(studio, ann, "spin one", "sources/src1.mp4", 0.0, 1.0)  # 5 accepted already
    with pytest.raises(collect.CollectError, match="outside the annotation directory"):
        _add(studio, ann, "jump two", "../outside.mp4", 0.0, 1.0)
    # collection is handed out one action per collector
    bob = studio.person("bob")
    with studio.store.write() as conn:
        s = load_settings(conn)
        assert collect.next_collect_action(conn, ann, s) == _action_id(studio, "jump two")
        assert collect.next_collect_action(conn, bob, s) is None  # the only open action is ann's


def test_verification_spreads_raters_and_applies_the_rules(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 5}, sources=3)
    studio = open_test_studio(root)
    col = studio.person("collector")
    a = _add(studio, col, "jump two", "sources/src0.mp4", 0.0, 1.0)
    b = _add(studio, col, "jump two", "sources/src1.mp4", 0.0, 1.0)
    c = _add(studio, col, "jump two", "sources/src2.mp4", 0.0, 1.0)
    raters = [studio.person(f"r{i}") for i in range(5)]
    with studio.store.write() as conn:
        s = load_settings(conn)
        assert verify.next_batch(conn, col, s) is None  # a collector never rates their own clips
        batches = [verify.next_batch(conn, r, s) for r in raters[:4]]
    assert [sorted(x["id"] for x in bt[1]) for bt in batches[:3]] == [[a["id"], b["id"], c["id"]]] * 3
    assert batches[3] is None  # three raters hold every slot: the fourth gets nothing
    # a rater without a lease cannot take a held slot
    with pytest.raises(verify.VoteRefused, match="all the raters it needs"):
        _vote(studio, raters[4], a["id"], "good")
    r0, r1, r2 = raters[:3]
    for r, la, lb, lc in [
        (r0, "good", "good", "good"),
        (r1, "good", "trim", "wrong"),
        (r2, "good", "wrong", "unsure"),
    ]:
        _vote(studio, r, a["id"], la)
        _vote(studio, r, b["id"], lb)
        _vote(studio, r, c["id"], lc)
    with pytest.raises(verify.VoteRefused, match="already rated"):
        _vote(studio, r0, c["id"], "good")
    with studio.store.read() as conn:
        status = {
            x["id"]: (x["status"], x["decision"])
            for x in conn.execute("SELECT * FROM candidates WHERE origin='studio'")
        }
    assert status[a["id"]][0] == "accepted"
    assert status[b["id"]][0] == "retrim"  # shows it 2-1, then a well-trimmed/trim tie: re-trim
    assert json.loads(status[b["id"]][1])["counts"] == {"good": 1, "trim": 1, "wrong": 1, "unsure": 0}
    assert status[c["id"]][0] == "verifying"  # good, wrong, unsure: one more rater is asked
    with studio.store.write() as conn:
        extra = verify.next_batch(conn, raters[3], load_settings(conn))
    assert [x["id"] for x in extra[1]] == [c["id"]]
    d = _vote(studio, raters[3], c["id"], "wrong")
    assert (d.status, d.counts["wrong"]) == ("rejected", 2)
    with pytest.raises(verify.VoteRefused, match="no longer being verified"):
        _vote(studio, raters[4], c["id"], "good")


def test_retrim_stays_in_the_cushion_and_can_reverify(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 5}, sources=2, source_seconds=8.0)
    studio = open_test_studio(root)
    col, fixer = studio.person("collector"), studio.person("fixer")
    raters = [studio.person(f"r{i}") for i in range(6)]
    cands = [_add(studio, col, "jump two", f"sources/src{i}.mp4", 3.0, 4.0) for i in range(2)]
    for r in raters[:3]:
        for cand in cands:
            _vote(studio, r, cand["id"], "trim")
    with studio.store.write() as conn:
        s = load_settings(conn)
        first = retrim.next_retrim(conn, fixer, s)
        second = retrim.next_retrim(conn, raters[5], s)
        examples = retrim.examples_for(conn, _action_id(studio, "spin one"))
    assert first["id"] == cands[0]["id"] and second["id"] == cands[1]["id"]  # one re-trimmer per clip
    assert len(examples) == 5  # the imported clips of an action are its well-trimmed examples
    with studio.store.write() as conn:
        with pytest.raises(collect.CollectError, match="leaves the range shown"):
            retrim.apply_retrim(conn, root, fixer, load_settings(conn), cands[0]["id"], 0.5, 3.5)
        with pytest.raises(collect.CollectError, match="someone else"):
            retrim.apply_retrim(conn, root, fixer, load_settings(conn), cands[1]["id"], 2.5, 4.5)
        done = retrim.apply_retrim(conn, root, fixer, load_settings(conn), cands[0]["id"], 2.2, 5.07)
    assert (done["start"], done["end"], done["status"]) == (2.2, 5.1, "accepted")
    studio.settings(reverify_retrims=True)
    with studio.store.write() as conn:
        again = retrim.apply_retrim(conn, root, raters[5], load_settings(conn), cands[1]["id"], 2.5, 4.5)
        trims = conn.execute("SELECT COUNT(*) FROM trims").fetchone()[0]
    assert (again["status"], again["round"], trims) == ("verifying", 2, 2)
    # the new round needs new raters: those of round 1 are not asked again
    with studio.store.write() as conn:
        assert verify.next_batch(conn, raters[0], load_settings(conn)) is None
        assert [c["id"] for c in verify.next_batch(conn, raters[3], load_settings(conn))[1]] == [
            cands[1]["id"]
        ]


def _complete_world(tmp_path: Path):
    """jump two: 3 imported clips + 4 collected (3 accepted in different ways, 1 rejected)."""
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 2}, sources=4)
    studio = open_test_studio(root)
    col = studio.person("collector")
    raters = [studio.person(f"r{i}") for i in range(3)]
    cands = [_add(studio, col, "jump two", f"sources/src{i}.mp4", 0.0, 2.0) for i in range(4)]
    plan = [
        ("good", "good", "good"),
        ("good", "good", "trim"),
        ("good", "trim", "trim"),
        ("wrong", "wrong", "good"),
    ]
    for cand, labels in zip(cands, plan):
        for r, label in zip(raters, labels):
            _vote(studio, r, cand["id"], label, text=label == "trim" and cand is cands[1])
    with studio.store.write() as conn:
        assert retrim.next_retrim(conn, col, load_settings(conn))["id"] == cands[2]["id"]
        retrim.apply_retrim(conn, root, col, load_settings(conn), cands[2]["id"], 0.5, 1.5)
    return studio, cands


def test_export_writes_the_stated_order_and_validates(tmp_path: Path) -> None:
    studio, cands = _complete_world(tmp_path)
    root = studio.root
    result = export(studio.store, root, studio.admin, load_settings(studio.store.connect()))
    assert result.valid, result.report
    assert result.report.startswith("$ videonet validate ann")
    assert "OK: 1 categories, 1 domains, 4 actions, 20 clips" in result.report
    rows = _csv(root / "clips.csv")
    jump2 = [r["clip_id"] for r in rows if r["action"] == "jump two"]
    # imported first (file order), then the best-verified collected clips: 3/3 well trimmed, 2/3, re-trimmed
    assert jump2 == ["a3c0", "a3c1", "a3c2", cands[0]["clip_id"], cands[1]["clip_id"]]
    assert [r["clip_id"] for r in _csv(root / "clips_reserve.csv")] == [cands[2]["clip_id"]]
    assert [r for r in rows if r["clip_id"] == cands[0]["clip_id"]][0]["video"] == "sources/src0.mp4"
    votes = _csv(root / "votes.csv")
    assert len(votes) == 12 and {v["clip_status"] for v in votes} == {"accepted", "rejected"}
    rejected = [v for v in votes if v["clip_id"] == cands[3]["clip_id"]]
    assert [v["label"] for v in rejected] == ["wrong", "wrong", "good"]  # rejected clips keep their votes
    assert {v["rater"] for v in votes} == {"r0", "r1", "r2"} and votes[0]["time"].endswith("+00:00")
    assert sum(v["text_flag"] == "1" for v in votes) == 1
    assert not list(root.glob(".*.tmp*"))
    # the same store exports the same bytes
    before = {n: (root / n).read_bytes() for n in ("clips.csv", "votes.csv", "clips_reserve.csv")}
    export(studio.store, root, studio.admin, load_settings(studio.store.connect()), validate=False)
    assert {n: (root / n).read_bytes() for n in before} == before
    # a clips.csv edited by hand is never overwritten
    (root / "clips.csv").write_text(
        (root / "clips.csv").read_text() + "x,Skating,spin one,videos/a0c0.mp4,0,\n"
    )
    with pytest.raises(ExportError, match="changed outside the studio"):
        export(studio.store, root, studio.admin, load_settings(studio.store.connect()))


def test_export_of_an_unfinished_action_says_what_is_missing(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann", drop={"jump two": 2})
    studio = open_test_studio(root)
    result = export(studio.store, root, studio.admin, load_settings(studio.store.connect()))
    assert not result.valid
    assert "action 'jump two' of 'Skating' has 3 valid clip(s); VideoNet needs 5" in result.report
    assert "INVALID: 1 error(s)" in result.report
    assert result.short == ["Skating / jump two: 3 of 5"]


def test_audit_reports_accuracy_with_an_interval(tmp_path: Path) -> None:
    root = make_studio_dir(tmp_path / "ann")
    studio = open_test_studio(root)
    expert = studio.person("expert", "expert")
    studio.settings(audit_sample_size=8)
    with studio.store.write() as conn:
        _, n = audit.draw_sample(conn, studio.admin, load_settings(conn))
    assert n == 8
    page = studio.client.get("/audit", headers={**studio.bearer(expert), "Accept": "text/html"})
    item_id = int(re.search(r'action="/audit/(\d+)"', page.get_data(as_text=True)).group(1))
    assert page.status_code == 200 and "Audit: is this clip a" in page.get_data(as_text=True)
    assert studio.client.post(
        f"/audit/{item_id}", headers=studio.bearer(expert), data={"label": "incorrect"}
    ).json["ok"]
    for i in range(1, 8):
        with studio.store.write() as conn:
            item = audit.next_item(conn, expert, load_settings(conn))
            audit.label_item(conn, expert, item["id"], "incorrect" if i == 0 else "correct")
    with studio.store.write() as conn:
        assert audit.next_item(conn, expert, load_settings(conn)) is None
        res = audit.audit_results(conn)
    assert (res["correct"], res["labeled"], res["accuracy"]) == (7, 8, 0.875)
    assert res["ci_low"] == pytest.approx(0.5291, abs=1e-3) and res["ci_high"] == pytest.approx(
        0.9776, abs=1e-3
    )
    assert list(res["domains"]) == [DOMAIN]


@pytest.fixture(scope="module")
def built_benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from videonet_datasets.benchmark.build import build_benchmark

    root = make_studio_dir(tmp_path_factory.mktemp("bench") / "ann", sources=0)
    out = root.parent / "videonet"
    build_benchmark(root, out, seed=0, progress=False)
    return root, out


def test_human_baseline_is_an_lmms_eval_result_for_videonet_report(built_benchmark, tmp_path: Path) -> None:
    from videonet_datasets.report import Report, load_results

    src, bench = built_benchmark
    root = tmp_path / "ann"
    shutil.copytree(src, root)
    studio = open_test_studio(root, benchmark=bench)
    people = [studio.person(f"h{i}") for i in range(3)]
    with studio.store.write() as conn:
        s0 = baseline.create_session(conn, bench, "b0def", "binary_0shot", True, 6, 2, 0)
        s1 = baseline.create_session(conn, bench, "mc", "mc", False, 4, 1, 0)
        with pytest.raises(ValueError, match="no multiple-choice task with definitions"):
            baseline.create_session(conn, bench, "x", "mc", True, 4, 1, 0)
    assert (s0["task"], s1["task"]) == ("videonet_binary_hard_0shot_definition", "videonet_mc")
    # one answer through the web page, as a rater gives it
    h = studio.bearer(people[0])
    page = studio.client.get("/baseline", headers={**h, "Accept": "text/html"}).get_data(as_text=True)
    item_id = int(re.search(r'action="/baseline/(\d+)"', page).group(1))
    assert (
        page.count('class="bench-video"') == 1
        and ">Yes</button>" in page
        and "Here is its definition:" in page
    )
    video = studio.client.get(f"/media/baseline/{item_id}/0", headers=h)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    assert studio.client.get(f"/media/baseline/{item_id}/1", headers=h).status_code == 404
    assert studio.client.post(f"/baseline/{item_id}", headers=h, data={"answer": "maybe"}).status_code == 409
    assert studio.client.post(
        f"/baseline/{item_id}", headers=h, data={"answer": "yes", "seconds": "4.2"}
    ).json["ok"]
    answered = 1
    for p in people:
        while True:
            with studio.store.write() as conn:
                item = baseline.next_item(conn, p, load_settings(conn))
                if item is None:
                    break
                doc = item["doc"]
                parts = baseline.display_parts(doc, bool(item["definition"]))
                if doc.get("options"):
                    answer = doc["answer"]  # this rater knows every MC answer
                    assert parts[0][1].startswith(
                        "Which of the following Skating actions is shown in the video?"
                    )
                else:
                    answer = "yes"  # ... and always says yes to binary questions
                    assert "Here is its definition:" in parts[0][1] and "reason through" not in parts[0][1]
                sid = baseline.record_answer(conn, p, item["id"], answer, 3.5)
                baseline.write_results(conn, root, sid)
                answered += 1
    assert answered == 6 * 2 + 4
    results, notes = load_results([f"human={root / 'human_baseline'}"])
    by_task = {r.task: r for r in results}
    assert set(by_task) == {"videonet_binary_hard_0shot_definition", "videonet_mc"}
    assert {r.model for r in results} == {"human"}
    assert by_task["videonet_mc"].value("accuracy") == 1.0
    binary = by_task["videonet_binary_hard_0shot_definition"]
    assert binary.value("accuracy_positive") == 1.0 and binary.value("accuracy_negative") == 0.0
    assert binary.value("yes_rate") == 1.0 and binary.partial
    tables = {t.name: t for t in Report(results).tables()}
    inputs = tables["table11_inputs"]
    assert ["human", "Video w/ definition"] == inputs.rows[0][:2]
    assert any(row[0] == "human" for row in tables["table3_mc"].rows)
    data = json.loads((root / "human_baseline" / "mc_results.json").read_text())
    assert data["videonet_human_baseline"]["answers"] == 4 and data["config"]["model"] == "human"

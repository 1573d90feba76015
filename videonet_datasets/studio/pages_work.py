"""The annotators' pages: collect, verify, re-trim, the human baseline, and the expert audit.

Each page that hands out work reserves it (``leases``) in the same transaction that picks it;
each form post is one transaction, answered after its commit.  People who came through a
Prolific study see the study's completion code when they reach its number of tasks (or run
out of work after doing some).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for

from videonet_datasets.studio import actions as actions_mod
from videonet_datasets.studio import audit as audit_mod
from videonet_datasets.studio import baseline as baseline_mod
from videonet_datasets.studio import collect as collect_mod
from videonet_datasets.studio import leases, media, retrim, verify
from videonet_datasets.studio.db import load_settings
from videonet_datasets.studio.people import Person
from videonet_datasets.studio.webcore import StudioApp, form_float, form_int, need, ok, wants_json

__all__ = ["PROLIFIC_COMPLETE", "register"]

PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"


def register(app: Flask, studio: StudioApp) -> None:
    root = studio.root

    # ------------------------------------------------------------------ study completion

    def _study_status(conn: sqlite3.Connection, person: Person) -> dict[str, Any] | None:
        if not person.study_id:
            return None
        study = conn.execute("SELECT * FROM studies WHERE id = ?", (person.study_id,)).fetchone()
        count_sql = {
            "collect": "SELECT COUNT(*) FROM candidates WHERE collector_id = ?",
            "verify": "SELECT COUNT(*) FROM votes WHERE rater_id = ?",
            "retrim": "SELECT COUNT(*) FROM trims WHERE person_id = ?",
            "baseline": "SELECT COUNT(*) FROM baseline_answers WHERE person_id = ?",
        }[study["stage"]]
        done = conn.execute(count_sql, (person.id,)).fetchone()[0]
        return {
            "name": study["name"],
            "stage": study["stage"],
            "quota": study["quota"],
            "done": done,
            "code": study["completion_code"],
            "url": PROLIFIC_COMPLETE.format(code=study["completion_code"]),
        }

    def _done(stage: str, message: str) -> Any:
        with studio.store.read() as conn:
            study = _study_status(conn, g.person)
        return render_template("done.html", stage=stage, message=message, study=study)

    def _quota_reached(stage: str) -> bool:
        with studio.store.read() as conn:
            st = _study_status(conn, g.person)
        return bool(st and st["stage"] == stage and st["done"] >= st["quota"])

    # ------------------------------------------------------------------ collect

    @app.get("/collect")
    @need("annotator")
    def collect() -> Any:
        if _quota_reached("collect"):
            return _done("collect", "You collected all the clips this study asks for. Thank you!")
        with studio.store.write() as conn:
            action_id = collect_mod.next_collect_action(conn, g.person, load_settings(conn))
        if action_id is None:
            return _done("collect", "No action needs clips right now.")
        return redirect(url_for("collect_action", action_id=action_id))

    @app.get("/collect/<int:action_id>")
    @need("annotator")
    def collect_action(action_id: int) -> Any:
        s = studio.settings()
        with studio.store.read() as conn:
            action = actions_mod.get_action(conn, action_id)
            if action is None or action.removed:
                abort(404, "no such action")
            cands = collect_mod.candidates_of(conn, action_id)
            prog = collect_mod.action_progress(conn, s)[action_id]
            video = None
            vid = request.args.get("video", type=int)
            if vid is not None:
                video = collect_mod.get_video(conn, vid)
                if video is None:
                    abort(404, "no such video")
        sources = media.list_local_videos(root)
        return render_template(
            "collect.html",
            action=action,
            candidates=cands,
            progress=prog,
            settings=s,
            sources=sources,
            video=video,
        )

    @app.post("/collect/<int:action_id>/source")
    @need("annotator")
    def collect_source(action_id: int) -> Any:
        local = request.form.get("local", "").strip()
        url = request.form.get("url", "").strip()
        try:
            with studio.store.write() as conn:
                if url:
                    video = collect_mod.register_url(conn, url, g.person)
                elif local:
                    video = collect_mod.register_local_video(conn, root, local, g.person)
                else:
                    raise collect_mod.CollectError("choose a local video or give a URL")
        except collect_mod.CollectError as e:
            if wants_json():
                abort(400, str(e))
            flash(str(e), "error")
            return redirect(url_for("collect_action", action_id=action_id))
        if studio.worker and video["status"] in ("downloading", "preparing"):
            studio.worker.wake()
        if wants_json():
            return jsonify(video_id=video["id"], status=video["status"])
        return redirect(url_for("collect_action", action_id=action_id, video=video["id"]))

    @app.post("/collect/<int:action_id>/candidates")
    @need("annotator")
    def add_candidate(action_id: int) -> Any:
        start, end = form_float("start"), form_float("end")
        video_id = form_int("video_id")
        try:
            with studio.store.write() as conn:
                cand = collect_mod.add_candidate(
                    conn, root, g.person, load_settings(conn), action_id, video_id, start, end
                )
        except collect_mod.CollectError as e:
            if wants_json():
                abort(409, str(e))
            flash(str(e), "error")
            return redirect(url_for("collect_action", action_id=action_id, video=video_id))
        if wants_json():
            return jsonify(candidate=cand)
        flash(
            f"Saved {cand['clip_id']}: {media.fmt_seconds(cand['start'])}-{media.fmt_seconds(cand['end'])} s.",
            "ok",
        )
        return redirect(url_for("collect_action", action_id=action_id))

    @app.post("/collect/<int:action_id>/skip")
    @need("annotator")
    def collect_skip(action_id: int) -> Any:
        with studio.store.write() as conn:
            leases.release(conn, "collect", action_id, g.person.id)
            leases.take(conn, "collect-skip", action_id, g.person.id, 60.0)
        return ok("Skipped for an hour.", url_for("collect"))

    @app.post("/candidates/<int:candidate_id>/withdraw")
    @need("annotator")
    def withdraw(candidate_id: int) -> Any:
        try:
            with studio.store.write() as conn:
                collect_mod.withdraw_candidate(conn, g.person, candidate_id)
                action_id = conn.execute(
                    "SELECT action_id FROM candidates WHERE id = ?", (candidate_id,)
                ).fetchone()[0]
        except collect_mod.CollectError as e:
            abort(409, str(e))
        return ok("Candidate withdrawn.", url_for("collect_action", action_id=action_id))

    # ------------------------------------------------------------------ verify

    @app.get("/verify")
    @need("annotator")
    def verify_page() -> Any:
        if _quota_reached("verify"):
            return _done("verify", "You rated all the clips this study asks for. Thank you!")
        with studio.store.write() as conn:
            batch = verify.next_batch(conn, g.person, load_settings(conn))
            if batch is None:
                return _done("verify", "No clip is waiting for your rating right now.")
            action = actions_mod.get_action(conn, batch[0])
        return render_template("verify.html", action=action, candidates=batch[1])

    @app.post("/verify")
    @need("annotator")
    def verify_submit() -> Any:
        ids = request.form.getlist("candidate", type=int)
        if not ids:
            abort(400, "no clip in the form")
        saved, refused = [], []
        status = 200
        with studio.store.write() as conn:
            s = load_settings(conn)
            for cid in ids:
                label = request.form.get(f"label_{cid}", "")
                flag = request.form.get(f"text_{cid}") in ("1", "on", "true")
                conn.execute("SAVEPOINT vote")
                try:
                    decision = verify.record_vote(conn, g.person, s, cid, label, flag)
                    conn.execute("RELEASE vote")
                    saved.append((cid, decision))
                except verify.VoteRefused as e:
                    conn.execute("ROLLBACK TO vote")
                    conn.execute("RELEASE vote")
                    refused.append((cid, str(e)))
                    status = max(status, e.status) if len(ids) == 1 else 207
        if wants_json():
            body = {
                "saved": [{"candidate": c, "status": d.status} for c, d in saved],
                "refused": [{"candidate": c, "reason": r} for c, r in refused],
            }
            return jsonify(body), (status if not saved else 200)
        if saved:
            flash(f"{len(saved)} rating(s) saved.", "ok")
        for _, reason in refused:
            flash(reason, "error")
        return redirect(url_for("verify_page"))

    # ------------------------------------------------------------------ re-trim

    @app.get("/retrim")
    @need("annotator")
    def retrim_page() -> Any:
        if _quota_reached("retrim"):
            return _done("retrim", "You re-trimmed all the clips this study asks for. Thank you!")
        with studio.store.write() as conn:
            s = load_settings(conn)
            cand = retrim.next_retrim(conn, g.person, s)
            if cand is None:
                return _done("retrim", "No clip is waiting for a re-trim right now.")
            action = actions_mod.get_action(conn, cand["action_id"])
            video = collect_mod.get_video(conn, cand["video_id"])
            examples = retrim.examples_for(conn, cand["action_id"])
            lo, hi = retrim.cushion(cand, video, s)
        return render_template(
            "retrim.html", cand=cand, action=action, video=video, examples=examples, lo=lo, hi=hi, settings=s
        )

    @app.post("/retrim/<int:candidate_id>")
    @need("annotator")
    def retrim_submit(candidate_id: int) -> Any:
        start, end = form_float("start"), form_float("end")
        try:
            with studio.store.write() as conn:
                cand = retrim.apply_retrim(
                    conn, root, g.person, load_settings(conn), candidate_id, start, end
                )
        except collect_mod.CollectError as e:
            if wants_json():
                abort(409, str(e))
            flash(str(e), "error")
            return redirect(url_for("retrim_page"))
        if wants_json():
            return jsonify(candidate=cand)
        flash(
            f"New window saved: {media.fmt_seconds(cand['start'])}-{media.fmt_seconds(cand['end'])} s.", "ok"
        )
        return redirect(url_for("retrim_page"))

    # ------------------------------------------------------------------ human baseline

    @app.get("/baseline")
    @need("annotator")
    def baseline() -> Any:
        if _quota_reached("baseline"):
            return _done("baseline", "You answered all the questions this study asks for. Thank you!")
        with studio.store.write() as conn:
            item = baseline_mod.next_item(conn, g.person, load_settings(conn))
        if item is None:
            return _done("baseline", "No question is waiting for your answer right now.")
        parts = baseline_mod.display_parts(item["doc"], bool(item["definition"]))
        videos = [p for p in parts if p[0] == "video"]
        slots = []
        k = 0
        for kind, value in parts:
            if kind == "video":
                slots.append(("video", k))
                k += 1
            else:
                slots.append(("text", value))
        options = list(item["doc"].get("options") or [])
        return render_template("baseline.html", item=item, slots=slots, options=options, n_videos=len(videos))

    @app.post("/baseline/<int:item_id>")
    @need("annotator")
    def baseline_answer(item_id: int) -> Any:
        answer = request.form.get("answer", "")
        seconds = request.form.get("seconds", type=float)
        try:
            with studio.store.write() as conn:
                session_id = baseline_mod.record_answer(conn, g.person, item_id, answer, seconds)
                baseline_mod.write_results(conn, root, session_id)
        except ValueError as e:
            if wants_json():
                abort(409, str(e))
            flash(str(e), "error")
        if wants_json():
            return jsonify(ok=True)
        return redirect(url_for("baseline"))

    # ------------------------------------------------------------------ audit

    @app.get("/audit")
    @need("expert")
    def audit() -> Any:
        with studio.store.write() as conn:
            item = audit_mod.next_item(conn, g.person, load_settings(conn))
            if item is None:
                return _done("audit", "No clip of the current audit sample is waiting for a label.")
            cand = dict(
                conn.execute("SELECT * FROM candidates WHERE id = ?", (item["candidate_id"],)).fetchone()
            )
            action = actions_mod.get_action(conn, cand["action_id"])
        return render_template("audit.html", item=item, cand=cand, action=action)

    @app.post("/audit/<int:item_id>")
    @need("expert")
    def audit_label(item_id: int) -> Any:
        try:
            with studio.store.write() as conn:
                audit_mod.label_item(conn, g.person, item_id, request.form.get("label", ""))
        except ValueError as e:
            abort(409, str(e))
        return ok("Label saved.", url_for("audit"))

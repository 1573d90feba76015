"""The admin's pages: actions and drafted suggestions, progress and agreement, people and
Prolific studies, settings, export + validation, audit samples and human-baseline sessions."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for

from videonet_datasets.studio import actions as actions_mod
from videonet_datasets.studio import audit as audit_mod
from videonet_datasets.studio import baseline as baseline_mod
from videonet_datasets.studio import collect as collect_mod
from videonet_datasets.studio import progress
from videonet_datasets.studio.db import load_settings, rows, save_settings
from videonet_datasets.studio.export import ExportError, export
from videonet_datasets.studio.people import ROLES, STAGES, create_person, create_study
from videonet_datasets.studio.settings import SettingsError, StudioSettings
from videonet_datasets.studio.webcore import StudioApp, form_int, need, ok, wants_json

__all__ = ["register"]


def register(app: Flask, studio: StudioApp) -> None:
    root = studio.root

    # ------------------------------------------------------------------ actions (admin)

    @app.get("/actions")
    @need("admin")
    def actions_page() -> Any:
        with studio.store.read() as conn:
            acts = actions_mod.list_actions(conn)
            suggestions = actions_mod.list_suggestions(conn)
            s = load_settings(conn)
            prog = collect_mod.action_progress(conn, s)
            runs = rows(
                conn.execute("SELECT id, domain, step, created FROM draft_runs ORDER BY id DESC LIMIT 20")
            )
        domains: dict[str, list[Any]] = {}
        for a in acts:
            domains.setdefault(a.domain, []).append(a)
        return render_template(
            "actions.html",
            domains=domains,
            suggestions=suggestions,
            negatives=actions_mod.read_negatives(root),
            progress=prog,
            runs=runs,
            settings=s,
        )

    @app.post("/actions/<int:action_id>")
    @need("admin")
    def edit_action(action_id: int) -> Any:
        try:
            with studio.store.write() as conn:
                changed = actions_mod.edit_action(
                    conn,
                    root,
                    action_id,
                    g.person,
                    definition=request.form.get("definition"),
                    subdomain=request.form.get("subdomain"),
                )
        except ValueError as e:
            abort(400, str(e))
        return ok(
            f"Saved ({', '.join(changed)})." if changed else "Nothing changed.",
            url_for("actions_page") + f"#a{action_id}",
            changed=changed,
        )

    @app.get("/actions/<int:action_id>/history")
    @need("admin")
    def history(action_id: int) -> Any:
        with studio.store.read() as conn:
            action = actions_mod.get_action(conn, action_id)
            if action is None:
                abort(404, "no such action")
            hist = actions_mod.action_history(conn, action_id)
        return render_template("history.html", action=action, history=hist)

    @app.post("/suggestions/<int:suggestion_id>")
    @need("admin")
    def decide_suggestion(suggestion_id: int) -> Any:
        decision = request.form.get("decision")
        try:
            with studio.store.write() as conn:
                if decision == "reject":
                    actions_mod.reject_suggestion(conn, suggestion_id, g.person)
                    message = "Suggestion rejected."
                elif decision == "accept":
                    form: dict[str, Any] = {
                        k: v for k, v in request.form.items() if k in ("name", "subdomain", "definition")
                    }
                    if "drop_present" in request.form:
                        form["drop"] = request.form.getlist("drop")
                    summary = actions_mod.accept_suggestion(conn, root, suggestion_id, g.person, form)
                    message = summary[:1].upper() + summary[1:] + "."
                else:
                    abort(400, "decision must be accept or reject")
        except ValueError as e:
            abort(409, str(e))
        return ok(message, url_for("actions_page") + "#suggestions")

    # ------------------------------------------------------------------ admin

    @app.get("/admin")
    @need("admin")
    def admin() -> Any:
        with studio.store.read() as conn:
            s = load_settings(conn)
            data = {
                "stages": progress.stage_progress(conn, s),
                "people": progress.people_progress(conn),
                "collectors": progress.collector_scores(conn),
                "agreement": progress.agreement(conn),
                "audit": audit_mod.audit_results(conn),
                "sessions": baseline_mod.session_progress(conn),
                "studies": rows(conn.execute("SELECT * FROM studies ORDER BY id")),
                "export": conn.execute("SELECT * FROM exports ORDER BY id DESC LIMIT 1").fetchone(),
                "flagged": rows(
                    conn.execute(
                        "SELECT c.clip_id, c.decision, a.domain, a.name FROM candidates c JOIN actions a "
                        "ON a.id = c.action_id WHERE c.text_flag = 1 AND c.status = 'accepted' ORDER BY c.id"
                    )
                ),
                "domains": [
                    r[0]
                    for r in conn.execute(
                        "SELECT DISTINCT domain FROM actions WHERE removed = 0 ORDER BY domain"
                    )
                ],
            }
        return render_template(
            "admin.html",
            settings=s,
            fields=StudioSettings.fields_help(),
            roles=ROLES,
            study_stages=STAGES,
            link=studio.link,
            benchmark=studio.benchmark,
            **data,
        )

    @app.get("/admin/clips")
    @need("admin")
    def admin_clips() -> Any:
        with studio.store.read() as conn:
            cands = rows(
                conn.execute(
                    "SELECT c.*, a.domain, a.name AS action, v.path AS video, p.name AS collector FROM candidates c "
                    "JOIN actions a ON a.id = c.action_id JOIN videos v ON v.id = c.video_id "
                    "LEFT JOIN people p ON p.id = c.collector_id ORDER BY a.position, c.id"
                )
            )
            votes: dict[int, list[dict[str, Any]]] = {}
            for v in rows(
                conn.execute(
                    "SELECT v.*, p.name AS rater FROM votes v JOIN people p ON p.id = v.rater_id ORDER BY v.id"
                )
            ):
                votes.setdefault(v["candidate_id"], []).append(v)
        for c in cands:
            c["decision"] = json.loads(c["decision"] or "{}")
        return render_template("clips.html", candidates=cands, votes=votes)

    @app.post("/admin/people")
    @need("admin")
    def add_person() -> Any:
        try:
            with studio.store.write() as conn:
                p = create_person(conn, request.form.get("name", ""), request.form.get("role", ""))
        except ValueError as e:
            abort(400, str(e))
        if wants_json():
            return jsonify(id=p.id, token=p.token, link=studio.link(f"/t/{p.token}"))
        flash(f"Added {p.name} ({p.role}).", "ok")
        return redirect(url_for("admin") + "#people")

    @app.post("/admin/studies")
    @need("admin")
    def add_study() -> Any:
        try:
            with studio.store.write() as conn:
                study = create_study(
                    conn,
                    request.form.get("name", ""),
                    request.form.get("stage", ""),
                    form_int("quota", 10),
                    request.form.get("completion_code", ""),
                )
        except ValueError as e:
            abort(400, str(e))
        return ok("Study link created.", url_for("admin") + "#studies", link=studio.link(f"/p/{study.token}"))

    @app.post("/admin/settings")
    @need("admin")
    def change_settings() -> Any:
        values = {k: v for k, v in request.form.items() if k != "csrf"}
        if "reverify_retrims" not in values:
            values["reverify_retrims"] = "false"
        try:
            with studio.store.write() as conn:
                save_settings(conn, load_settings(conn).updated(values))
        except SettingsError as e:
            abort(400, str(e))
        return ok("Settings saved.", url_for("admin") + "#settings")

    @app.post("/admin/reverify")
    @need("admin")
    def reverify_imported() -> Any:
        domain = request.form.get("domain", "")
        with studio.store.write() as conn:
            n = conn.execute(
                "UPDATE candidates SET status = 'verifying', decision = NULL, decided_at = NULL WHERE origin = 'clips.csv' "
                "AND status = 'accepted' AND action_id IN (SELECT id FROM actions WHERE domain = ?) "
                "AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.candidate_id = candidates.id)",
                (domain,),
            ).rowcount
        return ok(f"{n} imported clip(s) of {domain} sent to verification.", url_for("admin"), clips=n)

    @app.post("/admin/export")
    @need("admin")
    def do_export() -> Any:
        try:
            result = export(studio.store, root, g.person, studio.settings())
        except ExportError as e:
            abort(409, str(e))
        if wants_json():
            return jsonify(
                clips=result.clips,
                reserve=result.reserve,
                votes=result.votes,
                valid=result.valid,
                report=result.report,
            )
        flash(
            f"Exported {result.clips} clips ({result.reserve} in reserve) and {result.votes} votes: "
            + ("videonet validate says OK." if result.valid else "videonet validate found problems (below)."),
            "ok" if result.valid else "error",
        )
        return redirect(url_for("admin") + "#export")

    @app.post("/admin/audit")
    @need("admin")
    def new_audit() -> Any:
        try:
            with studio.store.write() as conn:
                _, n = audit_mod.draw_sample(conn, g.person, load_settings(conn))
        except ValueError as e:
            abort(409, str(e))
        return ok(f"New audit sample of {n} clips: experts find it under Audit.", url_for("admin") + "#audit")

    @app.post("/admin/baseline")
    @need("admin")
    def new_baseline() -> Any:
        if studio.benchmark is None:
            abort(
                409, "start the studio with --benchmark DIR (a benchmark built by videonet build-benchmark)"
            )
        try:
            with studio.store.write() as conn:
                session = baseline_mod.create_session(
                    conn,
                    studio.benchmark,
                    request.form.get("name", ""),
                    request.form.get("config", ""),
                    request.form.get("definition") in ("1", "on", "true"),
                    form_int("questions", 100),
                    form_int("answers_per_question", 3),
                    load_settings(conn).seed,
                )
                baseline_mod.write_results(conn, root, session["id"])
        except (ValueError, FileNotFoundError) as e:
            abort(400, str(e))
        return ok(
            f"Human-baseline session {session['name']} opened ({session['task']}).",
            url_for("admin") + "#baseline",
            session_id=session["id"],
        )

    @app.post("/admin/baseline/<int:session_id>/close")
    @need("admin")
    def close_baseline(session_id: int) -> Any:
        with studio.store.write() as conn:
            conn.execute("UPDATE baseline_sessions SET active = 0 WHERE id = ?", (session_id,))
        return ok("Session closed.", url_for("admin") + "#baseline")

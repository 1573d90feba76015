"""The studio's web app (Flask): pages for every stage, the admin page, media, and the rules
every request goes through.

**Who.**  A request is made by the person whose token it carries: the ``videonet_studio``
cookie set by their link (``/t/<token>``, or a Prolific study link), or an ``Authorization:
Bearer <token>`` header (scripts, tests).  Nothing is shown or written without a token; each
page checks the role it needs.

**Writes.**  Every state-changing request is a POST in one store transaction, answered only
after the commit.  Cookie-authenticated POSTs must carry the session's CSRF token (a hidden
form field or an ``X-CSRF-Token`` header), and are refused when the browser says they come
from another site (``Sec-Fetch-Site``) or from another origin (``Origin``); the cookie is
``HttpOnly`` and ``SameSite=Lax``.  A bearer token cannot be sent by another site's page, so
it needs no CSRF token.

**Output.**  Every page is a Jinja template with autoescaping on; data for the scripts goes
in ``data-`` attributes or JSON script blocks (``|tojson``), never into inline code, and the
Content-Security-Policy allows scripts only from the studio's own ``/static``.  Media is
served by database id from inside the annotation directory only (see :mod:`.media`).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException

from videonet_datasets.studio import actions as actions_mod
from videonet_datasets.studio import audit as audit_mod
from videonet_datasets.studio import baseline as baseline_mod
from videonet_datasets.studio import collect as collect_mod
from videonet_datasets.studio import leases, media, progress, retrim, verify
from videonet_datasets.studio.aggregate import LABELS, RUBRIC
from videonet_datasets.studio.db import Store, get_meta, load_settings, rows, save_settings, set_meta
from videonet_datasets.studio.export import ExportError, export
from videonet_datasets.studio.jobs import JobWorker
from videonet_datasets.studio.people import (
    ROLES,
    STAGES,
    Person,
    create_person,
    create_study,
    csrf_secret,
    csrf_token,
    person_by_token,
    prolific_person,
    study_by_token,
)
from videonet_datasets.studio.settings import SettingsError, StudioSettings
from videonet_datasets.video import VideoDecodeError

__all__ = ["COOKIE", "StudioApp", "create_app"]

log = logging.getLogger(__name__)
COOKIE = "videonet_studio"
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STAGE_PAGES = {"collect": "collect", "verify": "verify_page", "retrim": "retrim_page", "baseline": "baseline"}
_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm"}


@dataclass
class StudioApp:
    """What the app serves: the annotation directory, its store, an optional built benchmark
    for the human baseline, and the background worker."""

    root: Path
    store: Store
    benchmark: Path | None = None
    worker: JobWorker | None = None
    public_url: str | None = None
    _frames: dict[tuple[int, str], tuple[float, list[float]]] = field(default_factory=dict)
    _frames_lock: threading.Lock = field(default_factory=threading.Lock)

    def link(self, path: str) -> str:
        base = (self.public_url or "").rstrip("/")
        return f"{base}{path}"


# ----------------------------------------------------------------------------- helpers


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _float(name: str) -> float:
    raw = request.form.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        abort(400, f"{name} must be a number of seconds, got {raw[:40]!r}")
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        abort(400, f"{name} must be a finite number >= 0")
    return value


def _int_form(name: str, default: int | None = None) -> int:
    raw = request.form.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(str(raw))
    except ValueError:
        abort(400, f"{name} must be a whole number")
    raise AssertionError  # unreachable


def _ok(message: str, target: str, **data: Any) -> Any:
    """A finished write: JSON for API clients, else a flash message and a redirect."""
    if _wants_json():
        return jsonify(ok=True, message=message, **data)
    flash(message, "ok")
    return redirect(target)


def need(role: str) -> Callable:
    """The page needs a person with this role (admins may do everything)."""

    def deco(f: Callable) -> Callable:
        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.person is None:
                abort(401)
            if not g.person.can(role):
                abort(403, f"this page is for the {role} role")
            return f(*args, **kwargs)

        return inner

    return deco


def _origin_ok() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is not None:
        own = urlparse(request.host_url)
        theirs = urlparse(origin)
        if (theirs.scheme, theirs.netloc) != (own.scheme, own.netloc):
            return False
    return True


def create_app(studio: StudioApp) -> Flask:
    """The Flask app over one annotation directory."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    with studio.store.write() as conn:
        secret = csrf_secret(conn)
        flask_secret = get_meta(conn, "flask_secret")
        if flask_secret is None:
            flask_secret = secrets.token_hex(32)
            set_meta(conn, "flask_secret", flask_secret)
    app.secret_key = flask_secret
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1 << 20,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.jinja_env.autoescape = True
    app.jinja_env.filters["utc"] = lambda t: (
        datetime.fromtimestamp(float(t), tz=UTC).strftime("%Y-%m-%d %H:%M:%S") if t else ""
    )
    app.jinja_env.filters["pct"] = lambda x: "–" if x is None else f"{100 * float(x):.1f}%"
    root = studio.root

    def settings() -> StudioSettings:
        with studio.store.read() as conn:
            return load_settings(conn)

    # ------------------------------------------------------------------ every request

    @app.before_request
    def identify() -> Any:
        g.person = None
        g.via = None
        token = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token, g.via = auth[7:].strip(), "bearer"
        elif COOKIE in request.cookies:
            token, g.via = request.cookies.get(COOKIE), "cookie"
        if token:
            with studio.store.read() as conn:
                g.person = person_by_token(conn, token)
        g.csrf = csrf_token(secret, g.person) if g.person else ""
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if g.person is None:
                abort(401)
            if g.via == "cookie":
                if not _origin_ok():
                    abort(403, "cross-site request refused")
                sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
                if not hmac.compare_digest(sent, g.csrf):
                    abort(403, "missing or wrong form token (reload the page)")
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Chrome send Origin: null
        resp.headers["X-Frame-Options"] = "DENY"
        if resp.mimetype in ("text/html", "application/json"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        message = e.description if isinstance(e.description, str) else e.name
        if e.code == 401:
            message = "You need your personal link to use the studio (ask the person who runs it)."
        if _wants_json() or request.path.startswith("/media/"):
            return jsonify(error=message, status=e.code), e.code
        return render_template("error.html", code=e.code, name=e.name, message=message), e.code

    @app.context_processor
    def common() -> dict[str, Any]:
        return {"me": g.get("person"), "csrf": g.get("csrf", ""), "rubric": RUBRIC, "labels": LABELS}

    def write() -> Any:
        return studio.store.write()

    # ------------------------------------------------------------------ entry

    def _login(token: str, target: str) -> Response:
        resp = redirect(target)
        resp.set_cookie(
            COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure, max_age=90 * 24 * 3600
        )
        return resp

    @app.get("/t/<token>")
    def login(token: str) -> Any:
        with studio.store.read() as conn:
            person = person_by_token(conn, token)
        if person is None:
            abort(401)
        return _login(token, url_for("home"))

    @app.get("/p/<token>")
    def prolific(token: str) -> Any:
        with studio.store.write() as conn:
            study = study_by_token(conn, token)
            if study is None:
                abort(404, "no such study")
            pid = request.args.get("PROLIFIC_PID", "")
            try:
                person = prolific_person(conn, study, pid)
            except ValueError as e:
                abort(400, str(e))
        return _login(person.token, url_for(STAGE_PAGES[study.stage]))

    @app.get("/")
    def home() -> Any:
        me: Person | None = g.person
        if me is None:
            abort(401)
        if me.study_id:
            with studio.store.read() as conn:
                stage = conn.execute("SELECT stage FROM studies WHERE id = ?", (me.study_id,)).fetchone()
            if stage:
                return redirect(url_for(STAGE_PAGES[stage["stage"]]))
        s = settings()
        with studio.store.read() as conn:
            counts = progress.stage_progress(conn, s)
            sessions = [x for x in baseline_mod.session_progress(conn) if x["active"]]
            audit = audit_mod.audit_results(conn)
        return render_template("home.html", counts=counts, settings=s, sessions=sessions, audit=audit)

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
        with write() as conn:
            action_id = collect_mod.next_collect_action(conn, g.person, load_settings(conn))
        if action_id is None:
            return _done("collect", "No action needs clips right now.")
        return redirect(url_for("collect_action", action_id=action_id))

    @app.get("/collect/<int:action_id>")
    @need("annotator")
    def collect_action(action_id: int) -> Any:
        s = settings()
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
            with write() as conn:
                if url:
                    video = collect_mod.register_url(conn, url, g.person)
                elif local:
                    video = collect_mod.register_local_video(conn, root, local, g.person)
                else:
                    raise collect_mod.CollectError("choose a local video or give a URL")
        except collect_mod.CollectError as e:
            if _wants_json():
                abort(400, str(e))
            flash(str(e), "error")
            return redirect(url_for("collect_action", action_id=action_id))
        if studio.worker and video["status"] in ("downloading", "preparing"):
            studio.worker.wake()
        if _wants_json():
            return jsonify(video_id=video["id"], status=video["status"])
        return redirect(url_for("collect_action", action_id=action_id, video=video["id"]))

    @app.post("/collect/<int:action_id>/candidates")
    @need("annotator")
    def add_candidate(action_id: int) -> Any:
        start, end = _float("start"), _float("end")
        video_id = _int_form("video_id")
        try:
            with write() as conn:
                cand = collect_mod.add_candidate(
                    conn, root, g.person, load_settings(conn), action_id, video_id, start, end
                )
        except collect_mod.CollectError as e:
            if _wants_json():
                abort(409, str(e))
            flash(str(e), "error")
            return redirect(url_for("collect_action", action_id=action_id, video=video_id))
        if _wants_json():
            return jsonify(candidate=cand)
        flash(
            f"Saved {cand['clip_id']}: {media.fmt_seconds(cand['start'])}-{media.fmt_seconds(cand['end'])} s.",
            "ok",
        )
        return redirect(url_for("collect_action", action_id=action_id))

    @app.post("/collect/<int:action_id>/skip")
    @need("annotator")
    def collect_skip(action_id: int) -> Any:
        with write() as conn:
            leases.release(conn, "collect", action_id, g.person.id)
            leases.take(conn, "collect-skip", action_id, g.person.id, 60.0)
        return _ok("Skipped for an hour.", url_for("collect"))

    @app.post("/candidates/<int:candidate_id>/withdraw")
    @need("annotator")
    def withdraw(candidate_id: int) -> Any:
        try:
            with write() as conn:
                collect_mod.withdraw_candidate(conn, g.person, candidate_id)
                action_id = conn.execute(
                    "SELECT action_id FROM candidates WHERE id = ?", (candidate_id,)
                ).fetchone()[0]
        except collect_mod.CollectError as e:
            abort(409, str(e))
        return _ok("Candidate withdrawn.", url_for("collect_action", action_id=action_id))

    # ------------------------------------------------------------------ verify

    @app.get("/verify")
    @need("annotator")
    def verify_page() -> Any:
        if _quota_reached("verify"):
            return _done("verify", "You rated all the clips this study asks for. Thank you!")
        with write() as conn:
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
        with write() as conn:
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
        if _wants_json():
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
        with write() as conn:
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
        start, end = _float("start"), _float("end")
        try:
            with write() as conn:
                cand = retrim.apply_retrim(
                    conn, root, g.person, load_settings(conn), candidate_id, start, end
                )
        except collect_mod.CollectError as e:
            if _wants_json():
                abort(409, str(e))
            flash(str(e), "error")
            return redirect(url_for("retrim_page"))
        if _wants_json():
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
        with write() as conn:
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
            with write() as conn:
                session_id = baseline_mod.record_answer(conn, g.person, item_id, answer, seconds)
                baseline_mod.write_results(conn, root, session_id)
        except ValueError as e:
            if _wants_json():
                abort(409, str(e))
            flash(str(e), "error")
        if _wants_json():
            return jsonify(ok=True)
        return redirect(url_for("baseline"))

    # ------------------------------------------------------------------ audit

    @app.get("/audit")
    @need("expert")
    def audit() -> Any:
        with write() as conn:
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
            with write() as conn:
                audit_mod.label_item(conn, g.person, item_id, request.form.get("label", ""))
        except ValueError as e:
            abort(409, str(e))
        return _ok("Label saved.", url_for("audit"))

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
            with write() as conn:
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
        return _ok(
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
            with write() as conn:
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
        return _ok(message, url_for("actions_page") + "#suggestions")

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
            with write() as conn:
                p = create_person(conn, request.form.get("name", ""), request.form.get("role", ""))
        except ValueError as e:
            abort(400, str(e))
        if _wants_json():
            return jsonify(id=p.id, token=p.token, link=studio.link(f"/t/{p.token}"))
        flash(f"Added {p.name} ({p.role}).", "ok")
        return redirect(url_for("admin") + "#people")

    @app.post("/admin/studies")
    @need("admin")
    def add_study() -> Any:
        try:
            with write() as conn:
                study = create_study(
                    conn,
                    request.form.get("name", ""),
                    request.form.get("stage", ""),
                    _int_form("quota", 10),
                    request.form.get("completion_code", ""),
                )
        except ValueError as e:
            abort(400, str(e))
        return _ok(
            "Study link created.", url_for("admin") + "#studies", link=studio.link(f"/p/{study.token}")
        )

    @app.post("/admin/settings")
    @need("admin")
    def change_settings() -> Any:
        values = {k: v for k, v in request.form.items() if k != "csrf"}
        if "reverify_retrims" not in values:
            values["reverify_retrims"] = "false"
        try:
            with write() as conn:
                save_settings(conn, load_settings(conn).updated(values))
        except SettingsError as e:
            abort(400, str(e))
        return _ok("Settings saved.", url_for("admin") + "#settings")

    @app.post("/admin/reverify")
    @need("admin")
    def reverify_imported() -> Any:
        domain = request.form.get("domain", "")
        with write() as conn:
            n = conn.execute(
                "UPDATE candidates SET status = 'verifying', decision = NULL, decided_at = NULL WHERE origin = 'clips.csv' "
                "AND status = 'accepted' AND action_id IN (SELECT id FROM actions WHERE domain = ?) "
                "AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.candidate_id = candidates.id)",
                (domain,),
            ).rowcount
        return _ok(f"{n} imported clip(s) of {domain} sent to verification.", url_for("admin"), clips=n)

    @app.post("/admin/export")
    @need("admin")
    def do_export() -> Any:
        try:
            result = export(studio.store, root, g.person, settings())
        except ExportError as e:
            abort(409, str(e))
        if _wants_json():
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
            with write() as conn:
                _, n = audit_mod.draw_sample(conn, g.person, load_settings(conn))
        except ValueError as e:
            abort(409, str(e))
        return _ok(
            f"New audit sample of {n} clips: experts find it under Audit.", url_for("admin") + "#audit"
        )

    @app.post("/admin/baseline")
    @need("admin")
    def new_baseline() -> Any:
        if studio.benchmark is None:
            abort(
                409, "start the studio with --benchmark DIR (a benchmark built by videonet build-benchmark)"
            )
        try:
            with write() as conn:
                session = baseline_mod.create_session(
                    conn,
                    studio.benchmark,
                    request.form.get("name", ""),
                    request.form.get("config", ""),
                    request.form.get("definition") in ("1", "on", "true"),
                    _int_form("questions", 100),
                    _int_form("answers_per_question", 3),
                    load_settings(conn).seed,
                )
                baseline_mod.write_results(conn, root, session["id"])
        except (ValueError, FileNotFoundError) as e:
            abort(400, str(e))
        return _ok(
            f"Human-baseline session {session['name']} opened ({session['task']}).",
            url_for("admin") + "#baseline",
            session_id=session["id"],
        )

    @app.post("/admin/baseline/<int:session_id>/close")
    @need("admin")
    def close_baseline(session_id: int) -> Any:
        with write() as conn:
            conn.execute("UPDATE baseline_sessions SET active = 0 WHERE id = ?", (session_id,))
        return _ok("Session closed.", url_for("admin") + "#baseline")

    # ------------------------------------------------------------------ media

    def _served(video: dict[str, Any] | None) -> Path:
        if video is None:
            abort(404, "no such video")
        if not video["servable"]:
            abort(403, "this video lies outside the annotation directory and is not served")
        if video["status"] != "ready":
            abort(409, f"the video is {video['status']}")
        path = collect_mod.video_file(root, video, playable=True)
        if not media.is_servable(root, path):
            abort(404, "video file missing")
        return path

    @app.get("/media/video/<int:video_id>")
    @need("annotator")
    def media_video(video_id: int) -> Any:
        with studio.store.read() as conn:
            path = _served(collect_mod.get_video(conn, video_id))
        return send_file(
            path, mimetype=_MIME.get(path.suffix.lower(), "video/mp4"), conditional=True, max_age=0
        )

    @app.get("/media/status/<int:video_id>")
    @need("annotator")
    def media_status(video_id: int) -> Any:
        with studio.store.read() as conn:
            video = collect_mod.get_video(conn, video_id)
        if video is None:
            abort(404, "no such video")
        return jsonify(status=video["status"], error=video["error"])

    @app.get("/media/frames/<int:video_id>")
    @need("annotator")
    def media_frames(video_id: int) -> Any:
        with studio.store.read() as conn:
            video = collect_mod.get_video(conn, video_id)
            path = _served(video)
        key = (video_id, str(path))
        mtime = path.stat().st_mtime
        with studio._frames_lock:
            cached = studio._frames.get(key)
        if cached is None or cached[0] != mtime:
            try:
                times = media.frame_times(path)
            except VideoDecodeError as e:
                abort(409, str(e))
            with studio._frames_lock:
                if len(studio._frames) >= 64:  # a small cache: the most recent sources
                    studio._frames.pop(next(iter(studio._frames)))
                studio._frames[key] = (mtime, times)
        else:
            times = cached[1]
        offset = float(video["start_time"] or 0.0) if video["playable"] else 0.0
        end = float(video["start_time"] or 0.0) + float(video["duration"])
        return jsonify(offset=offset, end=end, fps=video["fps"], times=[round(t, 6) for t in times])

    @app.get("/media/thumb/<int:candidate_id>")
    @need("annotator")
    def media_thumb(candidate_id: int) -> Any:
        with studio.store.read() as conn:
            cand = conn.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            if cand is None:
                abort(404, "no such clip")
            video = collect_mod.get_video(conn, cand["video_id"])
            if video is None or not video["servable"] or video["status"] != "ready":
                abort(404, "no thumbnail")
        cache = root / ".studio" / "thumbs" / f"{candidate_id}-{cand['start']:.6f}-{cand['end'] or 0:.6f}.jpg"
        if not cache.exists():
            try:
                data = media.thumbnail_jpeg(collect_mod.video_file(root, video), cand["start"], cand["end"])
            except (VideoDecodeError, FileNotFoundError, ValueError) as e:
                abort(404, f"no thumbnail: {e}")
            from videonet_datasets.fsutil import atomic_write_bytes

            atomic_write_bytes(cache, data)
        return send_file(cache, mimetype="image/jpeg", max_age=3600)

    @app.get("/media/baseline/<int:item_id>/<int:slot>")
    @need("annotator")
    def media_baseline(item_id: int, slot: int) -> Any:
        with studio.store.read() as conn:
            row = conn.execute(
                "SELECT i.doc, s.benchmark, s.definition FROM baseline_items i JOIN baseline_sessions s ON s.id = i.session_id "
                "WHERE i.id = ?",
                (item_id,),
            ).fetchone()
        if row is None:
            abort(404, "no such question")
        doc = json.loads(row["doc"])
        videos = [
            v for kind, v in baseline_mod.display_parts(doc, bool(row["definition"])) if kind == "video"
        ]
        if not 0 <= slot < len(videos):
            abort(404, "no such video slot")
        bench = Path(row["benchmark"])
        try:
            path, _ = media.person_path(bench, videos[slot])
        except (media.UnsafePath, FileNotFoundError):
            abort(404, "video missing")
        return send_file(path, mimetype="video/mp4", conditional=True, max_age=0)

    return app

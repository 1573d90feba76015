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

import hmac
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from videonet_datasets.studio import audit as audit_mod
from videonet_datasets.studio import baseline as baseline_mod
from videonet_datasets.studio import pages_admin, pages_media, pages_work, progress
from videonet_datasets.studio.aggregate import LABELS, RUBRIC
from videonet_datasets.studio.db import get_meta, set_meta
from videonet_datasets.studio.people import (
    Person,
    csrf_secret,
    csrf_token,
    person_by_token,
    prolific_person,
    study_by_token,
)
from videonet_datasets.studio.webcore import StudioApp, wants_json

__all__ = ["COOKIE", "CSP", "StudioApp", "create_app"]

COOKIE = "videonet_studio"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STAGE_PAGES = {"collect": "collect", "verify": "verify_page", "retrim": "retrim_page", "baseline": "baseline"}


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
        if wants_json() or request.path.startswith("/media/"):
            return jsonify(error=message, status=e.code), e.code
        return render_template("error.html", code=e.code, name=e.name, message=message), e.code

    @app.context_processor
    def common() -> dict[str, Any]:
        return {"me": g.get("person"), "csrf": g.get("csrf", ""), "rubric": RUBRIC, "labels": LABELS}

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
        s = studio.settings()
        with studio.store.read() as conn:
            counts = progress.stage_progress(conn, s)
            sessions = [x for x in baseline_mod.session_progress(conn) if x["active"]]
            audit = audit_mod.audit_results(conn)
        return render_template("home.html", counts=counts, settings=s, sessions=sessions, audit=audit)

    pages_work.register(app, studio)
    pages_admin.register(app, studio)
    pages_media.register(app, studio)
    return app

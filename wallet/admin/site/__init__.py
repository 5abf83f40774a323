"""The back-office site under /support/: server-rendered pages for operator staff (docs/admin.md,
"The back-office site").

Each person logs in with a user name and password (wallet.people.staff.check_password: five failures
in a row lock the account for 15 minutes). The session is Flask's signed cookie (WALLET_SECRET_KEY):
HttpOnly, SameSite=Strict, Secure in production, eight hours at most; every request looks the person
up again, so a disabled person's session stops at once. Every form carries a CSRF token
(Flask-WTF's CSRFProtect, checked on every POST of this blueprint). Pages are Jinja templates
(autoescaped) under a strict Content-Security-Policy: one static stylesheet and one static script,
nothing inline, nothing from elsewhere.

Modules: this one (the blueprint, the session, the security headers, errors), `pages` (reads),
`actions` (writes: each asks for a reason and a ticked confirmation, and calls the same service
function as the API and the CLI, with the logged-in person as the actor).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers.response import Response

from wallet.people import staff
from wallet.admin.blueprint import path_problem, unexpected_error
from wallet.jsonutil import loads, text_problem
from wallet.ledger.models import staff as staff_table
from wallet.ledger.outcomes import AdminError, NotFound
from wallet.limits import IDENTIFIER_LENGTH

bp = Blueprint("support", __name__, template_folder="../templates", static_folder="../static/support",
               static_url_path="/static")
csrf = CSRFProtect()

# How long a login lasts without logging in again (a working shift).
SESSION_HOURS = 8
# Pages anyone may open without being logged in.
PUBLIC_ENDPOINTS = ("support.login", "support.static")
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def init_site(app: Flask) -> None:
    """The session cookie and the CSRF protection of the site (only its own forms: the JSON API under
    /admin authenticates with bearer tokens, which a browser never sends by itself)."""
    settings = app.config["WALLET_SETTINGS"]
    # Without a key (settings built in code, as tests do): one for this process only.
    app.secret_key = settings.secret_key or secrets.token_urlsafe(48)
    app.config.update(
        SESSION_COOKIE_NAME="wallet_site",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _protect, for this blueprint only
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    csrf.init_app(app)


def actor() -> staff.Actor:
    """The logged-in person as a service-function actor (channel "site")."""
    return g.actor


@bp.app_template_global()
def can(action: str) -> bool:
    """May the logged-in person do `action` (wallet.people.staff.allowed)? Pages show only those forms."""
    who = g.get("actor")
    return who is not None and staff.allowed(who.role, action)


@bp.before_request
def _protect() -> Response | None:
    """CSRF on every POST; path segments that cannot name anything (404); then the person behind the
    session (none -> the login page)."""
    if request.method == "POST":
        csrf.protect()
    for name, value in (request.view_args or {}).items():
        problem = path_problem(name, value)
        if name == "user_name":  # a staff account's name
            problem = text_problem(value) or (f"has more than {IDENTIFIER_LENGTH} characters"
                                              if len(value) > IDENTIFIER_LENGTH else None)
            problem = problem and f"staff not found: a userName {problem}"
        if problem:
            raise NotFound(problem)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    g.actor = person()
    if g.actor is None:
        session.pop("user", None)
        session.pop("since", None)
        if request.method == "GET":
            return redirect(url_for("support.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("support.login"))
    return None


def person() -> staff.Actor | None:
    """The session's person, looked up now (role included): None when not logged in, unknown, disabled,
    or when the account changed after this login (logout, a new password, a new role: the staff row's
    `updated_at`; every session of the person then ends, not only the cookie in this browser)."""
    name, since = session.get("user"), session.get("since")
    if not isinstance(name, str) or not name or not isinstance(since, str):
        return None
    try:
        logged_in_at = datetime.fromisoformat(since)
    except ValueError:
        return None
    with current_app.extensions["wallet.engine"].connect() as conn:
        row = conn.execute(select(staff_table.c.user_name, staff_table.c.role)
                           .where(staff_table.c.user_name == name, staff_table.c.active.is_(True),
                                  staff_table.c.updated_at <= logged_in_at)).first()
    return staff.Actor(row.user_name, row.role, "site", request.remote_addr) if row is not None else None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (never another host)."""
    prefix = url_for("support.search")
    if target and not target.startswith("//") and not urlsplit(target).netloc and target.startswith(prefix):
        return target
    return prefix


@bp.after_request
def _harden(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # same-origin, not no-referrer: over HTTPS Flask-WTF checks that a form came from this host.
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint == "support.static":
        response.headers["Cache-Control"] = "private, max-age=300"
    return response


def page_error(status: int, message: str, title: str = "Not possible") -> tuple[str, int]:
    return render_template("support/message.html", title=title, message=message), status


@bp.errorhandler(AdminError)
def _admin_error(exc: AdminError) -> tuple[str, int]:
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 422: "Check the form"}
    return page_error(exc.status, str(exc), titles.get(exc.status, "Not possible"))


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> tuple[str, int]:
    messages = exc.normalized_messages()
    listed = [f"{field}: {' '.join(map(str, m)) if isinstance(m, list) else m}" for field, m in messages.items()]
    return page_error(422, "; ".join(listed) + ": nothing was changed", "Check the form")


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return page_error(400, "This form has expired or did not come from this site (CSRF check: "
                      f"{exc.description}). Nothing was changed: go back, reload the page and try again.",
                      "Form refused")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    return page_error(exc.code or 500, exc.description or exc.name, exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    """Classified (and logged) as the admin API does (a 4xx for input refused by the database, 503 when
    it is unreachable, else 500), shown as a page."""
    answer = unexpected_error(exc)
    return page_error(answer.status_code, loads(answer.get_data())["description"], "Not possible")


from wallet.admin.site import actions, login, pages  # noqa: E402,F401  (their routes join bp)

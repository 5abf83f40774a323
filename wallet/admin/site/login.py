"""Logging in and out of the site: a form (user name, password), the session cookie, the lockout."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import update
from werkzeug.wrappers.response import Response

from wallet import clock
from wallet.people import staff
from wallet.admin.site import bp, person, safe_next
from wallet.ledger.models import staff as staff_table
from wallet.limits import IDENTIFIER_LENGTH

# Longer passwords are not checked (argon2 would hash them all the same; a megabyte would cost time).
PASSWORD_LENGTH = 1024


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """The login form; a POST checks the password (five failures in a row lock the account 15 min)."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if person() is not None:  # already logged in
            return redirect(target)
        return render_template("support/login.html", next=target, user_name="", problem=None)
    user_name = (request.form.get("userName") or "").strip()
    password = request.form.get("password") or ""
    problem = None
    if not user_name or not password:
        problem = "Give your user name and your password."
    elif len(user_name) > IDENTIFIER_LENGTH or len(password) > PASSWORD_LENGTH:
        problem = "Wrong user name or password."
    if problem is None:
        with current_app.extensions["wallet.engine"].begin() as conn:
            outcome = staff.check_password(conn, user_name, password, request.remote_addr or "", clock.utcnow())
        if isinstance(outcome, staff.Actor):
            now = clock.utcnow()  # the clock of the staff row's `updated_at`
            session.clear()  # a fresh session (and CSRF token) for the person: no fixation
            session.permanent = True
            session["user"], session["since"] = outcome.name, now.isoformat()
            return redirect(target)
        problem = refusal_text(outcome)
    page = render_template("support/login.html", next=target, user_name=user_name, problem=problem)
    return page, 401


def refusal_text(refused: staff.LoginRefused) -> str:
    """What the login form says: a lock with its end, else the same words for a wrong name or password."""
    if refused.locked_until is not None:
        return (f"Too many failed logins: this account is locked until {refused.locked_until:%Y-%m-%d %H:%M} UTC. "
                "Try again then, or ask an admin.")
    return "Wrong user name or password."


@bp.post("/logout")
def logout() -> Response:
    """Ends every session of the person, not only this browser's cookie (see site.person)."""
    who = g.get("actor")
    if who is not None:
        with current_app.extensions["wallet.engine"].begin() as conn:
            conn.execute(update(staff_table).where(staff_table.c.user_name == who.name)
                         .values(updated_at=clock.utcnow()))
    session.clear()
    flash("You are logged out.", "ok")
    return redirect(url_for("support.login"))

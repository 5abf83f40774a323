"""A read-only support page for operator staff: search by reference, player, round or transaction id.

Server-rendered (Jinja, autoescaped) from the same query functions as the API.
Authentication is HTTP Basic with the admin token as the password (any user
name), so the browser's own prompt is the login form and no session state or
cookie secret is needed; use it over TLS like the API.
"""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from wallet.admin import queries
from wallet.controls import service as controls
from wallet.provider import sweeper
from wallet.admin.blueprint import path_problem, read, secret_matches
from wallet.admin.schemas import CURSOR_LENGTH, is_db_id
from wallet.jsonutil import text_problem
from wallet.ledger.outcomes import AdminError, Invalid, NotFound
from wallet.limits import IDENTIFIER_LENGTH

bp = Blueprint("support", __name__, template_folder="templates")

SEARCH_KINDS = ("reference", "player", "round", "transaction")


def basic_password(header: str | None) -> str | None:
    """The password of an `Authorization: Basic ...` header, or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


@bp.before_request
def _authenticate() -> Response | None:
    settings = current_app.config["WALLET_SETTINGS"]
    if secret_matches(settings.admin_token, basic_password(request.headers.get("Authorization"))):
        return None
    return Response("Admin credentials required (any user name, the admin token as password).\n", status=401,
                    mimetype="text/plain",
                    headers={"WWW-Authenticate": 'Basic realm="wallet-support", charset="UTF-8"'})


@bp.before_request
def _check_path() -> None:
    """After the credentials: a path segment that cannot name anything is a 404 before any query."""
    for name, value in (request.view_args or {}).items():
        problem = path_problem(name, value)
        if problem:
            raise NotFound(problem)


def _arg(name: str, limit: int) -> str | None:
    """A query parameter the database can hold (no NUL, no lone surrogate, at most `limit` characters),
    or None when absent or empty; 422 otherwise."""
    value = request.args.get(name) or None
    if value is not None:
        problem = text_problem(value) or (f"has more than {limit} characters" if len(value) > limit else None)
        if problem:
            raise Invalid(f"{name} {problem}")
    return value


@bp.after_request
def _harden(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.errorhandler(AdminError)
def _not_found(exc: AdminError) -> tuple[str, int]:
    return render_template("support/message.html", message=str(exc)), exc.status


@bp.get("/")
def search() -> BaseResponse | str:
    """The search form; a query redirects to the view it names."""
    kind, q = request.args.get("by", "reference"), request.args.get("q", "").strip()
    if not q or kind not in SEARCH_KINDS:
        return render_template("support/search.html", kinds=SEARCH_KINDS, by=kind, q=q)
    if kind == "transaction":
        if not is_db_id(q):
            return render_template("support/message.html", message=f"{q!r} is not a transaction id"), 404  # type: ignore[return-value]
        return redirect(url_for(".transaction", tx_id=int(q)))
    view = {"reference": ".reference", "player": ".player", "round": ".round_"}[kind]
    arg = {"reference": "reference", "player": "user_id", "round": "round_id"}[kind]
    return redirect(url_for(view, **{arg: q}))


@bp.get("/players/<user_id>")
def player(user_id: str) -> str:
    """The player (with its limits and self-exclusion: player_history includes them) and its history."""
    history = read(queries.player_history, user_id, 50, _arg("cursor", CURSOR_LENGTH))
    return render_template("support/player.html", player=history, limit_names=controls.LIMITS)


@bp.get("/games")
def games() -> str:
    """The game catalogue, enabled or not (read-only: staff change it with the API or the CLI)."""
    return render_template("support/games.html", games=read(controls.list_games))


@bp.get("/stale-rounds")
def stale_rounds() -> str:
    """Rounds left open: an unrefunded bet, no Result, no EndRound, nothing for `olderThanHours`
    (default 24). Read-only: staff sweep them with the API or `sweep-rounds`."""
    hours = _arg("olderThanHours", 12) or "24"
    try:
        older_than = float(hours)
    except ValueError:
        raise Invalid("olderThanHours must be a number of hours") from None
    if not 0 <= older_than <= 24 * 366:
        raise Invalid("olderThanHours must be between 0 and 8784")
    cursor = _arg("cursor", CURSOR_LENGTH)
    items, next_cursor = read(lambda conn: sweeper.stale_rounds(conn, older_than, limit=100, cursor=cursor))
    return render_template("support/stale_rounds.html", rounds=items, hours=hours, next_cursor=next_cursor)


@bp.get("/rounds/<round_id>")
def round_(round_id: str) -> str:
    found = read(queries.get_round, round_id, _arg("userId", IDENTIFIER_LENGTH))
    return render_template("support/round.html", round=found)


@bp.get("/references/<path:reference>")
def reference(reference: str) -> str:
    found = read(queries.get_by_reference, reference)
    return render_template("support/entries.html", title=f"Reference {reference}", items=found["items"])


@bp.get("/transactions/<int:tx_id>")
def transaction(tx_id: int) -> str:
    item = read(queries.get_transaction, tx_id)
    return render_template("support/entries.html", title=f"Transaction {tx_id}", items=[item])

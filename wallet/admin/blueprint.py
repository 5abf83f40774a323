"""Admin JSON API under /admin, behind `Authorization: Bearer <token>`: a staff token, or
$WALLET_ADMIN_TOKEN (the built-in admin `bootstrap`); the role decides the writes (`requires`).

Handlers only parse (marshmallow), call one function of `services` (writes)
or `queries` (reads), and shape the answer; the CLI and the support page call
the same functions.

One error path (`guard`, and `register_errorhandlers` in wallet/__init__.py for
what happens outside a view): every refusal is a 4xx JSON object
`{"error": <kind>, "description": <what is wrong>}` (422 adds `fields`, the
per-field messages):

* 400 `badrequest`: a body that cannot be read as JSON;
* 401 `unauthorized` (missing, unknown or revoked token, or a disabled person's);
  403 `forbidden` (the role may not); 404 `notfound` (also a path segment that cannot name
  anything: NUL, an unpaired surrogate, longer than its column, an id beyond
  a bigint); 405, 413 and other HTTP errors keep their codes;
* 409 `conflict`; 422 `invalid` (any value the schemas refuse, and JSON the
  wallet refuses: too deep, a key twice, NUL or lone surrogates);
* 503 `unavailable` with Retry-After when the database cannot be reached;
* 500 `internal` only for a genuine fault of the service, logged with its
  traceback.

Input is validated at the edge (schemas.py, `_check_path`); the handler for
unexpected exceptions (`unexpected_error`) still maps the database's own
refusals of a value (SQLSTATE class 22: 422; class 23: 409) and the
interpreter's (RecursionError, OverflowError, ...) to a 4xx, and logs each
one at WARNING on `wallet.admin.errors` with its traceback: such a log line
means a check is missing at the edge (the fuzz tests fail on one).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterator, Mapping
from decimal import InvalidOperation
from typing import Any, TypeVar

import psycopg
from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from wallet.admin import export, queries
from wallet.people import staff
from wallet.admin.reads import replica
from wallet.admin.schemas import (
    Adjustment,
    PageQuery,
    PlayerCreate,
    ReportQuery,
    RoundQuery,
    StatusPatch,
    TransactionQuery,
    is_db_id,
)
from wallet.callbacks.auth import client_ip
from wallet.jsonutil import NOTHING, JSONRefused, dumps, loads, text_problem
from wallet.ledger import services
from wallet.ledger.outcomes import AdminError, NotFound
from wallet.limits import BIGINT_MAX, IDENTIFIER_LENGTH
from wallet.provider import calls as provider_calls

bp = Blueprint("admin", __name__)
T = TypeVar("T")
log = logging.getLogger("wallet.admin.errors")
changes = logging.getLogger("wallet.admin")

# A bearer token longer than this names nobody (staff tokens are 47 characters): no hash, no query.
TOKEN_LENGTH = 1024
# Seconds a client is asked to wait when the database cannot be reached.
RETRY_AFTER_SECONDS = 5
# The kind (`error`) of each status; other HTTP errors use Werkzeug's name, squeezed ("requestentitytoolarge").
KINDS = {400: "badrequest", 401: "unauthorized", 403: "forbidden", 404: "notfound", 405: "methodnotallowed",
         409: "conflict", 413: "toolarge", 422: "invalid", 500: "internal", 503: "unavailable"}
# Path segments of the admin routes: what each names, and its limit (the column's length).
PATH_TEXT = {"user_id": ("player", "userId"), "round_id": ("round", "roundId"), "reference": ("reference", "reference"),
             "game_id": ("game", "gameId"), "user_name": ("staff", "userName")}
PATH_IDS = {"tx_id": "transaction", "cancel_id": "cancel", "call_id": "provider call", "sweep_id": "sweep",
            "token_id": "token", "request_id": "adjustment"}


# --------------------------------------------------------------------------- errors


class BadBody(AdminError):
    """A request body that cannot be read as JSON."""

    status = 400


def kind_of(status: int, name: str | None = None) -> str:
    return KINDS.get(status) or "".join(ch for ch in (name or "error").lower() if ch.isalnum())


def error_response(status: int, description: str, *, kind: str | None = None,
                   headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """The one shape of every admin refusal: `{"error", "description"}` (plus `extra`, e.g. `fields`)."""
    body = {"error": kind or kind_of(status), "description": description, **extra}
    return Response(dumps(body), status=status, mimetype="application/json", headers=dict(headers or {}))


def _admin_error(exc: AdminError) -> Response:
    return error_response(exc.status, str(exc))


def _field_messages(messages: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if len(str(key)) <= 40 else str(key)[:37] + "..."
            # a nested schema's own error (`_schema`) is about the field that holds it
            path = name if not prefix else prefix if key == "_schema" else f"{prefix}.{name}"
            yield from _field_messages(value, path)
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            yield from _field_messages(message, prefix)
    else:
        yield f"{prefix}: {messages}" if prefix and prefix != "_schema" else str(messages)


def _validation_error(exc: ValidationError) -> Response:
    messages = exc.normalized_messages()
    listed = list(itertools.islice(_field_messages(messages), 10))
    return error_response(422, "; ".join(listed) or "invalid input", fields=messages)


def http_error(exc: HTTPException) -> Response:
    """Werkzeug's HTTP errors (unknown path, wrong method, body too large, ...) keep their code."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_response(status, exc.description or exc.name, kind=kind_of(status, exc.name), headers=headers)


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None) or "")


def unexpected_error(exc: Exception) -> Response:
    """The last resort for an exception no handler expected: a 4xx when the input caused it, 503 when
    the database cannot be reached, else a logged 500."""
    if isinstance(exc, HTTPException):
        return http_error(exc)
    state = _sqlstate(exc)
    unreachable = isinstance(exc, (OperationalError, InterfaceError, PoolTimeout, psycopg.OperationalError,
                                   psycopg.InterfaceError))
    unreachable = unreachable or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
    if state[:2] in ("08", "40", "53", "57") or (unreachable and state[:2] not in ("22", "23")):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        return error_response(503, "the database is unavailable; retry later", kind="unavailable",
                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    refused = _refused_input(exc, state)
    if refused is not None:
        status, description = refused
        log.warning("input refused only past the edge on %s %s (a check is missing)", request.method, request.path,
                    exc_info=exc)
        return error_response(status, description)
    log.error("internal error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal error; it has been logged", kind="internal")


def _refused_input(exc: Exception, state: str) -> tuple[int, str] | None:
    """(status, description) when `exc` is the database or the interpreter refusing a value."""
    if state.startswith("22") or isinstance(exc, (DataError, psycopg.DataError)):
        return 422, "a value is outside what the database can store"
    if state.startswith("23") or isinstance(exc, (IntegrityError, psycopg.IntegrityError)):
        return 409, "the change conflicts with data already stored"
    if isinstance(exc, RecursionError):
        return 400, "the input is nested too deeply"
    if isinstance(exc, UnicodeError):
        return 422, "text must be valid Unicode (no unpaired surrogates)"
    if isinstance(exc, (OverflowError, InvalidOperation)):
        return 422, "a value is out of range"
    return None


# --------------------------------------------------------------------------- the edge


def _bearer(header: str | None) -> str | None:
    if not header or not header.startswith("Bearer "):
        return None
    return header[7:].strip() or None


def _authenticate() -> Response | None:
    """Who asks (wallet/people/staff.py): a staff token, or WALLET_ADMIN_TOKEN (the built-in admin
    `bootstrap`). Missing, unknown, revoked, or a disabled person's: 401. The Actor goes on flask.g.
    Looked up on the primary, never a replica: a revoked token is refused at once."""
    settings = current_app.config["WALLET_SETTINGS"]
    token = _bearer(request.headers.get("Authorization"))
    found = None
    if token is not None and text_problem(token) is None and len(token) <= TOKEN_LENGTH:
        with engine().connect() as conn:
            found = staff.actor_for_token(conn, token, bootstrap_token=settings.admin_token,
                                          address=source_address())
    if found is None:
        return error_response(401, "missing or invalid admin bearer token (or its person is disabled)",
                              headers={"WWW-Authenticate": 'Bearer realm="wallet-admin"'})
    g.actor = found
    return None


def source_address() -> str | None:
    """The caller's address for the audit trail: X-Forwarded-For believed only from
    WALLET_TRUSTED_PROXIES (the callbacks' rule, wallet/callbacks/auth.py)."""
    ip = client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"),
                   current_app.config["WALLET_SETTINGS"].trusted_proxies)
    return str(ip) if ip is not None else request.remote_addr


def current_actor() -> staff.Actor:
    """The authenticated actor of this admin request."""
    return g.actor


def requires(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A route that writes: 403 `{"error": "forbidden", "description": "role X may not ..."}` unless
    the actor's role allows `action` (checked before the body is read; the service checks again)."""

    def decorate(view: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            staff.require(current_actor(), action)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def path_problem(name: str, value: Any) -> str | None:
    """Why the path segment `name` cannot name anything that exists, or None. The ids the
    routes take are bigint keys; the text ones are stored in columns of IDENTIFIER_LENGTH."""
    if name in PATH_IDS:
        if isinstance(value, int) and not isinstance(value, bool):
            ok = 0 < value <= BIGINT_MAX
        else:
            ok = isinstance(value, str) and is_db_id(value)
        return None if ok else f"{PATH_IDS[name]} not found: ids are positive integers below 2**63"
    if name in PATH_TEXT and isinstance(value, str):
        what, field = PATH_TEXT[name]
        problem = text_problem(value)
        if problem:
            return f"{what} not found: a {field} {problem}"
        if len(value) > IDENTIFIER_LENGTH:
            return f"{what} not found: a {field} has at most {IDENTIFIER_LENGTH} characters"
    return None


def _check_path() -> None:
    """Path segments are input too: one that cannot name anything is a 404 before any query."""
    for name, value in (request.view_args or {}).items():
        problem = path_problem(name, value)
        if problem:
            raise NotFound(problem)


def guard(blueprint: Blueprint) -> Blueprint:
    """Put a blueprint behind the admin bearer token, with the admin API's error path."""
    blueprint.before_request(_authenticate)
    blueprint.before_request(_check_path)
    blueprint.register_error_handler(AdminError, _admin_error)
    blueprint.register_error_handler(ValidationError, _validation_error)
    blueprint.register_error_handler(HTTPException, http_error)
    blueprint.register_error_handler(Exception, unexpected_error)
    return blueprint


guard(bp)


def engine() -> Engine:
    return current_app.extensions["wallet.engine"]


def read(query: Callable[..., T], *args: Any) -> T:
    """Run one read-only query function on a fresh connection (API, CLI and support page alike)."""
    with engine().connect() as conn:
        return query(conn, *args)


def json_body(schema: Schema) -> dict[str, Any]:
    """The request body, parsed exactly (wallet.jsonutil) and loaded through `schema`.

    400 when it is not JSON (or not sent as application/json); 422 when it is JSON the
    wallet refuses (too deep, a key twice, NUL or lone surrogates), is not an object, or
    the schema refuses a field.
    """
    if not request.is_json:
        raise BadBody("the body must be JSON, sent with Content-Type: application/json")
    raw = request.get_data(cache=True)
    try:
        data = loads(raw)
    except JSONRefused as refused:
        if refused.document is NOTHING:
            raise BadBody(f"the body cannot be read: {refused.reason}") from refused
        raise ValidationError({"_schema": [f"body: {refused.reason}"]}) from refused
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, an integer too long to read
        raise BadBody("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["the body must be a JSON object"]})
    return schema.load(data)


@bp.post("/players")
@requires("player.create")
def create_player() -> tuple[Response, int]:
    values = json_body(PlayerCreate())
    with engine().begin() as conn:
        row = services.create_player(conn, values["user_id"], values["currency"], actor=current_actor(),
                                     reason=values["reason"])
    return jsonify(queries.player_dict(row)), 201


@bp.get("/players/<user_id>")
def get_player(user_id: str) -> Response:
    return jsonify(replica(queries.get_player, user_id))


@bp.patch("/players/<user_id>")
@requires("player.controls")
def patch_player(user_id: str) -> Response:
    """Freeze or unfreeze, with a reason (required; kept in the audit trail)."""
    values = json_body(StatusPatch())
    with engine().begin() as conn:
        row = services.set_status(conn, user_id, values["status"], actor=current_actor(), reason=values["reason"])
    if values["status"] == "frozen":  # also at the provider: best effort, recorded (wallet/provider/calls.py)
        provider_calls.close_session_quietly(engine(), current_app.config["WALLET_SETTINGS"], user_id,
                                             actor=current_actor(), reason="player frozen")
    changes.info("player status set", extra={"fields": {
        "userId": user_id, "status": values["status"], "reason": values["reason"]}})
    return jsonify(queries.player_dict(row))


@bp.post("/players/<user_id>/adjustments")
@requires("adjustment.create")
def adjust(user_id: str) -> tuple[Response, int]:
    """Posted at once (201; 200 for a repetition), or pending approval (202; 200 for a repetition)."""
    values = json_body(Adjustment())
    with engine().begin() as conn:
        outcome = services.request_adjustment(conn, user_id, values["amount"], values["reference"], values["reason"],
                                              actor=current_actor(),
                                              thresholds=current_app.config["WALLET_SETTINGS"].thresholds)
        if outcome.request is not None:
            return jsonify(outcome.request), 202 if outcome.created else 200
        row = outcome.transaction
        listed, _ = queries.list_transactions(conn, queries.TransactionFilter(reference=row.reference, type="adjustment"), 1)
    return jsonify(listed[0]), 201 if outcome.created else 200


@bp.get("/players/<user_id>/history")
def player_history(user_id: str) -> Response:
    page = PageQuery().load(request.args)
    return jsonify(replica(queries.player_history, user_id, page["limit"], page["cursor"]))


def wants_csv(fmt: str) -> bool:
    """`format=csv`, or an Accept header that prefers text/csv to JSON."""
    return fmt == "csv" or request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


@bp.get("/transactions")
def list_transactions() -> Response:
    values = TransactionQuery().load(request.args)
    limit, cursor, fmt = values.pop("limit"), values.pop("cursor"), values.pop("format")
    f = queries.TransactionFilter(**values)
    if wants_csv(fmt):
        return csv_response(f)
    items, next_cursor = replica(queries.list_transactions, f, limit, cursor)
    return jsonify(items=items, nextCursor=next_cursor)


def csv_response(f: queries.TransactionFilter) -> Response:
    """Stream every entry matching `f`; the filter is checked before the first byte is sent."""
    return export.download(queries.iter_transactions, f, export.COLUMNS, "transactions")


@bp.get("/transactions/<int:tx_id>")
def get_transaction(tx_id: int) -> Response:
    return jsonify(replica(queries.get_transaction, tx_id))


@bp.get("/transactions/by-reference/<path:reference>")
def get_by_reference(reference: str) -> Response:
    return jsonify(replica(queries.get_by_reference, reference))


@bp.get("/rounds/<round_id>")
def get_round(round_id: str) -> Response:
    values = RoundQuery().load(request.args)
    return jsonify(replica(queries.get_round, round_id, values["user_id"] or None))


@bp.get("/reports/daily")
def daily_report() -> Response:
    values = ReportQuery().load(request.args)
    return jsonify(replica(queries.daily_report, values["since"], values["until"]))


@bp.get("/reconciliation")
def reconciliation() -> Response:
    # On the primary, not the replica: a reconciliation must see every committed entry.
    return jsonify(read(queries.reconciliation))

"""The provider-facing API: POST /V4/<Method>, always HTTP 200 with {error, description, ...}.

Callbacks are the hot path: `CallbackMiddleware` answers them at the WSGI
level, in front of Flask, from the WSGI environ alone (Flask's request and
app contexts, URL map and Response object cost more CPU than the rest of a
callback; docs/performance.md). Everything else (the admin API, /metrics,
unknown methods, other HTTP verbs) goes on to Flask; the blueprint's route
answers an unknown method with 404 and a known one exactly as the middleware
does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import DataError, SQLAlchemyError, StatementError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import get_content_length, get_input_stream

from wallet.callbacks.auth import refusal, signature_ok
from wallet.callbacks.codes import answered
from wallet.callbacks.schemas import METHOD_NAMES, BadRequest, parse
from wallet.jsonutil import NOTHING, JSONRefused, dumps, loads
from wallet.ledger.idempotency import Reply, run_callback
from wallet.ledger.outcomes import Answer, Code
from wallet.ledger.request_log import record_refusal
from wallet.ledger.functions import METHODS as CALLBACKS
from wallet.observability import count_failure, observe_callback, one_line

log = logging.getLogger("wallet.callbacks")

bp = Blueprint("callbacks", __name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_JSON_HEADERS = [("Content-Type", "application/json")]


class VersionConverter(BaseConverter):
    """Matches the API version segment in any case: /V4/..., /v4/..."""

    regex = "[vV]4"


def _error(table: str, code: Code, description: str, reference: Any = None) -> Reply:
    """An answer the service gives itself, numbered from the operator's error table (codes.py)."""
    fields = {}
    if isinstance(reference, (str, int)) and not isinstance(reference, bool):
        fields["reference"] = str(reference)
    return Reply.of(Answer(answered(code, table), description, fields))


_UNPARSABLE = object()


def _reference_of(data: Any) -> Any:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() == "reference":
                return value
    return None


def answer(app: Flask, name: str, environ: dict[str, Any]) -> bytes:
    """The answer to callback `name` (lower case, known), counted and logged; never raises."""
    started = time.perf_counter()
    seen: dict[str, Any] = {}
    reply, fields = _handle(app, name, environ, seen)
    if not seen.get("answered_by_database"):  # refused at the edge: recorded for staff, never replayed
        record_refusal(app.extensions["wallet.engine"], name, seen.get("data"), reply.body)
    observe_callback(METHOD_NAMES[name], reply.error, time.perf_counter() - started, fields, reply.moved)
    return reply.body.encode("utf-8")


def _handle(app: Flask, name: str, environ: dict[str, Any], seen: dict[str, Any]) -> tuple[Reply, dict[str, Any]]:
    """Authenticate, parse, run. Every failure becomes a provider answer; nothing raises.

    `seen` gets the request's JSON ("data") once read, and "answered_by_database" when the
    stored function answered (and recorded) it, or when the database failed (nothing to record it in).
    """
    settings = app.config["WALLET_SETTINGS"]
    length = get_content_length(environ)
    if length is not None and length > settings.max_body_bytes:
        return _error(settings.error_codes, Code.BAD_PARAMETERS, "Request body too large"), {}
    denied = refusal(settings, environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"))
    if denied:
        return _error(settings.error_codes, Code.INVALID_UUID_OR_SIGNATURE, denied), {}
    try:
        # A stream that refuses to read past max_body_bytes (chunked bodies included) and
        # raises on a body shorter than its Content-Length, as Flask's request would.
        raw = get_input_stream(environ, max_content_length=settings.max_body_bytes).read()
    except RequestEntityTooLarge:
        return _error(settings.error_codes, Code.BAD_PARAMETERS, "Request body too large"), {}
    except ClientDisconnected:
        return _error(settings.error_codes, Code.BAD_PARAMETERS, "Request body incomplete"), {}
    refused = None
    try:
        data = loads(raw)
    except JSONRefused as exc:  # JSON, but too deep, with an ambiguous key, or text no column can hold
        data = _UNPARSABLE if exc.document is NOTHING else exc.document
        refused = exc.reason
    except (ValueError, RecursionError):
        data = _UNPARSABLE
    seen["data"] = data
    # A Refund or Cancel answer echoes the request's reference, whatever else is wrong with it.
    reference = _reference_of(data) if name in ("refund", "cancel") else None
    if settings.callback_secret and not signature_ok(
        settings.callback_secret, raw, environ.get("HTTP_X_SIGNATURE")
    ):
        return _error(settings.error_codes, Code.INVALID_UUID_OR_SIGNATURE, "Missing or invalid signature",
                      reference), {}
    if refused is not None:
        return _error(settings.error_codes, Code.BAD_PARAMETERS, f"Bad parameters: {refused}", reference), {}
    if data is _UNPARSABLE:
        return _error(settings.error_codes, Code.BAD_PARAMETERS, "Body is not valid JSON"), {}
    if not isinstance(data, dict):
        return _error(settings.error_codes, Code.BAD_PARAMETERS, "Body must be a JSON object"), {}
    try:
        q = parse(name, data)
    except BadRequest as bad:
        return _error(settings.error_codes, bad.code, bad.description, reference), {}
    except Exception as exc:  # a bug in the parsing: as any other (see _failed)
        return _failed(app, name, "?", exc, reference), {}
    fields = {"uuid": q.uuid, "user_id": q.user_id, "reference": q.reference}
    try:
        reply = run_callback(app.extensions["wallet.engine"], q)
    except Exception as exc:  # never a 500 on the provider API
        seen["answered_by_database"] = _data_error(exc) is None  # a data error is a refusal: recorded
        return _failed(app, name, q.uuid, exc, reference), fields
    seen["answered_by_database"] = True
    return reply, fields


def _failed(app: Flask, name: str, uuid: str, exc: Exception, reference: Any) -> Reply:
    """The answer to a callback whose run raised: final or retry, never confused (docs/protocol.md).

    * A data error from the database (SQLSTATE class 22: a value too long, a number out of
      range, text it cannot encode; or the driver refusing a value before sending it) fails
      the same way on every attempt: a final 7 "Bad parameters: <short reason>", never the SQL.
      The edge checks every such limit first (wallet/limits.py), so one getting here is a gap
      in those checks: logged as an ERROR (kind "data"), not counted as a failure to serve.
    * Anything else answers 100 "retry" (130 for EndRound, the provider's EndRound-only retry
      code) and is counted in wallet_callback_failures_total: the faults a retry cures (the
      database unreachable or restarting, a lost connection, serialization failures and
      deadlocks (class 40), lock and statement timeouts (55P03, 57014), shutdowns (57),
      resources (53)), and the ones a fix cures: a schema not migrated yet (42), an integrity
      error (23: a race lost to a concurrent writer, whose retry meets its row) and a bug in
      this service (an unexpected Python exception, kind "unexpected"). A final answer to
      those would strand the player's money (a Refund answered 7 is never sent again); a
      retried one succeeds once the fault is fixed, and the failures counter pages meanwhile.
    """
    table = app.config["WALLET_SETTINGS"].error_codes
    reason = _data_error(exc)
    if reason is not None:
        _log_failure(app, "data", name, uuid, exc, count=False)
        return _error(table, Code.BAD_PARAMETERS, f"Bad parameters: {reason}", reference)
    database = isinstance(exc, (SQLAlchemyError, psycopg.Error))
    _log_failure(app, "database" if database else "unexpected", name, uuid, exc)
    code = Code.END_ROUND_RETRY if name == "endround" else Code.INTERNAL_RETRY
    return _error(table, code, "Internal error, please retry", reference)


# Short reasons for the data errors a callback can meet (SQLSTATE class 22); others get the code.
_DATA_REASONS = {
    "22001": "a text value is too long for the database",
    "22003": "a number is out of the database's range",
    "22021": "text the database cannot encode",
    "22P05": "text the database cannot store",
    "22P02": "a value the database cannot read",
    "22007": "a date or time the database cannot read",
    "22008": "a date or time out of the database's range",
}


def _data_error(exc: BaseException) -> str | None:
    """A short reason when `exc` is a data error (see _failed), else None."""
    orig = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        return _DATA_REASONS.get(sqlstate, f"a value the database refuses (SQLSTATE {sqlstate})")
    if isinstance(exc, DataError) or isinstance(orig, psycopg.DataError):
        return "a value the database cannot store"  # refused by the driver, before the server
    if isinstance(orig, UnicodeEncodeError):  # text the connection's encoding cannot carry
        return "text the database cannot encode"
    return None


def _log_failure(app: Flask, kind: str, name: str, uuid: str, exc: Exception, count: bool = True) -> None:
    """Count the failure (unless `count` is False); an ERROR line per failed callback, its traceback
    only once per kind every 10 s (per app). `kind`: "database", "unexpected" or "data"."""
    if count:
        count_failure(METHOD_NAMES[name], kind)
    if app.extensions["wallet.tracebacks"].whole((kind, type(exc))):
        log.exception("%s error in %s uuid=%s", kind, METHOD_NAMES[name], uuid)
    else:
        log.error("%s error in %s uuid=%s: %s (traceback: the first of its kind, at most one per 10 s)",
                  kind, METHOD_NAMES[name], uuid, one_line(exc))


class CallbackMiddleware:
    """WSGI: answer POST /V4/<Method> (any case) for the six callbacks; pass the rest to Flask."""

    def __init__(self, app: Flask, next_app: WSGIApp) -> None:
        self.app = app
        self.next_app = next_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path[:4] in ("/V4/", "/v4/") and environ.get("REQUEST_METHOD") == "POST":
            name = path[4:].lower()
            if name in CALLBACKS:
                body = answer(self.app, name, environ)
                start_response("200 OK", [*_JSON_HEADERS, ("Content-Length", str(len(body)))])
                return [body]
        return self.next_app(environ, start_response)


@bp.route("/<v4:version>/<method>", methods=["POST"])
def callback(version: str, method: str) -> Response:
    """Reached only without the middleware in front, or for an unknown method (404)."""
    name = method.lower()
    if name not in CALLBACKS:
        return Response(dumps({"error": "not found"}), status=404, mimetype="application/json")
    return Response(answer(current_app._get_current_object(), name, request.environ),  # type: ignore[attr-defined]
                    status=200, mimetype="application/json")

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

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.routing import BaseConverter
from werkzeug.wsgi import get_content_length, get_input_stream

from wallet.callbacks.auth import refusal, signature_ok
from wallet.callbacks.schemas import METHOD_NAMES, BadRequest, parse
from wallet.jsonutil import dumps, loads
from wallet.ledger.idempotency import Reply, run_callback
from wallet.ledger.outcomes import Answer, Code
from wallet.ledger.services import CALLBACKS
from wallet.observability import count_failure, observe_callback, one_line

log = logging.getLogger("wallet.callbacks")

bp = Blueprint("callbacks", __name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_JSON_HEADERS = [("Content-Type", "application/json")]


class VersionConverter(BaseConverter):
    """Matches the API version segment in any case: /V4/..., /v4/..."""

    regex = "[vV]4"


def _error(code: Code, description: str, reference: Any = None) -> Reply:
    fields = {}
    if isinstance(reference, (str, int)) and not isinstance(reference, bool):
        fields["reference"] = str(reference)
    return Reply.of(Answer(code, description, fields))


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
    reply, fields = _handle(app, name, environ)
    observe_callback(METHOD_NAMES[name], reply.error, time.perf_counter() - started, fields, reply.moved)
    return reply.body.encode("utf-8")


def _handle(app: Flask, name: str, environ: dict[str, Any]) -> tuple[Reply, dict[str, Any]]:
    """Authenticate, parse, run. Every failure becomes a provider answer; nothing raises."""
    settings = app.config["WALLET_SETTINGS"]
    length = get_content_length(environ)
    if length is not None and length > settings.max_body_bytes:
        return _error(Code.BAD_PARAMETERS, "Request body too large"), {}
    denied = refusal(settings, environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"))
    if denied:
        return _error(Code.INVALID_UUID_OR_SIGNATURE, denied), {}
    try:
        # A stream that refuses to read past max_body_bytes (chunked bodies included) and
        # raises on a body shorter than its Content-Length, as Flask's request would.
        raw = get_input_stream(environ, max_content_length=settings.max_body_bytes).read()
    except RequestEntityTooLarge:
        return _error(Code.BAD_PARAMETERS, "Request body too large"), {}
    except ClientDisconnected:
        return _error(Code.BAD_PARAMETERS, "Request body incomplete"), {}
    try:
        data = loads(raw)
    except (ValueError, RecursionError):
        data = _UNPARSABLE
    # A Refund answer echoes the request's reference, whatever else is wrong with it.
    reference = _reference_of(data) if name == "refund" else None
    if settings.callback_secret and not signature_ok(
        settings.callback_secret, raw, environ.get("HTTP_X_SIGNATURE")
    ):
        return _error(Code.INVALID_UUID_OR_SIGNATURE, "Missing or invalid signature", reference), {}
    if data is _UNPARSABLE:
        return _error(Code.BAD_PARAMETERS, "Body is not valid JSON"), {}
    if not isinstance(data, dict):
        return _error(Code.BAD_PARAMETERS, "Body must be a JSON object"), {}
    try:
        q = parse(name, data)
    except BadRequest as bad:
        return _error(bad.code, bad.description, reference), {}
    fields = {"uuid": q.uuid, "user_id": q.user_id, "reference": q.reference}
    try:
        return run_callback(app.extensions["wallet.engine"], q, CALLBACKS[name]), fields
    except SQLAlchemyError as exc:
        _log_failure(app, "database", name, q.uuid, exc)
        return _error(Code.INTERNAL_RETRY, "Internal error, please retry", reference), fields
    except Exception as exc:  # never a 500 on the provider API
        _log_failure(app, "unexpected", name, q.uuid, exc)
        return _error(Code.INTERNAL_RETRY, "Internal error, please retry", reference), fields


def _log_failure(app: Flask, kind: str, name: str, uuid: str, exc: Exception) -> None:
    """Count the failure; an ERROR line per failed callback, its traceback only once per kind
    every 10 s (per app). `kind`: "database" or "unexpected"."""
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

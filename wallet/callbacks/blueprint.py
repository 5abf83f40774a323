"""The provider-facing API: POST /V4/<Method>, always HTTP 200 with {error, description, ...}."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from wallet.callbacks.auth import refusal, signature_ok
from wallet.callbacks.schemas import METHOD_NAMES, BadRequest, parse
from wallet.jsonutil import dumps, loads
from wallet.ledger.idempotency import Reply, run_callback
from wallet.ledger.outcomes import Answer, Code
from wallet.ledger.services import CALLBACKS
from wallet.observability import observe_callback

log = logging.getLogger("wallet.callbacks")

bp = Blueprint("callbacks", __name__)


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


@bp.route("/<v4:version>/<method>", methods=["POST"])
def callback(version: str, method: str) -> Response:
    name = method.lower()
    if name not in CALLBACKS:
        return Response(dumps({"error": "not found"}), status=404, mimetype="application/json")
    started = time.perf_counter()
    reply, fields = _handle(name)
    observe_callback(METHOD_NAMES[name], reply.error, time.perf_counter() - started, fields, reply.moved)
    return Response(reply.body, status=200, mimetype="application/json")


def _handle(name: str) -> tuple[Reply, dict[str, Any]]:
    """Authenticate, parse, run. Every failure becomes a provider answer; nothing raises."""
    settings = current_app.config["WALLET_SETTINGS"]
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        return _error(Code.BAD_PARAMETERS, "Request body too large"), {}
    denied = refusal(settings, request.remote_addr, request.headers.get("X-Forwarded-For"))
    if denied:
        return _error(Code.INVALID_UUID_OR_SIGNATURE, denied), {}
    try:
        raw = request.get_data(cache=False)
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
        settings.callback_secret, raw, request.headers.get("X-Signature")
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
        return run_callback(current_app.extensions["wallet.engine"], q, CALLBACKS[name]), fields
    except SQLAlchemyError:
        log.exception("database error in %s uuid=%s", METHOD_NAMES[name], q.uuid)
        return _error(Code.INTERNAL_RETRY, "Internal error, please retry", reference), fields
    except Exception:  # never a 500 on the provider API
        log.exception("unexpected error in %s uuid=%s", METHOD_NAMES[name], q.uuid)
        return _error(Code.INTERNAL_RETRY, "Internal error, please retry", reference), fields


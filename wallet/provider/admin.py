"""Admin API for CancelRound: POST /admin/cancel-round, GET /admin/cancels[/<id>].

Its own blueprint (the rest of /admin lives in wallet.admin), behind the same
bearer check, answering in the same `{error, description}` shape.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from wallet.admin.blueprint import token_ok
from wallet.callbacks.schemas import Ident
from wallet.ledger.outcomes import AdminError
from wallet.provider import service

bp = Blueprint("provider_admin", __name__)


class CancelRoundBody(Schema):
    reference = Ident(required=True)
    roundId = Ident(load_default=None, attribute="round_id")
    requestedBy = fields.String(load_default=None, attribute="requested_by", validate=validate.Length(min=1, max=200))


class CancelsQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=service.MAX_PAGE))
    cursor = fields.String(load_default=None)
    reference = fields.String(load_default=None)


@bp.before_request
def _authenticate() -> tuple[Response, int, dict[str, str]] | None:
    if not token_ok(current_app.config["WALLET_SETTINGS"].admin_token, request.headers.get("Authorization")):
        body = jsonify(error="unauthorized", description="missing or invalid admin bearer token")
        return body, 401, {"WWW-Authenticate": 'Bearer realm="wallet-admin"'}
    return None


@bp.errorhandler(AdminError)
def _admin_error(exc: AdminError) -> tuple[Response, int]:
    return jsonify(error=type(exc).__name__.lower(), description=str(exc)), exc.status


@bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError) -> tuple[Response, int]:
    return jsonify(error="invalid", description="invalid input", fields=exc.normalized_messages()), 422


@bp.post("/cancel-round")
def cancel_round() -> tuple[Response, int]:
    """Synchronous: answers once the provider has (or has not, within the time budget)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["body must be a JSON object"]})
    values = CancelRoundBody().load(data)
    record = service.request_cancel(
        current_app.extensions["wallet.engine"],
        current_app.config["WALLET_SETTINGS"],
        values["reference"],
        round_id=values["round_id"],
        requested_by=values["requested_by"] or f"admin-api {request.remote_addr}",
    )
    return jsonify(record), 201


@bp.get("/cancels")
def list_cancels() -> Response:
    values = CancelsQuery().load(request.args)
    with current_app.extensions["wallet.engine"].connect() as conn:
        items, next_cursor = service.list_cancels(conn, **values)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/cancels/<cancel_id>")
def get_cancel(cancel_id: str) -> Response:
    with current_app.extensions["wallet.engine"].connect() as conn:
        return jsonify(service.get_cancel(conn, cancel_id))

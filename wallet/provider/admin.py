"""Admin API for CancelRound: POST /admin/cancel-round, GET /admin/cancels[/<id>].

Its own blueprint (the rest of /admin lives in wallet.admin), behind the same
bearer check, answering in the same `{error, description}` shape.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, fields, validate

from wallet.admin.blueprint import guard, json_body
from wallet.callbacks.schemas import Ident
from wallet.provider import service

bp = guard(Blueprint("provider_admin", __name__))


class CancelRoundBody(Schema):
    reference = Ident(required=True)
    roundId = Ident(load_default=None, attribute="round_id")
    requestedBy = fields.String(load_default=None, attribute="requested_by", validate=validate.Length(min=1, max=200))


class CancelsQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=service.MAX_PAGE))
    cursor = fields.String(load_default=None)
    reference = fields.String(load_default=None)


class AttemptOut(Schema):
    number = fields.Integer(required=True)
    startedAt = fields.String()
    elapsedMs = fields.Integer()
    httpStatus = fields.Integer(allow_none=True)
    exception = fields.String(allow_none=True, metadata={"description": "timeout or connection error, if any"})
    answer = fields.String(allow_none=True, metadata={"description": "the provider's answer body as received"})


class CancelOut(Schema):
    """A stored cancel: the list shows attemptCount; the single record its request body and attempts."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["pending", "confirmed", "rejected", "failed"]))
    uuid = fields.String(required=True, metadata={"description": "the CancelRound uuid, reused by every retry"})
    requestedBy = fields.String()
    reference = fields.String(required=True)
    betTransactionId = fields.String()
    userId = fields.String()
    roundId = fields.String()
    error = fields.Integer(allow_none=True, metadata={"description": "the provider's final error code"})
    description = fields.String(allow_none=True)
    createdAt = fields.String()
    finishedAt = fields.String(allow_none=True)
    attemptCount = fields.Integer()
    request = fields.Dict(metadata={"description": "the CancelRound body as sent"})
    attempts = fields.List(fields.Nested(AttemptOut))


class CancelPageOut(Schema):
    items = fields.List(fields.Nested(CancelOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


@bp.post("/cancel-round")
def cancel_round() -> tuple[Response, int]:
    """Synchronous: answers once the provider has (or has not, within the time budget)."""
    values = json_body(CancelRoundBody())
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

"""Admin JSON API under /admin, behind `Authorization: Bearer $WALLET_ADMIN_TOKEN`."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError

from wallet.admin import queries
from wallet.admin.schemas import Adjustment, PlayerCreate, StatusPatch, TransactionQuery
from wallet.ledger import services
from wallet.ledger.outcomes import AdminError

bp = Blueprint("admin", __name__)


def token_ok(configured: str | None, header: str | None) -> bool:
    """Constant-time bearer check; with no token configured the admin API is closed."""
    if not configured or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(configured.encode("utf-8"), header[7:].strip().encode("utf-8", "replace"))


@bp.before_request
def _authenticate() -> Response | None:
    settings = current_app.config["WALLET_SETTINGS"]
    if not token_ok(settings.admin_token, request.headers.get("Authorization")):
        response = jsonify(error="unauthorized", description="missing or invalid admin bearer token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="wallet-admin"'
        return response
    return None


@bp.errorhandler(AdminError)
def _admin_error(exc: AdminError) -> tuple[Response, int]:
    return jsonify(error=type(exc).__name__.lower(), description=str(exc)), exc.status


@bp.errorhandler(ValidationError)
def _validation_error(exc: ValidationError) -> tuple[Response, int]:
    return jsonify(error="invalid", description="invalid input", fields=exc.normalized_messages()), 422


def _engine():  # type: ignore[no-untyped-def]
    return current_app.extensions["wallet.engine"]


def _body(schema: Schema) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["body must be a JSON object"]})
    return schema.load(data)


@bp.post("/players")
def create_player() -> tuple[Response, int]:
    values = _body(PlayerCreate())
    with _engine().begin() as conn:
        row = services.create_player(conn, values["user_id"], values["currency"])
    return jsonify(queries.player_dict(row)), 201


@bp.get("/players/<user_id>")
def get_player(user_id: str) -> Response:
    with _engine().connect() as conn:
        return jsonify(queries.get_player(conn, user_id))


@bp.patch("/players/<user_id>")
def patch_player(user_id: str) -> Response:
    values = _body(StatusPatch())
    with _engine().begin() as conn:
        row = services.set_status(conn, user_id, values["status"])
    return jsonify(queries.player_dict(row))


@bp.post("/players/<user_id>/adjustments")
def adjust(user_id: str) -> tuple[Response, int]:
    values = _body(Adjustment())
    with _engine().begin() as conn:
        created, row = services.adjust(conn, user_id, values["amount"], values["reference"], values["reason"])
        listed, _ = queries.list_transactions(conn, queries.TransactionFilter(reference=row.reference, type="adjustment"), 1)
    return jsonify(listed[0]), 201 if created else 200


@bp.get("/transactions")
def list_transactions() -> Response:
    values = TransactionQuery().load(request.args)
    limit, cursor = values.pop("limit"), values.pop("cursor")
    with _engine().connect() as conn:
        items, next_cursor = queries.list_transactions(conn, queries.TransactionFilter(**values), limit, cursor)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/rounds/<round_id>")
def get_round(round_id: str) -> Response:
    with _engine().connect() as conn:
        return jsonify(queries.get_round(conn, round_id))


@bp.get("/reconciliation")
def reconciliation() -> Response:
    with _engine().connect() as conn:
        return jsonify(queries.reconciliation(conn))

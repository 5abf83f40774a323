"""Admin JSON API under /admin, behind `Authorization: Bearer $WALLET_ADMIN_TOKEN`.

Handlers only parse (marshmallow), call one function of `services` (writes)
or `queries` (reads), and shape the answer; the CLI and the support page call
the same functions.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import Engine

from wallet.admin import export, queries
from wallet.admin.schemas import Adjustment, PageQuery, PlayerCreate, ReportQuery, StatusPatch, TransactionQuery
from wallet.ledger import services
from wallet.ledger.outcomes import AdminError

bp = Blueprint("admin", __name__)
T = TypeVar("T")


def secret_matches(configured: str | None, given: str | None) -> bool:
    """Constant-time comparison; with no token configured the admin side is closed."""
    if not configured or not given:
        return False
    return hmac.compare_digest(configured.encode("utf-8"), given.encode("utf-8", "replace"))


def token_ok(configured: str | None, header: str | None) -> bool:
    """Constant-time bearer check of an Authorization header."""
    if not header or not header.startswith("Bearer "):
        return False
    return secret_matches(configured, header[7:].strip())


def _authenticate() -> Response | None:
    settings = current_app.config["WALLET_SETTINGS"]
    if not token_ok(settings.admin_token, request.headers.get("Authorization")):
        response = jsonify(error="unauthorized", description="missing or invalid admin bearer token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="wallet-admin"'
        return response
    return None


def _admin_error(exc: AdminError) -> tuple[Response, int]:
    return jsonify(error=type(exc).__name__.lower(), description=str(exc)), exc.status


def _validation_error(exc: ValidationError) -> tuple[Response, int]:
    return jsonify(error="invalid", description="invalid input", fields=exc.normalized_messages()), 422


def guard(blueprint: Blueprint) -> Blueprint:
    """Put a blueprint behind the admin bearer token, with the admin API's error shape."""
    blueprint.before_request(_authenticate)
    blueprint.register_error_handler(AdminError, _admin_error)
    blueprint.register_error_handler(ValidationError, _validation_error)
    return blueprint


guard(bp)


def engine() -> Engine:
    return current_app.extensions["wallet.engine"]


def read(query: Callable[..., T], *args: Any) -> T:
    """Run one read-only query function on a fresh connection (API, CLI and support page alike)."""
    with engine().connect() as conn:
        return query(conn, *args)


def json_body(schema: Schema) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["body must be a JSON object"]})
    return schema.load(data)


@bp.post("/players")
def create_player() -> tuple[Response, int]:
    values = json_body(PlayerCreate())
    with engine().begin() as conn:
        row = services.create_player(conn, values["user_id"], values["currency"])
    return jsonify(queries.player_dict(row)), 201


@bp.get("/players/<user_id>")
def get_player(user_id: str) -> Response:
    return jsonify(read(queries.get_player, user_id))


@bp.patch("/players/<user_id>")
def patch_player(user_id: str) -> Response:
    values = json_body(StatusPatch())
    with engine().begin() as conn:
        row = services.set_status(conn, user_id, values["status"])
    return jsonify(queries.player_dict(row))


@bp.post("/players/<user_id>/adjustments")
def adjust(user_id: str) -> tuple[Response, int]:
    values = json_body(Adjustment())
    with engine().begin() as conn:
        created, row = services.adjust(conn, user_id, values["amount"], values["reference"], values["reason"])
        listed, _ = queries.list_transactions(conn, queries.TransactionFilter(reference=row.reference, type="adjustment"), 1)
    return jsonify(listed[0]), 201 if created else 200


@bp.get("/players/<user_id>/history")
def player_history(user_id: str) -> Response:
    page = PageQuery().load(request.args)
    return jsonify(read(queries.player_history, user_id, page["limit"], page["cursor"]))


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
    items, next_cursor = read(queries.list_transactions, f, limit, cursor)
    return jsonify(items=items, nextCursor=next_cursor)


def csv_response(f: queries.TransactionFilter) -> Response:
    """Stream every entry matching `f`; the filter is checked before the first byte is sent."""
    conn = engine().connect()
    try:
        rows = queries.iter_transactions(conn, f)
    except Exception:
        conn.close()
        raise

    def generate() -> Iterator[str]:
        try:
            yield from export.csv_lines(rows)
        finally:
            conn.close()

    return Response(generate(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="transactions.csv"'})


@bp.get("/transactions/<int:tx_id>")
def get_transaction(tx_id: int) -> Response:
    return jsonify(read(queries.get_transaction, tx_id))


@bp.get("/transactions/by-reference/<path:reference>")
def get_by_reference(reference: str) -> Response:
    return jsonify(read(queries.get_by_reference, reference))


@bp.get("/rounds/<round_id>")
def get_round(round_id: str) -> Response:
    return jsonify(read(queries.get_round, round_id, request.args.get("userId") or None))


@bp.get("/reports/daily")
def daily_report() -> Response:
    values = ReportQuery().load(request.args)
    return jsonify(read(queries.daily_report, values["since"], values["until"]))


@bp.get("/reconciliation")
def reconciliation() -> Response:
    return jsonify(read(queries.reconciliation))

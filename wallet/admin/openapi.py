"""OpenAPI 3 description of the admin API and the provider callbacks, built with apispec from the
marshmallow schemas the handlers use, served at /openapi.json with Swagger UI at /docs.

Swagger UI's files come from the pinned `swagger-ui-bundle` package (no CDN:
the hosts have no internet). The callbacks are only described here; their
blueprint and answers are untouched.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import swagger_ui_bundle
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, send_from_directory
from marshmallow import Schema

from wallet.admin import schemas as admin
from wallet.callbacks import schemas as callbacks
from wallet.jsonutil import dumps
from wallet.provider import admin as cancel_api

bp = Blueprint("openapi", __name__)

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
ADMIN_AUTH = [{"adminBearer": []}]
ERROR_TEXT = {400: "bad request", 401: "missing or wrong admin token", 404: "not found",
              409: "conflict", 422: "invalid input"}


def _operation(summary: str, *, ok: tuple[int, type[Schema]], tag: str = "admin", body: type[Schema] | None = None,
               query: type[Schema] | None = None,
               errors: tuple[int, ...] = (), path: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
               ) -> dict[str, Any]:
    """One operation object; every admin operation also answers 401."""
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "security": ADMIN_AUTH, "parameters": []}
    op["parameters"] += [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}} for name in path]
    if query is not None:
        op["parameters"].append({"in": "query", "schema": query})
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    status, answer = ok
    op["responses"] = {str(status): {"description": "OK", "content": {"application/json": {"schema": answer}}}}
    for code in (401, *errors):
        op["responses"][str(code)] = {"description": ERROR_TEXT[code],
                                      "content": {"application/json": {"schema": admin.ErrorOut}}}
    op.update(extra or {})
    return op


def _admin_paths(spec: APISpec) -> None:
    a = admin
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/players": {"post": _operation("Open a player's wallet", body=a.PlayerCreate,
                                              ok=(201, a.PlayerOut), errors=(409, 422))},
        "/admin/players/{userId}": {
            "get": _operation("Balance, currency and status", path=("userId",), ok=(200, a.PlayerOut), errors=(404,)),
            "patch": _operation("Freeze or unfreeze", path=("userId",), body=a.StatusPatch,
                                ok=(200, a.PlayerOut), errors=(404, 422)),
        },
        "/admin/players/{userId}/adjustments": {"post": _operation(
            "Signed manual credit or debit; idempotent by reference (200 on a repeat)", path=("userId",),
            body=a.Adjustment, ok=(201, a.TransactionOut), errors=(404, 409, 422))},
        "/admin/players/{userId}/history": {"get": _operation(
            "Balance history: every entry with the balance after it, newest first", path=("userId",),
            query=a.PageQuery, ok=(200, a.HistoryOut), errors=(404, 422))},
        "/admin/transactions": {"get": _operation(
            "Ledger entries, newest first, keyset-paginated; CSV with format=csv or Accept: text/csv",
            query=a.TransactionQuery, ok=(200, a.TransactionPageOut), errors=(422,),
            extra={"x-csv": "text/csv: header row then one row per entry, streamed"})},
        "/admin/transactions/{transactionId}": {"get": _operation(
            "One entry with the entries it links (a bet's refund, a refund's bets)", path=("transactionId",),
            ok=(200, a.TransactionDetailOut), errors=(404,))},
        "/admin/transactions/by-reference/{reference}": {"get": _operation(
            "Every entry under a provider reference, with links", path=("reference",),
            ok=(200, a.ReferenceOut), errors=(404,))},
        "/admin/rounds/{roundId}": {"get": _operation(
            "A player's round: status, bets, results, refunds, totals, cancel records "
            "(409 when several players have a round with this id and no userId is given)",
            path=("roundId",), query=a.RoundQuery, ok=(200, a.RoundOut), errors=(404, 409))},
        "/admin/reports/daily": {"get": _operation(
            "Counts and sums per UTC day and currency; GGR = bets - wins - refunds", query=a.ReportQuery,
            ok=(200, a.DailyReportOut), errors=(422,))},
        "/admin/reconciliation": {"get": _operation(
            "Check the ledger's invariants and name every mismatch", ok=(200, a.ReconciliationOut))},
        "/admin/cancel-round": {"post": _operation(
            "Send Lucky Monaco's CancelRound for a bet (synchronous, retried with one uuid); 201 with the record",
            body=cancel_api.CancelRoundBody, ok=(201, cancel_api.CancelOut), errors=(404, 409, 422))},
        "/admin/cancels": {"get": _operation(
            "CancelRound records, newest first", query=cancel_api.CancelsQuery,
            ok=(200, cancel_api.CancelPageOut), errors=(422,))},
        "/admin/cancels/{cancelId}": {"get": _operation(
            "One CancelRound record with its body and every attempt", path=("cancelId",),
            ok=(200, cancel_api.CancelOut), errors=(404,))},
    }
    csv_content = {"text/csv": {"schema": {"type": "string"}}}
    paths["/admin/transactions"]["get"]["responses"]["200"]["content"].update(csv_content)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


CALLBACK_ANSWER = {
    "type": "object",
    "required": ["error", "description"],
    "properties": {
        "error": {"type": "integer", "description": "0 success; the provider's table (PROTOCOL.md section 6)"},
        "description": {"type": "string"},
        "reference": {"type": "string"},
        "transactionId": {"type": "string"},
        "currency": {"type": "string"},
        "cash": {"type": "number", "description": "balance with the currency's minor-unit digits"},
    },
}


def _callback_paths(spec: APISpec) -> None:
    spec.components.schema("CallbackAnswer", CALLBACK_ANSWER)
    for name, schema in callbacks.SCHEMAS.items():
        method = callbacks.METHOD_NAMES[name]
        spec.path(path=f"/V4/{method}", operations={"post": {
            "summary": f"{method} callback from Lucky Monaco (always HTTP 200)",
            "description": "Field names match case-insensitively; unknown fields are ignored; path case-insensitive.",
            "tags": ["callbacks"],
            "security": [{"callbackSignature": []}, {}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": type(schema)}}},
            "responses": {"200": {"description": "answer", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/CallbackAnswer"}}}}},
        }})


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    """The whole document (cached: it depends on code only)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(title="Lucky Monaco operator wallet", version="1", openapi_version="3.0.3", plugins=[plugin],
                   info={"description": "Admin API (bearer token) and provider callbacks (HMAC signature)."})
    plugin.map_to_openapi_type(callbacks.Ident, "string", None)
    plugin.map_to_openapi_type(callbacks.Currency, "string", None)
    plugin.map_to_openapi_type(callbacks.Amount, "string", "decimal")
    plugin.map_to_openapi_type(callbacks.Details, "string", None)
    plugin.map_to_openapi_type(admin.SignedAmount, "string", "decimal")
    spec.components.security_scheme("adminBearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("callbackSignature", {
        "type": "apiKey", "in": "header", "name": "X-Signature",
        "description": "hex HMAC-SHA256 of the raw body keyed by the callback secret"})
    _admin_paths(spec)
    _callback_paths(spec)
    return spec.to_dict()


@bp.get(OPENAPI_PATH)
def openapi_json() -> Response:
    return Response(dumps(build_spec()), mimetype="application/json")


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wallet API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui"}});</script>
</body></html>
"""


@bp.get(DOCS_PATH)
def docs() -> Response:
    return Response(DOCS_PAGE.format(static=f"{DOCS_PATH}/static", spec=OPENAPI_PATH), mimetype="text/html")


@bp.get(f"{DOCS_PATH}/static/<path:filename>")
def docs_static(filename: str) -> Response:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

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
from wallet.limits import BIGINT_MAX, IDENTIFIER_LENGTH
from wallet.admin import provider_api as cancel_api

bp = Blueprint("openapi", __name__)

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
ADMIN_AUTH = [{"adminBearer": []}]
ERROR_TEXT = {400: "the body cannot be read as JSON",
              401: "missing, unknown or revoked token, or its person disabled",
              403: "the token's role may not do this (forbidden; description names the role)",
              404: "not found (also: a path segment that cannot name anything)", 409: "conflict",
              422: "invalid input; `fields` has the per-field messages",
              502: "the provider gave no usable answer (the call is recorded; callId names it)",
              503: "the database is unavailable; retry after the Retry-After header's seconds"}
# The path parameters of the admin routes, with the limits the routes enforce (404 beyond them).
_ID_TEXT = {"type": "string", "minLength": 1, "maxLength": IDENTIFIER_LENGTH}
_DB_ID = {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "userId": _ID_TEXT, "roundId": _ID_TEXT, "reference": _ID_TEXT, "transactionId": _DB_ID, "cancelId": _DB_ID,
    "callId": _DB_ID, "sweepId": _DB_ID, "gameId": _ID_TEXT, "userName": _ID_TEXT, "tokenId": _DB_ID,
    "adjustmentId": _DB_ID,
}


def _operation(summary: str, *, ok: tuple[int, type[Schema]], tag: str = "admin", body: type[Schema] | None = None,
               query: type[Schema] | None = None,
               errors: tuple[int, ...] = (), path: tuple[str, ...] = (), extra: dict[str, Any] | None = None,
               ) -> dict[str, Any]:
    """One operation object. Every admin operation also answers 401 and 503; one with a body 400 and
    422, one with query parameters 422, one with path parameters 404."""
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "security": ADMIN_AUTH, "parameters": []}
    op["parameters"] += [{"in": "path", "name": name, "required": True, "schema": dict(PATH_PARAMETERS[name])}
                         for name in path]
    codes = {401, 503, *errors}
    if query is not None:
        op["parameters"].append({"in": "query", "schema": query})
        codes.add(422)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        codes |= {400, 422}
    if path:
        codes.add(404)
    status, answer = ok
    op["responses"] = {str(status): {"description": "OK", "content": {"application/json": {"schema": answer}}}}
    for code in sorted(codes):
        op["responses"][str(code)] = {"description": ERROR_TEXT[code],
                                      "content": {"application/json": {"schema": admin.ErrorOut}}}
    op["responses"]["503"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    op.update(extra or {})
    return op


def _ident_properties(self: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """An identifier (callbacks' Ident) in the document: 1 to its column's length of characters."""
    limit = getattr(field, "max_length", None)
    if isinstance(field, callbacks.Ident) and isinstance(limit, int):
        return {"minLength": 1, "maxLength": limit}
    return {}


def _admin_paths(spec: APISpec) -> None:
    a = admin
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/players": {"post": _operation("Open a player's wallet", body=a.PlayerCreate,
                                              ok=(201, a.PlayerOut), errors=(409, 422))},
        "/admin/players/{userId}": {
            "get": _operation("Balance, currency and status", path=("userId",), ok=(200, a.PlayerOut), errors=(404,)),
            "patch": _operation("Freeze or unfreeze: {status, reason}; reason required", path=("userId",), body=a.StatusPatch,
                                ok=(200, a.PlayerOut), errors=(404, 422)),
        },
        "/admin/players/{userId}/adjustments": {"post": _operation(
            "Signed manual credit or debit; idempotent by reference (200 on a repeat); a finance or admin "
            "adjustment at or above WALLET_APPROVAL_THRESHOLDS is stored pending (202) until another person "
            "approves it", path=("userId",),
            body=a.Adjustment, ok=(201, a.TransactionOut), errors=(404, 409, 422))},
        "/admin/players/{userId}/history": {"get": _operation(
            "Balance history: every entry with the balance after it, newest first", path=("userId",),
            query=a.PageQuery, ok=(200, a.HistoryOut), errors=(404, 422))},
        "/admin/transactions": {"get": _operation(
            "Ledger entries, newest first, keyset-paginated; CSV with format=csv or Accept: text/csv",
            query=a.TransactionQuery, ok=(200, a.TransactionPageOut), errors=(422,),
            extra={"x-csv": "text/csv: header row then one row per entry, streamed"})},
        "/admin/transactions/{transactionId}": {"get": _operation(
            "One entry with the entries it links (a bet's refund or cancel, a refund's or cancel's bets)", path=("transactionId",),
            ok=(200, a.TransactionDetailOut), errors=(404,))},
        "/admin/transactions/by-reference/{reference}": {"get": _operation(
            "Every entry under a provider reference, with links", path=("reference",),
            ok=(200, a.ReferenceOut), errors=(404,))},
        "/admin/rounds/{roundId}": {"get": _operation(
            "A player's round: status, bets, results, refunds, cancels, prizes (promo, jackpot), totals, "
            "cancel records "
            "(409 when several players have a round with this id and no userId is given)",
            path=("roundId",), query=a.RoundQuery, ok=(200, a.RoundOut), errors=(404, 409))},
        "/admin/reports/daily": {"get": _operation(
            "Counts and sums per UTC day and currency: bets, wins, refunds, cancels, promo, jackpot, bonus, "
            "adjustments; GGR = bets - wins - refunds - cancels (prizes beside it, not inside)", query=a.ReportQuery,
            ok=(200, a.DailyReportOut), errors=(422,))},
        "/admin/reconciliation": {"get": _operation(
            "Check the ledger's invariants and name every mismatch; list bonus wins recorded, not credited",
            ok=(200, a.ReconciliationOut))},
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
    adjustment = paths["/admin/players/{userId}/adjustments"]["post"]["responses"]
    adjustment["200"] = {**adjustment["201"], "description": "a repetition: the adjustment first posted, nothing moved"}
    from wallet.admin.staff_api import AdjustmentRequestOut

    adjustment["202"] = {"description": "pending approval (four eyes): the request, status pending",
                         "content": {"application/json": {"schema": AdjustmentRequestOut}}}
    csv_content = {"text/csv": {"schema": {"type": "string"}}}
    paths["/admin/transactions"]["get"]["responses"]["200"]["content"].update(csv_content)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


# --------------------------------------------------------------------------- the provider (wallet/admin/provider_api.py)


def _provider_paths(spec: APISpec) -> None:
    """GetRoundStatus, CloseSession, HealthCheck, the provider calls' record, stale rounds and sweeps
    (CancelRound and its records are in _admin_paths)."""
    p = cancel_api
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/rounds/{roundId}/provider-status": {"get": _operation(
            "Ask the provider about a round (GetRoundStatus): its answer as sent, or 502 when it gives no "
            "round status (an error code, no answer, an unknown roundStatus)", path=("roundId",),
            query=p.ProviderStatusQuery, ok=(200, p.RoundStatusOut), errors=(502,))},
        "/admin/players/{userId}/close-session": {"post": _operation(
            "Close the player's game session at the provider (CloseSession); 201 with the call's record, "
            "whose status says how it ended", path=("userId",), body=p.CloseSessionBody, ok=(201, p.CallOut),
            errors=(404,))},
        "/admin/provider/health": {"get": _operation(
            "HealthCheck the provider (one attempt): up, latencyMs, error", ok=(200, p.HealthOut))},
        "/admin/provider/calls": {"get": _operation(
            "Every call made to the provider, newest first", query=p.CallsQuery, ok=(200, p.CallPageOut))},
        "/admin/provider/calls/{callId}": {"get": _operation(
            "One provider call with its body (token shown as ***) and every attempt", path=("callId",),
            ok=(200, p.CallOut))},
        "/admin/stale-rounds": {"get": _operation(
            "Open rounds with an unrefunded bet, no Result and no EndRound, whose last entry is older than "
            "olderThanHours; oldest first, keyset-paginated", query=p.StaleRoundsQuery, ok=(200, p.StaleRoundPageOut))},
        "/admin/stale-rounds/sweep": {"post": _operation(
            "Ask the provider about each stale round and cancel those in progress (dryRun: send nothing); "
            "answers when done; the sweep's record is at the Location header", body=p.SweepBody,
            ok=(200, p.SweepOut))},
        "/admin/stale-rounds/sweeps": {"get": _operation(
            "The sweeps run, newest first", query=p.SweepsQuery, ok=(200, p.SweepPageOut))},
        "/admin/stale-rounds/sweeps/{sweepId}": {"get": _operation(
            "One sweep with what it decided for each round and the calls it made", path=("sweepId",),
            ok=(200, p.SweepRecordOut))},
    }
    for path in ("/admin/players/{userId}/close-session", "/admin/stale-rounds/sweep"):
        paths[path]["post"]["requestBody"]["required"] = False  # every field has a default
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


# --------------------------------------------------------------------------- operator controls (wallet/admin/controls_api.py)


def _controls_paths(spec: APISpec) -> None:
    """The game catalogue, player limits and self-exclusion (docs/protocol.md, "Operator controls")."""
    from wallet.admin import controls_schemas as c

    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/games": {"get": _operation(
            "The game catalogue: every game a Bet has named (recorded enabled on its first Bet), by gameId",
            query=c.GamesQuery, ok=(200, c.GameListOut))},
        "/admin/games/{gameId}": {
            "get": _operation("One game of the catalogue", path=("gameId",), ok=(200, c.GameOut)),
            "patch": _operation(
                "Enable or disable a game, with a reason: a disabled game's Bets get 8 and move nothing; its "
                "wins, refunds and cancels are processed as usual", path=("gameId",), body=c.GamePatch,
                ok=(200, c.GameOut)),
        },
        "/admin/players/{userId}/limits": {
            "get": _operation(
                "A player's limits in force, each pending loosening with the time it takes effect, and the "
                "self-exclusion", path=("userId",), ok=(200, c.PlayerLimitsOut)),
            "put": _operation(
                "Change some of a player's limits, with a reason: fields given change, fields absent stay, null "
                "removes; tightening at once, loosening after WALLET_LIMIT_COOLING_OFF_HOURS (pending until then); "
                "excludedUntil set or extended only (409 to shorten or remove it, 422 not in the future); "
                "answers as GET", path=("userId",), body=c.LimitsPut, ok=(200, c.PlayerLimitsOut), errors=(409,)),
        },
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


def _history_paths(spec: APISpec) -> None:
    """The request log and the rounds (wallet/admin/history_api.py)."""
    from wallet.admin import history_schemas as h

    csv = {"text/csv": {"schema": {"type": "string"}}}
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/requests": {"get": _operation(
            "Every callback the wallet answered, refused ones included (kept WALLET_REQUEST_LOG_DAYS), newest "
            "first, keyset-paginated; CSV with format=csv or Accept: text/csv",
            query=h.RequestQuery, ok=(200, h.RequestPageOut))},
        "/admin/rounds": {"get": _operation(
            "Rounds by status (open, settled, ended, cancelled), player and opening time, newest first, "
            "keyset-paginated; CSV with format=csv or Accept: text/csv",
            query=h.RoundsQuery, ok=(200, h.RoundPageOut))},
    }
    for path, operations in paths.items():
        operations["get"]["responses"]["200"]["content"].update(csv)
        spec.path(path=path, operations=operations)


def _staff_paths(spec: APISpec) -> None:
    """Staff and tokens, four eyes, the audit trail (wallet/admin/staff_api.py)."""
    from wallet.admin import staff_api as s

    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/admin/staff": {
            "post": _operation("Create a staff account with a role and a first API token (shown once)",
                               body=s.StaffCreate, ok=(201, s.StaffCreatedOut), errors=(409,)),
            "get": _operation("Every staff account (never a hash or a token)", ok=(200, s.StaffListOut)),
        },
        "/admin/staff/{userName}": {
            "get": _operation("One staff account with its tokens' ids", path=("userName",), ok=(200, s.StaffOut)),
            "patch": _operation("Change a role, or disable (active false: its tokens answer 401) or enable",
                                path=("userName",), body=s.StaffPatch, ok=(200, s.StaffOut)),
        },
        "/admin/staff/{userName}/tokens": {"post": _operation(
            "Another API token (shown once)", path=("userName",), body=s.ReasonBody, ok=(201, s.TokenCreatedOut))},
        "/admin/staff/{userName}/tokens/{tokenId}": {"delete": _operation(
            "Revoke a token (again: nothing changes, revoked false)", path=("userName", "tokenId"),
            ok=(200, s.TokenOut))},
        "/admin/adjustments": {"get": _operation(
            "Adjustments that needed approval (four eyes), newest first, keyset-paginated",
            query=s.AdjustmentsQuery, ok=(200, s.AdjustmentPageOut))},
        "/admin/adjustments/{adjustmentId}": {"get": _operation(
            "One adjustment request", path=("adjustmentId",), ok=(200, s.AdjustmentRequestOut))},
        "/admin/adjustments/{adjustmentId}/approve": {"post": _operation(
            "Approve a pending adjustment (finance or admin, not one's own): it posts now (201); 409 when already "
            "decided, or when it would take the balance below zero (it stays pending)", path=("adjustmentId",),
            body=s.ReasonBody, ok=(201, s.AdjustmentRequestOut), errors=(409,))},
        "/admin/adjustments/{adjustmentId}/reject": {"post": _operation(
            "Reject a pending adjustment (finance or admin, not one's own); 409 when already decided",
            path=("adjustmentId",), body=s.ReasonBody, ok=(200, s.AdjustmentRequestOut), errors=(409,))},
        "/admin/audit": {"get": _operation(
            "The audit trail (every staff write, CLI write and sweep action), newest first, keyset-paginated; "
            "CSV with format=csv or Accept: text/csv", query=s.AuditQuery, ok=(200, s.AuditPageOut))},
    }
    for path in ("/admin/staff/{userName}/tokens", "/admin/adjustments/{adjustmentId}/approve", "/admin/adjustments/{adjustmentId}/reject"):
        op = next(iter(paths[path].values()))
        op["requestBody"]["required"] = False  # only an optional reason
    paths["/admin/audit"]["get"]["responses"]["200"]["content"].update({"text/csv": {"schema": {"type": "string"}}})
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)


def _forbidden(doc: dict[str, Any]) -> None:
    """Every admin write may answer 403: the token's role does not allow it (docs/admin.md, roles)."""
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in doc["paths"].items():
        if not path.startswith("/admin"):
            continue
        for verb, op in operations.items():
            if verb in ("post", "put", "patch", "delete"):
                op["responses"].setdefault("403", {"description": ERROR_TEXT[403],
                                                   "content": {"application/json": {"schema": error}}})


CALLBACK_ANSWER = {
    "type": "object",
    "required": ["error", "description"],
    "properties": {
        "error": {"type": "integer", "description": "0 success; the provider's table (docs/protocol.md section 7)"},
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
    from wallet.admin.controls_schemas import LimitAmount  # here: it imports wallet.admin.schemas

    plugin.map_to_openapi_type(LimitAmount, "string", "decimal")
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_ident_properties)
    spec.components.security_scheme("adminBearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("callbackSignature", {
        "type": "apiKey", "in": "header", "name": "X-Signature",
        "description": "hex HMAC-SHA256 of the raw body keyed by the callback secret"})
    _admin_paths(spec)
    _provider_paths(spec)
    _controls_paths(spec)
    _history_paths(spec)
    _staff_paths(spec)
    _callback_paths(spec)
    doc = spec.to_dict()
    _forbidden(doc)
    return doc


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

"""Admin API for staff, four eyes and the audit trail (docs/protocol.md, "Staff, roles and audit"):

    POST   /admin/staff                               {"userName", "role", "password"?} -> 201 + first token
    GET    /admin/staff[/<userName>]                  accounts and their tokens' ids (never a hash or a token)
    PATCH  /admin/staff/<userName>                    {"role" | "active", "reason"?}
    POST   /admin/staff/<userName>/tokens             -> 201 {"id", "token"} (shown once)
    DELETE /admin/staff/<userName>/tokens/<id>        revoke
    GET    /admin/adjustments[?status=pending]        adjustment requests (four eyes), newest first
    GET    /admin/adjustments/<id>
    POST   /admin/adjustments/<id>/approve            -> 201, posted (not one's own; 409 when decided)
    POST   /admin/adjustments/<id>/reject             -> 200
    GET    /admin/audit?actor=&action=&target=&from=&to=   keyset-paginated; format=csv streams every match

Its own blueprint, behind the same staff authentication and error shape as the rest of /admin
(wallet.admin.blueprint.guard); writes need the role's permission (`requires`), and the service
functions (wallet/people/staff.py, wallet/ledger/services.py) check it again and write the audit entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from wallet.admin import export
from wallet.people import audit, staff
from wallet.admin.controls_schemas import StrictBoolean
from wallet.admin.blueprint import current_actor, engine, guard, json_body, requires, wants_csv
from wallet.admin.reads import replica
from wallet.admin.schemas import CURSOR_LENGTH, Text, UtcDateTime
from wallet.jsonutil import dumps
from wallet.ledger import services
from wallet.ledger.models import ADJUSTMENT_REQUEST_STATUSES
from wallet.limits import FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, OPERATOR_NAME_LENGTH

bp = guard(Blueprint("staff_admin", __name__))


# --------------------------------------------------------------------------- input


def _reason() -> Text:
    return Text(FREE_TEXT_LENGTH, min_length=1, load_default=None, allow_none=True,
                metadata={"description": "why (optional; kept in the audit trail)"})


class StaffCreate(Schema):
    userName = Text(IDENTIFIER_LENGTH, min_length=1, required=True, attribute="user_name",
                    metadata={"description": "no blanks around it, no '/' or ':'; bootstrap and sweeper are reserved"})
    role = fields.String(required=True, validate=validate.OneOf(staff.ROLES))
    password = Text(staff.MAX_PASSWORD_LENGTH, min_length=staff.MIN_PASSWORD_LENGTH, load_default=None,
                    metadata={"description": "for the back-office site (none: API tokens only)"})
    reason = _reason()


class StaffPatch(Schema):
    role = fields.String(validate=validate.OneOf(staff.ROLES), load_default=None)
    active = StrictBoolean(load_default=None, metadata={"description": "false: disabled (its tokens answer 401)"})
    reason = _reason()

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("role") is None and data.get("active") is None:
            raise ValidationError("give role or active")


class ReasonBody(Schema):
    reason = _reason()


class AdjustmentsQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(ADJUSTMENT_REQUEST_STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=audit.MAX_PAGE))
    cursor = Text(CURSOR_LENGTH, load_default=None, metadata={"description": "the previous page's nextCursor"})


class AuditQuery(Schema):
    actor = Text(OPERATOR_NAME_LENGTH, load_default=None)
    action = Text(64, load_default=None, metadata={"description": "an action (adjustment.approve) or its family "
                                                                  "(adjustment)"})
    target = Text(OPERATOR_NAME_LENGTH, load_default=None,
                  metadata={"description": "kind:name, e.g. player:123, game:x, staff:alice, round:r-1"})
    since = UtcDateTime(data_key="from", load_default=None, metadata={"description": "ISO 8601, inclusive"})
    until = UtcDateTime(data_key="to", load_default=None, metadata={"description": "ISO 8601, exclusive"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=audit.MAX_PAGE))
    cursor = Text(CURSOR_LENGTH, load_default=None, metadata={"description": "the previous page's nextCursor"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv streams every match (limit and cursor ignored)"})


# --------------------------------------------------------------------------- answers (OpenAPI)


class StaffCreatedOut(Schema):
    userName = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(staff.ROLES))
    token = fields.String(required=True, metadata={"description": "the first API token: shown once, stored hashed"})


class TokenOut(Schema):
    id = fields.String(required=True)
    createdAt = fields.String(required=True)
    revokedAt = fields.String(allow_none=True, required=True)
    revoked = fields.Boolean(metadata={"description": "DELETE only: revoked by this request (false: already was)"})


class TokenCreatedOut(Schema):
    id = fields.String(required=True)
    token = fields.String(required=True, metadata={"description": "shown once, stored hashed"})


class StaffOut(Schema):
    userName = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(staff.ROLES))
    active = fields.Boolean(required=True)
    hasPassword = fields.Boolean(required=True)
    lockedUntil = fields.String(allow_none=True, required=True,
                                metadata={"description": "set while five failed logins in a row lock the site"})
    createdAt = fields.String(required=True)
    updatedAt = fields.String(required=True)
    tokens = fields.List(fields.Nested(TokenOut), metadata={"description": "ids and dates only, never a token"})


class StaffListOut(Schema):
    items = fields.List(fields.Nested(StaffOut), required=True)


class AdjustmentRequestOut(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_REQUEST_STATUSES))
    userId = fields.String(required=True)
    amount = fields.Decimal(required=True, metadata={"description": "with the currency's minor-unit digits"})
    currency = fields.String(required=True)
    reference = fields.String(required=True)
    reason = fields.String(required=True)
    requestedBy = fields.String(required=True)
    requestedAt = fields.String(required=True)
    decidedBy = fields.String(allow_none=True, required=True)
    decidedAt = fields.String(allow_none=True, required=True)
    decisionReason = fields.String(allow_none=True, required=True)
    transactionId = fields.String(allow_none=True, required=True, metadata={"description": "the entry it posted"})


class AdjustmentPageOut(Schema):
    items = fields.List(fields.Nested(AdjustmentRequestOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class AuditEntryOut(Schema):
    id = fields.String(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True, metadata={"description": "userName, bootstrap, sweeper or cli:<login>"})
    role = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(staff.CHANNELS))
    action = fields.String(required=True)
    target = fields.String(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)
    before = fields.Dict(allow_none=True, required=True)
    after = fields.Dict(allow_none=True, required=True)
    sourceAddress = fields.String(allow_none=True, required=True)


class AuditPageOut(Schema):
    items = fields.List(fields.Nested(AuditEntryOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


def _optional_body(schema: Schema) -> dict[str, Any]:
    return json_body(schema) if request.get_data(cache=True) else schema.load({})


# --------------------------------------------------------------------------- staff


@bp.post("/staff")
@requires("staff.manage")
def create_staff() -> tuple[Response, int]:
    values = json_body(StaffCreate())
    with engine().begin() as conn:
        account, token = staff.create_staff(conn, current_actor(), values["user_name"], values["role"],
                                            values["password"], values["reason"])
    return jsonify(userName=account["userName"], role=account["role"], token=token), 201


@bp.get("/staff")
def list_staff() -> Response:
    with engine().connect() as conn:
        return jsonify(items=staff.list_staff(conn))


@bp.get("/staff/<user_name>")
def get_staff(user_name: str) -> Response:
    with engine().connect() as conn:
        return jsonify(staff.get_staff(conn, user_name))


@bp.patch("/staff/<user_name>")
@requires("staff.manage")
def patch_staff(user_name: str) -> Response:
    values = json_body(StaffPatch())
    with engine().begin() as conn:
        account = staff.update_staff(conn, current_actor(), user_name, role=values["role"], active=values["active"],
                                     reason=values["reason"])
    return jsonify(account)


@bp.post("/staff/<user_name>/tokens")
@requires("staff.manage")
def create_token(user_name: str) -> tuple[Response, int]:
    values = _optional_body(ReasonBody())
    with engine().begin() as conn:
        token_id, token = staff.issue_token(conn, current_actor(), user_name, values["reason"])
    return jsonify(id=token_id, token=token), 201


@bp.delete("/staff/<user_name>/tokens/<token_id>")
@requires("staff.manage")
def revoke_token(user_name: str, token_id: str) -> Response:
    values = _optional_body(ReasonBody())
    with engine().begin() as conn:
        revoked, token = staff.revoke_token(conn, current_actor(), user_name, int(token_id), values["reason"])
    return jsonify({**token, "revoked": revoked})


# --------------------------------------------------------------------------- four eyes


@bp.get("/adjustments")
def list_adjustments() -> Response:
    values = AdjustmentsQuery().load(request.args)
    items, next_cursor = replica(services.list_adjustment_requests, values["status"], values["limit"],
                                 values["cursor"])
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/adjustments/<request_id>")
def get_adjustment(request_id: str) -> Response:
    return jsonify(replica(services.get_adjustment_request, int(request_id)))


def _decide(request_id: str, approve: bool) -> dict[str, Any]:
    values = _optional_body(ReasonBody())
    with engine().begin() as conn:
        return services.decide_adjustment(conn, int(request_id), approve, actor=current_actor(),
                                          reason=values["reason"])


@bp.post("/adjustments/<request_id>/approve")
@requires("adjustment.decide")
def approve_adjustment(request_id: str) -> tuple[Response, int]:
    return jsonify(_decide(request_id, True)), 201


@bp.post("/adjustments/<request_id>/reject")
@requires("adjustment.decide")
def reject_adjustment(request_id: str) -> Response:
    return jsonify(_decide(request_id, False))


# --------------------------------------------------------------------------- audit


def csv_rows(items: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Entries as CSV cells: before and after as compact JSON text."""
    for item in items:
        yield {**item, "before": None if item["before"] is None else dumps(item["before"]),
               "after": None if item["after"] is None else dumps(item["after"])}


@bp.get("/audit")
def search_audit() -> Response:
    values = AuditQuery().load(request.args)
    limit, cursor, fmt = values.pop("limit"), values.pop("cursor"), values.pop("format")
    f = audit.AuditFilter(**values)
    if wants_csv(fmt):
        return _audit_csv(f)
    items, next_cursor = replica(audit.search, f, limit, cursor)
    return jsonify(items=items, nextCursor=next_cursor)


def _audit_csv(f: audit.AuditFilter) -> Response:
    """Every matching entry, streamed (the transactions' CSV mechanism, wallet/admin/export.py)."""
    return export.download(lambda conn, f: csv_rows(audit.iter_entries(conn, f)), f, audit.COLUMNS, "audit")

"""Admin API for the provider integration (docs/protocol.md sections 4 and 11):

    POST /admin/cancel-round                          CancelRound by bet reference or by round
    GET  /admin/cancels[/<id>]                        the cancels sent
    GET  /admin/rounds/<roundId>/provider-status      GetRoundStatus (502 when the provider gives no status)
    POST /admin/players/<userId>/close-session        CloseSession
    GET  /admin/provider/health                       HealthCheck: {up, latencyMs, error}
    GET  /admin/provider/calls[/<id>]                 every call made to the provider, with its attempts
    GET  /admin/stale-rounds                          open rounds nobody finished
    POST /admin/stale-rounds/sweep                    ask the provider about each, cancel the open ones
    GET  /admin/stale-rounds/sweeps[/<id>]            the sweeps run

Its own blueprint, behind the same bearer check and error shape as the rest
of /admin (wallet.admin.blueprint.guard). Handlers parse, call one function of
wallet.provider, and shape the answer; the CLI calls the same functions.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from wallet.admin import reads
from wallet.admin.blueprint import current_actor, error_response, guard, json_body, requires
from wallet.admin.schemas import CURSOR_LENGTH, DbId, Text
from wallet.callbacks.schemas import Ident
from wallet.limits import FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, OPERATOR_NAME_LENGTH
from wallet.provider import calls, service, sweeper
from wallet.provider.client import TOTAL_BUDGET
from wallet.provider.models import CALL_KINDS, CALL_STATUSES

bp = guard(Blueprint("provider_admin", __name__))

# --------------------------------------------------------------------------- input


class _Who(Schema):
    requestedBy = Text(OPERATOR_NAME_LENGTH, min_length=1, load_default=None, attribute="requested_by",
                       metadata={"description": "ignored: the call records the token's person"})
    reason = Text(FREE_TEXT_LENGTH, min_length=1, load_default=None, metadata={"description": "optional"})


class CancelRoundBody(_Who):
    """A bet by `reference` (with `roundId`/`userId` given, they must be its own), or a round by
    `roundId` and `userId` (its earliest unrefunded bet)."""

    reference = Ident(load_default=None)
    roundId = Ident(load_default=None, attribute="round_id")
    userId = Ident(load_default=None, attribute="user_id")

    @validates_schema
    def _names_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("reference") is None and (data.get("round_id") is None or data.get("user_id") is None):
            raise ValidationError("give a bet's reference, or a round's roundId and userId")


class CancelsQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=service.MAX_PAGE))
    cursor = DbId(load_default=None, metadata={"description": "the previous page's nextCursor"})
    reference = Text(IDENTIFIER_LENGTH, load_default=None)


class CallsQuery(CancelsQuery):
    kind = fields.String(load_default=None, validate=validate.OneOf(CALL_KINDS))
    status = fields.String(load_default=None, validate=validate.OneOf(CALL_STATUSES))
    userId = Text(IDENTIFIER_LENGTH, load_default=None, attribute="user_id")
    roundId = Text(IDENTIFIER_LENGTH, load_default=None, attribute="round_id")
    sweepId = DbId(load_default=None, attribute="sweep_id")


class ProviderStatusQuery(Schema):
    userId = Text(IDENTIFIER_LENGTH, load_default=None, attribute="user_id",
                  metadata={"description": "whose round (recorded with the call; not sent)"})


class CloseSessionBody(_Who):
    gameId = Ident(load_default=None, attribute="game_id", metadata={"description": "only this game's session"})


def _hours() -> fields.Float:
    return fields.Float(load_default=24.0, allow_nan=False, attribute="older_than_hours",
                        validate=validate.Range(min=0, max=sweeper.MAX_HOURS),
                        metadata={"description": "a round is stale when its last entry is older than this (hours)"})


class StaleRoundsQuery(Schema):
    olderThanHours = _hours()
    userId = Text(IDENTIFIER_LENGTH, load_default=None, attribute="user_id")
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=sweeper.MAX_PAGE))
    cursor = Text(CURSOR_LENGTH, load_default=None, metadata={"description": "the previous page's nextCursor"})


class SweepBody(_Who):
    olderThanHours = _hours()
    dryRun = fields.Boolean(load_default=False, attribute="dry_run",
                            metadata={"description": "ask the provider, send nothing"})
    limit = fields.Integer(load_default=sweeper.SWEEP_LIMIT, validate=validate.Range(min=1, max=sweeper.SWEEP_LIMIT),
                           metadata={"description": "rounds at most, oldest first"})


class SweepsQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=sweeper.MAX_PAGE))
    cursor = DbId(load_default=None)


# --------------------------------------------------------------------------- answers (OpenAPI)


class AttemptOut(Schema):
    number = fields.Integer(required=True)
    startedAt = fields.String()
    elapsedMs = fields.Integer()
    httpStatus = fields.Integer(allow_none=True)
    exception = fields.String(allow_none=True, metadata={"description": "timeout or connection error, if any"})
    answer = fields.String(allow_none=True, metadata={"description": "the provider's answer body as received"})
    problem = fields.String(allow_none=True, metadata={"description": "why this attempt was not the final answer"})


class _CallOut(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CALL_STATUSES))
    uuid = fields.String(required=True, metadata={"description": "the call's uuid, reused by every retry"})
    requestedBy = fields.String()
    reason = fields.String(allow_none=True)
    userId = fields.String(allow_none=True)
    roundId = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    sweepId = fields.String(allow_none=True)
    error = fields.Integer(allow_none=True, metadata={"description": "the provider's final error code"})
    description = fields.String(allow_none=True, metadata={"description": "the provider's, or why it gave none"})
    createdAt = fields.String()
    finishedAt = fields.String(allow_none=True)
    attemptCount = fields.Integer()
    request = fields.Dict(metadata={"description": "the body as sent, the token shown as ***"})
    attempts = fields.List(fields.Nested(AttemptOut))


class CancelOut(_CallOut):
    """A stored cancel: the list shows attemptCount; the single record its request body and attempts."""

    betTransactionId = fields.String()


class CancelPageOut(Schema):
    items = fields.List(fields.Nested(CancelOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class CallOut(_CallOut):
    kind = fields.String(required=True, validate=validate.OneOf(CALL_KINDS))
    answer = fields.Dict(allow_none=True, metadata={"description": "the provider's final answer"})


class CallPageOut(Schema):
    items = fields.List(fields.Nested(CallOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class RoundStatusOut(Schema):
    """The provider's answer as it sent it (its field names, any case)."""

    class Meta:
        unknown = INCLUDE

    error = fields.Integer(required=True)
    description = fields.String()
    roundId = fields.String()
    betAmount = fields.Decimal()
    winAmount = fields.Decimal()
    roundStatus = fields.String(metadata={"description": "InProgress, Completed, Canceled, CompleteInProcess, "
                                                         "CancelInProcess (any case)"})
    currency = fields.String()


class HealthOut(Schema):
    up = fields.Boolean(required=True)
    latencyMs = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)


class StaleRoundOut(Schema):
    roundId = fields.String(required=True)
    userId = fields.String(required=True)
    gameId = fields.String(allow_none=True)
    currency = fields.String(required=True)
    openBets = fields.Integer(required=True, metadata={"description": "bets not refunded"})
    openAmount = fields.Decimal(required=True, metadata={"description": "their stakes, held by the round"})
    createdAt = fields.String()
    lastEntryAt = fields.String()
    lastCancel = fields.Dict(allow_none=True, metadata={"description": "the round's latest CancelRound: id, status"})


class StaleRoundPageOut(Schema):
    items = fields.List(fields.Nested(StaleRoundOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class SweepItemOut(Schema):
    roundId = fields.String(required=True)
    userId = fields.String(required=True)
    providerStatus = fields.String(allow_none=True, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(sweeper.OUTCOMES))
    statusCallId = fields.String(allow_none=True)
    cancelCallId = fields.String(allow_none=True)


class SweepOut(Schema):
    rounds = fields.List(fields.Nested(SweepItemOut), required=True)


class SweepSummaryOut(Schema):
    id = fields.String(required=True)
    requestedBy = fields.String()
    reason = fields.String(allow_none=True)
    olderThanHours = fields.Float()
    dryRun = fields.Boolean()
    roundsFound = fields.Integer()
    cancelsSent = fields.Integer()
    startedAt = fields.String()
    finishedAt = fields.String(allow_none=True)


class SweepRecordOut(SweepSummaryOut):
    rounds = fields.List(fields.Nested(SweepItemOut), required=True)


class SweepPageOut(Schema):
    items = fields.List(fields.Nested(SweepSummaryOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


# --------------------------------------------------------------------------- handlers


def _engine() -> Any:
    return current_app.extensions["wallet.engine"]


def _settings() -> Any:
    return current_app.config["WALLET_SETTINGS"]


def staff(values: dict[str, Any]) -> str:
    """Who asks, as a provider call records it: the authenticated actor (a body's requestedBy is ignored)."""
    return current_actor().name


def _optional_body(schema: Schema) -> dict[str, Any]:
    """A body that may be left out altogether (no fields to give)."""
    return json_body(schema) if request.get_data(cache=True) else schema.load({})


@bp.post("/cancel-round")
@requires("round.cancel")
def cancel_round() -> tuple[Response, int]:
    """Synchronous: answers once the provider has (or has not, within the time budget)."""
    values = json_body(CancelRoundBody())
    record = service.request_cancel(_engine(), _settings(), values["reference"], round_id=values["round_id"],
                                    user_id=values["user_id"], actor=current_actor(), reason=values["reason"])
    return jsonify(record), 201


@bp.get("/cancels")
def list_cancels() -> Response:
    values = CancelsQuery().load(request.args)
    with reads.connect() as conn:
        items, next_cursor = service.list_cancels(conn, **values)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/cancels/<cancel_id>")
def get_cancel(cancel_id: str) -> Response:
    with reads.connect() as conn:
        return jsonify(service.get_cancel(conn, cancel_id))


@bp.get("/rounds/<round_id>/provider-status")
def provider_status(round_id: str) -> tuple[Response, int] | Response:
    """The provider's answer (200) when it gave a round status; else 502 with the reason."""
    values = ProviderStatusQuery().load(request.args)
    outcome = calls.round_status(_engine(), _settings(), round_id, user_id=values["user_id"],
                                 requested_by=staff({}))
    if outcome.status == "confirmed" and outcome.answer is not None:
        return jsonify(outcome.answer.as_dict())
    if outcome.answer is not None:
        description = f"the provider answered error {outcome.answer.error}: {outcome.description}"
    else:
        description = f"the provider gave no round status: {outcome.description}"
    return error_response(502, description, kind="badgateway", callId=str(outcome.call_id))


@bp.post("/players/<user_id>/close-session")
@requires("player.controls")
def close_session(user_id: str) -> tuple[Response, int]:
    values = _optional_body(CloseSessionBody())
    record = calls.close_session(_engine(), _settings(), user_id, game_id=values["game_id"],
                                 actor=current_actor(), reason=values["reason"])
    return jsonify(record), 201


@bp.get("/provider/health")
def provider_health() -> Response:
    return jsonify(calls.health(_engine(), _settings(), requested_by=staff({})))


@bp.get("/provider/calls")
def list_calls() -> Response:
    values = CallsQuery().load(request.args)
    with reads.connect() as conn:
        items, next_cursor = calls.list_calls(conn, **values)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/provider/calls/<call_id>")
def get_call(call_id: str) -> Response:
    with reads.connect() as conn:
        return jsonify(calls.get_call(conn, call_id))


@bp.get("/stale-rounds")
def stale_rounds() -> Response:
    values = StaleRoundsQuery().load(request.args)
    with reads.connect() as conn:
        items, next_cursor = sweeper.stale_rounds(conn, values.pop("older_than_hours"), **values)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.post("/stale-rounds/sweep")
@requires("round.cancel")
def sweep() -> Response:
    """Synchronous, within the admin request's time budget; the sweep's record is at Location."""
    values = _optional_body(SweepBody())
    result = sweeper.sweep(_engine(), _settings(), older_than_hours=values["older_than_hours"],
                           dry_run=values["dry_run"], actor=current_actor(), reason=values["reason"],
                           limit=values["limit"], budget=TOTAL_BUDGET)
    response = jsonify(rounds=result["rounds"])
    response.headers["Location"] = f"/admin/stale-rounds/sweeps/{result['id']}"
    return response


@bp.get("/stale-rounds/sweeps")
def list_sweeps() -> Response:
    values = SweepsQuery().load(request.args)
    with reads.connect() as conn:
        items, next_cursor = sweeper.list_sweeps(conn, **values)
    return jsonify(items=items, nextCursor=next_cursor)


@bp.get("/stale-rounds/sweeps/<sweep_id>")
def get_sweep(sweep_id: str) -> Response:
    with reads.connect() as conn:
        return jsonify(sweeper.get_sweep(conn, sweep_id))

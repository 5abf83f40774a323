"""Query and answer schemas of GET /admin/requests and GET /admin/rounds (wallet/admin/history_api.py)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from wallet.admin.history import ROUND_STATUSES
from wallet.admin.schemas import PageQuery, Text, UtcDateTime, _Answer
from wallet.callbacks.schemas import METHOD_NAMES
from wallet.limits import IDENTIFIER_LENGTH

_FORMAT_HELP = "csv streams every match (limit and cursor ignored); so does Accept: text/csv"


class CallbackMethod(fields.String):
    """A callback's name in any case (Bet, bet, PromoWin), given as the log stores it: lower case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"description": ", ".join(METHOD_NAMES.values()) + " (any case)"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs).lower()
        if name not in METHOD_NAMES:
            raise ValidationError(f"must be one of {', '.join(METHOD_NAMES.values())}")
        return name


class _Listing(PageQuery):
    since = UtcDateTime(data_key="from", metadata={"description": "ISO 8601, inclusive"})
    until = UtcDateTime(data_key="to", metadata={"description": "ISO 8601, exclusive"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": _FORMAT_HELP})


class RequestQuery(_Listing):
    userId = Text(IDENTIFIER_LENGTH, attribute="user_id")
    reference = Text(IDENTIFIER_LENGTH)
    method = CallbackMethod()
    error = fields.Integer(validate=validate.Range(min=0, max=99999),
                           metadata={"description": "the error code answered (0: success)"})
    uuid = Text(IDENTIFIER_LENGTH)


class RoundsQuery(_Listing):
    status = fields.String(validate=validate.OneOf(ROUND_STATUSES), metadata={
        "description": "open (no Result yet), settled (a Result), ended (EndRound), cancelled"})
    userId = Text(IDENTIFIER_LENGTH, attribute="user_id")


class RequestOut(_Answer):
    createdAt = fields.String(required=True)
    method = fields.String(required=True)
    uuid = fields.String(allow_none=True, required=True, metadata={"description": "null when unreadable"})
    userId = fields.String(allow_none=True, required=True)
    reference = fields.String(allow_none=True, required=True)
    error = fields.Integer(required=True)
    description = fields.String(allow_none=True, required=True)
    replayable = fields.Boolean(required=True, metadata={
        "description": "the answer is stored: a retransmission of the uuid gets it again"})


class RequestPageOut(_Answer):
    items = fields.List(fields.Nested(RequestOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class RoundListOut(_Answer):
    roundId = fields.String(required=True)
    userId = fields.String(required=True)
    gameId = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(ROUND_STATUSES))
    createdAt = fields.String(required=True)
    updatedAt = fields.String(required=True)


class RoundPageOut(_Answer):
    items = fields.List(fields.Nested(RoundListOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)

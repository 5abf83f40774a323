"""Admin API input schemas (marshmallow). Errors answer 422 with the field messages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from wallet.callbacks.schemas import Ident
from wallet.money import AmountError, parse_signed_amount


class SignedAmount(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_signed_amount(value)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


class PlayerCreate(Schema):
    userId = Ident(required=True, attribute="user_id")
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


class Adjustment(Schema):
    amount = SignedAmount(required=True)
    reference = Ident(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class StatusPatch(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "frozen"]))


class TransactionQuery(Schema):
    userId = fields.String(attribute="user_id")
    roundId = fields.String(attribute="round_id")
    reference = fields.String()
    type = fields.String(validate=validate.OneOf(["bet", "win", "refund", "adjustment"]))
    # `from`/`to` are Python keywords: declared with data_key.
    since = fields.AwareDateTime(data_key="from", default_timezone=None)
    until = fields.AwareDateTime(data_key="to", default_timezone=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None)

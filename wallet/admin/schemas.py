"""Admin API input schemas (marshmallow). Errors answer 422 with the field messages."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from wallet.admin.queries import MAX_PAGE, STATUS_TYPES, STATUSES, TYPES
from wallet.callbacks.schemas import Ident
from wallet.money import AmountError, parse_signed_amount

STATUS_HELP = "; ".join(f"{status}: {'/'.join(types)}" for status, types in STATUS_TYPES.items())


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


class PageQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"page size, 1..{MAX_PAGE}"})
    cursor = fields.String(load_default=None, metadata={"description": "opaque; the previous page's nextCursor"})


class EntryType(fields.String):
    """An entry type; `result` (the provider's name for the callback that pays a win) means `win`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(TYPES), metadata={"description": "bet, win (or result), refund, "
                                                                                  "adjustment"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).lower()
        return "win" if text == "result" else text


class TransactionQuery(PageQuery):
    userId = fields.String(attribute="user_id")
    roundId = fields.String(attribute="round_id")
    reference = fields.String()
    type = EntryType()
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": STATUS_HELP})
    # `from`/`to` are Python keywords: declared with data_key. A time without a zone is UTC.
    since = fields.AwareDateTime(data_key="from", default_timezone=UTC,
                                 metadata={"description": "ISO 8601, inclusive"})
    until = fields.AwareDateTime(data_key="to", default_timezone=UTC, metadata={"description": "ISO 8601, exclusive"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv streams every match (limit and cursor ignored); "
                                                    "so does Accept: text/csv"})


class ReportQuery(Schema):
    since = fields.Date(data_key="from", required=True, metadata={"description": "first UTC day, inclusive"})
    until = fields.Date(data_key="to", required=True, metadata={"description": "last UTC day, inclusive"})


# ----------------------------------------------------------------------------- answers
# Documentation of what the queries return (OpenAPI); tests load real answers through them.

def Money() -> fields.Decimal:  # noqa: N802 - reads like the field classes it stands beside
    return fields.Decimal(required=True, metadata={"description": "JSON number with the currency's minor-unit digits"})


class _Answer(Schema):
    class Meta:
        unknown = RAISE


class ErrorOut(_Answer):
    error = fields.String(required=True)
    description = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields")


class PlayerOut(_Answer):
    userId = fields.String(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "frozen"]))
    balance = Money()
    createdAt = fields.String(allow_none=True)


class TransactionOut(_Answer):
    transactionId = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reference = fields.String(required=True)
    userId = fields.String(required=True)
    roundId = fields.String(allow_none=True)
    amount = Money()
    balanceAfter = Money()
    currency = fields.String(required=True)
    refundedBy = fields.String(allow_none=True)
    sessionId = fields.String(allow_none=True)
    gameId = fields.String(allow_none=True)
    gameName = fields.String(allow_none=True)
    uuid = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    createdAt = fields.String(allow_none=True)


class TransactionDetailOut(TransactionOut):
    reversedBy = fields.List(fields.Nested(TransactionOut), metadata={"description": "a bet's refund"})
    reverses = fields.List(fields.Nested(TransactionOut), metadata={"description": "a refund's bets"})


class TransactionPageOut(_Answer):
    items = fields.List(fields.Nested(TransactionOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class ReferenceOut(_Answer):
    reference = fields.String(required=True)
    items = fields.List(fields.Nested(TransactionDetailOut), required=True)


class HistoryOut(PlayerOut):
    items = fields.List(fields.Nested(TransactionOut), required=True)
    nextCursor = fields.String(allow_none=True, required=True)


class RoundTotalsOut(_Answer):
    bets, wins, refunds, net = Money(), Money(), Money(), Money()


class RoundQuery(Schema):
    userId = fields.String(metadata={"description": "whose round, when several players have one with this id"})


class RoundOut(_Answer):
    roundId = fields.String(required=True)
    userId = fields.String(required=True)
    gameId = fields.String(allow_none=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "cancelled", "ended"]))
    hasResult = fields.Boolean(required=True)
    createdAt = fields.String(allow_none=True)
    totals = fields.Nested(RoundTotalsOut)
    bets = fields.List(fields.Nested(TransactionOut))
    results = fields.List(fields.Nested(TransactionOut))
    refunds = fields.List(fields.Nested(TransactionOut))
    entries = fields.List(fields.Nested(TransactionOut))
    cancelRequests = fields.List(fields.Dict(), metadata={"description": "the operator's CancelRound requests"})


class CountSumOut(_Answer):
    count = fields.Integer(required=True)
    sum = Money()


class ReportRowOut(_Answer):
    day = fields.String(metadata={"description": "UTC day; absent in totals"})
    currency = fields.String(required=True)
    bets, wins, refunds, adjustments = (fields.Nested(CountSumOut) for _ in range(4))
    ggr = Money()


class DailyReportOut(_Answer):
    from_ = fields.String(data_key="from")
    to = fields.String()
    days = fields.List(fields.Nested(ReportRowOut))
    totals = fields.List(fields.Nested(ReportRowOut))


class ReconciliationOut(_Answer):
    ok = fields.Boolean(required=True)
    mismatches = fields.List(fields.Dict(), required=True, metadata={
        "description": "each has `kind`: balance_differs_from_entries, balance_differs_from_last_entry, "
                       "refund_does_not_net_bet, bet_reversed_twice, refund_amount_differs_from_bets"})

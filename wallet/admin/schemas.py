"""Admin API input schemas (marshmallow). Errors answer 422 with the field messages.

Every value that reaches a query or a write is checked here first, against the
limits the database itself enforces (wallet/limits.py, the numbers the columns
are built from): text holds no NUL and no unpaired surrogate (PostgreSQL
refuses both) and is no longer than its column, ids and cursors fit a bigint,
times stay inside the calendar once converted to UTC, and an amount is exact
in at most MAX_MINOR_DIGITS decimals. A value the database could not take is
a 422 here, never a database error later.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from wallet.admin.queries import MAX_PAGE, STATUS_TYPES, STATUSES, TYPES
from wallet.callbacks.schemas import Ident
from wallet.jsonutil import text_problem
from wallet.limits import BIGINT_MAX, FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, MAX_MINOR_DIGITS
from wallet.money import AmountError, parse_signed_amount

STATUS_HELP = "; ".join(f"{status}: {'/'.join(types)}" for status, types in STATUS_TYPES.items())

# An opaque page cursor: base64 of a short key (today "tx:<id>", about 30 characters).
CURSOR_LENGTH = 64
# An amount as signed plain decimal text: no exponent, no blanks, no plus sign, nothing around it.
SIGNED_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# A database id (a bigint key, positive) as text.
_DB_ID = re.compile(r"[0-9]{1,19}")


def is_db_id(text: str) -> bool:
    """True when `text` is ASCII digits naming a positive bigint: an id that may exist."""
    return bool(_DB_ID.fullmatch(text)) and 0 < int(text) <= BIGINT_MAX


def _storable(value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise ValidationError(problem)


class Text(fields.String):
    """A string the database can store: no NUL, no unpaired surrogate, at most `max_length` characters
    (documented in the OpenAPI document as maxLength, from the same validator)."""

    def __init__(self, max_length: int, min_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(validate=[validate.Length(min=min_length, max=max_length), _storable], **kwargs)


class DbId(fields.String):
    """A bigint id given as text (a query parameter): ASCII digits, 1 to 2**63 - 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(r"^[0-9]{1,19}$"), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_db_id(text):
            raise ValidationError("must be a positive integer below 2**63 (ASCII digits)")
        return text


def decimal_places(value: Decimal) -> int:
    """Digits after the point once trailing zeros are dropped ("1.500" has 1), exactly: no context,
    no rounding, whatever the exponent."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    significant = len(digits)
    while significant and digits[significant - 1] == 0:
        significant -= 1
    if not significant:  # zero, however written
        return 0
    return max(0, -(exponent + len(digits) - significant))


class SignedAmount(fields.Field):
    """A signed amount: a plain decimal string ("-12.50") or a JSON number, finite, below
    MAX_AMOUNT in magnitude, with at most MAX_MINOR_DIGITS decimals. The player's currency is
    checked when the adjustment posts (more decimals than it has: 422); nothing is ever rounded."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str) and not SIGNED_PLAIN_DECIMAL.fullmatch(value):
            raise ValidationError("must be a plain decimal number such as 12.50 or -12.50 "
                                  "(no exponent, blanks or other characters)")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValidationError("must be a finite number (not NaN or Infinity)")
        try:
            amount = parse_signed_amount(value)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc
        except ArithmeticError as exc:  # a decimal signal: nothing a retry or a rounding could fix
            raise ValidationError("is not a number the wallet can hold") from exc
        if not amount.is_finite():
            raise ValidationError("must be a finite number (not NaN or Infinity)")
        if decimal_places(amount) > MAX_MINOR_DIGITS:
            raise ValidationError(f"has more than {MAX_MINOR_DIGITS} decimal places, more than any currency "
                                  "has; amounts are never rounded")
        return amount


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time (without a zone: UTC), converted to UTC; a time that falls outside the
    calendar once converted (0001-01-01T00:00+01:00) is invalid, not an overflow."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("is outside 0001-01-01 to 9999-12-31 once converted to UTC") from exc


class PlayerCreate(Schema):
    userId = Ident(required=True, attribute="user_id")
    currency = fields.String(required=True,
                             validate=validate.Regexp(r"^[A-Z]{3}\Z", error="must be an ISO 4217 alphabetic code"),
                             metadata={"description": "ISO 4217 alphabetic code", "pattern": "^[A-Z]{3}$"})
    reason = Text(FREE_TEXT_LENGTH, min_length=1, load_default=None, allow_none=True,
                  metadata={"description": "why (optional; kept in the audit trail)"})


class Adjustment(Schema):
    amount = SignedAmount(required=True, metadata={
        "description": "signed plain decimal (a string, or a JSON number) with at most the currency's "
                       "minor-unit digits", "pattern": SIGNED_PLAIN_DECIMAL.pattern.join("^$")})
    reference = Ident(required=True)
    reason = Text(FREE_TEXT_LENGTH, min_length=1, required=True)


class StatusPatch(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "frozen"]))
    reason = Text(FREE_TEXT_LENGTH, min_length=1, required=True,
                  metadata={"description": "why (required; kept in the audit trail)"})


class PageQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE),
                           metadata={"description": f"page size, 1..{MAX_PAGE}"})
    cursor = Text(CURSOR_LENGTH, load_default=None, metadata={"description": "opaque; the previous page's nextCursor"})


# The provider's callback names for the entry kinds they write, accepted as types too.
TYPE_ALIASES = {"result": "win", "promowin": "promo", "jackpotwin": "jackpot", "bonuswin": "bonus"}


class EntryType(fields.String):
    """An entry type, in any case; the provider's callback names mean the kind they write (`result` is
    `win`, `promowin` is `promo`, `jackpotwin` is `jackpot`, `bonuswin` is `bonus`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(TYPES), metadata={"description": ", ".join(TYPES) + (
            "; also result (win), promowin, jackpotwin, bonuswin")}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).lower()
        return TYPE_ALIASES.get(text, text)


class TransactionQuery(PageQuery):
    userId = Text(IDENTIFIER_LENGTH, attribute="user_id")
    roundId = Text(IDENTIFIER_LENGTH, attribute="round_id")
    reference = Text(IDENTIFIER_LENGTH)
    type = EntryType()
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": STATUS_HELP})
    # `from`/`to` are Python keywords: declared with data_key. A time without a zone is UTC.
    since = UtcDateTime(data_key="from", metadata={"description": "ISO 8601, inclusive"})
    until = UtcDateTime(data_key="to", metadata={"description": "ISO 8601, exclusive"})
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


def _player_limits_out() -> Schema:
    from wallet.admin.controls_schemas import PlayerLimitsOut  # here: that module imports this one

    return PlayerLimitsOut()


class PlayerOut(_Answer):
    userId = fields.String(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "frozen"]))
    balance = Money()
    createdAt = fields.String(allow_none=True)
    # GET /admin/players/<userId> only:
    excludedUntil = fields.String(allow_none=True, metadata={"description": "the self-exclusion's end, if any"})
    limits = fields.Nested(_player_limits_out, metadata={"description": "as GET /admin/players/{userId}/limits"})


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
    campaignId = fields.String(allow_none=True, metadata={"description": "promo: the campaign"})
    campaignType = fields.String(allow_none=True, metadata={
        "description": "promo: T (tournament), CJP (community jackpot), CB (cashback) or another as given"})
    jackpotId = fields.String(allow_none=True, metadata={"description": "jackpot: the jackpot"})
    bonusCode = fields.String(allow_none=True, metadata={"description": "bonus: the free-round bonus"})
    announcedAmount = fields.Decimal(required=True, allow_none=True, metadata={
        "description": "promo, jackpot, bonus: the amount the provider announced (null for other kinds)"})
    recordedNotCredited = fields.Boolean(required=True, metadata={
        "description": "true for a bonus win recorded for 0.00 and not credited (WALLET_BONUS_WIN=record); "
                       "announcedAmount is what it announced"})


class TransactionDetailOut(TransactionOut):
    reversedBy = fields.List(fields.Nested(TransactionOut), metadata={"description": "a bet's refund or cancel"})
    reverses = fields.List(fields.Nested(TransactionOut), metadata={"description": "a refund's or cancel's bets"})


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
    bets, wins, refunds, cancels = Money(), Money(), Money(), Money()
    prizes = fields.Decimal(required=True, metadata={"description": "promo and jackpot entries linked to the round"})
    net = fields.Decimal(required=True, metadata={"description": "the player's net: the sum of every signed entry"})


class RoundQuery(Schema):
    userId = Text(IDENTIFIER_LENGTH, attribute="user_id", load_default=None,
                  metadata={"description": "whose round, when several players have one with this id"})


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
    cancels = fields.List(fields.Nested(TransactionOut))
    prizes = fields.List(fields.Nested(TransactionOut), metadata={
        "description": "promo (a Result's promoWinAmount) and jackpot entries linked to the round"})
    entries = fields.List(fields.Nested(TransactionOut))
    cancelRequests = fields.List(fields.Dict(), metadata={"description": "the operator's CancelRound requests"})


class CountSumOut(_Answer):
    count = fields.Integer(required=True)
    sum = Money()


class BonusCountSumOut(CountSumOut):
    announced = fields.Decimal(required=True, metadata={"description": "sum of the amounts announced"})
    recordedNotCredited = fields.Integer(required=True, metadata={
        "description": "bonus wins recorded for 0.00 (WALLET_BONUS_WIN=record): 0 in sum, in announced"})


class ReportRowOut(_Answer):
    day = fields.String(metadata={"description": "UTC day; absent in totals"})
    currency = fields.String(required=True)
    bets, wins, refunds, cancels, promo, jackpot, adjustments = (fields.Nested(CountSumOut, required=True)
                                                                 for _ in range(7))
    bonus = fields.Nested(BonusCountSumOut, required=True)
    ggr = fields.Decimal(required=True, metadata={
        "description": "bets - wins - refunds - cancels; promo, jackpot and bonus are beside it, not inside"})


class DailyReportOut(_Answer):
    from_ = fields.String(data_key="from")
    to = fields.String()
    days = fields.List(fields.Nested(ReportRowOut))
    totals = fields.List(fields.Nested(ReportRowOut))


class BonusWinRecordedOut(_Answer):
    transactionId = fields.String(required=True)
    userId = fields.String(required=True)
    reference = fields.String(required=True)
    bonusCode = fields.String(allow_none=True)
    announced = fields.Decimal(required=True, metadata={"description": "the amount the BonusWin announced"})
    currency = fields.String(required=True)
    createdAt = fields.String(allow_none=True)


class ReconciliationOut(_Answer):
    ok = fields.Boolean(required=True)
    mismatches = fields.List(fields.Dict(), required=True, metadata={
        "description": "each has `kind`: balance_differs_from_entries, balance_differs_from_last_entry, "
                       "refund_does_not_net_bet, bet_reversed_twice, refund_amount_differs_from_bets "
                       "(a refund's or a cancel's)"})
    bonusWinsRecorded = fields.List(fields.Nested(BonusWinRecordedOut), required=True, metadata={
        "description": "bonus wins recorded, not credited (WALLET_BONUS_WIN=record): not mismatches, listed apart"})

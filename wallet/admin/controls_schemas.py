"""Schemas of the operator controls' admin API (wallet/admin/controls_api.py): what it accepts, and
what it answers (documented in the OpenAPI document; the tests load real answers through them).

A limit is an amount as for adjustments, but never negative: a plain decimal string ("100.00") or
a JSON number, exact, at most MAX_MINOR_DIGITS decimals here and at most the player's currency's
when it is stored (wallet/controls/service.py: more is 422, never rounded). `null` removes a limit;
a field left out stays as it is. `excludedUntil` is ISO 8601 with an offset (or Z).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from wallet.admin.schemas import Text, decimal_places
from wallet.controls.service import KEEP, LIMITS, MAX_REALITY_CHECK_MINUTES, PERIODS
from wallet.limits import FREE_TEXT_LENGTH, MAX_MINOR_DIGITS
from wallet.money import AmountError, parse_amount

# A limit as text: digits with an optional fraction; no sign, exponent, blanks or anything around it.
PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
REASON_HELP = f"why (required for every change; 1 to {FREE_TEXT_LENGTH} characters); logged with the change"


class LimitAmount(fields.Field):
    """A limit's amount: a non-negative plain decimal string or JSON number, exact; null removes."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value):
            raise ValidationError("must be a non-negative plain decimal number such as 100.00 "
                                  "(no sign, exponent, blanks or other characters)")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValidationError("must be a finite number (not NaN or Infinity)")
        try:
            amount = parse_amount(value)
        except AmountError as exc:
            raise ValidationError(str(exc).replace("amount", "a limit", 1)) from exc
        except ArithmeticError as exc:
            raise ValidationError("is not a number the wallet can hold") from exc
        if decimal_places(amount) > MAX_MINOR_DIGITS:  # parse_amount already refuses it; said plainly
            raise ValidationError(f"has more than {MAX_MINOR_DIGITS} decimal places; amounts are never rounded")
        return amount


def _limit(description: str) -> LimitAmount:
    return LimitAmount(allow_none=True, metadata={
        "description": f"{description}; a non-negative decimal (string or number) with at most the "
                       "currency's minor-unit digits; null removes it",
        "pattern": PLAIN_DECIMAL.pattern.join("^$")})


class StrictBoolean(fields.Boolean):
    """true or false, the JSON literals only (not 1, "yes", "true")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class AwareTime(fields.AwareDateTime):
    """An ISO 8601 time with its offset (or Z), converted to UTC; a time without one is invalid, and so is
    one from 9999-12-31T00:00Z on (stored, it could not be read back in a session east of UTC)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", error_messages={
            "invalid_awareness": "must carry its offset (2027-01-31T00:00:00+01:00, or Z for UTC)"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError("is outside 0001-01-01 to 9999-12-31 once converted to UTC") from exc
        if moment >= datetime(9999, 12, 31, tzinfo=UTC):  # read back in a zone east of UTC it would be year 10000
            raise ValidationError("must be before 9999-12-31T00:00:00Z (later is past the calendar in some zones)")
        return moment


class PeriodLimits(Schema):
    class Meta:
        unknown = RAISE

    day = _limit("the calendar day's limit")
    week = _limit("the calendar week's (Monday to Sunday)")
    month = _limit("the calendar month's")


class LimitsPut(Schema):
    """PUT /admin/players/<userId>/limits: fields given change, fields absent stay, null removes."""

    class Meta:
        unknown = RAISE

    maxBet = _limit("the largest single bet (310 above it)")
    lossLimit = fields.Nested(PeriodLimits, allow_none=True, metadata={
        "description": "net loss per period (50 beyond it); null removes all three"})
    wagerLimit = fields.Nested(PeriodLimits, allow_none=True, metadata={
        "description": "bets less refunds and cancels per period (50 beyond it); null removes all three"})
    realityCheckMinutes = fields.Integer(strict=True, allow_none=True,
                                         validate=validate.Range(min=1, max=MAX_REALITY_CHECK_MINUTES), metadata={
                                             "description": "a reality check (210) every N minutes of a session; "
                                                            "changes at once; null removes it"})
    excludedUntil = AwareTime(allow_none=True, metadata={
        "description": "self-exclusion until then (6 on Check and Bet): set or extend, never shorten or remove "
                       "while it runs (409); must be in the future (422)"})
    reason = Text(FREE_TEXT_LENGTH, min_length=1, required=True, metadata={"description": REASON_HELP})


def limit_changes(values: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """LimitsPut's output as wallet.controls.service.set_limits takes it: (limits by database name,
    excluded_until or KEEP)."""
    changes: dict[str, Any] = {}
    if "maxBet" in values:
        changes[LIMITS["maxBet"]] = values["maxBet"]
    for group in ("lossLimit", "wagerLimit"):
        if group not in values:
            continue
        periods = values[group]
        for period in PERIODS:
            if periods is None:
                changes[LIMITS[f"{group}.{period}"]] = None
            elif period in periods:
                changes[LIMITS[f"{group}.{period}"]] = periods[period]
    if "realityCheckMinutes" in values:
        changes[LIMITS["realityCheckMinutes"]] = values["realityCheckMinutes"]
    return changes, values.get("excludedUntil", KEEP)


class GamePatch(Schema):
    class Meta:
        unknown = RAISE

    enabled = StrictBoolean(required=True, metadata={"description": "false: its Bets get 8; wins, refunds and "
                                                                    "cancels in it are processed as usual"})
    reason = Text(FREE_TEXT_LENGTH, min_length=1, required=True, metadata={"description": REASON_HELP})


class GamesQuery(Schema):
    enabled = fields.Boolean(load_default=None, metadata={"description": "only the enabled (true) or "
                                                                         "disabled (false) games"})


# --------------------------------------------------------------------------- answers


class _Answer(Schema):
    class Meta:
        unknown = RAISE


class GameOut(_Answer):
    gameId = fields.String(required=True)
    gameName = fields.String(allow_none=True, required=True)
    enabled = fields.Boolean(required=True)
    firstSeenAt = fields.String(required=True, metadata={"description": "its first Bet"})
    updatedAt = fields.String(required=True)


class GameListOut(_Answer):
    items = fields.List(fields.Nested(GameOut), required=True, metadata={"description": "by gameId"})


def _money(description: str) -> fields.Decimal:
    return fields.Decimal(allow_none=True, required=True, metadata={
        "description": f"{description}; a JSON number with the currency's minor-unit digits, null: no limit"})


class PeriodLimitsOut(_Answer):
    day = _money("in force today")
    week = _money("in force this week")
    month = _money("in force this month")


class PendingLimitOut(_Answer):
    limit = fields.String(required=True, validate=validate.OneOf(list(LIMITS)), metadata={
        "description": "which: maxBet, lossLimit.day, ..., wagerLimit.month"})
    value = fields.Decimal(allow_none=True, required=True, metadata={"description": "the new value (null: removed)"})
    effectiveAt = fields.String(required=True, metadata={"description": "when the cooling-off period ends"})


class PlayerLimitsOut(_Answer):
    userId = fields.String(required=True)
    currency = fields.String(required=True)
    maxBet = _money("the largest single bet")
    lossLimit = fields.Nested(PeriodLimitsOut, required=True)
    wagerLimit = fields.Nested(PeriodLimitsOut, required=True)
    realityCheckMinutes = fields.Integer(allow_none=True, required=True)
    excludedUntil = fields.String(allow_none=True, required=True, metadata={
        "description": "the self-exclusion's end (ISO 8601, UTC), also once it has passed"})
    selfExcluded = fields.Boolean(required=True, metadata={"description": "excludedUntil is in the future"})
    pending = fields.List(fields.Nested(PendingLimitOut), required=True, metadata={
        "description": "loosenings waiting for their cooling-off period; the values above stay in force until then"})
    timezone = fields.String(required=True, metadata={
        "description": "WALLET_TIMEZONE: the days, weeks (from Monday) and months of the limits"})

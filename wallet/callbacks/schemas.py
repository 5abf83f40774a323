"""Parse, normalise and validate provider callbacks (marshmallow).

Field names are matched case-insensitively; unknown fields are ignored. A
missing, null or ill-typed field is error 7; an amount that is present but
not money in plain decimal notation (wallet/money.py) is error 10 (its
precision is checked against the wallet's currency later, by the ledger).

Every limit the database enforces is checked here first, from the constants
that define the columns (wallet/limits.py), so that such a request gets a
final 7 (or 10) and never reaches the database to fail there for ever:
identifiers at most 128 characters, sessionId 256, timeStamp 1,024,
roundDetails 64 KiB of UTF-8 once serialised, no NUL and no unpaired
surrogate in any text. The body as a whole (depth, duplicate keys, text in
fields the wallet ignores) was checked by wallet.jsonutil.loads.

The same field given twice with different values, in one spelling or two
(`amount` and `Amount`), is 7; "different" is as written: `1` and `"1"`,
`1` and `1.0`, `null` and a value all differ (jsonutil.same_json). The same
holds for the fields the wallet ignores, because the body hash folds the case
of field names.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from wallet.jsonutil import dumps, same_json, text_problem
from wallet.ledger.outcomes import Code
from wallet.ledger.requests import CallbackRequest
from wallet.limits import FREE_JSON_BYTES, FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, SESSION_ID_LENGTH
from wallet.money import AmountError, is_currency_code, parse_amount

def clean_text(value: str) -> str:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates)."""
    problem = text_problem(value)
    if problem:
        raise ValidationError(problem)
    return value


class Ident(fields.Field):
    """An identifier: a non-empty string (a JSON integer is accepted and kept as its digits)."""

    def __init__(self, max_length: int = IDENTIFIER_LENGTH, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        value = clean_text(value)
        if not value.strip():
            raise ValidationError("must not be empty")
        if len(value) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters")
        return value


class Currency(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not is_currency_code(value.strip().upper()):
            raise ValidationError("must be an ISO 4217 alphabetic code")
        return value.strip().upper()


class Amount(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_amount(value)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


class Details(fields.Field):
    """Free-form text or JSON, stored as given (JSON re-serialised compactly), at most `max_chars`
    characters or `max_bytes` bytes of UTF-8 once serialised."""

    def __init__(self, max_chars: int | None = None, max_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_chars = max_chars
        self.max_bytes = max_bytes

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            text = clean_text(value)
        else:
            try:
                text = dumps(value)  # ASCII: any NUL or surrogate inside is written as an escape
            except ValueError as exc:  # NaN or Infinity (JSON's parser here reads them as Decimal)
                raise ValidationError("must not contain NaN or Infinity") from exc
            except RecursionError as exc:  # jsonutil.loads refuses such bodies first
                raise ValidationError("is nested too deeply") from exc
        if self.max_chars is not None and len(text) > self.max_chars:
            raise ValidationError(f"must be at most {self.max_chars} characters")
        if self.max_bytes is not None and (
            len(text) > self.max_bytes or (not text.isascii() and len(text.encode("utf-8")) > self.max_bytes)
        ):
            raise ValidationError(f"must be at most {self.max_bytes} bytes once serialised")
        return text


def TimeStamp(**kwargs: Any) -> Details:  # noqa: N802 - a field, as the others
    return Details(max_chars=FREE_TEXT_LENGTH, attribute="timestamp", **kwargs)


def RoundDetails(**kwargs: Any) -> Details:  # noqa: N802
    return Details(max_bytes=FREE_JSON_BYTES, attribute="round_details", **kwargs)


class _Callback(Schema):
    class Meta:
        unknown = EXCLUDE

    uuid = Ident(required=True)
    userId = Ident(required=True, attribute="user_id")
    providerId = Ident(required=True, attribute="provider_id")
    sessionId = Ident(required=True, attribute="session_id", max_length=SESSION_ID_LENGTH)
    currency = Currency(required=True)

    @pre_load
    def fold_case(self, data: Any, **kwargs: Any) -> Any:
        """Map any spelling of a known field (`userid`, `USERID`) onto its canonical name."""
        if not isinstance(data, dict):
            raise ValidationError("body must be a JSON object", "_schema")
        canonical = {name.lower(): name for name in self.fields}
        folded: dict[str, Any] = {}
        for key, value in data.items():
            name = canonical.get(key.lower()) if isinstance(key, str) else None
            if name is None:
                continue
            if name in folded:
                if not same_json(folded[name], value):  # a body error (7), even for the amount
                    raise ValidationError(f"field {name} given twice with different values", "_schema")
                continue
            folded[name] = value
        return folded


class CheckSchema(_Callback):
    pass


class BalanceSchema(_Callback):
    pass


class _Money(_Callback):
    gameId = Ident(required=True, attribute="game_id")
    gameName = Ident(required=True, attribute="game_name")
    roundId = Ident(required=True, attribute="round_id")
    reference = Ident(required=True)
    amount = Amount(required=True)
    timeStamp = TimeStamp(required=True)
    roundDetails = RoundDetails(required=True)
    bonusCode = Ident(load_default=None, allow_none=True, attribute="bonus_code")


def _optional_session() -> Ident:
    """sessionId is required on Check, Balance and Bet only: the provider's Auto-Closing Results
    (sent up to 24 hours after an abandoned round) carry none, and must be paid."""
    return Ident(load_default=None, allow_none=True, attribute="session_id", max_length=SESSION_ID_LENGTH)


def _optional(attribute: str | None = None) -> Ident:
    return Ident(load_default=None, allow_none=True, attribute=attribute)


class BetSchema(_Money):
    pass


class ResultSchema(_Money):
    """A Result may carry a promo win: credited under its own reference (docs/protocol.md)."""

    sessionId = _optional_session()
    promoWinAmount = Amount(load_default=None, allow_none=True, attribute="promo_amount")
    promoWinReference = _optional("promo_reference")
    promoCampaignID = _optional("promo_campaign_id")
    promoCampaignType = _optional("promo_campaign_type")


class RefundSchema(_Callback):
    """Refund: only uuid, userId, reference, providerId are required."""

    sessionId = _optional_session()
    currency = Currency(load_default=None, allow_none=True)
    reference = Ident(required=True)
    gameId = Ident(load_default=None, allow_none=True, attribute="game_id")
    gameName = Ident(load_default=None, allow_none=True, attribute="game_name")
    roundId = Ident(load_default=None, allow_none=True, attribute="round_id")
    amount = Amount(load_default=None, allow_none=True)
    timeStamp = TimeStamp(load_default=None, allow_none=True)
    roundDetails = RoundDetails(load_default=None, allow_none=True)
    bonusCode = Ident(load_default=None, allow_none=True, attribute="bonus_code")


class CancelSchema(RefundSchema):
    """Cancel (the provider's "Cancel Bet"): Refund's fields, naming one bet by its reference."""


class EndRoundSchema(_Callback):
    sessionId = _optional_session()
    roundId = Ident(required=True, attribute="round_id")
    gameId = Ident(load_default=None, allow_none=True, attribute="game_id")
    gameName = Ident(load_default=None, allow_none=True, attribute="game_name")
    timeStamp = TimeStamp(load_default=None, allow_none=True)
    roundDetails = RoundDetails(load_default=None, allow_none=True)


class _Prize(_Callback):
    """Wins outside a round's Result: a reference, an amount; sessions and games optional."""

    sessionId = _optional_session()
    reference = Ident(required=True)
    amount = Amount(required=True)
    timeStamp = TimeStamp(load_default=None, allow_none=True)
    gameId = _optional("game_id")
    roundId = _optional("round_id")


class PromoWinSchema(_Prize):
    campaignId = Ident(required=True, attribute="campaign_id")
    campaignType = Ident(required=True, attribute="campaign_type")


class JackpotWinSchema(_Prize):
    currency = Currency(load_default=None, allow_none=True)
    gameId = Ident(required=True, attribute="game_id")
    roundId = Ident(required=True, attribute="round_id")
    jackpotId = Ident(required=True, attribute="jackpot_id")
    jackpotDetails = Details(max_bytes=FREE_JSON_BYTES, load_default=None, allow_none=True, attribute="details")


class BonusWinSchema(_Prize):
    currency = Currency(load_default=None, allow_none=True)
    bonusCode = Ident(required=True, attribute="bonus_code")


class SessionExpiredSchema(_Callback):
    currency = Currency(load_default=None, allow_none=True)


SCHEMAS: dict[str, Schema] = {
    "check": CheckSchema(),
    "balance": BalanceSchema(),
    "bet": BetSchema(),
    "result": ResultSchema(),
    "refund": RefundSchema(),
    "cancel": CancelSchema(),
    "endround": EndRoundSchema(),
    "promowin": PromoWinSchema(),
    "jackpotwin": JackpotWinSchema(),
    "bonuswin": BonusWinSchema(),
    "sessionexpired": SessionExpiredSchema(),
}

# Canonical spelling of each method, for logs, metrics and the request log.
METHOD_NAMES = {"check": "Check", "balance": "Balance", "bet": "Bet", "result": "Result",
                "refund": "Refund", "cancel": "Cancel", "endround": "EndRound", "promowin": "PromoWin",
                "jackpotwin": "JackpotWin", "bonuswin": "BonusWin", "sessionexpired": "SessionExpired"}


class BadRequest(Exception):
    """The body cannot be turned into a CallbackRequest; carries the provider code (7 or 10)."""

    def __init__(self, code: Code, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def body_hash(method: str, data: dict[str, Any]) -> str:
    """A digest of what was asked: the method and the body with field names folded to lower case."""
    return hashlib.sha256(canonical_text(method, data).encode("ascii")).hexdigest()


def canonical_text(method: str, data: dict[str, Any]) -> str:
    """The hashed text. Its bytes are fixed forever: stored hashes must keep matching.

    It is simplejson's: sorted keys, ASCII, compact, a Decimal as its digits, NaN as
    written (an unknown field may hold one). tests/unit/test_schemas.py pins the bytes.
    """
    return _canonical([method, {str(k).lower(): v for k, v in data.items()}])


def _canonical(canonical: list[Any]) -> str:
    return dumps(canonical, sort_keys=True, ensure_ascii=True, allow_nan=True)


class _FastLoader:
    """`schema.load` for bodies that are valid, at a fraction of its CPU (a callback is parsed on
    every request: docs/performance.md).

    Built from the schema's own fields and run with their own `_deserialize`, so
    the field list, names, types and rules stay the schema's; what is skipped is
    marshmallow's per-load machinery (hooks, error collection). It returns None
    at the first thing it does not accept: the caller then runs the schema itself,
    which gives the same values or the exact error (tests/unit/test_schemas.py
    holds the two to that on random bodies).
    """

    def __init__(self, schema: Schema) -> None:
        self.canonical = {name.lower(): name for name in schema.fields}
        self.plan = [
            (name, field.attribute or name, field, field.required, field.allow_none, field.load_default)
            for name, field in schema.load_fields.items()
        ]

    def __call__(self, data: dict[str, Any]) -> dict[str, Any] | None:
        folded: dict[str, Any] = {}
        canonical = self.canonical
        for key, value in data.items():
            name = canonical.get(key.lower()) if isinstance(key, str) else None
            if name is None:
                continue
            if name in folded:
                if not same_json(folded[name], value):
                    return None
                continue
            folded[name] = value
        values: dict[str, Any] = {}
        for name, attribute, field, required, allow_none, default in self.plan:
            value = folded.get(name, _MISSING)
            if value is _MISSING:
                if required:
                    return None
                values[attribute] = default
            elif value is None:
                if not allow_none:
                    return None
                values[attribute] = None
            else:
                try:
                    values[attribute] = field._deserialize(value, name, folded)
                except ValidationError:
                    return None
        return values


_MISSING = object()
_FAST = {method: _FastLoader(schema) for method, schema in SCHEMAS.items()}


def parse(method: str, data: Any) -> CallbackRequest:
    """Validate one callback body for `method` (already lower case and known)."""
    values = _FAST[method](data) if isinstance(data, dict) else None
    if values is None:
        values = _load(method, data)  # a dict from here on, or BadRequest
    folded = {str(k).lower(): v for k, v in data.items()}
    if len(folded) != len(data):
        _same_in_every_spelling(data)
    if values.get("promo_amount") and not values.get("promo_reference"):  # a promo win needs its reference
        raise BadRequest(Code.BAD_PARAMETERS, "Bad parameters: promoWinReference: required when promoWinAmount > 0")
    digest = hashlib.sha256(_canonical([method, folded]).encode("ascii")).hexdigest()  # body_hash()
    return CallbackRequest(method=method, body_hash=digest, **values)


def _same_in_every_spelling(data: dict[str, Any]) -> None:
    """Refuse (7) a field the wallet ignores given in two spellings with different values: the body
    hash folds the case of field names, so the uuid log could not tell two such bodies apart.
    (The known fields were checked by the loaders, with the same rule.)"""
    seen: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).lower()
        if name in seen and not same_json(seen[name], value):
            raise BadRequest(Code.BAD_PARAMETERS,
                             f"Bad parameters: field {_quoted(str(key))} given twice with different values")
        seen.setdefault(name, value)


def _quoted(name: str) -> str:
    """A field name for a description: quoted, escaped (ASCII) and cut short."""
    text = json.dumps(name)
    return text if len(text) <= 40 else text[:37] + '..."'


_MONEY_FIELDS = {"amount", "promoWinAmount"}


def _load(method: str, data: Any) -> dict[str, Any]:
    """The schema's own load: the values, or the provider error (7, or 10 for the amount)."""
    schema = SCHEMAS[method]
    try:
        values: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        # Money fields: `amount`, and a Result's `promoWinAmount`. When the only faults are in
        # amounts that were given, the answer is 10; anything else wrong makes it 7.
        given = {k.lower() for k, v in data.items() if isinstance(k, str) and v is not None} \
            if isinstance(data, dict) else set()
        if isinstance(messages, dict) and messages and set(messages) <= _MONEY_FIELDS \
                and {m.lower() for m in messages} <= given:
            name = sorted(messages)[0]
            raise BadRequest(Code.INVALID_AMOUNT, f"Invalid amount: {_first(messages[name])}") from exc
        raise BadRequest(Code.BAD_PARAMETERS, "Bad parameters: " + _summary(messages)) from exc
    return values


def _first(message: Any) -> str:
    while isinstance(message, (list, dict)):
        message = next(iter(message.values() if isinstance(message, dict) else message), "")
    return str(message)


def _summary(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(
            f"{field if field != '_schema' else 'body'}: {_first(msg)}" for field, msg in sorted(messages.items())
        )
    return _first(messages)

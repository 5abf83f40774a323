"""Parse, normalise and validate provider callbacks (marshmallow).

Field names are matched case-insensitively; unknown fields are ignored. A
missing, null or ill-typed field is error 7; an amount that is present but
not a finite decimal >= 0 is error 10 (its precision is checked against the
wallet's currency later, by the ledger).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from wallet.jsonutil import dumps
from wallet.ledger.outcomes import Code
from wallet.ledger.requests import CallbackRequest
from wallet.money import AmountError, is_currency_code, parse_amount

MAX_ID_LENGTH = 128


def clean_text(value: str) -> str:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("must be valid Unicode") from exc
    return value


class Ident(fields.Field):
    """An identifier: a non-empty string (a JSON integer is accepted and kept as its digits)."""

    def __init__(self, max_length: int = MAX_ID_LENGTH, **kwargs: Any) -> None:
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
    """Free-form text or JSON, stored as given (JSON re-serialised compactly)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return clean_text(value)
        try:
            return clean_text(dumps(value))
        except ValueError as exc:  # NaN or Infinity (JSON's parser here reads them as Decimal)
            raise ValidationError("must not contain NaN or Infinity") from exc


class _Callback(Schema):
    class Meta:
        unknown = EXCLUDE

    uuid = Ident(required=True)
    userId = Ident(required=True, attribute="user_id")
    providerId = Ident(required=True, attribute="provider_id")
    sessionId = Ident(required=True, attribute="session_id", max_length=256)
    currency = Currency(required=True)

    @pre_load
    def fold_case(self, data: Any, **kwargs: Any) -> Any:
        """Map any spelling of a known field (`userid`, `USERID`) onto its canonical name."""
        if not isinstance(data, dict):
            raise ValidationError("body must be a JSON object", "_schema")
        canonical = {name.lower(): name for name in self.fields}
        folded: dict[str, Any] = {}
        for key, value in data.items():
            name = canonical.get(key.lower())
            if name is None:
                continue
            if name in folded and folded[name] != value:
                raise ValidationError(f"field {name} given twice with different values", name)
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
    timeStamp = Details(required=True, attribute="timestamp")
    roundDetails = Details(required=True, attribute="round_details")
    bonusCode = Ident(load_default=None, allow_none=True, attribute="bonus_code")


class BetSchema(_Money):
    pass


class ResultSchema(_Money):
    pass


class RefundSchema(_Callback):
    """Refund: only uuid, userId, reference, providerId are required (PROTOCOL.md section 3)."""

    sessionId = Ident(load_default=None, allow_none=True, attribute="session_id", max_length=256)
    currency = Currency(load_default=None, allow_none=True)
    reference = Ident(required=True)
    gameId = Ident(load_default=None, allow_none=True, attribute="game_id")
    gameName = Ident(load_default=None, allow_none=True, attribute="game_name")
    roundId = Ident(load_default=None, allow_none=True, attribute="round_id")
    amount = Amount(load_default=None, allow_none=True)
    timeStamp = Details(load_default=None, allow_none=True, attribute="timestamp")
    roundDetails = Details(load_default=None, allow_none=True, attribute="round_details")
    bonusCode = Ident(load_default=None, allow_none=True, attribute="bonus_code")


class EndRoundSchema(_Callback):
    roundId = Ident(required=True, attribute="round_id")
    gameId = Ident(load_default=None, allow_none=True, attribute="game_id")
    gameName = Ident(load_default=None, allow_none=True, attribute="game_name")
    timeStamp = Details(load_default=None, allow_none=True, attribute="timestamp")
    roundDetails = Details(load_default=None, allow_none=True, attribute="round_details")


SCHEMAS: dict[str, Schema] = {
    "check": CheckSchema(),
    "balance": BalanceSchema(),
    "bet": BetSchema(),
    "result": ResultSchema(),
    "refund": RefundSchema(),
    "endround": EndRoundSchema(),
}

# Canonical spelling of each method, for logs and the request log.
METHOD_NAMES = {"check": "Check", "balance": "Balance", "bet": "Bet", "result": "Result",
                "refund": "Refund", "endround": "EndRound"}


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

    It is simplejson's (sorted keys, ASCII, compact, Decimal as its digits, NaN
    as written). For a body without a Decimal the standard library's C encoder
    writes the very same text, faster (tests/unit/test_schemas.py checks it);
    a Decimal makes it give up, and simplejson writes it.
    """
    canonical = [method, {str(k).lower(): v for k, v in data.items()}]
    try:
        return json.dumps(canonical, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=_give_up)
    except _GiveUp:
        # allow_nan: an unknown field may hold NaN or Infinity (read as Decimal); hash it as written.
        return dumps(canonical, sort_keys=True, ensure_ascii=True, allow_nan=True)


class _GiveUp(Exception):
    pass


def _give_up(value: Any) -> Any:
    raise _GiveUp


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
            if name in folded and folded[name] != value:
                return None
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
        values = _load(method, data)
    return CallbackRequest(method=method, body_hash=body_hash(method, data), **values)


def _load(method: str, data: Any) -> dict[str, Any]:
    """The schema's own load: the values, or the provider error (7, or 10 for the amount)."""
    schema = SCHEMAS[method]
    try:
        values: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        amount_given = isinstance(data, dict) and any(
            isinstance(k, str) and k.lower() == "amount" and v is not None for k, v in data.items()
        )
        if isinstance(messages, dict) and set(messages) == {"amount"} and amount_given:
            raise BadRequest(Code.INVALID_AMOUNT, f"Invalid amount: {_first(messages['amount'])}") from exc
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

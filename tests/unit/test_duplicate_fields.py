"""The same field twice with different values, in one spelling or two, is 7 (docs/protocol.md);
with identical values it is served. "Different" is as written: 1 and "1", 1 and 1.0, null and a
value. Both parsing paths (the fast loader and the marshmallow schema) hold to it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from tests.support import callback_body
from wallet.callbacks.schemas import _FAST, SCHEMAS, BadRequest, parse

# (field, first value, second value): all different as written.
DIFFERENT = [
    ("amount", 1, "1"), ("amount", 1, Decimal("1.0")), ("amount", Decimal("1.0"), Decimal("1.00")),
    ("amount", "1.00", "2.00"), ("amount", None, "1.00"), ("userId", 1, "1"), ("userId", "player-1", "Player-1"),
    ("bonusCode", None, "B1"), ("bonusCode", "B1", None), ("roundDetails", "spin", {"spin": 1}),
    ("roundDetails", {"a": 1}, {"a": Decimal("1.0")}), ("gameId", True, 1),
]
SAME = [("amount", "1.00", "1.00"), ("amount", 5, 5), ("bonusCode", None, None), ("roundDetails", {"a": [1]}, {"a": [1]})]


def _spelled_twice(field: str, first: Any, second: Any, method: str = "bet") -> dict[str, Any]:
    body = callback_body(method, amount="1.00")
    body.pop(field, None)
    body[field] = first
    body[field.upper() if field.upper() != field else field.lower()] = second
    return body


@pytest.mark.parametrize("field, first, second", DIFFERENT)
@pytest.mark.parametrize("method", ["bet", "refund"])
def test_both_paths_refuse_a_field_in_two_spellings_with_different_values(method, field, first, second):
    body = _spelled_twice(field, first, second, method)
    assert _FAST[method](body) is None  # the fast loader defers ...
    with pytest.raises(ValidationError) as err:  # ... to the schema, which refuses
        SCHEMAS[method].load(body)
    assert "given twice" in str(err.value.normalized_messages())
    with pytest.raises(BadRequest) as bad:
        parse(method, body)
    assert bad.value.code == 7  # a body error, even when the field is the amount (not 10)


@pytest.mark.parametrize("field, first, second", SAME)
def test_both_paths_accept_a_field_twice_with_the_same_value(field, first, second):
    body = _spelled_twice(field, first, second)
    fast = _FAST["bet"](body)
    slow = SCHEMAS["bet"].load(body)
    assert fast is not None and repr(sorted(fast.items())) == repr(sorted(slow.items()))
    parse("bet", body)


def test_a_field_the_wallet_ignores_in_two_spellings_is_7_when_the_values_differ():
    """The body hash folds the case of field names: the uuid log could not tell the two apart."""
    with pytest.raises(BadRequest) as bad:
        parse("bet", {**callback_body("Bet"), "promoCampaignID": "A", "promoCampaignId": "B"})
    assert bad.value.code == 7 and "promoCampaignId" in bad.value.description
    parse("bet", {**callback_body("Bet"), "promoCampaignID": "A", "promoCampaignId": "A"})


# --------------------------------------------------------------------------- through the wallet

def _text(pairs: list[tuple[str, str]]) -> str:
    """A JSON object from raw (key, value-literal) pairs: the same key may come twice."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


def _pairs(method: str, **fields: Any) -> list[tuple[str, str]]:
    return [(k, json.dumps(v)) for k, v in callback_body(method, **fields).items()]


@pytest.mark.parametrize("second", [
    ("amount", '"2.00"'), ("amount", "1"), ("amount", "1.0"), ("Amount", '"2.00"'), ("AMOUNT", "1.00"),
    ("bonusCode", "null"), ("bonuscode", '"other"'), ("userid", '"player-2"'), ("ROUNDID", '"round-x"'),
])
def test_over_http_a_second_value_is_7_and_moves_nothing(provider, operator, player, second):
    pairs = _pairs("Bet", amount="1.00", bonusCode="B1")
    answer = provider.send("Bet", _text(pairs + [second]))
    assert answer["error"] == 7, answer
    assert operator.balance() == Decimal("1000.00")


@pytest.mark.parametrize("second", [("amount", '"1.00"'), ("Amount", '"1.00"'), ("bonuscode", '"B1"'),
                                    ("userID", '"player-1"')])
def test_over_http_the_same_value_again_is_served(provider, operator, player, second):
    pairs = _pairs("Bet", amount="1.00", bonusCode="B1")
    assert provider.send("Bet", _text(pairs + [second]))["error"] == 0
    assert operator.balance() == Decimal("999.00")


def test_an_optional_field_given_as_null_and_as_a_value_is_7_in_either_order(provider, operator, player):
    for pairs in ([("roundId", "null"), ("roundid", '"round-1"')], [("roundid", '"round-1"'), ("ROUNDID", "null")]):
        provider.call("Bet", reference="dup-bet", amount="1.00")
        answer = provider.send("Refund", _text(_pairs("Refund", reference="dup-bet") + pairs))
        assert answer["error"] == 7 and answer["reference"] == "dup-bet", answer
    assert operator.balance() == Decimal("999.00")

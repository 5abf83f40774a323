"""Callback parsing: case-insensitive fields, 7 for bad parameters, 10 for bad amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support import callback_body
from wallet.callbacks.schemas import BadRequest, body_hash, parse


def test_field_names_match_in_any_case():
    body = callback_body("Bet", amount=12)
    body = {k.lower(): v for k, v in body.items()}
    q = parse("bet", body)
    assert q.user_id == "player-1" and q.amount == Decimal(12) and q.game_name == "tumblefortune"


def test_unknown_fields_are_ignored_and_json_round_details_kept_as_given():
    q = parse("bet", callback_body("Bet", roundDetails={"lines": [1, 2]}, newField="x"))
    assert q.round_details == '{"lines":[1,2]}'


@pytest.mark.parametrize("missing", ["uuid", "userId", "reference", "amount", "roundId", "currency", "sessionId"])
def test_missing_fields_are_bad_parameters(missing):
    with pytest.raises(BadRequest) as err:
        parse("bet", callback_body("Bet", **{missing: None}))
    assert err.value.code == 7


@pytest.mark.parametrize("amount", ["-1", "abc", True, "1e400", [], {"v": 1}])
def test_bad_amounts_are_invalid_amount(amount):
    with pytest.raises(BadRequest) as err:
        parse("bet", callback_body("Bet", amount=amount))
    assert err.value.code == 10


@pytest.mark.parametrize("field, value", [("userId", {"a": 1}), ("userId", ""), ("userId", "a\x00b"),
                                          ("reference", "\ud800"), ("currency", "dollars"), ("uuid", True)])
def test_ill_typed_fields_are_bad_parameters(field, value):
    with pytest.raises(BadRequest) as err:
        parse("bet", callback_body("Bet", **{field: value}))
    assert err.value.code == 7


def test_refund_needs_only_uuid_user_reference_provider():
    q = parse("refund", {"uuid": "u", "userId": "p", "reference": "r", "providerId": "LM"})
    assert q.amount is None and q.round_id is None and q.currency is None


def test_the_body_hash_ignores_field_case_and_order_but_not_values():
    a = {"userId": "p", "uuid": "u"}
    assert body_hash("bet", a) == body_hash("bet", {"uuid": "u", "userid": "p"})
    assert body_hash("bet", a) != body_hash("bet", {"userId": "q", "uuid": "u"})
    assert body_hash("bet", a) != body_hash("result", a)

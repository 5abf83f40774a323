"""Callback parsing: case-insensitive fields, 7 for bad parameters, 10 for bad amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from tests.support import callback_body
from wallet.callbacks.schemas import _FAST, SCHEMAS, BadRequest, body_hash, canonical_text, parse


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


# --------------------------------------------------------------------------- the fast loader

_FIELDS = ["uuid", "userId", "providerId", "sessionId", "currency", "gameId", "gameName", "roundId",
           "reference", "amount", "timeStamp", "roundDetails", "bonusCode", "unknownField"]
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**15),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(lambda d: not d.is_snan()),  # as JSON reads
    st.text(max_size=6), st.sampled_from(["USD", " usd ", "US", "EUR1", "1.00", "-1", "1e3", "0.001", "", "  ",
                                          "a\x00b", "\ud800", "x" * 129, "x" * 257, "NaN", "10.5"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _spellings(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name[:1].upper() + name[1:]])


@st.composite
def _bodies(draw: st.DrawFn, method: str) -> dict:
    body = callback_body(method)
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=5)):
        body.pop(name, None)
        body[draw(_spellings(name))] = draw(_values)  # maybe a second spelling of a field kept
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        body.pop(name, None)
    return body


@settings(max_examples=600, deadline=None)
@given(data=st.data(), method=st.sampled_from(sorted(SCHEMAS)))
def test_the_fast_loader_gives_what_the_schema_gives_or_defers_to_it(data, method):
    """parse() runs _FAST first and the schema only when _FAST returns None: so _FAST must never
    accept what the schema refuses, nor give other values; and it should take every valid body."""
    body = data.draw(_bodies(method))
    fast = _FAST[method](body)
    try:
        slow = SCHEMAS[method].load(body)
    except ValidationError:
        slow = None
    assert (fast is None) == (slow is None), (fast, slow)
    if fast is not None:
        assert repr(sorted(fast.items())) == repr(sorted(slow.items()))


def test_the_hashed_text_and_its_digest_are_pinned():
    """Stored hashes must keep matching, byte for byte, whatever writes the text."""
    body = {"uuid": "u-1", "userId": "p-1", "Amount": Decimal("2.50"), "roundDetails": {"z": [1, None, True], "a": "é"},
            "note": "x"}
    assert canonical_text("bet", body) == ('["bet",{"amount":2.50,"note":"x","rounddetails":{"a":"\\u00e9",'
                                           '"z":[1,null,true]},"userid":"p-1","uuid":"u-1"}]')
    assert body_hash("bet", body) == "3ec1d7b95ec1f30482fef03ae4463028d23ca5617bbd4d94fd60e58ccbccd0f4"
    text = {"uuid": "u-2", "userId": "p-1", "amount": "2.50", "timeStamp": "2026-11-24T10:00:00Z"}
    assert body_hash("refund", text) == "3943dea0b9bdb1cd9df4183b59fdde1c4e6d57d8a7048341dba8c038009f6bfa"

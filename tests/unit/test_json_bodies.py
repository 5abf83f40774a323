"""Bodies the JSON parser accepts but the wallet must not (wallet/jsonutil.py): nesting deeper than
64 levels, a key given twice with different values, NUL and unpaired surrogates anywhere (keys,
values, free JSON, fields the wallet ignores). Each is a final 7 that moves nothing; a Refund's
answer still echoes its reference."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import callback_body
from wallet.callbacks.schemas import canonical_text
from wallet.jsonutil import NEGATIVE_ZERO, NOTHING, ExponentDecimal, JSONRefused, NegativeZero, loads, same_json
from wallet.limits import JSON_MAX_DEPTH

# --------------------------------------------------------------------------- the parser alone


@pytest.mark.parametrize("raw", [
    "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH,
    '{"a":' * JSON_MAX_DEPTH + "1" + "}" * JSON_MAX_DEPTH,
    '{"s":"' + "[" * 500 + '"}',  # brackets inside a string are not nesting
])
def test_64_levels_parse(raw):
    loads(raw)


@pytest.mark.parametrize("raw", [
    "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1),
    '{"a":' * (JSON_MAX_DEPTH + 1) + "1" + "}" * (JSON_MAX_DEPTH + 1),
    "[" * 900 + "]" * 900,  # the parser takes it; the check, without recursion, does not
    "[" * 100_000 + "]" * 100_000,  # the parser gives up first
    '{"a":' * 50_000 + "1" + "}" * 50_000,
])
def test_deeper_nesting_is_refused(raw):
    with pytest.raises(JSONRefused, match="nested deeper than 64 levels"):
        loads(raw)


@pytest.mark.parametrize("raw, where", [
    ('{"a":"x\\u0000y"}', "text value"), ('{"a\\u0000":1}', "field name"), ('{"a":["\\u0000"]}', "text value"),
    ('{"a":"\\ud800"}', "text value"), ('{"a":"\\udfff x"}', "text value"), ('{"\\ud800":1}', "field name"),
    ('{"a":{"b":{"c":"\\ud83d"}}}', "text value"),
])
def test_nul_and_lone_surrogates_are_refused_in_keys_and_values_at_any_depth(raw, where):
    with pytest.raises(JSONRefused, match=where):
        loads(raw)


def test_lone_surrogates_as_raw_bytes_are_refused_too():
    with pytest.raises(JSONRefused, match="surrogates"):
        loads(b'{"a":"\xed\xa0\x80"}')  # CESU-style bytes, which json's own decoding lets through
    with pytest.raises(JSONRefused):
        loads('{"a":"\ud800"}'.encode("utf-16", "surrogatepass"))


@pytest.mark.parametrize("raw", ['{"a":"\\ud83d\\ude00"}', '{"a":"😀 é \\u00e9"}', '{"a":"\\\\u0000"}'])
def test_surrogate_pairs_and_escaped_backslashes_are_fine(raw):
    loads(raw)


@pytest.mark.parametrize("raw", [
    '{"a":1,"a":"1"}', '{"a":1,"a":1.0}', '{"a":1.0,"a":1.00}', '{"a":null,"a":1}', '{"a":true,"a":1}',
    '{"a":1,"a":2}', '{"x":{"a":[1],"a":[1,2]}}', '{"a":100,"a":1e2}', '{"a":0,"a":-0}',
])
def test_a_key_twice_with_different_values_is_refused(raw):
    with pytest.raises(JSONRefused, match="given twice with different values") as err:
        loads(raw)
    assert err.value.document is not NOTHING  # still read, for a Refund's reference


@pytest.mark.parametrize("raw", ['{"a":1,"a":1}', '{"a":"x","a":"x"}', '{"a":{"p":1,"q":2},"a":{"q":2,"p":1}}',
                                 '{"a":null,"a":null}', '{"a":1.50,"a":1.50}'])
def test_a_key_twice_with_the_same_value_is_accepted(raw):
    assert isinstance(loads(raw), dict)


def test_numbers_keep_how_they_were_written_and_hash_as_before():
    doc = loads('{"e":1e2,"z":-0,"f":-0.0,"i":7,"d":10.50}')
    assert type(doc["e"]) is ExponentDecimal and doc["e"] == 100
    assert type(doc["z"]) is NegativeZero and doc["z"] == 0 and doc["z"] is NEGATIVE_ZERO
    assert type(doc["f"]) is Decimal and doc["f"].is_signed()
    assert type(doc["i"]) is int and type(doc["d"]) is Decimal and str(doc["d"]) == "10.50"
    # The request hash's text is unchanged by the markers (stored hashes must keep matching).
    old = json.loads('{"e":1e2,"z":-0,"f":-0.0,"i":7,"d":10.50}', parse_float=Decimal, parse_constant=Decimal)
    assert canonical_text("bet", doc) == canonical_text("bet", old)


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), _text, st.decimals(allow_nan=False, places=2))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                       max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_same_json_is_equality_of_the_written_form(value):
    text = json.dumps(value, default=str)
    assert same_json(loads(text), loads(text))


# --------------------------------------------------------------------------- through the wallet

def _raw_body(method: str, extra_pairs: str = "", **fields: Any) -> str:
    """A valid body's JSON text, with raw `"key":value` pairs appended (duplicates, escapes, ...)."""
    text = json.dumps(callback_body(method, **fields))
    return text[:-1] + ("," + extra_pairs if extra_pairs else "") + "}"


HOSTILE_PAIRS = [
    '"amount":"2.00"',  # the same spelling again, another value
    '"AMOUNT":"2.00"',
    '"note":"a\\u0000b"',  # a field the wallet ignores
    '"note\\u0000":1',
    '"note":"\\ud800"',
    '"note":{"deep":"\\udc00"}',
    '"roundDetails":{"x":"\\u0000"}',
    '"note":' + "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH,
    '"roundDetails":' + "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH,
]


@pytest.mark.parametrize("pair", HOSTILE_PAIRS)
def test_hostile_bodies_are_a_final_7_and_move_nothing(provider, operator, player, pair):
    answer = provider.send("Bet", _raw_body("Bet", pair, amount="1.00"))
    assert answer["error"] == 7 and answer["description"].startswith("Bad parameters: "), answer
    assert operator.balance() == Decimal("1000.00")


@pytest.mark.parametrize("pair", HOSTILE_PAIRS)
def test_a_refused_refund_still_echoes_its_reference(provider, operator, player, pair):
    provider.call("Bet", reference="echo-bet", amount="3.00")
    answer = provider.send("Refund", _raw_body("Refund", pair, reference="echo-bet", amount="3.00"))
    assert answer["error"] == 7 and answer["reference"] == "echo-bet", answer
    assert operator.balance() == Decimal("997.00")


def test_the_same_field_twice_with_the_same_value_is_served(provider, operator, player):
    answer = provider.send("Bet", _raw_body("Bet", '"amount":"1.00","Amount":"1.00","x":1,"x":1', amount="1.00"))
    assert answer["error"] == 0, answer
    assert operator.balance() == Decimal("999.00")

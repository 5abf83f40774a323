"""Hostile input on the provider API: every answer is HTTP 200 with a JSON object and an integer
`error`, and a refused request moves nothing (docs/protocol.md).

    make test PYTEST_ARGS="tests/fuzz"                               # quick
    WALLET_FUZZ_EXAMPLES=3000 make test PYTEST_ARGS="tests/fuzz"     # long run
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import Operator, make_app
from tests.support import callback_body

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
METHODS = ["Check", "Balance", "Bet", "Result", "Refund", "Cancel", "EndRound", "PromoWin", "JackpotWin", "BonusWin",
           "SessionExpired"]
FIELDS = ["providerId", "userId", "sessionId", "currency", "uuid", "gameId", "gameName", "roundId", "reference",
          "amount", "timeStamp", "roundDetails", "bonusCode", "campaignId", "campaignType", "jackpotId",
          "jackpotDetails", "promoWinAmount", "promoWinReference", "promoCampaignID", "promoCampaignType"]

# Text a wallet meets at the edges of Unicode: NUL, lone surrogates, right-to-left marks, astral planes.
edge_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\u202eref\u202c", "\u200f", "\ufeff", "😀" * 3,
                     "", " ", "Ω" * 200, "player-1", "USD", "JPY", "10.00", "-1", "1e400", "NaN"]),
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 0, -1, 2**63, 2**64]),
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, edge_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(edge_text, inner, max_size=4)),
    max_leaves=12,
)


def encode(body: Any) -> str:
    """JSON text for `body` (Decimals as numbers; lone surrogates become \\ud800 escapes, as on the wire)."""
    return simplejson.dumps(body, use_decimal=True)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid body with some fields replaced, dropped, re-cased or added; or any JSON at all."""
    method = draw(st.sampled_from(METHODS))
    if draw(st.integers(0, 9)) == 0:
        return method, draw(json_values)
    body: dict[str, Any] = callback_body(method, roundId="round-1", amount="1.00")
    if draw(st.booleans()) and "reference" in body:
        body["reference"] = draw(st.sampled_from(["fuzz-bet", "fuzz-win"]))  # transactions that exist
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        action = draw(st.sampled_from(["replace", "drop", "recase"]))
        if action == "replace":
            body[name] = draw(json_values)
        elif action == "drop":
            body.pop(name, None)
        elif name in body:
            body[draw(st.sampled_from([name.lower(), name.upper()]))] = body.pop(name)
    body.update(draw(st.dictionaries(edge_text, json_values, max_size=2)))
    return method, body


@pytest.fixture
def wallet(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    Operator(app.test_client()).open_player()
    for method, reference in (("Bet", "fuzz-bet"), ("Result", "fuzz-win")):
        answer = post(app, method, json.dumps(callback_body(method, reference=reference, roundId="round-0")))
        assert answer["error"] == 0
    yield app
    app.extensions["wallet.engine"].dispose()


def ledger_state(app: Flask) -> tuple[Any, ...]:
    """Everything a callback could change: balances, statuses, entries, reversals, rounds."""
    with app.extensions["wallet.engine"].connect() as conn:
        return tuple(
            tuple(conn.execute(text(sql)).all()) for sql in (
                "SELECT user_id, balance, status FROM players ORDER BY id",
                "SELECT id, kind, reference, amount FROM transactions ORDER BY id",
                "SELECT bet_id, refund_id FROM reversals ORDER BY bet_id",
                "SELECT round_id, status, has_result FROM rounds ORDER BY id",
            )
        )


def post(app: Flask, method: str, raw: bytes | str, **headers: str) -> dict[str, Any]:
    r = app.test_client().post(f"/v4/{method}" if len(raw) % 2 else f"/V4/{method.upper()}", data=raw, content_type="application/json", headers=headers)
    assert r.status_code == 200, (r.status_code, r.get_data()[:200])
    answer = json.loads(r.get_data(), parse_float=Decimal)
    assert isinstance(answer, dict) and type(answer["error"]) is int, answer
    assert isinstance(answer["description"], str)
    return answer


def post_refused_or_moved(app: Flask, method: str, raw: bytes | str) -> dict[str, Any]:
    """Post; if the answer is a refusal, nothing at all may have changed."""
    before = ledger_state(app)
    answer = post(app, method, raw)
    if answer["error"] != 0:
        assert ledger_state(app) == before, answer
    return answer


def test_hypothesis_bodies_get_a_provider_answer_and_refusals_move_nothing(wallet: Flask) -> None:
    @FUZZ
    @given(hostile_bodies())
    def run(case: tuple[str, Any]) -> None:
        method, body = case
        post_refused_or_moved(wallet, method, encode(body))

    run()


def test_byte_garbage_is_refused_with_7(wallet: Flask) -> None:
    @FUZZ
    @given(st.binary(max_size=300), st.sampled_from(METHODS))
    def run(raw: bytes, method: str) -> None:
        try:
            valid_object = isinstance(json.loads(raw), dict)
        except (ValueError, UnicodeDecodeError):
            valid_object = False
        answer = post_refused_or_moved(wallet, method, raw)
        if not valid_object:
            assert answer["error"] == 7, answer

    run()


@pytest.mark.parametrize("raw", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
], ids=["deep-list", "deep-object"])
def test_deeply_nested_json_is_refused_with_7(wallet: Flask, raw: str) -> None:
    assert post_refused_or_moved(wallet, "Bet", raw)["error"] == 7


def test_deep_but_parseable_round_details_do_not_break_the_wallet(wallet: Flask) -> None:
    details: Any = 1
    for _ in range(500):
        details = {"d": details}
    body = callback_body("Bet", amount="1.00", roundDetails=details)
    assert post_refused_or_moved(wallet, "Bet", json.dumps(body))["error"] in (0, 7)


@pytest.mark.parametrize("amount,codes", [
    ("1e400", {10}), ("-1e400", {10}), ("NaN", {10}), ("Infinity", {10}), ("-Infinity", {10}),
    (str(10**400), {10}), (str(-(10**400)), {10}), ("1" + "0" * 5000, {7, 10}),  # beyond Python's int parser
    ("-1", {10}), ("-0.01", {10}), ("0.001", {10}), ('"1e2"', {10}), ('" 1.00"', {10}), ('"0x10"', {10}),
    ("true", {10}), ("[1]", {10}), ('{"v":1}', {10}), ("null", {7}),
])
def test_impossible_amounts_are_refused_and_move_nothing(wallet: Flask, amount: str, codes: set[int]) -> None:
    body = json.dumps(callback_body("Bet", amount=0)).replace('"amount": 0', f'"amount": {amount}')
    assert f'"amount": {amount}' in body
    answer = post_refused_or_moved(wallet, "Bet", body)
    assert answer["error"] in codes, answer


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_outside_the_amount_is_never_a_500(wallet: Flask, constant: str) -> None:
    """JSON's NaN and Infinity (read as Decimal) in free-form details are 7; in a field the wallet
    ignores, they are ignored (and hashed for the uuid log as written)."""
    details = json.dumps(callback_body("Bet", amount="1.00", timeStamp=0))
    details = details.replace('"timeStamp": 0', f'"timeStamp": {constant}')
    assert post_refused_or_moved(wallet, "Bet", details)["error"] == 7
    extra = json.dumps(callback_body("Bet", amount="1.00", extra=0)).replace('"extra": 0', f'"extra": {constant}')
    assert post_refused_or_moved(wallet, "Bet", extra)["error"] == 0


@pytest.mark.parametrize("amount", ["0", "0.0", "0.00", '"0"', '"0.00"', '"0.000000"'])
def test_zero_in_any_plain_spelling_is_a_zero_stake(wallet: Flask, amount: str) -> None:
    """A sign or an exponent is not plain decimal notation, even on zero (-0, -0.0, 0e5 are 10:
    tests/unit/test_amount_notation.py)."""
    body = json.dumps(callback_body("Bet", amount=0)).replace('"amount": 0', f'"amount": {amount}')
    before = ledger_state(wallet)[0]
    answer = post(wallet, "Bet", body)
    assert answer["error"] == 0 and answer["cash"] == Decimal("1000.00"), answer
    assert ledger_state(wallet)[0] == before


@pytest.mark.parametrize("field", ["userId", "reference", "roundId", "sessionId", "gameId", "uuid"])
@pytest.mark.parametrize("value", ["nul\x00inside", "lone\ud800surrogate", "\udc00"])
def test_text_a_database_cannot_hold_is_refused_with_7(wallet: Flask, field: str, value: str) -> None:
    body = callback_body("Bet", **{field: value})
    assert post_refused_or_moved(wallet, "Bet", json.dumps(body))["error"] == 7


@pytest.mark.parametrize("reference", ["\u202eRTL-ref\u202c", "ملف-٤٢", "😀-emoji", "Ωmega\u200f"])
def test_unusual_but_valid_unicode_references_round_trip(wallet: Flask, reference: str) -> None:
    bet = post(wallet, "Bet", json.dumps(callback_body("Bet", reference=reference, amount="2.00")))
    assert bet["error"] == 0 and bet["cash"] == Decimal("998.00")
    refund = post(wallet, "Refund", json.dumps(callback_body("Refund", reference=reference)))
    assert refund["error"] == 0 and refund["reference"] == reference and refund["cash"] == Decimal("1000.00")

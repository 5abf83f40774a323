"""Every callback (Check, Balance, Bet, Result, Refund, EndRound) over hostile bodies, through the
Flask test client on the real database (docs/protocol.md, "final or retry, never confused").

Bodies are written as raw JSON text, so that they can hold what a dict cannot: the same key twice
(in one spelling or two), exponents, -0, nesting of any depth, escaped NULs and lone surrogates, raw
surrogate bytes. Values are drawn from the edges of every limit (wallet/limits.py): identifiers of
128/129 characters, sessionIds of 256/257, timeStamps of 1,024/1,025, roundDetails of 64 KiB +/- 1,
nesting of 64/65 levels; amounts with newlines, signs, exponents, too many digits or too large;
wrong types; unknown fields. Asserted for every body:

* HTTP 200, a JSON object with an integer `error` among the provider's codes and a `description`;
* never 100 (the database is up): 100 only for "player not found", which the contract files there;
  never 120 or 130; and no callback counted as a failure to serve (wallet_callback_failures_total);
* a refusal (any error but 0) moves nothing: balances, entries, reversals and rounds unchanged;
* at the end, reconciliation is clean.

The default run is short (`make test`). A long run:

    WALLET_FUZZ_EXAMPLES=5000 make test PYTEST_ARGS="tests/fuzz/test_fuzz_hostile.py"
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import text

from tests.conftest import Operator, make_app
from tests.support import callback_body
from wallet.ledger.outcomes import Code
from wallet.limits import FREE_JSON_BYTES, FREE_TEXT_LENGTH, IDENTIFIER_LENGTH, JSON_MAX_DEPTH, SESSION_ID_LENGTH

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "80"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
METHODS = ["Check", "Balance", "Bet", "Result", "Refund", "Cancel", "EndRound", "PromoWin", "JackpotWin", "BonusWin",
           "SessionExpired"]
FIELDS = ["providerId", "userId", "sessionId", "currency", "uuid", "gameId", "gameName", "roundId", "reference",
          "amount", "timeStamp", "roundDetails", "bonusCode", "campaignId", "campaignType", "jackpotId",
          "jackpotDetails", "promoWinAmount", "promoWinReference", "promoCampaignID", "promoCampaignType"]
KNOWN = {int(code) for code in Code}
PLAYERS = (("player-1", "USD", "1.00"), ("player-2", "JPY", "100"))


def lit(value: Any) -> str:
    """The JSON literal of a Python value (lone surrogates and NULs written as escapes)."""
    return json.dumps(value)


def nested(levels: int, leaf: str = "1") -> str:
    """A JSON value `levels` containers deep (objects and arrays alternate)."""
    out = leaf
    for i in range(levels):
        out = f"[{out}]" if i % 2 else f'{{"k":{out}}}'
    return out


def _around(limit: int, char: str = "x") -> list[str]:
    return [lit(char * n) for n in (limit - 1, limit, limit + 1)]


AMOUNTS = [
    lit("10.00"), lit("0.01"), "1", "2.50", lit("0"), "0",
    lit("10.00\n"), lit("\n10"), lit(" 1"), lit("1 "), lit("+1"), lit("-1"), lit("-0"), lit("1."), lit(".5"),
    lit("1e2"), "1e2", "1E+2", "0e5", "1E+400", "1e-400", "-0", "-0.0", "-1", "-0.01", lit("0x10"), lit("1_000"),
    lit("١٢"), lit("NaN"), "NaN", "Infinity", "-Infinity", lit("0.001"), "0.001", lit("1.00001"),
    lit("1.000000000000000000000000000000001"), "1.000000000000000000000000000000001",
    str(10**12), lit(str(10**12)), "999999999999.99", str(2**63), str(10**400), lit("9" * 5000),
    "0." + "0" * 3000 + "1", lit("1." + "0" * 40), "true", "[1]", '{"v":1}', "null",
]
TEXTS = [
    lit("player-1"), lit("player-2"), lit("nobody"), lit(""), lit("  "), lit("a\x00b"), lit("\x00"), lit("\ud800"),
    lit("x\udfff"), lit("\ud83d\ude00"), lit("\u202eref\u202c"), lit("Ωmega"), "12345", "-7", "0", "-0",
    "1.5", "1e2", "true", "null", "[]", "{}", '{"a":"\\u0000"}', lit("USD"), lit("usd"), lit("JPY"), lit("XXX"),
    *_around(IDENTIFIER_LENGTH), *_around(IDENTIFIER_LENGTH, "é"), *_around(SESSION_ID_LENGTH),
    *_around(FREE_TEXT_LENGTH), lit("é" * (FREE_JSON_BYTES // 2)), lit("é" * (FREE_JSON_BYTES // 2) + "x"),
    nested(JSON_MAX_DEPTH - 1), nested(JSON_MAX_DEPTH), nested(JSON_MAX_DEPTH + 5), nested(3000),
    '{"x":' + lit("y" * (FREE_JSON_BYTES - 8)) + "}", '{"x":' + lit("y" * (FREE_JSON_BYTES - 7)) + "}",
    '{"a":1,"a":2}', '{"a":1,"a":1}', '{"\\u0000":1}', '{"\\udc00":1}',
]
values = st.sampled_from(AMOUNTS + TEXTS)


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, bytes]:
    """(method, raw body): a valid body as raw pairs, then fields replaced, dropped, re-cased,
    given twice, and unknown ones added; sometimes the body as a whole is hostile."""
    method = draw(st.sampled_from(METHODS))
    shape = draw(st.integers(0, 19))
    if shape == 0:  # not an object, or not JSON at all
        raw = draw(st.sampled_from(["[]", '"x"', "1", "null", "", "{", nested(JSON_MAX_DEPTH + 1), "[" * 5000,
                                    "{}", '{"uuid":1}']))
        return method, raw.encode()
    user, currency, amount = draw(st.sampled_from(PLAYERS))
    body = callback_body(method, userId=user, currency=currency, roundId="round-1",
                         **({"amount": amount} if method in ("Bet", "Result", "PromoWin", "JackpotWin", "BonusWin") else {}))
    if "reference" in body and draw(st.booleans()):
        body["reference"] = draw(st.sampled_from(["fuzz-bet", "fuzz-win"]))  # entries that exist
    pairs = [(k, lit(v)) for k, v in body.items()]
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["replace", "drop", "recase", "twice", "twice-same", "unknown", "amount"]))
        name = draw(st.sampled_from(FIELDS)) if action != "amount" else "amount"
        spelled = draw(st.sampled_from([name, name.lower(), name.upper()]))
        index = next((i for i, (k, _) in enumerate(pairs) if k.lower() == name.lower()), None)
        if action == "amount":  # the amount, present or not: the money parser's edges
            pairs = [p for p in pairs if p[0].lower() != "amount"] + [(spelled, draw(st.sampled_from(AMOUNTS)))]
        elif action == "replace" and index is not None:
            pairs[index] = (pairs[index][0], draw(values))
        elif action == "drop" and index is not None:
            del pairs[index]
        elif action == "recase" and index is not None:
            pairs[index] = (spelled, pairs[index][1])
        elif action == "twice":
            pairs.append((spelled, draw(values)))
        elif action == "twice-same" and index is not None:
            pairs.append((spelled, pairs[index][1]))
        elif action == "unknown":
            key = draw(st.sampled_from(["note", "promoCampaignID", "promoCampaignId", "\x00", "\ud800", "k" * 300]))
            pairs.append((key, draw(values)))
    raw = "{" + ",".join(f"{lit(k)}:{v}" for k, v in pairs) + "}"
    encoding = draw(st.sampled_from(["ascii", "ascii", "ascii", "raw-utf8", "utf-16"]))
    if encoding == "raw-utf8":  # non-ASCII (and lone surrogates) as raw bytes instead of escapes
        return method, _unescaped(raw).encode("utf-8", "surrogatepass")
    if encoding == "utf-16":
        return method, raw.encode("utf-16")
    return method, raw.encode()


def _unescaped(raw: str) -> str:
    """`raw` with its \\uXXXX escapes of non-ASCII characters written as the characters themselves."""
    out, i = [], 0
    while i < len(raw):
        if raw.startswith("\\\\", i):
            out.append("\\\\")
            i += 2
        elif raw.startswith("\\u", i) and int(raw[i + 2:i + 6], 16) >= 0x80:
            out.append(chr(int(raw[i + 2:i + 6], 16)))
            i += 6
        else:
            out.append(raw[i])
            i += 1
    # Pairs of surrogates become the character they encode (valid UTF-8); lone ones stay lone.
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


@pytest.fixture
def wallet(postgres_url: str) -> Iterator[Flask]:
    app = make_app(postgres_url)
    operator = Operator(app.test_client())
    operator.open_player("player-1", deposit="100000.00")
    operator.open_player("player-2", currency="JPY", deposit="5000000")
    for method, reference in (("Bet", "fuzz-bet"), ("Result", "fuzz-win")):
        answer = post(app, method, json.dumps(callback_body(method, reference=reference, roundId="round-0")).encode())
        assert answer["error"] == 0, answer
    yield app
    app.extensions["wallet.engine"].dispose()


def post(app: Flask, method: str, raw: bytes) -> dict[str, Any]:
    r = app.test_client().post(f"/V4/{method}", data=raw, content_type="application/json")
    assert r.status_code == 200, (r.status_code, r.get_data()[:200])
    answer = json.loads(r.get_data(), parse_float=Decimal)
    assert isinstance(answer, dict) and type(answer.get("error")) is int, answer
    assert isinstance(answer.get("description"), str), answer
    return answer


def ledger_state(app: Flask) -> tuple[Any, ...]:
    """Everything a callback could move: balances, statuses, entries, reversals, rounds."""
    with app.extensions["wallet.engine"].connect() as conn:
        return tuple(
            tuple(conn.execute(text(sql)).all()) for sql in (
                "SELECT user_id, balance, status FROM players ORDER BY id",
                "SELECT id, kind, reference, amount, balance_after FROM transactions ORDER BY id",
                "SELECT bet_id, refund_id, amount FROM reversals ORDER BY bet_id",
                "SELECT id, round_id, status FROM rounds ORDER BY id",
            )
        )


def failures() -> float:
    return sum(REGISTRY.get_sample_value("wallet_callback_failures_total", {"method": m, "kind": k}) or 0.0
               for m in METHODS for k in ("database", "unexpected"))


def test_every_callback_gives_a_final_answer_to_hostile_bodies_and_refusals_move_nothing(wallet: Flask) -> None:
    failed_before = failures()
    seen: dict[int, int] = {}

    @FUZZ
    @given(hostile())
    def run(case: tuple[str, bytes]) -> None:
        method, raw = case
        before = ledger_state(wallet)
        answer = post(wallet, method, raw)
        error = answer["error"]
        seen[error] = seen.get(error, 0) + 1
        assert error in KNOWN, answer
        assert error not in (120, 130), answer
        if error == 100:
            assert "not found" in answer["description"], answer  # the contract files an unknown player there
        if error != 0:
            assert ledger_state(wallet) == before, (answer, raw[:300])

    run()
    assert failures() == failed_before, "a callback failed to serve (counted as a failure): see the log"
    report = Operator(wallet.test_client()).reconciliation()  # BonusWins recorded are listed, not mismatches
    assert report["ok"] is True and report["mismatches"] == [], report
    assert 7 in seen, seen  # the fuzzer reached the edge's refusals

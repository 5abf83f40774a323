"""The PostgreSQL stored functions of migration 0004 (wallet/ledger/functions.py).

Their rules are tested with everything else, on both backends (tests/api,
tests/model); here: what only they have. Their copy of the currency table and
their money formatting agree with wallet/money.py, Bet and Refund take one
round trip, and the lost race on a uuid answers with the winner's answer.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text

from tests.conftest import Operator, Provider, make_app
from tests.support import callback_body
from wallet.jsonutil import loads
from wallet.ledger.idempotency import Reply
from wallet.ledger.outcomes import Answer
from wallet.money import _MINOR_UNITS, AmountError, from_minor, to_minor


@pytest.fixture
def engine(postgres_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_the_currency_table_is_wallet_money_s(engine):
    codes = sorted(_MINOR_UNITS)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT c, wallet_minor_unit(c) FROM unnest(CAST(:codes AS text[])) AS c"), {"codes": codes}
        ).all()
        unknown = conn.execute(text("SELECT wallet_minor_unit('XAU'), wallet_minor_unit('usd')")).one()
    assert dict(rows) == _MINOR_UNITS
    assert tuple(unknown) == (None, None)


amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.9999"), places=None, allow_nan=False,
                      allow_infinity=False).filter(lambda d: d.as_tuple().exponent >= -8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=amounts, currency=st.sampled_from(["USD", "JPY", "KWD", "CLF"]))
def test_minor_units_and_cash_agree_with_wallet_money(engine, amount, currency):
    with engine.connect() as conn:
        minor = conn.execute(text("SELECT wallet_to_minor(:a, :c)"), {"a": amount, "c": currency}).scalar()
        try:
            expected = to_minor(amount, currency)
        except AmountError:
            expected = None
        assert minor == expected
        if expected is None:
            return
        body = conn.execute(
            text("SELECT wallet_answer(0, 'Success', 'r-1', 42, :c, :b)"), {"c": currency, "b": expected}
        ).scalar_one()
    python = Reply.of(Answer(0, "Success", {"reference": "r-1", "transactionId": "42", "currency": currency,
                                            "cash": from_minor(expected, currency)})).body
    assert loads(body) == loads(python)
    assert list(json.loads(body)) == list(json.loads(python))  # same fields, same order
    assert str(loads(body)["cash"]) == str(from_minor(expected, currency))  # same digits: 12.50 stays 12.50


def test_bet_and_refund_are_one_statement_in_autocommit(postgres_url):
    """One message to the server each: one statement, and psycopg in autocommit sends no BEGIN
    or COMMIT around it (SQLAlchemy still fires its own begin/commit events, so those are not
    what is counted)."""
    app = make_app(postgres_url)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    engine = app.extensions["wallet.engine"]
    seen: list[tuple[str, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append((statement.split("(")[0], conn.connection.driver_connection.autocommit))

    assert provider.call("Bet", reference="one-trip", amount="2.00")["error"] == 0
    assert provider.call("Refund", reference="one-trip")["error"] == 0
    assert seen == [("SELECT o_error, o_body, o_moved, o_currency FROM wallet_bet", True),
                    ("SELECT o_error, o_body, o_moved, o_currency FROM wallet_refund", True)]
    engine.dispose()


def test_a_uuid_answered_meanwhile_by_another_request_gets_that_answer_and_moves_nothing(postgres_url, engine):
    """The lost race: the uuid's row appears (uncommitted) while the Refund works; the Refund's
    own insert waits for it, then fails with WL409: its work is rolled back and the winner's
    answer is sent."""
    app = make_app(postgres_url)
    operator = Operator(app.test_client())
    operator.open_player()
    provider = Provider(app.test_client())
    assert provider.call("Bet", reference="raced", amount="5.00")["error"] == 0
    before = operator.balance()
    body = callback_body("Refund", reference="raced")
    winner = '{"error":0,"description":"the winner","reference":"raced"}'
    answers: list[dict] = []
    with engine.connect() as holder:
        holder.execute(text("INSERT INTO requests (uuid, method, body_hash, response, created_at)"
                            " VALUES (:u, 'refund', 'h', :r, now())"), {"u": body["uuid"], "r": winner})
        refund = threading.Thread(target=lambda: answers.append(provider.send("Refund", body)))
        refund.start()
        try:
            time.sleep(0.5)
            assert refund.is_alive() and not answers  # its INSERT waits for the holder's uuid
        finally:
            holder.commit()
            refund.join(timeout=30)
    # The stored row has another body hash, so the refund is told 5 (uuid reused), as on SQLite.
    assert answers == [{"error": 5, "description": "uuid already used for a different request",
                        "reference": "raced"}]
    assert operator.balance() == before  # the refund's work was rolled back
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transactions WHERE reference = 'raced'")).scalar() == 1
    app.extensions["wallet.engine"].dispose()

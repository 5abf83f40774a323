"""How the service calls the stored functions (wallet/ledger/functions.py).

Their rules are tested with everything else (tests/api, tests/model); here:
what only the calling path has. Their copy of the currency table and
their money formatting agree with wallet/money.py; Bet, Result and Refund
take one round trip (their statements prepared once per connection, again if
the session lost them; a NUL never reaches libpq); the lost race on a uuid
answers with the winner's answer; each thread's own connection for them is
opened by the warm-up, kept, replaced when it dies or gets old, and closed
with the engine; the warm-up writes nothing; plans stay index scans on a new database,
and look-ups by key when planned from tiny statistics (migration 0005).
"""

from __future__ import annotations

import json
import re
import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError

from bench.roundtrips import WireTrace, round_trips
from tests.conftest import Operator, Provider, make_app
from tests.support import callback_body
from wallet.jsonutil import loads
from wallet.ledger import functions
from wallet.ledger.functions import warm_up
from wallet.ledger.idempotency import Reply
from wallet.ledger.outcomes import Answer
from wallet.ledger.requests import CallbackRequest
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


def _sent(messages: list[list[str]], kind: str) -> list[str]:
    """The statement names of the Parse or Bind messages the client sent."""
    return [re.findall(r'"([^"]*)"', m[3])[1 if kind == "Bind" else 0] for m in messages if m[0] == "F" and m[2] == kind]


def test_bet_result_and_refund_take_one_round_trip_each(postgres_url, tmp_path):
    """Counted on the wire: libpq traces every protocol message of the app's connections, and
    each round trip ends with the server's ReadyForQuery. The worker's warm-up prepares the
    statements on each connection; then a callback is one Bind/Execute/Sync and its
    answer: no BEGIN, no COMMIT, no Parse."""
    app = make_app(postgres_url, db_pool_size=2)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    engine = app.extensions["wallet.engine"]
    wire = WireTrace(engine, tmp_path)
    warm_up(engine)
    warm = wire.take()
    assert sorted(_sent(warm, "Parse")) == sorted([f"wallet_{m}_call" for m in functions.METHODS] * 2)

    assert provider.call("Bet", reference="one-trip", amount="2.00")["error"] == 0
    assert provider.call("Result", reference="one-trip-win", roundId="other", amount="3.00")["error"] == 0
    assert provider.call("Refund", reference="one-trip")["error"] == 0
    calls = wire.take(go_on=False)
    assert round_trips(calls) == 3
    assert _sent(calls, "Parse") == [] and [m for m in calls if m[0] == "F" and m[2] == "Query"] == []
    assert sorted(_sent(calls, "Bind")) == ["wallet_bet_call", "wallet_refund_call", "wallet_result_call"]
    engine.dispose()


def test_a_connection_without_warm_up_prepares_at_its_first_call_and_again_if_deallocated(postgres_url, tmp_path):
    """A statement is prepared on a connection at its first call (one more round trip, once);
    if the session lost it (DEALLOCATE ALL, DISCARD ALL), the call prepares it again and runs."""
    app = make_app(postgres_url)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    engine = app.extensions["wallet.engine"]
    wire = WireTrace(engine, tmp_path)
    assert provider.call("Bet", reference="lazy-1", amount="1.00")["error"] == 0
    assert provider.call("Bet", reference="lazy-2", amount="1.00")["error"] == 0
    first_two = wire.take()
    assert _sent(first_two, "Parse") == ["wallet_bet_call"]
    assert _sent(first_two, "Bind") == ["wallet_bet_call", "wallet_bet_call"]
    assert round_trips(first_two) == 3

    own = functions._held(engine).connection(engine)  # this thread's: the one the callbacks use
    assert own.pgconn.exec_(b"DEALLOCATE ALL").status == pq.ExecStatus.COMMAND_OK
    wire.take()
    assert provider.call("Bet", reference="lazy-3", amount="1.00")["error"] == 0
    again = wire.take(go_on=False)
    assert _sent(again, "Bind") == ["wallet_bet_call", "wallet_bet_call"]  # refused, then run
    assert _sent(again, "Parse") == ["wallet_bet_call"]
    assert Operator(app.test_client()).balance() == Decimal("997.00")
    engine.dispose()


def test_a_nul_in_an_argument_is_refused_before_anything_is_sent(postgres_url, engine):
    """libpq sends text arguments as C strings, where a NUL would cut a reference short. The
    schemas refuse NUL long before; the call refuses it too, as psycopg would, and writes nothing."""
    app = make_app(postgres_url)
    Operator(app.test_client()).open_player()
    wallet_engine = app.extensions["wallet.engine"]
    q = CallbackRequest(method="bet", uuid="nul-1", user_id="player-1", body_hash="h", currency="USD",
                        reference="cut\x00short", round_id="nul-round", amount=Decimal("1.00"))
    with pytest.raises(DBAPIError) as raised:
        functions.call(wallet_engine, q)
    assert isinstance(raised.value.orig, psycopg.DataError) and not raised.value.connection_invalidated
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM requests WHERE uuid = 'nul-1'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM transactions WHERE reference LIKE 'cut%'")).scalar() == 0
    wallet_engine.dispose()


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
        holder.execute(text("INSERT INTO requests (day, uuid, method, body_hash, response, error, created_at)"
                            " VALUES ((now() AT TIME ZONE 'UTC')::date, :u, 'refund', 'h', :r, 0, now())"),
                       {"u": body["uuid"], "r": winner})
        refund = threading.Thread(target=lambda: answers.append(provider.send("Refund", body)))
        refund.start()
        try:
            time.sleep(0.5)
            assert refund.is_alive() and not answers  # its INSERT waits for the holder's uuid
        finally:
            holder.commit()
            refund.join(timeout=30)
    # The stored row has another body hash, so the refund is told 5 (uuid reused).
    assert answers == [{"error": 5, "description": "uuid already used for a different request",
                        "reference": "raced"}]
    assert operator.balance() == before  # the refund's work was rolled back
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transactions WHERE reference = 'raced'")).scalar() == 1
    app.extensions["wallet.engine"].dispose()


# pg_stat_activity's sessions whose last statement was one of the callbacks' functions.
_CALLBACK_SESSIONS = ("FROM pg_stat_activity WHERE datname = current_database()"
                      " AND query LIKE 'SELECT o_error, o_body, o_moved, o_currency FROM wallet_%'")


def _callback_sessions(engine: Any) -> int:
    """How many server sessions the callbacks' functions last ran on."""
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) {_CALLBACK_SESSIONS}")).scalar()


def _eventually(check: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_warm_up_opens_the_callback_connections_and_writes_nothing(postgres_url, engine):
    """One connection per serving thread (the pool's size), each with every function called
    once; the callbacks then use them, without opening more; disposing of the engine closes them."""
    app = make_app(postgres_url, db_pool_size=3)
    wallet_engine = app.extensions["wallet.engine"]
    opened = []
    event.listen(wallet_engine, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
    counts = "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM transactions), (SELECT count(*) FROM rounds)"
    with engine.connect() as conn:
        before = tuple(conn.execute(text(counts)).one())
    assert warm_up(wallet_engine) == 3
    assert len(opened) == 3 and _callback_sessions(engine) == 3
    with engine.connect() as conn:
        assert tuple(conn.execute(text(counts)).one()) == before

    Operator(app.test_client()).open_player()  # the pool's connection (the admin's): one more
    provider = Provider(app.test_client())
    for n in range(5):
        assert provider.call("Bet", reference=f"held-{n}", amount="1.00")["error"] == 0
    assert len(opened) == 4 and _callback_sessions(engine) == 3
    wallet_engine.dispose()
    assert _eventually(lambda: _callback_sessions(engine) == 0)


def test_a_held_connection_that_dies_is_replaced_and_the_callback_retried(postgres_url, engine):
    """The server ends the callbacks' session (a restart, a failover, an idle timeout): the next
    callback finds it dead, drops it and runs once more on a new one, as with a pooled connection."""
    app = make_app(postgres_url)
    operator = Operator(app.test_client())
    operator.open_player()
    provider = Provider(app.test_client())
    wallet_engine = app.extensions["wallet.engine"]
    assert provider.call("Bet", reference="before-death", amount="1.00")["error"] == 0
    with engine.connect() as conn:
        ended = conn.execute(text(f"SELECT pg_terminate_backend(pid) {_CALLBACK_SESSIONS}")).scalars().all()
    assert ended == [True]
    assert provider.call("Bet", reference="after-death", amount="2.00")["error"] == 0
    assert operator.balance() == Decimal("997.00")
    assert _eventually(lambda: _callback_sessions(engine) == 1)
    wallet_engine.dispose()


def test_a_held_connection_is_replaced_at_the_pools_recycle_age(postgres_url, engine, monkeypatch):
    app = make_app(postgres_url)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    wallet_engine = app.extensions["wallet.engine"]
    wallet_engine.dispose()  # from here on, every connection is a new one
    opened = []
    event.listen(wallet_engine, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
    assert provider.call("Bet", reference="young", amount="1.00")["error"] == 0
    assert provider.call("Bet", reference="still-young", amount="1.00")["error"] == 0
    assert len(opened) == 1
    monkeypatch.setattr(functions, "RECYCLE_SECONDS", 0.0)  # every connection is too old from now on
    assert provider.call("Bet", reference="old", amount="1.00")["error"] == 0
    assert len(opened) == 2 and opened[0].closed and not opened[1].closed
    wallet_engine.dispose()
    assert opened[1].closed


def test_look_ups_are_index_scans_from_the_first_call_on_a_new_database(postgres_url, engine):
    """PL/pgSQL keeps a plan per session. Planned from the statistics of tiny tables (autovacuum
    analyses a new database early), it was a sequential scan, kept while the tables grew: 416
    sequential scans here, and 1.7 ms of server CPU per Bet in the bench. The entry points run
    with enable_seqscan off."""
    app = make_app(postgres_url, db_pool_size=1)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    wallet_engine = app.extensions["wallet.engine"]
    assert provider.call("Bet", reference="scan", roundId="scan", amount="1.00")["error"] == 0
    with engine.begin() as conn:  # what autovacuum does early in a new database: statistics of tiny tables
        conn.execute(text("ANALYZE players, rounds, requests, transactions, reversals"))
    wallet_engine.dispose()  # a new session; its statistics reach pg_stat when it ends
    scans = text("SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_user_tables"
                 " WHERE relname IN ('rounds', 'transactions', 'reversals') OR relname LIKE 'requests%'")
    with engine.connect() as conn:
        before = conn.execute(scans).scalar_one()
    for n in range(30):
        assert provider.call("Bet", reference=f"scan-{n}", roundId=f"scan-{n}", amount="1.00")["error"] == 0
        assert provider.call("Refund", reference=f"scan-{n}")["error"] == 0
    wallet_engine.dispose()
    deadline = time.monotonic() + 10
    while True:  # the ended session's counters are flushed asynchronously
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            after = conn.execute(scans).scalar_one()
            calls = conn.execute(text("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables"
                                      " WHERE relname LIKE 'requests%'")).scalar_one()  # its day partitions
        if calls >= 60 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert calls >= 60  # the session's counters did arrive
    assert after == before


def test_reads_stay_look_ups_by_key_when_planned_from_tiny_statistics(postgres_url, engine):
    """Migration 0005. Planned once per session from statistics that saw one reversal (as after
    bench/roundtrips.py on a new database), the generic plans of 0004 read whole indexes: all of
    reversals' key for each reference look-up, every bet of the ledger for a round refund.
    ~2,500 index entries per Refund and twice the server CPU in the bench. Every index scan of
    these callbacks reads at most a few entries, whatever the statistics."""
    app = make_app(postgres_url, db_pool_size=1)
    Operator(app.test_client()).open_player()
    provider = Provider(app.test_client())
    wallet_engine = app.extensions["wallet.engine"]
    assert provider.call("Bet", reference="tiny-0", roundId="tiny-0", amount="1.00")["error"] == 0
    assert provider.call("Refund", reference="tiny-0")["error"] == 0
    with engine.begin() as conn:  # statistics of tiny tables, one reversal among them
        conn.execute(text("ANALYZE players, rounds, requests, transactions, reversals"))
    wallet_engine.dispose()  # a new session, planned from those statistics
    # The request log's uuid index, summed over its day partitions (one probe of each per look-up).
    reads = text("SELECT CASE WHEN relname LIKE 'requests%' THEN 'uq_requests_uuid_day' ELSE indexrelname END,"
                 " sum(idx_scan), sum(idx_tup_read) FROM pg_stat_user_indexes"
                 " WHERE relname IN ('players', 'rounds', 'transactions', 'reversals')"
                 " OR (relname LIKE 'requests%' AND indexrelname LIKE '%uuid_day%') GROUP BY 1")
    with engine.connect() as conn:
        before = {name: (scans, read) for name, scans, read in conn.execute(reads)}
    for n in range(1, 41):  # a bet and its refund, 40 times; then 10 round refunds
        assert provider.call("Bet", reference=f"tiny-{n}", roundId=f"tiny-{n}", amount="1.00")["error"] == 0
        assert provider.call("Refund", reference=f"tiny-{n}")["error"] == 0
    for n in range(1, 11):
        assert provider.call("Bet", reference=f"tiny-b{n}", roundId=f"tiny-r{n}", amount="1.00")["error"] == 0
        answer = provider.call("Refund", reference=f"tiny-x{n}", roundId=f"tiny-r{n}")
        assert answer["error"] == 0 and answer["description"] == "Success", answer
    for n in range(1, 11):  # and results: a bet and its win, 10 rounds
        assert provider.call("Bet", reference=f"tiny-c{n}", roundId=f"tiny-w{n}", amount="1.00")["error"] == 0
        assert provider.call("Result", reference=f"tiny-w{n}", roundId=f"tiny-w{n}", amount="2.00")["error"] == 0
    wallet_engine.dispose()
    deadline = time.monotonic() + 10
    while True:  # the ended session's counters are flushed asynchronously
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            now = {name: (scans - before[name][0], read - before[name][1])
                   for name, scans, read in conn.execute(reads)}
        if now["uq_requests_uuid_day"][0] >= 140 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert now["uq_requests_uuid_day"][0] >= 140  # the session's counters did arrive
    assert now["pk_reversals"][0] >= 50  # the reversal of each bet was looked up
    # A look-up by key reads the entry or two under that key; a scan of a whole index reads all.
    wide = {name: (scans, read) for name, (scans, read) in now.items() if read > 2 * scans + 5}
    assert not wide, wide

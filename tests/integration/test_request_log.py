"""The request log (wallet/ledger/sql/requests.sql, wallet/ledger/request_log.py): day partitions made
ahead, a default partition as the safety net, old days dropped whole, and money exactly once after a
uuid is forgotten. Each test has a database of its own (partitions are per database, and pruning with
a moved clock drops days another test may be writing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from sqlalchemy import Connection, create_engine, text

from tests.conftest import Operator, Provider, make_app
from tests.support import ROOT, callback_body, empty_database, fresh_database
from wallet import clock
from wallet.ledger import request_log

START = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def _partitions(conn: Connection) -> list[str]:
    return list(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'requests'::regclass ORDER BY 1")).scalars())


def _remember(conn: Connection, uuid: str, at: datetime, body: str = '{"error":0,"description":"Success"}') -> str:
    return conn.execute(text(
        "SELECT wallet_remember(:uuid, 'check', 'player-1', NULL, 'hash', 0, :body, :at)"),
        {"uuid": uuid, "body": body, "at": at}).scalar_one()


def _where(conn: Connection, uuid: str) -> list[str]:
    return list(conn.execute(text("SELECT tableoid::regclass::text FROM requests WHERE uuid = :u"), {"u": uuid})
                .scalars())


@pytest.fixture
def engine() -> Iterator[Any]:
    engine = create_engine(fresh_database())
    yield engine
    engine.dispose()


def test_partitions_are_created_ahead_and_a_second_run_creates_none(engine):
    with engine.begin() as conn:
        created = request_log.ensure_partitions(conn, date(2030, 1, 10))
        assert created == [f"requests_203001{d:02d}" for d in range(10, 10 + request_log.AHEAD_DAYS + 1)]
        assert set(created) <= set(_partitions(conn))
        assert "requests_default" in _partitions(conn)
        assert request_log.ensure_partitions(conn, date(2030, 1, 10)) == []
        assert request_log.ensure_partitions(conn, date(2030, 1, 11), dry_run=True) == ["requests_20300118"]
        assert "requests_20300118" not in _partitions(conn)


def _spans(conn) -> list[tuple[str, date, date]]:
    return [tuple(r) for r in conn.execute(text("SELECT * FROM wallet_request_spans()"))]


def test_many_days_kept_make_partitions_of_several_days_and_prune_drops_them_whole(engine):
    """30 days kept: partitions of 4 days (request_log.span_days), so that a callback's uuid look-up
    probes about eight partitions, not thirty; they never overlap, and one leaves with its last day."""
    assert [request_log.span_days(d) for d in (1, 7, 8, 9, 30, 365)] == [1, 1, 1, 2, 4, 46]
    with engine.begin() as conn:
        for offset in range(60):  # two months of a daily cron
            today = date(2030, 1, 1) + timedelta(days=offset)
            request_log.ensure_partitions(conn, today, days_kept=30)
            request_log.prune(conn, 30, today)
            if offset == 20:
                _remember(conn, "u-span", datetime(2030, 1, 21, 8, tzinfo=UTC))
        spans = [s for s in _spans(conn) if s[1].year == 2030]
        for (_, _, end), (_, start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start  # no overlap
        assert all((end - start).days <= 4 for _, start, end in spans)
        # kept: 2030-01-31 (today - 30) to 2030-03-01, plus 7 days ahead: about 10 partitions
        assert len(spans) <= 11
        assert min(start for _, start, _ in spans) <= date(2030, 1, 31) < min(end for _, _, end in spans)
        assert _where(conn, "u-span") == []  # its partition left whole with its last day
        request_log.ensure_partitions(conn, date(2030, 3, 1), days_kept=30)
        _remember(conn, "u-late", datetime(2030, 3, 2, 8, tzinfo=UTC))
        assert conn.execute(text("SELECT wallet_stored('u-late', 'hash', NULL)")).scalar_one() is not None


def test_a_row_of_a_day_without_partition_lands_in_default_and_the_next_run_moves_it(engine):
    lost_day = datetime(2031, 5, 5, 23, 59, tzinfo=UTC)
    with engine.begin() as conn:
        _remember(conn, "u-default", lost_day)
        assert _where(conn, "u-default") == ["requests_default"]
        assert "requests_20310505" in request_log.ensure_partitions(conn, date(2030, 1, 10))
        assert _where(conn, "u-default") == ["requests_20310505"]
        assert conn.execute(text("SELECT count(*) FROM requests_default")).scalar_one() == 0
        # still the stored answer of its uuid
        assert conn.execute(text("SELECT wallet_stored('u-default', 'hash', NULL)")).scalar_one() == \
            '{"error":0,"description":"Success"}'


def test_a_uuid_retried_across_midnight_replays_and_one_day_refuses_a_second_answer(engine):
    with engine.begin() as conn:
        request_log.ensure_partitions(conn, date(2030, 1, 10))
        _remember(conn, "u-midnight", datetime(2030, 1, 10, 23, 59, 59, tzinfo=UTC))
        assert conn.execute(text("SELECT wallet_stored('u-midnight', 'hash', NULL)")).scalar_one() is not None
    with engine.begin() as conn, pytest.raises(Exception, match="uuid already answered"):
        _remember(conn, "u-midnight", datetime(2030, 1, 10, 23, 59, 59, 5, tzinfo=UTC))


def test_prune_drops_only_days_older_than_the_window(engine):
    with engine.begin() as conn:
        request_log.ensure_partitions(conn, date(2030, 1, 1))
        request_log.ensure_partitions(conn, date(2030, 1, 9))
        _remember(conn, "u-old", datetime(2030, 1, 2, 8, tzinfo=UTC))
        _remember(conn, "u-kept", datetime(2030, 1, 3, 8, tzinfo=UTC))
        # (the days the migration made ahead of the real today are older still: dropped with them)
        would = request_log.prune(conn, 7, date(2030, 1, 10), dry_run=True)
        assert [n for n in would if n.startswith("requests_2030")] == ["requests_20300101", "requests_20300102"]
        assert _where(conn, "u-old") == ["requests_20300102"]
        assert request_log.prune(conn, 7, date(2030, 1, 10)) == would
        assert _where(conn, "u-old") == []
        assert _where(conn, "u-kept") == ["requests_20300103"]
        assert request_log.prune(conn, 7, date(2030, 1, 10)) == []
    with engine.begin() as conn, pytest.raises(Exception, match="at least 1 day"):
        request_log.prune(conn, 0, date(2030, 1, 10))


# --------------------------------------------------------------------------- through the app


@pytest.fixture
def wallet(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Flask, list[datetime]]]:
    """The app on a database of its own, its clock at START (moved by assigning now[0])."""
    now = [START]
    monkeypatch.setattr(clock, "utcnow", lambda: now[0])
    app = make_app(fresh_database())
    with app.extensions["wallet.engine"].begin() as conn:
        request_log.ensure_partitions(conn)
    yield app, now
    app.extensions["wallet.engine"].dispose()


def _count(app: Flask, sql: str, **params: Any) -> int:
    with app.extensions["wallet.engine"].connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_after_a_day_is_dropped_a_retransmission_moves_no_money(wallet):
    app, now = wallet
    provider, operator = Provider(app.test_client()), Operator(app.test_client())
    operator.open_player()
    bet = callback_body("Bet", amount="10.00")
    first = provider.send("Bet", bet)
    refunded_bet = callback_body("Bet", amount="5.00")
    assert provider.send("Bet", refunded_bet)["error"] == 0
    refund = callback_body("Refund", reference=refunded_bet["reference"])
    assert provider.send("Refund", refund)["error"] == 0
    assert operator.balance() == Decimal("990.00")

    now[0] = START + timedelta(days=5)  # inside the window: the first answer itself
    assert provider.send("Bet", bet) == first

    now[0] = START + timedelta(days=40)
    report = request_log.prune_requests(app.extensions["wallet.engine"], 30)
    assert "requests_20300110" in report.dropped
    assert _count(app, "SELECT count(*) FROM requests WHERE uuid = :u", u=bet["uuid"]) == 0

    again = provider.send("Bet", bet)  # a forgotten uuid is new; the reference still holds the bet
    assert (again["error"], again["transactionId"]) == (0, first["transactionId"])
    renamed = provider.send("Bet", {**bet, "uuid": "a-new-uuid"})
    assert (renamed["error"], renamed["transactionId"]) == (0, first["transactionId"])
    assert provider.send("Refund", refund)["error"] == 0
    assert provider.send("Refund", {**refund, "uuid": "another-new-uuid"})["error"] == 0
    assert operator.balance() == Decimal("990.00")
    assert _count(app, "SELECT count(*) FROM transactions WHERE reference = :r AND kind = 'refund'",
                  r=refunded_bet["reference"]) == 1
    assert _count(app, "SELECT count(*) FROM transactions WHERE reference = :r", r=bet["reference"]) == 1


def test_an_answer_100_is_logged_but_never_replayed(wallet):
    app, _ = wallet
    provider, operator = Provider(app.test_client()), Operator(app.test_client())
    bet = callback_body("Bet", userId="late-player", amount="1.00")
    assert provider.send("Bet", bet)["error"] == 100
    operator.open_player("late-player")
    assert provider.send("Bet", bet)["error"] == 0
    errors = _count(app, "SELECT string_agg(error::text, ',' ORDER BY id) FROM requests WHERE uuid = :u",
                    u=bet["uuid"])
    assert errors == "100,0"


def test_the_cli_prunes_says_what_it_did_and_then_that_nothing_is_left(wallet):
    app, now = wallet
    provider = Provider(app.test_client())
    Operator(app.test_client()).open_player()
    provider.call("Check")
    now[0] = START + timedelta(days=31)
    run = app.test_cli_runner().invoke

    dry = run(args=["wallet", "prune-requests", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would drop partition requests_20300110" in dry.output
    assert "requests_20300110" in _names(app)

    done = run(args=["wallet", "prune-requests"])
    assert done.exit_code == 0, done.output
    assert "dropped partition requests_20300110" in done.output
    assert "created partition requests_20300210" in done.output
    assert "requests_20300110" not in _names(app)
    assert "requests_20300111" in _names(app)  # 30 days before 2030-02-10, kept

    repeat = run(args=["wallet", "prune-requests"])
    assert repeat.exit_code == 0
    assert repeat.output.startswith("nothing to do")
    # the run that changed something is in the audit trail, as the CLI's actor; the others are not
    assert _count(app, "SELECT count(*) FROM audit_log WHERE action = 'requests.prune'"
                       " AND actor LIKE 'cli:%%' AND after::text LIKE '%%requests_20300110%%'") == 1
    assert _count(app, "SELECT count(*) FROM audit_log WHERE action = 'requests.prune'") == 1


def _names(app: Flask) -> list[str]:
    with app.extensions["wallet.engine"].connect() as conn:
        return _partitions(conn)


def test_a_worker_start_creates_the_partitions_ahead_and_survives_a_database_down(wallet, caplog):
    app, now = wallet
    now[0] = START + timedelta(days=100)
    request_log.ensure_at_start(app.extensions["wallet.engine"], 1)
    assert "requests_20300420" in _names(app)
    down = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    request_log.ensure_at_start(down, 1)  # logged, not raised: the worker serves anyway
    assert "request log partitions not checked" in caplog.text


# --------------------------------------------------------------------------- the migration


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def test_the_migration_moves_the_log_into_day_partitions_and_back(monkeypatch):
    monkeypatch.setenv("WALLET_REQUEST_LOG_DAYS", "7")  # one day per partition
    url = empty_database()
    cfg = _config(url)
    command.upgrade(cfg, "0012")
    engine = create_engine(url)
    answer = json.dumps({"error": 7, "description": "Bad parameters"}, separators=(",", ":"))
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO requests (uuid, method, body_hash, response, created_at) VALUES "
                "('old-1', 'bet', 'h1', :a, '2026-11-20T10:00Z'), ('old-2', 'check', 'h2', :a, '2026-11-21T23:00Z')"),
                {"a": answer})
        command.upgrade(cfg, "0013")
        with engine.connect() as conn:
            assert _where(conn, "old-1") == ["requests_20261120"]
            assert _where(conn, "old-2") == ["requests_20261121"]
            row = conn.execute(text("SELECT error, description, response FROM requests WHERE uuid = 'old-1'")).one()
            assert tuple(row) == (7, "Bad parameters", answer)
            assert conn.execute(text("SELECT wallet_stored('old-1', 'h1', NULL)")).scalar_one() == answer
            assert conn.execute(text("SELECT count(*) FROM requests_default")).scalar_one() == 0
        with engine.begin() as conn:
            _remember(conn, "new-1", datetime.now(UTC))
            conn.execute(text("INSERT INTO requests (day, created_at, method, error) "
                              "VALUES (current_date, now(), 'bet', 5)"))  # a refusal: not kept going down
        command.downgrade(cfg, "0012")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT uuid, response FROM requests ORDER BY uuid")).all()
            assert [r.uuid for r in rows] == ["new-1", "old-1", "old-2"]
            assert conn.execute(text("SELECT wallet_stored('old-2', 'h2', NULL)")).scalar_one() == answer
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM requests WHERE response IS NOT NULL")).scalar_one() == 3
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the searches' plans


def _plan_of(conn: Connection, query: Any) -> list[tuple[str, str | None, str | None]]:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()[0]["Plan"]

    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node] + [n for child in node.get("Plans", []) for n in walk(child)]

    return [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in walk(plan)]


FULL_DAYS = ("requests_20300301", "requests_20300302", "requests_20300303")


def test_the_searches_walk_an_index_in_every_day_and_skip_days_out_of_range(engine):
    """90,000 logged callbacks over 3 days: each filter is an index walk per partition, newest first,
    merged without sorting the days; `from` skips whole days."""
    from wallet.admin import history

    with engine.begin() as conn:
        request_log.ensure_partitions(conn, date(2030, 3, 1))
        conn.execute(text("""
            INSERT INTO requests (day, created_at, uuid, method, user_id, reference, error, description,
                                  body_hash, response)
            SELECT (t AT TIME ZONE 'UTC')::date, t, 'u-' || n, 'bet', 'p-' || (n % 500), 'ref-' || n,
                   CASE WHEN n % 50 = 0 THEN 7 ELSE 0 END, 'Success', 'h', '{}'
            FROM generate_series(1, 90000) n, LATERAL (SELECT timestamptz '2030-03-01 00:00Z'
                                                              + n * interval '2.88 seconds' AS t) m
        """))
        conn.execute(text("ANALYZE requests"))
    with engine.connect() as conn:
        for f, index in [
            (history.RequestFilter(reference="ref-777"), "reference_created_at"),
            (history.RequestFilter(user_id="p-7"), "user_id_created_at"),
            (history.RequestFilter(error=7), "error_created_at"),
            (history.RequestFilter(), "created_at_id"),
        ]:
            shape = _plan_of(conn, history._requests_query(f).limit(101))
            # (empty days, never analysed, may be "scanned": there is nothing in them to read)
            assert not [s for s in shape if s[0] == "Seq Scan" and s[1] in FULL_DAYS], (f, shape)
            assert any(s[2] and index in s[2] for s in shape), (f, shape)
            if f.reference is None:  # a walk in order: no sort (one reference's few rows may be sorted)
                assert not [s for s in shape if s[0] == "Sort"], (f, shape)
        later = history.RequestFilter(since=datetime(2030, 3, 3, 12, tzinfo=UTC))
        scanned = {s[1] for s in _plan_of(conn, history._requests_query(later).limit(101)) if s[1]}
        assert "requests_20300303" in scanned
        assert not [n for n in scanned if n[9:].isdigit() and n[9:] < "20300303"], scanned  # earlier days skipped

"""A limited player's period totals (`player_period_totals`) are derived data that always equal the ledger.

A Bet of a player with a loss or wager limit reads one row per period instead of
summing the period's entries (wallet/ledger/sql/limits.sql); `wallet_post` adds
every later entry to it. These tests hold the rows to the ledger after mixed
traffic across period boundaries in a non-UTC zone, show that deleting them
changes no decision, that a change of WALLET_TIMEZONE computes the new zone's
periods afresh, and that Check (which holds no lock) stores nothing.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import create_engine, text

# The fixtures of the operator-controls tests: the moved clock, a wallet in UTC and one in Auckland.
from tests.api.test_operator_controls import Clock, World, app, auckland, now, wallet_app, world  # noqa: F401
from tests.support import unique

# The periods the table holds, one row each: (player_id, zone, period, span, sums).
_PERIODS = """
    SELECT t.player_id, t.zone, (ARRAY['day', 'week', 'month'])[p.i] AS period, p.starts_at, p.ends_at,
           p.bets, p.wins, p.reversed
    FROM player_period_totals t,
         unnest(t.starts_at, t.ends_at, t.bets, t.wins, t.reversed) WITH ORDINALITY
             AS p (starts_at, ends_at, bets, wins, reversed, i)
    WHERE p.starts_at IS NOT NULL
"""
# Every period held against the ledger's sums over its own span.
_MISMATCHES = text(f"""
    SELECT t.period, t.zone, t.starts_at, t.bets, t.wins, t.reversed, l.bets AS ledger_bets,
           l.wins AS ledger_wins, l.reversed AS ledger_reversed
    FROM ({_PERIODS}) t
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(-e.amount) FILTER (WHERE e.kind = 'bet'), 0) AS bets,
               coalesce(sum(e.amount) FILTER (WHERE e.kind = 'win'), 0) AS wins,
               coalesce(sum(e.amount) FILTER (WHERE e.kind IN ('refund', 'cancel')), 0) AS reversed
        FROM transactions e
        WHERE e.player_id = t.player_id AND e.created_at >= t.starts_at AND e.created_at < t.ends_at
    ) l
    WHERE (t.bets, t.wins, t.reversed) IS DISTINCT FROM (l.bets, l.wins, l.reversed)
""")



def _rows(database_url: str, sql: str) -> list[tuple]:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _mismatches(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(_MISMATCHES)]
    finally:
        engine.dispose()


def test_the_totals_equal_the_ledger_after_mixed_traffic_across_periods(auckland: World, database_url: str):
    w = auckland
    w.now.at("2027-03-14T10:30:00+00:00")  # Sunday 23:30 in Auckland: the last half hour of a week
    w.limits({"lossLimit": {"day": "500.00", "week": "600.00", "month": "900.00"},
              "wagerLimit": {"day": "700.00"}})
    for minute in range(0, 60, 10):  # across midnight, Monday, in Auckland
        w.ok_bet("7.00", round_id=f"r-{minute}", reference=f"bet-{minute}")
        if minute % 20 == 0:
            win = w.call("Result", reference=unique("win"), roundId=f"r-{minute}", gameId="game-1", amount="3.50")
            assert win["error"] == 0
        if minute == 30:  # Monday 00:00 there: a refund of the previous week's bet
            assert w.call("Refund", reference="bet-10")["error"] == 0
        if minute == 40:
            assert w.call("Cancel", reference="bet-30")["error"] == 0
        assert _mismatches(database_url) == []
        w.now.move(minutes=10)
    assert _rows(database_url, f"SELECT period, bets, wins, reversed FROM ({_PERIODS}) p ORDER BY period") == [
        ("day", 2100, 350, 1400), ("month", 4200, 1050, 1400), ("week", 2100, 350, 1400)]
    w.now.at("2027-03-31T10:55:00+00:00")  # the month's last minutes there, then April
    w.ok_bet("2.00", round_id="m-1")
    w.now.move(minutes=10)
    w.ok_bet("2.00", round_id="m-2")
    assert w.call("Result", reference=unique("win"), roundId="m-1", gameId="game-1", amount="1.25")["error"] == 0

    assert _rows(database_url, f"SELECT period, bets, wins FROM ({_PERIODS}) p ORDER BY period") == [
        ("day", 200, 125), ("month", 200, 125), ("week", 400, 125)]  # April's, and the week of 29 March
    assert _mismatches(database_url) == []
    w.clean()


def test_deleting_the_totals_changes_no_decision(world: World, database_url: str):
    w = world
    w.limits({"lossLimit": {"day": "20.00"}, "wagerLimit": {"week": "45.00"}})
    w.ok_bet("15.00", round_id="r-1")
    w.ok_bet("5.00", round_id="r-1")
    assert w.error("0.01", round_id="r-2") == 50
    _rows(database_url, "DELETE FROM player_period_totals RETURNING 1")
    assert w.bet("0.01", round_id="r-2")["description"] == "Bet limit reached: loss limit of the day"
    assert w.call("Result", reference=unique("win"), roundId="r-1", gameId="game-1", amount="20.00")["error"] == 0
    w.ok_bet("20.00", round_id="r-3")  # 40 wagered this week, 20 lost today
    _rows(database_url, "DELETE FROM player_period_totals RETURNING 1")
    assert w.bet("5.01", round_id="r-4")["description"] == "Bet limit reached: loss limit of the day"
    assert _mismatches(database_url) == []
    w.clean()


def test_a_new_time_zone_computes_its_own_periods(database_url: str, now: Clock):
    """Rows are per zone: after WALLET_TIMEZONE changes, the new zone's day is summed afresh from the
    ledger, and the old zone's rows, still kept up to date, never count twice."""
    now.at("2027-02-01T03:00:00+00:00")  # Monday in UTC; Sunday 22:00 in New York
    utc_app = wallet_app(database_url)
    w = World(utc_app, now)
    w.limits({"lossLimit": {"day": "30.00"}})
    w.ok_bet("20.00", round_id="r-1")  # Monday in UTC, Sunday in New York
    utc_app.extensions["wallet.engine"].dispose()

    new_york: Flask = wallet_app(database_url, timezone="America/New_York")
    w.provider.client = new_york.test_client()
    w.operator.client = new_york.test_client()
    now.at("2027-02-01T06:00:00+00:00")  # Monday 01:00 in New York: a new day there, nothing lost yet
    w.ok_bet("25.00", round_id="r-2")
    assert w.bet("5.01", round_id="r-3")["description"] == "Bet limit reached: loss limit of the day"
    zones = _rows(database_url, "SELECT DISTINCT zone FROM player_period_totals ORDER BY zone")
    assert zones == [("America/New_York",), ("UTC",)]
    assert _mismatches(database_url) == []
    new_york.extensions["wallet.engine"].dispose()


def test_check_holds_no_lock_and_stores_no_totals(world: World, database_url: str):
    w = world
    w.ok_bet("10.00", round_id="r-1")
    w.limits({"lossLimit": {"month": "10.00"}})
    assert w.call("Check")["error"] == 50  # computed from the ledger
    assert _rows(database_url, "SELECT count(*) FROM player_period_totals") == [(0,)]
    assert w.error("0.01", round_id="r-2") == 50  # the Bet stores the month's row
    assert _rows(database_url, f"SELECT period, bets FROM ({_PERIODS}) p") == [("month", 1000)]


def test_a_player_without_a_period_limit_has_no_totals(world: World, database_url: str):
    w = world
    w.limits({"maxBet": "50.00", "realityCheckMinutes": 60})
    w.ok_bet("10.00", round_id="r-1")
    assert w.call("Result", reference=unique("win"), roundId="r-1", gameId="game-1", amount="1.00")["error"] == 0
    assert _rows(database_url, "SELECT count(*) FROM player_period_totals") == [(0,)]

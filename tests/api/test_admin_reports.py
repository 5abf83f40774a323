"""Rounds, balance history, daily report and reconciliation through the admin API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, text, update

from tests.admin_scenario import get, seed
from wallet.admin import queries
from wallet.admin.schemas import DailyReportOut, HistoryOut, ReconciliationOut, RoundOut
from wallet import clock
from wallet.ledger.models import players, reversals


@pytest.fixture
def ids(provider, operator):
    return seed(provider, operator)


def test_a_round_shows_its_bets_results_refunds_and_totals(provider, operator, ids):
    settled = get(operator, "/rounds/r1")
    assert RoundOut().validate(settled) == {}
    assert settled["status"] == "open" and settled["hasResult"] is True
    assert [b["transactionId"] for b in settled["bets"]] == [ids["settled_bet"]]
    assert [w["transactionId"] for w in settled["results"]] == [ids["win"]]
    assert settled["refunds"] == [] and settled["cancelRequests"] == []
    assert settled["totals"] == {"bets": Decimal("10.00"), "wins": Decimal("25.00"), "refunds": Decimal("0.00"),
                                 "cancels": Decimal("0.00"), "prizes": Decimal("0.00"), "net": Decimal("15.00")}

    cancelled = get(operator, "/rounds/r2")
    assert cancelled["status"] == "cancelled"
    assert [r["transactionId"] for r in cancelled["refunds"]] == [ids["refund"]]
    assert cancelled["totals"]["net"] == Decimal("0.00")
    assert [e["transactionId"] for e in cancelled["entries"]] == [ids["refunded_bet"], ids["refund"]]

    assert get(operator, "/rounds/r4")["refunds"][0]["status"] == "unmatched"
    assert operator.request("GET", "/rounds/nope").status_code == 404


def test_balance_history_chains_each_balance_to_the_one_before(operator, ids):
    history = get(operator, "/players/p1/history")
    assert HistoryOut().validate(history) == {}
    assert history["balance"] == Decimal("1012.50") and history["nextCursor"] is None
    items = history["items"]
    assert items[0]["balanceAfter"] == history["balance"]
    for newer, older in zip(items, items[1:]):
        assert newer["balanceAfter"] == older["balanceAfter"] + newer["amount"]
    assert items[-1]["type"] == "adjustment" and items[-1]["balanceAfter"] == items[-1]["amount"]


def test_balance_history_pages_and_404s(operator, ids):
    first = get(operator, "/players/p1/history", limit=2)
    second = get(operator, "/players/p1/history", limit=2, cursor=first["nextCursor"])
    assert len(first["items"]) == 2 and first["items"][-1]["balanceAfter"] == (
        second["items"][0]["balanceAfter"] + first["items"][-1]["amount"])
    assert operator.request("GET", "/players/nobody/history").status_code == 404
    assert operator.request("GET", "/players/p1/history?limit=0").status_code == 422


def _at(day: int, hour: int = 12):  # noqa: ANN202
    return lambda: datetime(2026, 5, day, hour, tzinfo=UTC)


def test_daily_report_sums_exactly_per_day_and_currency(provider, operator, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", _at(1, 0))
    operator.open_player("u", "USD", "100.00")
    operator.open_player("k", "KWD", "50.000")
    provider.call("Bet", userId="u", reference="a", roundId="ra", amount="0.10")
    provider.call("Bet", userId="u", reference="b", roundId="rb", amount="0.20")
    provider.call("Result", userId="u", reference="a-win", roundId="ra", amount="0.05")
    provider.call("Bet", userId="k", reference="c", roundId="rc", amount="1.001", currency="KWD")
    monkeypatch.setattr(clock, "utcnow", _at(2, 23))
    provider.call("Refund", userId="u", reference="b")
    r = operator.request("POST", "/players/u/adjustments", json={"amount": "-0.30", "reference": "w", "reason": "out"})
    assert r.status_code == 201
    monkeypatch.setattr(clock, "utcnow", _at(3))
    provider.call("Bet", userId="u", reference="outside", roundId="rd", amount="1.00")

    report = get(operator, "/reports/daily", **{"from": "2026-05-01", "to": "2026-05-02"})
    assert DailyReportOut().validate(report) == {}
    rows = {(d["day"], d["currency"]): d for d in report["days"]}
    assert set(rows) == {("2026-05-01", "USD"), ("2026-05-01", "KWD"), ("2026-05-02", "USD")}
    first = rows["2026-05-01", "USD"]
    assert first["bets"] == {"count": 2, "sum": Decimal("0.30")}
    assert first["wins"] == {"count": 1, "sum": Decimal("0.05")}
    assert first["adjustments"] == {"count": 1, "sum": Decimal("100.00")}
    assert first["ggr"] == Decimal("0.25")
    second = rows["2026-05-02", "USD"]
    assert second["refunds"] == {"count": 1, "sum": Decimal("0.20")} and second["ggr"] == Decimal("-0.20")
    assert second["adjustments"]["sum"] == Decimal("-0.30") and second["bets"]["count"] == 0
    assert rows["2026-05-01", "KWD"]["ggr"] == Decimal("1.001")
    totals = {t["currency"]: t for t in report["totals"]}
    assert totals["USD"]["ggr"] == Decimal("0.05") and totals["USD"]["bets"]["count"] == 2
    raw = operator.request("GET", "/reports/daily?from=2026-05-01&to=2026-05-01").get_data(as_text=True)
    assert '"ggr":1.001' in raw and '"ggr":0.25' in raw


@pytest.mark.parametrize("query", ["", "from=2026-05-01", "from=2026-05-02&to=2026-05-01",
                                   "from=2025-01-01&to=2026-05-01", "from=x&to=y"])
def test_daily_report_refuses_a_bad_range(operator, query):
    assert operator.request("GET", f"/reports/daily?{query}").status_code == 422


def test_reconciliation_of_a_clean_ledger_is_ok(operator, ids):
    report = get(operator, "/reconciliation")
    assert report == {"ok": True, "mismatches": [], "bonusWinsRecorded": []} and ReconciliationOut().validate(report) == {}


def test_reconciliation_names_a_balance_changed_behind_the_services_back(app, operator, ids):
    with app.extensions["wallet.engine"].begin() as conn:
        conn.execute(update(players).where(players.c.user_id == "p1").values(balance=players.c.balance + 1))
    report = get(operator, "/reconciliation")
    assert report["ok"] is False
    kinds = {m["kind"]: m for m in report["mismatches"]}
    assert set(kinds) == {"balance_differs_from_entries", "balance_differs_from_last_entry"}
    assert kinds["balance_differs_from_entries"] == {
        "kind": "balance_differs_from_entries", "userId": "p1",
        "balance": Decimal("1012.51"), "sumOfEntries": Decimal("1012.50")}


def test_reconciliation_names_a_bogus_reversal(app, operator, ids):
    """A reversal linking the open bet to the unmatched refund for the wrong amount."""
    with app.extensions["wallet.engine"].begin() as conn:
        conn.execute(insert(reversals).values(bet_id=int(ids["open_bet"]), refund_id=int(ids["unmatched_refund"]),
                                              amount=100))
    kinds = {m["kind"]: m for m in get(operator, "/reconciliation")["mismatches"]}
    assert kinds["refund_does_not_net_bet"]["betTransactionId"] == ids["open_bet"]
    assert kinds["refund_does_not_net_bet"]["betAmount"] == Decimal("-2.50")
    assert kinds["refund_does_not_net_bet"]["refunded"] == Decimal("1.00")
    assert kinds["refund_amount_differs_from_bets"]["refundTransactionId"] == ids["unmatched_refund"]


def test_reconciliation_names_a_bet_reversed_twice(ids, app):
    """The reversals key forbids it; drop the key inside a transaction that is rolled back."""
    with app.extensions["wallet.engine"].connect() as conn, conn.begin() as tx:
        conn.execute(text("ALTER TABLE reversals DROP CONSTRAINT pk_reversals"))
        conn.execute(insert(reversals).values(bet_id=int(ids["refunded_bet"]), refund_id=int(ids["refund"]),
                                              amount=500))
        report = queries.reconciliation(conn)
        tx.rollback()
    twice = [m for m in report["mismatches"] if m["kind"] == "bet_reversed_twice"]
    assert twice == [{"kind": "bet_reversed_twice", "reference": "b2",
                      "betTransactionId": ids["refunded_bet"], "reversals": 2}]

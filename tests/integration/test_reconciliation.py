"""Reconciliation names what is wrong when the ledger is tampered with behind the service's back."""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_reconciliation_finds_a_balance_edited_by_hand(database_url, provider, operator, player):
    provider.call("Bet", reference="b", roundId="r", amount="5")
    assert operator.reconciliation()["ok"] is True
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE players SET balance = balance + 1 WHERE user_id = 'player-1'"))
    engine.dispose()
    report = operator.reconciliation()
    assert report["ok"] is False
    assert {m["kind"] for m in report["mismatches"]} == {"balance_differs_from_entries", "balance_differs_from_last_entry"}
    assert report["mismatches"][0]["userId"] == "player-1"


def test_reconciliation_finds_a_refund_that_does_not_net_its_bet(database_url, provider, operator, player):
    provider.call("Bet", reference="b", roundId="r", amount="5")
    provider.call("Refund", reference="b")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE reversals SET amount = amount - 1"))
    engine.dispose()
    kinds = {m["kind"] for m in operator.reconciliation()["mismatches"]}
    assert kinds == {"refund_does_not_net_bet", "refund_amount_differs_from_bets"}

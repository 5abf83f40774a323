"""Refund, docs/protocol.mdthrough the HTTP interface."""

from __future__ import annotations

from decimal import Decimal


def test_refund_of_a_bet_credits_it_back_once(provider, operator, player):
    bet = provider.call("Bet", reference="bet-1", amount="25.50")
    assert bet["error"] == 0 and bet["cash"] == Decimal("974.50")

    refund = provider.call("Refund", reference="bet-1")
    assert refund["error"] == 0
    assert refund["reference"] == "bet-1"
    assert refund["cash"] == Decimal("1000.00")
    assert refund["currency"] == "USD"
    assert refund["transactionId"] != bet["transactionId"]

    again = provider.call("Refund", reference="bet-1")  # retransmitted with a new uuid
    assert again["error"] == 0 and again["transactionId"] == refund["transactionId"]
    assert operator.balance() == Decimal("1000.00")
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}


def test_refund_of_unknown_bet_blocks_late_bet(provider, operator, player):
    refund = provider.call("Refund", reference="late-1", roundId="round-late")
    assert refund["error"] == 0 and "nothing" in refund["description"]
    assert refund["cash"] == Decimal("1000.00")

    late = provider.call("Bet", reference="late-1", roundId="round-late")
    assert late["error"] == 3
    assert operator.balance() == Decimal("1000.00")


def test_refund_checks_owner_currency_and_amount(provider, operator, player):
    operator.open_player("player-2")
    provider.call("Bet", reference="bet-2", amount="5.00")
    assert provider.call("Refund", reference="bet-2", userId="player-2")["error"] == 7
    assert provider.call("Refund", reference="bet-2", currency="EUR")["error"] == 2
    assert provider.call("Refund", reference="bet-2", amount="5.01")["error"] == 10
    assert operator.balance() == Decimal("995.00")
    assert provider.call("Refund", reference="bet-2", amount=5)["error"] == 0
    assert operator.balance() == Decimal("1000.00")


def test_refund_of_a_settled_round_is_refused(provider, operator, player):
    provider.call("Bet", reference="bet-3", roundId="round-3")
    provider.call("Result", reference="win-3", roundId="round-3", amount="0")
    answer = provider.call("Refund", reference="bet-3")
    assert answer["error"] == 3 and answer["reference"] == "bet-3"
    assert operator.balance() == Decimal("990.00")


def test_refund_by_round_reverses_every_open_bet(provider, operator, player):
    provider.call("Bet", reference="a", roundId="round-4", amount="1.00")
    provider.call("Bet", reference="b", roundId="round-4", amount="2.00")
    answer = provider.call("Refund", reference="round-4-cancel", roundId="round-4")
    assert answer["error"] == 0 and answer["cash"] == Decimal("1000.00")
    # the individual bets are now refunded: their own refunds answer the first refund's id
    assert provider.call("Refund", reference="a")["transactionId"] == answer["transactionId"]
    assert provider.call("Bet", reference="c", roundId="round-4")["error"] == 3
    assert operator.reconciliation()["ok"] is True

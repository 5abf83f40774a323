"""The rest of the V4 wallet over HTTP on PostgreSQL: Cancel, Auto-Closing Results, prizes,
sessions and both error tables (docs/protocol.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Operator, Provider, make_app
from tests.support import callback_body


def _entries(url: str, reference: str) -> list[tuple[str, int, int | None]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, amount, announced_amount FROM transactions WHERE reference = :r"
                                 " ORDER BY id"), {"r": reference}).all()
    engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


# --------------------------------------------------------------------------- Cancel


def test_cancel_reverses_a_lost_bet_once(provider, operator, player):
    bet = provider.call("Bet", reference="lost-1", amount="12.00")
    cancel = provider.call("Cancel", reference="lost-1")
    assert cancel == {"error": 0, "description": "Success", "reference": "lost-1",
                      "transactionId": cancel["transactionId"], "currency": "USD", "cash": Decimal("1000.00")}
    assert cancel["transactionId"] != bet["transactionId"]
    again = provider.call("Cancel", reference="lost-1")  # a retransmission, new uuid
    assert again == cancel
    assert operator.balance() == Decimal("1000.00")
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}


def test_refund_and_cancel_of_one_bet_share_one_key_in_any_order(provider, operator, player):
    provider.call("Bet", reference="both-1", roundId="both-r1", amount="3.00")
    refund = provider.call("Refund", reference="both-1")
    cancel = provider.call("Cancel", reference="both-1")
    assert cancel["error"] == 0 and cancel["transactionId"] == refund["transactionId"]

    provider.call("Bet", reference="both-2", roundId="both-r2", amount="4.00")
    cancel = provider.call("Cancel", reference="both-2")
    refund = provider.call("Refund", reference="both-2")
    assert refund["error"] == 0 and refund["transactionId"] == cancel["transactionId"]
    assert operator.balance() == Decimal("1000.00")


def test_cancel_of_an_unknown_bet_blocks_the_late_bet_and_leaves_the_round(provider, operator, player):
    provider.call("Bet", reference="other-bet", roundId="kept-round", amount="2.00")
    cancel = provider.call("Cancel", reference="never-arrived", roundId="kept-round")
    assert cancel["error"] == 0 and cancel["description"].startswith("Success: no bet")
    assert provider.call("Bet", reference="never-arrived", roundId="kept-round", amount="1.00")["error"] == 3
    # the round is not cancelled: a Cancel never reverses a whole round
    assert provider.call("Bet", reference="next-bet", roundId="kept-round", amount="1.00")["error"] == 0
    assert operator.balance() == Decimal("997.00")


def test_cancel_checks_owner_currency_amount_and_settled_round(provider, operator, player):
    operator.open_player("player-2")
    provider.call("Bet", reference="chk", roundId="chk-r", amount="5.00")
    assert provider.call("Cancel", reference="chk", userId="player-2")["error"] == 7
    assert provider.call("Cancel", reference="chk", currency="EUR")["error"] == 2
    assert provider.call("Cancel", reference="chk", amount="5.01")["error"] == 10
    provider.call("Result", reference="chk-win", roundId="chk-r", amount="0")
    settled = provider.call("Cancel", reference="chk")
    assert settled["error"] == 3 and settled["reference"] == "chk"
    assert operator.balance() == Decimal("995.00")


def test_cancel_is_paid_to_a_frozen_player(provider, operator, player):
    provider.call("Bet", reference="frozen-bet", amount="7.00")
    assert operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"}).status_code == 200
    assert provider.call("Cancel", reference="frozen-bet")["error"] == 0
    assert operator.balance() == Decimal("1000.00")


# --------------------------------------------------------------------------- sessions


def test_auto_closing_result_without_a_session_is_paid(provider, operator, player):
    provider.call("Bet", reference="abandoned", roundId="abandoned-r", amount="10.00")
    answer = provider.call("Result", reference="auto-close", roundId="abandoned-r", amount="25.00", sessionId=None)
    assert answer["error"] == 0 and answer["cash"] == Decimal("1015.00")
    assert provider.call("EndRound", roundId="abandoned-r", sessionId=None)["error"] == 0


def test_session_id_stays_required_on_check_balance_and_bet(provider, player):
    for method in ("Check", "Balance", "Bet"):
        assert provider.call(method, sessionId=None)["error"] == 7, method


def test_a_bet_in_an_expired_session_is_refused_and_everything_else_goes_on(provider, operator, player):
    provider.call("Bet", reference="before-expiry", roundId="exp-r", amount="10.00", sessionId="s-exp")
    assert provider.call("SessionExpired", sessionId="s-exp") == {"error": 0, "description": "Success"}
    assert provider.call("SessionExpired", sessionId="s-exp")["error"] == 0  # repeatable
    refused = provider.call("Bet", reference="after-expiry", roundId="exp-r", amount="1.00", sessionId="s-exp")
    assert refused == {"error": 3, "description": "Session expired"}
    assert provider.call("Check", sessionId="s-exp")["error"] == 0
    assert provider.call("Result", reference="exp-win", roundId="exp-r", amount="4.00", sessionId="s-exp")["error"] == 0
    assert provider.call("Bet", reference="new-session", roundId="exp-r2", amount="1.00", sessionId="s-new")["error"] == 0
    assert operator.balance() == Decimal("993.00")


def test_a_session_never_seen_is_recorded_expired(provider, player):
    assert provider.call("SessionExpired", sessionId="unseen")["error"] == 0
    assert provider.call("Bet", reference="in-unseen", sessionId="unseen")["error"] == 3
    assert provider.call("SessionExpired", userId="nobody", sessionId="x")["error"] == 100


# --------------------------------------------------------------------------- prizes


def test_promo_win_is_credited_once_and_retransmissions_show_the_current_cash(provider, operator, player, database_url):
    first = provider.call("PromoWin", reference="promo-1", amount="20.00", campaignId="c-1", campaignType="T")
    assert first["error"] == 0 and first["cash"] == Decimal("1020.00")
    provider.call("Bet", reference="after-promo", amount="5.00")
    again = provider.call("PromoWin", reference="promo-1", amount="20.00", campaignId="c-1", campaignType="T")
    assert again == {**first, "cash": Decimal("1015.00")}  # first transactionId, current cash
    assert provider.call("PromoWin", reference="promo-1", amount="21.00", campaignId="c-1")["error"] == 7
    assert provider.call("PromoWin", reference="promo-1", amount="20.00", campaignId="c-2")["error"] == 7
    assert provider.call("PromoWin", reference="after-promo", amount="1.00")["error"] == 7  # a bet's
    assert provider.call("PromoWin", reference="zero", amount="0")["error"] == 10
    assert provider.call("PromoWin", reference="nobody's", userId="ghost")["error"] == 100
    assert _entries(database_url, "promo-1") == [("promo", 2000, 2000)]
    assert operator.reconciliation() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}


def test_a_promo_win_on_a_result_is_a_second_entry_and_a_later_promo_win_repeats_it(provider, operator, player,
                                                                                      database_url):
    provider.call("Bet", reference="pr-bet", roundId="pr-r", amount="10.00")
    result = provider.call("Result", reference="pr-win", roundId="pr-r", amount="15.00",
                           promoWinAmount="3.50", promoWinReference="pr-promo", promoCampaignID="camp",
                           promoCampaignType="CB")
    assert result["error"] == 0 and result["cash"] == Decimal("1008.50")
    assert _entries(database_url, "pr-promo") == [("promo", 350, 350)]
    repeat = provider.call("PromoWin", reference="pr-promo", amount="3.50", campaignId="camp", campaignType="CB")
    assert repeat["error"] == 0 and repeat["cash"] == Decimal("1008.50")
    assert provider.call("PromoWin", reference="pr-promo", amount="3.60", campaignId="camp")["error"] == 7
    assert provider.call("Result", reference="pr-win2", roundId="pr-r", amount="1.00",
                         promoWinAmount="1.00")["error"] == 7  # no promoWinReference
    no_promo = provider.call("Result", reference="pr-win3", roundId="pr-r", amount="1.00", promoWinAmount="0")
    assert no_promo["error"] == 0 and no_promo["cash"] == Decimal("1009.50")
    assert operator.balance() == Decimal("1009.50")


def test_jackpot_win_is_linked_to_its_round(provider, operator, player, database_url):
    provider.call("Bet", reference="jp-bet", roundId="jp-r", amount="1.00")
    provider.call("Refund", reference="jp-bet")  # the round is cancelled
    assert provider.call("JackpotWin", reference="jp-1", roundId="jp-r", amount="50.00")["error"] == 3
    paid = provider.call("JackpotWin", reference="jp-2", roundId="jp-unseen", amount="50.00",
                         jackpotDetails={"level": "grand"})
    assert paid["error"] == 0 and paid["cash"] == Decimal("1050.00")
    # the round never seen is recorded as ended: a late Bet in it is refused
    assert provider.call("Bet", reference="jp-late", roundId="jp-unseen", amount="1.00")["error"] == 3
    assert provider.call("JackpotWin", reference="jp-2", roundId="jp-unseen", amount="50.00")["cash"] == \
        Decimal("1050.00")
    assert provider.call("JackpotWin", reference="jp-2", roundId="jp-unseen", amount="50.00",
                         jackpotId="other")["error"] == 7
    assert provider.call("JackpotWin", reference="jp-3", roundId="jp-unseen", amount="1.00",
                         currency="EUR")["error"] == 2


def test_bonus_win_is_recorded_not_credited_by_default(provider, operator, player, database_url):
    answer = provider.call("BonusWin", reference="bonus-1", amount="30.00", bonusCode="free-spins")
    assert answer["error"] == 0 and answer["cash"] == Decimal("1000.00")
    assert _entries(database_url, "bonus-1") == [("bonus", 0, 3000)]
    assert provider.call("BonusWin", reference="bonus-1", amount="30.00", bonusCode="free-spins") == answer
    assert provider.call("BonusWin", reference="bonus-1", amount="30.00", bonusCode="other")["error"] == 7
    report = operator.reconciliation()
    assert report["ok"] is True and report["mismatches"] == []
    assert [(b["reference"], b["announced"], b["bonusCode"]) for b in report["bonusWinsRecorded"]] == [
        ("bonus-1", Decimal("30.00"), "free-spins")]


def test_bonus_win_is_credited_when_the_operator_says_so(database_url):
    app = make_app(database_url, bonus_win="credit")
    client = app.test_client()
    Operator(client).open_player()
    answer = Provider(client).call("BonusWin", reference="bonus-2", amount="30.00", bonusCode="free-spins")
    assert answer["error"] == 0 and answer["cash"] == Decimal("1030.00")
    assert _entries(database_url, "bonus-2") == [("bonus", 3000, 3000)]
    app.extensions["wallet.engine"].dispose()


def test_prizes_are_paid_to_frozen_players(provider, operator, player):
    operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "test"})
    assert provider.call("PromoWin", reference="fz-promo", amount="1.00")["error"] == 0
    assert provider.call("JackpotWin", reference="fz-jp", roundId="fz-r", amount="1.00")["error"] == 0
    assert operator.balance() == Decimal("1002.00")


# --------------------------------------------------------------------------- error tables


@pytest.fixture
def renumbered(database_url):
    app = make_app(database_url, error_codes="2025")
    client = app.test_client()
    Operator(client).open_player()
    yield Provider(client)
    app.extensions["wallet.engine"].dispose()


def test_the_2025_table_renumbers_every_answer(renumbered):
    assert renumbered.call("Bet", reference="big", amount="5000.00")["error"] == 15
    assert renumbered.call("Bet", currency="EUR")["error"] == 52
    assert renumbered.call("Bet", amount="1.001")["error"] == 59
    assert renumbered.call("Bet", userId="ghost")["error"] == 998
    assert renumbered.call("Bet", amount="abc")["error"] == 59
    assert renumbered.send("Bet", "not json")["error"] == 57
    renumbered.call("Bet", reference="s-bet", sessionId="s-25")
    renumbered.call("SessionExpired", sessionId="s-25")
    assert renumbered.call("Bet", reference="s-bet-2", sessionId="s-25") == {"error": 55,
                                                                               "description": "Session expired"}
    assert renumbered.call("Check")["error"] == 0


def test_a_stored_answer_replays_as_first_given_whatever_the_table_now(database_url):
    first_app = make_app(database_url)
    Operator(first_app.test_client()).open_player()
    body = callback_body("Bet", reference="replayed", amount="5000.00")
    first = Provider(first_app.test_client()).send("Bet", body)
    assert first["error"] == 1
    first_app.extensions["wallet.engine"].dispose()
    later_app = make_app(database_url, error_codes="2025")
    assert Provider(later_app.test_client()).send("Bet", body) == first
    later_app.extensions["wallet.engine"].dispose()

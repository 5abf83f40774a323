"""The entry kinds of the complete V4 wallet (cancel, promo, jackpot, bonus) wherever staff see the ledger,
over HTTP on PostgreSQL: the listing and its filters, CSV, one entry and a reference with their links, the
round view, the player's history, the daily report, reconciliation, the support page, the metrics and the
OpenAPI document; and PATCH /admin/players/<userId> with the contract's {"status", "reason"}."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.admin_scenario import get, ids_of
from tests.conftest import Operator, Provider, make_app
from tests.site_helpers import site_client
from wallet import clock
from wallet.admin.openapi import build_spec
from wallet.admin.schemas import (
    DailyReportOut,
    HistoryOut,
    ReconciliationOut,
    ReferenceOut,
    RoundOut,
    TransactionDetailOut,
    TransactionPageOut,
)
from wallet.limits import FREE_TEXT_LENGTH

DAY = datetime(2026, 6, 3, 12, tzinfo=UTC)


def seed(provider: Provider, operator: Operator) -> dict[str, str]:
    """player-1 (USD 1000.00) with one entry of each new kind, and the bets they relate to:

    * rc: a bet of 4.00 cancelled (Cancel), and a Cancel of a bet that never arrived;
    * rr: a bet of 10.00, a Result of 15.00 carrying a promo win of 3.50, a JackpotWin of 50.00;
    * a PromoWin of 20.00 (no round) and a BonusWin of 30.00 recorded, not credited (the default).

    Balance: 1000 - 4 + 4 - 10 + 3.50 + 15 + 50 + 20 + 0 = 1078.50. Returns the wallet ids by name.
    """
    operator.open_player()
    ids = {
        "cancelled_bet": provider.call("Bet", reference="b-c", roundId="rc", amount="4.00")["transactionId"],
        "cancel": provider.call("Cancel", reference="b-c")["transactionId"],
        "unmatched_cancel": provider.call("Cancel", reference="never-arrived")["transactionId"],
        "bet": provider.call("Bet", reference="b-r", roundId="rr", amount="10.00")["transactionId"],
        "win": provider.call("Result", reference="w-r", roundId="rr", amount="15.00", promoWinAmount="3.50",
                             promoWinReference="pr-promo", promoCampaignID="camp", promoCampaignType="CB",
                             )["transactionId"],
        "jackpot": provider.call("JackpotWin", reference="jp-1", roundId="rr", amount="50.00",
                                 jackpotId="jackpot-9")["transactionId"],
        "promo": provider.call("PromoWin", reference="promo-1", amount="20.00", campaignId="c-1",
                               campaignType="T")["transactionId"],
        "bonus": provider.call("BonusWin", reference="bonus-1", amount="30.00", bonusCode="fs-1")["transactionId"],
    }
    ids["result_promo"] = get(operator, "/transactions", reference="pr-promo")["items"][0]["transactionId"]
    assert len(set(ids.values())) == len(ids)
    assert operator.balance() == Decimal("1078.50")
    return ids


@pytest.fixture
def ids(provider, operator, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: DAY)
    return seed(provider, operator)


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["transactionId"]: item for item in items}


# --------------------------------------------------------------------------- listing, filters, entries


@pytest.mark.parametrize("params, expected", [
    ({"type": "cancel"}, ["unmatched_cancel", "cancel"]),
    ({"type": "promo"}, ["promo", "result_promo"]),
    ({"type": "jackpot"}, ["jackpot"]),
    ({"type": "bonus"}, ["bonus"]),
    ({"type": "PromoWin"}, ["promo", "result_promo"]),  # the provider's callback names mean their kinds
    ({"type": "jackpotwin"}, ["jackpot"]),
    ({"type": "BONUSWIN"}, ["bonus"]),
    ({"status": "applied"}, ["cancel"]),
    ({"status": "unmatched", "type": "cancel"}, ["unmatched_cancel"]),
    ({"status": "refunded"}, ["cancelled_bet"]),
    ({"status": "posted", "type": "bonus"}, ["bonus"]),
    ({"roundId": "rr"}, ["jackpot", "win", "result_promo", "bet"]),
    ({"reference": "b-c"}, ["cancel", "cancelled_bet"]),
])
def test_the_new_kinds_filter_like_the_others(operator, ids, params, expected):
    page = get(operator, "/transactions", **params)
    assert TransactionPageOut().validate(page) == {}
    assert ids_of(page) == [ids[name] for name in expected]


@pytest.mark.parametrize("params", [{"type": "prize"}, {"status": "posted", "type": "cancel"},
                                    {"status": "applied", "type": "promo"}])
def test_a_kind_or_status_that_does_not_apply_is_422(operator, ids, params):
    assert operator.request("GET", "/transactions", query_string=params).status_code == 422


def test_every_kind_shows_its_own_fields(operator, ids):
    items = by_id(get(operator, "/transactions")["items"])
    promo, result_promo = items[ids["promo"]], items[ids["result_promo"]]
    assert (promo["type"], promo["status"], promo["amount"], promo["roundId"]) == ("promo", "posted",
                                                                                    Decimal("20.00"), None)
    assert (promo["campaignId"], promo["campaignType"], promo["announcedAmount"]) == ("c-1", "T", Decimal("20.00"))
    assert (result_promo["campaignId"], result_promo["campaignType"], result_promo["roundId"]) == ("camp", "CB", "rr")
    jackpot = items[ids["jackpot"]]
    assert (jackpot["jackpotId"], jackpot["amount"], jackpot["announcedAmount"], jackpot["roundId"]) == (
        "jackpot-9", Decimal("50.00"), Decimal("50.00"), "rr")
    bonus = items[ids["bonus"]]
    assert bonus["recordedNotCredited"] is True and bonus["bonusCode"] == "fs-1"
    assert bonus["amount"] == Decimal("0.00") and bonus["announcedAmount"] == Decimal("30.00")
    assert bonus["balanceAfter"] == Decimal("1078.50") and bonus["status"] == "posted"
    for name in ("promo", "result_promo", "jackpot", "cancel", "bet", "win"):
        assert items[ids[name]]["recordedNotCredited"] is False
    bet = items[ids["bet"]]
    assert [bet[k] for k in ("campaignId", "campaignType", "jackpotId", "announcedAmount")] == [None] * 4
    cancel = items[ids["cancel"]]
    assert (cancel["type"], cancel["status"], cancel["amount"]) == ("cancel", "applied", Decimal("4.00"))
    assert items[ids["unmatched_cancel"]]["status"] == "unmatched"
    assert items[ids["cancelled_bet"]]["refundedBy"] == ids["cancel"]


def test_a_cancel_and_its_bet_link_each_other_like_a_refund(operator, ids):
    bet = get(operator, f"/transactions/{ids['cancelled_bet']}")
    assert TransactionDetailOut().validate(bet) == {}
    assert bet["status"] == "refunded" and [e["transactionId"] for e in bet["reversedBy"]] == [ids["cancel"]]
    assert bet["reversedBy"][0]["type"] == "cancel"
    cancel = get(operator, f"/transactions/{ids['cancel']}")
    assert [e["transactionId"] for e in cancel["reverses"]] == [ids["cancelled_bet"]] and cancel["reversedBy"] == []
    assert get(operator, f"/transactions/{ids['unmatched_cancel']}")["reverses"] == []

    found = get(operator, "/transactions/by-reference/b-c")
    assert ReferenceOut().validate(found) == {}
    assert [(i["type"], [r["transactionId"] for r in i["reverses"] + i["reversedBy"]]) for i in found["items"]] == [
        ("bet", [ids["cancel"]]), ("cancel", [ids["cancelled_bet"]])]


def test_a_prize_by_id_and_by_reference(operator, ids):
    bonus = get(operator, f"/transactions/{ids['bonus']}")
    assert TransactionDetailOut().validate(bonus) == {}
    assert bonus["recordedNotCredited"] is True and bonus["reverses"] == [] and bonus["reversedBy"] == []
    found = get(operator, "/transactions/by-reference/pr-promo")
    assert [(i["type"], i["campaignId"], i["announcedAmount"]) for i in found["items"]] == [
        ("promo", "camp", Decimal("3.50"))]


def test_csv_has_the_new_columns(operator, ids):
    r = operator.request("GET", "/transactions?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    header = next(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert header[-6:] == ["campaignId", "campaignType", "jackpotId", "bonusCode", "announcedAmount",
                           "recordedNotCredited"]
    rows_by_id = {row["transactionId"]: row for row in rows}
    bonus = rows_by_id[ids["bonus"]]
    assert (bonus["type"], bonus["amount"], bonus["announcedAmount"], bonus["recordedNotCredited"],
            bonus["bonusCode"]) == ("bonus", "0.00", "30.00", "true", "fs-1")
    promo = rows_by_id[ids["promo"]]
    assert (promo["campaignId"], promo["campaignType"], promo["announcedAmount"], promo["recordedNotCredited"]) == (
        "c-1", "T", "20.00", "false")
    assert rows_by_id[ids["jackpot"]]["jackpotId"] == "jackpot-9"
    cancel = rows_by_id[ids["cancel"]]
    assert (cancel["type"], cancel["status"], cancel["amount"]) == ("cancel", "applied", "4.00")
    assert rows_by_id[ids["cancelled_bet"]]["refundedBy"] == ids["cancel"]
    assert rows_by_id[ids["bet"]]["announcedAmount"] == "" and rows_by_id[ids["bet"]]["campaignId"] == ""

    only = operator.request("GET", "/transactions?format=csv&type=bonuswin").get_data(as_text=True)
    assert [row["transactionId"] for row in csv.DictReader(io.StringIO(only))] == [ids["bonus"]]


# --------------------------------------------------------------------------- round, history


def test_the_round_view_lists_cancels_beside_refunds_and_its_prizes(operator, ids):
    round_ = get(operator, "/rounds/rr")
    assert RoundOut().validate(round_) == {}
    assert [e["transactionId"] for e in round_["results"]] == [ids["win"]]
    assert [e["transactionId"] for e in round_["prizes"]] == [ids["result_promo"], ids["jackpot"]]
    assert round_["refunds"] == [] and round_["cancels"] == []
    assert round_["totals"] == {"bets": Decimal("10.00"), "wins": Decimal("15.00"), "refunds": Decimal("0.00"),
                                "cancels": Decimal("0.00"), "prizes": Decimal("53.50"), "net": Decimal("58.50")}
    assert len(round_["entries"]) == 4

    cancelled = get(operator, "/rounds/rc")
    assert RoundOut().validate(cancelled) == {}
    assert cancelled["status"] == "cancelled"
    assert [e["transactionId"] for e in cancelled["cancels"]] == [ids["cancel"]] and cancelled["refunds"] == []
    assert cancelled["totals"] == {"bets": Decimal("4.00"), "wins": Decimal("0.00"), "refunds": Decimal("0.00"),
                                   "cancels": Decimal("4.00"), "prizes": Decimal("0.00"), "net": Decimal("0.00")}


def test_a_jackpot_for_a_round_never_seen_shows_in_that_round(provider, operator, player):
    provider.call("JackpotWin", reference="jp-x", roundId="unseen", amount="7.00", jackpotId="mega")
    round_ = get(operator, "/rounds/unseen")
    assert round_["status"] == "ended" and [e["jackpotId"] for e in round_["prizes"]] == ["mega"]
    assert round_["totals"]["prizes"] == Decimal("7.00") and round_["totals"]["net"] == Decimal("7.00")


def test_the_players_history_shows_every_kind_and_chains_its_balances(operator, ids):
    history = get(operator, "/players/player-1/history")
    assert HistoryOut().validate(history) == {}
    items = history["items"]
    assert {i["type"] for i in items} == {"adjustment", "bet", "cancel", "win", "promo", "jackpot", "bonus"}
    assert items[0]["transactionId"] == ids["bonus"] and items[0]["recordedNotCredited"] is True
    assert items[0]["balanceAfter"] == history["balance"] == Decimal("1078.50")
    for newer, older in zip(items, items[1:]):
        assert newer["balanceAfter"] == older["balanceAfter"] + newer["amount"]


# --------------------------------------------------------------------------- daily report, reconciliation


def test_the_daily_report_puts_prizes_beside_ggr(operator, ids):
    report = get(operator, "/reports/daily", **{"from": "2026-06-03", "to": "2026-06-03"})
    assert DailyReportOut().validate(report) == {}
    [day] = report["days"]
    assert day["day"] == "2026-06-03" and day["currency"] == "USD"
    assert day["bets"] == {"count": 2, "sum": Decimal("14.00")}
    assert day["wins"] == {"count": 1, "sum": Decimal("15.00")}
    assert day["refunds"] == {"count": 0, "sum": Decimal("0.00")}
    assert day["cancels"] == {"count": 2, "sum": Decimal("4.00")}  # the unmatched one counts with 0
    assert day["promo"] == {"count": 2, "sum": Decimal("23.50")}
    assert day["jackpot"] == {"count": 1, "sum": Decimal("50.00")}
    assert day["bonus"] == {"count": 1, "sum": Decimal("0.00"), "announced": Decimal("30.00"),
                            "recordedNotCredited": 1}
    assert day["adjustments"] == {"count": 1, "sum": Decimal("1000.00")}
    assert day["ggr"] == Decimal("-5.00")  # 14 - 15 - 0 - 4: the prizes are not in it
    [total] = report["totals"]
    assert total == {k: v for k, v in day.items() if k != "day"}
    raw = operator.request("GET", "/reports/daily?from=2026-06-03&to=2026-06-03").get_data(as_text=True)
    assert '"announced":30.00' in raw and '"ggr":-5.00' in raw


def test_a_credited_bonus_win_counts_in_the_report(database_url, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: DAY)
    app = make_app(database_url, bonus_win="credit")
    client = app.test_client()
    operator, provider = Operator(client), Provider(client)
    operator.open_player()
    provider.call("BonusWin", reference="bonus-c", amount="30.00", bonusCode="fs-2")
    [day] = get(operator, "/reports/daily", **{"from": "2026-06-03", "to": "2026-06-03"})["days"]
    assert day["bonus"] == {"count": 1, "sum": Decimal("30.00"), "announced": Decimal("30.00"),
                            "recordedNotCredited": 0}
    assert day["ggr"] == Decimal("0.00")
    [entry] = get(operator, "/transactions", type="bonus")["items"]
    assert entry["recordedNotCredited"] is False and entry["amount"] == entry["announcedAmount"] == Decimal("30.00")
    assert operator.reconciliation()["bonusWinsRecorded"] == []
    app.extensions["wallet.engine"].dispose()


def test_reconciliation_lists_the_recorded_bonus_wins_apart(operator, ids):
    report = get(operator, "/reconciliation")
    assert ReconciliationOut().validate(report) == {}
    assert report["ok"] is True and report["mismatches"] == []
    assert report["bonusWinsRecorded"] == [{
        "transactionId": ids["bonus"], "userId": "player-1", "reference": "bonus-1", "bonusCode": "fs-1",
        "announced": Decimal("30.00"), "currency": "USD", "createdAt": DAY.isoformat()}]


# --------------------------------------------------------------------------- PATCH with a reason


def test_status_patch_takes_the_contracts_reason(operator, player, caplog):
    with caplog.at_level(logging.INFO, logger="wallet.admin"):
        r = operator.request("PATCH", "/players/player-1", json={"status": "frozen", "reason": "KYC review"})
    assert r.status_code == 200 and r.get_json()["status"] == "frozen"
    [line] = [rec for rec in caplog.records if rec.name == "wallet.admin"]
    assert line.fields == {"userId": "player-1", "status": "frozen", "reason": "KYC review"}  # type: ignore[attr-defined]
    for body in ({"status": "active"}, {"status": "active", "reason": None}, {"status": "active", "reason": " "}):
        r = operator.request("PATCH", "/players/player-1", json=body)  # a status change needs a reason
        assert r.status_code == 422 and r.get_json()["error"] == "invalid"
    assert operator.request("GET", "/players/player-1").get_json()["status"] == "frozen"
    r = operator.request("PATCH", "/players/player-1", json={"status": "active", "reason": "x" * FREE_TEXT_LENGTH})
    assert r.status_code == 200


@pytest.mark.parametrize("body", [
    {"status": "active", "reason": "x" * (FREE_TEXT_LENGTH + 1)},
    {"status": "active", "reason": ""},
    {"status": "active", "reason": 5},
    {"status": "active", "reason": "nul \u0000 inside"},
    {"reason": "no status"},
    {"status": "active", "reason": "x", "extra": 1},
])
def test_status_patch_refuses_a_bad_reason(operator, player, body):
    r = operator.request("PATCH", "/players/player-1", json=body)
    assert r.status_code == 422 and r.get_json()["error"] == "invalid"
    assert operator.request("GET", "/players/player-1").get_json()["status"] == "active"


# --------------------------------------------------------------------------- support page


def test_the_support_page_shows_the_new_kinds(app, ids):
    client = site_client(app, "viewer")
    bonus = client.get(f"/support/transactions/{ids['bonus']}").get_data(as_text=True)
    assert "recorded, not credited" in bonus and "announced 30.00 USD" in bonus and "bonus fs-1" in bonus
    bet = client.get("/support/references/b-c").get_data(as_text=True)
    assert "Cancelled by" in bet and "Bets it reversed" in bet
    ghost = client.get(f"/support/transactions/{ids['unmatched_cancel']}").get_data(as_text=True)
    assert "No bet matched this cancel" in ghost
    round_ = client.get("/support/rounds/rr").get_data(as_text=True)
    assert "Prizes linked to the round" in round_ and "jackpot jackpot-9" in round_ and "campaign camp (CB)" in round_
    assert "53.50 USD" in round_
    player = client.get("/support/players/player-1").get_data(as_text=True)
    assert "campaign c-1 (T)" in player


# --------------------------------------------------------------------------- metrics


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_label_the_new_methods_and_count_money_by_kind(provider, player):
    def calls(method: str, error: str = "0") -> float:
        return sample("wallet_callbacks_total", method=method, error=error)

    def money(kind: str) -> float:
        return sample("wallet_money_moved_total", currency="USD", kind=kind)

    names = ("Cancel", "PromoWin", "JackpotWin", "BonusWin", "SessionExpired")
    before = {name: calls(name) for name in names}
    promo_refused = calls("PromoWin", "10")
    moved = {kind: money(kind) for kind in ("cancel", "promo", "jackpot", "bonus", "refund")}
    outcomes = {(counter, outcome): sample(counter, outcome=outcome) for counter, outcome in [
        ("wallet_cancels_total", "applied"), ("wallet_cancels_total", "recorded_without_bet"),
        ("wallet_refunds_total", "applied"), ("wallet_refunds_total", "recorded_without_bet"),
        ("wallet_bonus_wins_total", "credited"), ("wallet_bonus_wins_total", "recorded_not_credited")]}

    provider.call("Bet", reference="mk-bet", roundId="mk-r", amount="6.00")
    assert provider.call("Cancel", reference="mk-bet")["error"] == 0
    assert provider.call("Cancel", reference="mk-bet")["error"] == 0  # a retransmission: nothing moves again
    assert provider.call("Cancel", reference="mk-ghost")["error"] == 0
    assert provider.call("PromoWin", reference="mk-promo", amount="2.25")["error"] == 0
    assert provider.call("PromoWin", reference="mk-zero", amount="0")["error"] == 10
    assert provider.call("JackpotWin", reference="mk-jp", roundId="mk-jr", amount="40.00")["error"] == 0
    assert provider.call("BonusWin", reference="mk-bonus", amount="9.00")["error"] == 0
    assert provider.call("SessionExpired", sessionId="mk-s")["error"] == 0

    assert {name: calls(name) - before[name] for name in names} == {
        "Cancel": 3, "PromoWin": 1, "JackpotWin": 1, "BonusWin": 1, "SessionExpired": 1}
    assert calls("PromoWin", "10") == promo_refused + 1
    assert money("cancel") == pytest.approx(moved["cancel"] + 6.00)
    assert money("promo") == pytest.approx(moved["promo"] + 2.25)
    assert money("jackpot") == pytest.approx(moved["jackpot"] + 40.00)
    assert money("bonus") == moved["bonus"] and money("refund") == moved["refund"]  # recorded for 0.00
    expected = {("wallet_cancels_total", "applied"): 1, ("wallet_cancels_total", "recorded_without_bet"): 1,
                ("wallet_bonus_wins_total", "recorded_not_credited"): 1}
    assert {key: sample(key[0], outcome=key[1]) - value for key, value in outcomes.items()} == {
        key: expected.get(key, 0) for key in outcomes}


def test_metrics_count_the_code_answered_in_the_2025_table(database_url):
    app = make_app(database_url, error_codes="2025")
    client = app.test_client()
    Operator(client).open_player()
    provider = Provider(client)
    expired = sample("wallet_callbacks_total", method="Bet", error="55")
    provider.call("SessionExpired", sessionId="s-25")
    assert provider.call("Bet", reference="late", sessionId="s-25")["error"] == 55
    assert sample("wallet_callbacks_total", method="Bet", error="55") == expired + 1
    app.extensions["wallet.engine"].dispose()


def test_metrics_count_a_results_promo_win_as_promo(provider, player):
    win, promo = sample("wallet_money_moved_total", currency="USD", kind="win"), \
        sample("wallet_money_moved_total", currency="USD", kind="promo")
    assert provider.call("Result", reference="mk-w", roundId="mk-pr", amount="1.00", promoWinAmount="3.00",
                         promoWinReference="mk-rp")["error"] == 0
    assert sample("wallet_money_moved_total", currency="USD", kind="win") == pytest.approx(win + 1.00)
    assert sample("wallet_money_moved_total", currency="USD", kind="promo") == pytest.approx(promo + 3.00)


# --------------------------------------------------------------------------- the OpenAPI document


def test_the_openapi_document_describes_the_new_kinds_and_fields():
    schemas = build_spec()["components"]["schemas"]
    entry = schemas["TransactionOut"]["properties"]
    assert entry["type"]["enum"] == ["bet", "win", "refund", "cancel", "promo", "jackpot", "bonus", "adjustment"]
    assert {"campaignId", "campaignType", "jackpotId", "bonusCode", "announcedAmount",
            "recordedNotCredited"} <= set(entry)
    assert entry["recordedNotCredited"]["type"] == "boolean" and entry["announcedAmount"]["nullable"] is True
    assert {"cancels", "prizes"} <= set(schemas["RoundOut"]["properties"])
    assert {"cancels", "prizes"} <= set(schemas["RoundTotalsOut"]["properties"])
    row = schemas["ReportRowOut"]["properties"]
    assert {"cancels", "promo", "jackpot", "bonus", "ggr"} <= set(row)
    assert "cancels" in row["ggr"]["description"]
    assert {"announced", "recordedNotCredited"} <= set(schemas["BonusCountSumOut"]["properties"])
    assert "bonusWinsRecorded" in schemas["ReconciliationOut"]["required"]
    reason = schemas["StatusPatch"]["properties"]["reason"]
    assert reason["maxLength"] == FREE_TEXT_LENGTH and "reason" in schemas["StatusPatch"]["required"]
    listing = build_spec()["paths"]["/admin/transactions"]["get"]["parameters"]
    [kind] = [p for p in listing if p.get("name") == "type"]
    assert "bonus" in kind["schema"]["enum"]

"""GET /admin/transactions: every filter, keyset pagination edges, and the single-entry views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.admin_scenario import get, ids_of, seed
from wallet.admin.schemas import ReferenceOut, TransactionDetailOut, TransactionPageOut
from wallet import clock


@pytest.fixture
def ids(provider, operator):
    return seed(provider, operator)


def test_listing_is_newest_first_and_matches_its_documented_schema(operator, ids):
    page = get(operator, "/transactions")
    assert TransactionPageOut().validate(page) == {}
    listed = [int(i) for i in ids_of(page)]
    assert listed == sorted(listed, reverse=True) and len(listed) == 9  # 2 deposits + 7 entries
    assert page["nextCursor"] is None


@pytest.mark.parametrize("params, expected", [
    ({"userId": "p2", "type": "bet"}, ["jpy_bet"]),
    ({"roundId": "r1"}, ["win", "settled_bet"]),
    ({"reference": "b2"}, ["refund", "refunded_bet"]),
    ({"type": "win"}, ["win"]),
    ({"type": "refund"}, ["unmatched_refund", "refund"]),
    ({"status": "open"}, ["jpy_bet", "open_bet"]),
    ({"status": "settled"}, ["settled_bet"]),
    ({"status": "refunded"}, ["refunded_bet"]),
    ({"status": "applied"}, ["refund"]),
    ({"status": "unmatched"}, ["unmatched_refund"]),
    ({"userId": "p1", "type": "bet", "status": "open"}, ["open_bet"]),
    ({"userId": "nobody"}, []),
    ({"roundId": "no-such-round"}, []),
])
def test_each_filter_selects_exactly_its_entries(operator, ids, params, expected):
    page = get(operator, "/transactions", **params)
    assert ids_of(page) == [ids[name] for name in expected]


def test_status_posted_lists_wins_and_adjustments(operator, ids):
    page = get(operator, "/transactions", status="posted")
    assert {i["type"] for i in page["items"]} == {"win", "adjustment"} and len(page["items"]) == 3


def test_every_item_reports_its_status(operator, ids):
    status = {i["transactionId"]: i["status"] for i in get(operator, "/transactions")["items"]}
    assert [status[ids[n]] for n in ("settled_bet", "win", "refunded_bet", "refund", "open_bet", "unmatched_refund")] \
        == ["settled", "posted", "refunded", "applied", "open", "unmatched"]


def test_time_range_is_from_inclusive_to_exclusive(provider, operator, player, monkeypatch):
    day = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(3):
        monkeypatch.setattr(clock, "utcnow", lambda n=n: day + timedelta(hours=n))
        provider.call("Bet", reference=f"t{n}", roundId=f"rt{n}")
    at = {n: (day + timedelta(hours=n)).isoformat() for n in range(3)}
    refs = lambda **p: [i["reference"] for i in get(operator, "/transactions", type="bet", **p)["items"]]  # noqa: E731
    assert refs(**{"from": at[1]}) == ["t2", "t1"]
    assert refs(to=at[1]) == ["t0"]
    assert refs(**{"from": at[0], "to": at[2]}) == ["t1", "t0"]
    assert refs(**{"from": "2026-03-01T01:00:00"}) == ["t2", "t1"]  # no zone: UTC
    assert refs(**{"from": "2026-03-01T02:00:00+01:00"}) == ["t2", "t1"]


@pytest.mark.parametrize("params", [
    {"type": "deposit"}, {"status": "lost"}, {"status": "open", "type": "win"}, {"limit": "0"},
    {"limit": "1001"}, {"limit": "ten"}, {"cursor": "not-a-cursor"}, {"cursor": "MTIz"}, {"from": "yesterday"},
])
def test_invalid_query_answers_422(operator, ids, params):
    r = operator.request("GET", "/transactions", query_string=params)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["error"] == "invalid"


def test_empty_ledger_gives_an_empty_last_page(operator):
    assert get(operator, "/transactions") == {"items": [], "nextCursor": None}


def test_exactly_one_page_has_no_next_cursor(operator, ids):
    page = get(operator, "/transactions", limit=9)
    assert len(page["items"]) == 9 and page["nextCursor"] is None


def test_pages_cover_every_entry_once_in_order_and_the_last_page_ends(operator, ids):
    everything = ids_of(get(operator, "/transactions"))
    seen, cursor, pages = [], None, 0
    while True:
        page = get(operator, "/transactions", limit=4, **({"cursor": cursor} if cursor else {}))
        seen += ids_of(page)
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == everything and pages == 3  # 4 + 4 + 1
    assert len(page["items"]) == 1


def test_entries_inserted_between_pages_neither_repeat_nor_shift_later_pages(provider, operator, ids):
    before = ids_of(get(operator, "/transactions"))
    first = get(operator, "/transactions", limit=3)
    for n in range(5):
        provider.call("Bet", userId="p1", reference=f"late-{n}", roundId="r-late", amount="1.00")
    rest, cursor = [], first["nextCursor"]
    while cursor:
        page = get(operator, "/transactions", limit=3, cursor=cursor)
        rest += ids_of(page)
        cursor = page["nextCursor"]
    assert ids_of(first) + rest == before


def test_a_transaction_by_id_carries_its_links(operator, ids):
    bet = get(operator, f"/transactions/{ids['refunded_bet']}")
    assert TransactionDetailOut().validate(bet) == {}
    assert bet["status"] == "refunded" and bet["refundedBy"] == ids["refund"]
    assert [e["transactionId"] for e in bet["reversedBy"]] == [ids["refund"]] and bet["reverses"] == []

    refund = get(operator, f"/transactions/{ids['refund']}")
    assert [e["transactionId"] for e in refund["reverses"]] == [ids["refunded_bet"]]
    assert refund["amount"] == Decimal("5.00") and refund["reverses"][0]["amount"] == Decimal("-5.00")

    open_bet = get(operator, f"/transactions/{ids['open_bet']}")
    assert open_bet["reversedBy"] == [] and open_bet["status"] == "open"
    assert get(operator, f"/transactions/{ids['unmatched_refund']}")["reverses"] == []


def test_a_round_refund_lists_every_bet_it_reversed(provider, operator, ids):
    a = provider.call("Bet", userId="p1", reference="ra", roundId="r9", amount="1.00")["transactionId"]
    b = provider.call("Bet", userId="p1", reference="rb", roundId="r9", amount="2.00")["transactionId"]
    refund = provider.call("Refund", userId="p1", reference="r9-cancel", roundId="r9")["transactionId"]
    detail = get(operator, f"/transactions/{refund}")
    assert [e["transactionId"] for e in detail["reverses"]] == [a, b]
    assert detail["amount"] == Decimal("3.00")


def test_a_reference_shows_the_bet_and_its_refund(operator, ids):
    found = get(operator, "/transactions/by-reference/b2")
    assert ReferenceOut().validate(found) == {}
    assert [(i["type"], i["transactionId"]) for i in found["items"]] == [
        ("bet", ids["refunded_bet"]), ("refund", ids["refund"])]
    assert found["items"][0]["reversedBy"][0]["transactionId"] == ids["refund"]


def test_unknown_transaction_or_reference_answers_404(operator, ids):
    assert operator.request("GET", "/transactions/999999").status_code == 404
    assert operator.request("GET", "/transactions/by-reference/nope").status_code == 404
    assert operator.request("GET", "/transactions/abc").status_code == 404


def test_money_carries_the_currency_digits(operator, ids):
    raw = operator.request("GET", f"/transactions/{ids['jpy_bet']}").get_data(as_text=True)
    assert '"amount":-100,' in raw and '"balanceAfter":4900,' in raw
    raw = operator.request("GET", f"/transactions/{ids['open_bet']}").get_data(as_text=True)
    assert '"amount":-2.50,' in raw

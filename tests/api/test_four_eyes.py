"""Four eyes: finance and admin adjustments at or above WALLET_APPROVAL_THRESHOLDS wait for a second person.

The wallet here has USD=100 (tests/api/staff_world.py); p1 holds 1000.00.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from config import ConfigError, Settings
from tests.api.staff_world import StaffWorld


@pytest.fixture
def world(database_url: str) -> Iterator[StaffWorld]:
    w = StaffWorld(database_url)
    w.tokens["finance-2"] = w.add_staff("finance-2", "finance")
    w.player("p1")
    yield w
    w.close()


def adjust(w: StaffWorld, who: str, amount: str, reference: str,  # type: ignore[no-untyped-def]
           reason: str = "goodwill"):
    return w.call(who, "POST", "/players/p1/adjustments",
                  json={"amount": amount, "reference": reference, "reason": reason})


def test_a_large_adjustment_waits_and_moves_money_once_when_another_person_approves(world: StaffWorld):
    r = adjust(world, "finance", "150.00", "big-1")
    assert r.status_code == 202, r.get_data(as_text=True)
    pending = r.get_json()
    assert pending["status"] == "pending" and pending["requestedBy"] == "finance-1"
    assert (pending["userId"], pending["amount"], pending["currency"], pending["reference"]) == (
        "p1", 150.0, "USD", "big-1")
    assert world.balance() == Decimal("1000.00")
    listed = world.ok("viewer", "GET", "/adjustments", query_string={"status": "pending"})["items"]
    assert [i["id"] for i in listed] == [pending["id"]]
    assert world.ok("viewer", "GET", "/transactions", query_string={"reference": "big-1"})["items"] == []

    approved = world.ok("finance-2", "POST", f"/adjustments/{pending['id']}/approve", 201)
    assert approved["status"] == "posted" and approved["decidedBy"] == "finance-2" and approved["transactionId"]
    assert world.balance() == Decimal("1150.00")
    [entry] = world.ok("viewer", "GET", "/transactions", query_string={"reference": "big-1"})["items"]
    assert entry["transactionId"] == approved["transactionId"] and entry["amount"] == Decimal("150.00")

    again = world.call("admin", "POST", f"/adjustments/{pending['id']}/approve")
    assert again.status_code == 409 and "already posted" in again.get_json()["description"]
    assert world.call("admin", "POST", f"/adjustments/{pending['id']}/reject").status_code == 409
    assert world.balance() == Decimal("1150.00")
    assert world.ok("viewer", "GET", "/adjustments", query_string={"status": "pending"})["items"] == []

    # the same request again answers what it became, and moves nothing
    repeat = adjust(world, "finance", "150.00", "big-1")
    assert repeat.status_code == 200 and repeat.get_json()["transactionId"] == approved["transactionId"]
    assert world.balance() == Decimal("1150.00")

    [approve, request, deposit] = world.audit(action="adjustment")  # a family: adjustment.*
    assert (deposit["actor"], deposit["action"], deposit["after"]["amount"]) == ("platform-1", "adjustment.create",
                                                                                "1000.00")
    assert (request["actor"], request["action"], request["target"], request["reason"]) == (
        "finance-1", "adjustment.request", "player:p1", "goodwill")
    assert (approve["actor"], approve["role"], approve["action"]) == ("finance-2", "finance", "adjustment.approve")
    assert approve["before"] == {"status": "pending", "balance": "1000.00"}
    assert approve["after"]["balance"] == "1150.00" and approve["after"]["status"] == "posted"


def test_the_threshold_is_inclusive_and_counts_debits_by_their_size(world: StaffWorld):
    assert adjust(world, "finance", "99.99", "small").status_code == 201
    assert adjust(world, "finance", "100.00", "at").status_code == 202
    assert adjust(world, "admin", "-100", "debit").status_code == 202
    assert adjust(world, "bootstrap", "-250.00", "boot").status_code == 202  # the built-in admin too
    assert world.balance() == Decimal("1099.99")


def test_platform_adjustments_never_wait(world: StaffWorld):
    r = adjust(world, "platform", "5000.00", "cashier-1", "deposit")
    assert r.status_code == 201 and r.get_json()["amount"] == Decimal("5000.00")
    assert world.balance() == Decimal("6000.00")
    assert world.ok("viewer", "GET", "/adjustments")["items"] == []


def test_nobody_decides_their_own_adjustment(world: StaffWorld):
    pending = adjust(world, "admin", "500.00", "mine").get_json()
    for verb in ("approve", "reject"):
        r = world.call("admin", "POST", f"/adjustments/{pending['id']}/{verb}")
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden"
        assert "own" in r.get_json()["description"]
    assert world.ok("viewer", "GET", f"/adjustments/{pending['id']}")["status"] == "pending"
    assert world.balance() == Decimal("1000.00")
    assert world.ok("finance", "POST", f"/adjustments/{pending['id']}/approve", 201)["status"] == "posted"


def test_a_rejected_adjustment_never_moves_money(world: StaffWorld):
    pending = adjust(world, "finance", "300.00", "rej").get_json()
    rejected = world.ok("admin", "POST", f"/adjustments/{pending['id']}/reject", json={"reason": "<b>no ticket</b>"})
    assert (rejected["status"], rejected["decidedBy"], rejected["decisionReason"]) == (
        "rejected", "admin-1", "<b>no ticket</b>")
    assert world.call("finance-2", "POST", f"/adjustments/{pending['id']}/approve").status_code == 409
    assert world.balance() == Decimal("1000.00")
    assert adjust(world, "finance", "300.00", "rej").get_json()["status"] == "rejected"  # a repetition: 200
    [entry] = world.audit(action="adjustment.reject")
    assert entry["reason"] == "<b>no ticket</b>" and entry["after"]["status"] == "rejected"


def test_the_balance_is_checked_when_it_posts_and_a_refusal_leaves_it_pending(world: StaffWorld):
    first = adjust(world, "finance", "-600.00", "w-1", "withdrawal").get_json()
    second = adjust(world, "finance", "-600.00", "w-2", "withdrawal").get_json()
    world.ok("finance-2", "POST", f"/adjustments/{first['id']}/approve", 201)
    before = world.snapshot()
    r = world.call("finance-2", "POST", f"/adjustments/{second['id']}/approve")
    assert r.status_code == 409 and "below zero" in r.get_json()["description"]
    assert world.snapshot() == before  # still pending, no entry, no audit
    assert world.balance() == Decimal("400.00")
    world.ok("finance-2", "POST", f"/adjustments/{second['id']}/reject")


def test_a_reference_held_by_a_request_is_not_reused_with_other_content(world: StaffWorld):
    pending = adjust(world, "finance", "150.00", "ref-1").get_json()
    same = adjust(world, "finance", "150.00", "ref-1")
    assert same.status_code == 200 and same.get_json()["id"] == pending["id"]
    for amount, who in (("151.00", "finance"), ("5.00", "platform")):
        r = adjust(world, who, amount, "ref-1")
        assert r.status_code == 409 and r.get_json()["error"] == "conflict"
    assert len(world.ok("viewer", "GET", "/adjustments")["items"]) == 1
    assert world.balance() == Decimal("1000.00")


def test_bad_requests_are_refused_and_change_nothing(world: StaffWorld):
    before = world.snapshot()
    for path in ("/adjustments/999/approve", "/adjustments/x/approve", "/adjustments/0/reject",
                 "/adjustments/99999999999999999999/approve"):
        assert world.call("finance", "POST", path).status_code == 404, path
    assert adjust(world, "finance", "150.001", "r-x").status_code == 422
    assert adjust(world, "finance", "150.00", "r-y", reason="").status_code == 422
    assert adjust(world, "finance", "150.00", "r-y", reason="   ").status_code == 422
    assert world.call("viewer", "GET", "/adjustments", query_string={"status": "maybe"}).status_code == 422
    assert world.snapshot() == before


def test_two_approvals_at_once_post_once(world: StaffWorld):
    pending = adjust(world, "finance", "150.00", "race").get_json()
    answers: list[int] = []

    def approve(who: str) -> None:
        client = world.app.test_client()
        r = client.post(f"/admin/adjustments/{pending['id']}/approve",
                        headers={"Authorization": f"Bearer {world.tokens[who]}"})
        answers.append(r.status_code)

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("finance-2", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [201, 409]
    assert world.balance() == Decimal("1150.00")


def test_the_cli_asks_for_approval_too_and_cannot_approve_its_own(world: StaffWorld):
    runner = world.app.test_cli_runner()
    out = runner.invoke(args=["wallet", "adjust", "p1", "200.00", "--reference", "cli-big", "--reason", "correction"])
    assert out.exit_code == 0 and '"status": "pending"' in out.output, out.output
    [request] = world.ok("viewer", "GET", "/adjustments", query_string={"status": "pending"})["items"]
    assert request["requestedBy"].startswith("cli:")
    own = runner.invoke(args=["wallet", "adjustment-approve", request["id"]])
    assert own.exit_code == 1 and "own" in own.output
    world.ok("finance", "POST", f"/adjustments/{request['id']}/approve", 201)
    assert world.balance() == Decimal("1200.00")

    pending = adjust(world, "finance", "150.00", "for-cli").get_json()
    listed = runner.invoke(args=["wallet", "adjustments", "--status", "pending"])
    assert listed.exit_code == 0 and "for-cli" in listed.output
    done = runner.invoke(args=["wallet", "adjustment-approve", pending["id"]])
    assert done.exit_code == 0 and '"status": "posted"' in done.output
    assert world.balance() == Decimal("1350.00")


@pytest.mark.parametrize("raw", ["USD", "USD=", "XXX1=5", "USD=0", "USD=-5", "JPY=1.5", "USD=1,USD=2", "USD=abc",
                                 "USD=NaN", "USD=Infinity", "usd=5"])
def test_bad_thresholds_refuse_to_start(raw: str):
    with pytest.raises(ConfigError, match="WALLET_APPROVAL_THRESHOLDS"):
        Settings.from_env({"WALLET_APPROVAL_THRESHOLDS": raw})


def test_thresholds_are_read_exactly():
    settings = Settings.from_env({"WALLET_APPROVAL_THRESHOLDS": "USD=1000, EUR=1000.50;JPY=150000"})
    assert settings.thresholds == {"USD": Decimal("1000"), "EUR": Decimal("1000.50"), "JPY": Decimal("150000")}
    assert Settings.from_env({}).thresholds == {}

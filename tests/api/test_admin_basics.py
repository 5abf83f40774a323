"""The admin basics of docs/protocol.mdtheir CLI twins."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import make_app
from tests.support import ADMIN_TOKEN


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {ADMIN_TOKEN}", "Bearer "])
def test_admin_api_needs_the_bearer_token(client, header):
    headers = {"Authorization": header} if header else {}
    assert client.get("/admin/reconciliation", headers=headers).status_code == 401
    assert client.post("/admin/players", json={"userId": "x", "currency": "USD"}, headers=headers).status_code == 401


def test_admin_api_is_closed_when_no_token_is_configured(database_url):
    app = make_app(database_url, admin_token=None)
    assert app.test_client().get("/admin/reconciliation", headers={"Authorization": "Bearer "}).status_code == 401
    app.extensions["wallet.engine"].dispose()


def test_players_are_created_once(operator):
    r = operator.request("POST", "/players", json={"userId": "p", "currency": "EUR"})
    assert r.status_code == 201 and r.get_json()["currency"] == "EUR" and r.get_json()["status"] == "active"
    assert operator.request("POST", "/players", json={"userId": "p", "currency": "EUR"}).status_code == 409
    assert operator.request("POST", "/players", json={"userId": "q", "currency": "XYZ"}).status_code == 422
    assert operator.request("POST", "/players", json={"userId": "", "currency": "EUR"}).status_code == 422
    assert operator.request("POST", "/players", data="nope", content_type="application/json").status_code == 400


def test_adjustments_are_signed_idempotent_and_never_overdraw(operator):
    operator.open_player("p", deposit=None)
    body = {"amount": "50.00", "reference": "dep-1", "reason": "deposit"}
    first = operator.request("POST", "/players/p/adjustments", json=body)
    assert first.status_code == 201 and first.get_json()["amount"] == 50
    assert operator.request("POST", "/players/p/adjustments", json=body).status_code == 200
    assert operator.request("POST", "/players/p/adjustments", json={**body, "amount": "51"}).status_code == 409
    debit = {"amount": "-50.01", "reference": "wd-1", "reason": "withdrawal"}
    assert operator.request("POST", "/players/p/adjustments", json=debit).status_code == 409
    assert operator.request("POST", "/players/p/adjustments", json={**debit, "amount": "-20"}).status_code == 201
    assert operator.request("POST", "/players/p/adjustments", json={**debit, "reference": "x", "amount": "1.001"}).status_code == 422
    assert operator.request("POST", "/players/nobody/adjustments", json=body).status_code == 404
    assert operator.balance("p") == Decimal("30.00")


def test_status_patch_and_player_view(operator):
    operator.open_player("p")
    r = operator.request("PATCH", "/players/p", json={"status": "frozen", "reason": "test"})
    assert r.status_code == 200 and r.get_json()["status"] == "frozen"
    assert operator.request("PATCH", "/players/p", json={"status": "gone"}).status_code == 422
    assert operator.request("PATCH", "/players/nobody", json={"status": "active", "reason": "test"}).status_code == 404
    view = json.loads(operator.request("GET", "/players/p").get_data(), parse_float=Decimal)
    assert view == {**view, "userId": "p", "currency": "USD", "status": "frozen", "balance": Decimal("1000.00")}
    assert operator.request("GET", "/players/nobody").status_code == 404


def test_transactions_filter_and_paginate(provider, operator, player):
    for i in range(5):
        provider.call("Bet", reference=f"b{i}", roundId="r1" if i < 3 else "r2", amount="1.00")
    page = operator.request("GET", "/transactions?userId=player-1&limit=4").get_json()
    assert len(page["items"]) == 4 and page["nextCursor"]
    rest = operator.request("GET", f"/transactions?userId=player-1&limit=4&cursor={page['nextCursor']}").get_json()
    assert len(rest["items"]) == 2 and rest["nextCursor"] is None  # 5 bets + the deposit
    assert [t["reference"] for t in operator.request("GET", "/transactions?roundId=r2").get_json()["items"]] == ["b4", "b3"]
    assert operator.request("GET", "/transactions?reference=b1").get_json()["items"][0]["amount"] == -1
    assert operator.request("GET", "/transactions?limit=0").status_code == 422
    assert operator.request("GET", "/transactions?cursor=abc").status_code == 422


def test_round_view_shows_status_and_entries(provider, operator, player):
    provider.call("Bet", reference="b", roundId="r", amount="4.00")
    provider.call("Refund", reference="b")
    view = operator.request("GET", "/rounds/r").get_json()
    assert view["status"] == "cancelled"
    assert [(e["type"], e["amount"]) for e in view["entries"]] == [("bet", -4), ("refund", 4)]
    assert view["entries"][0]["refundedBy"] == view["entries"][1]["transactionId"]
    assert operator.request("GET", "/rounds/none").status_code == 404


def test_cli_runs_the_same_operations(app, provider):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["wallet", "create-player", "cli-p", "usd"]).exit_code == 0
    out = runner.invoke(args=["wallet", "adjust", "cli-p", "20.00", "--reference", "c1", "--reason", "deposit"])
    assert out.exit_code == 0 and '"balanceAfter": 20.00' in out.output
    assert runner.invoke(args=["wallet", "create-player", "cli-p", "USD"]).exit_code == 1
    assert runner.invoke(args=["wallet", "set-status", "cli-p", "frozen", "--reason", "test"]).exit_code == 0
    assert '"status": "frozen"' in runner.invoke(args=["wallet", "player", "cli-p", "--json"]).output
    provider.call("Result", userId="cli-p", reference="w", roundId="cr", amount="1")
    assert '"roundId": "cr"' in runner.invoke(args=["wallet", "round", "cr", "--json"]).output
    assert '"reference": "w"' in runner.invoke(args=["wallet", "transactions", "--user-id", "cli-p", "--json"]).output
    assert runner.invoke(args=["wallet", "reconcile"]).exit_code == 0


def test_a_round_id_shared_by_players_needs_the_user_id(provider, operator, player):
    operator.open_player("player-2")
    provider.call("Bet", reference="a", roundId="same", amount="1.00")
    provider.call("Bet", userId="player-2", reference="b", roundId="same", amount="2.00")
    ambiguous = operator.request("GET", "/rounds/same")
    assert ambiguous.status_code == 409 and "player-1" in ambiguous.get_json()["description"]
    mine = operator.request("GET", "/rounds/same?userId=player-2").get_json()
    assert mine["userId"] == "player-2" and [e["reference"] for e in mine["entries"]] == ["b"]
    listed = operator.request("GET", "/transactions?roundId=same").get_json()["items"]
    assert sorted(t["reference"] for t in listed) == ["a", "b"]


def test_type_result_is_the_providers_name_for_a_win(provider, operator, player):
    provider.call("Result", reference="w", roundId="r", amount="2.00")
    wins = operator.request("GET", "/transactions?type=result").get_json()["items"]
    assert [(t["type"], t["reference"]) for t in wins] == [("win", "w")]
    assert operator.request("GET", "/transactions?type=jackpot").status_code == 200  # a kind of its own now
    assert operator.request("GET", "/transactions?type=jackpots").status_code == 422

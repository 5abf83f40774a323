"""GET /admin/requests (every callback answered, refused ones included) and GET /admin/rounds, and the
CLI's `requests` and `rounds`: filters, keyset pages, CSV, refusals."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.conftest import Operator, Provider, make_app
from tests.support import callback_body

SECRET = "history-callback-secret-0123456789"


def _get(operator: Operator, path: str, expect: int = 200, **params: Any) -> Any:
    r = operator.request("GET", path, query_string=params)
    assert r.status_code == expect, r.get_data(as_text=True)
    return r.get_json() if r.mimetype == "application/json" else r.get_data(as_text=True)


def _walk(operator: Operator, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item, page by page."""
    items, cursor = [], None
    while True:
        page = _get(operator, path, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def test_requests_lists_answers_and_refusals_newest_first_with_every_filter(provider, operator, player):
    bet = callback_body("Bet", amount="1.00")
    assert provider.send("Bet", bet)["error"] == 0
    assert provider.call("Bet", reference=bet["reference"], amount="2.00")["error"] == 7  # a different bet
    assert provider.call("Check", userId="stranger")["error"] == 100
    assert provider.send("Bet", {**bet, "uuid": "no-amount", "amount": None})["error"] == 7  # refused at the edge
    provider.send("Result", "{not json")

    every = _get(operator, "/requests")["items"]
    assert [(i["method"], i["error"]) for i in every] == [("result", 7), ("bet", 7), ("check", 100), ("bet", 7),
                                                          ("bet", 0)]
    by_reference = _get(operator, "/requests", reference=bet["reference"])["items"]
    assert [(i["error"], i["replayable"]) for i in by_reference] == [(7, False), (7, True), (0, True)]
    assert by_reference[0]["uuid"] == "no-amount" and by_reference[0]["userId"] == "player-1"
    assert by_reference[0]["description"]
    assert {i["uuid"] for i in _get(operator, "/requests", error=7, method="BET")["items"]} >= {"no-amount"}
    stranger = _get(operator, "/requests", userId="stranger")["items"]
    assert [(i["method"], i["error"], i["replayable"]) for i in stranger] == [("check", 100, False)]
    garbage = _get(operator, "/requests", method="Result")["items"]
    assert [(i["error"], i["uuid"], i["description"]) for i in garbage] == [(7, None, "Body is not valid JSON")]
    assert _get(operator, "/requests", uuid=bet["uuid"])["items"][0]["error"] == 0
    assert _get(operator, "/requests", **{"from": "2100-01-01T00:00:00Z"})["items"] == []
    assert len(_get(operator, "/requests", to="2100-01-01T00:00:00Z", reference=bet["reference"])["items"]) == 3


def test_requests_pages_never_skip_or_repeat_a_row(provider, operator, player):
    for _ in range(7):
        provider.call("Check")
    items = _walk(operator, "/requests", method="check", limit=2)
    assert len(items) == 7
    whole = _get(operator, "/requests", method="check", limit=100)["items"]
    assert items == whole
    assert whole == sorted(whole, key=lambda i: i["createdAt"], reverse=True)


@pytest.mark.parametrize("params", [
    {"method": "Deposit"}, {"error": "x"}, {"cursor": "bm90LWEtY3Vyc29y"}, {"limit": 0}, {"from": "yesterday"},
    {"reference": "r" * 200}, {"unknown": "1"},
])
def test_requests_refuses_bad_filters_with_422(operator, params):
    body = _get(operator, "/requests", 422, **params)
    assert body["error"] and body["description"]


def test_requests_as_csv(provider, operator, player):
    provider.call("Check")
    text = _get(operator, "/requests", format="csv")
    lines = text.splitlines()
    assert lines[0] == "createdAt,method,uuid,userId,reference,error,description,replayable"
    assert any(",check," in line and ",0,Success,true" in line for line in lines[1:])


def test_the_request_log_needs_the_staff_token(client):
    assert client.get("/admin/requests").status_code == 401
    assert client.get("/admin/rounds").status_code == 401


def test_a_refused_signature_is_recorded_and_the_genuine_request_with_its_uuid_still_runs(database_url):
    app = make_app(database_url, callback_secret=SECRET)
    client = app.test_client()
    operator = Operator(client)
    operator.open_player()
    raw = json.dumps(callback_body("Bet", amount="3.00"))
    bet = json.loads(raw)

    def post(signature: str) -> dict[str, Any]:
        r = client.post("/V4/Bet", data=raw, content_type="application/json", headers={"X-Signature": signature})
        return r.get_json()

    assert post("0" * 64)["error"] == 5
    assert post(hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest())["error"] == 0
    logged = _get(operator, "/requests", reference=bet["reference"])["items"]
    assert [(i["uuid"], i["error"], i["replayable"]) for i in logged] == [
        (bet["uuid"], 0, True), (bet["uuid"], 5, False)]
    assert str(operator.balance()) == "997.00"
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- rounds


def _round(provider: Provider, round_id: str, *, result: bool = False, end: bool = False,
           cancel: bool = False, user: str = "player-1") -> None:
    bet = callback_body("Bet", userId=user, roundId=round_id, amount="1.00")
    assert provider.send("Bet", bet)["error"] == 0
    if result:
        assert provider.call("Result", userId=user, roundId=round_id, amount="0.00")["error"] == 0
    if end:
        assert provider.call("EndRound", userId=user, roundId=round_id)["error"] == 0
    if cancel:
        assert provider.call("Cancel", userId=user, roundId=round_id, reference=bet["reference"])["error"] == 0


def test_rounds_by_status_player_and_time_newest_first(provider, operator, player):
    operator.open_player("player-2")
    _round(provider, "r-open")
    _round(provider, "r-settled", result=True)
    _round(provider, "r-ended", end=True)
    _round(provider, "r-cancelled", cancel=True)
    _round(provider, "r-other", user="player-2")

    every = _get(operator, "/rounds")["items"]
    assert [(i["roundId"], i["status"]) for i in every] == [
        ("r-other", "open"), ("r-cancelled", "cancelled"), ("r-ended", "ended"), ("r-settled", "settled"),
        ("r-open", "open")]
    for status in ("open", "settled", "ended", "cancelled"):
        assert {i["status"] for i in _get(operator, "/rounds", status=status)["items"]} == {status}
    assert [i["roundId"] for i in _get(operator, "/rounds", status="open", userId="player-1")["items"]] == ["r-open"]
    assert _get(operator, "/rounds", userId="nobody")["items"] == []
    assert _get(operator, "/rounds", **{"from": "2100-01-01T00:00:00Z"})["items"] == []
    assert _walk(operator, "/rounds", limit=2) == every
    assert _get(operator, "/rounds", 422, status="closed")["error"]
    csv = _get(operator, "/rounds", format="csv", status="ended").splitlines()
    assert csv[0] == "roundId,userId,gameId,status,createdAt,updatedAt"
    assert csv[1].startswith("r-ended,player-1,")


def test_the_cli_lists_requests_and_rounds(app, provider, player):
    _round(provider, "r-cli")
    run = app.test_cli_runner().invoke
    table = run(args=["wallet", "rounds", "--status", "open"])
    assert table.exit_code == 0, table.output
    assert "r-cli" in table.output
    as_json = json.loads(run(args=["wallet", "requests", "--method", "Bet", "--json"]).output)
    assert [i["method"] for i in as_json["items"]] == ["bet"]
    as_csv = run(args=["wallet", "requests", "--user-id", "player-1", "--csv"]).output
    assert as_csv.startswith("createdAt,method,uuid")
    bad = run(args=["wallet", "requests", "--method", "Deposit"])
    assert bad.exit_code == 1 and "method" in bad.output


@pytest.mark.parametrize("command", [["requests"], ["rounds"], ["transactions"], ["games"], ["player", "player-1"]])
def test_every_read_command_takes_format_json_and_csv_like_its_short_flags(app, provider, player, command):
    run = app.test_cli_runner().invoke
    provider.call("Check")
    for long, short in (("json", "--json"), ("csv", "--csv"), ("table", "--table")):
        given = run(args=["wallet", *command, "--format", long])
        assert given.exit_code == 0, given.output
        assert given.output == run(args=["wallet", *command, short]).output
    assert json.loads(run(args=["wallet", *command, "--format", "json"]).output)
    assert run(args=["wallet", *command, "--format", "xml"]).exit_code == 2


def test_a_flood_of_refusals_is_recorded_only_up_to_the_rate(provider, operator, monkeypatch):
    from wallet.ledger import request_log

    monkeypatch.setattr(request_log, "_bucket", request_log._Bucket(rate=0.0, burst=3))
    for _ in range(10):
        assert provider.send("Bet", "garbage")["error"] == 7
    assert len(_get(operator, "/requests", method="bet")["items"]) == 3
    assert request_log._bucket.dropped == 7

"""The operator's calls to the provider (CancelRound in both styles, GetRoundStatus, CloseSession,
HealthCheck) against an independent fake provider over real HTTP, the wallet on PostgreSQL: the
bodies the provider receives, the money that comes back, every call recorded, bad answers, the
token never shown."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import Operator, Provider, make_app
from tests.provider_fake import FakeProvider, in_process
from tests.site_helpers import site_client

TOKEN = "lm-token-never-shown-7f3a9c1e"
LOGIN = "operator-login"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as f:
        yield f


def wallet(database_url: str, provider_url: str, **overrides: Any) -> Flask:
    """The wallet with short provider timeouts (nothing in these tests waits long)."""
    settings = {"provider_api_url": provider_url, "provider_timeout": 0.5, "provider_attempts": 2,
                "provider_backoff": 0.01, "provider_secure_login": LOGIN, "provider_token": TOKEN, **overrides}
    return make_app(database_url, **settings)


class World:
    def __init__(self, app: Flask, fake: FakeProvider) -> None:
        self.app, self.fake = app, fake
        self.provider = Provider(app.test_client())
        self.operator = Operator(app.test_client())
        self.operator.open_player("p1", deposit="100.00")

    def bet(self, reference: str, round_id: str, amount: str = "10.00", user_id: str = "p1") -> None:
        assert self.provider.call("Bet", userId=user_id, reference=reference, roundId=round_id,
                                  amount=amount)["error"] == 0

    def admin(self, verb: str, path: str, **kwargs: Any) -> Any:
        return self.operator.request(verb, path, **kwargs)


@pytest.fixture(params=["2024", "2025"])
def style(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def world(database_url: str, fake: FakeProvider, style: str) -> Iterator[World]:
    app = wallet(database_url, fake.url, provider_api_style=style)
    fake.wallet = in_process(app)
    yield World(app, fake)
    app.extensions["wallet.engine"].dispose()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# --------------------------------------------------------------------------- CancelRound, both styles


def test_cancel_by_reference_sends_the_styles_body_and_the_refund_returns_the_stake(world: World, style: str):
    world.bet("bet-1", "round-1", "12.34")
    assert world.operator.balance("p1") == Decimal("87.66")

    r = world.admin("POST", "/cancel-round", json={"reference": "bet-1", "requestedBy": "alice", "reason": "stuck"})

    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    [sent] = world.fake.bodies("/V4/CancelRound")
    if style == "2024":
        assert sent == {"providerId": "LuckyMonaco", "userId": "p1", "sessionId": "session-1", "currency": "USD",
                        "gameId": "Im_60_tumblefortune", "gameName": "tumblefortune", "reference": "bet-1",
                        "uuid": record["uuid"], "roundId": "round-1"}
        assert record["request"] == sent
    else:
        assert sent == {"secureLogin": LOGIN, "userId": "p1", "roundId": "round-1", "token": TOKEN,
                        "uuid": record["uuid"], "gameId": "Im_60_tumblefortune"}
        assert record["request"] == {**sent, "token": "***"}
    assert record["status"] == "confirmed" and record["error"] == 0
    # the token's person asks (here the built-in admin); a body's requestedBy is ignored
    assert (record["requestedBy"], record["reason"], record["reference"]) == ("bootstrap", "stuck", "bet-1")
    assert world.operator.balance("p1") == Decimal("100.00")
    assert world.operator.reconciliation()["ok"] is True


def test_cancel_by_round_names_the_earliest_unrefunded_bet_and_the_2025_refund_takes_the_whole_round(
        world: World, style: str):
    world.bet("bet-a", "round-2", "5.00")
    world.bet("bet-b", "round-2", "7.00")

    r = world.admin("POST", "/cancel-round", json={"roundId": "round-2", "userId": "p1"})

    record = r.get_json()
    assert r.status_code == 201 and record["status"] == "confirmed" and record["reference"] == "bet-a"
    [sent] = world.fake.bodies("/V4/CancelRound")
    if style == "2024":  # the provider refunds the named bet, and the round is cancelled
        assert sent["reference"] == "bet-a" and sent["roundId"] == "round-2"
        assert world.operator.balance("p1") == Decimal("93.00")  # bet-b stays: a cancelled round keeps it
    else:
        assert "reference" not in sent and sent["roundId"] == "round-2" and sent["userId"] == "p1"
        assert world.operator.balance("p1") == Decimal("100.00")
    assert world.admin("GET", "/rounds/round-2").get_json()["status"] == "cancelled"


@pytest.mark.parametrize("body, status", [
    ({"roundId": "nowhere", "userId": "p1"}, 404),
    ({"roundId": "round-3"}, 422),
    ({"userId": "p1"}, 422),
    ({"roundId": "round-3", "userId": "p1", "reference": "bet-3"}, 201),
    ({"reference": "bet-3", "userId": "someone-else"}, 409),
])
def test_cancel_by_round_needs_the_player_and_checks_what_it_is_given(world: World, body, status):
    world.bet("bet-3", "round-3")
    r = world.admin("POST", "/cancel-round", json=body)
    assert r.status_code == status, r.get_json()


def test_a_settled_round_is_not_cancelled_by_round_either(world: World):
    world.bet("bet-4", "round-4")
    assert world.provider.call("Result", userId="p1", reference="win-4", roundId="round-4", amount="0")["error"] == 0
    r = world.admin("POST", "/cancel-round", json={"roundId": "round-4", "userId": "p1"})
    assert r.status_code == 409 and "settled" in r.get_json()["description"]
    assert world.fake.bodies("/V4/CancelRound") == []


@pytest.mark.parametrize("answer, status, error", [
    ({"error": "0", "description": "Success"}, "confirmed", 0),
    ({"error": "3", "description": "Round already settled"}, "rejected", 3),
    ({"Error": 7, "Description": "Bad parameters"}, "rejected", 7),
])
def test_the_error_code_is_read_as_a_number_or_a_numeric_string(world: World, answer, status, error):
    world.bet("bet-5", "round-5")
    world.fake.replies["/V4/CancelRound"] = (200, answer, "application/json")
    record = world.admin("POST", "/cancel-round", json={"reference": "bet-5"}).get_json()
    assert (record["status"], record["error"]) == (status, error)
    assert len(record["attempts"]) == 1


# --------------------------------------------------------------------------- bad answers


HTML_502 = (502, b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "text/html")
BAD_ANSWERS = {
    "html-502": (HTML_502, "HTTP 502, answer is an HTML page"),
    "not-json": ((200, b"OK, will do", "text/plain"), "answer is not JSON"),
    "no-error-field": ((200, {"description": "Success"}, "application/json"), "answer has no error field"),
    "retry-forever": ((200, {"error": 100, "description": "Internal error"}, "application/json"),
                      "error 100 asks for a retry"),
}


@pytest.mark.parametrize("name", BAD_ANSWERS)
def test_a_cancel_with_a_bad_answer_is_recorded_failed_with_its_reason_and_never_confirmed(world: World, name):
    world.bet("bet-6", "round-6")
    reply, reason = BAD_ANSWERS[name]
    world.fake.replies["/V4/CancelRound"] = reply

    r = world.admin("POST", "/cancel-round", json={"reference": "bet-6"})

    assert r.status_code == 201
    record = r.get_json()
    assert record["status"] == "failed" and record["error"] is None
    assert reason in record["description"] and "after 2 attempts" in record["description"]
    assert [a["problem"] for a in record["attempts"]] == [reason, reason]
    assert len({b["uuid"] for b in world.fake.bodies("/V4/CancelRound")}) == 1  # one uuid, every retry
    assert world.operator.balance("p1") == Decimal("90.00")


def test_a_provider_that_hangs_beyond_the_timeout_is_a_failed_call_in_bounded_time(world: World):
    world.fake.replies["/history/GetRoundStatus"] = lambda body: (time.sleep(1.5), (200, {"error": 0}, "x"))[1]
    started = time.monotonic()
    r = world.admin("GET", "/rounds/round-7/provider-status?userId=p1")
    assert time.monotonic() - started < 3  # 2 attempts of 0.5 s
    assert r.status_code == 502 and r.get_json()["error"] == "badgateway"
    assert "no answer within 0.5 s" in r.get_json()["description"]
    call = world.admin("GET", f"/provider/calls/{r.get_json()['callId']}").get_json()
    assert call["status"] == "failed"
    assert [a["exception"].split(":")[0] for a in call["attempts"]] == ["ReadTimeout"] * 2


# --------------------------------------------------------------------------- GetRoundStatus


def test_provider_status_answers_the_providers_fields_and_records_the_call(world: World):
    world.bet("bet-8", "round-8")
    world.fake.statuses["round-8"] = "completed"  # any case

    r = world.admin("GET", "/rounds/round-8/provider-status?userId=p1")

    assert r.status_code == 200
    assert r.get_json() == {"error": 0, "description": "Success", "roundId": "round-8", "betAmount": 5.0,
                            "winAmount": 0, "roundStatus": "completed", "currency": "USD"}
    assert world.fake.bodies("/history/GetRoundStatus") == [
        {"secureLogin": LOGIN, "roundId": "round-8", "uuid": world.fake.bodies("/history/GetRoundStatus")[0]["uuid"],
         "token": TOKEN}]
    [call] = world.admin("GET", "/provider/calls?kind=GetRoundStatus").get_json()["items"]
    assert (call["status"], call["userId"], call["roundId"], call["attemptCount"]) == ("confirmed", "p1", "round-8", 1)


@pytest.mark.parametrize("answer, words", [
    ({"error": 7, "description": "Round not found"}, "answered error 7: Round not found"),
    ({"error": 0, "description": "Success", "roundStatus": "Suspended"}, "unknown roundStatus 'Suspended'"),
])
def test_provider_status_is_502_when_the_provider_gives_no_status(world: World, answer, words):
    world.fake.statuses["round-9"] = answer
    r = world.admin("GET", "/rounds/round-9/provider-status")
    assert r.status_code == 502 and words in r.get_json()["description"]
    assert set(r.get_json()) >= {"error", "description"}


def test_provider_status_is_502_when_nothing_listens(database_url: str):
    app = wallet(database_url, closed_port_url())
    r = Operator(app.test_client()).request("GET", "/rounds/r/provider-status")
    assert r.status_code == 502 and "no answer" in r.get_json()["description"]
    app.extensions["wallet.engine"].dispose()


# --------------------------------------------------------------------------- CloseSession, freezing, HealthCheck


def test_close_session_sends_login_user_and_token_and_answers_the_record(world: World):
    r = world.admin("POST", "/players/p1/close-session", json={"gameId": "g-1", "reason": "support call"})
    assert r.status_code == 201 and r.get_json()["status"] == "confirmed"
    [sent] = world.fake.bodies("/V4/CloseSession")
    assert sent == {"secureLogin": LOGIN, "userId": "p1", "token": TOKEN, "uuid": r.get_json()["uuid"], "gameId": "g-1"}
    assert world.admin("POST", "/players/p1/close-session").status_code == 201  # no body at all
    assert world.admin("POST", "/players/nobody/close-session").status_code == 404


def test_freezing_a_player_closes_the_session_at_the_provider(world: World):
    r = world.admin("PATCH", "/players/p1", json={"status": "frozen", "reason": "test"})
    assert r.status_code == 200 and r.get_json()["status"] == "frozen"
    assert [b["userId"] for b in world.fake.bodies("/V4/CloseSession")] == ["p1"]
    world.admin("PATCH", "/players/p1", json={"status": "active", "reason": "test"})
    assert len(world.fake.bodies("/V4/CloseSession")) == 1  # unfreezing closes nothing


def test_freezing_succeeds_when_the_provider_is_down_and_the_attempt_is_recorded(database_url: str):
    app = wallet(database_url, closed_port_url())
    operator = Operator(app.test_client())
    operator.open_player("p1")
    r = operator.request("PATCH", "/players/p1", json={"status": "frozen", "reason": "test"})
    assert r.status_code == 200 and r.get_json()["status"] == "frozen"
    [call] = operator.request("GET", "/provider/calls?userId=p1").get_json()["items"]
    assert (call["kind"], call["status"], call["reason"]) == ("CloseSession", "failed", "player frozen")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["wallet", "set-status", "p1", "frozen", "--reason", "test"])
    assert out.exit_code == 0 and "CloseSession at the provider: failed" in out.output
    app.extensions["wallet.engine"].dispose()


def test_health_is_up_with_its_latency_and_down_with_a_reason_and_a_metric(world: World, database_url: str):
    r = world.admin("GET", "/provider/health")
    assert r.status_code == 200 and r.get_json()["up"] is True and r.get_json()["error"] is None
    assert set(r.get_json()) == {"up", "latencyMs", "error"} and r.get_json()["latencyMs"] >= 0
    assert world.fake.bodies("/V4/HealthCheck")[0].keys() == {"secureLogin", "token", "uuid"}
    assert "wallet_provider_up 1.0" in world.app.test_client().get("/metrics").get_data(as_text=True)

    world.fake.replies["/V4/HealthCheck"] = HTML_502
    down = world.admin("GET", "/provider/health").get_json()
    assert down["up"] is False and "HTML page" in down["error"]
    assert len(world.fake.bodies("/V4/HealthCheck")) == 2  # one attempt each
    assert "wallet_provider_up 0.0" in world.app.test_client().get("/metrics").get_data(as_text=True)


def test_readiness_never_asks_the_provider(database_url: str, fake: FakeProvider):
    fake.replies["/V4/HealthCheck"] = lambda body: (time.sleep(5), HTML_502)[1]
    for url in (closed_port_url(), fake.url):
        app = wallet(database_url, url)
        started = time.monotonic()
        r = app.test_client().get("/readyz")
        assert r.status_code == 200 and time.monotonic() - started < 1
        app.extensions["wallet.engine"].dispose()
    assert fake.received == []


# --------------------------------------------------------------------------- the token is never shown


def test_the_token_never_appears_in_logs_records_answers_or_cli_output(world: World, database_url: str, caplog,
                                                                       style: str):
    caplog.set_level(logging.DEBUG)
    world.fake.replies["/V4/CloseSession"] = lambda body: (200, {"error": 0, "echo": body}, "application/json")
    world.bet("bet-t", "round-t")
    world.bet("bet-u", "round-u")
    shown: list[str] = []
    for verb, path, body in [("POST", "/cancel-round", {"reference": "bet-t"}),
                             ("GET", "/rounds/round-t/provider-status?userId=p1", None),
                             ("POST", "/players/p1/close-session", {}),
                             ("GET", "/provider/health", None),
                             ("POST", "/stale-rounds/sweep", {"olderThanHours": 0}),
                             ("GET", "/cancels", None), ("GET", "/cancels/1", None),
                             ("GET", "/provider/calls", None), ("GET", "/provider/calls/3", None),
                             ("GET", "/rounds/round-t", None), ("GET", "/stale-rounds/sweeps/1", None),
                             ("GET", "/openapi.json", None)]:
        r = world.app.test_client().open(
            f"/admin{path}" if path != "/openapi.json" else path, method=verb, json=body,
            headers=world.operator.headers)
        assert r.status_code < 500, (path, r.get_data(as_text=True))
        shown.append(r.get_data(as_text=True))
    runner = world.app.test_cli_runner()
    for args in (["cancels", "1"], ["provider-calls"], ["provider-calls", "3"], ["sweeps", "1"],
                 ["close-session", "p1"]):
        shown.append(runner.invoke(args=["wallet", *args]).output)
    site = site_client(world.app, "viewer")
    shown.append(site.get("/support/rounds/round-t").get_data(as_text=True))
    shown += [site.get(f"/support/provider-calls/{n}").get_data(as_text=True) for n in (1, 2, 3)]

    assert any('"***"' in s for s in shown)  # the stored bodies are there, masked
    assert not [s for s in shown if TOKEN in s]
    assert TOKEN not in caplog.text
    with world.app.extensions["wallet.engine"].connect() as conn:
        tables = ("provider_calls", "provider_call_attempts", "round_sweeps", "round_sweep_items", "requests")
        dump = "".join(json.dumps([list(map(str, row)) for row in conn.execute(text(f"SELECT * FROM {t}"))])
                       for t in tables)
    assert TOKEN not in dump and "***" in dump
    assert TOKEN not in repr(world.app.config["WALLET_SETTINGS"])

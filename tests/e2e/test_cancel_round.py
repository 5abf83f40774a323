"""CancelRound end to end: the wallet under gunicorn, the sandbox provider as a real HTTP server.

admin API -> wallet -> POST /V4/CancelRound -> sandbox -> POST /V4/Refund -> wallet (another worker)

Also through the sandbox: the 2025 style, a stale round swept and its money back, CloseSession and
HealthCheck, and the sandbox driving every callback of the wallet (library and command line).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, insert, select
from werkzeug.serving import make_server

from tests.conftest import make_app
from tests.support import ADMIN_TOKEN, ROOT, gunicorn
from wallet.ledger.models import transactions
from wallet.provider.models import provider_calls
from wallet.provider.sandbox import Sandbox, WalletClient, create_app
from wallet.provider.service import STALE_AFTER

SECRET = "e2e-callback-secret"


@dataclass
class World:
    """A running wallet, the sandbox provider pointing at it, and helpers to play and to administer."""

    base: str
    sandbox: Sandbox
    provider_url: str

    def admin(self, verb: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(verb, f"{self.base}/admin{path}",
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60, **kwargs)

    def open_player(self, user_id: str) -> None:
        assert self.admin("POST", "/players", json={"userId": user_id, "currency": "USD"}).status_code == 201
        r = self.admin("POST", f"/players/{user_id}/adjustments",
                       json={"amount": "100.00", "reference": f"dep-{user_id}", "reason": "deposit"})
        assert r.status_code == 201

    def bet(self, reference: str, round_id: str, user_id: str = "p1", amount: str = "12.34") -> None:
        answer = self.sandbox.wallet.call("Bet", {
            "userId": user_id, "sessionId": "sess-42", "currency": "USD", "gameId": "Im_60_tumblefortune",
            "gameName": "tumblefortune", "roundId": round_id, "reference": reference,
            "amount": Decimal(amount), "timeStamp": "2026-11-24T10:00:00Z", "roundDetails": "spin",
        })
        assert answer["error"] == 0, answer

    def balance(self, user_id: str = "p1") -> Decimal:
        return Decimal(self.admin("GET", f"/players/{user_id}").json(parse_float=Decimal)["balance"])

    def cancel(self, reference: str, **extra: Any) -> requests.Response:
        return self.admin("POST", "/cancel-round", json={"reference": reference, **extra})


@pytest.fixture
def provider_server() -> Iterator[tuple[Sandbox, str]]:
    """The sandbox provider on a free port (its wallet URL is set once the wallet runs)."""
    sandbox = Sandbox(WalletClient("http://127.0.0.1:9", SECRET))
    server = make_server("127.0.0.1", 0, create_app(sandbox), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sandbox, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def run_world(database_url: str, provider_server: tuple[Sandbox, str], **env: str) -> Iterator[World]:
    sandbox, provider_url = provider_server
    with gunicorn({
        "WALLET_DATABASE_URL": database_url,
        "WALLET_CALLBACK_SECRET": SECRET,
        "LUCKY_MONACO_API_URL": provider_url,
        "LUCKY_MONACO_PROVIDER_ID": "LuckyMonacoTest",
        "LUCKY_MONACO_TIMEOUT": "2",
        **env,
    }) as base:
        sandbox.wallet = WalletClient(base, SECRET)
        world = World(base, sandbox, provider_url)
        world.open_player("p1")
        yield world


@pytest.fixture
def world(postgres_url: str, provider_server: tuple[Sandbox, str]) -> Iterator[World]:
    yield from run_world(postgres_url, provider_server)


@pytest.fixture
def any_world(database_url: str, provider_server: tuple[Sandbox, str]) -> Iterator[World]:
    """The same world on a database of its own."""
    yield from run_world(database_url, provider_server)


def test_cancel_round_sends_every_seed_field_and_the_refund_restores_the_balance(any_world: World):
    w = any_world
    w.bet("bet-1", "round-1")
    assert w.balance() == Decimal("87.66")

    r = w.cancel("bet-1")
    assert r.status_code == 201, r.text
    record = r.json()
    assert w.sandbox.received == [{
        "providerId": "LuckyMonaco",  # the bet's own providerId (the configured one is LuckyMonacoTest)
        "userId": "p1",
        "sessionId": "sess-42",
        "currency": "USD",
        "gameId": "Im_60_tumblefortune",
        "gameName": "tumblefortune",
        "reference": "bet-1",
        "uuid": record["uuid"],
        "roundId": "round-1",
    }]
    assert len(record["uuid"]) == 32
    assert record["status"] == "confirmed" and record["error"] == 0 and record["description"] == "Success"
    assert record["request"] == w.sandbox.received[0]
    assert [(a["number"], a["httpStatus"]) for a in record["attempts"]] == [(1, 200)]
    assert record["requestedBy"] == "bootstrap"  # the token's person, whatever the body says

    assert w.balance() == Decimal("100.00")
    rnd = w.admin("GET", "/rounds/round-1").json()
    assert rnd["status"] == "cancelled"
    assert [e["type"] for e in rnd["entries"]] == ["bet", "refund"]
    assert [(c["id"], c["status"], c["uuid"]) for c in rnd["cancelRequests"]] == [
        (record["id"], "confirmed", record["uuid"])]
    assert w.admin("GET", "/reconciliation").json() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
    again = w.cancel("bet-1")
    assert again.status_code == 409 and "already refunded" in again.json()["description"]


def test_a_provider_answering_503_twice_gets_three_attempts_with_one_uuid(world: World):
    world.bet("bet-2", "round-2")
    world.sandbox.fail_first = 2

    record = world.cancel("bet-2").json()

    assert record["status"] == "confirmed"
    assert [a["httpStatus"] for a in record["attempts"]] == [503, 503, 200]
    assert [a["number"] for a in record["attempts"]] == [1, 2, 3]
    assert len(world.sandbox.received) == 3
    assert {r["uuid"] for r in world.sandbox.received} == {record["uuid"]}
    assert all(r == world.sandbox.received[0] for r in world.sandbox.received)
    assert world.balance() == Decimal("100.00")


def test_a_provider_that_never_answers_200_leaves_a_failed_record_in_bounded_time(world: World):
    world.bet("bet-3", "round-3")
    world.sandbox.fail_first = 1000

    started = time.monotonic()
    r = world.cancel("bet-3")
    elapsed = time.monotonic() - started

    assert r.status_code == 201
    record = r.json()
    assert record["status"] == "failed" and record["error"] is None
    assert [a["httpStatus"] for a in record["attempts"]] == [503, 503, 503]
    assert elapsed < 10  # 3 quick 503s and 0.5 s + 1 s of back-off
    assert world.balance() == Decimal("87.66")  # nothing was refunded

    world.sandbox.fail_first = 0  # a failed cancel does not block a new one (with a new uuid)
    retry = world.cancel("bet-3").json()
    assert retry["status"] == "confirmed" and retry["uuid"] != record["uuid"]
    assert world.balance() == Decimal("100.00")


def test_a_provider_relaying_a_refused_refund_leaves_a_rejected_record_after_one_attempt(world: World):
    world.bet("bet-9", "round-9")
    world.sandbox.wallet = WalletClient(world.base, "not-the-wallets-secret")  # the wallet answers 5

    record = world.cancel("bet-9").json()

    assert record["status"] == "rejected" and record["error"] == 5
    assert "signature" in record["description"] and len(record["attempts"]) == 1
    assert world.balance() == Decimal("87.66")


def test_a_provider_too_slow_to_answer_times_out_and_its_late_refunds_pay_exactly_once(
    postgres_url: str, provider_server: tuple[Sandbox, str]
):
    for w in run_world(postgres_url, provider_server, LUCKY_MONACO_TIMEOUT="0.5"):
        w.bet("bet-4", "round-4")
        w.sandbox.delay = 1.5

        record = w.cancel("bet-4").json()

        assert record["status"] == "failed"
        assert [a["exception"].split(":")[0] for a in record["attempts"]] == ["ReadTimeout"] * 3
        assert len(w.sandbox.received) == 3
        time.sleep(w.sandbox.delay + 1.5)  # the provider still works through all three copies
        assert w.balance() == Decimal("100.00")
        refunds = w.admin("GET", "/transactions", params={"reference": "bet-4", "type": "refund"}).json()["items"]
        assert len(refunds) == 1
        assert w.admin("GET", "/reconciliation").json()["ok"] is True


def test_two_operators_cancelling_one_bet_at_once_send_one_cancel(world: World):
    world.bet("bet-5", "round-5")
    world.sandbox.delay = 1.0
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(world.cancel("bet-5"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r.status_code for r in answers) == [201, 409]
    assert "in progress" in next(r for r in answers if r.status_code == 409).json()["description"]
    assert len(world.sandbox.received) == 1


def test_the_cancel_record_is_shown_by_the_api_and_the_cli(world: World, postgres_url: str):
    world.bet("bet-6", "round-6")
    world.bet("bet-7", "round-7")
    app = make_app(postgres_url, provider_api_url=world.provider_url)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["wallet", "cancel-round", "bet-6", "--requested-by", "alice"])
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output)
    assert from_cli["status"] == "confirmed" and from_cli["requestedBy"] == "cli:alice"  # the CLI acts as cli:<name>
    assert world.cancel("bet-7").status_code == 201

    listed = world.admin("GET", "/cancels").json()
    assert [c["reference"] for c in listed["items"]] == ["bet-7", "bet-6"]
    assert listed["items"][1]["attemptCount"] == 1 and listed["nextCursor"] is None
    assert world.admin("GET", f"/cancels/{from_cli['id']}").json() == from_cli
    assert world.admin("GET", "/cancels/999999").status_code == 404

    shown = runner.invoke(args=["wallet", "cancels"])
    assert [c["reference"] for c in json.loads(shown.output)["items"]] == ["bet-7", "bet-6"]
    one = runner.invoke(args=["wallet", "cancels", from_cli["id"]])
    assert json.loads(one.output) == from_cli
    unknown = runner.invoke(args=["wallet", "cancel-round", "no-such-bet"])
    assert unknown.exit_code == 1 and "no bet with reference" in unknown.output
    app.extensions["wallet.engine"].dispose()


def test_a_cancel_left_pending_by_a_dead_process_is_closed_by_the_next_one(world: World, postgres_url: str):
    world.bet("bet-8", "round-8")
    engine = create_engine(postgres_url)
    with engine.begin() as conn:  # what a worker killed mid-call leaves behind
        bet_id = conn.execute(select(transactions.c.id).where(transactions.c.reference == "bet-8")).scalar_one()
        conn.execute(insert(provider_calls).values(
            kind="CancelRound", uuid="dead-uuid", requested_by="killed worker", reference="bet-8",
            bet_transaction_id=bet_id, user_id="p1", round_id="round-8", request_body="{}", status="pending",
            created_at=datetime.now(UTC) - STALE_AFTER - timedelta(seconds=1),
        ))
    engine.dispose()

    record = world.cancel("bet-8").json()

    assert record["status"] == "confirmed"
    dead = world.admin("GET", "/cancels", params={"reference": "bet-8"}).json()["items"][-1]
    assert dead["uuid"] == "dead-uuid" and dead["status"] == "failed" and "abandoned" in dead["description"]


# --------------------------------------------------------------------------- the sandbox: both styles, section 11

SANDBOX_TOKEN = "sandbox-token-not-to-be-shown"


def test_the_2025_style_cancels_a_whole_round_through_the_sandbox(postgres_url: str,
                                                                  provider_server: tuple[Sandbox, str]):
    sandbox, _ = provider_server
    sandbox.secure_login, sandbox.token = "operator-7", SANDBOX_TOKEN
    for w in run_world(postgres_url, provider_server, LUCKY_MONACO_API_STYLE="2025",
                       LUCKY_MONACO_SECURE_LOGIN="operator-7", LUCKY_MONACO_TOKEN=SANDBOX_TOKEN):
        w.bet("bet-20", "round-20", amount="10.00")
        w.bet("bet-21", "round-20", amount="5.00")

        r = w.admin("POST", "/cancel-round", json={"roundId": "round-20", "userId": "p1"})

        record = r.json()
        assert r.status_code == 201 and record["status"] == "confirmed", record
        assert w.sandbox.received == [{"secureLogin": "operator-7", "userId": "p1", "roundId": "round-20",
                                       "token": SANDBOX_TOKEN, "uuid": record["uuid"],
                                       "gameId": "Im_60_tumblefortune"}]
        assert record["request"]["token"] == "***" and SANDBOX_TOKEN not in r.text
        assert w.balance() == Decimal("100.00")  # both bets of the round
        assert w.admin("GET", "/rounds/round-20").json()["status"] == "cancelled"


def test_a_stale_round_is_swept_through_the_sandbox_and_its_money_comes_back(world: World):
    world.bet("bet-30", "round-30", amount="10.00")
    world.bet("bet-31", "round-31", amount="20.00")
    world.bet("bet-32", "round-32", amount="30.00")
    assert world.balance() == Decimal("40.00")
    requests.post(f"{world.provider_url}/sandbox/rounds/round-31", json={"roundStatus": "Completed"}, timeout=5)

    status = world.admin("GET", "/rounds/round-32/provider-status", params={"userId": "p1"})
    assert status.status_code == 200 and status.json()["roundStatus"] == "InProgress"
    dry = world.admin("POST", "/stale-rounds/sweep", json={"olderThanHours": 0, "dryRun": True}).json()
    assert [i["outcome"] for i in dry["rounds"]] == ["would-cancel", "awaiting-result", "would-cancel"]

    swept = world.admin("POST", "/stale-rounds/sweep", json={"olderThanHours": 0, "requestedBy": "sweeper"}).json()

    assert swept == {"rounds": [
        {"roundId": "round-30", "userId": "p1", "providerStatus": "InProgress", "outcome": "refunded"},
        {"roundId": "round-31", "userId": "p1", "providerStatus": "Completed", "outcome": "awaiting-result"},
        {"roundId": "round-32", "userId": "p1", "providerStatus": "InProgress", "outcome": "refunded"}]}
    assert world.balance() == Decimal("80.00")  # 10 + 30 back; round-31 waits for its Result
    assert [i["roundId"] for i in world.admin("GET", "/stale-rounds", params={"olderThanHours": 0})
            .json()["items"]] == ["round-31"]
    assert world.admin("GET", "/reconciliation").json()["ok"] is True


def test_the_sandbox_answers_close_session_and_health(world: World):
    assert world.admin("POST", "/players/p1/close-session").json()["status"] == "confirmed"
    assert world.admin("PATCH", "/players/p1", json={"status": "frozen", "reason": "test"}).status_code == 200
    assert world.sandbox.closed_sessions == ["p1", "p1"]
    assert world.admin("GET", "/provider/health").json()["up"] is True
    requests.post(f"{world.provider_url}/sandbox/health", json={"up": False}, timeout=5)
    down = world.admin("GET", "/provider/health").json()
    assert down["up"] is False and "HTTP 503" in down["error"]


def test_the_sandbox_drives_every_callback_of_the_wallet(world: World):
    played = world.sandbox.play(["p1"], rounds=4, open_every=4, extras=True, seed=3)

    answers = [v for p in played for v in p.values() if isinstance(v, dict) and "error" in v]
    assert answers and {a["error"] for a in answers} == {0}
    auto = next(p for p in played if p.get("autoClosing"))
    assert auto["result"]["error"] == 0  # an Auto-Closing Result: no sessionId, paid
    lost = next(p for p in played if "cancel" in p)
    entries = world.admin("GET", f"/rounds/{lost['roundId']}").json()["entries"]
    assert [e["type"] for e in entries] == ["bet", "cancel"]
    kinds = {e["type"] for e in world.admin("GET", "/transactions", params={"limit": 1000}).json()["items"]}
    assert {"bet", "win", "refund", "cancel", "promo", "jackpot", "bonus"} <= kinds
    assert world.admin("GET", "/reconciliation").json()["ok"] is True


def test_sandbox_play_on_the_command_line_drives_the_callbacks_and_says_what_it_got(world: World):
    env = {**os.environ, "WALLET_CALLBACK_SECRET": SECRET, "WALLET_ADMIN_TOKEN": ADMIN_TOKEN}
    done = subprocess.run([sys.executable, "-m", "wallet.provider.sandbox", "play", "--wallet-url", world.base,
                           "--players", "2", "--rounds", "3", "--open-every", "3"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    methods = {key.split(":")[0] for key in summary["answers"]}
    assert {"bet", "result", "endRound", "cancel", "refund", "promoWin", "jackpotWin", "bonusWin",
            "sessionExpired"} <= methods
    assert all(key.endswith(":0") for key in summary["answers"]) and len(summary["openRounds"]) == 2

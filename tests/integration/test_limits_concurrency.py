"""Concurrent Bets against one limit never overshoot it together (docs/protocol.md, "Operator
controls"): the limit is read and the stake debited under the player's row lock, in the Bet's
stored function. Threads with their own test clients in one process, then real gunicorn worker
processes over HTTP; the ledger is checked with our own SQL afterwards.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Operator, Provider, make_app
from tests.support import HttpWallet, gunicorn, ledger_problems, unique
from wallet import clock

THREADS = 16
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at once (a barrier); their answers in order."""
    barrier = threading.Barrier(min(len(calls), THREADS))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return call()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def app(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)  # every thread: the same instant, far from any boundary
    app = make_app(postgres_url, timezone="Europe/Malta")
    yield app
    app.extensions["wallet.engine"].dispose()


def put_limits(app: Flask, user: str, body: dict[str, Any]) -> None:
    r = Operator(app.test_client()).request("PUT", f"/players/{user}/limits", json={"reason": "race", **body})
    assert r.status_code == 200, r.get_data(as_text=True)


def bet(app: Flask, user: str, amount: str, **fields: Any) -> dict[str, Any]:
    return Provider(app.test_client()).call("Bet", userId=user, reference=unique("race"), amount=amount,
                                            roundId=fields.pop("roundId", unique("round")), **fields)


@pytest.mark.parametrize("limit, description", [
    ({"lossLimit": {"day": "100.00"}}, "loss limit of the day"),
    ({"wagerLimit": {"week": "100.00"}}, "wager limit of the week"),
    ({"lossLimit": {"month": "100.00"}, "wagerLimit": {"month": "100.00"}}, "loss limit of the month"),
])
def test_threads_racing_one_limit_never_overshoot_it(app: Flask, postgres_url: str, limit: dict[str, Any],
                                                     description: str):
    Operator(app.test_client()).open_player("racer")
    put_limits(app, "racer", limit)
    answers = race([lambda: bet(app, "racer", "7.00") for _ in range(48)])
    assert Counter(a["error"] for a in answers) == Counter({0: 14, 50: 34})  # 14 x 7.00 = 98.00 <= 100.00
    assert {a["description"] for a in answers if a["error"] == 50} == {f"Bet limit reached: {description}"}
    assert Provider(app.test_client()).call("Balance", userId="racer")["cash"] == Decimal("902.00")
    assert Provider(app.test_client()).call("Check", userId="racer")["error"] == 0  # 2.00 left: not used up
    assert ledger_problems(postgres_url) == {}


def test_bets_racing_refunds_never_overshoot_the_limit(app: Flask, postgres_url: str):
    """Refunds racing the Bets free room as they land; whatever the order, the net loss stays within."""
    Operator(app.test_client()).open_player("racer")
    put_limits(app, "racer", {"lossLimit": {"day": "50.00"}})
    refs = [unique("first") for _ in range(5)]
    for ref in refs:
        assert Provider(app.test_client()).call("Bet", userId="racer", reference=ref, roundId=ref,
                                                amount="10.00")["error"] == 0
    calls: list[Callable[[], Any]] = [lambda: bet(app, "racer", "10.00") for _ in range(20)]
    calls += [lambda r=r: Provider(app.test_client()).call("Refund", userId="racer", reference=r) for r in refs]
    answers = race(calls)
    assert all(a["error"] == 0 for a in answers[20:])  # a refund is never refused by a limit
    accepted = sum(a["error"] == 0 for a in answers[:20])
    assert accepted <= 5 and all(a["error"] in (0, 50) for a in answers[:20])
    assert Provider(app.test_client()).call("Balance", userId="racer")["cash"] == Decimal("1000.00") - 10 * accepted
    assert ledger_problems(postgres_url) == {}


def test_one_reality_check_per_due_session_however_many_bets_race(app: Flask, monkeypatch: pytest.MonkeyPatch):
    Operator(app.test_client()).open_player("racer")
    put_limits(app, "racer", {"realityCheckMinutes": 30})
    assert bet(app, "racer", "1.00", sessionId="s-race")["error"] == 0
    monkeypatch.setattr(clock, "utcnow", lambda: datetime(2027, 3, 10, 12, 30, tzinfo=UTC))  # it is due
    answers = race([lambda: bet(app, "racer", "1.00", sessionId="s-race") for _ in range(24)])
    assert Counter(a["error"] for a in answers) == Counter({0: 23, 210: 1})


def test_players_racing_the_first_bet_of_a_new_game(app: Flask):
    """The first Bets of a game, from many players at once, record it once and are all accepted."""
    users = [f"p-{i}" for i in range(THREADS)]
    for user in users:
        Operator(app.test_client()).open_player(user)
    for n in range(20):
        answers = race([lambda u=u: bet(app, u, "1.00", gameId=f"new-game-{n:02}") for u in users])
        assert [a["error"] for a in answers] == [0] * len(users), answers
    games = Operator(app.test_client()).request("GET", "/games").get_json()["items"]
    assert [g["gameId"] for g in games] == [f"new-game-{n:02}" for n in range(20)]


def test_gunicorn_workers_racing_one_limit_never_overshoot_it(postgres_url: str):
    """Several worker processes over real HTTP, the operator's time zone set: 48 Bets of 7.00 against
    a 100.00 limit of the month, 24 at a time: 14 are accepted, whatever process serves each."""
    env = {"WALLET_DATABASE_URL": postgres_url, "WALLET_TIMEZONE": "Pacific/Auckland"}
    with gunicorn(env, workers=4) as base:
        wallet = HttpWallet(base)
        wallet.open_player("storm-player")
        r = wallet.admin("PUT", "/players/storm-player/limits",
                         json={"lossLimit": {"month": "100.00"}, "wagerLimit": {"month": "100.00"}, "reason": "race"})
        assert r.status_code == 200 and r.json()["timezone"] == "Pacific/Auckland", r.text

        def one(_: int) -> dict[str, Any]:
            return HttpWallet(base).call("Bet", userId="storm-player", reference=unique("g"), roundId=unique("r"),
                                         amount="7.00")

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(one, range(48)))
        assert Counter(a["error"] for a in answers) == Counter({0: 14, 50: 34})
        assert wallet.call("Balance", userId="storm-player")["cash"] == Decimal("902.00")
        assert wallet.admin("GET", "/reconciliation").json()["ok"] is True
    assert ledger_problems(postgres_url) == {}

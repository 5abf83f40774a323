"""Two hosts, one PostgreSQL: exactly-once refunds under duplicates and races across processes.

Two separate gunicorn instances (each with its own worker processes and
connection pools) serve one database. Requests of every storm go to both at
once, released together by a barrier. Afterwards every balance equals its
entries, no bet is reversed twice, every refunded reference nets to zero and a
round is either settled by its Result or cancelled by its Refund, never both.

    make test PYTEST_ARGS="tests/integration/test_multi_host.py -s"                 # figures printed
    WALLET_STORM_SCALE=10 make test PYTEST_ARGS="tests/integration/test_multi_host.py -s"   # long run
"""

from __future__ import annotations

import json
import os
import threading
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.support import HttpWallet, callback_body, gunicorn, ledger_problems, ledger_totals, unique

SCALE = int(os.environ.get("WALLET_STORM_SCALE", "1"))
DEPOSIT = Decimal("1000.00")

pytestmark = pytest.mark.slow


class TwoHosts:
    """Sends each request to host A or B (alternately) from a pool of threads, counting what it sent."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = bases
        self.local = threading.local()
        self.sent = Counter[str]()
        self.lock = threading.Lock()

    def wallet(self, i: int) -> HttpWallet:
        wallets = getattr(self.local, "wallets", None)
        if wallets is None:
            wallets = self.local.wallets = [HttpWallet(b) for b in self.bases]
        return wallets[i % len(wallets)]

    def send(self, i: int, method: str, body: dict[str, Any], kind: str) -> dict[str, Any]:
        with self.lock:
            self.sent[kind] += 1
        return self.wallet(i).send(method, body)

    def storm(self, calls: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any]]:
        """Send all `calls` at once (a barrier releases them together), half to each host."""
        barrier = threading.Barrier(len(calls))

        def one(i: int) -> dict[str, Any]:
            method, body, kind = calls[i]
            barrier.wait(timeout=60)
            return self.send(i, method, body, kind)

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(one, range(len(calls))))


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """The provider's retransmission of a transaction: same content, new uuid."""
    return {**body, "uuid": uuidlib.uuid4().hex}


@pytest.fixture
def hosts(postgres_url: str):  # type: ignore[no-untyped-def]
    env = {"WALLET_DATABASE_URL": postgres_url}
    with gunicorn(env, workers=2) as a, gunicorn(env, workers=2) as b:
        yield TwoHosts([a, b])


def test_refunds_stay_exactly_once_across_two_hosts(hosts: TwoHosts, postgres_url: str) -> None:
    admin = HttpWallet(hosts.bases[0])
    players = [unique("mh") for _ in range(4)]
    for p in players:
        admin.open_player(p, deposit=str(DEPOSIT))
    checks: list[Callable[[], None]] = []

    def player(i: int) -> str:
        return players[i % len(players)]

    # 1. Duplicate refunds with fresh uuids, for bets that are already placed.
    for n in range(3 * SCALE):
        bet = callback_body("Bet", userId=player(n), reference=unique("storm"), roundId=unique("r"), amount="7.25")
        assert admin.send("Bet", bet)["error"] == 0
        refund = callback_body("Refund", userId=player(n), reference=bet["reference"])
        answers = hosts.storm([("Refund", fresh(refund), "duplicate refund") for _ in range(8)])
        assert {a["error"] for a in answers} == {0}, answers
        assert len({a["transactionId"] for a in answers}) == 1, answers  # one refund, answered 8 times

    # 2. A bet racing its own refund (and their retransmissions): either order nets to zero.
    race = Counter[str]()
    for n in range(4 * SCALE):
        ref = unique("race")
        bet = callback_body("Bet", userId=player(n), reference=ref, roundId=unique("r"), amount="3.10")
        refund = callback_body("Refund", userId=player(n), reference=ref, roundId=bet["roundId"])
        answers = hosts.storm([("Bet", bet, "racing bet"), ("Refund", refund, "racing refund"),
                               ("Bet", fresh(bet), "racing bet"), ("Refund", fresh(refund), "racing refund")])
        bets, refunds = answers[0::2], answers[1::2]
        assert {a["error"] for a in refunds} == {0}, answers
        assert len({a["transactionId"] for a in refunds}) == 1, answers
        # each copy of the bet went before the refund (0, reversed by it) or after it (3)
        assert {a["error"] for a in bets} <= {0, 3}, answers
        assert len({a["transactionId"] for a in bets if a["error"] == 0}) <= 1, answers
        race["bet first" if any(a["error"] == 0 for a in bets) else "refund first"] += 1

    # 3. A round refund racing the bet-level refunds of the same round.
    for n in range(3 * SCALE):
        round_id = unique("round")
        bets = [callback_body("Bet", userId=player(n), reference=unique("rb"), roundId=round_id, amount=a)
                for a in ("1.00", "2.50", "4.75")]
        for b in bets:
            assert admin.send("Bet", b)["error"] == 0
        by_round = callback_body("Refund", userId=player(n), reference=unique("cancel"), roundId=round_id)
        calls = [("Refund", fresh(by_round), "round refund") for _ in range(3)]
        calls += [("Refund", callback_body("Refund", userId=player(n), reference=b["reference"]), "bet refund")
                  for b in bets for _ in range(2)]
        answers = hosts.storm(calls)
        assert {a["error"] for a in answers} == {0}, answers

        def round_is_cancelled(round_id: str = round_id) -> None:
            r = admin.admin("GET", f"/rounds/{round_id}")
            assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        checks.append(round_is_cancelled)

    # 4. The same request (same uuid, same body) arriving on both hosts at once.
    for n in range(3 * SCALE):
        bet = callback_body("Bet", userId=player(n), reference=unique("same"), roundId=unique("r"), amount="2.00")
        answers = hosts.storm([("Bet", bet, "same-uuid bet") for _ in range(6)])
        assert len({json.dumps(a, default=str, sort_keys=True) for a in answers}) == 1, answers
        assert answers[0]["error"] == 0
        refund = callback_body("Refund", userId=player(n), reference=bet["reference"])
        answers = hosts.storm([("Refund", refund, "same-uuid refund") for _ in range(6)])
        assert len({json.dumps(a, default=str, sort_keys=True) for a in answers}) == 1, answers
        assert answers[0]["error"] == 0

    # 5. A Result racing a Refund of the round's bet: a settled round is not refunded, a cancelled
    #    round gets no Result. Exactly one of them wins; the lost round's stake stays debited.
    expected = dict.fromkeys(players, DEPOSIT)
    settle = Counter[str]()
    for n in range(3 * SCALE):
        bet = callback_body("Bet", userId=player(n), reference=unique("settle"), roundId=unique("r"), amount="4.00")
        assert admin.send("Bet", bet)["error"] == 0
        result = callback_body("Result", userId=player(n), reference=unique("win"), roundId=bet["roundId"], amount=0)
        refund = callback_body("Refund", userId=player(n), reference=bet["reference"])
        answers = hosts.storm([("Result", result, "racing result"), ("Refund", refund, "refund racing result"),
                               ("Result", fresh(result), "racing result"),
                               ("Refund", fresh(refund), "refund racing result")])
        results, refunds = {a["error"] for a in answers[0::2]}, {a["error"] for a in answers[1::2]}
        assert (results, refunds) in [({0}, {3}), ({3}, {0})], answers
        if results == {0}:
            expected[player(n)] -= Decimal("4.00")
        settle["result first" if results == {0} else "refund first"] += 1

    # Every bet above was refunded or lost: balances are as expected, and the ledger agrees.
    for check in checks:
        check()
    for p in players:
        r = admin.admin("GET", f"/players/{p}")
        assert Decimal(str(r.json()["balance"])) == expected[p], (p, r.text)
    assert admin.admin("GET", "/reconciliation").json() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
    assert ledger_problems(postgres_url) == {}
    totals = ledger_totals(postgres_url)
    lost = sum(DEPOSIT - v for v in expected.values())
    assert totals["bet_money_minor"] - totals["refund_money_minor"] == int(lost * 100)
    assert totals["refund_money_minor"] > 0
    sent = sum(hosts.sent.values())
    moved = sum(v for k, v in totals.items() if k.endswith("_money_minor") and not k.startswith("adjustment"))
    print(f"\nmulti-host storm (scale {SCALE}): {sent} requests over 2 hosts x 2 workers; "
          + ", ".join(f"{k}: {v}" for k, v in sorted(hosts.sent.items())))
    print(f"bet/refund races: {dict(race)}; result/refund races: {dict(settle)}")
    print(f"multi-host ledger: {totals}; money moved {Decimal(moved) / 100} USD")

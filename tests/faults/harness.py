"""Provider traffic under faults: SIGKILLed gunicorn workers and a PostgreSQL that stops and restarts.

Used by tests/faults/test_faults.py (quick) and scripts/faults.py (long runs).
The wallet runs under real gunicorn on a PostgreSQL instance of its own (so
that restarting it disturbs nobody else). Game-server threads drive
Bet -> Result or Bet -> Refund/Cancel rounds, with a PromoWin now and then,
and behave as Lucky Monaco does: a request without an answer (connection
reset, timeout, non-200) or answered "retry" (100; 130 for EndRound) is sent
again with the same body, and every second attempt of a money
method is a retransmission under a new uuid (and now and then a transaction
that did get its answer is retransmitted under a new uuid anyway). At the end every transaction has
exactly one effect, every 0 the wallet ever sent names an entry that exists,
and every answer given while the database was down was 100.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid as uuidlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator

import requests
from sqlalchemy import create_engine, text

from wallet import pgserver
from tests.support import (
    ADMIN_TOKEN, callback_body, gunicorn_process, ledger_problems, ledger_totals, migrate, unique, worker_pids,
)

MONEY = ("Bet", "Result", "Refund", "Cancel", "PromoWin")
# The kind of ledger entry each money method writes.
KINDS = {"Bet": "bet", "Result": "win", "Refund": "refund", "Cancel": "cancel", "PromoWin": "promo"}
# What asks the provider to try again: 100, and for EndRound its own 130.
RETRY = {method: {130} if method == "EndRound" else {100} for method in (*MONEY, "EndRound")}
DEPOSIT = Decimal("100000.00")


@contextmanager
def own_postgres() -> Iterator[pgserver.Server]:
    """A PostgreSQL server of this test alone (wallet/pgserver.py), with PostgreSQL's durable
    settings: the test stops it as a crash would (`stop("immediate")`), and every commit the
    wallet answered 0 for must still be there afterwards."""
    with pgserver.throwaway(durable=True, settings={"max_connections": "100"}) as pg:
        migrate(pg.url())
        yield pg


@dataclass
class Figures:
    requests: int = 0
    no_answer: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    same_body_retransmissions: int = 0
    new_uuid_retransmissions: int = 0
    worker_kills: int = 0
    db_restarts: int = 0
    answers_while_db_down: Counter[int] = field(default_factory=Counter)
    successes: list[tuple[str, str, str]] = field(default_factory=list)  # method, reference, transactionId
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "no_answer": self.no_answer, "answers": dict(self.answers),
            "same_body_retransmissions": self.same_body_retransmissions,
            "new_uuid_retransmissions": self.new_uuid_retransmissions,
            "worker_kills": self.worker_kills, "db_restarts": self.db_restarts,
            "answers_while_db_down": dict(self.answers_while_db_down),
        }


class Provider:
    """One Lucky Monaco game server: retransmits until it has an answer other than "retry"
    (100; 130 for EndRound, its own retry code)."""

    def __init__(self, base: str, figures: Figures, deadline: float) -> None:
        self.base, self.figures, self.deadline = base, figures, deadline
        self.http = requests.Session()

    def post(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        with self.figures.lock:
            self.figures.requests += 1
        try:
            r = self.http.post(f"{self.base}/V4/{method}", data=json.dumps(body),
                               headers={"Content-Type": "application/json"}, timeout=10)
        except requests.RequestException:
            self.http = requests.Session()
            with self.figures.lock:
                self.figures.no_answer += 1
            return None
        if r.status_code != 200:
            with self.figures.lock:
                self.figures.no_answer += 1
            return None
        answer = r.json(parse_float=Decimal)
        with self.figures.lock:
            self.figures.answers[answer["error"]] += 1
            if answer["error"] == 0 and method in MONEY:
                self.figures.successes.append((method, body["reference"], answer["transactionId"]))
        return answer

    def deliver(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        attempt = 0
        while time.monotonic() < self.deadline:
            answer = self.post(method, body)
            if answer is not None and answer["error"] not in RETRY[method]:
                return answer
            attempt += 1
            if method in MONEY and attempt % 2 == 0:
                body = {**body, "uuid": uuidlib.uuid4().hex}
                with self.figures.lock:
                    self.figures.new_uuid_retransmissions += 1
            else:
                with self.figures.lock:
                    self.figures.same_body_retransmissions += 1
            time.sleep(min(0.05 * attempt, 0.5))
        raise AssertionError(f"{method} {body.get('reference')} got no final answer before the deadline")

    def deliver_twice(self, method: str, body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        """Deliver; sometimes the answer 'arrives too late' and the provider retransmits under a new uuid."""
        answer = self.deliver(method, body)
        if method in MONEY and rng.random() < 0.2:
            with self.figures.lock:
                self.figures.new_uuid_retransmissions += 1
            again = self.deliver(method, {**body, "uuid": uuidlib.uuid4().hex})
            assert (again["error"], again.get("transactionId")) == (answer["error"], answer.get("transactionId")), (
                answer, again)
        return answer


@dataclass
class Plan:
    threads: int = 4
    rounds: int = 12  # per thread, at least (they go on until the last fault)
    kills: int = 6
    db_restarts: int = 1
    workers: int = 2
    deadline_s: float = 240.0


def run(plan: Plan) -> dict[str, Any]:
    """Drive traffic under faults and check the ledger; returns the figures (raises AssertionError)."""
    with own_postgres() as pg, gunicorn_process({"WALLET_DATABASE_URL": pg.url()}, workers=plan.workers) as (base, master):
        return _run(plan, pg, base, master.pid)


def _run(plan: Plan, pg: pgserver.Server, base: str, master_pid: int) -> dict[str, Any]:
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    players = [unique("fault") for _ in range(plan.threads)]
    for p in players:
        assert admin.post(f"{base}/admin/players", json={"userId": p, "currency": "USD"}, timeout=30).status_code == 201
        assert admin.post(f"{base}/admin/players/{p}/adjustments", timeout=30,
                          json={"amount": str(DEPOSIT), "reference": unique("dep"), "reason": "deposit"}).status_code == 201
    figures = Figures()
    deadline = time.monotonic() + plan.deadline_s
    expected = {p: DEPOSIT for p in players}
    finals: dict[tuple[str, str], dict[str, Any]] = {}
    rng = random.Random(int(os.environ.get("WALLET_FAULTS_SEED", "5")))
    errors: list[BaseException] = []

    faults_done = threading.Event()

    def game_server(player: str, seed: int) -> None:
        local = random.Random(seed)
        provider = Provider(base, figures, deadline)
        try:  # at least `rounds` rounds, and on until every fault has happened (bounded)
            for n in range(plan.rounds * 50):
                if n >= plan.rounds and faults_done.is_set():
                    break
                round_id = unique("round")
                stake = Decimal(local.randint(1, 5000)).scaleb(-2)
                bet = callback_body("Bet", userId=player, reference=unique("bet"), roundId=round_id, amount=str(stake))
                answer = provider.deliver_twice("Bet", bet, local)
                assert answer["error"] == 0, answer
                finals[("Bet", bet["reference"])] = answer
                with figures.lock:
                    expected[player] -= stake
                if local.random() < 0.5:
                    win = Decimal(local.randint(0, 9000)).scaleb(-2)
                    result = callback_body("Result", userId=player, reference=unique("win"), roundId=round_id,
                                           amount=str(win))
                    answer = provider.deliver_twice("Result", result, local)
                    assert answer["error"] == 0, answer
                    finals[("Result", result["reference"])] = answer
                    with figures.lock:
                        expected[player] += win
                else:  # reversed by a Refund, or by the provider's Cancel of a Bet it lost
                    method = "Cancel" if local.random() < 0.3 else "Refund"
                    reversal = callback_body(method, userId=player, reference=bet["reference"])
                    answer = provider.deliver_twice(method, reversal, local)
                    assert answer["error"] == 0 and answer["transactionId"] != finals[("Bet", bet["reference"])][
                        "transactionId"], answer
                    finals[(method, reversal["reference"])] = answer
                    with figures.lock:
                        expected[player] += stake
                if local.random() < 0.2:  # a campaign prize now and then
                    prize = Decimal(local.randint(1, 2000)).scaleb(-2)
                    promo = callback_body("PromoWin", userId=player, amount=str(prize))
                    answer = provider.deliver_twice("PromoWin", promo, local)
                    assert answer["error"] == 0, answer
                    finals[("PromoWin", promo["reference"])] = answer
                    with figures.lock:
                        expected[player] += prize
                end = callback_body("EndRound", userId=player, roundId=round_id)
                assert provider.deliver("EndRound", end)["error"] == 0
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def db_outage() -> None:
        """Stop PostgreSQL hard; every answer meanwhile must be 100; then start it again."""
        pg.stop("immediate")
        probes = []
        try:
            probe = Provider(base, figures, time.monotonic() + 30)
            for i in range(3):
                body = callback_body("Bet", userId=players[i % len(players)], reference=unique("probe"),
                                     roundId=unique("round"), amount="1.00")
                for _ in range(20):  # a killed worker may be restarting: wait for an HTTP answer
                    answer = probe.post("Bet", body)
                    if answer is not None:
                        break
                    time.sleep(0.2)
                assert answer is not None, "no HTTP answer while the database was down"
                with figures.lock:
                    figures.answers_while_db_down[answer["error"]] += 1
                probes.append(body)
        finally:
            pg.start()
            figures.db_restarts += 1
        # The provider retransmits the probes once the database is back: each debits exactly once.
        provider = Provider(base, figures, deadline)
        for body in probes:
            answer = provider.deliver("Bet", body)
            assert answer["error"] == 0, answer
            finals[("Bet", body["reference"])] = answer
            with figures.lock:
                expected[body["userId"]] -= Decimal("1.00")

    threads = [threading.Thread(target=game_server, args=(p, rng.random()), daemon=True) for p in players]
    for t in threads:
        t.start()
    faults = ["kill"] * plan.kills + ["db"] * plan.db_restarts
    rng.shuffle(faults)
    for fault in faults:  # all of them, even if the traffic ends first (then they hit an idle wallet)
        time.sleep(rng.uniform(0.2, 0.8))
        if fault == "kill":
            pids = worker_pids(master_pid)
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                figures.worker_kills += 1
        else:
            db_outage()
    faults_done.set()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "traffic did not finish before the deadline"
    if errors:
        raise errors[0]

    # While the database was down, the wallet said 100 (retry), never anything else.
    assert figures.db_restarts == plan.db_restarts
    if plan.db_restarts:
        assert set(figures.answers_while_db_down) == {100}, figures.answers_while_db_down
    # Every 0 it ever sent names a committed entry of that reference and kind (never 0 for lost work).
    engine = create_engine(pg.url())
    with engine.connect() as conn:
        committed = {(kind, ref, str(tx_id)) for kind, ref, tx_id in
                     conn.execute(text("SELECT kind, reference, id FROM transactions"))}
        balances = dict(conn.execute(text("SELECT user_id, balance FROM players")).all())
    engine.dispose()
    lost = [s for s in figures.successes if (KINDS[s[0]], s[1], s[2]) not in committed]
    assert not lost, f"answered 0 for work that is not in the ledger: {lost[:5]}"
    # Exactly one entry per transaction (nothing lost, nothing doubled), and balances as the provider expects.
    money_entries = {(k, r) for k, r, _ in committed if k != "adjustment"}
    assert money_entries == {(KINDS[m], ref) for m, ref in finals}, "ledger entries differ from the transactions"
    assert {p: Decimal(balances[p]).scaleb(-2) for p in players} == expected
    assert ledger_problems(pg.url()) == {}
    recon = admin.get(f"{base}/admin/reconciliation", timeout=30).json()
    assert recon == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}, recon
    return {**figures.summary(), "transactions": len(finals), **ledger_totals(pg.url())}

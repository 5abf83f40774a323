"""A backup taken under traffic restores into a working wallet (docs/operations.md, "Backups").

The wallet serves Bets, Results and Refunds from a thread while `pg_dump -Fc` (the binaries the
tests run on, wallet/pgserver.py) dumps its database; the dump is restored with `pg_restore`
into a NEW server, migrated to head, reconciled, and served: a Bet the provider sent before the
dump, sent again, gets the same transactionId and changes no balance.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import make_app
from tests.support import ADMIN_TOKEN, HttpWallet, callback_body, fresh_database, gunicorn, ledger_problems, \
    migrate, unique
from wallet import pgserver


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options of a PostgreSQL program (pg_dump, pg_restore) for a SQLAlchemy URL."""
    u = make_url(url)
    host = u.query.get("host") or u.host or "127.0.0.1"
    port = u.query.get("port") or u.port or 5432
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if u.password:
        env["PGPASSWORD"] = u.password
    return ["-h", str(host), "-p", str(port), "-U", u.username or "wallet", "-d", u.database or "wallet"], env


class Traffic(threading.Thread):
    """Bets, each followed by a Result or a Refund, on a few players, until stopped."""

    def __init__(self, wallet: HttpWallet, players: list[str]) -> None:
        super().__init__(daemon=True)
        self.wallet, self.players = wallet, players
        self.stop = threading.Event()
        self.spans: list[tuple[float, float]] = []  # (start, end) of every callback answered
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                user = self.players[n % len(self.players)]
                reference, round_id = unique("tb"), unique("tr")
                self._send("Bet", userId=user, reference=reference, roundId=round_id, amount="1.00")
                if n % 3 == 2:
                    self._send("Refund", userId=user, reference=reference)
                else:
                    self._send("Result", userId=user, reference=unique("tw"), roundId=round_id, amount="0.50")
                n += 1
        except BaseException as exc:  # reported by the test
            self.failure = exc

    def _send(self, method: str, **fields: str) -> None:
        start = time.monotonic()
        answer = self.wallet.call(method, **fields)
        assert answer["error"] == 0, answer
        self.spans.append((start, time.monotonic()))


def test_a_dump_taken_under_traffic_restores_into_a_wallet_that_answers_retransmissions_alike(
        tmp_path: Path) -> None:
    source = fresh_database()
    players = [unique("bk") for _ in range(4)]
    dump = tmp_path / "wallet.dump"
    with gunicorn({"WALLET_DATABASE_URL": source}, workers=2, threads=2) as base:
        wallet = HttpWallet(base)
        for user in players:
            wallet.open_player(user, deposit="1000.00")
        before = callback_body("Bet", userId=players[0], amount="7.25", reference=unique("kept"),
                               roundId=unique("kept-round"))
        first = wallet.send("Bet", before)
        assert first["error"] == 0

        traffic = Traffic(wallet, players)
        traffic.start()
        while len(traffic.spans) < 20 and traffic.is_alive():
            time.sleep(0.01)
        args, env = libpq_args(source)
        dump_start = time.monotonic()
        subprocess.run([pgserver.bin_path("pg_dump"), "-Fc", "-f", str(dump), *args], env=env, check=True)
        dump_end = time.monotonic()
        time.sleep(0.3)
        traffic.stop.set()
        traffic.join(30)
        assert traffic.failure is None, traffic.failure
        during = [s for s in traffic.spans if s[0] < dump_end and s[1] > dump_start]
        assert during, "no callback ran while pg_dump did"

    with pgserver.throwaway() as server:
        target = server.url()
        args, env = libpq_args(target)
        subprocess.run([pgserver.bin_path("pg_restore"), "--exit-on-error", "--no-owner", *args, str(dump)],
                       env=env, check=True)
        migrate(target)  # what an operator runs after a restore: a no-op here, the dump is at head
        assert ledger_problems(target) == {}

        app = make_app(target)
        try:
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            client = app.test_client()
            report = client.get("/admin/reconciliation", headers=auth)
            assert report.status_code == 200 and report.json["ok"] is True, report.json
            balance = client.get(f"/admin/players/{players[0]}", headers=auth).json["balance"]
        finally:
            app.extensions["wallet.engine"].dispose()

        with gunicorn({"WALLET_DATABASE_URL": target}, workers=1, threads=2) as base:
            restored = HttpWallet(base)
            again = restored.send("Bet", before)
            assert (again["error"], again["transactionId"]) == (0, first["transactionId"])
            assert Decimal(str(again["cash"])) == Decimal(str(first["cash"]))
            after = restored.admin("GET", f"/players/{players[0]}").json()["balance"]
            assert Decimal(str(after)) == Decimal(str(balance))
            # And it takes new money: the restored sequences continue past every restored entry.
            fresh = restored.call("Bet", userId=players[1], amount="1.00")
            assert fresh["error"] == 0 and int(fresh["transactionId"]) > int(first["transactionId"])

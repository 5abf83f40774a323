"""`make demo`: the CancelRound story on one machine, in under a minute.

A fresh SQLite wallet under gunicorn, the sandbox Lucky Monaco beside it,
three players, a few rounds (one left open), then a CancelRound through the
admin API: the provider calls the wallet's Refund, and the ledger shows it.
Both servers are stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, migrate, wait_for_http  # noqa: E402
from wallet.provider.sandbox import Sandbox, WalletClient, open_players  # noqa: E402

DB = ROOT / "var" / "demo.sqlite3"


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def show_round(rnd: dict[str, Any]) -> None:
    print(f"round {rnd['roundId']}  player {rnd['userId']}  status {rnd['status'].upper()}")
    for e in rnd["entries"]:
        print(f"  #{e['transactionId']:>3} {e['type']:<7} {e['reference']:<24} {e['amount']:>8} "
              f"-> balance {e['balanceAfter']}")


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    for stale in DB.parent.glob(DB.name + "*"):
        stale.unlink()
    url = f"sqlite:///{DB}"
    migrate(url)
    wallet_port, provider_port = free_port(), free_port()
    wallet_url, provider_url = f"http://127.0.0.1:{wallet_port}", f"http://127.0.0.1:{provider_port}"
    token, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)  # this run only; never printed
    env = {**os.environ, "WALLET_DATABASE_URL": url, "WALLET_ADMIN_TOKEN": token, "WALLET_CALLBACK_SECRET": secret,
           "LUCKY_MONACO_API_URL": provider_url, "WALLET_BIND": f"127.0.0.1:{wallet_port}",
           "WEB_CONCURRENCY": "2", "WALLET_ACCESS_LOG": "-", "WALLET_LOG_LEVEL": "WARNING"}
    say(f"wallet (gunicorn, 2 workers, {DB.relative_to(ROOT)}) on {wallet_url}; sandbox provider on {provider_url}")
    print("logs: var/demo-wallet.log, var/demo-sandbox.log")
    procs = [
        start([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"], env,
              ROOT / "var" / "demo-wallet.log"),
        start([sys.executable, "-m", "wallet.provider.sandbox", "serve", "--port", str(provider_port),
               "--wallet-url", wallet_url, "--fail-first", "1"], env, ROOT / "var" / "demo-sandbox.log"),
    ]
    try:
        wait_for_http(wallet_url, procs[0])
        wait_for_http(provider_url, procs[1])
        admin = requests.Session()
        admin.headers["Authorization"] = f"Bearer {token}"

        def get(path: str) -> Any:
            return admin.get(f"{wallet_url}/admin{path}", timeout=10).json(parse_float=Decimal)

        users = ["alice", "bob", "carol"]
        say(f"open {', '.join(users)} with 100.00 USD each; play 3 rounds each (the 3rd stays open: no Result yet)")
        open_players(wallet_url, token, users, "USD", "100.00")
        played = Sandbox(WalletClient(wallet_url, secret)).play(users, 3, open_every=3, seed=7)
        for user in users:
            print(f"  {user:<6} balance {get(f'/players/{user}')['balance']}")
        victim = next(p for p in played if p["userId"] == "bob" and "result" not in p)

        say("bob's open round BEFORE the cancel")
        show_round(get(f"/rounds/{victim['roundId']}"))

        say(f"POST /admin/cancel-round {{\"reference\": \"{victim['betReference']}\"}}"
            "  (the sandbox answers 503 once: watch the retry)")
        started = time.monotonic()
        r = admin.post(f"{wallet_url}/admin/cancel-round", json={"reference": victim["betReference"]}, timeout=60)
        record = r.json(parse_float=Decimal)
        print(f"HTTP {r.status_code} in {time.monotonic() - started:.1f}s: cancel #{record['id']} {record['status']}"
              f" (error {record['error']}, {record['description']!r}), uuid {record['uuid']}")
        for a in record["attempts"]:
            print(f"  attempt {a['number']}: HTTP {a['httpStatus'] or '-'} {a['exception'] or a['answer']}")

        say("bob's round AFTER the cancel: the Refund callback credited the bet back")
        show_round(get(f"/rounds/{victim['roundId']}"))
        print(f"bob's balance now {get('/players/bob')['balance']}")

        r = admin.post(f"{wallet_url}/admin/cancel-round", json={"reference": victim["betReference"]}, timeout=60)
        say(f"cancel it again -> HTTP {r.status_code}: {r.json()['description']}")
        report = get("/reconciliation")
        say(f"reconciliation: {'OK' if report['ok'] else report['mismatches']}")
        print("see them all: GET /admin/cancels, or `flask --app wsgi wallet cancels`")
    finally:
        for proc in procs:
            stop(proc)


if __name__ == "__main__":
    main()

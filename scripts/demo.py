"""`make demo`: the provider integration on one machine, in under a minute.

A wallet under gunicorn on a throwaway PostgreSQL of its own (wallet/pgserver.py:
started for the demo, deleted after it), the sandbox Lucky Monaco beside it,
three players and a few rounds, then:

* a lost Bet cancelled: the provider's Cancel for a Bet whose answer it never got;
* a promo win paid with a Result;
* a CancelRound asked by staff (the sandbox answers 503 once: the retry keeps its uuid);
* a stale round swept: GetRoundStatus for each, CancelRound for the ones in
  progress, the Refund, the money back; and an Auto-Closing Result settling
  the round the provider said was completed.

All servers are stopped at the end, whatever happens.
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
from wallet import pgserver  # noqa: E402
from wallet.provider.sandbox import Sandbox, WalletClient, open_players  # noqa: E402


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def show_entries(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        print(f"  #{e['transactionId']:>3} {e['type']:<7} {e['reference']:<30} {e['amount']:>8} "
              f"-> balance {e['balanceAfter']}")


def show_round(rnd: dict[str, Any]) -> None:
    print(f"round {rnd['roundId']}  player {rnd['userId']}  status {rnd['status'].upper()}")
    show_entries(rnd["entries"])


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
    (ROOT / "var").mkdir(exist_ok=True)
    with pgserver.throwaway() as database:
        play(database.url())


def play(url: str) -> None:
    migrate(url)
    wallet_port, provider_port = free_port(), free_port()
    wallet_url, provider_url = f"http://127.0.0.1:{wallet_port}", f"http://127.0.0.1:{provider_port}"
    # This run only; never printed. The provider's token too: the wallet shows it as ***.
    token, secret, provider_token = (secrets.token_urlsafe(24) for _ in range(3))
    env = {**os.environ, "WALLET_DATABASE_URL": url, "WALLET_ADMIN_TOKEN": token, "WALLET_CALLBACK_SECRET": secret,
           "LUCKY_MONACO_API_URL": provider_url, "LUCKY_MONACO_SECURE_LOGIN": "demo-operator",
           "LUCKY_MONACO_TOKEN": provider_token, "WALLET_BIND": f"127.0.0.1:{wallet_port}",
           "WEB_CONCURRENCY": "3", "WALLET_ACCESS_LOG": "-", "WALLET_LOG_LEVEL": "WARNING"}
    say(f"wallet (gunicorn, 3 workers, a throwaway PostgreSQL) on {wallet_url}; sandbox provider on {provider_url}")
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
        story(wallet_url, provider_url, token, secret)
    finally:
        for proc in procs:
            stop(proc)


def story(wallet_url: str, provider_url: str, token: str, secret: str) -> None:
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {token}"

    def get(path: str, **params: Any) -> Any:
        return admin.get(f"{wallet_url}/admin{path}", params=params, timeout=30).json(parse_float=Decimal)

    def post(path: str, body: dict[str, Any]) -> requests.Response:
        return admin.post(f"{wallet_url}/admin{path}", json=body, timeout=60)

    sandbox = Sandbox(WalletClient(wallet_url, secret))
    users = ["alice", "bob", "carol"]
    say(f"open {', '.join(users)} with 100.00 USD each; play 3 rounds each (the 3rd stays open: no Result yet)")
    open_players(wallet_url, token, users, "USD", "100.00")
    played = sandbox.play(users, 3, open_every=3, seed=7)
    for user in users:
        print(f"  {user:<6} balance {get(f'/players/{user}')['balance']}")
    open_round = {p["userId"]: p for p in played if "result" not in p}

    say("a lost Bet: alice bets 3.00, the provider never gets the answer and sends Cancel (\"Cancel Bet\")")
    lost = sandbox.lost_bet_cancelled("alice", "sess-alice", "USD", Decimal("3.00"))
    print(f"Bet -> error {lost['bet']['error']} (the answer the provider lost); "
          f"Cancel -> error {lost['cancel']['error']}, {lost['cancel']['description']!r}")
    show_round(get(f"/rounds/{lost['roundId']}"))

    say("a promo win: carol's Result pays 0.00 for the round and 5.00 of a tournament prize (promoWinAmount)")
    promo = sandbox.play_round("carol", "sess-carol", "USD", stake=Decimal("1.00"), win=Decimal("0"),
                               promo=Decimal("5.00"))
    print(f"Result -> error {promo['result']['error']}, cash {promo['result']['cash']}")
    show_entries(get("/transactions", userId="carol", limit=3)["items"][::-1])

    victim = open_round["bob"]
    say(f"staff cancel bob's open round: POST /admin/cancel-round {{\"reference\": \"{victim['betReference']}\"}}"
        "  (the sandbox answers 503 once: watch the retry)")
    started = time.monotonic()
    r = post("/cancel-round", {"reference": victim["betReference"], "requestedBy": "demo staff"})
    record = r.json(parse_float=Decimal)
    print(f"HTTP {r.status_code} in {time.monotonic() - started:.1f}s: cancel #{record['id']} {record['status']}"
          f" (error {record['error']}, {record['description']!r}), uuid {record['uuid']}")
    for a in record["attempts"]:
        print(f"  attempt {a['number']}: {a['problem'] or 'the answer'}: {a['answer']}")
    show_round(get(f"/rounds/{victim['roundId']}"))

    say("stale rounds: open, with an unrefunded bet, no Result, no EndRound (here: older than 0 hours)")
    for item in get("/stale-rounds", olderThanHours=0)["items"]:
        print(f"  {item['roundId']}  {item['userId']:<6} {item['openBets']} bet(s), {item['openAmount']} held")
    carol_round = open_round["carol"]["roundId"]
    requests.post(f"{provider_url}/sandbox/rounds/{carol_round}", json={"roundStatus": "Completed"}, timeout=10)
    print(f"(the sandbox will say carol's {carol_round} is Completed: its Result is on the way)")

    for dry in (True, False):
        say(f"POST /admin/stale-rounds/sweep {{\"olderThanHours\": 0, \"dryRun\": {str(dry).lower()}}}")
        r = post("/stale-rounds/sweep", {"olderThanHours": 0, "dryRun": dry, "requestedBy": "demo sweeper"})
        for item in r.json()["rounds"]:
            print(f"  {item['roundId']}  {item['userId']:<6} provider says {item['providerStatus'] or '-':<11}"
                  f" -> {item['outcome']}")
    print(f"alice's balance now {get('/players/alice')['balance']} (her stake came back)")

    say("the provider's Auto-Closing Result settles carol's round (no sessionId), and nothing is stale any more")
    rnd = get(f"/rounds/{carol_round}")
    answer = sandbox.callback("Result", {"userId": "carol", "currency": "USD", "gameId": rnd["gameId"],
                                         "gameName": "tumblefortune", "roundId": carol_round,
                                         "reference": f"auto-{carol_round}", "amount": Decimal("2.00"),
                                         "timeStamp": "auto-closing", "roundDetails": "auto-closed"})
    print(f"Result -> error {answer['error']}, cash {answer['cash']}; "
          f"stale rounds left: {len(get('/stale-rounds', olderThanHours=0)['items'])}")

    report = get("/reconciliation")
    say(f"reconciliation: {'OK' if report['ok'] else report['mismatches']}")
    calls = get("/provider/calls", limit=1000)["items"]
    kinds: dict[str, int] = {}
    for call in calls:
        kinds[call["kind"]] = kinds.get(call["kind"], 0) + 1
    print(f"provider calls recorded: {kinds}; see GET /admin/provider/calls, /admin/stale-rounds/sweeps, "
          "or `flask --app wsgi wallet provider-calls`")


if __name__ == "__main__":
    main()

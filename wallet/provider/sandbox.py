"""A sandbox Lucky Monaco: the provider's side of the wire, small enough to run beside the wallet.

    python -m wallet.provider.sandbox serve --port 8100 --wallet-url http://127.0.0.1:8000
    python -m wallet.provider.sandbox play --wallet-url http://127.0.0.1:8000 --players 5 --rounds 20

`serve` accepts POST /V4/CancelRound and answers it as the real provider does:
it sends the Refund callback for that bet to the wallet and mirrors the
wallet's answer as `{error, description, reference}`. `play` drives Bet,
Result and EndRound traffic for a set of players. Callbacks are signed with
WALLET_CALLBACK_SECRET when it is set (X-Signature, as wallet.callbacks.auth
expects). Test hooks: `--fail-first N` answers the first N CancelRounds with
HTTP 503, `--delay S` waits S seconds before answering.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from flask import Flask, Response, request

from wallet.callbacks.auth import sign
from wallet.jsonutil import dumps, loads

GAMES = (("Im_60_tumblefortune", "tumblefortune"), ("Im_61_luckysevens", "luckysevens"))


class WalletClient:
    """Sends callbacks to the wallet, signed when a secret is given."""

    def __init__(self, wallet_url: str, secret: str | None = None, provider_id: str = "LuckyMonaco") -> None:
        self.wallet_url = wallet_url.rstrip("/")
        self.secret = secret
        self.provider_id = provider_id
        self.http = requests.Session()

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /V4/<method>; the wallet always answers HTTP 200 with {error, description, ...}."""
        raw = dumps({"providerId": self.provider_id, "uuid": uuidlib.uuid4().hex, **body}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Signature"] = sign(self.secret, raw)
        response = self.http.post(f"{self.wallet_url}/V4/{method}", data=raw, headers=headers, timeout=10)
        response.raise_for_status()
        answer = loads(response.content)
        assert isinstance(answer, dict)
        return answer


@dataclass
class Sandbox:
    """The fake provider's state: what it played, what it was asked, and its test hooks."""

    wallet: WalletClient
    fail_first: int = 0
    delay: float = 0.0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # bet reference -> stake, for Refund
    received: list[dict[str, Any]] = field(default_factory=list)  # every CancelRound body, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cancel_round(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one CancelRound: (HTTP status, body)."""
        with self.lock:
            self.received.append(body)
            failing = self.fail_first > 0
            self.fail_first -= failing
        if self.delay:
            time.sleep(self.delay)
        if failing:
            return 503, {"error": 100, "description": "Service unavailable (sandbox --fail-first)"}
        folded = {str(k).lower(): v for k, v in body.items()}
        reference = folded.get("reference")
        refund = {
            "userId": folded.get("userid"),
            "reference": reference,
            "roundId": folded.get("roundid"),
            "currency": folded.get("currency"),
            "gameId": folded.get("gameid"),
            "gameName": folded.get("gamename"),
            "sessionId": folded.get("sessionid"),
            "timeStamp": datetime.now(UTC).isoformat(),
        }
        if reference in self.amounts:
            refund["amount"] = self.amounts[reference]
        try:
            answer = self.wallet.call("Refund", {k: v for k, v in refund.items() if v is not None})
        except requests.RequestException as exc:
            return 200, {"error": 100, "description": f"Wallet unreachable: {type(exc).__name__}", "reference": reference}
        return 200, {"error": answer["error"], "description": answer.get("description"), "reference": reference}

    # ----------------------------------------------------------------------- rounds

    def play_round(self, user_id: str, session_id: str, currency: str, *, stake: Decimal,
                   win: Decimal | None, game: tuple[str, str] = GAMES[0], round_id: str | None = None) -> dict[str, Any]:
        """Bet, then Result and EndRound, unless `win` is None: then the round stays open (cancellable)."""
        game_id, game_name = game
        round_id = round_id or f"rnd-{uuidlib.uuid4().hex[:12]}"
        common = {"userId": user_id, "sessionId": session_id, "currency": currency,
                  "gameId": game_id, "gameName": game_name, "roundId": round_id}
        stamp = datetime.now(UTC).isoformat()
        bet_ref = f"bet-{uuidlib.uuid4().hex[:16]}"
        bet = self.wallet.call("Bet", {**common, "reference": bet_ref, "amount": stake,
                                       "timeStamp": stamp, "roundDetails": "spin"})
        played: dict[str, Any] = {"roundId": round_id, "userId": user_id, "betReference": bet_ref, "bet": bet}
        if bet["error"] != 0:
            return played
        self.amounts[bet_ref] = stake
        if win is not None:
            played["result"] = self.wallet.call("Result", {**common, "reference": f"win-{uuidlib.uuid4().hex[:16]}",
                                                           "amount": win, "timeStamp": stamp, "roundDetails": "spin"})
            played["endRound"] = self.wallet.call("EndRound", common)
        return played

    def play(self, user_ids: list[str], rounds: int, currency: str = "USD", *,
             open_every: int = 0, seed: int | None = None) -> list[dict[str, Any]]:
        """`rounds` rounds per player, mostly settled; every `open_every`-th is left open (cancellable)."""
        rng = random.Random(seed)
        sessions = {u: f"sess-{uuidlib.uuid4().hex[:12]}" for u in user_ids}
        played = []
        for n in range(1, rounds + 1):
            for user_id in user_ids:
                stake = Decimal(rng.choice(["0.50", "1.00", "2.00", "5.00"]))
                win = stake * rng.choice([0, 0, 0, 2, 3]) if not (open_every and n % open_every == 0) else None
                played.append(self.play_round(user_id, sessions[user_id], currency, stake=stake, win=win,
                                              game=rng.choice(GAMES)))
        return played


def create_app(sandbox: Sandbox) -> Flask:
    """The provider's CancelRound endpoint (path case-insensitive, like the provider's pages)."""
    app = Flask("lucky_monaco_sandbox")
    app.extensions["sandbox"] = sandbox

    @app.post("/<version>/<method>")
    def cancel_round(version: str, method: str) -> Response:
        if version.lower() != "v4" or method.lower() != "cancelround":
            return Response(dumps({"error": "not found"}), status=404, mimetype="application/json")
        try:
            body = loads(request.get_data())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Response(dumps({"error": 7, "description": "Bad parameters"}), 200, mimetype="application/json")
        status, answer = sandbox.cancel_round(body)
        return Response(dumps(answer), status=status, mimetype="application/json")

    return app


def _admin(wallet_url: str, token: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{wallet_url.rstrip('/')}/admin{path}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def open_players(wallet_url: str, admin_token: str, user_ids: list[str], currency: str, deposit: str) -> None:
    """Create the players (if new) through the wallet's admin API and fund them once."""
    for user_id in user_ids:
        _admin(wallet_url, admin_token, "/players", {"userId": user_id, "currency": currency})
        r = _admin(wallet_url, admin_token, f"/players/{user_id}/adjustments",
                   {"amount": deposit, "reference": f"sandbox-deposit-{user_id}", "reason": "sandbox deposit"})
        r.raise_for_status()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wallet.provider.sandbox", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "play"):
        p = sub.add_parser(name)
        p.add_argument("--wallet-url", default=os.environ.get("WALLET_URL", "http://127.0.0.1:8000"))
        p.add_argument("--provider-id", default=os.environ.get("LUCKY_MONACO_PROVIDER_ID", "LuckyMonaco"))
    serve = sub.choices["serve"]
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--fail-first", type=int, default=0, help="answer the first N CancelRounds with HTTP 503")
    serve.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering a CancelRound")
    play = sub.choices["play"]
    play.add_argument("--players", type=int, default=5)
    play.add_argument("--rounds", type=int, default=20)
    play.add_argument("--currency", default="USD")
    play.add_argument("--open-every", type=int, default=0, help="leave every Nth round open (no Result)")
    play.add_argument("--deposit", default="1000.00",
                      help="fund new players with this (needs WALLET_ADMIN_TOKEN to create them)")
    argv = list(argv if argv is not None else sys.argv[1:])
    if not argv or argv[0] not in sub.choices and argv[0] not in ("-h", "--help"):
        argv.insert(0, "serve")  # `python -m wallet.provider.sandbox --port 8100` serves
    args = parser.parse_args(argv)

    wallet = WalletClient(args.wallet_url, os.environ.get("WALLET_CALLBACK_SECRET") or None, args.provider_id)
    if args.command == "serve":
        sandbox = Sandbox(wallet, fail_first=args.fail_first, delay=args.delay)
        create_app(sandbox).run(host=args.host, port=args.port, threaded=True)
        return
    user_ids = [f"sandbox-player-{n}" for n in range(1, args.players + 1)]
    token = os.environ.get("WALLET_ADMIN_TOKEN")
    if token:
        open_players(args.wallet_url, token, user_ids, args.currency, args.deposit)
    started = time.monotonic()
    played = Sandbox(wallet).play(user_ids, args.rounds, args.currency, open_every=args.open_every)
    refused = sum(1 for p in played if p["bet"]["error"] != 0)
    print(dumps({"rounds": len(played), "betsRefused": refused, "seconds": round(time.monotonic() - started, 2),
                 "openRounds": [p["betReference"] for p in played if "result" not in p and p["bet"]["error"] == 0]}))


if __name__ == "__main__":
    main()

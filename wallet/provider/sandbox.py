"""A sandbox Lucky Monaco: the provider's side of the wire, small enough to run beside the wallet.

    python -m wallet.provider.sandbox serve --port 8100 --wallet-url http://127.0.0.1:8000
    python -m wallet.provider.sandbox play --wallet-url http://127.0.0.1:8000 --players 5 --rounds 20
    python -m wallet.provider.sandbox set-status --provider-url http://127.0.0.1:8100 ROUND_ID Completed

`serve` answers the operator's four calls as the real provider does, in both
styles (it tells them apart by the body: a 2025 CancelRound carries
`secureLogin` and `token` and names no bet):

* CancelRound: sends the Refund callback to the wallet and relays the
  wallet's answer: 2024, the named bet's (`{error, description, reference}`);
  2025, the whole round's, under a refund reference of its own
  (`{error, description, roundId}`). The round is then Canceled.
* GetRoundStatus: the round's status as the sandbox saw it (InProgress after
  a Bet, Completed after a Result or EndRound, Canceled after a refund),
  unless a status was scripted for it (`set-status`, `--round-status`, or
  `POST /sandbox/rounds/<roundId>` with a status or an error). A round it
  never saw (`play` runs in another process) is InProgress when served
  (`--unknown-round-status`; `none` answers an error instead).
* CloseSession, HealthCheck: `{"error": 0}` (HealthCheck answers 503 while
  `POST /sandbox/health {"up": false}` says so).

With `--secure-login` and `--token` (default: LUCKY_MONACO_SECURE_LOGIN and
LUCKY_MONACO_TOKEN), a call that carries other credentials is refused
(error 5). Test hooks: `--fail-first N` answers the first N CancelRounds with
HTTP 503, `--delay S` waits S seconds before answering a CancelRound.

`play` drives every callback of the wallet: Bet, Result (some with a promo
win, one Auto-Closing Result without sessionId), EndRound, Refund, Cancel
(the "Cancel Bet" for a Bet whose answer it pretends was lost), PromoWin,
JackpotWin, BonusWin and SessionExpired. Callbacks are signed with
WALLET_CALLBACK_SECRET when it is set (X-Signature, as wallet.callbacks.auth
expects).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from flask import Flask, Response, request

from wallet.callbacks.auth import sign
from wallet.jsonutil import dumps, loads
from wallet.provider.client import ROUND_STATUSES, SECRET_MASK

GAMES = (("Im_60_tumblefortune", "tumblefortune"), ("Im_61_luckysevens", "luckysevens"))
_STATUS = {s.lower(): s for s in ROUND_STATUSES}


def _stamp() -> str:
    return datetime.now(UTC).isoformat()


def _new(prefix: str) -> str:
    return f"{prefix}-{uuidlib.uuid4().hex[:16]}"


class WalletClient:
    """Sends callbacks to the wallet, signed when a secret is given; tells `observer` what was answered."""

    def __init__(self, wallet_url: str, secret: str | None = None, provider_id: str = "LuckyMonaco") -> None:
        self.wallet_url = wallet_url.rstrip("/")
        self.secret = secret
        self.provider_id = provider_id
        self.http = requests.Session()
        self.observer: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /V4/<method>; the wallet always answers HTTP 200 with {error, description, ...}."""
        full = {"providerId": self.provider_id, "uuid": uuidlib.uuid4().hex, **body}
        raw = dumps(full).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Signature"] = sign(self.secret, raw)
        response = self.http.post(f"{self.wallet_url}/V4/{method}", data=raw, headers=headers, timeout=10)
        response.raise_for_status()
        answer = loads(response.content)
        assert isinstance(answer, dict)
        if self.observer is not None:
            self.observer(method, full, answer)
        return answer


@dataclass
class Round:
    """What the sandbox knows of one round: whose it is, its bets, and its status at the provider."""

    user_id: str
    currency: str | None = None
    game_id: str | None = None
    bets: dict[str, Decimal] = field(default_factory=dict)  # reference -> stake
    wins: Decimal = Decimal(0)
    status: str = "InProgress"


class Sandbox:
    """The fake provider's state: the rounds it saw, what it was asked, its scripted answers and test hooks."""

    def __init__(self, wallet: WalletClient, *, fail_first: int = 0, delay: float = 0.0,
                 secure_login: str | None = None, token: str | None = None,
                 unknown_round_status: str | None = None) -> None:
        self.fail_first = fail_first
        self.delay = delay
        self.secure_login = secure_login
        self.token = token
        self.unknown_round_status = unknown_round_status
        self.up = True
        self.rounds: dict[str, Round] = {}
        self.scripted: dict[str, dict[str, Any]] = {}  # roundId -> the GetRoundStatus answer to give
        self.amounts: dict[str, Decimal] = {}  # bet reference -> stake, for the Refund's amount
        self.received: list[dict[str, Any]] = []  # every CancelRound body, in order
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every call of the operator, (method, body)
        self.closed_sessions: list[str] = []  # userIds whose session CloseSession closed
        self.lock = threading.Lock()
        self.wallet = wallet

    @property
    def wallet(self) -> WalletClient:
        return self._wallet

    @wallet.setter
    def wallet(self, client: WalletClient) -> None:
        """Every callback sent through the wallet client, however it is called, updates the rounds."""
        self._wallet = client
        client.observer = self._observe

    # ----------------------------------------------------------------------- the rounds it saw

    def _observe(self, method: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        if answer.get("error") != 0:
            return
        round_id, user_id, kind = body.get("roundId"), body.get("userId"), method.lower()
        with self.lock:
            book = self.rounds.get(round_id) if round_id else None
            if kind == "bet" and round_id:
                book = self.rounds.setdefault(round_id, Round(user_id, body.get("currency"), body.get("gameId")))
                book.bets[body["reference"]] = Decimal(str(body["amount"]))
                self.amounts[body["reference"]] = Decimal(str(body["amount"]))
            elif kind in ("result", "endround") and book is not None:
                book.wins += Decimal(str(body.get("amount") or 0))
                book.status = "Completed"
            elif kind in ("refund", "cancel") and book is not None:
                book.status = "Canceled"

    def set_round_status(self, round_id: str, answer: dict[str, Any] | None) -> None:
        """Script GetRoundStatus for a round: `{"roundStatus": ...}`, `{"error": n, "description": ...}`,
        or None to go back to what the sandbox saw."""
        with self.lock:
            if answer is None:
                self.scripted.pop(round_id, None)
            else:
                self.scripted[round_id] = dict(answer)

    # ----------------------------------------------------------------------- the operator's calls

    def _credentials_ok(self, body: dict[str, Any]) -> bool:
        folded = {str(k).lower(): v for k, v in body.items()}
        return ((self.secure_login is None or folded.get("securelogin") == self.secure_login)
                and (self.token is None or folded.get("token") == self.token))

    def _record(self, method: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((method, {k: (SECRET_MASK if k.lower() == "token" else v) for k, v in body.items()}))

    def answer(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for one call of the operator."""
        self._record(method, body)
        if method == "cancelround":
            return self.cancel_round(body)
        if not self._credentials_ok(body):
            return 200, {"error": 5, "description": "Invalid secureLogin or token"}
        if method == "getroundstatus":
            return 200, self.round_status(body)
        if method == "closesession":
            folded = {str(k).lower(): v for k, v in body.items()}
            with self.lock:
                self.closed_sessions.append(str(folded.get("userid")))
            return 200, {"error": 0, "description": "Success"}
        if method == "healthcheck":
            return (200, {"error": 0, "description": "Success"}) if self.up else \
                (503, {"error": 100, "description": "Service unavailable (sandbox health down)"})
        return 404, {"error": "not found"}

    def cancel_round(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one CancelRound, in the style of its body."""
        with self.lock:
            self.received.append(body)
            failing = self.fail_first > 0
            self.fail_first -= failing
        if self.delay:
            time.sleep(self.delay)
        folded = {str(k).lower(): v for k, v in body.items()}
        by_round = "reference" not in folded and ("token" in folded or "securelogin" in folded)
        echo = {"roundId": folded.get("roundid")} if by_round else {"reference": folded.get("reference")}
        if failing:
            return 503, {"error": 100, "description": "Service unavailable (sandbox --fail-first)", **echo}
        if by_round and not self._credentials_ok(body):
            return 200, {"error": 5, "description": "Invalid secureLogin or token", **echo}
        round_id = folded.get("roundid")
        book = self.rounds.get(round_id) if isinstance(round_id, str) else None
        refund = {
            "userId": folded.get("userid"),
            "roundId": round_id,
            "currency": folded.get("currency") or (book.currency if book else None),
            "gameId": folded.get("gameid"),
            "gameName": folded.get("gamename"),
            "sessionId": folded.get("sessionid"),
            "timeStamp": _stamp(),
        }
        if by_round:  # the whole round, under a reference of the cancel's own (its retries reuse it)
            refund["reference"] = f"cancel-round-{folded.get('uuid')}"[:128]
        else:
            refund["reference"] = folded.get("reference")
            if refund["reference"] in self.amounts:
                refund["amount"] = self.amounts[refund["reference"]]
        try:
            answer = self.wallet.call("Refund", {k: v for k, v in refund.items() if v is not None})
        except requests.RequestException as exc:
            return 200, {"error": 100, "description": f"Wallet unreachable: {type(exc).__name__}", **echo}
        if answer["error"] == 0 and book is not None:
            book.status = "Canceled"
        return 200, {"error": answer["error"], "description": answer.get("description"), **echo}

    def round_status(self, body: dict[str, Any]) -> dict[str, Any]:
        folded = {str(k).lower(): v for k, v in body.items()}
        round_id = folded.get("roundid")
        if not isinstance(round_id, str):
            return {"error": 7, "description": "Bad parameters: roundId"}
        with self.lock:
            scripted = self.scripted.get(round_id) or {}
            book = self.rounds.get(round_id)
        if scripted.get("error"):
            return {"error": scripted["error"], "description": scripted.get("description", "Scripted error"),
                    "roundId": round_id}
        status = scripted.get("roundStatus") or (book.status if book else self.unknown_round_status)
        if status is None:
            return {"error": 7, "description": "Round not found", "roundId": round_id}
        return {"error": 0, "description": "Success", "roundId": round_id,
                "betAmount": sum(book.bets.values(), Decimal(0)) if book else Decimal(0),
                "winAmount": book.wins if book else Decimal(0), "roundStatus": status,
                "currency": book.currency if book else None}

    # ----------------------------------------------------------------------- driving the wallet

    def callback(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.wallet.call(method, body)

    def play_round(self, user_id: str, session_id: str | None, currency: str, *, stake: Decimal,
                   win: Decimal | None, game: tuple[str, str] = GAMES[0], round_id: str | None = None,
                   promo: Decimal | None = None, end: bool = True) -> dict[str, Any]:
        """Bet, then Result (with a promo win when `promo`) and EndRound, unless `win` is None: then the
        round stays open (cancellable, and stale once old enough). `session_id` None on the Result
        makes it an Auto-Closing Result (the provider's, for an abandoned round)."""
        game_id, game_name = game
        round_id = round_id or _new("rnd")
        common = {"userId": user_id, "currency": currency, "gameId": game_id, "gameName": game_name,
                  "roundId": round_id}
        bet_ref = _new("bet")
        bet = self.callback("Bet", {**common, "sessionId": session_id or _new("sess"), "reference": bet_ref,
                                    "amount": stake, "timeStamp": _stamp(), "roundDetails": "spin"})
        played: dict[str, Any] = {"roundId": round_id, "userId": user_id, "betReference": bet_ref, "bet": bet}
        if bet["error"] != 0 or win is None:
            return played
        result: dict[str, Any] = {**common, "reference": _new("win"), "amount": win, "timeStamp": _stamp(),
                                  "roundDetails": "spin"}
        if session_id is not None:
            result["sessionId"] = session_id
        if promo:
            played["promoReference"] = _new("promo")
            result.update({"promoWinAmount": promo, "promoWinReference": played["promoReference"],
                           "promoCampaignID": "sandbox-campaign", "promoCampaignType": "T"})
        played["result"] = self.callback("Result", result)
        if end:
            played["endRound"] = self.callback("EndRound", {**common, **({"sessionId": session_id}
                                                                          if session_id else {})})
        return played

    def lost_bet_cancelled(self, user_id: str, session_id: str, currency: str, stake: Decimal,
                           game: tuple[str, str] = GAMES[0]) -> dict[str, Any]:
        """A Bet whose answer the sandbox pretends never came back, then the provider's Cancel ("Cancel
        Bet") for it: the wallet reverses the stake once."""
        game_id, game_name = game
        round_id, reference = _new("rnd"), _new("bet")
        common = {"userId": user_id, "sessionId": session_id, "currency": currency, "gameId": game_id,
                  "gameName": game_name, "reference": reference}
        bet = self.callback("Bet", {**common, "roundId": round_id, "amount": stake, "timeStamp": _stamp(),
                                    "roundDetails": "spin"})  # its answer is "lost"
        cancel = self.callback("Cancel", {**common, "roundId": round_id, "amount": stake})
        return {"roundId": round_id, "userId": user_id, "betReference": reference, "bet": bet, "cancel": cancel}

    def refund_bet(self, user_id: str, session_id: str, currency: str, stake: Decimal) -> dict[str, Any]:
        """A Bet, then the provider's Refund of it (a round it rolls back)."""
        played = self.play_round(user_id, session_id, currency, stake=stake, win=None)
        played["refund"] = self.callback("Refund", {"userId": user_id, "reference": played["betReference"],
                                                    "roundId": played["roundId"], "currency": currency,
                                                    "amount": stake, "sessionId": session_id})
        return played

    def prizes(self, user_id: str, session_id: str, currency: str) -> dict[str, Any]:
        """PromoWin, JackpotWin (after a round it plays), BonusWin, then SessionExpired for the session."""
        out: dict[str, Any] = {}
        common = {"userId": user_id, "currency": currency, "sessionId": session_id, "timeStamp": _stamp()}
        out["promoWin"] = self.callback("PromoWin", {**common, "reference": _new("promo"), "amount": Decimal("2.50"),
                                                     "campaignId": "sandbox-tournament", "campaignType": "T"})
        played = self.play_round(user_id, session_id, currency, stake=Decimal("1.00"), win=Decimal("0"))
        out["jackpotWin"] = self.callback("JackpotWin", {**common, "reference": _new("jackpot"),
                                                         "amount": Decimal("25.00"), "gameId": GAMES[0][0],
                                                         "roundId": played["roundId"], "jackpotId": "sandbox-jp"})
        out["bonusWin"] = self.callback("BonusWin", {**common, "reference": _new("bonus"), "amount": Decimal("4.00"),
                                                     "bonusCode": "sandbox-free-spins"})
        out["sessionExpired"] = self.callback("SessionExpired", {"userId": user_id, "sessionId": session_id})
        return out

    def play(self, user_ids: list[str], rounds: int, currency: str = "USD", *,
             open_every: int = 0, extras: bool = False, seed: int | None = None) -> list[dict[str, Any]]:
        """`rounds` rounds per player, mostly settled (some with a promo win); every `open_every`-th is
        left open (cancellable). With `extras`, each player then gets one of every other callback: an
        Auto-Closing Result, a lost Bet cancelled, a Refund, the three prizes and SessionExpired."""
        rng = random.Random(seed)
        sessions = {u: _new("sess") for u in user_ids}
        played = []
        for n in range(1, rounds + 1):
            for user_id in user_ids:
                stake = Decimal(rng.choice(["0.50", "1.00", "2.00", "5.00"]))
                win = stake * rng.choice([0, 0, 0, 2, 3]) if not (open_every and n % open_every == 0) else None
                promo = Decimal("1.00") if win is not None and rng.random() < 0.1 else None
                played.append(self.play_round(user_id, sessions[user_id], currency, stake=stake, win=win,
                                              game=rng.choice(GAMES), promo=promo))
        if extras:
            for user_id in user_ids:
                session = sessions[user_id]
                auto = self.play_round(user_id, None, currency, stake=Decimal("1.00"), win=Decimal("1.50"), end=False)
                played.append({**auto, "autoClosing": True})
                played.append(self.lost_bet_cancelled(user_id, session, currency, Decimal("3.00")))
                played.append(self.refund_bet(user_id, session, currency, Decimal("2.00")))
                played.append({"userId": user_id, **self.prizes(user_id, session, currency)})
        return played


def create_app(sandbox: Sandbox) -> Flask:
    """The provider's API (paths case-insensitive, like the provider's pages) and the sandbox's controls."""
    app = Flask("lucky_monaco_sandbox")
    app.extensions["sandbox"] = sandbox

    def _json(body: Any, status: int = 200) -> Response:
        return Response(dumps(body), status=status, mimetype="application/json")

    def _body() -> Any:
        try:
            return loads(request.get_data())
        except ValueError:
            return None

    @app.post("/<version>/<method>")
    def provider_call(version: str, method: str) -> Response:
        known = {("v4", "cancelround"), ("v4", "closesession"), ("v4", "healthcheck"), ("history", "getroundstatus")}
        if (version.lower(), method.lower()) not in known:
            return _json({"error": "not found"}, 404)
        body = _body()
        if not isinstance(body, dict):
            return _json({"error": 7, "description": "Bad parameters"})
        status, answer = sandbox.answer(method.lower(), body)
        return _json(answer, status)

    @app.post("/sandbox/rounds/<round_id>")
    def script_round(round_id: str) -> Response:
        """{"roundStatus": "Completed"} (sent as given: any case, or a status the provider's list lacks)
        or {"error": 7, "description": "..."}; {} forgets the script."""
        body = _body()
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        sandbox.set_round_status(round_id, body or None)
        return _json({"roundId": round_id, "scripted": sandbox.scripted.get(round_id)})

    @app.get("/sandbox/rounds")
    def rounds() -> Response:
        return _json({rid: {"userId": r.user_id, "status": r.status, "bets": r.bets,
                            "scripted": sandbox.scripted.get(rid)} for rid, r in sandbox.rounds.items()})

    @app.post("/sandbox/health")
    def set_health() -> Response:
        body = _body()
        sandbox.up = bool(body.get("up", True)) if isinstance(body, dict) else True
        return _json({"up": sandbox.up})

    @app.get("/sandbox/calls")
    def calls() -> Response:
        return _json([{"method": m, "body": b} for m, b in sandbox.calls])

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


def _scripted_status(text: str) -> tuple[str, str]:
    round_id, sep, status = text.partition("=")
    if not sep or status.lower() not in _STATUS:
        raise argparse.ArgumentTypeError(f"expected ROUND_ID=STATUS with STATUS one of {', '.join(ROUND_STATUSES)}")
    return round_id, _STATUS[status.lower()]


def _status(text: str) -> str:
    if text.lower() not in _STATUS:
        raise argparse.ArgumentTypeError(f"one of {', '.join(ROUND_STATUSES)}")
    return _STATUS[text.lower()]


def _status_or_none(text: str) -> str | None:
    return None if text.lower() == "none" else _status(text)


def _summary(played: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Callbacks sent per method and the codes they got, and the rounds left open."""
    answers: Counter[str] = Counter()
    for p in played:
        for key, value in p.items():
            if isinstance(value, dict) and "error" in value:
                answers[f"{key}:{value['error']}"] += 1
    open_rounds = [p["betReference"] for p in played
                   if "bet" in p and p["bet"]["error"] == 0 and not {"result", "cancel", "refund"} & set(p)]
    return {"rounds": sum(1 for p in played if "bet" in p), "answers": dict(sorted(answers.items())),
            "seconds": round(seconds, 2), "openRounds": open_rounds}


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
    serve.add_argument("--secure-login", default=os.environ.get("LUCKY_MONACO_SECURE_LOGIN"),
                       help="refuse calls with another secureLogin (default: LUCKY_MONACO_SECURE_LOGIN)")
    serve.add_argument("--token", default=os.environ.get("LUCKY_MONACO_TOKEN"),
                       help="refuse calls with another token (default: LUCKY_MONACO_TOKEN)")
    serve.add_argument("--round-status", type=_scripted_status, action="append", default=[],
                       metavar="ROUND_ID=STATUS", help="what GetRoundStatus says of a round (repeatable)")
    serve.add_argument("--unknown-round-status", type=_status_or_none, default="InProgress",
                       help="what GetRoundStatus says of a round it never saw (`play` runs in another process, "
                            "so its rounds are such rounds): default InProgress; 'none' answers an error")
    play = sub.choices["play"]
    play.add_argument("--players", type=int, default=5)
    play.add_argument("--rounds", type=int, default=20)
    play.add_argument("--currency", default="USD")
    play.add_argument("--open-every", type=int, default=0, help="leave every Nth round open (no Result)")
    play.add_argument("--no-extras", dest="extras", action="store_false",
                      help="only rounds (no Auto-Closing Result, Cancel, Refund, prizes, SessionExpired)")
    play.add_argument("--deposit", default="1000.00",
                      help="fund new players with this (needs WALLET_ADMIN_TOKEN to create them)")
    status = sub.add_parser("set-status", help="script what a running sandbox's GetRoundStatus says of a round")
    status.add_argument("--provider-url", default=os.environ.get("LUCKY_MONACO_API_URL", "http://127.0.0.1:8100"))
    status.add_argument("round_id")
    status.add_argument("status", help=f"{', '.join(ROUND_STATUSES)}, or 'clear'")
    argv = list(argv if argv is not None else sys.argv[1:])
    if not argv or argv[0] not in sub.choices and argv[0] not in ("-h", "--help"):
        argv.insert(0, "serve")  # `python -m wallet.provider.sandbox --port 8100` serves
    args = parser.parse_args(argv)

    if args.command == "set-status":
        body = {} if args.status == "clear" else {"roundStatus": _status(args.status)}
        r = requests.post(f"{args.provider_url.rstrip('/')}/sandbox/rounds/{args.round_id}", json=body, timeout=10)
        print(r.text)
        sys.exit(0 if r.ok else 1)
    wallet = WalletClient(args.wallet_url, os.environ.get("WALLET_CALLBACK_SECRET") or None, args.provider_id)
    if args.command == "serve":
        sandbox = Sandbox(wallet, fail_first=args.fail_first, delay=args.delay, secure_login=args.secure_login,
                          token=args.token, unknown_round_status=args.unknown_round_status)
        for round_id, round_status in args.round_status:
            sandbox.set_round_status(round_id, {"roundStatus": round_status})
        create_app(sandbox).run(host=args.host, port=args.port, threaded=True)
        return
    user_ids = [f"sandbox-player-{n}" for n in range(1, args.players + 1)]
    token = os.environ.get("WALLET_ADMIN_TOKEN")
    if token:
        open_players(args.wallet_url, token, user_ids, args.currency, args.deposit)
    started = time.monotonic()
    played = Sandbox(wallet).play(user_ids, args.rounds, args.currency, open_every=args.open_every,
                                  extras=args.extras)
    print(dumps(_summary(played, time.monotonic() - started)))


if __name__ == "__main__":
    main()

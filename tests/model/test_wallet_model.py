"""Model-based test: random callback sequences, every answer compared whole with a reference model.

A hypothesis state machine sends every callback of the contract (Check, Balance, Bet, Result with and
without a session and with a promo win riding on it, Refund, Cancel, EndRound, PromoWin, JackpotWin,
BonusWin, SessionExpired), with freezes, deposits and the operator's controls (player limits,
self-exclusion, reality checks, games switched off: admin API), the wallet's clock moved,
retransmissions, uuid replays and reuses, through the Flask test client to the wallet on a migrated
PostgreSQL database: the real engine and its stored functions. The model below (`Model`) is written
from the contract (docs/protocol.md sections 1 to 3 and 8, docs/responsible-gambling.md), not from
the stored functions; for every request it predicts the one answer the wallet must give, and the
test compares the whole answer with it:

* `error` and `description`: the model's own table of refusals (REFUSALS, with the exact texts)
  and, per method, the one order in which it applies them (a frozen player with too little money
  is 6, not 1; a Bet: the reference's checks, 6, round 3, expired session 3, then 8, 310, 50, 210
  and 1 last; see `_bet`, `_result`, `_reverse`, `_prize` and `_check`);
* `cash` with exactly the currency's minor-unit digits (USD, JPY and KWD players), `currency`,
  the `reference` echo of Refund and Cancel (refusals too), and no other field;
* which `transactionId` it carries: an answer that books an entry must carry an id never seen
  before, by which the model then knows that entry; a retransmission (the same reference again,
  any uuid) carries the id of the entry the first answer named: with the `cash` that entry left
  (Bet, Result, Refund, Cancel), or the player's current `cash` (PromoWin, JackpotWin, BonusWin).

What the model knows besides the six first methods:

* Cancel reverses one bet by reference, as Refund's paths 1 and 3 (never a round): a Cancel of a
  reference with no bet is recorded for 0, leaves the round it names alone, and blocks a later Bet
  with it (3). Refund and Cancel share one key per reference: the first makes the reversal, every
  later Refund or Cancel of it answers 0 with that reversal's id.
* Results without sessionId (Auto-Closing Results) are paid; Check, Balance, Bet and
  SessionExpired without one are 7 at the edge (not stored: the uuid is not used up).
* Prizes: idempotent by reference (the first id, the current cash), 7 for other content or another
  kind's reference, 10 for 0, 3 for a jackpot in a cancelled round, a round never seen recorded
  ended; BonusWin recorded for 0.00 (WALLET_BONUS_WIN=record, the default); a Result's promo win is
  an entry of its own, which a later PromoWin with its reference and amount retransmits.
* SessionExpired records the session expired (a Bet in it: 3); everything else in it goes on.
* Operator controls: a disabled game (8, Bet only), the maximum bet (310), loss and wager limits of
  the day, week and month in the operator's time zone (50; net loss = bets - wins - refunds -
  cancels, wagered = bets - refunds - cancels, prizes not counted, each entry in the period of its
  own time), self-exclusion (6 on Check and Bet), reality checks (210 per session, then the next Bet
  proceeds), Check's 50 when a period limit is used up; tightening at once, loosening (and
  removal) pending for WALLET_LIMIT_COOLING_OFF_HOURS, a repeated pending value keeping its time;
  every PUT's answer compared whole with the model's view of the limits.
* Time: the wallet's clock (wallet.clock.utcnow, patched as tests/api/test_operator_controls.py
  does) is the model's, moved by the rules (minutes to days); periods are counted by the model's
  own calendar arithmetic in WALLET_TIMEZONE (Pacific/Auckland), starting just before a new day,
  week and month begin there.

A uuid answered before gets its stored answer again byte for byte (100 and the edge's 7 are never
stored: their retry is processed afresh); the same uuid with another body or another method gets
5. Requests made to break several rules at once (`several_refusals_at_once`) check the order of
the refusals.

After every step the database is compared with the model: the entries booked by the step (none on
a refusal), field by field (time, prize fields, the bets they reverse), each balance, status and
self-exclusion, every round, session and game. Every WHOLE_STATE_EVERY steps and at the end of each
sequence, the whole state through the admin API: every entry as the ledger listing shows it, each
player, each player's limits, and a clean reconciliation (bonus wins recorded, not credited, listed
apart).

    # quick, part of `make test`: 16 sequences of up to 40 steps, 12-25 s (two busy CPUs)
    make test PYTEST_ARGS='tests/model -q -p no:cacheprovider'
    # long: 400 sequences of up to 80 steps (about 28,000 steps), 6-12 min
    WALLET_MODEL_EXAMPLES=400 WALLET_MODEL_STEPS=80 make test PYTEST_ARGS='tests/model -q -s -p no:cacheprovider'

With -s the run ends with a tally of the model's decisions it met (each refusal reason per method,
each kind of success). WALLET_MODEL_SHRINK=0 reports the first failure unshrunk (hypothesis's
shrinking can take five minutes); a failure prints the requests of the failing sequence with the
answers they got.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import sys
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
import simplejson
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy import create_engine, text

from tests.conftest import Operator, make_app
from tests.support import reset_postgres
from wallet import clock as wallet_clock  # only to move the wallet's clock, as tests/api does

EXAMPLES = int(os.environ.get("WALLET_MODEL_EXAMPLES", "16"))
STEPS = int(os.environ.get("WALLET_MODEL_STEPS", "40"))
PHASES = tuple(Phase) if os.environ.get("WALLET_MODEL_SHRINK", "1") != "0" else (
    Phase.explicit, Phase.reuse, Phase.generate)
# pytest.ini's 300 s would cut a long run, and hypothesis's shrinking (up to 300 s) of a failure short.
TIMEOUT = 420 + EXAMPLES * STEPS // 6

# ISO 4217 minor-unit digits of the currencies the test speaks (EUR: a valid code no player holds).
DIGITS = {"USD": 2, "JPY": 0, "KWD": 3, "EUR": 2}
# userId -> (currency, opening balance in minor units)
PLAYERS = {"p-usd": ("USD", 100_000), "p-jpy": ("JPY", 5_000), "p-kwd": ("KWD", 50_000)}
GHOST = "p-ghost"  # no wallet: 100 (player not found)
USERS = [*PLAYERS, GHOST]
USER_CHOICE = [*PLAYERS, *PLAYERS, *PLAYERS, GHOST]  # the ghost now and then

# The wallet's settings the model knows: the operator's calendar (WALLET_TIMEZONE: Auckland, 13
# hours ahead of UTC in October), the cooling-off period of a loosened limit, and WALLET_BONUS_WIN
# left at its default, record. The clock starts half an hour before a new day, week and month begin
# in Auckland (when UTC is in the middle of a Sunday): the first sequences' play straddles all three.
TIMEZONE = "Pacific/Auckland"
ZONE = ZoneInfo(TIMEZONE)
START = datetime(2027, 10, 31, 10, 30, tzinfo=UTC)  # 23:30 on Sunday 31 October in Auckland
COOLING_OFF_HOURS = 1
COOLING_OFF = timedelta(hours=COOLING_OFF_HOURS)
BONUS_WIN_CREDITED = False
NOW = [START]  # what the wallet's clock says (wallet.clock.utcnow is patched to read it)

GAMES = ["Im_60_tumblefortune", "Im_61_other", "Im_62_gates"]
PERIODS = ["day", "week", "month"]
LIMITS = ["maxBet", *(f"{kind}Limit.{period}" for kind in ("loss", "wager") for period in PERIODS),
          "realityCheckMinutes"]
PRIZES = {"promowin": "promo", "jackpotwin": "jackpot", "bonuswin": "bonus"}  # method -> entry kind
WIN_KINDS = {"win", "promo", "jackpot", "bonus"}  # what a Refund or Cancel calls "a result"
SESSION_REQUIRED = {"check", "balance", "bet", "sessionexpired"}

# What can make the wallet refuse a request, several at once (several_refusals_at_once), each with
# its weight in the draw: heavier for those late in the order, which the earlier ones hide. Some do
# not refuse that method (a frozen player's Result, an expired session's Refund): they must not
# change its answer either.
REVERSAL_FAULTS = {
    "another player's bet's reference": 1, "another player's refund's reference": 1,
    "another player's cancel's reference": 1, "a win's reference": 1, "a promo's reference": 1,
    "a cancel's reference": 1, "unknown player": 1, "another currency": 2, "too precise": 2,
    "another amount": 3, "another round": 3, "a settled round's bet": 3, "a settled round": 3, "frozen": 2,
    "self-excluded": 1, "an expired session": 1}
PRIZE_FAULTS = {
    "unknown player": 1, "another currency": 1, "too precise": 1, "zero": 2, "a bet's reference": 1,
    "a win's reference": 1, "a refund's reference": 1, "a cancel's reference": 1, "a promo's reference": 1,
    "a jackpot's reference": 1, "a bonus's reference": 1, "another player's promo's reference": 1,
    "another player's jackpot's reference": 1, "a cancelled round": 2, "an ended round": 1, "frozen": 1,
    "self-excluded": 1, "an expired session": 1, "a disabled game": 1}
FAULTS = {
    "bet": {"unknown player": 1, "another currency": 1, "too precise": 1, "a win's reference": 1,
            "a promo's reference": 1, "a bet's reference": 1, "another player's bet's reference": 1,
            "a refund's reference": 1, "a cancel's reference": 1, "frozen": 2, "self-excluded": 2,
            "an ended round": 1, "a cancelled round": 1, "an expired session": 2, "a disabled game": 2,
            "above the max bet": 2, "over a loss limit": 2, "over a wager limit": 2, "a limit reached exactly": 3,
            "a reality check due": 3, "more than the balance": 3},
    "result": {"unknown player": 1, "another currency": 1, "too precise": 1, "a bet's reference": 1,
               "a refund's reference": 1, "a cancel's reference": 1, "a win's reference": 1,
               "another player's win's reference": 1, "a jackpot's reference": 1, "a cancelled round": 2,
               "an ended round": 1, "frozen": 1, "self-excluded": 1, "an expired session": 1, "no session": 1,
               "a disabled game": 1, "a used promo reference": 2, "a too precise promo": 2,
               "a promo win without its reference": 1},
    "refund": REVERSAL_FAULTS,
    "cancel": REVERSAL_FAULTS,
    "promowin": PRIZE_FAULTS,
    "jackpotwin": PRIZE_FAULTS,
    "bonuswin": PRIZE_FAULTS,
    "check": {"unknown player": 1, "another currency": 1, "frozen": 1, "self-excluded": 2, "a used-up limit": 3},
}
PICKS = st.lists(st.integers(0, 100), min_size=2, max_size=3)  # which of them: two or three draws
WHOLE_STATE_EVERY = 20  # steps between two comparisons of the whole state through the admin API
METHOD_PATH = {"bet": "Bet", "result": "Result", "refund": "Refund", "cancel": "Cancel", "endround": "EndRound",
               "check": "Check", "balance": "Balance", "promowin": "PromoWin", "jackpotwin": "JackpotWin",
               "bonuswin": "BonusWin", "sessionexpired": "SessionExpired"}

# --------------------------------------------------------------------------- the model's refusals

# reason -> (code, description). The descriptions are the wallet's exact texts; {user}, {given},
# {wallet} and {digits} are the request's userId and currency, the player's currency and its digits;
# the others are given by the refusal.
REFUSALS: dict[str, tuple[int, str]] = {
    "unknown player": (100, "Player {user} not found"),
    "another currency": (2, "Currency {given} does not match the wallet's {wallet}"),
    "too precise": (10, "Invalid amount: amount has more than {digits} decimal places for {wallet}"),
    "frozen": (6, "Player is frozen"),
    "self-excluded": (6, "Player is self-excluded"),
    "insufficient balance": (1, "Insufficient balance"),
    "reference of another player": (7, "Reference belongs to another player"),
    "reference of a result": (7, "Reference already used by a result"),
    "reference of a prize": (7, "Reference already used by a prize"),
    "reference of a bet or refund": (7, "Reference already used by a bet"),
    "reference of another bet": (7, "Reference already used by a different bet"),
    "reference of another result": (7, "Reference already used by a different result"),
    "reference refunded": (3, "Reference already refunded"),
    "round cancelled": (3, "Round is cancelled"),
    "round ended": (3, "Round has ended"),
    "amount is not the bet's": (10, "Amount differs from the bet's amount"),
    "amount is not the round's bets'": (10, "Amount differs from the round's bets"),
    "reference of another round": (7, "Reference already used in another round"),
    "refund of another amount": (7, "Reference already used by a refund of another amount"),
    "bet's round settled": (3, "Round already settled; a bet with a result is not refundable"),
    "round settled": (3, "Round already settled; not refundable"),
    "uuid of another request": (5, "uuid already used for a different request"),
    # prizes, and the promo win on a Result
    "not above zero": (10, "Invalid amount: amount must be greater than zero"),
    "reference of another kind": (7, "Reference already used by another kind of entry"),
    "reference of another prize": (7, "Reference already used by a different {kind} win"),
    "promo reference used": (7, "Promo win reference already used"),
    # sessions and the operator's controls
    "session expired": (3, "Session expired"),
    "game disabled": (8, "Game is disabled"),
    "above the maximum bet": (310, "Bet above the player's maximum bet"),
    "limit reached": (50, "Bet limit reached: {limit}"),
    "reality check": (210, "Reality check: {minutes} minutes of play"),
    # the edge: refused before the stored functions, never stored
    "no session": (7, "Bad parameters: sessionId: Missing data for required field."),
    "promo win without its reference": (7, "Bad parameters: promoWinReference: required when promoWinAmount > 0"),
}
SUCCESS = "Success"
NOTHING_REFUNDED = "Success: no bet with this reference or round, nothing refunded"


OUTCOMES: Counter[str] = Counter()  # how often each decision of the model was met (printed with -s)


class _New:
    def __repr__(self) -> str:
        return "<a transactionId never seen before>"


NEW = _New()  # the transactionId of an entry this very request creates


def money(minor: int, digits: int) -> tuple[str, str]:
    """Money as the wire must write it: a JSON number with exactly `digits` decimals."""
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return ("number", f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}")


def as_written(value: Any) -> Any:
    """A money field of a parsed answer (parse_float=Decimal) as it was written, to compare with money()."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return ("number", str(value))
    return ("not a number", value)


def minor_units(wire: Any, digits: int) -> int | None:
    """The contract's amount rule for a plain decimal: None when finer than the currency's unit (10)."""
    try:
        value = Decimal(str(wire))
    except InvalidOperation:
        return None
    scaled = value.scaleb(digits)
    return int(scaled) if scaled == scaled.to_integral_value() else None


def above_zero(wire: Any) -> bool:
    """A promo win rides on a Result when its promoWinAmount is above 0 (0, null or absent: none)."""
    try:
        return wire is not None and Decimal(str(wire)) > 0
    except InvalidOperation:
        return False


# --------------------------------------------------------------------------- the reference model


@dataclass(eq=False)
class Entry:
    tx: str
    kind: str  # bet, win, refund, cancel, promo, jackpot, bonus, adjustment
    user: str
    reference: str
    amount: int  # signed minor units as booked: a bet is negative, a reversal of nothing 0, a recorded bonus 0
    balance_after: int
    round: str | None
    uuid: str | None
    session: str | None
    at: datetime  # the wallet's clock when it was written: the period it counts in
    announced: int | None = None  # a prize: the amount it announced
    campaign: str | None = None  # a promo win's campaign, and its type
    campaign_type: str | None = None
    jackpot: str | None = None
    bonus_code: str | None = None
    given_round: str | None = None  # a PromoWin's or BonusWin's roundId, kept as given, linked to no round
    reversed_by: Entry | None = None  # a bet: the refund or cancel that reversed it
    reverses: list[Entry] = field(default_factory=list)  # a refund or cancel: the bets it reversed


@dataclass
class Limit:
    """One of a player's limits: the value in force (None: no limit), and a loosening waiting for
    `pending_at` (None: nothing pending). Minor units; minutes for realityCheckMinutes."""

    value: int | None = None
    pending: int | None = None
    pending_at: datetime | None = None


@dataclass
class Player:
    currency: str
    balance: int
    frozen: bool = False
    entries: list[Entry] = field(default_factory=list)
    excluded_until: datetime | None = None
    limits: dict[str, Limit] = field(default_factory=lambda: {name: Limit() for name in LIMITS})

    @property
    def digits(self) -> int:
        return DIGITS[self.currency]


@dataclass
class Round:
    status: str = "open"  # open, ended (EndRound, a JackpotWin of a round never seen), cancelled (a refund)
    has_result: bool = False
    bets: list[Entry] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """A Result or an EndRound: its bets are no longer refundable."""
        return self.has_result or self.status == "ended"


@dataclass
class Session:
    """A player's game session: its first Bet, its last reality check (210), its expiry."""

    first_bet_at: datetime | None = None
    checked_at: datetime | None = None
    expired_at: datetime | None = None


@dataclass
class Intent:
    """What a callback asks, before it is written as a body. `amount` is the wire value; `extra`
    holds the fields of one method (campaignId, jackpotId, bonusCode, a Result's promo fields)."""

    method: str
    user: str
    currency: str | None
    reference: str | None = None
    round: str | None = None
    amount: Any = None
    session: str | None = "s-1"
    game: str = GAMES[0]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Expected:
    """The whole answer the wallet must give, and what it does to the model once given.

    `commit(tx)` applies the request's effect; `tx` is the new entry's id when the answer
    carries NEW, else None. `stored`: the answer is kept under the uuid (not 100, not the edge's)."""

    answer: dict[str, Any]
    commit: Callable[[str | None], None] | None = None
    outcome: str = ""  # what the model decided, tallied in OUTCOMES
    stored: bool = True


class Model:
    def __init__(self) -> None:
        self.now = START  # the wallet's clock
        self.players = {user: Player(currency, 0) for user, (currency, _) in PLAYERS.items()}
        self.rounds: dict[tuple[str, str], Round] = {}  # by (userId, roundId)
        self.by_reference: dict[str, dict[str, Entry]] = {}  # reference -> kind -> entry (callbacks)
        self.tx_ids: set[str] = set()
        self.sessions: dict[tuple[str, str], Session] = {}  # by (userId, sessionId)
        self.games: dict[str, bool] = {}  # gameId -> enabled, recorded by its first Bet
        # The id of the entry of `kind` under a reference, which no answer names (a Result's promo
        # win): the machine reads it from the ledger, as it learns the other ids from the answers.
        self.entry_id: Callable[[str, str], str] = lambda reference, kind: ""

    # ----------------------------------------------------------------- answers

    def reply(self, i: Intent, error: int, description: str, tx: Any = None,
              currency: str | None = None, balance: int | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"error": error, "description": description}
        if i.method in ("refund", "cancel"):
            answer["reference"] = i.reference
        if tx is not None:
            answer["transactionId"] = tx
        if currency is not None:
            assert balance is not None
            answer["currency"] = currency
            answer["cash"] = money(balance, DIGITS[currency])
        return answer

    def refuse(self, i: Intent, reason: str, p: Player | None = None, **more: Any) -> Expected:
        code, template = REFUSALS[reason]
        description = template.format(user=i.user, given=i.currency, wallet=p and p.currency,
                                      digits=p and p.digits, **more)
        detail = "".join(f" ({value})" for value in more.values())
        return Expected(self.reply(i, code, description), outcome=f"{code} {reason}{detail}")

    def again(self, i: Intent, entry: Entry, description: str = SUCCESS) -> Expected:
        """The answer of `entry` again: its id, its currency, the balance it left. Nothing moves."""
        return Expected(self.reply(i, 0, description, entry.tx, self.players[entry.user].currency,
                                   entry.balance_after), outcome=f"0 the answer of an earlier {entry.kind} again")

    def book(self, kind: str, user: str, reference: str, amount: int, round_id: str | None,
             uuid: str | None, session: str | None, tx: str, **prize: Any) -> Entry:
        p = self.players[user]
        assert tx not in self.tx_ids
        self.tx_ids.add(tx)
        p.balance += amount
        entry = Entry(tx, kind, user, reference, amount, p.balance, round_id, uuid, session, self.now, **prize)
        p.entries.append(entry)
        if kind != "adjustment":
            self.by_reference.setdefault(reference, {})[kind] = entry
        return entry

    def expect(self, i: Intent, uuid: str) -> Expected:
        edge = self.edge(i)
        if edge is not None:
            return edge
        if i.method in PRIZES:
            return self._prize(i, uuid, PRIZES[i.method])
        if i.method in ("refund", "cancel"):
            return self._reverse(i, uuid)
        return getattr(self, f"_{i.method}")(i, uuid)

    def edge(self, i: Intent) -> Expected | None:
        """A body refused before the uuid is looked at (a required field missing): 7, not stored."""
        if i.method in SESSION_REQUIRED and i.session is None:
            return replace(self.refuse(i, "no session"), stored=False)
        if i.method == "result" and above_zero(i.extra.get("promoWinAmount")) \
                and i.extra.get("promoWinReference") is None:
            return replace(self.refuse(i, "promo win without its reference"), stored=False)
        return None

    # ----------------------------------------------------------------- the operator's controls

    def excluded(self, p: Player) -> bool:
        """Self-excluded now: until the instant given, not from it."""
        return p.excluded_until is not None and p.excluded_until > self.now

    def in_force(self, p: Player, name: str) -> int | None:
        """A limit's value now: a pending loosening once its time has come."""
        limit = p.limits[name]
        if limit.pending_at is not None and limit.pending_at <= self.now:
            return limit.pending
        return limit.value

    def period_start(self, period: str) -> datetime:
        """The start of the current day, week (from Monday) or month, at 00:00 in the operator's zone."""
        local = self.now.astimezone(ZONE)
        start = datetime(local.year, local.month, 1 if period == "month" else local.day, tzinfo=ZONE)
        if period == "week":
            start = datetime.combine((local - timedelta(days=local.weekday())).date(), datetime.min.time(),
                                     tzinfo=ZONE)
        return start.astimezone(UTC)

    def played(self, p: Player, period: str) -> tuple[int, int]:
        """(net loss, wagered) of the period so far: bets - wins - refunds - cancels, and bets -
        refunds - cancels, of the entries written since the period began. Prizes and adjustments
        count in neither."""
        start = self.period_start(period)
        bets = wins = back = 0
        for e in p.entries:
            if e.at < start:
                continue
            if e.kind == "bet":
                bets -= e.amount
            elif e.kind == "win":
                wins += e.amount
            elif e.kind in ("refund", "cancel"):
                back += e.amount
        return bets - wins - back, bets - back

    def limit_refusal(self, i: Intent, p: Player, stake: int, max_bet: bool = True) -> Expected | None:
        """310 above the maximum bet; 50 when the stake would take a period's net loss or wagered
        total above its limit (day, week, month; loss before wager); None when none applies."""
        top = self.in_force(p, "maxBet")
        if max_bet and top is not None and stake > top:
            return self.refuse(i, "above the maximum bet")
        for period in PERIODS:
            loss, wagered = self.played(p, period)
            for kind, total in (("loss", loss), ("wager", wagered)):
                limit = self.in_force(p, f"{kind}Limit.{period}")
                if limit is not None and total + stake > limit:
                    return self.refuse(i, "limit reached", limit=f"{kind} limit of the {period}")
        return None

    def set_limit(self, p: Player, name: str, value: int | None) -> str:
        """Staff change one limit: tightening (lower, new, or equal) at once, dropping a pending
        loosening; loosening (higher, or removed) pending for the cooling-off period; the pending
        value asked again keeps its time. The reality-check interval changes at once either way."""
        limit = p.limits[name]
        if limit.pending_at is not None and limit.pending_at <= self.now:
            limit = p.limits[name] = Limit(limit.pending)  # its time has come: in force
        if name == "realityCheckMinutes":
            p.limits[name] = Limit(value)
            return "changed at once"
        if limit.pending_at is not None and value == limit.pending:
            return "the pending value again: its time kept"
        if limit.pending_at is None and value == limit.value:
            return "unchanged"
        if value is not None and (limit.value is None or value <= limit.value):
            p.limits[name] = Limit(value)
            return "tightened at once"
        p.limits[name] = Limit(limit.value, value, self.now + COOLING_OFF)
        return "loosened: pending"

    def exclusion(self, p: Player, until: datetime) -> str:
        """What asking a self-exclusion until `until` does: set or extended, never shortened."""
        if self.excluded(p) and until < p.excluded_until:  # type: ignore[operator]
            return "conflict"
        return "unchanged" if until == p.excluded_until else "set"

    def limits_view(self, user: str) -> dict[str, Any]:
        """The player's limits as GET and PUT /admin/players/<userId>/limits must answer them."""
        p = self.players[user]

        def shown(name: str, value: int | None) -> Any:
            return value if value is None or name == "realityCheckMinutes" else money(value, p.digits)

        return {
            "userId": user, "currency": p.currency,
            "maxBet": shown("maxBet", self.in_force(p, "maxBet")),
            **{f"{kind}Limit": {period: shown("", self.in_force(p, f"{kind}Limit.{period}")) for period in PERIODS}
               for kind in ("loss", "wager")},
            "realityCheckMinutes": self.in_force(p, "realityCheckMinutes"),
            "excludedUntil": p.excluded_until.isoformat() if p.excluded_until else None,
            "selfExcluded": self.excluded(p),
            "pending": {name: (shown(name, limit.pending), limit.pending_at.isoformat())
                        for name, limit in p.limits.items()
                        if limit.pending_at is not None and limit.pending_at > self.now},
            "timezone": TIMEZONE,
        }

    # ----------------------------------------------------------------- the callbacks, checks in order

    def _check(self, i: Intent, uuid: str) -> Expected:
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "unknown player")
        if i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        if p.frozen:
            return self.refuse(i, "frozen")
        if self.excluded(p):
            return self.refuse(i, "self-excluded")
        used_up = self.limit_refusal(i, p, 1, max_bet=False)  # the smallest stake would be refused
        if used_up is not None:
            return used_up
        return Expected(self.reply(i, 0, SUCCESS))

    def _balance(self, i: Intent, uuid: str) -> Expected:
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "unknown player")
        if i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        return Expected(self.reply(i, 0, SUCCESS, currency=p.currency, balance=p.balance))

    def _endround(self, i: Intent, uuid: str) -> Expected:
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "unknown player")
        if i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        assert i.round is not None

        def commit(_: str | None) -> None:
            rnd = self.rounds.setdefault((i.user, i.round), Round(status="ended"))  # unseen: created ended
            if rnd.status == "open":
                rnd.status = "ended"  # a cancelled round stays cancelled

        return Expected(self.reply(i, 0, SUCCESS, currency=p.currency, balance=p.balance), commit, "0 round ended")

    def _sessionexpired(self, i: Intent, uuid: str) -> Expected:
        assert i.session is not None
        if i.user not in self.players:
            return self.refuse(i, "unknown player")
        session = self.sessions.get((i.user, i.session))
        # (the currency, when given, is not compared)

        def commit(_: str | None) -> None:
            recorded = self.sessions.setdefault((i.user, i.session), Session())  # never seen: recorded
            recorded.expired_at = recorded.expired_at or self.now  # the first expiry kept

        outcome = ("0 a session never seen recorded expired" if session is None else
                   "0 expired again" if session.expired_at else "0 session expired")
        return Expected(self.reply(i, 0, SUCCESS), commit, outcome)

    def _bet(self, i: Intent, uuid: str) -> Expected:
        assert i.reference is not None and i.round is not None and i.session is not None
        held = self.by_reference.get(i.reference, {})
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "reference of another player" if held else "unknown player")
        if i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        stake = minor_units(i.amount, p.digits)
        if stake is None:
            return self.refuse(i, "too precise", p)
        if "win" in held:
            return self.refuse(i, "reference of a result")
        if held.keys() & {"promo", "jackpot", "bonus"}:
            return self.refuse(i, "reference of a prize")
        bet = held.get("bet")
        if bet is not None and (bet.user, -bet.amount, bet.round) != (i.user, stake, i.round):
            return self.refuse(i, "reference of another bet")
        if held.keys() & {"refund", "cancel"} or (bet is not None and bet.reversed_by is not None):
            return self.refuse(i, "reference refunded")
        if bet is not None:  # a retransmission: the first answer, whatever happened since
            return self.again(i, bet)
        if p.frozen:
            return self.refuse(i, "frozen")
        if self.excluded(p):
            return self.refuse(i, "self-excluded")
        rnd = self.rounds.get((i.user, i.round))
        if rnd is not None and rnd.status == "cancelled":
            return self.refuse(i, "round cancelled")
        if rnd is not None and rnd.status == "ended":
            return self.refuse(i, "round ended")
        session = self.sessions.get((i.user, i.session))
        if session is not None and session.expired_at is not None:
            return self.refuse(i, "session expired")
        if self.games.get(i.game) is False:  # a game never seen is never refused
            return self.refuse(i, "game disabled")
        beyond = self.limit_refusal(i, p, stake)
        if beyond is not None:
            return beyond
        minutes = self.in_force(p, "realityCheckMinutes")
        if minutes is not None and session is not None:  # never the session's first Bet
            anchor = session.checked_at or session.first_bet_at
            assert anchor is not None
            if self.now >= anchor + timedelta(minutes=minutes):
                def checked(_: str | None) -> None:  # the next Bet proceeds
                    session.checked_at = self.now

                return replace(self.refuse(i, "reality check", minutes=minutes), commit=checked)
        if stake > p.balance:
            return self.refuse(i, "insufficient balance")

        def commit(tx: str | None) -> None:
            assert tx is not None
            entry = self.book("bet", i.user, i.reference, -stake, i.round, uuid, i.session, tx)
            self.rounds.setdefault((i.user, i.round), Round()).bets.append(entry)
            self.sessions.setdefault((i.user, i.session), Session(first_bet_at=self.now))
            self.games.setdefault(i.game, True)

        return Expected(self.reply(i, 0, SUCCESS, NEW, p.currency, p.balance - stake), commit, "0 debited")

    def _result(self, i: Intent, uuid: str) -> Expected:
        assert i.reference is not None and i.round is not None
        held = self.by_reference.get(i.reference, {})
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "reference of another player" if held else "unknown player")
        if i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        win = minor_units(i.amount, p.digits)
        if win is None:
            return self.refuse(i, "too precise", p)
        if held.keys() & {"bet", "refund", "cancel"}:
            return self.refuse(i, "reference of a bet or refund")
        if held.keys() & {"promo", "jackpot", "bonus"}:
            return self.refuse(i, "reference of a prize")
        earlier = held.get("win")
        if earlier is not None and (earlier.user, earlier.amount, earlier.round) != (i.user, win, i.round):
            return self.refuse(i, "reference of another result")
        if earlier is not None:  # its promo fields are not compared
            return self.again(i, earlier)
        rnd = self.rounds.get((i.user, i.round))
        if rnd is not None and rnd.status == "cancelled":
            return self.refuse(i, "round cancelled")
        promo, promo_reference = 0, i.extra.get("promoWinReference")
        if above_zero(i.extra.get("promoWinAmount")):
            found = minor_units(i.extra["promoWinAmount"], p.digits)
            if found is None:
                return self.refuse(i, "too precise", p)
            if promo_reference == i.reference or promo_reference in self.by_reference:
                return self.refuse(i, "promo reference used")
            promo = found

        def commit(tx: str | None) -> None:  # paid to frozen and excluded players, after EndRound, sessionless
            assert tx is not None
            if promo:  # an entry of its own, first: the win's balance after includes it
                self.book("promo", i.user, promo_reference, promo, i.round, uuid, i.session,
                          self.entry_id(promo_reference, "promo"), announced=promo,
                          campaign=i.extra.get("promoCampaignID"), campaign_type=i.extra.get("promoCampaignType"))
            self.book("win", i.user, i.reference, win, i.round, uuid, i.session, tx)
            self.rounds.setdefault((i.user, i.round), Round()).has_result = True

        outcome = ("0 credited with a promo win" if promo else "0 credited") + (
            " (no session)" if i.session is None else "")
        return Expected(self.reply(i, 0, SUCCESS, NEW, p.currency, p.balance + promo + win), commit, outcome)

    def _reverse(self, i: Intent, uuid: str) -> Expected:
        """Refund and Cancel: one rule, one key per reference; a Cancel never reverses a round."""
        assert i.reference is not None
        kind = i.method
        held = self.by_reference.get(i.reference, {})
        bet, earlier = held.get("bet"), held.get("refund") or held.get("cancel")
        owner = earlier.user if earlier is not None else bet.user if bet is not None else None
        if owner is not None and owner != i.user:
            return self.refuse(i, "reference of another player")
        if held.keys() & WIN_KINDS:
            return self.refuse(i, "reference of a result")
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "unknown player")
        if i.currency is not None and i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        given = None
        if i.amount is not None:
            given = minor_units(i.amount, p.digits)
            if given is None:
                return self.refuse(i, "too precise", p)
        if bet is not None and given is not None and given != -bet.amount:
            return self.refuse(i, "amount is not the bet's")
        known_round = bet.round if bet is not None else earlier.round if earlier is not None else None
        if i.round is not None and known_round is not None and i.round != known_round:
            return self.refuse(i, "reference of another round")
        if earlier is not None and bet is None and earlier.reverses and given is not None and given != earlier.amount:
            return self.refuse(i, "refund of another amount")
        if earlier is not None:  # a retransmission (a Refund after a Cancel, too): the first reversal's answer
            return replace(self.again(i, earlier, SUCCESS if earlier.reverses else NOTHING_REFUNDED),
                           outcome=f"0 the answer of an earlier {earlier.kind} again")

        def reverse(bets: list[Entry], rnd: Round, round_id: str, outcome: str) -> Expected:
            total = sum(-b.amount for b in bets)

            def commit(tx: str | None) -> None:
                assert tx is not None
                reversal = self.book(kind, i.user, i.reference, total, round_id, uuid, i.session, tx)
                reversal.reverses = list(bets)
                for b in bets:
                    b.reversed_by = reversal
                rnd.status = "cancelled"

            return Expected(self.reply(i, 0, SUCCESS, NEW, p.currency, p.balance + total), commit, outcome)

        if bet is not None:  # 1: the bet with this reference
            if bet.reversed_by is not None:  # reversed by a round refund: that refund's answer
                return replace(self.again(i, bet.reversed_by), outcome="0 the round refund that reversed the bet")
            rnd = self.rounds[(bet.user, bet.round)]
            if rnd.settled:
                return self.refuse(i, "bet's round settled")
            return reverse([bet], rnd, bet.round, f"0 the bet reversed by a {kind}")
        rnd = self.rounds.get((i.user, i.round)) if i.round is not None and kind == "refund" else None
        open_bets = [b for b in rnd.bets if b.reversed_by is None] if rnd is not None else []
        if open_bets:  # 2 (Refund only): the player's round, with bets not reversed yet
            assert rnd is not None and i.round is not None
            if given is not None and given != sum(-b.amount for b in open_bets):
                return self.refuse(i, "amount is not the round's bets'")
            if rnd.settled:
                return self.refuse(i, "round settled")
            return reverse(open_bets, rnd, i.round, f"0 the round's {len(open_bets)} bets reversed")
        named = i.round if kind == "refund" else None  # a Cancel leaves the round it names alone

        def commit_nothing(tx: str | None) -> None:  # 3: recorded, nothing moves
            assert tx is not None
            self.book(kind, i.user, i.reference, 0, named, uuid, i.session, tx)
            if named is not None:
                rnd = self.rounds.setdefault((i.user, named), Round(status="cancelled"))
                if rnd.status == "open" and not rnd.has_result:
                    rnd.status = "cancelled"

        return Expected(self.reply(i, 0, NOTHING_REFUNDED, NEW, p.currency, p.balance), commit_nothing,
                        f"0 {kind} of nothing, {'a round named' if i.round else 'no round'}")

    def _prize(self, i: Intent, uuid: str, kind: str) -> Expected:
        """PromoWin, JackpotWin, BonusWin: an entry of their own kind, idempotent by reference."""
        assert i.reference is not None
        held = self.by_reference.get(i.reference, {})
        owners = {e.user for e in held.values()}
        if owners and owners != {i.user}:
            return self.refuse(i, "reference of another player")
        p = self.players.get(i.user)
        if p is None:
            return self.refuse(i, "unknown player")
        if i.currency is not None and i.currency != p.currency:
            return self.refuse(i, "another currency", p)
        amount = minor_units(i.amount, p.digits)
        if amount is None:
            return self.refuse(i, "too precise", p)
        if amount <= 0:
            return self.refuse(i, "not above zero")
        if held.keys() - {kind}:
            return self.refuse(i, "reference of another kind")
        first = held.get(kind)
        if first is not None:
            same = first.announced == amount and {
                "promo": first.campaign is None or first.campaign == i.extra.get("campaignId"),  # None: a Result's
                "jackpot": (first.round, first.jackpot) == (i.round, i.extra.get("jackpotId")),
                "bonus": first.bonus_code == i.extra.get("bonusCode"),
            }[kind]
            if not same:
                return self.refuse(i, "reference of another prize", kind=kind)
            # a retransmission: the first id, the CURRENT cash
            return Expected(self.reply(i, 0, SUCCESS, first.tx, p.currency, p.balance),
                            outcome=f"0 the first {kind} win's id, the current cash")
        rnd = self.rounds.get((i.user, i.round)) if kind == "jackpot" else None
        if rnd is not None and rnd.status == "cancelled":
            return self.refuse(i, "round cancelled")
        credit = 0 if kind == "bonus" and not BONUS_WIN_CREDITED else amount

        def commit(tx: str | None) -> None:
            assert tx is not None
            if kind == "jackpot":  # a round never seen: recorded ended (a late Bet in it gets 3)
                self.rounds.setdefault((i.user, i.round), Round(status="ended"))  # type: ignore[arg-type]
            self.book(kind, i.user, i.reference, credit, i.round if kind == "jackpot" else None, uuid, i.session,
                      tx, announced=amount, campaign=i.extra.get("campaignId"),
                      campaign_type=i.extra.get("campaignType"), jackpot=i.extra.get("jackpotId"),
                      bonus_code=i.extra.get("bonusCode"), given_round=None if kind == "jackpot" else i.round)

        outcome = "0 recorded for 0.00, not credited" if credit == 0 else "0 credited"
        if kind == "jackpot" and rnd is None:
            outcome += ", its round never seen recorded ended"
        return Expected(self.reply(i, 0, SUCCESS, NEW, p.currency, p.balance + credit), commit, outcome)

    # ----------------------------------------------------------------- the ledger as the admin API must show it

    def entry_view(self, e: Entry) -> dict[str, Any]:
        p = self.players[e.user]
        if e.kind == "bet":
            status = "refunded" if e.reversed_by else "settled" if self.rounds[(e.user, e.round)].settled else "open"
        elif e.kind in ("refund", "cancel"):
            status = "applied" if e.reverses else "unmatched"
        else:
            status = "posted"
        return {
            "transactionId": e.tx, "type": e.kind, "status": status, "reference": e.reference, "userId": e.user,
            "roundId": e.round, "amount": money(e.amount, p.digits), "balanceAfter": money(e.balance_after, p.digits),
            "currency": p.currency, "refundedBy": e.reversed_by.tx if e.reversed_by else None, "uuid": e.uuid,
            "sessionId": e.session, "campaignId": e.campaign, "campaignType": e.campaign_type, "jackpotId": e.jackpot,
            "bonusCode": e.bonus_code,
            "announcedAmount": None if e.announced is None else money(e.announced, p.digits),
            "recordedNotCredited": e.kind == "bonus" and e.amount == 0,
        }


# --------------------------------------------------------------------------- the wire


def body_of(i: Intent, uuid: str) -> str:
    """The request's JSON body, as Lucky Monaco writes it (amounts as given: number, string or int)."""
    method = i.method
    body: dict[str, Any] = {"providerId": "LuckyMonaco", "userId": i.user, "uuid": uuid}
    if i.currency is not None:
        body["currency"] = i.currency
    if i.session is not None:
        body["sessionId"] = i.session
    if method in ("bet", "result", "refund", "cancel", "endround"):
        body.update({"gameId": i.game, "gameName": "tumblefortune"})
    elif method in PRIZES:
        body["gameId"] = i.game
    if i.round is not None:
        body["roundId"] = i.round
    if i.reference is not None:
        body["reference"] = i.reference
    if i.amount is not None:
        body["amount"] = i.amount
    if method in ("bet", "result"):
        body.update({"timeStamp": "2026-11-24T10:00:00Z", "roundDetails": {"spin": 1}})
    body.update({name: value for name, value in i.extra.items() if value is not None})
    return simplejson.dumps(body, use_decimal=True)


def amount_text(minor: int, digits: int) -> str:
    return money(minor, digits)[1]


def spelled(text: str, form: str) -> Any:
    """`text` (a plain decimal) as Lucky Monaco may write it: a JSON number, a string, an integer,
    or with a trailing zero more (same value: "1.000" USD is one dollar, "10.0" JPY ten yen)."""
    if form == "string":
        return text
    if form == "int" and "." not in text:
        return int(text)
    if form == "zero":
        return text + ("0" if "." in text else ".0")
    return Decimal(text)


FORMS = ["number", "string", "int", "zero"]


def rarely(draw: Callable[..., Any], label: str) -> bool:
    """True about once in ten (the middle of a list: hypothesis draws its ends more often)."""
    return draw(st.sampled_from([False] * 5 + [True] + [False] * 4), label=label)


@st.composite
def wire_amount(draw: st.DrawFn, digits: int, most: int) -> Any:
    """An amount of up to `most` minor units (sometimes 0, sometimes up to four times more),
    sometimes with one decimal too many (10)."""
    size = draw(st.sampled_from(["usual"] * 4 + ["zero", "large"] + ["usual"] * 4))
    minor = 0 if size == "zero" else draw(st.integers(most, 4 * most) if size == "large" else st.integers(0, most))
    text = amount_text(minor, digits)
    if rarely(draw, "too precise"):
        text += "1" if digits else ".5"
    return spelled(text, draw(st.sampled_from(FORMS)))


def respell(wire: Any, form: str) -> Any:
    """The same amount written another way."""
    return spelled(str(wire), form)


def currency_of(user: str) -> str:
    return PLAYERS.get(user, ("USD", 0))[0]


def opening_of(user: str) -> int:
    return PLAYERS.get(user, ("USD", 100_000))[1]


def prize_fields(method: str, n: int = 1) -> dict[str, Any]:
    """The fields of a prize's own (campaign, jackpot, bonus code): the `n`th of each."""
    return {"promowin": {"campaignId": f"c-{n}", "campaignType": "T"},
            "jackpotwin": {"jackpotId": f"jp-{n}"},
            "bonuswin": {"bonusCode": f"fr-{n}"}}.get(method, {})


def limits_as_shown(raw: bytes) -> dict[str, Any]:
    """A limits answer of the admin API, its amounts as written (to compare with Model.limits_view)."""
    view = json.loads(raw, parse_float=Decimal)

    def amount(value: Any) -> Any:
        return None if value is None else as_written(value)

    view["maxBet"] = amount(view["maxBet"])
    for group in ("lossLimit", "wagerLimit"):
        view[group] = {period: amount(value) for period, value in view[group].items()}
    view["pending"] = {p["limit"]: (p["value"] if p["limit"] == "realityCheckMinutes" else amount(p["value"]),
                                    p["effectiveAt"]) for p in view["pending"]}
    return view


def closed_port_url() -> str:
    """A URL nobody listens at: the CloseSession a freeze or a self-exclusion sends fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@dataclass
class Sent:
    intent: Intent
    uuid: str
    body: str
    method: str
    raw: bytes
    error: int
    stored: bool  # a final answer, stored under the uuid (not 100, not the edge's 7)


class WalletMachine(RuleBasedStateMachine):
    app: Any = None
    database_url: str = ""
    engine: Any = None  # the database itself, read after every step (ledger_matches_the_model)

    def __init__(self) -> None:
        super().__init__()
        reset_postgres(self.database_url)
        NOW[0] = START
        self.client = self.app.test_client()
        self.operator = Operator(self.client)
        self.model = Model()
        self.model.entry_id = self._entry_id
        self.sent: list[Sent] = []
        self.by_uuid: dict[str, Sent] = {}
        self.counter = itertools.count(1)
        self.steps = 0
        self.last_entry = 0  # the newest entry id the database has been compared with the model up to
        self.round_ids: set[str] = set()  # every roundId sent
        self.current_session = dict.fromkeys(USERS, "s-1")  # the session the provider plays each player in
        for user, (currency, opening) in PLAYERS.items():
            r = self.operator.request("POST", "/players", json={"userId": user, "currency": currency})
            assert r.status_code == 201, r.get_data(as_text=True)
            self.deposit_to(user, opening, f"opening-{user}")

    # ----------------------------------------------------------------- transport and checks

    def post(self, method: str, body: str) -> bytes:
        r = self.client.post(f"/V4/{METHOD_PATH[method]}", data=body, content_type="application/json")
        assert r.status_code == 200, r.get_data(as_text=True)
        raw = r.get_data()
        note(f"{METHOD_PATH[method]} {body}\n    -> {raw.decode()}")
        return raw

    def submit(self, i: Intent, uuid: str | None = None, body: str | None = None) -> None:
        uuid = uuid or uuidlib.uuid4().hex
        body = body or body_of(i, uuid)
        expected = self.model.expect(i, uuid)
        OUTCOMES[f"{i.method}: {expected.outcome or expected.answer['error']}"] += 1
        raw = self.post(i.method, body)
        tx = self.judge(expected, raw)
        if expected.commit is not None:
            expected.commit(tx)
        error = expected.answer["error"]
        sent = Sent(i, uuid, body, i.method, raw, error, expected.stored and error != 100)
        self.sent.append(sent)
        self.by_uuid[uuid] = sent

    def judge(self, expected: Expected, raw: bytes) -> str | None:
        """Compare the whole answer with the model's; the id of the new entry it names, if it names one."""
        got = json.loads(raw, parse_float=Decimal)
        assert isinstance(got, dict), raw
        if "cash" in got:
            got["cash"] = as_written(got["cash"])
        want = dict(expected.answer)
        tx = got.get("transactionId")
        if want.get("transactionId") is NEW and isinstance(tx, str) and tx not in self.model.tx_ids:
            want["transactionId"] = tx  # a new id: the model now knows its entry by it
        assert got == want, f"\n  answer: {got}\n  model:  {want}"
        return tx if expected.answer.get("transactionId") is NEW else None

    def _entry_id(self, reference: str, kind: str) -> str:
        """The id of the one entry of `kind` under `reference` (a Result's promo win: no answer names it)."""
        with self.engine.connect() as conn:
            found = conn.execute(text("SELECT id::text FROM transactions WHERE reference = :reference AND kind = :kind"),
                                 {"reference": reference, "kind": kind}).scalars().all()
        assert len(found) == 1, f"{kind} entries under {reference}: {found}"
        return found[0]

    def deposit_to(self, user: str, minor: int, reference: str) -> None:
        p = self.model.players[user]
        r = self.operator.request("POST", f"/players/{user}/adjustments", json={
            "amount": amount_text(minor, p.digits), "reference": reference, "reason": "deposit"})
        assert r.status_code == 201, r.get_data(as_text=True)
        note(f"admin: deposit of {amount_text(minor, p.digits)} {p.currency} to {user}")
        self.model.book("adjustment", user, reference, minor, None, None, None, r.get_json()["transactionId"])

    def move_clock(self, delta: timedelta) -> None:
        self.model.now += delta
        NOW[0] = self.model.now
        note(f"clock: {self.model.now.isoformat()} ({self.model.now.astimezone(ZONE):%a %d %b %H:%M} in {TIMEZONE})")

    def put_limits(self, user: str, changes: dict[str, int | None], until: datetime | None = None) -> None:
        """Staff change a player's limits (API names -> minor units, minutes or None to remove) and
        perhaps set or extend a self-exclusion: the answer must be the model's view after it, or
        409 (nothing changed) for an exclusion that would be shortened."""
        p = self.model.players[user]
        body: dict[str, Any] = {"reason": "model-based test"}
        for name, value in changes.items():
            wire = value if value is None or name == "realityCheckMinutes" else amount_text(value, p.digits)
            if "." in name:
                group, period = name.split(".")
                body.setdefault(group, {})[period] = wire
            else:
                body[name] = wire
        if until is not None:
            body["excludedUntil"] = until.isoformat()
        r = self.operator.request("PUT", f"/players/{user}/limits", json=body)
        note(f"admin: PUT limits of {user} {json.dumps(body)} -> {r.status_code}")
        exclusion = self.model.exclusion(p, until) if until is not None else None
        if exclusion == "conflict":  # never shortened: nothing changes, the other fields neither
            assert r.status_code == 409, r.get_data(as_text=True)
            OUTCOMES["admin: 409 a self-exclusion shortened"] += 1
            return
        assert r.status_code == 200, r.get_data(as_text=True)
        if exclusion is not None:
            OUTCOMES[f"admin: self-exclusion {exclusion}"] += 1
            if exclusion == "set":
                p.excluded_until = until
        for name, value in changes.items():
            OUTCOMES[f"admin: limit {self.model.set_limit(p, name, value)}"] += 1
        assert limits_as_shown(r.get_data()) == self.model.limits_view(user)

    def set_game(self, game: str, enabled: bool) -> None:
        """Staff switch a game off or on: 404 for a game no Bet has named."""
        r = self.operator.request("PATCH", f"/games/{game}", json={"enabled": enabled, "reason": "model-based test"})
        note(f"admin: game {game} {'enabled' if enabled else 'disabled'} -> {r.status_code}")
        if game not in self.model.games:
            assert r.status_code == 404, r.get_data(as_text=True)
            OUTCOMES["admin: 404 a game never seen"] += 1
            return
        assert r.status_code == 200, r.get_data(as_text=True)
        shown = r.get_json()
        assert (shown["gameId"], shown["gameName"], shown["enabled"]) == (game, "tumblefortune", enabled), shown
        OUTCOMES[f"admin: game {'enabled' if enabled else 'disabled'}"] += 1
        self.model.games[game] = enabled

    # ----------------------------------------------------------------- rules

    @initialize(data=st.data())
    def controls_at_the_start(self, data: st.DataObject) -> None:
        """Most sequences start with some of the operator's controls in force: a maximum bet, a loss
        or wager limit, a reality check."""
        for user in PLAYERS:
            opening, changes = opening_of(user), dict[str, int | None]()
            if data.draw(st.booleans(), label=f"a maximum bet for {user}"):
                changes["maxBet"] = opening * data.draw(st.sampled_from([5, 10, 20]), label="% of opening") // 100
            if data.draw(st.booleans(), label=f"a loss or wager limit for {user}"):
                name = data.draw(st.sampled_from(LIMITS[1:-1]), label="limit")
                changes[name] = opening * data.draw(st.sampled_from([10, 30, 60, 500]), label="% of opening") // 100
            if data.draw(st.booleans(), label=f"a reality check for {user}"):
                changes["realityCheckMinutes"] = data.draw(st.sampled_from([1, 5, 30]), label="minutes")
            if changes:
                self.put_limits(user, changes)

    def _currency(self, data: st.DataObject, user: str) -> str:
        own = currency_of(user)
        # (own currency at both ends: hypothesis draws the ends of a list more often)
        return data.draw(st.sampled_from([own] * 10 + sorted(DIGITS) + [own] * 10), label="currency")

    def _amount(self, data: st.DataObject, user: str, share: int) -> Any:
        return data.draw(wire_amount(DIGITS[currency_of(user)], opening_of(user) * share // 100), label="amount")

    def _used_references(self) -> list[str]:
        """Every reference that holds an entry: the callbacks', and the staff adjustments', which
        callbacks do not see (docs/protocol.md 1.7): the model ignores them, the wallet must too."""
        adjustments = {e.reference for p in self.model.players.values() for e in p.entries if e.kind == "adjustment"}
        return sorted(self.model.by_reference) + sorted(adjustments)

    def _reference(self, data: st.DataObject) -> str:
        """Mostly a new reference; now and then one that already holds an entry (of any player or kind)."""
        held = self._used_references()
        if held and data.draw(st.sampled_from([False, False, False, True, False, False]), label="reuse a reference"):
            return data.draw(st.sampled_from(held), label="reference")
        return f"r{next(self.counter)}"

    def _round(self, data: st.DataObject, user: str) -> str:
        """Mostly one of the player's open rounds; sometimes another of the player's rounds (ended,
        cancelled), a new round, or any round id used before (by any player: the same id names
        another round for another player)."""
        which = data.draw(st.sampled_from(["open", "new", "open", "player's", "any", "open"]), label="which round")
        rounds = {
            "open": [r for (u, r), rnd in self.model.rounds.items() if u == user and rnd.status == "open"],
            "player's": [r for (u, r) in self.model.rounds if u == user],
            "any": list(self.round_ids),
            "new": [],
        }[which]
        if rounds:
            return data.draw(st.sampled_from(sorted(rounds)), label="round")
        return self._new_round()

    def _session(self, data: st.DataObject, user: str, absent: int = 0) -> str | None:
        """Mostly the session the provider plays the player in; sometimes an older one (expired,
        perhaps) or one never seen; none `absent` times in ten."""
        which = data.draw(st.sampled_from(["current"] * (8 - absent) + ["older", "new"] + ["none"] * absent),
                          label="session")
        if which == "none":
            return None
        older = sorted({s for (u, s) in self.model.sessions if u == user} - {self.current_session[user]})
        if which == "older" and older:
            return data.draw(st.sampled_from(older), label="older session")
        return f"s-{next(self.counter)}" if which == "new" else self.current_session[user]

    def _game(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from([GAMES[0], *GAMES, GAMES[0]]), label="game")

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE), spins=st.integers(1, 4))
    def bet(self, data: st.DataObject, user: str, spins: int) -> None:
        """One to four Bets of a player in one round, each a transaction of its own."""
        round_id, game = self._round(data, user), self._game(data)
        session = self._session(data, user, absent=1 if rarely(data.draw, "no session") else 0)
        for _ in range(spins):
            amount = self._amount(data, user, 30)
            if user in PLAYERS and rarely(data.draw, "beyond the balance"):  # 1, unless refused earlier
                amount = amount_text(self.model.players[user].balance + 1, DIGITS[currency_of(user)])
            self.submit(Intent("bet", user, self._currency(data, user), self._reference(data), round_id, amount,
                               session, game))

    @rule(data=st.data(), user=st.sampled_from(list(PLAYERS)), spins=st.integers(1, 3),
          end=st.sampled_from(["Result", "Result and EndRound", "nothing"]))
    def play_a_round(self, data: st.DataObject, user: str, spins: int, end: str) -> None:
        """A player plays a round as the provider sends it: a Check, small Bets in a new round of the
        current session (a minute passing now and then), then its Result (a loss or a win, now and
        then with a promo win) and perhaps EndRound."""
        round_id, game, session = self._new_round(), self._game(data), self.current_session[user]
        digits, opening = DIGITS[currency_of(user)], opening_of(user)
        self.submit(Intent("check", user, currency_of(user), session=session))  # the game opens
        for _ in range(spins):
            stake = data.draw(st.integers(0, opening // 20), label="stake")
            self.submit(Intent("bet", user, currency_of(user), f"r{next(self.counter)}", round_id,
                               amount_text(stake, digits), session, game))
            if data.draw(st.sampled_from([False, True, False]), label="a minute passes"):
                self.move_clock(timedelta(minutes=1))
        if end == "nothing":
            return
        win = data.draw(st.sampled_from([0, 0, opening // 50, opening // 10]), label="win")
        i = Intent("result", user, currency_of(user), f"r{next(self.counter)}", round_id,
                   amount_text(win, digits), session, game)
        if rarely(data.draw, "a promo win"):
            i.extra = self._promo_win(data, user, i.reference)
        self.submit(i)
        if end == "Result and EndRound":
            self.submit(Intent("endround", user, currency_of(user), None, round_id, session=session))

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE), promo=st.sampled_from([False, True, False]))
    def result(self, data: st.DataObject, user: str, promo: bool) -> None:
        """A Result, often an Auto-Closing one (no session), now and then with a promo win on it."""
        i = Intent("result", user, self._currency(data, user), self._reference(data), self._round(data, user),
                   self._amount(data, user, 20), self._session(data, user, absent=3), self._game(data))
        if promo:
            i.extra = self._promo_win(data, user, i.reference)
        self.submit(i)

    def _promo_win(self, data: st.DataObject, user: str, own: str | None) -> dict[str, Any]:
        """A Result's promo fields: mostly a win above 0 under a reference of its own; sometimes 0
        (none), too precise (10), or under a reference already used (7): the Result's own, or any."""
        digits = DIGITS[currency_of(user)]
        minor = data.draw(st.sampled_from([1 + opening_of(user) // 100, 0, opening_of(user) // 10]), label="promo")
        wire = amount_text(minor, digits) + ("1" if digits else ".5") * rarely(data.draw, "promo too precise")
        which = data.draw(st.sampled_from(["new"] * 4 + ["the result's own", "used"]), label="promo reference")
        held = self._used_references()
        reference = own if which == "the result's own" else (
            data.draw(st.sampled_from(held), label="a used reference") if which == "used" and held
            else f"r{next(self.counter)}")
        campaign = data.draw(st.sampled_from([None, "c-1", "c-2"]), label="promo campaign")
        return {"promoWinAmount": spelled(wire, data.draw(st.sampled_from(FORMS), label="form")),
                "promoWinReference": reference, "promoCampaignID": campaign,
                "promoCampaignType": None if campaign is None else "T"}

    @precondition(lambda self: any("bet" in held for held in self.model.by_reference.values()))
    @rule(data=st.data(), method=st.sampled_from(["refund", "cancel"]),
          which=st.sampled_from(["a refundable bet", "a refundable bet", "a reversed reference", "any bet"]))
    def reversal_by_reference(self, data: st.DataObject, method: str, which: str) -> None:
        """A Refund or Cancel of a bet's reference (mostly one still refundable; sometimes one a
        Refund or Cancel has reversed already, or that holds a reversal alone): mostly as the provider
        sends it, sometimes with another player, amount, currency or round than the bet's."""
        held = self.model.by_reference

        def refundable(h: dict[str, Entry]) -> bool:
            return "bet" in h and h["bet"].reversed_by is None and not self.model.rounds[
                (h["bet"].user, h["bet"].round)].settled  # type: ignore[index]

        references = {
            "a refundable bet": [r for r, h in held.items() if refundable(h)],
            "a reversed reference": [r for r, h in held.items() if h.keys() & {"refund", "cancel"}
                                     or ("bet" in h and h["bet"].reversed_by is not None)],
            "any bet": [],
        }[which] or [r for r, h in held.items() if "bet" in h]
        reference = data.draw(st.sampled_from(sorted(references)), label="reference")
        bet = held[reference].get("bet")
        first = bet or held[reference].get("refund") or held[reference]["cancel"]
        faithful = data.draw(st.sampled_from([True, True, False]), label="as the provider sends it")
        user = first.user if faithful else data.draw(st.sampled_from([first.user] + USERS), label="user")
        digits = DIGITS[currency_of(user)]
        amount = data.draw(st.sampled_from([None, "stake"] if faithful else [None, "stake", "other", "too precise"]),
                           label="amount")
        wire = None
        if amount is not None:
            text = amount_text((-bet.amount if bet else first.amount) + (amount == "other"), digits)
            if amount == "too precise":
                text += "1" if digits else ".5"
            wire = spelled(text, data.draw(st.sampled_from(FORMS), label="form"))
        currency = data.draw(st.sampled_from([None, currency_of(user)] + ["EUR"] * (not faithful)), label="currency")
        round_id = data.draw(st.sampled_from([None, first.round] + ["another"] * (not faithful)), label="round")
        if round_id == "another":
            round_id = self._round(data, user)
        session = data.draw(st.sampled_from([None, self.current_session[user], "s-new"]), label="session")
        self.submit(Intent(method, user, currency, reference, round_id, wire, session))

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE),
          kind=st.sampled_from(["round", "round", "nothing", "nothing in a round"]),
          method=st.sampled_from(["refund", "cancel"]))
    def reversal_by_round(self, data: st.DataObject, user: str, kind: str, method: str) -> None:
        """A Refund of a player's round under a reference of its own (or, now and then, a used one),
        mostly a round with bets not reversed yet; or a Refund or Cancel of a reference nobody used,
        naming a round or none. (A Cancel of a round's bets reverses nothing: Cancel names one bet.)"""
        if kind != "round":
            self.submit(Intent(method, user, None, f"r{next(self.counter)}",
                               self._round(data, user) if kind == "nothing in a round" else None, None, None))
            return
        digits = DIGITS[currency_of(user)]
        open_rounds = sorted(round_id for (owner, round_id), rnd in self.model.rounds.items()
                             if owner == user and any(b.reversed_by is None for b in rnd.bets))
        if open_rounds and not data.draw(st.sampled_from([False, True, False]), label="another round"):
            round_id = data.draw(st.sampled_from(open_rounds), label="round")
        else:
            round_id = self._round(data, user)
        rnd = self.model.rounds.get((user, round_id))
        total = sum(-b.amount for b in rnd.bets if b.reversed_by is None) if rnd else 0
        amount = data.draw(st.sampled_from([None, None, "total", "other"]), label="amount")
        wire = None if amount is None else amount_text(total + (amount == "other"), digits)
        currency = data.draw(st.sampled_from([None, currency_of(user)]), label="currency")
        if not rarely(data.draw, "a Cancel of a round"):
            method = "refund"
        self.submit(Intent(method, user, currency, self._reference(data), round_id, wire, None))

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE))
    def end_round(self, data: st.DataObject, user: str) -> None:
        self.submit(Intent("endround", user, self._currency(data, user), None, self._round(data, user),
                           session=self._session(data, user, absent=5)))

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE),
          method=st.sampled_from([*sorted(PRIZES), "a promo win again"]))
    def prize(self, data: st.DataObject, user: str, method: str) -> None:
        """A PromoWin, JackpotWin or BonusWin: mostly a new reference and an amount above 0; or a
        PromoWin of a promo win already booked (promo_win_again)."""
        if method == "a promo win again":
            if any("promo" in held for held in self.model.by_reference.values()):
                self.promo_win_again(data)
            return
        currency = self._currency(data, user)
        if method != "promowin" and data.draw(st.booleans(), label="no currency"):
            currency = None  # optional on JackpotWin and BonusWin
        if method == "jackpotwin":
            round_id: str | None = self._round(data, user)
        else:  # stored as given, never checked
            round_id = data.draw(st.sampled_from([None, None, "g-any"]), label="roundId")
        extra = prize_fields(method, data.draw(st.integers(1, 2), label="campaign, jackpot or bonus code"))
        self.submit(Intent(method, user, currency, self._reference(data), round_id, self._amount(data, user, 20),
                           self._session(data, user, absent=4), self._game(data), extra))

    def promo_win_again(self, data: st.DataObject) -> None:
        """A PromoWin with the reference of a promo win already booked, from a PromoWin or from a
        Result: a retransmission with the same amount (and campaign, if the first named one), 7 else."""
        change = data.draw(st.sampled_from(["nothing", "nothing", "campaign", "amount", "user"]), label="change")
        reference = data.draw(st.sampled_from(sorted(r for r, held in self.model.by_reference.items()
                                                     if "promo" in held)), label="promo reference")
        first = self.model.by_reference[reference]["promo"]
        assert first.announced is not None
        user = first.user if change != "user" else data.draw(
            st.sampled_from([u for u in USERS if u != first.user]), label="user")
        campaign = first.campaign or data.draw(st.sampled_from(["c-1", "c-2"]), label="campaign")
        if change == "campaign":
            campaign = "c-9"
        minor = first.announced + (change == "amount")
        self.submit(Intent("promowin", user, currency_of(user), reference, None,
                           spelled(amount_text(minor, DIGITS[currency_of(user)]), "string"),
                           self._session(data, user, absent=5), extra={"campaignId": campaign, "campaignType": "T"}))

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE),
          which=st.sampled_from(["current", "current", "older", "never seen", "none"]))
    def session_expired(self, data: st.DataObject, user: str, which: str) -> None:
        """The provider closes a session: mostly the one it plays the player in, which it then
        replaces with a new one; sometimes an older one, one never seen, or none (7)."""
        session: str | None = self.current_session[user]
        if which == "older":
            session = self._session(data, user)
        elif which == "never seen":
            session = f"s-{next(self.counter)}"
        elif which == "none":
            session = None
        currency = data.draw(st.sampled_from([None, currency_of(user), "EUR"]), label="currency")  # not compared
        self.submit(Intent("sessionexpired", user, currency, session=session))
        if session == self.current_session[user] and (user, session) in self.model.sessions:
            self.current_session[user] = f"s-{next(self.counter)}"

    @rule(data=st.data(), user=st.sampled_from(list(PLAYERS)),
          what=st.sampled_from(["freeze", "unfreeze", "deposit", "maxBet", "lossLimit", "wagerLimit",
                                "realityCheckMinutes", "removal", "the pending value again", "self-exclusion",
                                "game", "game"]))
    def operator(self, data: st.DataObject, user: str, what: str) -> None:
        """Staff freeze or unfreeze a player, book a deposit, set, tighten, loosen or remove a
        player's limits, self-exclude a player, or switch a game off or on (admin API)."""
        if what == "deposit":
            share = data.draw(st.integers(1, 30), label="% of opening")
            self.deposit_to(user, opening_of(user) * share // 100, f"deposit-{next(self.counter)}")
            return
        if what in ("freeze", "unfreeze"):
            self._set_status(user, frozen=what == "freeze")
            return
        if what == "game":
            self.set_game(data.draw(st.sampled_from(GAMES), label="game"), data.draw(st.booleans(), label="on"))
            return
        if what == "self-exclusion":
            minutes = data.draw(st.sampled_from([5, 30, 120, 1500]), label="minutes")
            self.put_limits(user, {}, self.model.now + timedelta(minutes=minutes))
            return
        p = self.model.players[user]

        def amount() -> int:
            return opening_of(user) * data.draw(st.sampled_from([0, 2, 10, 25, 50, 100, 500]),
                                                label="% of opening") // 100

        changes: dict[str, int | None] = {}
        if what == "maxBet":
            changes["maxBet"] = amount()
        elif what in ("lossLimit", "wagerLimit"):
            for period in data.draw(st.lists(st.sampled_from(PERIODS), min_size=1, max_size=3, unique=True),
                                    label="periods"):
                changes[f"{what}.{period}"] = amount()
        elif what == "realityCheckMinutes":
            changes[what] = data.draw(st.sampled_from([None, 1, 5, 30, 120]), label="minutes")
        elif what == "removal":
            for name in data.draw(st.lists(st.sampled_from(LIMITS), min_size=1, max_size=3, unique=True),
                                  label="limits"):
                changes[name] = None
        else:  # a loosening pending (made now if there is none), asked again a little later
            pending = sorted(name for name, limit in p.limits.items()
                             if limit.pending_at is not None and limit.pending_at > self.model.now)
            if not pending:
                held = sorted(name for name in LIMITS[:-1] if self.model.in_force(p, name) is not None)
                if not held:
                    return
                pending = [data.draw(st.sampled_from(held), label="a limit to loosen")]
                self.put_limits(user, {pending[0]: None})
            name = data.draw(st.sampled_from(pending), label="pending limit")
            changes[name] = p.limits[name].pending
            if p.limits[name].pending_at - self.model.now > timedelta(minutes=5):  # type: ignore[operator]
                self.move_clock(timedelta(minutes=5))  # asked again a little later: the time is kept
        self.put_limits(user, changes)

    @rule(data=st.data(), user=st.sampled_from(list(PLAYERS)), kind=st.sampled_from(["loss", "wager"]),
          period=st.sampled_from(PERIODS))
    def bet_up_to_a_limit(self, data: st.DataObject, user: str, kind: str, period: str) -> None:
        """Staff set a loss or wager limit of a period to what the model says the period has lost or
        wagered so far plus a stake: a Bet of that stake reaches it exactly (allowed), the next of
        one minor unit is beyond it (50), and Check then says it is used up. (Unless something else
        refuses them first: another limit, a loosening still pending, an exclusion ...) The limit is
        removed after (a loosening: pending for the cooling-off period)."""
        p = self.model.players[user]
        total = self.model.played(p, period)[kind == "wager"]
        stake = max(-total, data.draw(st.integers(0, opening_of(user) // 50), label="stake"))
        name, round_id, session = f"{kind}Limit.{period}", self._new_round(), self.current_session[user]
        self.put_limits(user, {name: total + stake})
        for minor in (stake, 1):
            self.submit(Intent("bet", user, p.currency, f"r{next(self.counter)}", round_id,
                               amount_text(minor, p.digits), session))
        self.submit(Intent("check", user, p.currency, session=session))
        self.put_limits(user, {name: None})

    @rule(minutes=st.sampled_from([1, 1, 5, 30, 61, 240, 1440, 4400]))
    def time_passes(self, minutes: int) -> None:
        """The wallet's clock moves: reality checks fall due, exclusions and cooling-off periods end,
        days, weeks and months (in the operator's time zone) begin."""
        self.move_clock(timedelta(minutes=minutes))

    def _pick(self, data: st.DataObject, label: str, options: Any) -> Any:
        """One of `options` (sorted, so that a sequence replays), or None when there is none."""
        options = sorted(options)
        return data.draw(st.sampled_from(options), label=label) if options else None

    def _new_round(self) -> str:
        round_id = f"g{next(self.counter)}"
        self.round_ids.add(round_id)
        return round_id

    def _small(self, user: str) -> str:
        return amount_text(1 + opening_of(user) // 100, DIGITS[currency_of(user)])

    def _held(self, data: st.DataObject, user: str, kind: str, owner: str) -> str:
        """A reference holding an entry of `kind` (bet, win, refund, cancel, promo, jackpot, bonus)
        of `owner` ("the player" or "another player"): one the state has, or one made now by a
        request of its own (which may be refused: a Bet beyond a limit; then it holds nothing)."""
        def ours(e: Entry) -> bool:
            return (e.user == user) == (owner == "the player")

        reference = self._pick(data, f"a {kind}'s reference", [
            r for r, held in self.model.by_reference.items() if kind in held and ours(held[kind])])
        if reference is None:
            someone = user if owner == "the player" else next(u for u in PLAYERS if u != user)
            reference = f"r{next(self.counter)}"
            method = {"bet": "bet", "win": "result", "promo": "promowin", "jackpot": "jackpotwin",
                      "bonus": "bonuswin"}.get(kind, kind)
            if method in ("refund", "cancel"):
                self.submit(Intent(method, someone, None, reference, None, None, None))
            else:
                self.submit(Intent(method, someone, currency_of(someone), reference, self._new_round(),
                                   self._small(someone), self.current_session[someone], extra=prize_fields(method)))
        return reference

    def _closed_round(self, data: st.DataObject, user: str, status: str) -> str:
        """One of the player's rounds with `status` ("ended" or "cancelled"): the state's, or made now."""
        round_id = self._pick(data, f"an {status} round", [
            r for (u, r), rnd in self.model.rounds.items() if u == user and rnd.status == status])
        if round_id is None:
            round_id = self._new_round()
            self.submit(Intent("endround", user, currency_of(user), None, round_id) if status == "ended" else
                        Intent("refund", user, None, f"r{next(self.counter)}", round_id, None, None))
        return round_id

    def _settled_bet(self, data: st.DataObject, user: str) -> str | None:
        """A bet of the player, not reversed, whose round has a Result or has ended: the state's, or
        made now (None when there is none and the player cannot bet now)."""
        held = self.model.by_reference
        reference = self._pick(data, "a settled bet", [
            r for r, h in held.items() if "bet" in h and h["bet"].user == user and h["bet"].reversed_by is None
            and self.model.rounds[(user, h["bet"].round)].settled])
        if reference is None and self.model.players[user].balance > 0 and not self.model.players[user].frozen:
            reference, round_id = f"r{next(self.counter)}", self._new_round()
            self.submit(Intent("bet", user, currency_of(user), reference, round_id, amount_text(0, 0),
                               self.current_session[user]))
            self.submit(Intent("endround", user, currency_of(user), None, round_id))
            if "bet" not in held.get(reference, {}):
                return None  # refused (a limit, an exclusion, a game switched off ...)
        return reference

    @rule(data=st.data(), user=st.sampled_from(list(PLAYERS)), picks=PICKS)
    def bet_refused_several_times_over(self, data: st.DataObject, user: str, picks: list[int]) -> None:
        self.several_refusals_at_once(data, user, "bet", picks)

    @rule(data=st.data(), user=st.sampled_from(list(PLAYERS)), picks=PICKS,
          method=st.sampled_from(["result", "result", "refund", "cancel", *sorted(PRIZES), "check"]))
    def other_request_refused_several_times_over(self, data: st.DataObject, user: str, picks: list[int],
                                                 method: str) -> None:
        self.several_refusals_at_once(data, user, method, picks)

    def several_refusals_at_once(self, data: st.DataObject, user: str, method: str, picks: list[int]) -> None:
        """A request that two or three refusals apply to at once (made so by earlier requests, the
        operator's controls, undone after where they can be, and its own fields): the answer must be
        the first of them in the model's order. (Those that do not apply to the method, such as a
        frozen player's Result, must not refuse it.)"""
        weighted = [fault for fault, weight in FAULTS[method].items() for _ in range(weight)]
        faults = sorted({weighted[n % len(weighted)] for n in picks})
        p = self.model.players[user]
        i = Intent(method, user, p.currency, f"r{next(self.counter)}", self._new_round(), None,
                   self.current_session[user])
        minor = opening_of(user) // 50
        undo: list[Callable[[], None]] = []
        if method in ("refund", "cancel"):
            i.currency, i.session, i.round = None, None, None
            bet = self._pick(data, "a bet to reverse", [
                r for r, h in self.model.by_reference.items() if "bet" in h and h["bet"].user == user])
            if bet is not None:
                i.reference, minor = bet, -self.model.by_reference[bet]["bet"].amount
        elif method in PRIZES:
            i.extra = prize_fields(method)
            if method != "jackpotwin":
                i.round = None
            if method != "promowin" and data.draw(st.booleans(), label="no currency"):
                i.currency = None
        elif method == "check":
            i.reference = i.round = None
        suffix, promo = "", {}
        for fault in faults:
            if fault == "frozen":
                if not p.frozen:
                    self._set_status(user, frozen=True)
                    undo.append(lambda: self._set_status(user, frozen=False))
            elif fault == "self-excluded":
                if not self.model.excluded(p):
                    until = self.model.now + timedelta(minutes=5)
                    self.put_limits(user, {}, until)
                    undo.append(lambda until=until: self.move_clock(until - self.model.now))  # it ends
            elif fault == "another currency":
                i.currency = self._pick(data, "currency", [c for c in DIGITS if c != p.currency])
            elif fault == "too precise":
                suffix = "1" if p.digits else ".5"
            elif fault == "zero":
                minor = 0
            elif fault == "more than the balance":
                minor = max(minor, p.balance + 1)
            elif fault == "another amount":
                minor += 1
                i.amount = "given"
            elif fault == "another round":
                i.round = self._new_round()
            elif fault in ("an ended round", "a cancelled round"):
                i.round = self._closed_round(data, user, fault.split()[1])
            elif fault == "a settled round's bet":
                i.reference = self._settled_bet(data, user) or i.reference
            elif fault == "a settled round":  # a round refund of it, under a reference of its own
                bet = self._settled_bet(data, user)
                if bet is not None:
                    i.reference, i.round = f"r{next(self.counter)}", self.model.by_reference[bet]["bet"].round
                    minor = sum(-b.amount for b in self.model.rounds[(user, i.round)].bets if not b.reversed_by)
            elif fault == "an expired session":
                i.session = f"s-{next(self.counter)}"
                self.submit(Intent("sessionexpired", user, None, session=i.session))
            elif fault == "no session":
                i.session = None
            elif fault == "unknown player":
                pass  # last: the other faults are made on the player's state
            elif fault == "a disabled game":
                game = self._pick(data, "a game", self.model.games)
                if game is not None:
                    i.game = game
                    if self.model.games[game]:
                        self.set_game(game, False)
                        undo.append(lambda game=game: self.set_game(game, True))
            elif fault == "above the max bet":
                minor = max(minor, 1)
                self.put_limits(user, {"maxBet": minor - 1})
                undo.append(lambda: self.put_limits(user, {"maxBet": None}))  # a removal: pending
            elif fault in ("over a loss limit", "over a wager limit", "a used-up limit", "a limit reached exactly"):
                kind = fault.split()[2] if fault.startswith("over") else data.draw(
                    st.sampled_from(["loss", "wager"]), label="limit")
                period = data.draw(st.sampled_from(PERIODS), label="period")
                total = self.model.played(p, period)[kind == "wager"]
                if fault == "a used-up limit":
                    limit = max(0, total)  # reached exactly: used up
                elif fault == "a limit reached exactly":  # allowed (unless another limit or fault refuses it)
                    minor = max(minor, -total)
                    limit = total + minor
                else:  # the stake would go one minor unit beyond it
                    minor = max(minor, 1 - total)
                    limit = total + minor - 1
                name = f"{kind}Limit.{period}"
                self.put_limits(user, {name: limit})
                undo.append(lambda name=name: self.put_limits(user, {name: None}))  # a removal: pending
            elif fault == "a reality check due":
                session = self.model.sessions.get((user, i.session)) if i.session else None
                if session is not None and session.expired_at is None:
                    before = self.model.in_force(p, "realityCheckMinutes")
                    self.put_limits(user, {"realityCheckMinutes": 1})
                    anchor = session.checked_at or session.first_bet_at
                    assert anchor is not None
                    if self.model.now < anchor + timedelta(minutes=1):
                        self.move_clock(anchor + timedelta(minutes=1) - self.model.now)
                    undo.append(lambda before=before: self.put_limits(user, {"realityCheckMinutes": before}))
            elif fault == "a used promo reference":
                promo["reference"] = self._pick(data, "a used reference", self.model.by_reference) or i.reference
            elif fault == "a too precise promo":
                promo["suffix"] = "1" if p.digits else ".5"
            elif fault == "a promo win without its reference":
                promo["none"] = True
            else:  # "a bet's reference", "another player's win's reference", ...
                found = re.fullmatch(r"(another player's|an?) (\w+)'s reference", fault)
                assert found is not None, fault
                owner = "another player" if found[1] == "another player's" else "the player"
                i.reference = self._held(data, user, found[2], owner)
        if "unknown player" in faults:
            i.user = GHOST
        if promo:
            i.extra = {"promoWinAmount": self._small(user) + promo.get("suffix", ""),
                       "promoWinReference": None if promo.get("none") else promo.get("reference", f"r{next(self.counter)}")}
        if method != "check" and (method not in ("refund", "cancel") or suffix or i.amount == "given"):
            i.amount = spelled(amount_text(minor, p.digits) + suffix, data.draw(st.sampled_from(FORMS), label="form"))
        self.submit(i)
        if method == "bet":
            if self.sent[-1].error == 210:  # the provider tells the player, then sends the Bet again: it proceeds
                self.submit(replace(i))
            self.submit(Intent("check", i.user, i.currency, session=i.session))  # and Check in the same state
        for step in reversed(undo):
            step()

    @rule(data=st.data(), user=st.sampled_from(USER_CHOICE), method=st.sampled_from(["check", "balance"]))
    def look(self, data: st.DataObject, user: str, method: str) -> None:
        self.submit(Intent(method, user, self._currency(data, user),
                           session=self._session(data, user, absent=1 if rarely(data.draw, "no session") else 0)))

    def _set_status(self, user: str, frozen: bool) -> None:
        status = "frozen" if frozen else "active"
        r = self.operator.request("PATCH", f"/players/{user}", json={"status": status, "reason": "model"})
        assert r.status_code == 200 and r.get_json()["status"] == status, r.get_data(as_text=True)
        note(f"admin: {user} {status}")
        self.model.players[user].frozen = frozen

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), form=st.sampled_from(FORMS), which=st.sampled_from(["a success", "any"]))
    def retransmit(self, data: st.DataObject, form: str, which: str) -> None:
        """The provider got no answer: the same request again under a new uuid, perhaps from another
        session, with another game id and its amount written another way (none of which is compared)."""
        successes = [s for s in self.sent if s.error == 0 and s.intent.reference]
        first = data.draw(st.sampled_from(successes if which == "a success" and successes else self.sent),
                          label="request").intent
        again = replace(first, game=GAMES[1], amount=None if first.amount is None else respell(first.amount, form))
        if first.session is not None and first.method != "sessionexpired":
            again.session = self._session(data, first.user)
        self.submit(again)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), how=st.sampled_from(["same request", "another body", "another method"]))
    def reuse_uuid(self, data: st.DataObject, how: str) -> None:
        """A uuid sent again. The same request: its stored answer byte for byte, and nothing moves
        (an answer 100 or the edge's 7 was not stored: its retry is processed afresh). Another body,
        or the same body to another method (uuids are one namespace): 5, and nothing moves."""
        sent = self.by_uuid[data.draw(st.sampled_from(self.sent), label="request").uuid]
        if how == "same request":
            OUTCOMES[f"uuid: the same request again, {'stored' if sent.stored else 'not stored'}"] += 1
            if sent.stored:
                raw = self.post(sent.method, sent.body)
                assert raw == sent.raw, f"\n  replay: {raw!r}\n  first:  {sent.raw!r}"
            else:
                self.submit(sent.intent, sent.uuid, sent.body)
            return
        if not sent.stored:
            return  # nothing stored under it: another request with it is simply a new request
        swap = {"bet": "result", "result": "bet", "check": "balance", "balance": "check", "refund": "cancel",
                "cancel": "refund"}
        if how == "another method" and sent.method in swap:
            other = replace(sent.intent, method=swap[sent.method])
            body = sent.body
        else:
            other = replace(sent.intent, session=f"s-other-{next(self.counter)}")
            body = body_of(other, sent.uuid)
        expected = self.model.edge(other) or self.model.refuse(other, "uuid of another request")
        OUTCOMES[f"uuid: {expected.outcome} ({'another method' if other.method != sent.method else 'another body'})"] += 1
        self.judge(expected, self.post(other.method, body))

    @precondition(lambda self: any(s.intent.reference for s in self.sent))
    @rule(data=st.data(), change=st.sampled_from(["user", "amount", "round", "content"]),
          which=st.sampled_from(["a success", "a round refund", "any"]))
    def reuse_reference_with_other_content(self, data: st.DataObject, change: str, which: str) -> None:
        """A reference sent again with another player, amount, round, or a prize's campaign, jackpot
        or bonus code: mostly one that succeeded, or a refund that reversed a round's bets."""
        def round_refund(reference: str) -> bool:
            held = self.model.by_reference[reference]
            return "bet" not in held and "refund" in held and bool(held["refund"].reverses)

        candidates = {
            "a success": [s.intent for s in self.sent if s.error == 0 and s.intent.reference],
            "a round refund": [s.intent for s in self.sent if s.error == 0 and s.intent.method == "refund"
                               and round_refund(s.intent.reference)],  # type: ignore[arg-type]
            "any": [s.intent for s in self.sent if s.intent.reference],
        }
        first = data.draw(st.sampled_from(candidates[which] or candidates["any"]), label="request")
        other = replace(first)
        digits = DIGITS[currency_of(first.user)]
        if change == "content" and first.method in PRIZES:
            other.extra = prize_fields(first.method, 9)
        elif change == "user":
            other.user = data.draw(st.sampled_from([u for u in USERS if u != first.user]), label="user")
            if first.currency is not None:
                other.currency = currency_of(other.user)
        elif change in ("amount", "content"):
            minor = minor_units(first.amount, digits) if first.amount is not None else None
            other.amount = amount_text((minor or 0) + 1, digits)
        else:
            other.round = self._round(data, first.user)
            if other.round == first.round:
                other.round = self._new_round()
        self.submit(other)

    # ----------------------------------------------------------------- invariants

    @invariant()
    def ledger_matches_the_model(self) -> None:
        """After every step, read from the database: the entries booked since the last step are
        exactly the ones the model expects the step to have made (none on a refusal), with their
        time, prize fields and the bets they reverse; each player's balance, status and
        self-exclusion, every round, session and game are the model's. Now and then, and at the end
        of each sequence, the whole state through the admin API too."""
        self.steps += 1
        OUTCOMES["(steps run)"] += 1
        with self.engine.connect() as conn:
            newer = conn.execute(text(
                "SELECT t.id::text, t.kind, t.reference, p.user_id, r.round_id, t.amount, t.balance_after,"
                " t.request_uuid, t.session_id, ARRAY(SELECT v.bet_id::text FROM reversals v"
                " WHERE v.refund_id = t.id ORDER BY v.bet_id), t.created_at, t.announced_amount, t.campaign_id,"
                " t.campaign_type, t.jackpot_id, t.bonus_code, t.given_round_id"
                " FROM transactions t JOIN players p ON p.id = t.player_id LEFT JOIN rounds r ON r.id = t.round_pk"
                " WHERE t.id > :last ORDER BY t.id"), {"last": self.last_entry}).all()
            players = conn.execute(text("SELECT user_id, balance, status, excluded_until FROM players")).all()
            rounds = conn.execute(text("SELECT p.user_id, r.round_id, r.status, r.has_result"
                                       " FROM rounds r JOIN players p ON p.id = r.player_id")).all()
            sessions = conn.execute(text("SELECT p.user_id, s.session_id, s.first_bet_at, s.reality_check_at,"
                                         " s.expired_at FROM sessions s JOIN players p ON p.id = s.player_id")).all()
            games = conn.execute(text("SELECT game_id, enabled FROM games")).all()
        made = [e for p in self.model.players.values() for e in p.entries if int(e.tx) > self.last_entry]
        assert [tuple(row) for row in newer] == [
            (e.tx, e.kind, e.reference, e.user, e.round, e.amount, e.balance_after, e.uuid, e.session,
             [b.tx for b in sorted(e.reverses, key=lambda b: int(b.tx))], e.at, e.announced, e.campaign,
             e.campaign_type, e.jackpot, e.bonus_code, e.given_round)
            for e in sorted(made, key=lambda e: int(e.tx))]
        self.last_entry = max([self.last_entry, *(int(e.tx) for e in made)])
        assert {user: (balance, status, until) for user, balance, status, until in players} == {
            user: (p.balance, "frozen" if p.frozen else "active", p.excluded_until)
            for user, p in self.model.players.items()}
        assert {(user, round_id): (status, has_result) for user, round_id, status, has_result in rounds} == {
            key: (rnd.status, rnd.has_result) for key, rnd in self.model.rounds.items()}
        assert {(user, session): tuple(times) for user, session, *times in sessions} == {
            key: (s.first_bet_at, s.checked_at, s.expired_at) for key, s in self.model.sessions.items()}
        assert dict(games) == self.model.games  # type: ignore[arg-type]
        if self.steps % WHOLE_STATE_EVERY == 0:
            self.whole_state_matches_the_model()

    def entries_match_the_model(self) -> None:
        """Every entry of the ledger, as the admin API lists it (with its status, the refund that
        reversed it, and a prize's fields), is the model's, field by field."""
        r = self.operator.request("GET", "/transactions?limit=1000")
        assert r.status_code == 200, r.get_data(as_text=True)
        shown = json.loads(r.get_data(), parse_float=Decimal)
        assert shown["nextCursor"] is None
        key = lambda e: int(e["transactionId"])  # noqa: E731
        expected = sorted((self.model.entry_view(e) for p in self.model.players.values() for e in p.entries),
                          key=key)
        money_fields = ("amount", "balanceAfter", "announcedAmount")
        entries = [{name: as_written(item[name]) if name in money_fields and item[name] is not None else item[name]
                    for name in expected[0]} for item in shown["items"]]
        assert sorted(entries, key=key) == expected

    def whole_state_matches_the_model(self) -> None:
        """Through the admin API: every entry, each player's balance, status and limits, and a clean
        reconciliation (each balance is the sum of its entries and its newest entry's balance after;
        the bonus wins recorded and not credited listed apart)."""
        self.entries_match_the_model()
        for user, p in self.model.players.items():
            r = self.operator.request("GET", f"/players/{user}")
            assert r.status_code == 200, r.get_data(as_text=True)
            shown = json.loads(r.get_data(), parse_float=Decimal)
            assert (shown["currency"], as_written(shown["balance"]), shown["status"]) == (
                p.currency, money(p.balance, p.digits), "frozen" if p.frozen else "active"), (user, shown)
            r = self.operator.request("GET", f"/players/{user}/limits")
            assert r.status_code == 200, r.get_data(as_text=True)
            assert limits_as_shown(r.get_data()) == self.model.limits_view(user)
        reconciliation = self.operator.reconciliation()
        assert reconciliation["ok"] is True and reconciliation["mismatches"] == [], reconciliation
        assert sorted(b["transactionId"] for b in reconciliation["bonusWinsRecorded"]) == sorted(
            e.tx for p in self.model.players.values() for e in p.entries if e.kind == "bonus" and e.amount == 0)

    def teardown(self) -> None:
        if sys.exc_info()[0] is None:  # not while a failure is being reported: it would hide it
            self.whole_state_matches_the_model()


@pytest.mark.timeout(TIMEOUT)
def test_random_callback_sequences_answer_as_the_model(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wallet_clock, "utcnow", lambda: NOW[0])  # the machine moves it (move_clock)
    app = make_app(database_url, timezone=TIMEZONE, limit_cooling_off_hours=COOLING_OFF_HOURS,
                   provider_api_url=closed_port_url(), provider_attempts=1)
    engine = create_engine(database_url)
    machine = type("Machine", (WalletMachine,), {"app": app, "database_url": database_url, "engine": engine})
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, phases=PHASES,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ))
    finally:
        app.extensions["wallet.engine"].dispose()
        engine.dispose()
    print("\nthe model's decisions met:", *(f"{n:6} {what}" for what, n in sorted(OUTCOMES.items())), sep="\n")

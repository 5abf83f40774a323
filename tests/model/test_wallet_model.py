"""Model-based test: random callback sequences checked against a reference model of PROTOCOL.md.

The model below is written from PROTOCOL.md sections 1-3 and 6, not from the
service code. Where the protocol leaves the order of two refusals open (a
frozen player with too little money: 6 or 1?), the model accepts any of the
codes that apply; every refusal must leave balances and entries untouched.

    make test PYTEST_ARGS="tests/model"                                  # quick (default examples)
    WALLET_MODEL_EXAMPLES=500 WALLET_MODEL_STEPS=80 make test PYTEST_ARGS="tests/model"   # long run
"""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import pytest
import simplejson
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.conftest import Operator, make_app
from tests.support import reset_database

EXAMPLES = int(os.environ.get("WALLET_MODEL_EXAMPLES", "20"))
STEPS = int(os.environ.get("WALLET_MODEL_STEPS", "35"))
# WALLET_MODEL_SHRINK=0 reports the first failure unshrunk (faster while debugging a long run).
PHASES = tuple(Phase) if os.environ.get("WALLET_MODEL_SHRINK", "1") != "0" else (
    Phase.explicit, Phase.reuse, Phase.generate)

# userId -> (currency, digits, opening balance in minor units)
WALLETS = {"p-usd": ("USD", 2, 100_000), "p-jpy": ("JPY", 0, 5_000)}
GHOST = "p-ghost"  # no wallet: 100 (player not found)
USERS = [*WALLETS, GHOST]
REFERENCES = [f"ref-{i}" for i in range(6)]  # few, so that bets, wins and refunds collide
ROUNDS = [f"g{i}" for i in range(3)]  # per player: "<userId>:g0"
METHOD_PATH = {"bet": "Bet", "result": "Result", "refund": "Refund", "endround": "EndRound",
               "check": "Check", "balance": "Balance"}


# --------------------------------------------------------------------------- the reference model


@dataclass
class Wallet:
    currency: str
    digits: int
    balance: int
    frozen: bool = False


@dataclass
class Round:
    cancelled: bool = False
    ended: bool = False  # an EndRound arrived
    has_result: bool = False
    bets: list[str] = field(default_factory=list)


@dataclass
class Bet:
    user: str
    amount: int
    round: str
    tx: str
    cash: Decimal
    refunded_by: str | None = None


@dataclass
class Win:
    user: str
    amount: int
    round: str
    tx: str
    cash: Decimal


@dataclass
class Refund:
    user: str
    round: str | None  # the round it names or reversed
    amount: int | None  # what it moved (path 1/2), None for a refund of nothing (path 3)
    tx: str
    cash: Decimal
    description: str


@dataclass
class Intent:
    """What a callback asks, before it is written as a body. `amount` is the wire value."""

    method: str
    user: str
    currency: str | None
    reference: str | None = None
    round: str | None = None
    amount: Any = None
    session: str = "s-1"


@dataclass
class Success:
    """How a 0 answer must look, and what it does to the model."""

    cash: Decimal | None
    tx: str | None = None  # the transactionId a retransmission must repeat; None = a new one
    apply: Callable[[dict[str, Any]], None] | None = None
    nothing_refunded: bool = False
    cash_alternatives: tuple[Decimal, ...] = ()


@dataclass
class Expect:
    refusals: set[int]  # non-zero codes the protocol allows here
    success: Success | None = None  # None: the request must be refused


def minor_units(wire: Any, digits: int) -> int | None:
    """The protocol's amount rule: a finite decimal >= 0 with at most `digits` decimals; None = error 10."""
    try:
        value = Decimal(str(wire))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def cash(minor: int, digits: int) -> Decimal:
    return Decimal(minor).scaleb(-digits)


class Model:
    def __init__(self) -> None:
        self.wallets = {u: Wallet(c, d, b) for u, (c, d, b) in WALLETS.items()}
        self.rounds: dict[tuple[str, str], Round] = {}  # by (player, roundId): rounds are per player
        self.bets: dict[str, Bet] = {}
        self.wins: dict[str, Win] = {}
        self.refunds: dict[str, Refund] = {}
        self.transaction_ids: set[str] = set()

    def cash_of(self, user: str, minor: int | None = None) -> Decimal:
        w = self.wallets[user]
        return cash(w.balance if minor is None else minor, w.digits)

    def _round(self, user: str, name: str) -> Round:
        return self.rounds.setdefault((user, name), Round())

    def _common(self, i: Intent) -> tuple[Wallet | None, set[int]]:
        wallet = self.wallets.get(i.user)
        refusals = set()
        if wallet is None:
            refusals.add(100)
        elif i.currency is not None and i.currency != wallet.currency:
            refusals.add(2)
        return wallet, refusals

    def expect(self, i: Intent) -> Expect:
        return getattr(self, f"_{i.method}")(i)

    def _check(self, i: Intent) -> Expect:
        wallet, refusals = self._common(i)
        if wallet is not None and wallet.frozen:
            refusals.add(6)
        return Expect(refusals) if refusals else Expect(set(), Success(cash=None))

    def _balance(self, i: Intent) -> Expect:
        wallet, refusals = self._common(i)
        return Expect(refusals) if refusals else Expect(set(), Success(cash=self.cash_of(i.user)))

    def _endround(self, i: Intent) -> Expect:
        wallet, refusals = self._common(i)
        if refusals:
            return Expect(refusals)

        def apply(_: dict[str, Any]) -> None:
            self._round(i.user, i.round).ended = True

        return Expect(set(), Success(cash=self.cash_of(i.user), apply=apply))

    def _money(self, i: Intent, earlier: Bet | Win | None) -> tuple[Wallet | None, set[int], int | None]:
        """Checks Bet and Result share: wallet, currency, amount, an earlier transaction with other content."""
        wallet, refusals = self._common(i)
        minor = minor_units(i.amount, wallet.digits) if wallet else None
        if wallet is not None and minor is None:
            refusals.add(10)
        if earlier is not None and (earlier.user, earlier.amount, earlier.round) != (i.user, minor, i.round):
            refusals.add(7)
        return wallet, refusals, minor

    def _bet(self, i: Intent) -> Expect:
        ref = i.reference
        earlier = self.bets.get(ref)
        wallet, refusals, stake = self._money(i, earlier)
        if ref in self.wins:
            refusals.add(7)
        if ref in self.refunds or (earlier is not None and earlier.refunded_by):
            refusals.add(3)  # a refunded reference, with or without the bet
        if ref in self.refunds and self.refunds[ref].user != i.user:
            refusals.add(7)  # ... and another player's: a conflicting reuse as well
        if refusals:
            return Expect(refusals)
        assert wallet is not None and stake is not None
        rnd = self.rounds.get((i.user, i.round))
        closed = rnd is not None and (rnd.cancelled or rnd.ended)
        if earlier is not None:  # retransmission: the first answer again, nothing moves
            alternatives = ({6} if wallet.frozen else set()) | ({3} if closed else set())
            return Expect(alternatives, Success(cash=earlier.cash, tx=earlier.tx))
        if wallet.frozen:
            refusals.add(6)
        if closed:
            refusals.add(3)
        if stake > wallet.balance:
            refusals.add(1)
        if refusals:
            return Expect(refusals)

        def apply(answer: dict[str, Any]) -> None:
            wallet.balance -= stake
            self._round(i.user, i.round).bets.append(ref)
            self.bets[ref] = Bet(i.user, stake, i.round, answer["transactionId"], answer["cash"])

        return Expect(set(), Success(cash=self.cash_of(i.user, wallet.balance - stake), apply=apply))

    def _result(self, i: Intent) -> Expect:
        ref = i.reference
        earlier = self.wins.get(ref)
        wallet, refusals, win = self._money(i, earlier)
        if ref in self.bets or ref in self.refunds:
            refusals.add(7)
        if refusals:
            return Expect(refusals)
        assert wallet is not None and win is not None
        if earlier is not None:
            return Expect(set(), Success(cash=earlier.cash, tx=earlier.tx))
        rnd = self.rounds.get((i.user, i.round))
        if rnd is not None and rnd.cancelled:
            return Expect({3})

        def apply(answer: dict[str, Any]) -> None:
            wallet.balance += win
            self._round(i.user, i.round).has_result = True
            self.wins[ref] = Win(i.user, win, i.round, answer["transactionId"], answer["cash"])

        # The protocol does not say whether a Result after EndRound is refused: 0 or 3.
        ended = {3} if rnd is not None and rnd.ended else set()
        return Expect(ended, Success(cash=self.cash_of(i.user, wallet.balance + win), apply=apply))

    def _refund(self, i: Intent) -> Expect:
        wallet, refusals = self._common(i)
        given = None
        if i.amount is not None and wallet is not None:
            given = minor_units(i.amount, wallet.digits)
            if given is None:
                refusals.add(10)
        ref = i.reference
        earlier, bet = self.refunds.get(ref), self.bets.get(ref)
        if ref in self.wins:
            refusals.add(7)  # a win's reference reused by a refund: same reference, other content
        if earlier is not None:  # a retransmission of this refund
            if earlier.user != i.user:
                refusals.add(7)
            if i.round is not None and earlier.round is not None and i.round != earlier.round:
                refusals.add(7)
            if given is not None and earlier.amount is not None and given != earlier.amount:
                refusals.update({7, 10} if bet is not None else {7})
            if refusals:
                return Expect(refusals)
            return Expect(set(), Success(cash=earlier.cash, tx=earlier.tx,
                                         nothing_refunded=earlier.amount is None))
        if bet is not None:  # path 1
            if bet.user != i.user:
                refusals.add(7)
            if given is not None and given != bet.amount:
                refusals.add(10)
            if i.round is not None and i.round != bet.round:
                refusals.add(7)  # the bet's reference with another round: a conflicting reuse
            if refusals:
                return Expect(refusals)
            assert wallet is not None
            rnd = self.rounds[(bet.user, bet.round)]
            if bet.refunded_by is not None:  # reversed earlier by a round refund
                first = self.refunds[bet.refunded_by]
                return Expect({3} if rnd.ended else set(),
                              Success(cash=first.cash, tx=first.tx, cash_alternatives=(self.cash_of(i.user),)))
            if rnd.has_result or (rnd.ended and not rnd.cancelled):
                return Expect({3})

            def apply_one(answer: dict[str, Any]) -> None:
                wallet.balance += bet.amount
                bet.refunded_by = ref
                rnd.cancelled = True
                self.refunds[ref] = Refund(i.user, bet.round, bet.amount, answer["transactionId"], answer["cash"],
                                           answer["description"])

            # A refund after EndRound on an already cancelled round: the protocol lists EndRound as settling.
            ended = {3} if rnd.ended else set()
            return Expect(ended, Success(cash=self.cash_of(i.user, wallet.balance + bet.amount), apply=apply_one))
        if refusals:
            return Expect(refusals)
        assert wallet is not None
        rnd = self.rounds.get((i.user, i.round)) if i.round is not None else None
        open_bets = [self.bets[b] for b in rnd.bets if self.bets[b].refunded_by is None] if rnd else []
        if open_bets:  # path 2: the round's bets that are not refunded yet
            total = sum(b.amount for b in open_bets)
            if given is not None and given != total:
                refusals.add(10)
            if rnd.has_result or (rnd.ended and not rnd.cancelled):
                refusals.add(3)
            if refusals:
                return Expect(refusals)

            def apply_round(answer: dict[str, Any]) -> None:
                wallet.balance += total
                for b in open_bets:
                    b.refunded_by = ref
                rnd.cancelled = True
                self.refunds[ref] = Refund(i.user, i.round, total, answer["transactionId"], answer["cash"],
                                           answer["description"])

            ended = {3} if rnd.ended else set()
            return Expect(ended, Success(cash=self.cash_of(i.user, wallet.balance + total), apply=apply_round))

        def apply_nothing(answer: dict[str, Any]) -> None:  # path 3: remembered, nothing moves
            if i.round is not None:
                r = self._round(i.user, i.round)
                if not (r.has_result or r.ended):
                    r.cancelled = True
            self.refunds[ref] = Refund(i.user, i.round, None, answer["transactionId"], answer["cash"],
                                       answer["description"])

        return Expect(set(), Success(cash=self.cash_of(i.user), apply=apply_nothing, nothing_refunded=True))


# --------------------------------------------------------------------------- the wire


def body_of(i: Intent, uuid: str) -> str:
    body: dict[str, Any] = {"providerId": "LuckyMonaco", "userId": i.user, "uuid": uuid}
    if i.currency is not None:
        body["currency"] = i.currency
    if i.method != "refund":
        body["sessionId"] = i.session
    if i.method in ("bet", "result", "refund", "endround"):
        body.update({"gameId": "Im_60_tumblefortune", "gameName": "tumblefortune"})
    if i.round is not None:
        body["roundId"] = i.round
    if i.reference is not None:
        body["reference"] = i.reference
    if i.amount is not None:
        body["amount"] = i.amount
    if i.method in ("bet", "result"):
        body.update({"timeStamp": "2026-11-24T10:00:00Z", "roundDetails": {"spin": 1}})
    return simplejson.dumps(body, use_decimal=True)


amount_minor = st.integers(min_value=0, max_value=40_000)


@st.composite
def wire_amount(draw: st.DrawFn, digits_of: int) -> Any:
    """An amount as Lucky Monaco may write it (number or string), sometimes with too many decimals."""
    minor = draw(amount_minor)
    value = Decimal(minor).scaleb(-digits_of)
    if draw(st.integers(0, 9)) == 0:
        value += Decimal("0.001") if digits_of else Decimal("0.5")  # one digit too many: 10
    form = draw(st.sampled_from(["number", "string", "int"]))
    if form == "string":
        return str(value)
    if form == "int" and value == value.to_integral_value():
        return int(value)
    return value


class WalletMachine(RuleBasedStateMachine):
    app: Any = None
    database_url: str = ""

    def __init__(self) -> None:
        super().__init__()
        reset_database(self.database_url)
        self.client = self.app.test_client()
        self.operator = Operator(self.client)
        for user, (currency, digits, opening) in WALLETS.items():
            self.operator.open_player(user, currency, str(cash(opening, digits)))
        self.model = Model()
        self.sent: list[tuple[Intent, str, str, dict[str, Any]]] = []  # intent, uuid, body, answer

    # ----------------------------------------------------------------- transport and checks

    def post(self, method: str, body: str) -> dict[str, Any]:
        r = self.client.post(f"/V4/{METHOD_PATH[method]}", data=body, content_type="application/json")
        assert r.status_code == 200, r.get_data(as_text=True)
        answer = json.loads(r.get_data(), parse_float=Decimal)
        assert isinstance(answer, dict)
        assert type(answer["error"]) is int and isinstance(answer["description"], str)
        return answer

    def submit(self, i: Intent, uuid: str | None = None) -> dict[str, Any]:
        uuid = uuid or uuidlib.uuid4().hex
        body = body_of(i, uuid)
        expect = self.model.expect(i)
        answer = self.post(i.method, body)
        self.judge(i, expect, answer)
        self.sent.append((i, uuid, body, answer))
        return answer

    @property
    def remembered(self) -> list[tuple[Intent, str, str, dict[str, Any]]]:
        """Requests whose answer is stored under their uuid: every final one. A 100 asks the
        provider to retry, so it is not remembered and the retry of that uuid goes through."""
        return [sent for sent in self.sent if sent[3]["error"] != 100]

    def judge(self, i: Intent, expect: Expect, answer: dict[str, Any]) -> None:
        error = answer["error"]
        if i.method == "refund":
            assert answer.get("reference") == i.reference, answer  # always echoed
        if error != 0:
            assert error in expect.refusals, (i, answer, expect.refusals)
            return
        ok = expect.success
        assert ok is not None, (i, answer, expect.refusals)
        if ok.nothing_refunded:
            assert "nothing" in answer["description"].lower(), answer
        else:
            assert answer["description"] == "Success", answer
        if ok.cash is not None:
            wallet = self.model.wallets[i.user]
            assert answer["currency"] == wallet.currency
            assert answer["cash"] in (ok.cash, *ok.cash_alternatives), (i, answer, ok.cash)
            if wallet.digits:  # exactly the currency's minor-unit digits on the wire
                assert isinstance(answer["cash"], Decimal) and answer["cash"].as_tuple().exponent == -wallet.digits
            else:
                assert type(answer["cash"]) is int, answer
        if i.method in ("bet", "result", "refund"):
            tx = answer["transactionId"]
            if ok.tx is not None:
                assert tx == ok.tx, (i, answer, ok.tx)
            else:
                assert tx not in self.model.transaction_ids, answer
                self.model.transaction_ids.add(tx)
        if ok.apply is not None:
            ok.apply(answer)

    # ----------------------------------------------------------------- rules

    def _own_round(self, data: st.DataObject, user: str) -> str:
        owner = user if user in WALLETS else "p-usd"
        return f"{owner}:{data.draw(st.sampled_from(ROUNDS))}"

    def _currency(self, data: st.DataObject, user: str) -> str:
        own = WALLETS.get(user, ("USD",))[0]
        return data.draw(st.sampled_from([own, own, own, "USD", "JPY", "EUR"]))

    def _digits(self, user: str) -> int:
        return WALLETS.get(user, ("USD", 2))[1]

    @rule(data=st.data(), user=st.sampled_from(USERS), reference=st.sampled_from(REFERENCES))
    def bet(self, data: st.DataObject, user: str, reference: str) -> None:
        self.submit(Intent("bet", user, self._currency(data, user), reference, self._own_round(data, user),
                           data.draw(wire_amount(self._digits(user)))))

    @rule(data=st.data(), user=st.sampled_from(USERS), reference=st.sampled_from(REFERENCES))
    def result(self, data: st.DataObject, user: str, reference: str) -> None:
        self.submit(Intent("result", user, self._currency(data, user), reference, self._own_round(data, user),
                           data.draw(wire_amount(self._digits(user)))))

    @precondition(lambda self: self.model.bets)
    @rule(data=st.data())
    def refund_by_reference(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.model.bets)))
        bet = self.model.bets[reference]
        user = data.draw(st.sampled_from([bet.user, bet.user, bet.user, *USERS]))
        amount = data.draw(st.sampled_from([None, None, "bet", "other"]))
        digits = self._digits(user)
        wire = {None: None, "bet": cash(bet.amount, digits), "other": cash(bet.amount + 1, digits)}[amount]
        currency = data.draw(st.sampled_from([None, WALLETS.get(user, ("USD",))[0], "EUR"]))
        round_ = data.draw(st.sampled_from([None, bet.round]))
        self.submit(Intent("refund", user, currency, reference, round_, wire))

    @rule(data=st.data(), user=st.sampled_from(USERS), reference=st.sampled_from(REFERENCES))
    def refund_by_round(self, data: st.DataObject, user: str, reference: str) -> None:
        owner = data.draw(st.sampled_from([user, user, *WALLETS]))
        round_ = self._own_round(data, owner)
        self.submit(Intent("refund", user, data.draw(st.sampled_from([None, WALLETS.get(user, ("USD",))[0]])),
                           reference, round_, None))

    @rule(user=st.sampled_from(USERS), n=st.integers(0, 10**6))
    def refund_unknown_reference(self, user: str, n: int) -> None:
        self.submit(Intent("refund", user, None, f"unknown-{n}-{uuidlib.uuid4().hex[:6]}", None, None))

    @rule(data=st.data(), user=st.sampled_from(USERS))
    def end_round(self, data: st.DataObject, user: str) -> None:
        self.submit(Intent("endround", user, self._currency(data, user), None, self._own_round(data, user)))

    @rule(data=st.data(), user=st.sampled_from(USERS), method=st.sampled_from(["check", "balance"]))
    def look(self, data: st.DataObject, user: str, method: str) -> None:
        self.submit(Intent(method, user, self._currency(data, user)))

    @rule(user=st.sampled_from(list(WALLETS)), frozen=st.booleans())
    def set_status(self, user: str, frozen: bool) -> None:
        r = self.operator.request("PATCH", f"/players/{user}", json={"status": "frozen" if frozen else "active"})
        assert r.status_code == 200
        self.model.wallets[user].frozen = frozen

    @precondition(lambda self: any(s[0].reference for s in self.sent))
    @rule(data=st.data())
    def retransmit(self, data: st.DataObject) -> None:
        """The provider got no answer: the same transaction again under a new uuid."""
        intent = data.draw(st.sampled_from([s[0] for s in self.sent if s[0].reference]))
        self.submit(intent)

    @precondition(lambda self: self.remembered)
    @rule(data=st.data())
    def replay_uuid(self, data: st.DataObject) -> None:
        """The same request (uuid and body) again: the first answer, byte for byte, and nothing moves."""
        intent, uuid, body, first = data.draw(st.sampled_from(self.remembered))
        assert self.post(intent.method, body) == first

    @precondition(lambda self: self.remembered)
    @rule(data=st.data())
    def reuse_uuid_for_another_body(self, data: st.DataObject) -> None:
        intent, uuid, body, _ = data.draw(st.sampled_from(self.remembered))
        other = Intent(**{**intent.__dict__, "session": "s-other"})
        if intent.method == "refund":
            other.round = (intent.round or "p-usd:g0") + "x"
        answer = self.post(intent.method, body_of(other, uuid))
        assert answer["error"] == 5, answer

    @precondition(lambda self: any(s[0].reference for s in self.sent))
    @rule(data=st.data(), change=st.sampled_from(["user", "amount", "round"]))
    def reuse_reference_with_other_content(self, data: st.DataObject, change: str) -> None:
        intent = data.draw(st.sampled_from([s[0] for s in self.sent if s[0].reference]))
        other = Intent(**intent.__dict__)
        if change == "user":
            other.user = next(u for u in WALLETS if u != intent.user)
            other.currency = WALLETS[other.user][0] if intent.currency else None
            if other.method != "refund":
                other.round = f"{other.user}:{(intent.round or ':g0').split(':')[1]}"
        elif change == "amount" and intent.method != "refund":
            other.amount = (minor_units(intent.amount, self._digits(intent.user)) or 0) + 1
        else:
            other.round = f"{intent.round or 'p-usd:g0'}x" if intent.method == "refund" else self._own_round(
                data, intent.user)
        self.submit(other)

    # ----------------------------------------------------------------- invariants

    @invariant()
    def balances_match_the_model(self) -> None:
        for user, wallet in self.model.wallets.items():
            assert self.operator.balance(user) == cash(wallet.balance, wallet.digits), user

    @invariant()
    def ledger_reconciles(self) -> None:
        assert self.operator.reconciliation() == {"ok": True, "mismatches": []}


def test_random_callback_sequences_follow_the_protocol(database_url: str) -> None:
    app = make_app(database_url)
    machine = type("Machine", (WalletMachine,), {"app": app, "database_url": database_url})
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, phases=PHASES,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ))
    finally:
        app.extensions["wallet.engine"].dispose()

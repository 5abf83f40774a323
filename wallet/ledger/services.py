"""The money-moving operations. Each runs inside one transaction that its caller owns.

Lock order, the same in every operation so that concurrent ones cannot
deadlock: the provider reference (advisory lock), then the player row (FOR
UPDATE), then the round row (FOR UPDATE). On PostgreSQL the first two are one
statement (`_lock`). EndRound, which has no reference, starts at the player
row. Rounds belong to one player: a player's callbacks never touch another's. All checks come before the first write;
a `Refused` raised anyway makes the caller roll back everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from wallet.db import REFERENCE_LOCK_CLASS, is_postgres, lock_reference, reference_key
from wallet.ledger import movements
from wallet.ledger.models import players, reversals, rounds, transactions, utcnow
from wallet.ledger.outcomes import Answer, Code, Conflict, Invalid, NotFound, Refused
from wallet.ledger.requests import CallbackRequest
from wallet.money import AmountError, from_minor, is_known_currency, to_minor

SUCCESS = "Success"
NOTHING_REFUNDED = "Success: no bet with this reference or round, nothing refunded"


# --------------------------------------------------------------------------- statements
# The hot-path statements are built once, with bound parameters: SQLAlchemy then
# reuses their cache key and compiled SQL instead of rebuilding both on every
# callback (the biggest CPU cost per callback before; docs/performance.md).

_PLAYER = select(players).where(players.c.user_id == bindparam("user_id"))
_PLAYER_FOR_UPDATE = _PLAYER.with_for_update()
# PostgreSQL: the reference's advisory lock, then the player's row, in one round trip. The
# uncorrelated sub-select is an InitPlan evaluated by the plan's one-time filter, before the
# index scan and the row lock, and whether or not a player matches
# (EXPLAIN: LockRows -> Result (One-Time Filter: $0 IS NOT NULL) -> Index Scan).
_LOCK_REFERENCE_THEN_PLAYER = _PLAYER_FOR_UPDATE.where(
    select(cast(func.pg_advisory_xact_lock(literal_column(str(REFERENCE_LOCK_CLASS)), bindparam("k")), Text))
    .scalar_subquery()
    .is_not(None)
)

_owner = players.alias("owner")
_rnd = rounds.alias("rnd")
_PRIOR = (
    select(
        transactions.c.id,
        transactions.c.kind,
        transactions.c.amount,
        transactions.c.balance_after,
        transactions.c.currency,
        transactions.c.round_pk,
        _owner.c.user_id,
        _rnd.c.round_id,
        reversals.c.refund_id.label("reversed_by"),
    )
    .select_from(
        transactions.join(_owner, _owner.c.id == transactions.c.player_id)
        .outerjoin(_rnd, _rnd.c.id == transactions.c.round_pk)
        .outerjoin(reversals, reversals.c.bet_id == transactions.c.id)
    )
    .where(transactions.c.reference == bindparam("reference"))
)
_ROUND_BY_ID = (
    select(rounds)
    .where(rounds.c.player_id == bindparam("player_id"), rounds.c.round_id == bindparam("round_id"))
    .with_for_update()
)
_ROUND_BY_PK = select(rounds).where(rounds.c.id == bindparam("pk")).with_for_update()

_ENTRY_COLUMNS = (
    "kind", "reference", "player_id", "round_pk", "amount", "balance_after", "currency", "request_uuid",
    "session_id", "provider_id", "game_id", "game_name", "round_details", "bonus_code", "provider_ts", "note",
    "created_at",
)
_ENTRY = (
    insert(transactions)
    .values({name: bindparam(f"e_{name}") for name in _ENTRY_COLUMNS})
    .returning(transactions.c.id)
)
_MOVE = (
    update(players)
    .where(players.c.id == bindparam("e_player_id"))
    .values(balance=bindparam("e_balance_after"), updated_at=bindparam("e_created_at"))
)
_CANCEL = (
    update(rounds)
    .where(rounds.c.id == bindparam("cancel_round"))
    .values(status="cancelled", updated_at=bindparam("e_created_at"))
)
_LINK = insert(reversals)


@cache
def _insert_round_statement(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(rounds)
        .values(
            round_id=bindparam("r_round_id"), player_id=bindparam("r_player_id"), game_id=bindparam("r_game_id"),
            status=bindparam("r_status"), has_result=False,
            created_at=bindparam("r_now"), updated_at=bindparam("r_now"),
        )
        .on_conflict_do_nothing(index_elements=["player_id", "round_id"])
        .returning(*rounds.c)
    )


# --------------------------------------------------------------------------- reads


def _player(conn: Connection, user_id: str, *, lock: bool) -> Row[Any] | None:
    return conn.execute(_PLAYER_FOR_UPDATE if lock else _PLAYER, {"user_id": user_id}).first()


def _lock(conn: Connection, user_id: str, reference: str) -> Row[Any] | None:
    """Lock the provider reference, then the player's row; return the player (None if unknown)."""
    if is_postgres(conn):
        return conn.execute(_LOCK_REFERENCE_THEN_PLAYER, {"user_id": user_id, "k": reference_key(reference)}).first()
    lock_reference(conn, reference)  # SQLite: BEGIN IMMEDIATE already serialises every writer
    return _player(conn, user_id, lock=True)


def _prior(conn: Connection, reference: str) -> dict[str, Row[Any]]:
    """Every transaction already recorded under `reference`, by kind, with owner and refund link."""
    rows = conn.execute(_PRIOR, {"reference": reference}).all()
    return {row.kind: row for row in rows}


def _round_by_id(conn: Connection, player_id: int, round_id: str) -> Row[Any] | None:
    """The player's round `round_id`, locked (rounds belong to one player)."""
    return conn.execute(_ROUND_BY_ID, {"player_id": player_id, "round_id": round_id}).first()


def _round_by_pk(conn: Connection, pk: int) -> Row[Any]:
    return conn.execute(_ROUND_BY_PK, {"pk": pk}).one()


def _insert_round(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    """Create the round unless it exists (or a concurrent transaction just created it); return it locked.

    INSERT first, RETURNING the new row: one round trip when the round is new
    (a new row is invisible to, so unlockable by, any other transaction until
    this one commits). Only when it exists is it read FOR UPDATE.
    """
    params = {f"r_{k}": v for k, v in {"status": "open", **values, "now": utcnow()}.items()}
    created = conn.execute(_insert_round_statement(conn.dialect.name), params).first()
    row = created or _round_by_id(conn, values["player_id"], values["round_id"])
    assert row is not None
    return row


def _set_round(conn: Connection, pk: int, **values: Any) -> None:
    conn.execute(update(rounds).where(rounds.c.id == pk).values(updated_at=utcnow(), **values))


def round_settled(has_result: bool | None, status: str | None) -> bool:
    """A round with a Result or an EndRound is settled: its bets are no longer refundable."""
    return bool(has_result) or status == "ended"


# --------------------------------------------------------------------------- checks


def _check_currency(given: str | None, expected: str) -> None:
    if given is not None and given != expected:
        raise Refused(Code.CURRENCY_MISMATCH, f"Currency {given} does not match the wallet's {expected}")


def _minor(amount: Decimal | None, currency: str) -> int:
    assert amount is not None
    try:
        return to_minor(amount, currency)
    except AmountError as exc:
        raise Refused(Code.INVALID_AMOUNT, f"Invalid amount: {exc}") from exc


def _open_money_callback(conn: Connection, q: CallbackRequest) -> tuple[Row[Any], dict[str, Row[Any]], int]:
    """Bet and Result: lock, read what the reference already holds, check player, currency, amount.

    Returns (player, prior transactions by kind, amount in minor units). An
    unknown player is 100, but a reference owned by someone else is a conflict (7) first.
    """
    assert q.reference is not None
    player = _lock(conn, q.user_id, q.reference)
    prior = _prior(conn, q.reference)
    if player is None:
        if prior:
            raise Refused(Code.BAD_PARAMETERS, "Reference belongs to another player")
        raise Refused(Code.INTERNAL_RETRY, f"Player {q.user_id} not found")
    _check_currency(q.currency, player.currency)
    return player, prior, _minor(q.amount, player.currency)


# --------------------------------------------------------------------------- writes


def _post(
    conn: Connection,
    player: Row[Any],
    kind: str,
    amount: int,
    q: CallbackRequest,
    *,
    round_pk: int | None,
    note: str | None = None,
    reverses: Sequence[Row[Any]] = (),
    cancel_round: int | None = None,
) -> tuple[int, int]:
    """Append one ledger entry and move the player's balance with it; for a refund, also link
    the bets it `reverses` and cancel the round `cancel_round`. Returns (id, balance_after).

    On PostgreSQL, Bet, Result and Refund write in their stored functions
    (`wallet_post`, migration 0004); from here only SQLite's callbacks and the
    admin adjustments write.
    """
    balance = player.balance + amount
    params = {
        "e_kind": kind, "e_reference": q.reference, "e_player_id": player.id, "e_round_pk": round_pk,
        "e_amount": amount, "e_balance_after": balance, "e_currency": player.currency,
        "e_request_uuid": q.uuid or None, "e_session_id": q.session_id, "e_provider_id": q.provider_id,
        "e_game_id": q.game_id, "e_game_name": q.game_name, "e_round_details": q.round_details,
        "e_bonus_code": q.bonus_code, "e_provider_ts": q.timestamp, "e_note": note, "e_created_at": utcnow(),
        "cancel_round": cancel_round,
    }
    if amount:
        conn.execute(_MOVE, params)
    if cancel_round is not None:
        conn.execute(_CANCEL, params)
    tx_id = conn.execute(_ENTRY, params).scalar_one()
    if reverses:
        conn.execute(_LINK, [{"bet_id": b.id, "refund_id": tx_id, "amount": -b.amount} for b in reverses])
    movements.record(kind, amount, player.currency)
    return tx_id, balance


def _money_answer(tx_id: int, currency: str, balance: int, description: str = SUCCESS, **extra: Any) -> Answer:
    return Answer(
        Code.SUCCESS,
        description,
        {**extra, "transactionId": str(tx_id), "currency": currency, "cash": from_minor(balance, currency)},
    )


# --------------------------------------------------------------------------- callbacks


def check(conn: Connection, q: CallbackRequest) -> Answer:
    """May this player bet now?"""
    player = _player(conn, q.user_id, lock=False)
    if player is None:
        raise Refused(Code.INTERNAL_RETRY, f"Player {q.user_id} not found")
    _check_currency(q.currency, player.currency)
    if player.status == "frozen":
        raise Refused(Code.PLAYER_FROZEN, "Player is frozen")
    return Answer(Code.SUCCESS, SUCCESS)


def balance(conn: Connection, q: CallbackRequest) -> Answer:
    player = _player(conn, q.user_id, lock=False)
    if player is None:
        raise Refused(Code.INTERNAL_RETRY, f"Player {q.user_id} not found")
    _check_currency(q.currency, player.currency)
    return Answer(
        Code.SUCCESS,
        SUCCESS,
        {"currency": player.currency, "cash": from_minor(player.balance, player.currency)},
    )


def bet(conn: Connection, q: CallbackRequest) -> Answer:
    """Debit the stake, once per reference; never for a refunded reference or a closed round."""
    assert q.reference is not None and q.round_id is not None
    player, prior, stake = _open_money_callback(conn, q)

    if "win" in prior:
        raise Refused(Code.BAD_PARAMETERS, "Reference already used by a result")
    earlier = prior.get("bet")
    if earlier is not None and (
        earlier.user_id != q.user_id or earlier.amount != -stake or earlier.round_id != q.round_id
    ):
        raise Refused(Code.BAD_PARAMETERS, "Reference already used by a different bet")
    if "refund" in prior or (earlier is not None and earlier.reversed_by is not None):
        raise Refused(Code.BET_NOT_ALLOWED, "Reference already refunded")
    if earlier is not None:  # a retransmission: answer as the first time, move nothing
        return _money_answer(earlier.id, earlier.currency, earlier.balance_after)

    if player.status == "frozen":
        raise Refused(Code.PLAYER_FROZEN, "Player is frozen")
    # A bet usually opens its round: try the INSERT first (one round trip for a new round).
    rnd = _insert_round(conn, {"round_id": q.round_id, "player_id": player.id, "game_id": q.game_id})
    if rnd.status == "cancelled":
        raise Refused(Code.BET_NOT_ALLOWED, "Round is cancelled")
    if rnd.status == "ended":
        raise Refused(Code.BET_NOT_ALLOWED, "Round has ended")
    if player.balance < stake:
        raise Refused(Code.INSUFFICIENT_BALANCE, "Insufficient balance")
    tx_id, after = _post(conn, player, "bet", -stake, q, round_pk=rnd.id)
    return _money_answer(tx_id, player.currency, after)


def result(conn: Connection, q: CallbackRequest) -> Answer:
    """Credit a win (0 = round lost). Paid to frozen players and whatever the session."""
    assert q.reference is not None and q.round_id is not None
    player, prior, win = _open_money_callback(conn, q)

    if "bet" in prior or "refund" in prior:
        raise Refused(Code.BAD_PARAMETERS, "Reference already used by a bet")
    earlier = prior.get("win")
    if earlier is not None:
        if earlier.user_id != q.user_id or earlier.amount != win or earlier.round_id != q.round_id:
            raise Refused(Code.BAD_PARAMETERS, "Reference already used by a different result")
        return _money_answer(earlier.id, earlier.currency, earlier.balance_after)

    rnd = _round_by_id(conn, player.id, q.round_id) or _insert_round(
        conn, {"round_id": q.round_id, "player_id": player.id, "game_id": q.game_id}
    )
    if rnd.status == "cancelled":
        raise Refused(Code.BET_NOT_ALLOWED, "Round is cancelled")
    if not rnd.has_result:
        _set_round(conn, rnd.id, has_result=True)
    tx_id, after = _post(conn, player, "win", win, q, round_pk=rnd.id)
    return _money_answer(tx_id, player.currency, after)


def end_round(conn: Connection, q: CallbackRequest) -> Answer:
    """Mark the round finished (a cancelled round stays cancelled). Moves no money; repeatable."""
    assert q.round_id is not None
    player = _player(conn, q.user_id, lock=True)
    if player is None:
        raise Refused(Code.INTERNAL_RETRY, f"Player {q.user_id} not found")
    _check_currency(q.currency, player.currency)
    rnd = _round_by_id(conn, player.id, q.round_id)
    if rnd is None:
        _insert_round(
            conn,
            {"round_id": q.round_id, "player_id": player.id, "game_id": q.game_id, "status": "ended"},
        )
    elif rnd.status == "open":
        _set_round(conn, rnd.id, status="ended")
    return Answer(
        Code.SUCCESS,
        SUCCESS,
        {"currency": player.currency, "cash": from_minor(player.balance, player.currency)},
    )


def refund(conn: Connection, q: CallbackRequest) -> Answer:
    """Reverse a bet (by reference) or a round's bets (by roundId), exactly once (PROTOCOL.md section 3)."""
    assert q.reference is not None
    ref = {"reference": q.reference}
    player = _lock(conn, q.user_id, q.reference)
    prior = _prior(conn, q.reference)
    earlier, bet_row = prior.get("refund"), prior.get("bet")

    owner = (earlier or bet_row).user_id if (earlier or bet_row) else None
    if owner is not None and owner != q.user_id:
        raise Refused(Code.BAD_PARAMETERS, "Reference belongs to another player", **ref)
    if "win" in prior:  # recording it would make the Result's own retransmissions answer 7
        raise Refused(Code.BAD_PARAMETERS, "Reference already used by a result", **ref)
    if player is None:
        raise Refused(Code.INTERNAL_RETRY, f"Player {q.user_id} not found", **ref)
    try:
        _check_currency(q.currency, player.currency)
        given = _minor(q.amount, player.currency) if q.amount is not None else None
    except Refused as refused:  # a Refund answer always echoes its reference
        raise Refused(Code(refused.answer.error), refused.answer.description, **ref) from refused
    if bet_row is not None and given is not None and given != -bet_row.amount:
        raise Refused(Code.INVALID_AMOUNT, "Amount differs from the bet's amount", **ref)

    known_round = (bet_row or earlier).round_id if (bet_row or earlier) else None
    if q.round_id is not None and known_round not in (None, q.round_id):
        raise Refused(Code.BAD_PARAMETERS, "Reference already used in another round", **ref)
    if earlier is not None and bet_row is None and given is not None and given != earlier.amount and (
        conn.execute(select(reversals.c.bet_id).where(reversals.c.refund_id == earlier.id).limit(1)).first()
    ):  # a round refund retransmitted with another amount (a refund of nothing stores no amount)
        raise Refused(Code.BAD_PARAMETERS, "Reference already used by a refund of another amount", **ref)
    if earlier is not None:  # a retransmission of this refund: answer as the first time
        description = SUCCESS if earlier.amount or bet_row is not None else NOTHING_REFUNDED
        return _money_answer(earlier.id, earlier.currency, earlier.balance_after, description, **ref)

    if bet_row is not None:  # path 1: the bet with this reference
        rnd = _round_by_pk(conn, bet_row.round_pk)
        if bet_row.reversed_by is not None:  # refunded already, by a round refund
            first = conn.execute(
                select(transactions.c.id, transactions.c.balance_after).where(
                    transactions.c.id == bet_row.reversed_by
                )
            ).one()
            return _money_answer(first.id, player.currency, first.balance_after, **ref)
        if round_settled(rnd.has_result, rnd.status):
            raise Refused(Code.BET_NOT_ALLOWED, "Round already settled; a bet with a result is not refundable", **ref)
        return _reverse(conn, player, [bet_row], rnd, q)

    rnd = _round_by_id(conn, player.id, q.round_id) if q.round_id else None
    if rnd is not None:  # path 2: the player's round's bets that are not refunded yet
        open_bets = _unrefunded_bets(conn, rnd.id)
        if open_bets:
            if given is not None and given != -sum(b.amount for b in open_bets):
                raise Refused(Code.INVALID_AMOUNT, "Amount differs from the round's bets", **ref)
            if round_settled(rnd.has_result, rnd.status):
                raise Refused(Code.BET_NOT_ALLOWED, "Round already settled; not refundable", **ref)
            return _reverse(conn, player, open_bets, rnd, q)

    # path 3: nothing to reverse. Record the refund so that a late Bet with this reference gets 3.
    cancel = None
    if q.round_id and rnd is None:
        rnd = _insert_round(
            conn,
            {"round_id": q.round_id, "player_id": player.id, "game_id": q.game_id, "status": "cancelled"},
        )
    elif rnd is not None and rnd.status == "open" and not rnd.has_result:
        cancel = rnd.id
    tx_id, after = _post(
        conn, player, "refund", 0, q, round_pk=rnd.id if rnd else None, note="no matching bet: nothing refunded",
        cancel_round=cancel,
    )
    return _money_answer(tx_id, player.currency, after, NOTHING_REFUNDED, **ref)


def _unrefunded_bets(conn: Connection, round_pk: int) -> list[Row[Any]]:
    return conn.execute(
        select(transactions.c.id, transactions.c.amount)
        .select_from(transactions.outerjoin(reversals, reversals.c.bet_id == transactions.c.id))
        .where(
            and_(
                transactions.c.round_pk == round_pk,
                transactions.c.kind == "bet",
                reversals.c.bet_id.is_(None),
            )
        )
        .order_by(transactions.c.id)
    ).all()


def _reverse(
    conn: Connection, player: Row[Any], bets: list[Row[Any]], rnd: Row[Any], q: CallbackRequest
) -> Answer:
    """Credit the bets back as one refund entry linked to each bet, and cancel the round.

    The reversals' primary key (the bet) makes a second reversal of a bet fail
    in the database even if every lock above were somehow bypassed.
    """
    total = -sum(b.amount for b in bets)
    tx_id, after = _post(
        conn, player, "refund", total, q, round_pk=rnd.id, reverses=bets,
        cancel_round=rnd.id if rnd.status != "cancelled" else None,
    )
    return _money_answer(tx_id, player.currency, after, reference=q.reference)


CALLBACKS = {
    "check": check,
    "balance": balance,
    "bet": bet,
    "result": result,
    "refund": refund,
    "endround": end_round,
}


# --------------------------------------------------------------------------- admin


def create_player(conn: Connection, user_id: str, currency: str) -> Row[Any]:
    if not user_id or len(user_id) > 128:
        raise Invalid("userId must be 1 to 128 characters")
    if not is_known_currency(currency):
        raise Invalid(f"currency {currency!r} is not an ISO 4217 code this wallet can hold")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = utcnow()
    created = conn.execute(
        dialect.insert(players)
        .values(user_id=user_id, currency=currency, status="active", balance=0, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
        .returning(players)
    ).first()
    if created is None:
        raise Conflict(f"player {user_id} already exists")
    return created


def set_status(conn: Connection, user_id: str, status: str) -> Row[Any]:
    if status not in ("active", "frozen"):
        raise Invalid("status must be 'active' or 'frozen'")
    row = conn.execute(
        update(players)
        .where(players.c.user_id == user_id)
        .values(status=status, updated_at=utcnow())
        .returning(players)
    ).first()
    if row is None:
        raise NotFound(f"player {user_id} not found")
    return row


def adjust(
    conn: Connection, user_id: str, amount: Decimal, reference: str, reason: str
) -> tuple[bool, Row[Any]]:
    """A signed manual credit/debit, idempotent by reference. Returns (created, transaction row).

    The reference is locked first (as for callbacks, in its own namespace), so that two
    requests racing with one reference for different players get 201 and 409, not a
    unique-constraint error.
    """
    player = _lock(conn, user_id, f"adjustment:{reference}")
    if player is None:
        raise NotFound(f"player {user_id} not found")
    try:
        minor = to_minor(amount, player.currency)
    except AmountError as exc:
        raise Invalid(str(exc)) from exc
    if minor == 0:
        raise Invalid("amount must not be zero")
    earlier = conn.execute(
        select(transactions).where(
            transactions.c.reference == reference, transactions.c.kind == "adjustment"
        )
    ).first()
    if earlier is not None:
        if earlier.player_id != player.id or earlier.amount != minor or earlier.note != reason:
            raise Conflict(f"adjustment {reference} already exists with other content")
        return False, earlier
    if player.balance + minor < 0:
        raise Conflict("adjustment would take the balance below zero")
    q = CallbackRequest(method="adjustment", uuid="", user_id=user_id, body_hash="", reference=reference)
    tx_id, _ = _post(conn, player, "adjustment", minor, q, round_pk=None, note=reason)
    row = conn.execute(select(transactions).where(transactions.c.id == tx_id)).one()
    return True, row

"""Cancel a round at the provider (CancelRound), and keep the record. The admin API, the CLI and the
stale-round sweeper call this.

A cancel names one bet: the one staff gave by reference, or, asked by round,
the round's earliest unrefunded bet. The body is the configured style's
(wallet/provider/client.py): 2024 by that bet's reference, 2025 by round. The
call is recorded like every provider call (wallet/provider/calls.py), in
three short transactions, never one held across the network: the provider
calls this wallet's Refund *during* the CancelRound, and that Refund locks
the player's row.

The database keeps the two rules of concurrency: at most one cancel of a bet
in flight (`uq_provider_calls_pending_bet`), and a round cancelled once by
the sweeps (`uq_provider_calls_swept_round`). A claim is an INSERT ... ON
CONFLICT DO NOTHING of the call's record: whoever inserts it sends.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, or_, select, update

from config import Settings
from wallet import clock
from wallet.people import audit
from wallet.people.staff import Actor, require
from wallet.ledger.models import players, reversals, rounds, transactions
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.provider import calls
from wallet.provider.calls import MAX_PAGE, Outcome, attempts_of, db_id, open_call, provider_client
from wallet.provider.client import TOTAL_BUDGET, ProviderClient, new_uuid
from wallet.provider.models import provider_calls

log = logging.getLogger("wallet.provider")

# MAX_PAGE is the page limit of list_cancels (wallet/admin/queries.py reads both from here).
__all__ = ["MAX_PAGE", "STALE_AFTER", "request_cancel", "get_cancel", "list_cancels", "earliest_open_bet",
           "expire_abandoned", "open_cancel", "sent_cancel", "is_refunded", "cancel_for_sweep"]

# A cancel still pending this long after it started belongs to a process that died mid-call.
STALE_AFTER = timedelta(seconds=TOTAL_BUDGET + 30)
# Cancels that count as sent for a round: in flight or accepted, and a sweep's refused one (the
# provider's final word: a sweep does not ask again).
_SENT = or_(provider_calls.c.status.in_(("pending", "confirmed")),
            and_(provider_calls.c.sweep_id.is_not(None), provider_calls.c.status == "rejected"))


def _bets() -> Any:
    """Bets with what a cancel needs: owner, round, and whether they are refunded or settled."""
    return (
        select(
            transactions,
            players.c.user_id,
            rounds.c.round_id,
            rounds.c.status.label("round_status"),
            rounds.c.settled,
            reversals.c.refund_id,
        )
        .select_from(
            transactions.join(players, players.c.id == transactions.c.player_id)
            .join(rounds, rounds.c.id == transactions.c.round_pk)
            .outerjoin(reversals, reversals.c.bet_id == transactions.c.id)
        )
        .where(transactions.c.kind == "bet")
    )


def earliest_open_bet(conn: Connection, round_pk: int) -> Row[Any] | None:
    """The round's earliest bet not yet refunded: the one a cancel by round names."""
    return conn.execute(_bets().where(transactions.c.round_pk == round_pk, reversals.c.bet_id.is_(None))
                        .order_by(transactions.c.id).limit(1)).first()


def _target(conn: Connection, reference: str | None, round_id: str | None, user_id: str | None) -> Row[Any]:
    """The bet a cancel names: by reference (checked against the round and player given), or by round."""
    if reference is not None:
        bet = conn.execute(_bets().where(transactions.c.reference == reference)).first()
        if bet is None:
            raise NotFound(f"no bet with reference {reference}")
        if round_id is not None and round_id != bet.round_id:
            raise Conflict(f"bet {reference} belongs to round {bet.round_id}, not {round_id}")
        if user_id is not None and user_id != bet.user_id:
            raise Conflict(f"bet {reference} belongs to player {bet.user_id}, not {user_id}")
        return bet
    if round_id is None or user_id is None:
        raise Invalid("name a bet (reference) or a round (roundId and userId)")
    found = conn.execute(
        select(rounds.c.id, rounds.c.status, rounds.c.settled)
        .select_from(rounds.join(players, players.c.id == rounds.c.player_id))
        .where(rounds.c.round_id == round_id, players.c.user_id == user_id)
    ).first()
    if found is None:
        raise NotFound(f"player {user_id} has no round {round_id}")
    bet = earliest_open_bet(conn, found.id)
    if bet is None:
        if found.status == "cancelled":
            raise Conflict(f"round {round_id} is already cancelled")
        raise Conflict(f"round {round_id} has no bet left to cancel (none, or all refunded)")
    return bet


def _check(bet: Row[Any]) -> None:
    if bet.refund_id is not None:
        raise Conflict(f"bet {bet.reference} is already refunded (transaction {bet.refund_id})")
    if bet.settled:
        raise Conflict(f"round {bet.round_id} is settled (it has a result or has ended); it cannot be cancelled")
    if bet.round_status == "cancelled":
        raise Conflict(f"round {bet.round_id} is already cancelled")


def expire_abandoned(conn: Connection, *, bet_id: int | None = None, round_pk: int | None = None) -> None:
    """Close a pending cancel whose sender died, so that the bet (or round) can be cancelled again."""
    c = provider_calls.c
    which = c.bet_transaction_id == bet_id if bet_id is not None else c.round_pk == round_pk
    conn.execute(
        update(provider_calls)
        .where(which, c.kind == "CancelRound", c.status == "pending", c.created_at < clock.utcnow() - STALE_AFTER)
        .values(status="failed", description="abandoned: the sender stopped before an answer",
                finished_at=clock.utcnow())
    )


def open_cancel(conn: Connection, client: ProviderClient, bet: Row[Any], *, requested_by: str,
                reason: str | None = None, sweep_id: int | None = None) -> tuple[int | None, dict[str, Any]]:
    """Record the pending CancelRound of `bet`'s round (the body of the client's style); (None, body)
    when the database refused it: that bet's cancel in flight, or the round already swept."""
    expire_abandoned(conn, bet_id=bet.id)
    body = client.cancel_round_body(new_uuid(), bet._mapping)
    call_id = open_call(conn, client, "CancelRound", body, requested_by=requested_by, reason=reason,
                        user_id=bet.user_id, round_id=bet.round_id, reference=bet.reference, bet_id=bet.id,
                        round_pk=bet.round_pk, sweep_id=sweep_id)
    return call_id, body


def request_cancel(
    engine: Engine,
    settings: Settings,
    reference: str | None = None,
    *,
    actor: Actor,
    round_id: str | None = None,
    user_id: str | None = None,
    reason: str | None = None,
    client: ProviderClient | None = None,
) -> dict[str, Any]:
    """Send CancelRound for the bet `reference`, or for the round `round_id` of `user_id`; the record.

    NotFound: no such bet or round. Conflict: the bet is refunded, its round settled or cancelled,
    another cancel of it is in flight, or the round or player given is not the bet's. The record's
    status says how the call ended (confirmed only on the provider's error 0). Forbidden: the actor's
    role may not cancel rounds. The call's record and its audit entry are one transaction.
    """
    require(actor, "round.cancel")
    with provider_client(settings, client) as c:
        with engine.begin() as conn:
            bet = _target(conn, reference, round_id, user_id)
            _check(bet)
            call_id, body = open_cancel(conn, c, bet, requested_by=actor.name, reason=reason)
            if call_id is None:
                raise Conflict(f"a cancel of bet {bet.reference} is already in progress")
            audit.record(conn, actor, "round.cancel", audit.target("round", bet.round_id), reason, None,
                         {"callId": str(call_id), "userId": bet.user_id, "reference": bet.reference})
        outcome = calls.run(engine, c, call_id, "CancelRound", body)
    log.info("CancelRound", extra={"fields": {"callId": call_id, "reference": bet.reference,
                                              "roundId": bet.round_id, "status": outcome.status}})
    with engine.connect() as conn:
        return get_cancel(conn, call_id)


def sent_cancel(conn: Connection, round_pk: int) -> Row[Any] | None:
    """The round's cancel that counts as sent (in flight, accepted, or a sweep's refused one), if any."""
    expire_abandoned(conn, round_pk=round_pk)
    return conn.execute(
        select(provider_calls.c.id, provider_calls.c.status, provider_calls.c.bet_transaction_id)
        .where(provider_calls.c.round_pk == round_pk, provider_calls.c.kind == "CancelRound", _SENT)
        .order_by(provider_calls.c.id.desc()).limit(1)
    ).first()


def is_refunded(conn: Connection, bet_id: int) -> bool:
    return conn.execute(select(reversals.c.bet_id).where(reversals.c.bet_id == bet_id)).first() is not None


def cancel_for_sweep(engine: Engine, client: ProviderClient, round_pk: int, *, sweep_id: int, actor: Actor,
                     reason: str | None, deadline: float | None) -> tuple[Outcome | None, str | None]:
    """A sweep's CancelRound of a round (its earliest unrefunded bet). (outcome, None) when sent;
    (None, why) when not: another sweep holds the round, or it changed since it was listed."""
    with engine.begin() as conn:
        bet = earliest_open_bet(conn, round_pk)
        if bet is None:
            return None, "refunded"
        if bet.settled:
            return None, "settled"
        if bet.round_status == "cancelled":
            return None, "refunded"
        call_id, body = open_cancel(conn, client, bet, requested_by=actor.name, reason=reason, sweep_id=sweep_id)
        if call_id is not None:
            audit.record(conn, actor, "sweep.cancel", audit.target("round", bet.round_id), reason, None,
                         {"callId": str(call_id), "sweepId": str(sweep_id), "userId": bet.user_id,
                          "reference": bet.reference})
    if call_id is None:
        return None, "claimed"
    return calls.run(engine, client, call_id, "CancelRound", body, deadline=deadline), None


# --------------------------------------------------------------------------- reads


def _cancel_dict(row: Row[Any], attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A CancelRound call as staff have always seen a cancel."""
    record = calls.call_dict(row, attempts)
    for key in ("kind", "answer"):
        record.pop(key)
    record["betTransactionId"] = str(row.bet_transaction_id)
    return record


def get_cancel(conn: Connection, cancel_id: int | str) -> dict[str, Any]:
    """One cancel with the body sent (token masked) and every attempt."""
    pk = db_id(cancel_id, "cancel")
    row = conn.execute(select(provider_calls)
                       .where(provider_calls.c.id == pk, provider_calls.c.kind == "CancelRound")).first()
    if row is None:
        raise NotFound(f"cancel {cancel_id} not found")
    return _cancel_dict(row, attempts_of(conn, pk))


def list_cancels(
    conn: Connection,
    *,
    limit: int = 100,
    cursor: str | None = None,
    reference: str | None = None,
    round_id: str | None = None,
    user_id: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """CancelRound calls, newest first, keyset-paginated on the id. Returns (items, next_cursor)."""
    where: list[Any] = [provider_calls.c.kind == "CancelRound"]
    for column, value in ((provider_calls.c.reference, reference), (provider_calls.c.round_id, round_id),
                          (provider_calls.c.user_id, user_id)):
        if value is not None:
            where.append(column == value)
    rows, next_cursor = calls.calls_page(conn, where, limit, cursor)
    return [_cancel_dict(r) for r in rows], next_cursor

"""Cancel a bet's round at the provider, and keep the record. The admin API and the CLI call this.

Three short transactions, never one held across the network: the provider
calls back into this wallet's Refund *during* the CancelRound call, and that
Refund locks the player's row (SQLite: the whole database).

1. check the bet and commit a `pending` cancel (one per bet at a time, by a
   partial unique index);
2. each HTTP attempt is committed as it ends;
3. the final status is committed with the provider's answer.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from config import Settings
from wallet.jsonutil import dumps, loads
from wallet.ledger.models import iso, players, reversals, rounds, transactions, utcnow
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.ledger.services import round_settled
from wallet.provider.client import TOTAL_BUDGET, Attempt, ProviderClient
from wallet.provider.models import cancel_attempts, cancel_requests

log = logging.getLogger("wallet.provider")

MAX_PAGE = 1000
# A cancel still pending this long after it started belongs to a process that died mid-call.
STALE_AFTER = timedelta(seconds=TOTAL_BUDGET + 30)


def request_cancel(
    engine: Engine,
    settings: Settings,
    reference: str,
    *,
    requested_by: str,
    round_id: str | None = None,
    client: ProviderClient | None = None,
) -> dict[str, Any]:
    """Send CancelRound for the bet `reference` and return the stored record.

    NotFound: no such bet. Conflict: the bet is refunded, its round settled or
    cancelled, another cancel of it is in flight, or `round_id` is not its round.
    """
    with engine.begin() as conn:
        cancel_id, body = _open(conn, settings, reference, round_id, requested_by)
    client = client or ProviderClient.from_settings(settings)

    def store(attempt: Attempt) -> None:
        with engine.begin() as conn:
            conn.execute(insert(cancel_attempts).values(
                cancel_id=cancel_id,
                number=attempt.number,
                started_at=attempt.started_at,
                elapsed_ms=attempt.elapsed_ms,
                http_status=attempt.http_status,
                exception=attempt.exception,
                answer=attempt.answer,
            ))

    try:
        answer = client.cancel_round(body, store)
    except Exception:
        _finish(engine, cancel_id, "failed", None, "internal error while sending; see the service log")
        raise
    if answer is None:
        status, error, description = "failed", None, "no answer from the provider after every attempt"
    else:
        status = "confirmed" if answer.error == 0 else "rejected"
        error, description = answer.error, answer.description
    log.info("CancelRound id=%s reference=%s uuid=%s status=%s error=%s", cancel_id, reference, body["uuid"], status, error)
    _finish(engine, cancel_id, status, error, description)
    with engine.connect() as conn:
        return get_cancel(conn, cancel_id)


def _finish(engine: Engine, cancel_id: int, status: str, error: int | None, description: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(cancel_requests)
            .where(cancel_requests.c.id == cancel_id)
            .values(status=status, error=error, description=description, finished_at=utcnow())
        )


def _bet(conn: Connection, reference: str) -> Row[Any] | None:
    return conn.execute(
        select(
            transactions,
            players.c.user_id,
            rounds.c.round_id,
            rounds.c.status.label("round_status"),
            rounds.c.has_result,
            reversals.c.refund_id,
        )
        .select_from(
            transactions.join(players, players.c.id == transactions.c.player_id)
            .join(rounds, rounds.c.id == transactions.c.round_pk)
            .outerjoin(reversals, reversals.c.bet_id == transactions.c.id)
        )
        .where(transactions.c.reference == reference, transactions.c.kind == "bet")
    ).first()


def _open(
    conn: Connection, settings: Settings, reference: str, round_id: str | None, requested_by: str
) -> tuple[int, dict[str, Any]]:
    """Check that the bet may be cancelled and insert its pending record. Returns (id, body to send)."""
    bet = _bet(conn, reference)
    if bet is None:
        raise NotFound(f"no bet with reference {reference}")
    if round_id is not None and round_id != bet.round_id:
        raise Conflict(f"bet {reference} belongs to round {bet.round_id}, not {round_id}")
    if bet.refund_id is not None:
        raise Conflict(f"bet {reference} is already refunded (transaction {bet.refund_id})")
    if round_settled(bet.has_result, bet.round_status):
        raise Conflict(f"round {bet.round_id} is settled (it has a result or has ended); it cannot be cancelled")
    if bet.round_status == "cancelled":
        raise Conflict(f"round {bet.round_id} is already cancelled")
    _expire_stale(conn, bet.id)
    body = {
        "providerId": bet.provider_id or settings.provider_id,
        "userId": bet.user_id,
        "sessionId": bet.session_id,
        "currency": bet.currency,
        "gameId": bet.game_id,
        "gameName": bet.game_name,
        "reference": reference,
        "uuid": uuidlib.uuid4().hex,
        "roundId": bet.round_id,
    }
    try:
        with conn.begin_nested():
            cancel_id = conn.execute(
                insert(cancel_requests)
                .values(
                    uuid=body["uuid"],
                    requested_by=requested_by,
                    reference=reference,
                    bet_transaction_id=bet.id,
                    user_id=bet.user_id,
                    round_id=bet.round_id,
                    request_body=dumps(body),
                    status="pending",
                    created_at=utcnow(),
                )
                .returning(cancel_requests.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"a cancel of bet {reference} is already in progress") from exc
    return cancel_id, body


def _expire_stale(conn: Connection, bet_id: int) -> None:
    """Close a pending cancel whose sender died, so that the bet can be cancelled again."""
    conn.execute(
        update(cancel_requests)
        .where(
            cancel_requests.c.bet_transaction_id == bet_id,
            cancel_requests.c.status == "pending",
            cancel_requests.c.created_at < utcnow() - STALE_AFTER,
        )
        .values(status="failed", description="abandoned: the sender stopped before an answer", finished_at=utcnow())
    )


# --------------------------------------------------------------------------- reads


def _cancel_dict(row: Row[Any], attempts: list[Row[Any]] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": str(row.id),
        "status": row.status,
        "uuid": row.uuid,
        "requestedBy": row.requested_by,
        "reference": row.reference,
        "betTransactionId": str(row.bet_transaction_id),
        "userId": row.user_id,
        "roundId": row.round_id,
        "error": row.error,
        "description": row.description,
        "createdAt": iso(row.created_at),
        "finishedAt": iso(row.finished_at),
    }
    if attempts is None:
        record["attemptCount"] = row.attempt_count
    else:
        record["request"] = loads(row.request_body)
        record["attempts"] = [
            {
                "number": a.number,
                "startedAt": iso(a.started_at),
                "elapsedMs": a.elapsed_ms,
                "httpStatus": a.http_status,
                "exception": a.exception,
                "answer": a.answer,
            }
            for a in attempts
        ]
    return record


def get_cancel(conn: Connection, cancel_id: int | str) -> dict[str, Any]:
    """One cancel with the body sent and every attempt."""
    try:
        pk = int(cancel_id)
    except ValueError as exc:
        raise NotFound(f"cancel {cancel_id} not found") from exc
    row = conn.execute(select(cancel_requests).where(cancel_requests.c.id == pk)).first()
    if row is None:
        raise NotFound(f"cancel {cancel_id} not found")
    attempts = conn.execute(
        select(cancel_attempts).where(cancel_attempts.c.cancel_id == pk).order_by(cancel_attempts.c.number)
    ).all()
    return _cancel_dict(row, attempts)


def list_cancels(
    conn: Connection,
    *,
    limit: int = 100,
    cursor: str | None = None,
    reference: str | None = None,
    round_id: str | None = None,
    user_id: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paginated on the id (`cursor` = the last id seen). Returns (items, next_cursor)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    counts = (
        select(cancel_attempts.c.cancel_id, func.count().label("n"))
        .group_by(cancel_attempts.c.cancel_id)
        .subquery()
    )
    stmt = select(cancel_requests, func.coalesce(counts.c.n, 0).label("attempt_count")).select_from(
        cancel_requests.outerjoin(counts, counts.c.cancel_id == cancel_requests.c.id)
    )
    if reference is not None:
        stmt = stmt.where(cancel_requests.c.reference == reference)
    if round_id is not None:
        stmt = stmt.where(cancel_requests.c.round_id == round_id)
    if user_id is not None:
        stmt = stmt.where(cancel_requests.c.user_id == user_id)
    if cursor is not None:
        try:
            stmt = stmt.where(cancel_requests.c.id < int(cursor))
        except ValueError as exc:
            raise Invalid("cursor is not valid") from exc
    rows = conn.execute(stmt.order_by(cancel_requests.c.id.desc()).limit(limit + 1)).all()
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return [_cancel_dict(r) for r in rows[:limit]], next_cursor

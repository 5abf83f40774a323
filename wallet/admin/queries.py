"""Read-only ledger queries for operator staff. The admin API and the CLI both call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select

from wallet.ledger.models import players, reversals, rounds, transactions
from wallet.ledger.outcomes import Invalid, NotFound
from wallet.money import from_minor

MAX_PAGE = 1000


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite hands timestamps back without their zone; they were written in UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
TYPES = ("bet", "win", "refund", "adjustment")


def player_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "userId": row.user_id,
        "currency": row.currency,
        "status": row.status,
        "balance": from_minor(row.balance, row.currency),
        "createdAt": iso(row.created_at),
    }


def get_player(conn: Connection, user_id: str) -> dict[str, Any]:
    row = conn.execute(select(players).where(players.c.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"player {user_id} not found")
    return player_dict(row)


_refund_link = reversals.alias("refund_link")


def _transaction_select():  # type: ignore[no-untyped-def]
    """Transactions with owner, round, and (for a bet) the refund that reversed it."""
    return select(
        transactions,
        players.c.user_id,
        rounds.c.round_id,
        _refund_link.c.refund_id.label("refunded_by"),
    ).select_from(
        transactions.join(players, players.c.id == transactions.c.player_id)
        .outerjoin(rounds, rounds.c.id == transactions.c.round_pk)
        .outerjoin(_refund_link, _refund_link.c.bet_id == transactions.c.id)
    )


def transaction_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "transactionId": str(row.id),
        "type": row.kind,
        "reference": row.reference,
        "userId": row.user_id,
        "roundId": row.round_id,
        "amount": from_minor(row.amount, row.currency),
        "balanceAfter": from_minor(row.balance_after, row.currency),
        "currency": row.currency,
        "refundedBy": str(row.refunded_by) if row.refunded_by is not None else None,
        "sessionId": row.session_id,
        "gameId": row.game_id,
        "gameName": row.game_name,
        "uuid": row.request_uuid,
        "note": row.note,
        "createdAt": iso(row.created_at),
    }


@dataclass(frozen=True)
class TransactionFilter:
    user_id: str | None = None
    round_id: str | None = None
    reference: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_transactions(
    conn: Connection, f: TransactionFilter, limit: int = 100, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paginated on the transaction id: `cursor` is the last id seen.

    Returns (items, next_cursor); next_cursor is None on the last page.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    if f.type is not None and f.type not in TYPES:
        raise Invalid(f"type must be one of {', '.join(TYPES)}")
    conditions = []
    if f.user_id is not None:
        conditions.append(players.c.user_id == f.user_id)
    if f.round_id is not None:
        conditions.append(rounds.c.round_id == f.round_id)
    if f.reference is not None:
        conditions.append(transactions.c.reference == f.reference)
    if f.type is not None:
        conditions.append(transactions.c.kind == f.type)
    if f.since is not None:
        conditions.append(transactions.c.created_at >= f.since)
    if f.until is not None:
        conditions.append(transactions.c.created_at < f.until)
    if cursor is not None:
        try:
            conditions.append(transactions.c.id < int(cursor))
        except ValueError as exc:
            raise Invalid("cursor is not valid") from exc
    rows = conn.execute(
        _transaction_select().where(and_(True, *conditions)).order_by(transactions.c.id.desc()).limit(limit + 1)
    ).all()
    items = [transaction_dict(r) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return items, next_cursor


def get_round(conn: Connection, round_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(rounds, players.c.user_id)
        .select_from(rounds.join(players, players.c.id == rounds.c.player_id))
        .where(rounds.c.round_id == round_id)
    ).first()
    if row is None:
        raise NotFound(f"round {round_id} not found")
    entries = conn.execute(
        _transaction_select().where(transactions.c.round_pk == row.id).order_by(transactions.c.id)
    ).all()
    return {
        "roundId": row.round_id,
        "userId": row.user_id,
        "gameId": row.game_id,
        "status": row.status,
        "hasResult": bool(row.has_result),
        "createdAt": iso(row.created_at),
        "entries": [transaction_dict(e) for e in entries],
    }


def reconciliation(conn: Connection) -> dict[str, Any]:
    """Check the ledger's invariants; each mismatch is named so that staff can act on it.

    * every player's balance equals the sum of that player's entries, and the
      last entry's balance_after;
    * every reversal nets its bet to zero, and links a bet to a refund;
    * every refund's amount equals the sum of the bets it reversed.
    """
    mismatches: list[dict[str, Any]] = []
    sums = (
        select(transactions.c.player_id, func.coalesce(func.sum(transactions.c.amount), 0).label("total"))
        .group_by(transactions.c.player_id)
        .subquery()
    )
    for row in conn.execute(
        select(players.c.user_id, players.c.currency, players.c.balance, func.coalesce(sums.c.total, 0).label("total"))
        .select_from(players.outerjoin(sums, sums.c.player_id == players.c.id))
        .where(players.c.balance != func.coalesce(sums.c.total, 0))
    ):
        mismatches.append({
            "kind": "balance_differs_from_entries",
            "userId": row.user_id,
            "balance": from_minor(row.balance, row.currency),
            "sumOfEntries": from_minor(int(row.total), row.currency),
        })

    last = (
        select(transactions.c.player_id, func.max(transactions.c.id).label("last_id"))
        .group_by(transactions.c.player_id)
        .subquery()
    )
    for row in conn.execute(
        select(players.c.user_id, players.c.currency, players.c.balance, transactions.c.id, transactions.c.balance_after)
        .select_from(
            players.join(last, last.c.player_id == players.c.id).join(transactions, transactions.c.id == last.c.last_id)
        )
        .where(transactions.c.balance_after != players.c.balance)
    ):
        mismatches.append({
            "kind": "balance_differs_from_last_entry",
            "userId": row.user_id,
            "transactionId": str(row.id),
            "balance": from_minor(row.balance, row.currency),
            "balanceAfter": from_minor(row.balance_after, row.currency),
        })

    bet, refund = transactions.alias("bet"), transactions.alias("refund")
    for row in conn.execute(
        select(reversals.c.bet_id, reversals.c.refund_id, reversals.c.amount, bet.c.kind, bet.c.amount.label("bet_amount"),
               bet.c.reference, bet.c.currency, refund.c.kind.label("refund_kind"))
        .select_from(
            reversals.join(bet, bet.c.id == reversals.c.bet_id).join(refund, refund.c.id == reversals.c.refund_id)
        )
        .where((bet.c.amount + reversals.c.amount != 0) | (bet.c.kind != "bet") | (refund.c.kind != "refund"))
    ):
        mismatches.append({
            "kind": "refund_does_not_net_bet",
            "reference": row.reference,
            "betTransactionId": str(row.bet_id),
            "refundTransactionId": str(row.refund_id),
            "betAmount": from_minor(row.bet_amount, row.currency),
            "refunded": from_minor(row.amount, row.currency),
        })

    linked = (
        select(reversals.c.refund_id, func.sum(reversals.c.amount).label("total"))
        .group_by(reversals.c.refund_id)
        .subquery()
    )
    for row in conn.execute(
        select(transactions.c.id, transactions.c.reference, transactions.c.amount, transactions.c.currency,
               func.coalesce(linked.c.total, 0).label("total"))
        .select_from(transactions.outerjoin(linked, linked.c.refund_id == transactions.c.id))
        .where(transactions.c.kind == "refund", transactions.c.amount != func.coalesce(linked.c.total, 0))
    ):
        mismatches.append({
            "kind": "refund_amount_differs_from_bets",
            "reference": row.reference,
            "refundTransactionId": str(row.id),
            "amount": from_minor(row.amount, row.currency),
            "sumOfReversedBets": from_minor(int(row.total), row.currency),
        })
    return {"ok": not mismatches, "mismatches": mismatches}

"""The admin side's writes to the ledger. Each runs inside one transaction that its caller owns.

Money moves only inside stored functions (wallet/ledger/sql/): an adjustment is
one call of `wallet_adjust`, whose outcome this module turns into the admin
API's errors. Opening a wallet and freezing one move no money.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, select, text, update
from sqlalchemy.dialects.postgresql import insert

from wallet import clock
from wallet.ledger.models import players, transactions
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.money import is_known_currency

_ADJUST = text("SELECT o_outcome, o_description, o_id FROM wallet_adjust(:user_id, :reference, :amount, :reason, :now)")
_OUTCOME_ERRORS = {"not_found": NotFound, "invalid": Invalid, "conflict": Conflict}


def create_player(conn: Connection, user_id: str, currency: str) -> Row[Any]:
    if not user_id or len(user_id) > 128:
        raise Invalid("userId must be 1 to 128 characters")
    if not is_known_currency(currency):
        raise Invalid(f"currency {currency!r} is not an ISO 4217 code this wallet can hold")
    now = clock.utcnow()
    created = conn.execute(
        insert(players)
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
        .values(status=status, updated_at=clock.utcnow())
        .returning(players)
    ).first()
    if row is None:
        raise NotFound(f"player {user_id} not found")
    return row


def adjust(
    conn: Connection, user_id: str, amount: Decimal, reference: str, reason: str
) -> tuple[bool, Row[Any]]:
    """A signed manual credit/debit, idempotent by reference (wallet/ledger/sql/adjust.sql).

    Returns (created, transaction row); raises NotFound, Invalid or Conflict.
    """
    outcome, description, tx_id = conn.execute(
        _ADJUST, {"user_id": user_id, "reference": reference, "amount": amount, "reason": reason, "now": clock.utcnow()}
    ).one()
    if outcome in _OUTCOME_ERRORS:
        raise _OUTCOME_ERRORS[outcome](description)
    row = conn.execute(select(transactions).where(transactions.c.id == tx_id)).one()
    return outcome == "created", row

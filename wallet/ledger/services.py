"""The admin side's writes to the ledger. Each runs inside one transaction that its caller owns.

Money moves only inside stored functions (wallet/ledger/sql/): an adjustment is
one call of `wallet_adjust`, whose outcome this module turns into the admin
API's errors. Opening a wallet and freezing one move no money.

Every write takes the `actor` (wallet/people/staff.py), checks the actor's role,
and appends its audit entry (wallet/people/audit.py) in the same transaction: the
API, the CLI and the back-office site audit the same way. A repetition that
changes nothing (an adjustment's reference again, a status already set) writes
no entry.

Four eyes: a finance or admin adjustment whose absolute amount is at or above its
currency's threshold (WALLET_APPROVAL_THRESHOLDS) is stored pending
(`adjustment_requests`) and moves no money until a different finance or admin
person approves it; approving posts it through the same `wallet_adjust`, whose
balance check then applies (a refusal leaves it pending).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, select, text, update
from sqlalchemy.dialects.postgresql import insert

from wallet import clock, cursors
from wallet.people import audit
from wallet.people.staff import APPROVAL_ROLES, Forbidden, require
from wallet.ledger.models import adjustment_requests, iso, players, transactions
from wallet.ledger.outcomes import Conflict, Invalid, NotFound
from wallet.money import AmountError, from_minor, is_known_currency, to_minor

if TYPE_CHECKING:
    from wallet.people.staff import Actor

_ADJUST = text("SELECT o_outcome, o_description, o_id FROM wallet_adjust(:user_id, :reference, :amount, :reason, :now)")
_OUTCOME_ERRORS = {"not_found": NotFound, "invalid": Invalid, "conflict": Conflict}


def create_player(conn: Connection, user_id: str, currency: str, *, actor: Actor, reason: str | None = None
                  ) -> Row[Any]:
    require(actor, "player.create")
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
    audit.record(conn, actor, "player.create", audit.target("player", user_id), reason, None,
                 {"userId": user_id, "currency": currency, "status": "active"})
    return created


def check_reason(reason: Any) -> str:
    """The reason every write that changes money, a status, limits or games needs (Invalid: 422)."""
    from wallet.controls.service import check_reason as check  # the one rule, kept with the controls

    return check(reason)


def set_status(conn: Connection, user_id: str, status: str, *, actor: Actor, reason: str) -> Row[Any]:
    """Freeze or unfreeze a player (with a reason); the row after. Setting the status it has changes nothing."""
    require(actor, "player.controls")
    check_reason(reason)
    if status not in ("active", "frozen"):
        raise Invalid("status must be 'active' or 'frozen'")
    before = conn.execute(select(players).where(players.c.user_id == user_id).with_for_update()).first()
    if before is None:
        raise NotFound(f"player {user_id} not found")
    if before.status == status:
        return before
    row = conn.execute(
        update(players)
        .where(players.c.id == before.id)
        .values(status=status, updated_at=clock.utcnow())
        .returning(players)
    ).one()
    audit.record(conn, actor, "player.status", audit.target("player", user_id), reason,
                 {"status": before.status}, {"status": row.status})
    return row


def _post(conn: Connection, user_id: str, amount: Decimal, reference: str, reason: str) -> tuple[bool, Row[Any]]:
    outcome, description, tx_id = conn.execute(
        _ADJUST, {"user_id": user_id, "reference": reference, "amount": amount, "reason": reason, "now": clock.utcnow()}
    ).one()
    if outcome in _OUTCOME_ERRORS:
        raise _OUTCOME_ERRORS[outcome](description)
    row = conn.execute(select(transactions).where(transactions.c.id == tx_id)).one()
    return outcome == "created", row


def _adjustment_audit(row: Row[Any], user_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of a posted adjustment, from its ledger entry (the balance it left)."""
    c = row.currency
    return ({"balance": from_minor(row.balance_after - row.amount, c)},
            {"userId": user_id, "reference": row.reference, "amount": from_minor(row.amount, c), "currency": c,
             "transactionId": str(row.id), "balance": from_minor(row.balance_after, c)})


def adjust(
    conn: Connection, user_id: str, amount: Decimal, reference: str, reason: str, *, actor: Actor
) -> tuple[bool, Row[Any]]:
    """A signed manual credit/debit posted at once, idempotent by reference (wallet/ledger/sql/adjust.sql),
    whatever its amount: the caller decides whether it needs approval (`request_adjustment` does).

    Returns (created, transaction row); raises Forbidden, NotFound, Invalid or Conflict.
    """
    require(actor, "adjustment.create")
    check_reason(reason)
    created, row = _post(conn, user_id, amount, reference, reason)
    if created:
        audit.record(conn, actor, "adjustment.create", audit.target("player", user_id), reason,
                     *_adjustment_audit(row, user_id))
    return created, row


# --------------------------------------------------------------------------- four eyes


@dataclass(frozen=True)
class AdjustmentOutcome:
    """What an adjustment request did: `posted` (the ledger entry `transaction`) or `pending` (the
    request `request`, waiting for approval); `created` False for a repetition that did nothing."""

    status: str
    created: bool
    transaction: Row[Any] | None = None
    request: dict[str, Any] | None = None


def request_dict(row: Row[Any], user_id: str, currency: str) -> dict[str, Any]:
    return {"id": str(row.id), "status": row.status, "userId": user_id, "amount": from_minor(row.amount, currency),
            "currency": currency, "reference": row.reference, "reason": row.reason, "requestedBy": row.requested_by,
            "requestedAt": iso(row.requested_at), "decidedBy": row.decided_by, "decidedAt": iso(row.decided_at),
            "decisionReason": row.decision_reason,
            "transactionId": str(row.transaction_id) if row.transaction_id is not None else None}


def needs_approval(actor: Actor, currency: str, amount: Decimal, thresholds: Mapping[str, Decimal]) -> bool:
    """Four eyes: finance and admin, at or above the currency's threshold (no threshold: never)."""
    threshold = thresholds.get(currency)
    return actor.role in APPROVAL_ROLES and threshold is not None and abs(amount) >= threshold


def _requests_select() -> Any:
    return (select(adjustment_requests, players.c.user_id, players.c.currency)
            .select_from(adjustment_requests.join(players, players.c.id == adjustment_requests.c.player_id)))


def request_adjustment(conn: Connection, user_id: str, amount: Decimal, reference: str, reason: str, *,
                       actor: Actor, thresholds: Mapping[str, Decimal]) -> AdjustmentOutcome:
    """An adjustment as staff ask for it: posted at once, or stored pending when it needs approval.

    A reference already held by a request answers that request (a repetition: created False) when the
    player, amount and reason are the same, Conflict otherwise; one held by a posted adjustment is
    wallet_adjust's to answer (repeated, or Conflict).
    """
    require(actor, "adjustment.create")
    check_reason(reason)
    player = conn.execute(select(players).where(players.c.user_id == user_id)).first()
    if player is None:
        raise NotFound(f"player {user_id} not found")
    try:
        minor = to_minor(amount, player.currency)
    except AmountError as exc:
        raise Invalid(f"amount: {exc}; amounts are never rounded") from exc
    if minor == 0:
        raise Invalid("amount must not be zero")
    existing = _existing_request(conn, reference, player.id, minor, reason)
    if existing is not None:
        return existing
    if not needs_approval(actor, player.currency, amount, thresholds) or conn.execute(
            select(transactions.c.id).where(transactions.c.reference == reference,
                                            transactions.c.kind == "adjustment")).first() is not None:
        created, row = adjust(conn, user_id, amount, reference, reason, actor=actor)
        return AdjustmentOutcome("posted", created, transaction=row)
    row = conn.execute(
        insert(adjustment_requests).values(
            player_id=player.id, reference=reference, amount=minor, reason=reason, status="pending",
            requested_by=actor.name, requested_at=clock.utcnow())
        .on_conflict_do_nothing(index_elements=["reference"]).returning(adjustment_requests)
    ).first()
    if row is None:  # another request took the reference meanwhile
        existing = _existing_request(conn, reference, player.id, minor, reason)
        assert existing is not None
        return existing
    view = request_dict(row, user_id, player.currency)
    audit.record(conn, actor, "adjustment.request", audit.target("player", user_id), reason, None,
                 {k: view[k] for k in ("id", "status", "userId", "amount", "currency", "reference")})
    return AdjustmentOutcome("pending", True, request=view)


def _existing_request(conn: Connection, reference: str, player_id: int, minor: int, reason: str
                      ) -> AdjustmentOutcome | None:
    row = conn.execute(_requests_select().where(adjustment_requests.c.reference == reference)).first()
    if row is None:
        return None
    if (row.player_id, row.amount, row.reason) != (player_id, minor, reason):
        raise Conflict(f"adjustment {reference} already exists with other content")
    if row.status == "posted":
        tx = conn.execute(select(transactions).where(transactions.c.id == row.transaction_id)).one()
        return AdjustmentOutcome("posted", False, transaction=tx)
    return AdjustmentOutcome(row.status, False, request=request_dict(row, row.user_id, row.currency))


def get_adjustment_request(conn: Connection, request_id: int) -> dict[str, Any]:
    row = conn.execute(_requests_select().where(adjustment_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"adjustment {request_id} not found")
    return request_dict(row, row.user_id, row.currency)


def list_adjustment_requests(conn: Connection, status: str | None = None, limit: int = 100,
                             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Adjustment requests, newest first, keyset-paginated on the id (the transactions' cursor form)."""
    stmt = _requests_select()
    if status is not None:
        stmt = stmt.where(adjustment_requests.c.status == status)
    if cursor is not None:
        stmt = stmt.where(adjustment_requests.c.id < cursors.decode_id("tx", cursor))
    rows = conn.execute(stmt.order_by(adjustment_requests.c.id.desc()).limit(limit + 1)).all()
    next_cursor = cursors.encode("tx", rows[limit - 1].id) if len(rows) > limit else None
    return [request_dict(r, r.user_id, r.currency) for r in rows[:limit]], next_cursor


def decide_adjustment(conn: Connection, request_id: int, approve: bool, *, actor: Actor,
                      reason: str | None = None) -> dict[str, Any]:
    """Approve (post it: wallet_adjust, its balance check included) or reject a pending adjustment.

    Forbidden: the actor may not decide, or asked for it. Conflict: already decided, or posting it
    would take the balance below zero (then it stays pending, nothing recorded). Returns the request.
    """
    require(actor, "adjustment.decide")
    row = conn.execute(_requests_select().where(adjustment_requests.c.id == request_id)
                       .with_for_update(of=adjustment_requests)).first()
    if row is None:
        raise NotFound(f"adjustment {request_id} not found")
    if row.status != "pending":
        raise Conflict(f"adjustment {request_id} is already {row.status} (by {row.decided_by})")
    if row.requested_by == actor.name:
        raise Forbidden(f"role {actor.role} may not approve or reject one's own adjustment: "
                        "a different finance or admin person decides it")
    if reason is not None:
        check_reason(reason)
    values: dict[str, Any] = {"status": "posted" if approve else "rejected", "decided_by": actor.name,
                              "decided_at": clock.utcnow(), "decision_reason": reason}
    before = {"status": "pending"}
    after: dict[str, Any] = {"id": str(row.id), "status": values["status"], "reference": row.reference,
                             "amount": from_minor(row.amount, row.currency), "currency": row.currency,
                             "requestedBy": row.requested_by}
    if approve:
        _, tx = _post(conn, row.user_id, from_minor(row.amount, row.currency), row.reference, row.reason)
        values["transaction_id"] = tx.id
        posted_before, posted = _adjustment_audit(tx, row.user_id)
        before.update(posted_before)
        after.update(transactionId=posted["transactionId"], balance=posted["balance"])
    decided = conn.execute(update(adjustment_requests).where(adjustment_requests.c.id == row.id)
                           .values(**values).returning(adjustment_requests)).one()
    audit.record(conn, actor, "adjustment.approve" if approve else "adjustment.reject",
                 audit.target("player", row.user_id), reason or row.reason, before, after)
    return request_dict(decided, row.user_id, row.currency)

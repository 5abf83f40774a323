"""The record of every CancelRound the operator sent (PROTOCOL.md section 4).

Unlike the ledger these rows change: a cancel starts `pending` (committed
before the first HTTP call) and ends `confirmed`, `rejected` or `failed`.
They share the ledger's declarative Base so that Alembic sees one metadata.
No secret is ever stored here: the request body and the provider's answers
carry none.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from wallet.ledger.models import Base, Id, utcnow

CANCEL_STATUSES = ("pending", "confirmed", "rejected", "failed")


class CancelRequest(Base):
    """One CancelRound asked by operator staff: one uuid, sent once or retried with the same uuid."""

    __tablename__ = "cancel_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'failed')", name="status"),
        # At most one cancel in flight per bet, whichever process or host sends it.
        Index(
            "uq_cancel_requests_pending_bet",
            "bet_transaction_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_cancel_requests_reference", "reference"),
        Index("ix_cancel_requests_round_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by: Mapped[str] = mapped_column(String(256))
    reference: Mapped[str] = mapped_column(String(128))
    bet_transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    user_id: Mapped[str] = mapped_column(String(128))
    round_id: Mapped[str] = mapped_column(String(128))
    request_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CancelAttempt(Base):
    """One HTTP attempt of a cancel: what came back (status and body) or what went wrong."""

    __tablename__ = "cancel_attempts"
    __table_args__ = (UniqueConstraint("cancel_id", "number", name="uq_cancel_attempts_cancel_id_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    cancel_id: Mapped[int] = mapped_column(ForeignKey("cancel_requests.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    elapsed_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    exception: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)


cancel_requests = CancelRequest.__table__
cancel_attempts = CancelAttempt.__table__

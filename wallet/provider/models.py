"""The record of every call the operator makes to the provider, and of every stale-round sweep.

Unlike the ledger these rows change: a call starts `pending` (committed before
the first HTTP attempt) and ends `confirmed` (the provider answered error 0),
`rejected` (it answered another code: its final word) or `failed` (no usable
answer after every attempt). A CancelRound is one such call, of kind
`CancelRound`, naming the bet it cancels. They share the ledger's declarative
Base so that Alembic sees one metadata (migration 0008 builds them).

No secret is ever stored: the provider's token is replaced by "***" in the
request body kept here, and scrubbed from anything the provider sent back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wallet.ledger.models import Base, Id, rounds, utcnow
from wallet.limits import (
    CANCEL_UUID_LENGTH,
    IDENTIFIER_LENGTH,
    OPERATOR_NAME_LENGTH,
    PROVIDER_WORD_LENGTH,
    WORD_LENGTH,
)

CALL_KINDS = ("CancelRound", "GetRoundStatus", "CloseSession", "HealthCheck")
CALL_STATUSES = ("pending", "confirmed", "rejected", "failed")


class ProviderCall(Base):
    """One operator -> provider call: one uuid, sent once or retried with the same uuid and body."""

    __tablename__ = "provider_calls"
    __table_args__ = (
        CheckConstraint("kind IN ('CancelRound', 'GetRoundStatus', 'CloseSession', 'HealthCheck')", name="kind"),
        CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'failed')", name="status"),
        # At most one cancel of a bet in flight, whichever process or host sends it.
        Index("uq_provider_calls_pending_bet", "bet_transaction_id", unique=True,
              postgresql_where=text("status = 'pending'")),
        # A sweep cancels a round once: its claim is this row (a failed call, which the provider may
        # never have received, gives the round back to the next sweep). Sweeps INSERT ... ON CONFLICT
        # DO NOTHING: the database picks one sweep when two race.
        Index("uq_provider_calls_swept_round", "round_pk", unique=True,
              postgresql_where=text("sweep_id IS NOT NULL AND kind = 'CancelRound' AND status <> 'failed'")),
        Index("ix_provider_calls_kind_id", "kind", "id"),
        Index("ix_provider_calls_reference", "reference"),
        Index("ix_provider_calls_round_id", "round_id"),
        Index("ix_provider_calls_user_id", "user_id"),
        Index("ix_provider_calls_round_pk", "round_pk"),
        Index("ix_provider_calls_sweep_id", "sweep_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(WORD_LENGTH))
    uuid: Mapped[str] = mapped_column(String(CANCEL_UUID_LENGTH), unique=True)
    requested_by: Mapped[str] = mapped_column(String(OPERATOR_NAME_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    round_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    reference: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    bet_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))
    round_pk: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("round_sweeps.id"))
    request_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(WORD_LENGTH), default="pending")
    error: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProviderCallAttempt(Base):
    """One HTTP attempt of a call: what came back (status and body), what went wrong, and why it was
    not the provider's final word (`problem`)."""

    __tablename__ = "provider_call_attempts"
    __table_args__ = (UniqueConstraint("call_id", "number", name="uq_provider_call_attempts_call_id_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("provider_calls.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    elapsed_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    exception: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)


class RoundSweep(Base):
    """One stale-round sweep (section 11): who ran it, on what, and what it found and sent."""

    __tablename__ = "round_sweeps"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(OPERATOR_NAME_LENGTH))
    reason: Mapped[str | None] = mapped_column(Text)
    older_than_hours: Mapped[float] = mapped_column(Float)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    rounds_found: Mapped[int] = mapped_column(Integer, default=0)
    cancels_sent: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RoundSweepItem(Base):
    """What a sweep decided for one stale round, with the calls it made for it."""

    __tablename__ = "round_sweep_items"
    __table_args__ = (Index("ix_round_sweep_items_sweep_id", "sweep_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("round_sweeps.id"))
    round_pk: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    round_id: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    user_id: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    provider_status: Mapped[str | None] = mapped_column(String(PROVIDER_WORD_LENGTH))
    outcome: Mapped[str] = mapped_column(String(PROVIDER_WORD_LENGTH))
    status_call_id: Mapped[int | None] = mapped_column(ForeignKey("provider_calls.id"))
    cancel_call_id: Mapped[int | None] = mapped_column(ForeignKey("provider_calls.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Stale rounds (wallet/provider/sweeper.py) are open rounds with neither a Result nor an EndRound: a
# small part of all rounds, found through this partial index without reading the others. Declared
# here, beside the only code that reads it; it belongs to the ledger's `rounds` table.
Index("ix_rounds_open_unsettled", rounds.c.id, postgresql_where=text("status = 'open' AND NOT settled"))

provider_calls = ProviderCall.__table__
provider_call_attempts = ProviderCallAttempt.__table__
round_sweeps = RoundSweep.__table__
round_sweep_items = RoundSweepItem.__table__

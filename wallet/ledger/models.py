"""The ledger schema. Alembic migrations are written from (and tested against) these models.

Money columns hold signed integer minor units of the player's currency.
`transactions` rows are the ledger: inserted once, never updated or deleted.
A refund is a new `refund` transaction; which bets it reversed is recorded in
`reversals`, whose primary key is the bet, so the database itself refuses to
reverse a bet twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER (which is 64-bit and the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

PLAYER_STATUSES = ("active", "frozen")
ROUND_STATUSES = ("open", "cancelled", "ended")
KINDS = ("bet", "win", "refund", "adjustment")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite hands timestamps back without their zone; they were written in UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Player(Base):
    __tablename__ = "players"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("status IN ('active', 'frozen')", name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="active")
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Round(Base):
    """A provider game round of one player. `has_result` and status 'ended' make it settled.

    Keyed by (player, roundId): one player's callbacks can never open, settle,
    end or cancel another player's round, whatever round ids the provider uses.
    """

    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'cancelled', 'ended')", name="status"),
        UniqueConstraint("player_id", "round_id", name="uq_rounds_player_id_round_id"),
        Index("ix_rounds_round_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    round_id: Mapped[str] = mapped_column(String(128))
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    game_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="open")
    has_result: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transaction(Base):
    """One immutable ledger entry. `amount` is signed: bets negative, wins and refunds positive."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("reference", "kind", name="uq_transactions_reference_kind"),
        CheckConstraint("kind IN ('bet', 'win', 'refund', 'adjustment')", name="kind"),
        CheckConstraint(
            "(kind = 'bet' AND amount <= 0) OR (kind IN ('win', 'refund') AND amount >= 0)"
            " OR kind = 'adjustment'",
            name="amount_sign",
        ),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        Index("ix_transactions_player_id_id", "player_id", "id"),
        Index("ix_transactions_created_at", "created_at"),
        # Admin queries (migration 0003): each filter of the newest-first listing walks one of
        # these backwards, so a page never sorts or counts the whole table.
        Index("ix_transactions_round_pk_id", "round_pk", "id"),
        Index("ix_transactions_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    round_pk: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    request_uuid: Mapped[str | None] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(256))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    game_id: Mapped[str | None] = mapped_column(String(128))
    game_name: Mapped[str | None] = mapped_column(String(128))
    round_details: Mapped[str | None] = mapped_column(Text)
    bonus_code: Mapped[str | None] = mapped_column(String(128))
    provider_ts: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Reversal(Base):
    """Links a bet to the refund that reversed it. The bet is the key: at most one reversal each."""

    __tablename__ = "reversals"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    bet_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class RequestLog(Base):
    """One row per callback uuid: what was asked (hash) and what was answered (JSON)."""

    __tablename__ = "requests"

    uuid: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    body_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


players = Player.__table__
rounds = Round.__table__
transactions = Transaction.__table__
reversals = Reversal.__table__
requests_log = RequestLog.__table__

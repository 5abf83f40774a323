"""The ledger schema. Alembic migrations are written from (and tested against) these models.

Money columns hold signed integer minor units of the player's currency.
`transactions` rows are the ledger: inserted once, never updated or deleted.
A refund is a new `refund` transaction; which bets it reversed is recorded in
`reversals`, whose primary key is the bet, so the database itself refuses to
reverse a bet twice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wallet.clock import utcnow

from wallet.limits import (
    CURRENCY_LENGTH,
    FREE_TEXT_LENGTH,
    HASH_LENGTH,
    IDENTIFIER_LENGTH,
    OPERATOR_NAME_LENGTH,
    SESSION_ID_LENGTH,
    WORD_LENGTH,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Surrogate keys: BIGINT. Column lengths come from wallet/limits.py, which the callback schemas
# check at the edge too (a value the database would refuse is a final 7 there, never a retry).
Id = BigInteger()

PLAYER_STATUSES = ("active", "frozen")
ROUND_STATUSES = ("open", "cancelled", "ended")
KINDS = ("bet", "win", "refund", "adjustment", "cancel", "promo", "jackpot", "bonus")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (a naive time is taken as UTC: the wallet writes UTC)."""
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
    user_id: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH), unique=True)
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    status: Mapped[str] = mapped_column(String(WORD_LENGTH), default="active")
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    excluded_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # self-exclusion
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Round(Base):
    """A provider game round of one player.

    Keyed by (player, roundId): one player's callbacks can never open, settle,
    end or cancel another player's round, whatever round ids the provider uses.
    """

    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'cancelled', 'ended')", name="status"),
        UniqueConstraint("player_id", "round_id", name="uq_rounds_player_id_round_id"),
        Index("ix_rounds_round_id", "round_id"),
        # GET /admin/rounds by status (open, settled, ended, cancelled), newest first. (Not one on
        # (player_id, id): planned from small statistics, the callbacks' look-up of a player's round
        # took it over uq_rounds_player_id_round_id and read all the player's rounds.)
        Index("ix_rounds_status_has_result_id", "status", "has_result", "id"),
        # Stale rounds (wallet/provider/sweeper.py): the open, unsettled ones created before a cut-off.
        Index("ix_rounds_open_created_at", "created_at", "id", postgresql_where=text("status = 'open' AND NOT settled")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    round_id: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    game_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    status: Mapped[str] = mapped_column(String(WORD_LENGTH), default="open")
    has_result: Mapped[bool] = mapped_column(Boolean, default=False)
    # The one statement of "settled": the database computes it; Refund, CancelRound and the admin read it.
    settled: Mapped[bool] = mapped_column(
        Boolean, Computed("has_result OR status = 'ended'", persisted=True),
        comment="The round has a Result or an EndRound: its bets are no longer refundable",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transaction(Base):
    """One immutable ledger entry. `amount` is signed: bets negative, wins and refunds positive."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("reference", "kind", name="uq_transactions_reference_kind"),
        CheckConstraint("kind IN ('bet', 'win', 'refund', 'adjustment', 'cancel', 'promo', 'jackpot', 'bonus')",
                        name="kind"),
        CheckConstraint(
            "(kind = 'bet' AND amount <= 0) OR (kind IN ('win', 'refund', 'cancel', 'promo', 'jackpot', 'bonus')"
            " AND amount >= 0) OR kind = 'adjustment'",
            name="amount_sign",
        ),
        # Refund and Cancel share one key per bet: at most one reversal under a reference.
        Index("uq_transactions_reversal_reference", "reference", unique=True,
              postgresql_where=text("kind IN ('refund', 'cancel')")),
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        Index("ix_transactions_player_id_id", "player_id", "id"),
        Index("ix_transactions_created_at", "created_at"),
        # Admin queries (migration 0003): each filter of the newest-first listing walks one of
        # these backwards, so a page never sorts or counts the whole table.
        Index("ix_transactions_round_pk_id", "round_pk", "id"),
        Index("ix_transactions_kind_id", "kind", "id"),
        # A player's entries of a period, for the loss and wager limits (wallet/ledger/sql/limits.sql).
        Index("ix_transactions_player_id_created_at", "player_id", "created_at",
              postgresql_include=["kind", "amount"],
              postgresql_where=text("kind IN ('bet', 'win', 'refund', 'cancel') AND amount <> 0")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(WORD_LENGTH))
    reference: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    round_pk: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    request_uuid: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    session_id: Mapped[str | None] = mapped_column(String(SESSION_ID_LENGTH))
    provider_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    game_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    game_name: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    round_details: Mapped[str | None] = mapped_column(Text)
    bonus_code: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    provider_ts: Mapped[str | None] = mapped_column(String(FREE_TEXT_LENGTH))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Prizes (wallet/ledger/sql/prizes.sql): a promo win's campaign, a jackpot win's jackpot, the
    # amount a prize announced (a bonus win recorded and not credited has amount 0).
    campaign_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    campaign_type: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    jackpot_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    announced_amount: Mapped[int | None] = mapped_column(BigInteger)
    given_round_id: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))  # a PromoWin's roundId, as given


class Session(Base):
    """A provider game session of one player: recorded at its first Bet, or expired by SessionExpired."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("player_id", "session_id", name="uq_sessions_player_id_session_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    first_bet_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reality_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the last 210 given


class Game(Base):
    """The game catalogue: a game is recorded on its first Bet, enabled; staff may disable it (8)."""

    __tablename__ = "games"

    game_id: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH), primary_key=True)
    game_name: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


LIMIT_NAMES = ("max_bet", "loss_day", "loss_week", "loss_month", "wager_day", "wager_week", "wager_month",
               "reality_check")


class PlayerLimit(Base):
    """One limit of one player (wallet/ledger/sql/limits.sql): the value in force (NULL: none) and a
    loosening pending until `pending_at`. Amounts in minor units; reality_check in minutes."""

    __tablename__ = "player_limits"
    __table_args__ = (
        CheckConstraint("name IN ('" + "', '".join(LIMIT_NAMES) + "')", name="name"),
        CheckConstraint("value >= 0 AND pending_value >= 0", name="not_negative"),
    )

    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(WORD_LENGTH), primary_key=True)
    value: Mapped[int | None] = mapped_column(BigInteger)
    pending_value: Mapped[int | None] = mapped_column(BigInteger)
    pending_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlayerPeriodTotals(Base):
    """A limited player's totals of the current day, week and month in `zone` (arrays of three: day,
    week, month), minor units: derived from the ledger, kept for a Bet to read in one row
    (wallet/ledger/sql/limits.sql)."""

    __tablename__ = "player_period_totals"
    __table_args__ = (
        CheckConstraint("cardinality(starts_at) = 3 AND cardinality(ends_at) = 3 AND cardinality(bets) = 3 "
                        "AND cardinality(wins) = 3 AND cardinality(reversed) = 3", name="periods"),
    )

    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"), primary_key=True)
    zone: Mapped[str] = mapped_column(Text, primary_key=True)
    starts_at: Mapped[list[datetime | None]] = mapped_column(ARRAY(DateTime(timezone=True)))
    ends_at: Mapped[list[datetime | None]] = mapped_column(ARRAY(DateTime(timezone=True)))
    bets: Mapped[list[int | None]] = mapped_column(ARRAY(BigInteger))
    wins: Mapped[list[int | None]] = mapped_column(ARRAY(BigInteger))
    reversed: Mapped[list[int | None]] = mapped_column(ARRAY(BigInteger))


class Reversal(Base):
    """Links a bet to the refund that reversed it. The bet is the key: at most one reversal each."""

    __tablename__ = "reversals"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    bet_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


# The callbacks' request log (wallet/ledger/sql/requests.sql): partitioned by UTC day, so that old days
# are dropped whole; its partitions (requests_YYYYMMDD, requests_default) are not models
# (PARTITION_TABLE). A row with a `response` is a stored answer, unique per (uuid, day); one without
# is only a record for staff (an answer 100, a request refused before the database).
requests_log = Table(
    "requests",
    Base.metadata,
    Column("id", BigInteger, nullable=False, server_default=text("nextval('requests_id_seq')")),
    Column("day", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("uuid", String(IDENTIFIER_LENGTH)),
    Column("method", String(WORD_LENGTH), nullable=False),
    Column("user_id", String(IDENTIFIER_LENGTH)),
    Column("reference", String(IDENTIFIER_LENGTH)),
    Column("error", Integer, nullable=False),
    Column("description", Text),
    Column("body_hash", String(HASH_LENGTH)),
    Column("response", Text),
    Index("uq_requests_uuid_day", "uuid", "day", unique=True, postgresql_where=text("response IS NOT NULL")),
    Index("ix_requests_created_at_id", "created_at", "id"),
    Index("ix_requests_reference_created_at", "reference", "created_at", "id",
          postgresql_where=text("reference IS NOT NULL")),
    Index("ix_requests_user_id_created_at", "user_id", "created_at", "id",
          postgresql_where=text("user_id IS NOT NULL")),
    Index("ix_requests_error_created_at", "error", "created_at", "id", postgresql_where=text("error <> 0")),
    postgresql_partition_by="RANGE (day)",
)
# The request log's partitions: created and dropped by the rulebook, not by migrations.
PARTITION_TABLE = re.compile(r"requests_([0-9]{8}|default)")


def is_model_object(name: str | None, type_: str, parent_names: Any = None) -> bool:
    """Alembic's include_name: everything but the request log's partitions."""
    return not (type_ == "table" and name is not None and PARTITION_TABLE.fullmatch(name))


# --------------------------------------------------------------------------- staff and audit (migration 0012)

STAFF_ROLES = ("viewer", "support", "finance", "platform", "admin")
ADJUSTMENT_REQUEST_STATUSES = ("pending", "posted", "rejected")


class Staff(Base):
    """A person (or system account) of the operator's back office: role, active, password hash, lockout."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint("role IN ('" + "', '".join(STAFF_ROLES) + "')", name="role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(WORD_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2id, the PHC string
    failed_logins: Mapped[int] = mapped_column(BigInteger, default=0)  # in a row; a success resets it
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffToken(Base):
    """An API token of one staff account: the SHA-256 of the opaque token (shown once), revocable."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdjustmentRequest(Base):
    """An adjustment at or above the approval threshold, waiting for a second person (four eyes)."""

    __tablename__ = "adjustment_requests"
    __table_args__ = (
        CheckConstraint("status IN ('" + "', '".join(ADJUSTMENT_REQUEST_STATUSES) + "')", name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id"))
    reference: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # signed minor units
    reason: Mapped[str] = mapped_column(String(FREE_TEXT_LENGTH))
    status: Mapped[str] = mapped_column(String(WORD_LENGTH), index=True)
    requested_by: Mapped[str] = mapped_column(String(IDENTIFIER_LENGTH))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(IDENTIFIER_LENGTH))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(FREE_TEXT_LENGTH))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"))


class AuditEntry(Base):
    """One staff write, CLI write or sweep action. Append-only: a trigger refuses UPDATE, DELETE, TRUNCATE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(OPERATOR_NAME_LENGTH), index=True)
    role: Mapped[str] = mapped_column(String(WORD_LENGTH))
    channel: Mapped[str] = mapped_column(String(WORD_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(OPERATOR_NAME_LENGTH), index=True)
    reason: Mapped[str | None] = mapped_column(String(FREE_TEXT_LENGTH))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    source_address: Mapped[str | None] = mapped_column(String(64))


staff = Staff.__table__
staff_tokens = StaffToken.__table__
adjustment_requests = AdjustmentRequest.__table__
audit_log = AuditEntry.__table__


players = Player.__table__
rounds = Round.__table__
transactions = Transaction.__table__
reversals = Reversal.__table__
sessions = Session.__table__
games = Game.__table__
player_limits = PlayerLimit.__table__

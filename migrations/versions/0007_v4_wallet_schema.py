"""The complete V4 wallet's schema: rounds settled, Cancel, prizes and sessions.

* `rounds.settled`, computed by the database: a Result or an EndRound, after
  which a round's bets are no longer refundable. One statement of the rule, read
  by Refund, CancelRound and the admin queries.
* Four more kinds of ledger entry ('cancel', 'promo', 'jackpot', 'bonus', all
  credits) and the columns they carry: a promo win's campaign, a jackpot win's
  jackpot, the amount a prize announced (a bonus win recorded without being
  credited has amount 0), and the roundId a prize named without a round to link.
* At most one reversal (refund or cancel) per reference: Refund and Cancel share
  one key per bet, and a unique index enforces it.
* `sessions`: SessionExpired, and the first Bet of each session.

The functions that use them are installed by 0010.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLED = (
    "ALTER TABLE rounds ADD COLUMN settled boolean GENERATED ALWAYS AS (has_result OR status = 'ended') STORED"
)
SETTLED_COMMENT = (
    "COMMENT ON COLUMN rounds.settled IS 'The round has a Result or an EndRound: its bets are no longer refundable'"
)
KINDS_BEFORE = "kind IN ('bet', 'win', 'refund', 'adjustment')"
KINDS = "kind IN ('bet', 'win', 'refund', 'adjustment', 'cancel', 'promo', 'jackpot', 'bonus')"
SIGN_BEFORE = "(kind = 'bet' AND amount <= 0) OR (kind IN ('win', 'refund') AND amount >= 0) OR kind = 'adjustment'"
SIGN = ("(kind = 'bet' AND amount <= 0) OR (kind IN ('win', 'refund', 'cancel', 'promo', 'jackpot', 'bonus')"
        " AND amount >= 0) OR kind = 'adjustment'")


def upgrade() -> None:
    op.execute(SETTLED)
    op.execute(SETTLED_COMMENT)
    op.create_table(
        "sessions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("player_id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_bet_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_sessions_player_id_players"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("player_id", "session_id", name="uq_sessions_player_id_session_id"),
    )
    op.add_column("transactions", sa.Column("campaign_id", sa.String(length=128), nullable=True))
    op.add_column("transactions", sa.Column("campaign_type", sa.String(length=128), nullable=True))
    op.add_column("transactions", sa.Column("jackpot_id", sa.String(length=128), nullable=True))
    op.add_column("transactions", sa.Column("announced_amount", sa.BigInteger(), nullable=True))
    op.add_column("transactions", sa.Column("given_round_id", sa.String(length=128), nullable=True))
    op.drop_constraint(op.f("ck_transactions_kind"), "transactions", type_="check")
    op.create_check_constraint(op.f("ck_transactions_kind"), "transactions", KINDS)
    op.drop_constraint(op.f("ck_transactions_amount_sign"), "transactions", type_="check")
    op.create_check_constraint(op.f("ck_transactions_amount_sign"), "transactions", SIGN)
    op.create_index("uq_transactions_reversal_reference", "transactions", ["reference"], unique=True,
                    postgresql_where=sa.text("kind IN ('refund', 'cancel')"))


def downgrade() -> None:
    op.drop_index("uq_transactions_reversal_reference", table_name="transactions")
    op.drop_constraint(op.f("ck_transactions_amount_sign"), "transactions", type_="check")
    op.create_check_constraint(op.f("ck_transactions_amount_sign"), "transactions", SIGN_BEFORE)
    op.drop_constraint(op.f("ck_transactions_kind"), "transactions", type_="check")
    op.create_check_constraint(op.f("ck_transactions_kind"), "transactions", KINDS_BEFORE)
    for column in ("given_round_id", "announced_amount", "jackpot_id", "campaign_type", "campaign_id"):
        op.drop_column("transactions", column)
    op.drop_table("sessions")
    op.execute("ALTER TABLE rounds DROP COLUMN settled")

"""Operator controls: the game catalogue, player limits, self-exclusion, reality checks.

Schema: `games` (filled by the Bets it sees; staff disable and enable games),
`player_limits` (one row per player and limit: the value in force, and a
loosening pending until its cooling-off period is over), `players.excluded_until`,
`sessions.reality_check_at` (the last reality check given in a session), and a
partial index on each player's bets, wins, refunds and cancels that moved money,
by time (INCLUDE kind, amount), from which a Bet reads the period's totals when
the player has a loss or wager limit (partial, so that no other query takes it).
The functions that use them (Bet and Check decide the new refusals: 8, 310,
50, 210, and 6 for a self-excluded player) are installed by 0010.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_NAMES = ("max_bet", "loss_day", "loss_week", "loss_month", "wager_day", "wager_week", "wager_month",
               "reality_check")


def upgrade() -> None:
    op.create_table(
        "games",
        sa.Column("game_id", sa.String(length=128), nullable=False),
        sa.Column("game_name", sa.String(length=128), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("game_id", name="pk_games"),
    )
    op.create_table(
        "player_limits",
        sa.Column("player_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("pending_value", sa.BigInteger(), nullable=True),
        sa.Column("pending_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("name IN ('" + "', '".join(LIMIT_NAMES) + "')", name="ck_player_limits_name"),
        sa.CheckConstraint("value >= 0 AND pending_value >= 0", name="ck_player_limits_not_negative"),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_player_limits_player_id_players"),
        sa.PrimaryKeyConstraint("player_id", "name", name="pk_player_limits"),
    )
    op.add_column("players", sa.Column("excluded_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sessions", sa.Column("reality_check_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_transactions_player_id_created_at", "transactions", ["player_id", "created_at"],
                    postgresql_include=["kind", "amount"],
                    postgresql_where=sa.text("kind IN ('bet', 'win', 'refund', 'cancel') AND amount <> 0"))


def downgrade() -> None:
    op.drop_index("ix_transactions_player_id_created_at", table_name="transactions")
    op.drop_column("sessions", "reality_check_at")
    op.drop_column("players", "excluded_until")
    op.drop_table("player_limits")
    op.drop_table("games")

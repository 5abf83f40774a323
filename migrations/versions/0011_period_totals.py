"""Running totals of each limited player's periods, so that a Bet reads one row per period.

`player_period_totals`: one row per player and calendar period (day, week or
month in a time zone), holding that period's bets, Results' wins, and refunds
and cancels, in minor units. A Bet whose player has a loss or wager limit reads
the row of each current period; the first Bet of a period that finds none
computes it once from the player's entries (under the player's row lock, so no
entry can be written meanwhile) and stores it; `wallet_post`, the only writer
of the ledger, adds every later entry to the player's rows whose period holds
the entry's time. Players without such a limit have no rows and pay one index
probe per entry. The rows are derived data: deleting them is always safe (the
next Bet computes them again), and the ledger stays the truth.

Installs the rulebook frozen in `0011/`; going down reinstalls 0010's.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.replaceable import drop_rulebook, execute_script, snapshot

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILES = (
    "money.sql", "answers.sql", "requests.sql", "opening.sql", "reference_entries.sql", "post.sql", "limits.sql",
    "check.sql", "balance.sql", "bet.sql", "result.sql", "reversal.sql", "refund.sql", "cancel.sql",
    "endround.sql", "prizes.sql", "sessions.sql", "adjust.sql",
)


def upgrade() -> None:
    op.create_table(
        "player_period_totals",
        sa.Column("player_id", sa.BigInteger(), nullable=False),
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bets", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("period IN ('day', 'week', 'month')", name="ck_player_period_totals_period"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_player_period_totals_span"),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_player_period_totals_player_id_players"),
        sa.PrimaryKeyConstraint("player_id", "period", "zone", "starts_at", name="pk_player_period_totals"),
    )
    drop_rulebook()
    execute_script(snapshot("0011", FILES))


def downgrade() -> None:
    drop_rulebook()
    execute_script(snapshot("0010", FILES))
    op.drop_table("player_period_totals")

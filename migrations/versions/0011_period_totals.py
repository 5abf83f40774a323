"""Running totals of each limited player's periods, so that a Bet reads one row per period.

`player_period_totals`: one row per limited player and time zone, holding for
the player's current day, week and month (arrays of three: 1 day, 2 week, 3
month) each period's span, bets, Results' wins, and refunds and cancels, in
minor units. A Bet whose player has a loss or wager limit reads that one row;
the first Bet of a period computes the period once from the player's entries
(under the player's row lock, so no entry can be written meanwhile) and stores
it; `wallet_post`, the only writer of the ledger, adds every later entry to the
periods whose span holds the entry's time, in one row update. Players without
such a limit have no row and pay one index probe per entry. The rows are derived data: deleting them is always safe (the
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
from sqlalchemy.dialects import postgresql

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
        sa.Column("starts_at", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("ends_at", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("bets", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("wins", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("reversed", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.CheckConstraint("cardinality(starts_at) = 3 AND cardinality(ends_at) = 3 AND cardinality(bets) = 3 "
                           "AND cardinality(wins) = 3 AND cardinality(reversed) = 3",
                           name="ck_player_period_totals_periods"),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_player_period_totals_player_id_players"),
        sa.PrimaryKeyConstraint("player_id", "zone", name="pk_player_period_totals"),
    )
    drop_rulebook()
    execute_script(snapshot("0011", FILES))


def downgrade() -> None:
    drop_rulebook()
    execute_script(snapshot("0010", FILES))
    op.drop_table("player_period_totals")

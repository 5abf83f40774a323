"""An index for GET /admin/rounds by status, newest first, built without blocking the Bets.

`rounds` is written by every Bet, so the index is built CONCURRENTLY, outside
the migration's transaction (Alembic's autocommit block). If the build fails
half-way, PostgreSQL leaves an INVALID index: `alembic downgrade 0013` drops it
and the upgrade can run again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_rounds_status_has_result_id", "rounds", ["status", "has_result", "id"],
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_rounds_status_has_result_id", table_name="rounds", postgresql_concurrently=True,
                      if_exists=True)

"""An index of the open, unsettled rounds by creation time: the stale-round list and sweep.

Stale rounds are a few old rounds among many open ones still in play; walking the
open rounds in id order and skipping the young ones read every open round when none
was stale (76 ms at p95 with 300,000 open rounds, `make bench`). With this partial
index the list walks the open rounds from the oldest (its order: creation time,
then id) and stops at the cut-off, whatever the statistics say. Built
CONCURRENTLY, outside the migration's transaction, as 0014.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_rounds_open_created_at", "rounds", ["created_at", "id"], postgresql_concurrently=True,
                        if_not_exists=True, postgresql_where=sa.text("status = 'open' AND NOT settled"))


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_rounds_open_created_at", table_name="rounds", postgresql_concurrently=True,
                      if_exists=True)

"""Admin query indexes: newest-first listings by round and by type walk an index, never sort the table.

`(round_pk, id)` replaces `(round_pk)`: it serves every lookup the old one did
and also returns a round's entries in ledger order. `(kind, id)` serves the
`type` and `status` filters of GET /admin/transactions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_round_pk_id", ["round_pk", "id"], unique=False)
        batch_op.create_index("ix_transactions_kind_id", ["kind", "id"], unique=False)
        batch_op.drop_index("ix_transactions_round_pk")


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index("ix_transactions_round_pk", ["round_pk"], unique=False)
        batch_op.drop_index("ix_transactions_kind_id")
        batch_op.drop_index("ix_transactions_round_pk_id")

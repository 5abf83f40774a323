"""Columns as wide as the contract's text limits: `transactions.provider_ts` holds 1,024 characters.

The provider's `timeStamp` is free text of up to 1,024 characters (the limits of
wallet/limits.py, which the callbacks check at the edge), but the column that
stores it was VARCHAR(64): a longer timeStamp passed the edge and failed in the
database, for ever. Every other column the callbacks write is already as wide as
its limit (identifiers 128, sessionId 256, roundDetails TEXT).

Widening a VARCHAR rewrites nothing on PostgreSQL (a catalogue change only);
narrowing it back fails if a longer value was stored since, as it should.

The numbers are written out: a migration is frozen history and never follows a
later change of wallet/limits.py.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("transactions", "provider_ts", type_=sa.String(length=1024),
                    existing_type=sa.String(length=64), existing_nullable=True)


def downgrade() -> None:
    op.alter_column("transactions", "provider_ts", type_=sa.String(length=64),
                    existing_type=sa.String(length=1024), existing_nullable=True)

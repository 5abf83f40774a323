"""CancelRound record: cancel_requests (one per cancel, one uuid) and cancel_attempts (one per HTTP try).

Reviewed by hand: at most one pending cancel per bet is a partial unique index
(PostgreSQL supports WHERE on an index).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cancel_requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('uuid', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.String(length=256), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=False),
    sa.Column('bet_transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('round_id', sa.String(length=128), nullable=False),
    sa.Column('request_body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'failed')", name=op.f('ck_cancel_requests_status')),
    sa.ForeignKeyConstraint(['bet_transaction_id'], ['transactions.id'], name=op.f('fk_cancel_requests_bet_transaction_id_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cancel_requests')),
    sa.UniqueConstraint('uuid', name=op.f('uq_cancel_requests_uuid'))
    )
    with op.batch_alter_table('cancel_requests', schema=None) as batch_op:
        batch_op.create_index('ix_cancel_requests_reference', ['reference'], unique=False)
        batch_op.create_index('ix_cancel_requests_round_id', ['round_id'], unique=False)
        batch_op.create_index('uq_cancel_requests_pending_bet', ['bet_transaction_id'], unique=True, postgresql_where=sa.text("status = 'pending'"))

    op.create_table('cancel_attempts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('cancel_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('elapsed_ms', sa.Integer(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('exception', sa.Text(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['cancel_id'], ['cancel_requests.id'], name=op.f('fk_cancel_attempts_cancel_id_cancel_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cancel_attempts')),
    sa.UniqueConstraint('cancel_id', 'number', name=op.f('uq_cancel_attempts_cancel_id_number'))
    )


def downgrade() -> None:
    op.drop_table('cancel_attempts')
    with op.batch_alter_table('cancel_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_cancel_requests_pending_bet', postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_cancel_requests_round_id')
        batch_op.drop_index('ix_cancel_requests_reference')
    op.drop_table('cancel_requests')

"""Ledger schema: players, rounds, transactions (immutable entries), reversals, request log.

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('players',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'frozen')", name=op.f('ck_players_status')),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_players_balance_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_players')),
    sa.UniqueConstraint('user_id', name=op.f('uq_players_user_id'))
    )
    op.create_table('requests',
    sa.Column('uuid', sa.String(length=128), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_requests'))
    )
    op.create_table('rounds',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('round_id', sa.String(length=128), nullable=False),
    sa.Column('player_id', sa.BigInteger(), nullable=False),
    sa.Column('game_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('has_result', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'cancelled', 'ended')", name=op.f('ck_rounds_status')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_rounds_player_id_players')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rounds')),
    sa.UniqueConstraint('player_id', 'round_id', name='uq_rounds_player_id_round_id')
    )
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.create_index('ix_rounds_round_id', ['round_id'], unique=False)

    op.create_table('transactions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=128), nullable=False),
    sa.Column('player_id', sa.BigInteger(), nullable=False),
    sa.Column('round_pk', sa.BigInteger(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('request_uuid', sa.String(length=128), nullable=True),
    sa.Column('session_id', sa.String(length=256), nullable=True),
    sa.Column('provider_id', sa.String(length=128), nullable=True),
    sa.Column('game_id', sa.String(length=128), nullable=True),
    sa.Column('game_name', sa.String(length=128), nullable=True),
    sa.Column('round_details', sa.Text(), nullable=True),
    sa.Column('bonus_code', sa.String(length=128), nullable=True),
    sa.Column('provider_ts', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'bet' AND amount <= 0) OR (kind IN ('win', 'refund') AND amount >= 0) OR kind = 'adjustment'", name=op.f('ck_transactions_amount_sign')),
    sa.CheckConstraint("kind IN ('bet', 'win', 'refund', 'adjustment')", name=op.f('ck_transactions_kind')),
    sa.CheckConstraint('balance_after >= 0', name=op.f('ck_transactions_balance_after_not_negative')),
    sa.ForeignKeyConstraint(['player_id'], ['players.id'], name=op.f('fk_transactions_player_id_players')),
    sa.ForeignKeyConstraint(['round_pk'], ['rounds.id'], name=op.f('fk_transactions_round_pk_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
    sa.UniqueConstraint('reference', 'kind', name='uq_transactions_reference_kind')
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index('ix_transactions_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_transactions_player_id_id', ['player_id', 'id'], unique=False)
        batch_op.create_index('ix_transactions_round_pk', ['round_pk'], unique=False)

    op.create_table('reversals',
    sa.Column('bet_id', sa.BigInteger(), nullable=False),
    sa.Column('refund_id', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_reversals_amount_not_negative')),
    sa.ForeignKeyConstraint(['bet_id'], ['transactions.id'], name=op.f('fk_reversals_bet_id_transactions')),
    sa.ForeignKeyConstraint(['refund_id'], ['transactions.id'], name=op.f('fk_reversals_refund_id_transactions')),
    sa.PrimaryKeyConstraint('bet_id', name=op.f('pk_reversals'))
    )
    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reversals_refund_id'), ['refund_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reversals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reversals_refund_id'))

    op.drop_table('reversals')
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_round_pk')
        batch_op.drop_index('ix_transactions_player_id_id')
        batch_op.drop_index('ix_transactions_created_at')

    op.drop_table('transactions')
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_rounds_round_id')

    op.drop_table('rounds')
    op.drop_table('requests')
    op.drop_table('players')

"""Provider calls and stale-round sweeps: one record for every operator -> provider call.

`provider_calls` (one row per call: CancelRound, GetRoundStatus, CloseSession,
HealthCheck; one uuid each) and `provider_call_attempts` (one row per HTTP
attempt) replace `cancel_requests` and `cancel_attempts`: a CancelRound is now
a call of kind 'CancelRound'. The old rows are copied with their ids (the
URLs /admin/cancels/<id> keep naming the same cancel), then the old tables are
dropped. `round_sweeps` and `round_sweep_items` record each stale-round sweep
and what it decided for each round.

Two partial unique indexes carry the rules the database must decide:
`uq_provider_calls_pending_bet` (one cancel of a bet in flight, as before) and
`uq_provider_calls_swept_round` (a sweep cancels a round once; a failed call
gives it back). `ix_rounds_open_unsettled` finds stale rounds without reading
the settled ones.

Written by hand; the numbers are written out (frozen history).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('CancelRound', 'GetRoundStatus', 'CloseSession', 'HealthCheck')"
STATUSES = "status IN ('pending', 'confirmed', 'rejected', 'failed')"
SWEPT_ROUND = "sweep_id IS NOT NULL AND kind = 'CancelRound' AND status <> 'failed'"


def _restart_ids(table: str) -> None:
    """Rows were copied with their ids: the table's sequence continues after the largest."""
    op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}")


def upgrade() -> None:
    op.create_table(
        "round_sweeps",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("older_than_hours", sa.Float(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("rounds_found", sa.Integer(), nullable=False),
        sa.Column("cancels_sent", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_round_sweeps"),
    )
    op.create_table(
        "provider_calls",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("round_id", sa.String(length=128), nullable=True),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("bet_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("round_pk", sa.BigInteger(), nullable=True),
        sa.Column("sweep_id", sa.BigInteger(), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(KINDS, name="ck_provider_calls_kind"),
        sa.CheckConstraint(STATUSES, name="ck_provider_calls_status"),
        sa.ForeignKeyConstraint(["bet_transaction_id"], ["transactions.id"],
                                name="fk_provider_calls_bet_transaction_id_transactions"),
        sa.ForeignKeyConstraint(["round_pk"], ["rounds.id"], name="fk_provider_calls_round_pk_rounds"),
        sa.ForeignKeyConstraint(["sweep_id"], ["round_sweeps.id"], name="fk_provider_calls_sweep_id_round_sweeps"),
        sa.PrimaryKeyConstraint("id", name="pk_provider_calls"),
        sa.UniqueConstraint("uuid", name="uq_provider_calls_uuid"),
    )
    op.create_index("uq_provider_calls_pending_bet", "provider_calls", ["bet_transaction_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("uq_provider_calls_swept_round", "provider_calls", ["round_pk"], unique=True,
                    postgresql_where=sa.text(SWEPT_ROUND))
    op.create_index("ix_provider_calls_kind_id", "provider_calls", ["kind", "id"])
    op.create_index("ix_provider_calls_reference", "provider_calls", ["reference"])
    op.create_index("ix_provider_calls_round_id", "provider_calls", ["round_id"])
    op.create_index("ix_provider_calls_user_id", "provider_calls", ["user_id"])
    op.create_index("ix_provider_calls_round_pk", "provider_calls", ["round_pk"])
    op.create_index("ix_provider_calls_sweep_id", "provider_calls", ["sweep_id"])
    op.create_table(
        "provider_call_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("exception", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["provider_calls.id"],
                                name="fk_provider_call_attempts_call_id_provider_calls"),
        sa.PrimaryKeyConstraint("id", name="pk_provider_call_attempts"),
        sa.UniqueConstraint("call_id", "number", name="uq_provider_call_attempts_call_id_number"),
    )
    op.create_table(
        "round_sweep_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sweep_id", sa.BigInteger(), nullable=False),
        sa.Column("round_pk", sa.BigInteger(), nullable=False),
        sa.Column("round_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("status_call_id", sa.BigInteger(), nullable=True),
        sa.Column("cancel_call_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sweep_id"], ["round_sweeps.id"], name="fk_round_sweep_items_sweep_id_round_sweeps"),
        sa.ForeignKeyConstraint(["round_pk"], ["rounds.id"], name="fk_round_sweep_items_round_pk_rounds"),
        sa.ForeignKeyConstraint(["status_call_id"], ["provider_calls.id"],
                                name="fk_round_sweep_items_status_call_id_provider_calls"),
        sa.ForeignKeyConstraint(["cancel_call_id"], ["provider_calls.id"],
                                name="fk_round_sweep_items_cancel_call_id_provider_calls"),
        sa.PrimaryKeyConstraint("id", name="pk_round_sweep_items"),
    )
    op.create_index("ix_round_sweep_items_sweep_id", "round_sweep_items", ["sweep_id"])
    op.create_index("ix_rounds_open_unsettled", "rounds", ["id"],
                    postgresql_where=sa.text("status = 'open' AND NOT settled"))

    # Every cancel so far becomes a CancelRound call, attempts and all (a cancel's bet names its round).
    op.execute("""
        INSERT INTO provider_calls (id, kind, uuid, requested_by, user_id, round_id, reference, bet_transaction_id,
                                    round_pk, request_body, status, error, description, created_at, finished_at)
        SELECT c.id, 'CancelRound', c.uuid, c.requested_by, c.user_id, c.round_id, c.reference, c.bet_transaction_id,
               t.round_pk, c.request_body, c.status, c.error, c.description, c.created_at, c.finished_at
        FROM cancel_requests c JOIN transactions t ON t.id = c.bet_transaction_id
    """)
    op.execute("""
        INSERT INTO provider_call_attempts (id, call_id, number, started_at, elapsed_ms, http_status, exception, answer)
        SELECT id, cancel_id, number, started_at, elapsed_ms, http_status, exception, answer FROM cancel_attempts
    """)
    _restart_ids("provider_calls")
    _restart_ids("provider_call_attempts")
    op.drop_table("cancel_attempts")
    op.drop_table("cancel_requests")


def downgrade() -> None:
    op.create_table(
        "cancel_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("bet_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("round_id", sa.String(length=128), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATUSES, name="ck_cancel_requests_status"),
        sa.ForeignKeyConstraint(["bet_transaction_id"], ["transactions.id"],
                                name="fk_cancel_requests_bet_transaction_id_transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_cancel_requests"),
        sa.UniqueConstraint("uuid", name="uq_cancel_requests_uuid"),
    )
    op.create_index("ix_cancel_requests_reference", "cancel_requests", ["reference"])
    op.create_index("ix_cancel_requests_round_id", "cancel_requests", ["round_id"])
    op.create_index("uq_cancel_requests_pending_bet", "cancel_requests", ["bet_transaction_id"], unique=True,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "cancel_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("cancel_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("exception", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["cancel_id"], ["cancel_requests.id"],
                                name="fk_cancel_attempts_cancel_id_cancel_requests"),
        sa.PrimaryKeyConstraint("id", name="pk_cancel_attempts"),
        sa.UniqueConstraint("cancel_id", "number", name="uq_cancel_attempts_cancel_id_number"),
    )
    # Only CancelRound calls existed before; the others' records go with their tables.
    op.execute("""
        INSERT INTO cancel_requests (id, uuid, requested_by, reference, bet_transaction_id, user_id, round_id,
                                     request_body, status, error, description, created_at, finished_at)
        SELECT id, uuid, requested_by, reference, bet_transaction_id, user_id, round_id, request_body, status, error,
               description, created_at, finished_at
        FROM provider_calls WHERE kind = 'CancelRound'
    """)
    op.execute("""
        INSERT INTO cancel_attempts (id, cancel_id, number, started_at, elapsed_ms, http_status, exception, answer)
        SELECT a.id, a.call_id, a.number, a.started_at, a.elapsed_ms, a.http_status,
               COALESCE(a.exception, a.problem), a.answer
        FROM provider_call_attempts a JOIN provider_calls c ON c.id = a.call_id WHERE c.kind = 'CancelRound'
    """)
    _restart_ids("cancel_requests")
    _restart_ids("cancel_attempts")
    op.drop_index("ix_rounds_open_unsettled", table_name="rounds")
    op.drop_table("round_sweep_items")
    op.drop_table("provider_call_attempts")
    op.drop_table("provider_calls")
    op.drop_table("round_sweeps")

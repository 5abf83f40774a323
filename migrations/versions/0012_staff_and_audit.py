"""Staff, their tokens, adjustments waiting for a second person, and the append-only audit trail.

* `staff`: one row per person (or system, such as the cashier's `platform` account): a role, active or
  not, an argon2 password hash for the back-office site, and the count of failed logins in a row with
  the lock it earned (kept here, not in a process, so that every host sees it).
* `staff_tokens`: API tokens, stored as the SHA-256 of the opaque token (the token itself is shown once).
  A revoked token keeps its row (`revoked_at`), so that the audit trail can still name it.
* `adjustment_requests`: an adjustment at or above its currency's approval threshold, made by finance or
  admin, waiting for a different finance or admin person; `transaction_id` is the entry it posted.
* `audit_log`: one row per staff write, sweep action and CLI write. A trigger refuses every UPDATE,
  DELETE and TRUNCATE of it (`audit_log_refuse_change()`; not a `wallet_*` function, so that a rulebook
  revision, which drops those, leaves it alone).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.replaceable import execute_script

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("viewer", "support", "finance", "platform", "admin")
REQUEST_STATUSES = ("pending", "posted", "rejected")

_TRIGGER = """
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The audit trail is append-only: what was recorded stays as it was recorded.
  RAISE EXCEPTION USING MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused',
    ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
"""


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("failed_logins", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('" + "', '".join(ROLES) + "')", name="ck_staff_role"),
        sa.PrimaryKeyConstraint("id", name="pk_staff"),
        sa.UniqueConstraint("user_name", name="uq_staff_user_name"),
    )
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_staff_tokens_staff_id_staff"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_staff_tokens_token_hash"),
    )
    op.create_index("ix_staff_tokens_staff_id", "staff_tokens", ["staff_id"])
    op.create_table(
        "adjustment_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("player_id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=1024), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('" + "', '".join(REQUEST_STATUSES) + "')", name="ck_adjustment_requests_status"),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name="fk_adjustment_requests_player_id_players"),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_adjustment_requests_transaction_id_transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_adjustment_requests"),
        sa.UniqueConstraint("reference", name="uq_adjustment_requests_reference"),
    )
    op.create_index("ix_adjustment_requests_status", "adjustment_requests", ["status"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=True),
        sa.Column("reason", sa.String(length=1024), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    execute_script(_TRIGGER)


def downgrade() -> None:
    op.drop_table("audit_log")
    execute_script("DROP FUNCTION audit_log_refuse_change();")
    op.drop_index("ix_adjustment_requests_status", table_name="adjustment_requests")
    op.drop_table("adjustment_requests")
    op.drop_index("ix_staff_tokens_staff_id", table_name="staff_tokens")
    op.drop_table("staff_tokens")
    op.drop_table("staff")

"""Every callback and every money write as one stored function, installed from SQL files.

The rulebook of 0004/0005 (Bet, Result and Refund as functions; Check, Balance,
EndRound and adjustments in Python) is replaced whole by the one in
wallet/ledger/sql/, frozen here in `0010/` (migrations/replaceable.py): the
eleven callbacks (Check, Balance, Bet, Result, Refund, Cancel, EndRound,
PromoWin, JackpotWin, BonusWin, SessionExpired) and admin adjustments, each one
stored function; their shared opening (`wallet_open`: the uuid's stored answer,
the reference's advisory lock keyed by PostgreSQL's own `hashtext`, the
player's row); the operator controls of Bet and Check (limits.sql); the error
table and the BonusWin choice read from session settings.

Going down drops it and installs 0004's and 0005's functions again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.replaceable import drop_rulebook, execute_script, snapshot

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILES = (
    "money.sql", "answers.sql", "requests.sql", "opening.sql", "reference_entries.sql", "post.sql", "limits.sql",
    "check.sql", "balance.sql", "bet.sql", "result.sql", "reversal.sql", "refund.sql", "cancel.sql",
    "endround.sql", "prizes.sql", "sessions.sql", "adjust.sql",
)


def upgrade() -> None:
    drop_rulebook()
    execute_script(snapshot("0010", FILES))


def downgrade() -> None:
    drop_rulebook()
    script = op.get_context().script
    for earlier in ("0004", "0005"):
        script.get_revision(earlier).module.upgrade()

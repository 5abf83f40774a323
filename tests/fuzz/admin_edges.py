"""Shared by the admin API's hostile tests and fuzzers: what a request could change, and what the
admin API's last resort logs when input gets past the checks at the edge."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

# What an admin request could change, table by table: (columns, the table and its order).
STATE = (
    ("user_id, currency, status, balance, excluded_until", "players ORDER BY id"),
    ("id, kind, reference, amount, balance_after, note", "transactions ORDER BY id"),
    ("bet_id, refund_id, amount", "reversals ORDER BY bet_id"),
    ("id, round_id, status", "rounds ORDER BY id"),
    ("id, kind, reference, round_id, user_id, status, requested_by, reason, sweep_id", "provider_calls ORDER BY id"),
    ("game_id, game_name, enabled, updated_at", "games ORDER BY game_id"),
    ("player_id, name, value, pending_value, pending_at", "player_limits ORDER BY player_id, name"),
    ("id, requested_by, reason, older_than_hours, dry_run, rounds_found, cancels_sent", "round_sweeps ORDER BY id"),
    ("id, sweep_id, round_id, outcome", "round_sweep_items ORDER BY id"),
)
# One statement, so one round trip and one snapshot: each table's rows as text, in order (an
# ARRAY(subquery) keeps the subquery's order). The fuzzers take it twice for every write.
STATE_QUERY = text("SELECT " + ", ".join(f"ARRAY(SELECT ROW({columns})::text FROM {rest})" for columns, rest in STATE))


def ledger_state(app: Flask) -> tuple[Any, ...]:
    """Everything an admin request could change: players (and their self-exclusion), entries,
    reversals, rounds, every provider call (cancels, CloseSession, GetRoundStatus, HealthCheck),
    the game catalogue, player limits, stale-round sweeps. Equal before and after: nothing changed."""
    with app.extensions["wallet.engine"].connect() as conn:
        return tuple(conn.execute(STATE_QUERY).one())


class EdgeLog(logging.Handler):
    """Collects what the admin API's last resort logs (wallet/admin/blueprint.py): input refused only
    past the edge (a check is missing), or a 500."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def edge_log() -> Iterator[EdgeLog]:
    handler = EdgeLog()
    logger = logging.getLogger("wallet.admin.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)

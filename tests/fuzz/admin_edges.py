"""Shared by the admin API's hostile tests and fuzzers: what a request could change, and what the
admin API's last resort logs when input gets past the checks at the edge."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

STATE_QUERIES = (
    "SELECT user_id, currency, status, balance, excluded_until FROM players ORDER BY id",
    "SELECT id, kind, reference, amount, balance_after, note FROM transactions ORDER BY id",
    "SELECT bet_id, refund_id, amount FROM reversals ORDER BY bet_id",
    "SELECT id, round_id, status FROM rounds ORDER BY id",
    "SELECT id, kind, reference, round_id, user_id, status, requested_by, reason, sweep_id FROM provider_calls"
    " ORDER BY id",
    "SELECT game_id, game_name, enabled, updated_at FROM games ORDER BY game_id",
    "SELECT player_id, name, value, pending_value, pending_at FROM player_limits ORDER BY player_id, name",
    "SELECT id, requested_by, reason, older_than_hours, dry_run, rounds_found, cancels_sent FROM round_sweeps"
    " ORDER BY id",
    "SELECT id, sweep_id, round_id, outcome FROM round_sweep_items ORDER BY id",
)


def ledger_state(app: Flask) -> tuple[Any, ...]:
    """Everything an admin request could change: players (and their self-exclusion), entries,
    reversals, rounds, every provider call (cancels, CloseSession, GetRoundStatus, HealthCheck),
    the game catalogue, player limits, stale-round sweeps."""
    with app.extensions["wallet.engine"].connect() as conn:
        return tuple(tuple(conn.execute(text(sql)).all()) for sql in STATE_QUERIES)


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

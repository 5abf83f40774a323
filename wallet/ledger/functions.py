"""PostgreSQL: Bet and Refund in one round trip, through the stored functions of migration 0004.

`wallet_bet` and `wallet_refund` do on the server, in one implicit
transaction, what `services.bet` / `services.refund` plus `idempotency`
do from Python on SQLite: the uuid's stored answer, the reference's advisory
lock, the player's row lock, the reads, the checks, the writes and the answer
stored under its uuid. The call is one `SELECT` in autocommit: no BEGIN, no
COMMIT, one message to the server and one back (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from wallet.db import reference_key
from wallet.ledger import services
from wallet.ledger.movements import Movement
from wallet.ledger.requests import CallbackRequest

# SQLSTATE raised by wallet_remember when a concurrent request stored an answer for the uuid first.
LOST_RACE = "WL409"

_ARGUMENTS = ", ".join(["%s"] * 16)
STATEMENTS = {
    method: f"SELECT o_error, o_body, o_moved, o_currency FROM wallet_{method}({_ARGUMENTS})"
    for method in ("bet", "refund")
}


def handles(engine: Engine, method: str) -> bool:
    """True when `method` runs as a stored function on this engine (PostgreSQL, Bet and Refund)."""
    return method in STATEMENTS and engine.dialect.name == "postgresql"


def _arguments(q: CallbackRequest) -> tuple[Any, ...]:
    assert q.reference is not None
    return (
        q.uuid, q.body_hash, reference_key(q.reference), q.user_id, q.reference, q.currency, q.amount,
        q.round_id, q.session_id, q.provider_id, q.game_id, q.game_name, q.round_details, q.bonus_code,
        q.timestamp, services.utcnow(),  # the app's clock, as on SQLite (and as tests set it)
    )


def call(engine: Engine, q: CallbackRequest) -> tuple[int, str, tuple[Movement, ...]] | None:
    """Run the callback's function; (error, answer JSON, money moved), or None when a concurrent
    request with the same uuid stored its answer first (this call then changed nothing).

    Straight on the pooled psycopg connection (SQLAlchemy's execution layer cost more CPU than
    the call itself), in autocommit for the call only. psycopg prepares the statement on the
    server after a few calls. A database error is raised as SQLAlchemy's DBAPIError, with
    `connection_invalidated` set when the connection died, as `run_callback` expects.
    """
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        try:
            conn.autocommit = True
            try:
                row = conn.execute(STATEMENTS[q.method], _arguments(q)).fetchone()
            finally:
                if not conn.broken:
                    conn.autocommit = False
        except psycopg.Error as exc:
            if exc.sqlstate == LOST_RACE:
                return None
            broken = conn.broken
            if broken:  # a restart: every pooled connection of this generation is gone with it
                engine.pool._invalidate(raw, exc)
            raise DBAPIError.instance(
                STATEMENTS[q.method], None, exc, psycopg.Error, connection_invalidated=broken
            ) from exc
    finally:
        raw.close()
    assert row is not None
    error, body, moved, currency = row
    return error, body, (() if moved is None else (Movement(q.method, moved, currency),))

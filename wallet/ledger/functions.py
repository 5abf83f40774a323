"""PostgreSQL: Bet, Result and Refund in one round trip, through the stored functions of migration 0004.

`wallet_bet`, `wallet_result` and `wallet_refund` do on the server, in one
implicit transaction, what `services.bet` / `result` / `refund` plus `idempotency`
do from Python on SQLite: the uuid's stored answer, the reference's advisory
lock, the player's row lock, the reads, the checks, the writes and the answer
stored under its uuid. The call is one `SELECT` in autocommit: no BEGIN, no
COMMIT, one message to the server and one back (docs/performance.md).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
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

# PostgreSQL's own $n placeholders, run through psycopg's RawCursor: no query conversion per call.
_ARGUMENTS = ", ".join(f"${n}" for n in range(1, 17))
STATEMENTS = {
    method: f"SELECT o_error, o_body, o_moved, o_currency FROM wallet_{method}({_ARGUMENTS})"
    for method in ("bet", "result", "refund")
}


def handles(engine: Engine, method: str) -> bool:
    """True when `method` runs as a stored function on this engine (PostgreSQL: Bet, Result, Refund)."""
    return method in STATEMENTS and engine.dialect.name == "postgresql"


def _arguments(q: CallbackRequest) -> tuple[Any, ...]:
    assert q.reference is not None
    return (
        q.uuid, q.body_hash, reference_key(q.reference), q.user_id, q.reference, q.currency, q.amount,
        q.round_id, q.session_id, q.provider_id, q.game_id, q.game_name, q.round_details, q.bonus_code,
        q.timestamp, services.utcnow(),  # the app's clock, as on SQLite (and as tests set it)
    )


def _cursor(raw: Any) -> psycopg.RawCursor[Any]:
    """The pooled connection's own cursor for these calls, kept in the pool record's `info`:
    SQLAlchemy clears that dict whenever it replaces the record's database connection."""
    cursor = raw.info.get("wallet.functions.cursor")
    if cursor is None:
        cursor = raw.info["wallet.functions.cursor"] = psycopg.RawCursor(raw.driver_connection)
    return cursor


def _execute(raw: Any, q: CallbackRequest) -> Any:
    """Call q's function on the pooled connection `raw`, in autocommit for this call only."""
    conn = raw.driver_connection
    conn.autocommit = True
    try:
        return _cursor(raw).execute(STATEMENTS[q.method], _arguments(q)).fetchone()
    finally:
        if not conn.broken:
            conn.autocommit = False


def call(engine: Engine, q: CallbackRequest) -> tuple[int, str, tuple[Movement, ...]] | None:
    """Run the callback's function; (error, answer JSON, money moved), or None when a concurrent
    request with the same uuid stored its answer first (this call then changed nothing).

    Straight on the pooled psycopg connection (SQLAlchemy's execution layer cost more CPU than
    the call itself), in autocommit for the call only. psycopg prepares the statement on the
    server after a few calls. A database error is raised as SQLAlchemy's DBAPIError, with
    `connection_invalidated` set when the connection died, as `run_callback` expects.
    """
    try:
        raw = engine.raw_connection()
    except psycopg.Error as exc:  # no connection at all (the database is down or starting)
        raise DBAPIError.instance(STATEMENTS[q.method], None, exc, psycopg.Error) from exc
    try:
        row = _execute(raw, q)
    except psycopg.Error as exc:
        if exc.sqlstate == LOST_RACE:
            return None
        broken = raw.driver_connection.broken
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


# A user id longer than any player's (players.user_id is at most 128 characters): the warm-up
# calls are answered 100 "player not found", which writes and stores nothing.
_NOBODY = "~" * 129


def warm_up(engine: Engine) -> int:
    """Open every connection of the pool and call each function once on it; return how many.

    PostgreSQL compiles a PL/pgSQL function and plans its statements on the first
    call in each session (~5-10 ms of server CPU): done here, at worker start, that
    cost does not land on the first callbacks after a deploy. Nothing is written.
    """
    if engine.dialect.name != "postgresql":
        return 0
    held = []
    try:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]
            raw = engine.raw_connection()  # held until the end, so that each is a new one
            held.append(raw)
            for method in STATEMENTS:
                _execute(raw, CallbackRequest(
                    method=method, uuid=f"warm-up:{uuid.uuid4()}", user_id=_NOBODY, body_hash="warm-up",
                    currency="USD", reference=f"warm-up:{uuid.uuid4()}", round_id="warm-up",
                    amount=None if method == "refund" else Decimal("1.00"),
                ))
    finally:
        for raw in held:
            raw.close()
    return len(held)

"""PostgreSQL: Bet, Result and Refund in one round trip, through the stored functions of migration 0004.

`wallet_bet`, `wallet_result` and `wallet_refund` do on the server, in one
implicit transaction, what `services.bet` / `result` / `refund` plus `idempotency`
do from Python on SQLite: the uuid's stored answer, the reference's advisory
lock, the player's row lock, the reads, the checks, the writes and the answer
stored under its uuid. The call is one prepared `SELECT` run outside any
transaction block: no BEGIN, no COMMIT, one message to the server and one back
(docs/performance.md).

It goes straight to libpq (psycopg's documented `psycopg.pq` layer) on the
pooled connection: `PQexecPrepared` with the arguments as text, the answer
read as text. psycopg's cursor, its adapters and its autocommit switching
cost more of the worker's CPU than the call itself; this path needs none of
them, because the statement, its argument types and its result columns
never change.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.postgres import types
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from wallet.db import reference_key
from wallet.ledger import services
from wallet.ledger.movements import Movement
from wallet.ledger.requests import CallbackRequest

# SQLSTATE raised by wallet_remember when a concurrent request stored an answer for the uuid first.
LOST_RACE = "WL409"
# SQLSTATE of a prepared statement the session no longer has (someone ran DEALLOCATE or DISCARD).
_NOT_PREPARED = b"26000"

STATEMENTS = {
    method: "SELECT o_error, o_body, o_moved, o_currency FROM wallet_%s(%s)"
    % (method, ", ".join(f"${n}" for n in range(1, 17)))
    for method in ("bet", "result", "refund")
}
# The functions' argument types, given to the server when the statement is prepared (see _arguments).
_TYPES = [types[name].oid for name in (
    "text", "text", "int4", "text", "text", "text", "numeric", "text", "text", "text", "text", "text",
    "text", "text", "text", "timestamptz",
)]
_NAMES = {method: f"wallet_{method}_call".encode() for method in STATEMENTS}
_SESSION = "wallet.functions.session"


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


def _text(value: Any, encoding: str) -> bytes | None:
    """An argument in PostgreSQL's text format: str() of str, int, Decimal and datetime is what the
    server reads for text, int4, numeric and timestamptz. libpq sends it as a C string, so a NUL would
    cut it short: refused, as psycopg refuses it (the schemas refuse NUL long before this)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return text.encode(encoding)


class _Session:
    """What this module keeps on one pooled connection (in the pool record's `info`, which
    SQLAlchemy clears whenever it replaces the record's database connection, so a new
    server session starts with nothing prepared): its encoding and its prepared statements."""

    __slots__ = ("encoding", "prepared")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.encoding = conn.info.encoding
        self.prepared: set[bytes] = set()


def _session(raw: Any) -> _Session:
    session = raw.info.get(_SESSION)
    if session is None:
        session = raw.info[_SESSION] = _Session(raw.driver_connection)
    return session


def _checked(result: pq.abc.PGresult, ok: pq.ExecStatus, encoding: str) -> pq.abc.PGresult:
    if result.status != ok:
        raise errors.error_from_result(result, encoding=encoding)
    return result


def _exec_prepared(pgconn: pq.abc.PGconn, session: _Session, method: str, arguments: list[bytes | None]
                   ) -> pq.abc.PGresult:
    name = _NAMES[method]
    if name not in session.prepared:
        prepared = pgconn.prepare(name, STATEMENTS[method].encode(), _TYPES)
        _checked(prepared, pq.ExecStatus.COMMAND_OK, session.encoding)
        session.prepared.add(name)
    return pgconn.exec_prepared(name, arguments)


def _execute(raw: Any, q: CallbackRequest) -> tuple[int, str, int | None, str | None]:
    """Call q's function on the pooled connection `raw`: (error, answer JSON, amount moved, currency).

    Outside any transaction block, so the call is its own transaction: committed when the
    function returns, rolled back whole when it raises. The statement is prepared on the
    connection at its first call (the worker's warm-up does that before it serves).
    """
    conn = raw.driver_connection
    pgconn = conn.pgconn
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        conn.rollback()  # never left open by the pool; but never run inside somebody's transaction
    session = _session(raw)
    arguments = [_text(value, session.encoding) for value in _arguments(q)]
    result = _exec_prepared(pgconn, session, q.method, arguments)
    if result.status != pq.ExecStatus.TUPLES_OK and result.error_field(pq.DiagnosticField.SQLSTATE) == _NOT_PREPARED:
        session.prepared.discard(_NAMES[q.method])  # deallocated behind our back: prepare it again, once
        result = _exec_prepared(pgconn, session, q.method, arguments)
    _checked(result, pq.ExecStatus.TUPLES_OK, session.encoding)
    error, body, moved, currency = (result.get_value(0, column) for column in range(4))
    assert error is not None and body is not None
    return (int(error), body.decode(session.encoding), None if moved is None else int(moved),
            None if currency is None else currency.decode(session.encoding))


def call(engine: Engine, q: CallbackRequest) -> tuple[int, str, tuple[Movement, ...]] | None:
    """Run the callback's function; (error, answer JSON, money moved), or None when a concurrent
    request with the same uuid stored its answer first (this call then changed nothing).

    Straight on the pooled connection's libpq (SQLAlchemy's execution layer and psycopg's
    cursor cost more CPU than the call itself). A database error is raised as SQLAlchemy's
    DBAPIError, with `connection_invalidated` set when the connection died, as `run_callback`
    expects.
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

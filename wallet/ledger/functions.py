"""Every callback is one call of its stored function (wallet/ledger/sql/), in one round trip.

`wallet_check`, `wallet_balance`, `wallet_bet`, `wallet_result`, `wallet_refund`
and `wallet_endround` do on the server, in one implicit transaction, everything a
callback needs: the uuid's stored answer, the reference's advisory lock, the
player's row lock, the reads, the checks, the writes and the answer stored under
its uuid. Python parses, authenticates and sends the answer; it decides nothing
about money. The call is one prepared `SELECT` run outside any transaction
block: no BEGIN, no COMMIT, one message to the server and one back
(docs/performance.md).

It goes straight to libpq (psycopg's documented `psycopg.pq` layer):
`PQexecPrepared` with the arguments as text, the answer read as text.
psycopg's cursor, its adapters and its autocommit switching cost more of the
worker's CPU than the call itself; this path needs none of them, because the
statements, their argument types and their result columns never change.

And on a connection of its own, held from call to call: each serving thread
keeps one, taken out of SQLAlchemy's pool once (detached), instead of a
checkout and a checkin (with its reset) per callback. The pool keeps serving
everything else (the admin API, health). A held connection is closed when it
breaks (the callback is then run once more on a new one, by
wallet/ledger/idempotency.py), when it reaches the pool's recycle age, and
when the engine is disposed.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.postgres import types
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from wallet.db import POOL_RECYCLE_SECONDS
from wallet import clock
from wallet.ledger.movements import Movement
from wallet.ledger.requests import CallbackRequest

# SQLSTATE raised by wallet_remember when a concurrent request stored an answer for the uuid first.
LOST_RACE = "WL409"
# SQLSTATE of a prepared statement the session no longer has (someone ran DEALLOCATE or DISCARD).
_NOT_PREPARED = b"26000"

# Each function's arguments: CallbackRequest fields (and "now"), in the function's order.
_MONEY = ("uuid", "body_hash", "user_id", "reference", "currency", "amount", "round_id", "session_id",
          "provider_id", "game_id", "game_name", "round_details", "bonus_code", "timestamp", "now")
_PRIZE = ("uuid", "body_hash", "user_id", "reference", "currency", "amount", "round_id", "game_id", "session_id",
          "provider_id", "timestamp", "campaign_id", "campaign_type", "jackpot_id", "details", "bonus_code", "now")
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "check": ("uuid", "body_hash", "user_id", "currency", "now"),
    "balance": ("uuid", "body_hash", "user_id", "currency", "now"),
    "bet": _MONEY,
    "result": (*_MONEY[:-1], "promo_amount", "promo_reference", "promo_campaign_id", "promo_campaign_type", "now"),
    "refund": _MONEY,
    "cancel": _MONEY,
    "endround": ("uuid", "body_hash", "user_id", "currency", "round_id", "game_id", "now"),
    "promowin": _PRIZE,
    "jackpotwin": _PRIZE,
    "bonuswin": _PRIZE,
    "sessionexpired": ("uuid", "body_hash", "user_id", "session_id", "now"),
}
METHODS = frozenset(ARGUMENTS)
# The entry kind of the ledger entry each method writes (for metrics).
KINDS = {"bet": "bet", "result": "win", "refund": "refund", "cancel": "cancel", "promowin": "promo",
         "jackpotwin": "jackpot", "bonuswin": "bonus"}
_PG_TYPES = {"amount": "numeric", "promo_amount": "numeric", "now": "timestamptz"}  # the rest are text

# Every function answers (o_error, o_body, o_moved, o_currency); Result also o_promo, the promo win
# it credited beside the win (wallet/ledger/sql/result.sql).
_OUTPUTS = {"result": "o_error, o_body, o_moved, o_currency, o_promo"}
STATEMENTS = {
    method: "SELECT %s FROM wallet_%s(%s)"
    % (_OUTPUTS.get(method, "o_error, o_body, o_moved, o_currency"), method,
       ", ".join(f"${n}" for n in range(1, len(names) + 1)))
    for method, names in ARGUMENTS.items()
}
# The functions' argument types, given to the server when a statement is prepared.
_TYPES = {method: [types[_PG_TYPES.get(name, "text")].oid for name in names] for method, names in ARGUMENTS.items()}
_NAMES = {method: f"wallet_{method}_call".encode() for method in STATEMENTS}


def _arguments(q: CallbackRequest) -> tuple[Any, ...]:
    """q's fields in its function's order; `now` is the app's clock (tests move it)."""
    return tuple(clock.utcnow() if name == "now" else getattr(q, name) for name in ARGUMENTS[q.method])


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


class _Connection:
    """A database connection of the callbacks' own: a pool connection detached from its pool
    (so SQLAlchemy's connect events and dialect set-up ran on it), its encoding, the
    statements prepared on it and when it was opened."""

    __slots__ = ("raw", "conn", "pgconn", "encoding", "prepared", "opened", "close", "__weakref__")

    def __init__(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        self.conn: psycopg.Connection[Any] = raw.driver_connection
        raw.detach()  # ours now: close() closes it; the pool may open another in its place
        self.raw = raw
        self.pgconn = self.conn.pgconn
        self.encoding = self.conn.info.encoding
        self.prepared: set[bytes] = set()
        self.opened = time.monotonic()
        # Closed once: by close(), or when it is garbage (its thread ended without closing it).
        self.close = weakref.finalize(self, raw.close)


def _checked(result: pq.abc.PGresult, ok: pq.ExecStatus, encoding: str) -> pq.abc.PGresult:
    if result.status != ok:
        raise errors.error_from_result(result, encoding=encoding)
    return result


def _exec_prepared(c: _Connection, method: str, arguments: list[bytes | None]) -> pq.abc.PGresult:
    name = _NAMES[method]
    if name not in c.prepared:
        _checked(c.pgconn.prepare(name, STATEMENTS[method].encode(), _TYPES[method]), pq.ExecStatus.COMMAND_OK,
                 c.encoding)
        c.prepared.add(name)
    return c.pgconn.exec_prepared(name, arguments)


def _execute(c: _Connection, q: CallbackRequest) -> tuple[int, str, tuple[Movement, ...]]:
    """Call q's function on `c`: (error code answered, answer JSON, the ledger entries it wrote).

    Outside any transaction block, so the call is its own transaction: committed when the
    function returns, rolled back whole when it raises. The statement is prepared on the
    connection at its first call (the worker's warm-up does that before it serves).
    """
    if c.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        c.conn.rollback()  # nothing else uses it; but never run inside somebody's transaction
    arguments = [_text(value, c.encoding) for value in _arguments(q)]
    result = _exec_prepared(c, q.method, arguments)
    if result.status != pq.ExecStatus.TUPLES_OK and result.error_field(pq.DiagnosticField.SQLSTATE) == _NOT_PREPARED:
        c.prepared.discard(_NAMES[q.method])  # deallocated behind our back: prepare it again, once
        result = _exec_prepared(c, q.method, arguments)
    _checked(result, pq.ExecStatus.TUPLES_OK, c.encoding)
    _, raw, moved, currency, *promo = (result.get_value(0, column) for column in range(result.nfields))
    assert raw is not None
    body = raw.decode(c.encoding)
    if moved is None or currency is None:
        return answered_code(body), body, ()
    unit = currency.decode(c.encoding)
    entries = [Movement(KINDS[q.method], int(moved), unit)]
    if promo and promo[0] is not None:
        entries.append(Movement("promo", int(promo[0]), unit))
    return answered_code(body), body, tuple(entries)


def answered_code(body: str) -> int:
    """The error code an answer carries, as sent: the operator's table applied, and for a replay
    the code it was first given with. Every answer starts '{"error":<code>,' (answers.sql)."""
    return int(body[9:body.index(",", 9)])


class _Held:
    """The callbacks' connections of one engine: one per serving thread, held from call to call
    (module docstring). `spare` holds the ones the warm-up opened, until a thread takes one."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.spare: list[_Connection] = []
        self.open: weakref.WeakSet[_Connection] = weakref.WeakSet()  # closed when the engine is disposed

    def connection(self, engine: Engine) -> _Connection:
        """This thread's connection: a new one when it has none, or when its own is past the recycle age."""
        c: _Connection | None = getattr(self.local, "c", None)
        if c is not None and time.monotonic() - c.opened < RECYCLE_SECONDS:
            return c
        if c is not None:
            self.drop(c)
        with self.lock:
            c = self.spare.pop() if self.spare else None
        if c is None:
            c = self.add(engine)
        self.local.c = c
        return c

    def add(self, engine: Engine) -> _Connection:
        c = _Connection(engine)
        with self.lock:
            self.open.add(c)
        return c

    def spare_one(self, c: _Connection) -> None:
        """Keep `c` (opened and warmed by the warm-up) for the first thread that needs one."""
        with self.lock:
            self.spare.append(c)

    def drop(self, c: _Connection) -> None:
        """Forget `c` and close it (a broken connection too: closing it frees what is left)."""
        if getattr(self.local, "c", None) is c:
            self.local.c = None
        with self.lock:
            self.open.discard(c)
        c.close()

    def close_all(self) -> None:
        """The engine was disposed: close every held connection; each thread opens a new one."""
        with self.lock:
            every, self.open, self.spare = list(self.open), weakref.WeakSet(), []
            self.local = threading.local()
        for c in every:
            c.close()


# As old as the pool lets its own connections get (wallet/db.py), for the same reasons.
RECYCLE_SECONDS = POOL_RECYCLE_SECONDS
_ENGINES: weakref.WeakKeyDictionary[Engine, _Held] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def _held(engine: Engine) -> _Held:
    held = _ENGINES.get(engine)
    if held is None:
        with _ENGINES_LOCK:
            held = _ENGINES.get(engine)
            if held is None:
                held = _ENGINES[engine] = _Held()
                event.listen(engine, "engine_disposed", lambda _engine: held.close_all())
    return held


def call(engine: Engine, q: CallbackRequest) -> tuple[int, str, tuple[Movement, ...]] | None:
    """Run the callback's function; (error, answer JSON, money moved), or None when a concurrent
    request with the same uuid stored its answer first (this call then changed nothing).

    On this thread's own connection, straight on libpq (module docstring). A database
    error is raised as SQLAlchemy's DBAPIError, with `connection_invalidated` set when the
    connection died, as `run_callback` expects.
    """
    held = _held(engine)
    try:
        c = held.connection(engine)
    except psycopg.Error as exc:  # no connection at all (the database is down or starting)
        raise DBAPIError.instance(STATEMENTS[q.method], None, exc, psycopg.Error) from exc
    try:
        error, body, moved = _execute(c, q)
    except psycopg.Error as exc:
        if exc.sqlstate == LOST_RACE:
            return None
        broken = c.conn.broken
        if broken:  # a restart: the pool's connections of this generation are gone with it
            held.drop(c)
            engine.pool._invalidate(c.raw, exc, _checkin=False)
        raise DBAPIError.instance(
            STATEMENTS[q.method], None, exc, psycopg.Error, connection_invalidated=broken
        ) from exc
    return error, body, moved


# A user id longer than any player's (players.user_id is at most 128 characters), and no uuid: the
# warm-up calls are answered 100 "player not found", which writes and records nothing (requests.sql).
_NOBODY = "~" * 129


def warm_up(engine: Engine) -> int:
    """Open the callbacks' connections of this process, one per serving thread (the pool's
    size: WALLET_DB_POOL_SIZE, which gunicorn.conf.py sets to the threads per worker), and
    call each function once on each; return how many.

    PostgreSQL compiles a PL/pgSQL function and plans its statements on the first
    call in each session (~5-10 ms of server CPU), and each connection prepares its
    statements: done here, at worker start, that cost does not land on the first
    callbacks after a deploy. Nothing is written.
    """
    held = _held(engine)
    threads: int = engine.pool.size()  # type: ignore[attr-defined]
    for _ in range(threads):
        c = held.add(engine)
        for method in STATEMENTS:
            _execute(c, CallbackRequest(
                method=method, uuid=None, user_id=_NOBODY, body_hash="warm-up",  # type: ignore[arg-type]
                currency="USD", reference=f"warm-up:{uuid.uuid4()}", round_id="warm-up",
                amount=None if method == "refund" else Decimal("1.00"),
            ))
        held.spare_one(c)
    return threads

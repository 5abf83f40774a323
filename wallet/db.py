"""Engine and unit of work. One business operation = one database transaction.

PostgreSQL: READ COMMITTED with a transaction-scoped advisory lock per
provider reference, row locks (`SELECT ... FOR UPDATE`), and unique
constraints do the serialising, so any number of processes on any number of
hosts may share the database.

SQLite: every transaction starts with `BEGIN IMMEDIATE`, which takes the
database's single write lock up front; WAL mode lets readers continue.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url


# Pooled connections are replaced after this age (SQLAlchemy's pool_recycle), and so are the
# callbacks' own (wallet/ledger/functions.py): a connection does not live for ever behind
# proxies and firewalls that drop old ones.
POOL_RECYCLE_SECONDS = 1800


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5, pre_ping: bool = False) -> Engine:
    """An engine for `url` with the settings this service relies on.

    No pre-ping by default: it costs a round trip on every checkout. A connection
    the server dropped then fails its first statement, SQLAlchemy discards every
    pooled connection older than the failure, and `run_callback` runs the
    callback once more on a fresh one (docs/operations.md).
    WALLET_DB_PRE_PING=1 tests each connection up front instead.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _serialise_sqlite(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )


def _serialise_sqlite(engine: Engine) -> None:
    """Driver-level autocommit off, BEGIN IMMEDIATE on every transaction (SQLAlchemy pysqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


REFERENCE_LOCK_CLASS = 1470
_ADVISORY_LOCK = text(f"SELECT pg_advisory_xact_lock({REFERENCE_LOCK_CLASS}, :k)")


def reference_key(reference: str) -> int:
    """The advisory-lock key of a provider reference: its CRC-32 as a signed 32-bit integer."""
    return zlib.crc32(reference.encode("utf-8")) - 2**31


def lock_reference(conn: Connection, reference: str) -> None:
    """Serialise every transaction that touches one provider reference, whoever the player.

    On PostgreSQL a transaction-scoped advisory lock (released at commit or
    rollback); SQLite already serialises all writers.
    """
    if is_postgres(conn):
        conn.execute(_ADVISORY_LOCK, {"k": reference_key(reference)})


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Run a block in one transaction: commit when it returns, roll back when it raises."""
    with engine.begin() as conn:
        yield conn

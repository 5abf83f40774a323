"""The database engine. One business operation = one database transaction.

PostgreSQL only: READ COMMITTED with a transaction-scoped advisory lock per
provider reference, row locks (`SELECT ... FOR UPDATE`), and unique
constraints do the serialising (wallet/ledger/sql/opening.sql), so any number
of processes on any number of hosts may share the database.

Operator settings that the stored functions apply (the error-code table, what
a BonusWin does) reach them as session settings (`wallet.*`), set on every
connection the engine opens: a function reads them with current_setting().

Without WALLET_DATABASE_URL the database is the embedded server under
var/postgres (wallet/pgserver.py), started by the first engine that needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


# Pooled connections are replaced after this age (SQLAlchemy's pool_recycle), and so are the
# callbacks' own (wallet/ledger/functions.py): a connection does not live for ever behind
# proxies and firewalls that drop old ones.
POOL_RECYCLE_SECONDS = 1800


def make_engine(url: str | None, *, pool_size: int = 5, max_overflow: int = 5, pre_ping: bool = False,
                session_settings: Mapping[str, str] | None = None, read_only: bool = False) -> Engine:
    """An engine for `url` with the settings this service relies on.

    `url` None (no WALLET_DATABASE_URL): the embedded PostgreSQL under var/postgres,
    started here if it is not running (wallet.pgserver.default_url()).

    No pre-ping by default: it costs a round trip on every checkout. A connection
    the server dropped then fails its first statement, SQLAlchemy discards every
    pooled connection older than the failure, and `run_callback` runs the
    callback once more on a fresh one (docs/operations.md).
    WALLET_DB_PRE_PING=1 tests each connection up front instead.

    `session_settings`: `wallet.*` settings made on every new connection (module docstring).

    `read_only`: the staff reads' engine (WALLET_READ_DATABASE_URL): its sessions are
    read-only (default_transaction_read_only), so a write routed there by mistake fails
    loudly even when the URL names the primary.
    """
    if not url:
        from wallet import pgserver  # here, not at import: `python -m wallet.pgserver` imports this package

        url = pgserver.default_url()
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's default psycopg2
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the wallet runs on PostgreSQL only, not on {parsed.drivername}")
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    settings = dict(session_settings or {})
    if read_only:
        settings["default_transaction_read_only"] = "on"
    if settings:
        _set_on_connect(engine, settings)
    return engine


def _set_on_connect(engine: Engine, settings: dict[str, str]) -> None:
    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for name, value in settings.items():
                cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
        dbapi_connection.commit()  # set_config in a transaction lasts only if it commits

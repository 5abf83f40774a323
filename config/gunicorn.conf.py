"""gunicorn settings for the wallet: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (WALLET_BIND, WEB_CONCURRENCY,
WALLET_THREADS, WALLET_TIMEOUT) or on the command line.
"""

import multiprocessing
import os

bind = os.environ.get("WALLET_BIND", "127.0.0.1:8000")
# Callbacks are short and wait on the database: a few sync processes per core.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WALLET_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# The app (and its connection pool) is created in each worker after the fork.
preload_app = False
timeout = int(os.environ.get("WALLET_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak can never take a host down.
max_requests = 20000
max_requests_jitter = 2000
accesslog = os.environ.get("WALLET_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("WALLET_LOG_LEVEL", "info").lower()
# Trust X-Forwarded-* only from the reverse proxy on this host; the wallet's own
# allow-list uses WALLET_TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket sits at one fixed path per user: several wallets on
# one host (tests, blue/green) would fight over it, and we do not use it.
control_socket_disable = True

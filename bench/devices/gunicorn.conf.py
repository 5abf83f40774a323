"""gunicorn settings for `bench/run.sh devices`: the service's own (config/gunicorn.conf.py, run
here as it is), with one hot-path device switched off in every worker:

    BENCH_DEVICE_OFF=libpq gunicorn -c bench/devices/gunicorn.conf.py wsgi:app

BENCH_DEVICE_OFF names a function of bench/devices/off.py (libpq, held, loader, middleware,
encoder), called in each worker right after the fork, before the app is loaded. The other two
devices are switched off on gunicorn's command line (off.COMMAND_LINE). Bench-only.
"""

import os
from pathlib import Path

_PRODUCTION = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"
exec(compile(_PRODUCTION.read_text(), str(_PRODUCTION), "exec"))  # noqa: S102 - the service's settings, as they are

_DEVICE_OFF = os.environ["BENCH_DEVICE_OFF"]
_production_post_fork = globals().get("post_fork")


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    if _production_post_fork is not None:
        _production_post_fork(server, worker)
    from bench.devices.off import OFF

    OFF[_DEVICE_OFF]()
    worker.log.info("bench: device %s off", _DEVICE_OFF)

"""Prometheus metrics and structured JSON logs.

Metrics: the prometheus-client default registry in one process; under
gunicorn, `config/gunicorn.conf.py` sets PROMETHEUS_MULTIPROC_DIR before the
workers start, every worker writes its samples there and `/metrics` adds up
all of them (prometheus-client multiprocess mode). Amounts in metrics are
floats of major units: fine for dashboards, never used for money.

Logs: one JSON object per line. Every callback line carries method, error,
uuid, reference, userId and duration; never a body, a signature or a secret.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest, multiprocess

from config import Settings
from wallet.jsonutil import dumps
from wallet.ledger.movements import Movement
from wallet.money import from_minor

CALLBACKS = Counter(
    "wallet_callbacks", "Provider callbacks answered, by method and provider error code", ["method", "error"]
)
LATENCY = Histogram(
    "wallet_callback_duration_seconds",
    "Time from request to answer of provider callbacks",
    ["method"],
    buckets=(0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MONEY = Counter(
    "wallet_money_moved",
    "Money moved by callbacks, major units by currency and entry kind (float: metrics only, never money logic)",
    ["currency", "kind"],
)
REFUNDS = Counter(
    "wallet_refunds", "Refunds that did work: applied to bets, or recorded without a bet", ["outcome"]
)
# Apart from refunds: a Cancel without a bet is the provider's normal case (its Bet never arrived), which
# would drown the refunds' recorded_without_bet alert (config/prometheus-alerts.yml).
CANCELS = Counter(
    "wallet_cancels", "Cancels that did work: applied to a bet, or recorded without a bet", ["outcome"]
)
BONUS_WINS = Counter(
    "wallet_bonus_wins",
    "BonusWins that did work: credited, or recorded for 0.00 and not credited (WALLET_BONUS_WIN=record)",
    ["outcome"],
)
# The work-done counter of each entry kind that has one, and the outcome of an entry that moved nothing.
_OUTCOMES = {"refund": (REFUNDS, "applied", "recorded_without_bet"),
             "cancel": (CANCELS, "applied", "recorded_without_bet"),
             "bonus": (BONUS_WINS, "credited", "recorded_not_credited")}
FAILURES = Counter(
    "wallet_callback_failures",
    "Callbacks answered 'internal error, retry' because the wallet failed (kind: database or unexpected)",
    ["method", "kind"],
)

# Operator -> provider calls (wallet/provider): every call by kind and how it ended, the provider's
# health as last checked, and what the stale-round sweeps find and do.
PROVIDER_CALLS = Counter(
    "wallet_provider_calls", "Calls to the provider, by kind and status (confirmed, rejected, failed)",
    ["kind", "status"],
)
PROVIDER_UP = Gauge(
    "wallet_provider_up", "1 when the provider's last HealthCheck answered 0, else 0", multiprocess_mode="mostrecent"
)
PROVIDER_HEALTH_SECONDS = Gauge(
    "wallet_provider_health_check_seconds", "Duration of the provider's last HealthCheck",
    multiprocess_mode="mostrecent",
)
STALE_ROUNDS_FOUND = Counter("wallet_stale_rounds_found", "Stale rounds found by sweeps (each sweep counts its own)")
SWEEP_CANCELS = Counter("wallet_sweep_cancels_sent", "CancelRounds sent by stale-round sweeps")
SWEEP_OUTCOMES = Counter("wallet_sweep_outcomes", "Stale rounds by the outcome a sweep reported", ["outcome"])

log = logging.getLogger("wallet.callbacks")


@cache
def _child(metric: Any, *labels: str) -> Any:
    """A metric's child for these label values, looked up once (labels() takes a lock and
    validates on every call)."""
    return metric.labels(*labels)


def observe_callback(method: str, error: int, seconds: float, fields: dict[str, Any],
                     moved: Iterable[Movement]) -> None:
    """Count one answered callback (by method and the error code answered, in the configured table) and
    write its log line. `moved` holds the entries this call wrote (none for a replay or a retransmission):
    their money by kind (a bonus win recorded for 0.00 adds nothing), and the outcome of each refund,
    cancel and bonus win."""
    _child(CALLBACKS, method, str(error)).inc()
    _child(LATENCY, method).observe(seconds)
    for m in moved:
        if m.amount:
            _child(MONEY, m.currency, m.kind).inc(float(from_minor(abs(m.amount), m.currency)))
        outcome = _OUTCOMES.get(m.kind)
        if outcome is not None:
            counter, moved_money, moved_nothing = outcome
            _child(counter, moved_money if m.amount else moved_nothing).inc()
    log.info("callback", extra={"fields": {
        "method": method, "error": error, "uuid": fields.get("uuid"), "reference": fields.get("reference"),
        "userId": fields.get("user_id"), "ms": round(seconds * 1000, 2),
    }})


def count_failure(method: str, kind: str) -> None:
    """Count a callback the wallet failed to serve (answered 100, nothing written): what alerts page on.

    Error 100 in `wallet_callbacks_total` also means "player not found", so it cannot tell a
    provider sending unknown players from a database that is down; this counter can.
    """
    _child(FAILURES, method, kind).inc()


def count_provider_call(kind: str, status: str) -> None:
    _child(PROVIDER_CALLS, kind, status).inc()


def observe_provider_health(up: bool, seconds: float) -> None:
    PROVIDER_UP.set(1 if up else 0)
    PROVIDER_HEALTH_SECONDS.set(seconds)


def count_sweep(found: int, cancels_sent: int, outcomes: Iterable[str]) -> None:
    STALE_ROUNDS_FOUND.inc(found)
    SWEEP_CANCELS.inc(cancels_sent)
    for outcome in outcomes:
        _child(SWEEP_OUTCOMES, outcome).inc()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, the record's `fields`, exc."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        if seconds != self._second:  # the date part changes once a second: format it once
            self._second = seconds
            self._prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        entry: dict[str, Any] = {
            "ts": f"{self._prefix}.{int(record.msecs):03d}+00:00",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # The standard library's C encoder: a log line is written for every callback. Log fields
        # hold text and numbers; anything else is written as its str().
        return json.dumps(entry, separators=(",", ":"), default=str)

    _second = -1
    _prefix = ""


class TracebackBudget:
    """One full traceback per kind of failure per `seconds`, per process.

    While the database is down every callback fails the same way: a traceback for
    each (~10 KB) would be megabytes of logs a second and bury everything else.
    The first of a kind is logged whole; the rest, one line each (with their uuid),
    until the window has passed.
    """

    def __init__(self, seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: dict[Any, float] = {}

    def whole(self, kind: Any) -> bool:
        """True when a failure of this kind should be logged with its traceback."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.seconds:
            return False
        self._last[kind] = now
        return True


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message` (SQLAlchemy adds the statement on further lines)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def register_logging(settings: Settings) -> None:
    """JSON lines on stderr for the wallet's loggers (gunicorn keeps its own error log).

    Records still propagate to the root logger (which the service leaves without a
    handler), so that test tools such as pytest's caplog see them.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("wallet")
    logger.handlers[:] = [handler]
    logger.setLevel(settings.log_level)


def register_metrics(app: Flask) -> None:
    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

"""The callbacks' request log: its day partitions, and the callbacks refused before the database.

The log itself is written by the stored functions (wallet/ledger/sql/requests.sql):
one row per answered uuid, in the transaction of the work. This module keeps its
partitions (created AHEAD_DAYS ahead, each of span_days() days; partitions whose days are
all older than WALLET_REQUEST_LOG_DAYS dropped whole: `flask wallet prune-requests`) and records, with one INSERT, the
callbacks answered at the edge (no JSON, a bad signature, a field refused), so
that staff find them too. Those rows carry no answer: they are never replayed,
so the genuine request with the same uuid is still processed.

A flood of garbage must not fill the disk: each process records at most
REFUSED_PER_SECOND refusals a second (a burst of REFUSED_BURST), and the rest are
only counted and logged; rows are small (text cut to its column) and leave with
their day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from sqlalchemy import Connection, Engine, text

from wallet import clock
from wallet.jsonutil import loads, text_problem
from wallet.limits import FREE_TEXT_LENGTH, IDENTIFIER_LENGTH
from wallet.ledger.models import requests_log

log = logging.getLogger("wallet.request_log")

# Day partitions kept ready ahead of today: the start-up and a daily cron each renew them.
AHEAD_DAYS = 7
# About this many partitions hold the days kept: every callback probes each one for its uuid
# (wallet_stored), and the cost grows with their number (docs/performance.md, "The request log").
KEPT_PARTITIONS = 8


def span_days(days_kept: int) -> int:
    """Days per partition for a log that keeps `days_kept` days: one day while at most
    KEPT_PARTITIONS days are kept, else enough for about KEPT_PARTITIONS partitions (30 days: 4)."""
    return max(1, -(-days_kept // KEPT_PARTITIONS))
REFUSED_PER_SECOND = 20.0
REFUSED_BURST = 200


def today() -> date:
    """The UTC day of the wallet's clock: the day a callback answered now is filed under."""
    return clock.utcnow().astimezone(UTC).date()


def ensure_partitions(conn: Connection, day: date | None = None, dry_run: bool = False,
                      days_kept: int = 1) -> list[str]:
    """Create the missing partitions for the days from `day` (today) to AHEAD_DAYS after it, and for
    every day found in the default partition (its rows moved in), each spanning
    span_days(days_kept) days; the names created (or to create)."""
    rows = conn.execute(text("SELECT wallet_request_partitions(:day, :ahead, :span, :dry_run)"),
                        {"day": day or today(), "ahead": AHEAD_DAYS, "span": span_days(days_kept),
                         "dry_run": dry_run})
    return [name for (name,) in rows]


def prune(conn: Connection, days: int, day: date | None = None, dry_run: bool = False) -> list[str]:
    """Drop the day partitions older than `days` days before `day` (today); the names dropped."""
    rows = conn.execute(text("SELECT wallet_request_prune(:day, :days, :dry_run)"),
                        {"day": day or today(), "days": days, "dry_run": dry_run})
    return [name for (name,) in rows]


@dataclass
class PruneReport:
    created: list[str]
    dropped: list[str]
    dry_run: bool

    def lines(self) -> list[str]:
        """What was done (or, with --dry-run, would be), or that there was nothing to do."""
        verb = ("would create", "would drop") if self.dry_run else ("created", "dropped")
        out = [f"{verb[0]} partition {name}" for name in self.created]
        out += [f"{verb[1]} partition {name}" for name in self.dropped]
        return out or ["nothing to do: every partition ahead exists already and no day is older than the window"]


def prune_requests(engine: Engine, days: int, dry_run: bool = False,
                   on_change: Callable[[Connection, PruneReport], None] | None = None) -> PruneReport:
    """`prune-requests`: the partitions ahead first, then the old days dropped, in one transaction;
    `on_change` (the audit entry) runs in it when something changed."""
    with engine.begin() as conn:
        report = PruneReport(ensure_partitions(conn, dry_run=dry_run, days_kept=days),
                             prune(conn, days, dry_run=dry_run), dry_run)
        if on_change is not None and not dry_run and (report.created or report.dropped):
            on_change(conn, report)
    return report


def ensure_at_start(engine: Engine, days_kept: int) -> None:
    """At a worker's start (config/gunicorn.conf.py), before it serves: the partitions ahead, so that a
    restart renews them even without the cron. Best effort: a failure is logged, and the default
    partition takes the rows meanwhile."""
    try:
        with engine.begin() as conn:
            created = ensure_partitions(conn, days_kept=days_kept)
    except Exception as exc:  # the database may be down or not migrated yet
        log.warning("request log partitions not checked: %s: %s", type(exc).__name__, exc)
    else:
        if created:
            log.info("request log partitions created: %s", ", ".join(created))


class _Bucket:
    """A token bucket: `take()` is True at most `rate` times a second on average (`burst` at once)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), time.monotonic()
        self.lock = threading.Lock()
        self.dropped = 0

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            self.dropped += 1
            return False


_bucket = _Bucket(REFUSED_PER_SECOND, REFUSED_BURST)


def _field(data: Any, name: str, limit: int = IDENTIFIER_LENGTH) -> str | None:
    """A field of the request as text the column can hold (any case of its name; cut to `limit`)."""
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == name.lower():
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return None
            value = str(value)[:limit]
            return None if text_problem(value) else value
    return None


def record_refusal(engine: Engine, method: str, data: Any, body: str) -> None:
    """Record a callback answered `body` before the database (one INSERT, no answer stored).
    Best effort: never raises (the answer goes out whatever happens here)."""
    if not _bucket.take():
        if _bucket.dropped % 1000 == 1:
            log.warning("refused callbacks beyond %s a second are not recorded (%d so far)",
                        REFUSED_PER_SECOND, _bucket.dropped)
        return
    try:
        answer = loads(body)
        now = clock.utcnow()
        description = answer.get("description")
        row = {
            "day": now.astimezone(UTC).date(),
            "created_at": now, "method": method, "error": int(answer["error"]),
            "uuid": _field(data, "uuid"), "user_id": _field(data, "userId"),
            "reference": _field(data, "reference"),
            "description": description[:FREE_TEXT_LENGTH] if isinstance(description, str) else None,
        }
        with engine.begin() as conn:
            conn.execute(requests_log.insert().values(**row))
    except Exception as exc:
        log.warning("refused %s callback not recorded: %s: %s", method, type(exc).__name__, exc)

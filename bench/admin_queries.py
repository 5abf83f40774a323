"""Time the admin queries on a PostgreSQL ledger of ~1M entries (not part of `make test`).

    .venv/bin/python -m wallet.pgserver throwaway -- .venv/bin/python -m bench.admin_queries --entries 1000000

It EMPTIES the database at --url (default: $WALLET_TEST_DATABASE_URL, which
wallet.pgserver throwaway sets), migrates it, fills it with generate_series, then prints
the median of --repeat runs of each query and the plan of the first page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from bench.ledger_fill import fill
from wallet.admin import export, queries
from wallet.admin.queries import TransactionFilter
from wallet.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def prepare(url: str, entries: int, players: int) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE reversals, transactions, rounds, requests, players RESTART IDENTITY CASCADE"))
        started = time.perf_counter()
        fill(conn, entries, players)
    print(f"filled {entries:,} entries, {players:,} players in {time.perf_counter() - started:.1f}s")
    engine.dispose()


def timed(fn: Callable[[], Any], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def cases(conn: Connection, entries: int) -> dict[str, Callable[[], Any]]:
    middle = queries.encode_cursor(entries // 2)
    today = datetime.now(UTC).date()
    page = lambda f, cursor=None: lambda: queries.list_transactions(conn, f, 100, cursor)  # noqa: E731
    return {
        "page 1, no filter": page(TransactionFilter()),
        "page at the middle, no filter": page(TransactionFilter(), middle),
        "page, userId": page(TransactionFilter(user_id="user-77")),
        "page, userId + type=bet + status=open": page(TransactionFilter(user_id="user-77", type="bet", status="open")),
        "page, roundId": page(TransactionFilter(round_id="round-4242")),
        "page, reference": page(TransactionFilter(reference=f"ref-{entries // 3}")),
        "page, type=win": page(TransactionFilter(type="win")),
        "page, type=adjustment (none)": page(TransactionFilter(type="adjustment")),
        "page, status=refunded, middle": page(TransactionFilter(status="refunded"), middle),
        "page, last hour": page(TransactionFilter(since=datetime.now(UTC) - timedelta(hours=1))),
        "transaction by id + links": lambda: queries.get_transaction(conn, entries // 2 + 3),
        "round view": lambda: queries.get_round(conn, "round-4242"),
        "player history page": lambda: queries.player_history(conn, "user-77", 100),
        "daily report, 1 day": lambda: queries.daily_report(conn, today, today),
        "CSV export, first 100k rows": lambda: sum(
            1 for _, _ in zip(range(100_000), export.csv_lines(queries.iter_transactions(conn, TransactionFilter())))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("WALLET_TEST_DATABASE_URL"))
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-fill", action="store_true", help="reuse the ledger already there")
    parser.add_argument("--reconcile", action="store_true", help="also time the full reconciliation")
    args = parser.parse_args()
    if not args.url or "postgresql" not in args.url:
        parser.error("needs a PostgreSQL --url (or run under python -m wallet.pgserver throwaway)")
    if not args.no_fill:
        prepare(args.url, args.entries, args.players)
    engine = make_engine(args.url)
    with engine.connect() as conn:
        timings = {name: timed(fn, args.repeat) for name, fn in cases(conn, args.entries).items()}
        if args.reconcile:
            timings["reconciliation (whole ledger)"] = timed(lambda: queries.reconciliation(conn), 1)
        query = queries.transactions_query(TransactionFilter(status="refunded"), args.entries // 2).limit(101)
        compiled = query.compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params).all()
    width = max(map(len, timings))
    print(f"\n{'query':<{width}}  median ms (of {args.repeat})")
    for name, ms in timings.items():
        print(f"{name:<{width}}  {ms:10.2f}")
    print("\nEXPLAIN ANALYZE, status=refunded page in the middle of the ledger:")
    print("\n".join(row[0] for row in plan))
    engine.dispose()


if __name__ == "__main__":
    main()

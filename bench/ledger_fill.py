"""Fill a PostgreSQL ledger fast, for EXPLAIN tests and the bench.

`fill`: generate_series, one INSERT ... SELECT per table (the EXPLAIN tests, bench/admin_queries.py).
`copy_fill` (``python -m bench.ledger_fill URL ROWS``): COPY, in chunks, a ledger that
reconciles, for the scale bench (bench/run.sh).

`fill`'s shape is plausible rather than replayable: every fourth entry a win, a
refund reversing the bet just before it, balances not chained. Reconciliation
is not meaningful on it; the plans and timings of the read queries are.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

FILL = [
    """INSERT INTO players (user_id, currency, status, balance, created_at, updated_at)
       SELECT 'user-' || g, CASE WHEN g % 10 = 0 THEN 'JPY' ELSE 'USD' END, 'active', 0, now(), now()
       FROM generate_series(1, :players) g""",
    """INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
       SELECT 'round-' || g, (SELECT min(id) FROM players) + g % :players, 'game', 'open', g % 3 = 0, now(), now()
       FROM generate_series(1, :entries / 4 + 1) g""",
    """INSERT INTO transactions (kind, reference, player_id, round_pk, amount, balance_after, currency, created_at)
       SELECT k.kind, 'ref-' || g, p0 + (g / 4) % :players, r0 + g / 4,
              CASE WHEN k.kind = 'bet' THEN -100 ELSE 100 END, 100000,
              CASE WHEN ((g / 4) % :players) % 10 = 0 THEN 'JPY' ELSE 'USD' END,
              now() - make_interval(secs => (:entries - g) * 2)
       FROM generate_series(0, :entries - 1) g,
            LATERAL (SELECT (ARRAY['bet', 'win', 'bet', 'refund'])[g % 4 + 1] AS kind) k,
            (SELECT min(id) AS p0 FROM players) p, (SELECT min(id) AS r0 FROM rounds) r""",
    """INSERT INTO reversals (bet_id, refund_id, amount)
       SELECT id - 1, id, 100 FROM transactions WHERE kind = 'refund'""",
    "ANALYZE players", "ANALYZE rounds", "ANALYZE transactions", "ANALYZE reversals",
]


def fill(conn: Connection, entries: int, players: int = 1000) -> None:
    """Insert `entries` ledger rows spread over `players` players and entries/4 rounds."""
    for statement in FILL:
        conn.execute(text(statement), {"entries": entries, "players": players})


# ----------------------------------------------------------------------- COPY, for the scale bench

COPY_PLAYERS = 10_000
COPY_CHUNK = 500_000  # pairs per transaction (one COPY of rounds, one of transactions)
COPY_SPAN_DAYS = 365  # the filler's entries are spread over the last year, oldest first


def copy_fill(url: str, entries: int, players: int = COPY_PLAYERS, log: Any = print) -> int:
    """Grow the ledger to at least `entries` rows with COPY, keeping reconciliation clean.

    Pairs (deposit +1.00, bet -1.00 in an ended round, with its request-log row unless the log is
    partitioned by day) on `players`
    players fill-c1..N, spread over the last COPY_SPAN_DAYS days: a balance stays 0, every
    balance_after chains. Every index is maintained as the callbacks maintain it (nothing is
    dropped and rebuilt). Returns the rows added.
    """
    import psycopg  # the bench's own driver use, as bench/seed.py

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]  # type: ignore[index]
        pairs = max(0, (entries - have + 1) // 2)
        if not pairs:
            return 0
        conn.execute("""INSERT INTO players (user_id, currency, status, balance, created_at, updated_at)
                        SELECT 'fill-c' || g, 'USD', 'active', 0, now(), now() FROM generate_series(1, %s::int) g
                        ON CONFLICT (user_id) DO NOTHING""", (players,))
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM players WHERE user_id LIKE 'fill-c%%' ORDER BY id LIMIT %s", (players,))]
        tag = f"c{int(time.time())}"
        partitioned = conn.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = 'requests'::regclass").fetchone()[0]  # type: ignore[index]
        started = time.monotonic()
        now = time.time()
        step = COPY_SPAN_DAYS * 86400 / pairs
        done = 0
        while done < pairs:
            n = min(COPY_CHUNK, pairs - done)
            with conn.transaction():
                # A block of round ids of our own, so that the bets can name their rounds.
                first = conn.execute("SELECT setval('rounds_id_seq', nextval('rounds_id_seq') + %s - 1) - %s + 1",
                                     (n, n)).fetchone()[0]  # type: ignore[index]
                rounds, entries_ = [], []
                for i in range(n):
                    g = done + i
                    rid = first + i
                    player = ids[g % len(ids)]
                    at = _ts(now - (pairs - g) * step)
                    rounds.append(f"{rid}\t{tag}-r{g}\t{player}\tIm_60_tumblefortune\tended\tf\t{at}\t{at}\n")
                    entries_.append(f"adjustment\t{tag}-{g}-dep\t{player}\t\\N\t100\t100\tUSD\t\\N\t\\N\t\\N"
                                    f"\t\\N\t\\N\t\\N\t\\N\tbench filler deposit\t{at}\n"
                                    f"bet\t{tag}-{g}\t{player}\t{rid}\t-100\t0\tUSD\t{tag}-u{g}\ts-fill\tLuckyMonaco"
                                    f"\tIm_60_tumblefortune\ttumblefortune\tspin\t2026-11-24T09:00:00Z\t\\N\t{at}\n")
                with conn.cursor().copy("COPY rounds (id, round_id, player_id, game_id, status, has_result, "
                                        "created_at, updated_at) FROM STDIN") as copy:
                    copy.write("".join(rounds))
                with conn.cursor().copy("COPY transactions (kind, reference, player_id, round_pk, amount, "
                                        "balance_after, currency, request_uuid, session_id, provider_id, game_id, "
                                        "game_name, round_details, provider_ts, note, created_at) FROM STDIN") as copy:
                    copy.write("".join(entries_))
                # The request log's columns belong to its migration: written in SQL, as bench/seed.py
                # does; a log partitioned by day (0013) keeps only its retained days, whatever the
                # ledger's size, and gets no filler rows.
                if not partitioned:
                    conn.execute("""INSERT INTO requests (uuid, method, body_hash, response, created_at)
                                    SELECT t.request_uuid, 'bet', md5(t.reference) || md5(t.reference),
                                           '{"error":0,"description":"Success","transactionId":"' || t.id
                                           || '","currency":"USD","cash":0.00}', t.created_at
                                    FROM transactions t
                                    WHERE t.kind = 'bet' AND t.round_pk BETWEEN %s AND %s""", (first, first + n - 1))
                del rounds, entries_
            done += n
            rate = 2 * done / max(1e-9, time.monotonic() - started)
            log(f"ledger_fill: {have + 2 * done:,} rows ({rate:,.0f} entries/s)")
        conn.execute("ANALYZE players")
        conn.execute("ANALYZE rounds")
        conn.execute("ANALYZE transactions")
        conn.execute("ANALYZE requests")
        return 2 * pairs


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Grow a wallet ledger to ROWS entries with COPY (bench/README.md).")
    parser.add_argument("url")
    parser.add_argument("rows", type=int)
    parser.add_argument("--players", type=int, default=COPY_PLAYERS)
    args = parser.parse_args(argv)
    added = copy_fill(args.url, args.rows, args.players, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(added)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

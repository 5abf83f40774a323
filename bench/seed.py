"""Fast set-up of benchmark data straight in SQL, keeping the ledger's invariants.

    python bench/seed.py URL players N            bench-p1..N, USD, each with one large deposit
    python bench/seed.py URL bets PREFIX START COUNT
                                                  open bets PREFIX-i (i = START..START+COUNT-1) of 1.00
                                                  by bench-p(i mod N + 1), one open round each
    python bench/seed.py URL fill ENTRIES         filler history: pairs (deposit +1.00, bet -1.00 in an
                                                  ended round) on 1000 other players, plus one request-log
                                                  row per pair, until the ledger holds >= ENTRIES rows
    python bench/seed.py URL limits on|off        every limit set on every bench-p player (maxBet, loss and
                                                  wager limits of the day, week and month, a reality check),
                                                  all far above what the bench bets; or none
    python bench/seed.py URL count                ledger rows
    python bench/seed.py URL reconcile            the admin reconciliation (exit 1 on any mismatch)

Invariants kept (the ones GET /admin/reconciliation checks): every balance equals
the sum of its entries and its last entry's balance_after; entries are only inserted.
"""

from __future__ import annotations

import sys
import time

import psycopg
from psycopg.types.json import Json

DEPOSIT = 10**11  # minor units: a billion dollars each, so no bench bet is ever refused for funds
FILL_PLAYERS = 1000


def players(conn: psycopg.Connection, n: int) -> None:
    conn.execute(
        """
        INSERT INTO players (user_id, currency, status, balance, created_at, updated_at)
        SELECT 'bench-p' || g, 'USD', 'active', %(d)s, now(), now() FROM generate_series(1, %(n)s::int) g
        """,
        {"n": n, "d": DEPOSIT},
    )
    conn.execute(
        """
        INSERT INTO transactions (kind, reference, player_id, amount, balance_after, currency, note, created_at)
        SELECT 'adjustment', 'bench-deposit-' || p.user_id, p.id, %(d)s, %(d)s, 'USD', 'bench deposit', now()
        FROM players p WHERE p.user_id LIKE 'bench-p%%' ORDER BY p.id
        """,
        {"d": DEPOSIT},
    )


def bets(conn: psycopg.Connection, prefix: str, start: int, count: int) -> None:
    n = conn.execute("SELECT count(*) FROM players WHERE user_id LIKE 'bench-p%'").fetchone()[0]
    params = {"prefix": prefix, "start": start, "end": start + count - 1, "n": n}
    conn.execute(
        """
        INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
        SELECT %(prefix)s || '-round-' || i, p.id, 'Im_60_tumblefortune', 'open', false, now(), now()
        FROM generate_series(%(start)s::int, %(end)s::int) i JOIN players p ON p.user_id = 'bench-p' || (i %% %(n)s + 1)
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO transactions (kind, reference, player_id, round_pk, amount, balance_after, currency,
                                  request_uuid, session_id, provider_id, game_id, game_name, round_details,
                                  provider_ts, created_at)
        SELECT 'bet', %(prefix)s || '-' || b.i, b.id, r.id, -100, b.balance - 100 * b.k, 'USD',
               'seed-' || %(prefix)s || '-' || b.i, 's-seed', 'LuckyMonaco', 'Im_60_tumblefortune',
               'tumblefortune', 'spin', '2026-11-24T10:00:00Z', now()
        FROM (SELECT i, p.id, p.balance, row_number() OVER (PARTITION BY p.id ORDER BY i) AS k
              FROM generate_series(%(start)s::int, %(end)s::int) i
              JOIN players p ON p.user_id = 'bench-p' || (i %% %(n)s + 1)) b
        JOIN rounds r ON r.round_id = %(prefix)s || '-round-' || b.i
        ORDER BY b.i
        """,
        params,
    )
    conn.execute(
        """
        UPDATE players p SET balance = p.balance - 100 * c.k, updated_at = now()
        FROM (SELECT 'bench-p' || (i %% %(n)s + 1) AS user_id, count(*) AS k
              FROM generate_series(%(start)s::int, %(end)s::int) i GROUP BY 1) c
        WHERE p.user_id = c.user_id
        """,
        params,
    )


def fill(conn: psycopg.Connection, entries: int) -> None:
    have = count(conn)
    pairs = max(0, (entries - have + 1) // 2)
    if not pairs:
        return
    tag = f"fill{int(time.time())}"
    params = {"tag": tag, "pairs": pairs, "fp": FILL_PLAYERS}
    conn.execute(
        """
        INSERT INTO players (user_id, currency, status, balance, created_at, updated_at)
        SELECT 'fill-p' || g, 'USD', 'active', 0, now(), now() FROM generate_series(1, %(fp)s::int) g
        ON CONFLICT (user_id) DO NOTHING
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at)
        SELECT %(tag)s || '-round-' || g, p.id, 'Im_60_tumblefortune', 'ended', false, now(), now()
        FROM generate_series(1, %(pairs)s::int) g JOIN players p ON p.user_id = 'fill-p' || (g %% %(fp)s + 1)
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO transactions (kind, reference, player_id, round_pk, amount, balance_after, currency,
                                  request_uuid, session_id, provider_id, game_id, game_name, round_details,
                                  provider_ts, note, created_at)
        SELECT v.kind, %(tag)s || '-' || g || v.suffix, r.player_id, CASE WHEN v.kind = 'bet' THEN r.id END,
               v.amount, v.after, 'USD', %(tag)s || '-u-' || g, 's-fill', 'LuckyMonaco',
               'Im_60_tumblefortune', 'tumblefortune', 'spin', '2026-11-24T09:00:00Z', v.note, now()
        FROM generate_series(1, %(pairs)s::int) g
        JOIN rounds r ON r.round_id = %(tag)s || '-round-' || g
        CROSS JOIN (VALUES (1, 'adjustment', '-dep', 100, 100, 'bench filler deposit'),
                           (2, 'bet', '', -100, 0, NULL)) v(ord, kind, suffix, amount, after, note)
        ORDER BY g, v.ord
        """,
        params,
    )
    conn.execute(
        """
        INSERT INTO requests (uuid, method, body_hash, response, created_at)
        SELECT %(tag)s || '-u-' || g, 'bet', md5(g::text) || md5(g::text),
               '{"error":0,"description":"Success","transactionId":"0","currency":"USD","cash":0.00}', now()
        FROM generate_series(1, %(pairs)s::int) g
        """,
        params,
    )


# Every limit wallet/ledger/sql/limits.sql knows, high enough never to refuse a bench Bet: the Bet
# pays for reading and checking them (the period totals included), and moves money as without.
LIMITS = {"max_bet": 10**12, "loss_day": 10**15, "loss_week": 10**15, "loss_month": 10**15,
          "wager_day": 10**15, "wager_week": 10**15, "wager_month": 10**15, "reality_check": 10**6}


def limits(conn: psycopg.Connection, on: bool) -> None:
    conn.execute("DELETE FROM player_limits WHERE player_id IN (SELECT id FROM players WHERE user_id LIKE 'bench-p%')")
    if on:
        conn.execute(
            """
            INSERT INTO player_limits (player_id, name, value, updated_at)
            SELECT p.id, l.name, l.value::bigint, now()
            FROM players p, jsonb_each_text(%(limits)s::jsonb) AS l (name, value)
            WHERE p.user_id LIKE 'bench-p%%'
            """,
            {"limits": Json(LIMITS)},
        )


def count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM transactions").fetchone()[0]


def reconcile(url: str) -> int:
    from sqlalchemy import create_engine

    from wallet.admin.queries import reconciliation

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        report = reconciliation(conn)
    engine.dispose()
    print(f"reconciliation ok={report['ok']} mismatches={len(report['mismatches'])}")
    return 0 if report["ok"] else 1


def main(argv: list[str]) -> int:
    url, command, *args = argv
    if command == "reconcile":
        return reconcile(url)
    with psycopg.connect(url) as conn:
        if command == "players":
            players(conn, int(args[0]))
        elif command == "bets":
            bets(conn, args[0], int(args[1]), int(args[2]))
        elif command == "fill":
            fill(conn, int(args[0]))
        elif command == "limits" and args in (["on"], ["off"]):
            limits(conn, args[0] == "on")
        elif command == "count":
            print(count(conn))
            return 0
        else:
            raise SystemExit(__doc__)
        conn.execute("ANALYZE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

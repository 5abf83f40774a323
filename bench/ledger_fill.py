"""Fill a PostgreSQL ledger fast (generate_series, one INSERT ... SELECT per table) for EXPLAIN tests and the bench.

The shape is plausible rather than replayable: every fourth entry a win, a
refund reversing the bet just before it, balances not chained. Reconciliation
is not meaningful on it; the plans and timings of the read queries are.
"""

from __future__ import annotations

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

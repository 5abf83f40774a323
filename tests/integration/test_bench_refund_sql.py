"""bench/refund.sql and bench/bet.sql, the bench's database-alone phases: pgbench calling the functions.

Its figure means something only if every transaction refunds its own open bet,
once, for the bet's amount, as the wallet would: here pgbench runs it for a
fixed number of transactions against bets made by bench/seed.py, and the ledger
is read back.
"""

from __future__ import annotations

import re
import subprocess

import psycopg
import pytest

from bench import seed
from tests.support import ROOT, ledger_problems, pg_bin

CLIENTS = 4
PER_CLIENT = 30
PLAYERS = 7
SPARE = 10  # bets past the last one pgbench should reach: they must stay open


def _pgbench() -> str:
    found = pg_bin("pgbench")
    if not found:
        pytest.skip("pgbench not found (Debian's postgresql-15 has it)")
    return found


def test_each_transaction_refunds_its_own_bet_once(postgres_url):
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    transactions = CLIENTS * PER_CLIENT
    with psycopg.connect(url, autocommit=True) as conn:
        seed.players(conn, PLAYERS)
        seed.bets(conn, "alone", 1, transactions + SPARE)

    done = subprocess.run(
        [_pgbench(), "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-t", str(PER_CLIENT),
         "-f", str(ROOT / "bench" / "refund.sql"), "-D", "k=0", "-D", f"clients={CLIENTS}",
         "-D", f"players={PLAYERS}", "-D", "prefix=alone", "-D", "run=db-test", url],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    processed = re.search(r"number of transactions actually processed: (\d+)/(\d+)", done.stdout)
    assert processed and processed.groups() == (str(transactions), str(transactions)), done.stdout

    with psycopg.connect(url) as conn:
        refunded = conn.execute(
            """
            SELECT b.reference, b.player_id = r.player_id, r.amount, rv.amount, rd.status
            FROM transactions b
            JOIN reversals rv ON rv.bet_id = b.id
            JOIN transactions r ON r.id = rv.refund_id
            JOIN rounds rd ON rd.id = b.round_pk
            WHERE b.kind = 'bet' AND b.reference LIKE 'alone-%'
            ORDER BY b.id
            """
        ).fetchall()
        answers = conn.execute(
            "SELECT count(*) FILTER (WHERE response LIKE '{\"error\":0,\"description\":\"Success\",%%'), count(*)"
            " FROM requests WHERE uuid LIKE 'db-test-%%'"
        ).fetchone()
        open_bets = conn.execute(
            """
            SELECT b.reference FROM transactions b
            WHERE b.kind = 'bet' AND b.reference LIKE 'alone-%'
              AND NOT EXISTS (SELECT 1 FROM reversals rv WHERE rv.bet_id = b.id)
            ORDER BY b.id
            """
        ).fetchall()
        refunds = conn.execute("SELECT count(*) FROM transactions WHERE kind = 'refund'").fetchone()[0]

    # Bets 1..transactions, each refunded once by its owner for its 1.00, its round cancelled.
    assert [row[0] for row in refunded] == [f"alone-{i}" for i in range(1, transactions + 1)]
    assert all(row[1:] == (True, 100, 100, "cancelled") for row in refunded), refunded[:5]
    assert refunds == transactions
    assert answers == (transactions, transactions)
    assert [row[0] for row in open_bets] == [f"alone-{i}" for i in range(transactions + 1, transactions + SPARE + 1)]
    assert ledger_problems(postgres_url) == {}


@pytest.mark.parametrize("limits", ["on", "off"])
def test_bench_bet_sql_makes_one_accepted_bet_per_transaction_with_and_without_limits(postgres_url, limits):
    """bench/bet.sql, the `bet-limits-db-*` phases: every transaction a new accepted 1.00 bet, with every
    limit set on every bench player or none; the period totals then equal the ledger."""
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    transactions = CLIENTS * PER_CLIENT
    with psycopg.connect(url, autocommit=True) as conn:
        seed.players(conn, PLAYERS)
        seed.limits(conn, limits == "on")
    done = subprocess.run(
        [_pgbench(), "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-t", str(PER_CLIENT),
         "-f", str(ROOT / "bench" / "bet.sql"), "-D", "k=0", "-D", f"players={PLAYERS}", "-D", f"run=bet-{limits}",
         url],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(url) as conn:
        answered = conn.execute(
            "SELECT count(*) FILTER (WHERE error = 0), count(*) FROM requests WHERE uuid LIKE %s",
            (f"bet-{limits}-%",)).fetchone()
        bets = conn.execute("SELECT count(*), sum(amount) FROM transactions WHERE kind = 'bet' AND reference LIKE %s",
                            (f"bet-{limits}-%",)).fetchone()
        totals = conn.execute("SELECT coalesce(sum(bets[1]), 0) FROM player_period_totals").fetchone()[0]
    assert answered == (transactions, transactions)
    assert bets == (transactions, -100 * transactions)
    assert totals == (100 * transactions if limits == "on" else 0)
    assert ledger_problems(postgres_url) == {}

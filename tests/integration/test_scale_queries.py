"""The scale bench's COPY filler keeps the ledger reconciled, and the admin list of refunded bets
reads the reversals' key instead of probing every bet (a page of them on a ledger where refunds
are rare stays a few index probes: bench/run.sh, docs/performance.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

from bench.ledger_fill import copy_fill
from tests.support import ledger_problems
from wallet.admin import queries
from wallet.admin.queries import TransactionFilter

ROWS = 40_000


def _buffers(node: dict[str, Any]) -> int:
    return node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0)


def test_copy_fill_grows_a_reconciled_ledger_and_refunded_bets_are_listed_without_a_scan(database_url: str) -> None:
    assert copy_fill(database_url, ROWS, players=50, log=lambda _: None) == ROWS
    assert copy_fill(database_url, ROWS, players=50, log=lambda _: None) == 0  # already there
    assert ledger_problems(database_url) == {}

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM transactions")).scalar() == ROWS
            partitioned = conn.execute(text("SELECT relkind = 'p' FROM pg_class WHERE oid = 'requests'::regclass")).scalar()
            assert conn.execute(text("SELECT count(*) FROM requests")).scalar() == (0 if partitioned else ROWS // 2)
            # Three of the 20,000 bets refunded, the oldest ones: a page must not walk the ledger to them.
            bets = conn.execute(text("SELECT id, player_id, reference FROM transactions WHERE kind = 'bet' "
                                     "ORDER BY id LIMIT 3")).all()
            for bet_id, player_id, reference in bets:
                refund_id = conn.execute(text(
                    "INSERT INTO transactions (kind, reference, player_id, amount, balance_after, currency, created_at) "
                    "VALUES ('refund', :r, :p, 100, 100, 'USD', now()) RETURNING id"),
                    {"r": f"{reference}-refund", "p": player_id}).scalar()
                conn.execute(text("INSERT INTO reversals (bet_id, refund_id, amount) VALUES (:b, :r, 100)"),
                             {"b": bet_id, "r": refund_id})
            conn.execute(text("ANALYZE transactions, reversals"))
        with engine.connect() as conn:
            items, next_cursor = queries.list_transactions(conn, TransactionFilter(status="refunded"), 100)
            assert [int(i["transactionId"]) for i in items] == sorted((b[0] for b in bets), reverse=True)
            assert next_cursor is None
            query = queries.transactions_query(TransactionFilter(status="refunded"), None).limit(101)
            compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled),
                                        compiled.params).scalar_one()[0]["Plan"]
        # A few index probes per listed bet, not one per bet of the ledger (20,000 here).
        assert _buffers(plan) < 200, plan
    finally:
        engine.dispose()


def test_stale_rounds_start_from_the_old_open_rounds_not_every_open_one(database_url: str) -> None:
    """30,000 open rounds in play and two stale ones: the stale-round list reads the two (the partial
    index of open, unsettled rounds by creation time, migration 0015), not every open round."""
    from wallet.provider import sweeper

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            player = conn.execute(text(
                "INSERT INTO players (user_id, currency, balance, status, created_at, updated_at) "
                "VALUES ('scale-p', 'USD', 1000000, 'active', now(), now()) RETURNING id")).scalar()
            conn.execute(text(
                "INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at) "
                "SELECT 'stale-' || g, :p, 'g', 'open', false, now() - interval '3 days', now() - interval '3 days' "
                "FROM generate_series(1, 2) g"), {"p": player})
            conn.execute(text(
                "INSERT INTO rounds (round_id, player_id, game_id, status, has_result, created_at, updated_at) "
                "SELECT 'fresh-' || g, :p, 'g', 'open', false, now(), now() FROM generate_series(1, 30000) g"),
                {"p": player})
            conn.execute(text(
                "INSERT INTO transactions (kind, reference, player_id, round_pk, amount, balance_after, currency, "
                "created_at) SELECT 'bet', 'bet-' || r.round_id, :p, r.id, -100, 1000000, 'USD', r.created_at "
                "FROM rounds r WHERE r.round_id LIKE 'stale-%'"), {"p": player})
            conn.execute(text("ANALYZE rounds, transactions"))
        with engine.connect() as conn:
            items, next_cursor = sweeper.stale_rounds(conn, 24)
            assert [i["roundId"] for i in items] == ["stale-1", "stale-2"] and next_cursor is None
            query = sweeper._stale_select(24, None, None).limit(101)
            compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled),
                                        compiled.params).scalar_one()[0]["Plan"]
        assert _buffers(plan) < 100, plan  # every open round would be hundreds of blocks
    finally:
        engine.dispose()

"""PostgreSQL: the admin queries walk indexes (EXPLAIN), pages stay stable under concurrent
inserts, and the CSV export reads through a server-side cursor."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Select, create_engine, select

from bench.ledger_fill import fill
from tests.conftest import Operator, Provider, make_app
from wallet.admin import queries
from wallet.admin.queries import TransactionFilter
from wallet.ledger.models import transactions

ENTRIES = 40_000
# A frequent type is found fastest by walking the primary key backwards; a rare one by (kind, id).
BY_ID_OR_KIND = {"pk_transactions", "ix_transactions_kind_id"}


@pytest.fixture(scope="module")
def big_ledger() -> Any:
    """A module-wide filled ledger (the `postgres_url` fixture empties it again for later tests)."""
    from tests.conftest import _postgres_url

    url = _postgres_url()
    engine = create_engine(url)
    with engine.begin() as conn:
        fill(conn, ENTRIES, players=400)
    yield engine
    engine.dispose()


def plan(conn: Connection, query: Select[Any]) -> dict[str, Any]:
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    rows = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one()
    return rows[0]["Plan"]


def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("Plans", []) for n in nodes(child)]


def assert_walks_index(node: dict[str, Any], index: str | set[str], *, may_sort_matches: bool = False) -> None:
    """No Seq Scan over the ledger, the expected index used, and no Sort at all unless the filter
    alone narrows the rows (then PostgreSQL may sort just those matches: a player's bets, say)."""
    every = nodes(node)
    shape = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in every]
    assert not [n for n in every if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in
                ("transactions", "reversals")], shape
    allowed = {index} if isinstance(index, str) else index
    assert allowed & {n.get("Index Name") for n in every}, shape
    if not may_sort_matches:
        assert not [n for n in every if "Sort" in n["Node Type"]], shape


def _one(conn: Connection, column: Any, where: Any) -> Any:
    return conn.execute(select(column).where(where).limit(1)).scalar_one()


@pytest.mark.parametrize("f, index", [
    (TransactionFilter(), "pk_transactions"),
    (TransactionFilter(status="open"), BY_ID_OR_KIND),
    (TransactionFilter(type="win"), BY_ID_OR_KIND),
    (TransactionFilter(type="adjustment"), "ix_transactions_kind_id"),
    (TransactionFilter(status="refunded"), BY_ID_OR_KIND),
    (TransactionFilter(status="applied"), BY_ID_OR_KIND),
])
def test_every_listing_page_walks_an_index_without_sorting(big_ledger, f, index):
    with big_ledger.connect() as conn:
        middle = _one(conn, transactions.c.id, transactions.c.reference == f"ref-{ENTRIES // 2}")
        for after in (None, middle):
            assert_walks_index(plan(conn, queries.transactions_query(f, after).limit(101)), index)


@pytest.mark.parametrize("f, index", [
    (TransactionFilter(user_id="user-7"), "ix_transactions_player_id_id"),
    (TransactionFilter(user_id="user-7", type="bet", status="open"), "ix_transactions_player_id_id"),
    (TransactionFilter(reference="ref-12345"), "uq_transactions_reference_kind"),
    # rounds are per player: the roundId's rounds by ix_rounds_round_id, then their entries
    (TransactionFilter(round_id="round-99"), "ix_transactions_round_pk_id"),
])
def test_a_narrow_filter_reads_only_its_own_matches(big_ledger, f, index):
    """A player's, a round's or a reference's few entries: fetched by index, only those sorted."""
    with big_ledger.connect() as conn:
        assert_walks_index(plan(conn, queries.transactions_query(f).limit(101)), index, may_sort_matches=True)


def test_a_recent_time_window_walks_an_index(big_ledger):
    with big_ledger.connect() as conn:
        since = datetime.now(UTC) - timedelta(hours=1)
        every = nodes(plan(conn, queries.transactions_query(TransactionFilter(since=since)).limit(101)))
        assert not [n for n in every if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "transactions"]


def test_round_view_and_daily_report_read_only_their_range(big_ledger):
    with big_ledger.connect() as conn:
        found = queries.get_round(conn, "round-123")
        assert [e["type"] for e in found["entries"]] == ["bet", "win", "bet", "refund"]
        today = datetime.now(UTC).date()
        report = queries.daily_report(conn, today, today)
        assert report["days"] and sum(r["bets"]["count"] for r in report["days"]) > 0
        day = queries._day(conn).label("day")  # the report's own grouping over one day
        recent = transactions.c.created_at >= datetime.now(UTC) - timedelta(hours=2)
        one_day = select(day, transactions.c.kind).where(recent).group_by(day, transactions.c.kind)
        kinds = [(n["Node Type"], n.get("Relation Name"), n.get("Index Name")) for n in nodes(plan(conn, one_day))]
        assert ("Seq Scan", "transactions", None) not in kinds, kinds


def test_csv_export_reads_through_a_server_side_cursor(big_ledger):
    with big_ledger.connect() as conn:
        rows = queries.iter_transactions(conn, TransactionFilter(type="bet"), batch=500)
        first = next(rows)
        declared = conn.exec_driver_sql("SELECT statement FROM pg_cursors WHERE name <> ''").scalars().all()
        assert len(declared) == 1 and "transactions" in declared[0] and first["type"] == "bet"
        assert 1 + sum(1 for _ in rows) == ENTRIES // 2


def test_pages_stay_stable_while_another_thread_inserts(postgres_url):
    app = make_app(postgres_url)
    operator, provider = Operator(app.test_client()), Provider(app.test_client())
    operator.open_player("p1", "USD", "100000.00")
    for n in range(30):
        provider.call("Bet", userId="p1", reference=f"before-{n}", roundId=f"r-{n}", amount="1.00")
    snapshot = [i["transactionId"] for i in operator.request("GET", "/transactions?limit=1000").get_json()["items"]]

    stop = threading.Event()

    def writer() -> None:
        other = Provider(app.test_client())
        n = 0
        while not stop.is_set():
            other.call("Bet", userId="p1", reference=f"during-{n}", roundId=f"rd-{n}", amount="1.00")
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen, cursor = [], None
        while True:
            query = f"/transactions?limit=4{f'&cursor={cursor}' if cursor else ''}"
            page = operator.request("GET", query).get_json()
            seen += [i["transactionId"] for i in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen)), "an entry was listed twice"
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)
    assert set(snapshot) <= set(seen), "an entry that existed before paging was skipped"
    assert any(int(i) > int(snapshot[0]) for i in seen) or len(seen) == len(snapshot)
    app.extensions["wallet.engine"].dispose()

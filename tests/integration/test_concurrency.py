"""Exactly once under concurrency, on PostgreSQL: threads in one process, then real gunicorn workers.

Each test races requests that may only take effect once and then checks the
ledger itself: every bet reversed at most once, a refunded reference never
left debited, every balance equal to its entries.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import create_engine, text

from tests.conftest import Provider, make_app
from tests.support import HttpWallet, callback_body, gunicorn

THREADS = 12


def _race(calls):
    """Start every call at the same instant (a barrier), return their answers."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _ledger_facts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        facts = {
            "max_reversals_per_bet": conn.execute(text(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n FROM reversals GROUP BY bet_id) s")).scalar_one(),
            "balance_mismatches": conn.execute(text(
                "SELECT count(*) FROM players p WHERE p.balance <> "
                "(SELECT coalesce(sum(amount), 0) FROM transactions t WHERE t.player_id = p.id)")).scalar_one(),
            "refunded_refs_left_debited": conn.execute(text(
                "SELECT count(*) FROM transactions r JOIN transactions b ON b.reference = r.reference "
                "AND b.kind = 'bet' WHERE r.kind IN ('refund', 'cancel') "
                "AND NOT EXISTS (SELECT 1 FROM reversals v WHERE v.bet_id = b.id)")).scalar_one(),
        }
    engine.dispose()
    return facts


CLEAN = {"max_reversals_per_bet": 0, "balance_mismatches": 0, "refunded_refs_left_debited": 0}


def _app_with_player(url):
    app = make_app(url)
    client = app.test_client()
    from tests.conftest import Operator
    Operator(client).open_player()
    return app


def test_duplicate_refunds_with_fresh_uuids_reverse_the_bet_once(postgres_url):
    app = _app_with_player(postgres_url)
    provider = Provider(app.test_client())
    bet = provider.call("Bet", reference="storm", amount="40.00")
    answers = _race([lambda: Provider(app.test_client()).call("Refund", reference="storm")] * THREADS)
    assert {a["error"] for a in answers} == {0}
    assert len({a["transactionId"] for a in answers}) == 1 and answers[0]["transactionId"] != bet["transactionId"]
    assert provider.call("Balance")["cash"] == Decimal("1000.00")
    assert _ledger_facts(postgres_url) == {**CLEAN, "max_reversals_per_bet": 1}
    app.extensions["wallet.engine"].dispose()


def test_a_bet_racing_its_refund_never_ends_debited(postgres_url):
    app = _app_with_player(postgres_url)
    for i in range(8):
        ref = f"race-{i}"
        bet, refund = _race([
            lambda: Provider(app.test_client()).call("Bet", reference=ref, roundId=f"rr-{i}", amount="10.00"),
            lambda: Provider(app.test_client()).call("Refund", reference=ref, roundId=f"rr-{i}"),
        ])
        assert refund["error"] == 0
        # either the refund came first (bet refused with 3) or the bet did (and was reversed)
        assert bet["error"] in (0, 3)
    assert Provider(app.test_client()).call("Balance")["cash"] == Decimal("1000.00")
    assert _ledger_facts(postgres_url)["refunded_refs_left_debited"] == 0
    assert _ledger_facts(postgres_url)["balance_mismatches"] == 0
    app.extensions["wallet.engine"].dispose()


def test_the_same_uuid_sent_concurrently_takes_effect_once(postgres_url):
    app = _app_with_player(postgres_url)
    body = callback_body("Bet", reference="same-uuid", amount="3.00")
    answers = _race([lambda: Provider(app.test_client()).send("Bet", body)] * THREADS)
    assert len({a["transactionId"] for a in answers}) == 1
    assert Provider(app.test_client()).call("Balance")["cash"] == Decimal("997.00")
    app.extensions["wallet.engine"].dispose()


def test_round_refund_racing_bet_refunds_reverses_each_bet_once(postgres_url):
    app = _app_with_player(postgres_url)
    provider = Provider(app.test_client())
    for ref in ("m1", "m2", "m3"):
        provider.call("Bet", reference=ref, roundId="multi", amount="5.00")
    calls = [lambda r=r: Provider(app.test_client()).call("Refund", reference=r) for r in ("m1", "m2", "m3")]
    calls += [lambda: Provider(app.test_client()).call("Refund", reference="multi-cancel", roundId="multi")] * 3
    answers = _race(calls)
    assert {a["error"] for a in answers} == {0}
    assert provider.call("Balance")["cash"] == Decimal("1000.00")
    assert _ledger_facts(postgres_url) == {**CLEAN, "max_reversals_per_bet": 1}
    app.extensions["wallet.engine"].dispose()


def test_duplicate_refund_storm_across_gunicorn_workers(postgres_url):
    """Several worker processes, real HTTP: each of 20 bets refunded 6 times at once."""
    with gunicorn({"WALLET_DATABASE_URL": postgres_url}, workers=4) as base:
        wallet = HttpWallet(base)
        wallet.open_player("storm-player")
        refs = [f"gstorm-{i}" for i in range(20)]
        for ref in refs:
            assert wallet.call("Bet", userId="storm-player", reference=ref, roundId=ref, amount="2.50")["error"] == 0
        calls = [lambda r=r: HttpWallet(base).call("Refund", userId="storm-player", reference=r)
                 for r in refs for _ in range(6)]
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda c: c(), calls))
        assert Counter(a["error"] for a in answers) == Counter({0: len(calls)})
        per_ref = {}
        for a in answers:
            per_ref.setdefault(a["reference"], set()).add(a["transactionId"])
        assert all(len(ids) == 1 for ids in per_ref.values())
        assert wallet.call("Balance", userId="storm-player")["cash"] == Decimal("1000.00")
        assert wallet.admin("GET", "/reconciliation").json() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
    assert _ledger_facts(postgres_url) == {**CLEAN, "max_reversals_per_bet": 1}


def test_one_adjustment_reference_raced_for_two_players_is_one_201_and_one_409(postgres_url):
    app = _app_with_player(postgres_url)
    from tests.conftest import Operator
    Operator(app.test_client()).open_player("player-2")
    for i in range(10):
        body = {"amount": "5.00", "reference": f"raced-adjustment-{i}", "reason": "deposit"}
        statuses = _race([
            lambda user=user: Operator(app.test_client()).request(
                "POST", f"/players/{user}/adjustments", json=body).status_code
            for user in ("player-1", "player-2")
        ])
        assert sorted(statuses) == [201, 409]
    assert _ledger_facts(postgres_url)["balance_mismatches"] == 0
    app.extensions["wallet.engine"].dispose()


def test_a_connection_killed_by_a_database_restart_is_replaced_without_failing_the_callback(postgres_url):
    """PostgreSQL restarted (every backend gone): the next callback on a stale pooled connection
    is retried once on a fresh one, instead of answering 100 for nothing."""
    app = _app_with_player(postgres_url)
    provider = Provider(app.test_client())
    assert provider.call("Bet", reference="before", amount="1.00")["error"] == 0
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    engine.dispose()
    assert killed >= 1
    answer = provider.call("Bet", reference="after", amount="1.00")
    assert answer["error"] == 0 and answer["cash"] == Decimal("998.00")
    assert _ledger_facts(postgres_url)["balance_mismatches"] == 0
    app.extensions["wallet.engine"].dispose()


def test_cancels_and_refunds_of_one_bet_across_gunicorn_workers_reverse_it_once(postgres_url):
    """Refund and Cancel share one key per bet: a storm mixing both, on several worker processes
    over real HTTP, reverses each bet once, and every answer carries the same transactionId."""
    with gunicorn({"WALLET_DATABASE_URL": postgres_url}, workers=4) as base:
        wallet = HttpWallet(base)
        wallet.open_player("mixed-player")
        refs = [f"mixed-{i}" for i in range(16)]
        for ref in refs:
            assert wallet.call("Bet", userId="mixed-player", reference=ref, roundId=ref, amount="2.50")["error"] == 0
        calls = [lambda r=r, m=m: HttpWallet(base).call(m, userId="mixed-player", reference=r)
                 for r in refs for m in ("Cancel", "Refund", "Cancel", "Refund", "Cancel")]
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda c: c(), calls))
        assert Counter(a["error"] for a in answers) == Counter({0: len(calls)})
        per_ref: dict[str, set[str]] = {}
        for a in answers:
            per_ref.setdefault(a["reference"], set()).add(a["transactionId"])
        assert len(per_ref) == len(refs) and all(len(ids) == 1 for ids in per_ref.values())
        assert wallet.call("Balance", userId="mixed-player")["cash"] == Decimal("1000.00")
        assert wallet.admin("GET", "/reconciliation").json() == {"ok": True, "mismatches": [], "bonusWinsRecorded": []}
    assert _ledger_facts(postgres_url) == {**CLEAN, "max_reversals_per_bet": 1}


def test_a_cancel_racing_its_bet_never_ends_debited(postgres_url):
    app = _app_with_player(postgres_url)
    for i in range(8):
        ref = f"cancel-race-{i}"
        bet, cancel = _race([
            lambda: Provider(app.test_client()).call("Bet", reference=ref, roundId=f"cr-{i}", amount="10.00"),
            lambda: Provider(app.test_client()).call("Cancel", reference=ref),
        ])
        assert cancel["error"] == 0 and bet["error"] in (0, 3)
    assert Provider(app.test_client()).call("Balance")["cash"] == Decimal("1000.00")
    facts = _ledger_facts(postgres_url)
    assert facts["refunded_refs_left_debited"] == 0 and facts["balance_mismatches"] == 0
    app.extensions["wallet.engine"].dispose()

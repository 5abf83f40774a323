"""Metrics, JSON logs, /healthz and /readyz through the HTTP interface."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, text

from tests.conftest import make_app
from tests.support import callback_body, empty_database
from wallet.callbacks.auth import sign
from wallet.observability import JsonFormatter


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the wallet's callback logger writes, one JSON object per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("wallet.callbacks")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_healthz_answers_without_the_database(tmp_path: Path):
    app = make_app(f"postgresql+psycopg://nobody@/nothing?host={tmp_path}&connect_timeout=2")
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["status"] == "ok" and r.get_json()["revision"]


def test_readyz_refuses_traffic_when_migrations_are_not_at_head(app, database_url):
    (head,) = app.extensions["wallet.migration_heads"]
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        r = app.test_client().get("/readyz")
        assert r.status_code == 503
        assert r.get_json()["migrations"] == "not at head" and r.get_json()["revision"] == ["older"]
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()


def test_readyz_refuses_traffic_on_a_database_never_migrated():
    url = empty_database()
    app = make_app(url)
    r = app.test_client().get("/readyz")
    app.extensions["wallet.engine"].dispose()
    assert r.status_code == 503 and r.get_json()["revision"] == []


def test_readyz_refuses_traffic_when_the_database_is_unreachable():
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["database"] == "unreachable"


def test_metrics_count_callbacks_money_and_refund_outcomes(provider, client, player):
    bets_ok = sample("wallet_callbacks_total", method="Bet", error="0")
    refused = sample("wallet_callbacks_total", method="Bet", error="1")
    bet_money = sample("wallet_money_moved_total", currency="USD", kind="bet")
    refund_money = sample("wallet_money_moved_total", currency="USD", kind="refund")
    applied = sample("wallet_refunds_total", outcome="applied")
    without_bet = sample("wallet_refunds_total", outcome="recorded_without_bet")
    latency = sample("wallet_callback_duration_seconds_count", method="Refund")

    bet = callback_body("Bet", reference="m-1", amount="12.34")
    assert provider.send("Bet", bet)["error"] == 0
    assert provider.send("Bet", bet)["error"] == 0  # replayed uuid: answered, but no money moves again
    assert provider.call("Bet", reference="m-2", amount="5000.00")["error"] == 1
    assert provider.call("Refund", reference="m-1")["error"] == 0
    assert provider.call("Refund", reference="m-1")["error"] == 0  # retransmission: nothing moves
    assert provider.call("Refund", reference="m-none", roundId="round-none")["error"] == 0

    assert sample("wallet_callbacks_total", method="Bet", error="0") == bets_ok + 2
    assert sample("wallet_callbacks_total", method="Bet", error="1") == refused + 1
    assert sample("wallet_money_moved_total", currency="USD", kind="bet") == pytest.approx(bet_money + 12.34)
    assert sample("wallet_money_moved_total", currency="USD", kind="refund") == pytest.approx(refund_money + 12.34)
    assert sample("wallet_refunds_total", outcome="applied") == applied + 1
    assert sample("wallet_refunds_total", outcome="recorded_without_bet") == without_bet + 1
    assert sample("wallet_callback_duration_seconds_count", method="Refund") == latency + 3

    page = client.get("/metrics")
    assert page.status_code == 200 and page.mimetype == "text/plain"
    assert 'wallet_callbacks_total{error="0",method="Bet"}' in page.get_data(as_text=True)


def test_every_callback_logs_one_json_line_with_its_identifiers(provider, player, log_lines):
    provider.call("Bet", reference="log-1", amount="1.00", uuid="uuid-log-1")
    provider.call("Refund", reference="log-1", uuid="uuid-log-2")
    provider.send("Balance", b"{not json")
    bet, refund, broken = entries(log_lines)
    assert bet["msg"] == "callback" and bet["level"] == "INFO"
    assert {k: bet[k] for k in ("method", "error", "uuid", "reference", "userId")} == {
        "method": "Bet", "error": 0, "uuid": "uuid-log-1", "reference": "log-1", "userId": "player-1"}
    assert isinstance(bet["ms"], float) and bet["ms"] >= 0
    assert (refund["method"], refund["uuid"], refund["reference"]) == ("Refund", "uuid-log-2", "log-1")
    assert broken["method"] == "Balance" and broken["error"] == 7 and broken["uuid"] is None
    assert "amount" not in bet and "1.00" not in log_lines.getvalue()


def test_logs_never_carry_the_signature_or_the_secret(database_url, log_lines):
    secret = "callback-secret-never-logged"
    app = make_app(database_url, callback_secret=secret)
    body = json.dumps(callback_body("Balance", uuid="uuid-signed")).encode()
    client = app.test_client()
    signature = sign(secret, body)
    answers = [
        client.post("/V4/Balance", data=body, content_type="application/json", headers={"X-Signature": signature}),
        client.post("/V4/Balance", data=body, content_type="application/json", headers={"X-Signature": "00" * 32}),
    ]
    app.extensions["wallet.engine"].dispose()
    assert [a.get_json()["error"] for a in answers] == [100, 5]  # unknown player, then a bad signature
    text_logged = log_lines.getvalue()
    assert secret not in text_logged and signature not in text_logged and "00" * 32 not in text_logged
    assert [e["error"] for e in entries(log_lines)] == [100, 5]


def test_a_replay_that_would_now_succeed_moves_and_counts_nothing(provider, operator, player):
    """A replayed uuid re-runs the operation in a transaction that is rolled back: the stored answer
    is sent, no money moves and the metrics count none."""
    first = callback_body("Bet", reference="rb-1", amount="2000.00")
    assert provider.send("Bet", first)["error"] == 1  # insufficient funds
    r = operator.request("POST", "/players/player-1/adjustments",
                         json={"amount": "5000.00", "reference": "dep-rb", "reason": "deposit"})
    assert r.status_code == 201
    before = sample("wallet_money_moved_total", currency="USD", kind="bet")
    assert provider.send("Bet", first)["error"] == 1  # enough money now, but the first answer stands
    assert sample("wallet_money_moved_total", currency="USD", kind="bet") == before
    assert operator.balance() == Decimal("6000.00")
    assert operator.reconciliation()["ok"]


def test_callback_lines_reach_the_root_logger_too(provider, player, caplog):
    with caplog.at_level(logging.INFO, logger="wallet.callbacks"):
        provider.call("Balance", uuid="uuid-caplog")
    [record] = [r for r in caplog.records if r.name == "wallet.callbacks"]
    assert record.fields["uuid"] == "uuid-caplog" and record.fields["method"] == "Balance"

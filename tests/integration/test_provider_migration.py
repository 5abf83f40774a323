"""Migration 0008 moves the CancelRound records of 0002 (cancel_requests, cancel_attempts) into the
provider calls' record with their ids, and back on a downgrade: no cancel is lost either way, and new
rows continue after the copied ids."""

from __future__ import annotations

import socket

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from tests.conftest import Operator, Provider, make_app
from tests.support import ROOT, fresh_database


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_cancel_records_survive_going_down_to_0007_and_up_again():
    url = fresh_database()
    app = make_app(url, provider_api_url=f"http://127.0.0.1:{_closed_port()}", provider_attempts=2,
                   provider_backoff=0.01)
    client = app.test_client()
    Operator(client).open_player()
    Provider(client).call("Bet", reference="bet-1", roundId="round-1")
    cancel = Operator(client).request("POST", "/cancel-round", json={"reference": "bet-1"}).get_json()
    assert cancel["status"] == "failed" and len(cancel["attempts"]) == 2
    Operator(client).request("GET", "/provider/health")  # a call of another kind: it goes with its table
    app.extensions["wallet.engine"].dispose()
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False

    command.downgrade(cfg, "0007")
    assert _rows(url, "SELECT id, uuid, status, reference FROM cancel_requests") == [
        (int(cancel["id"]), cancel["uuid"], "failed", "bet-1")]
    assert _rows(url, "SELECT cancel_id, number FROM cancel_attempts ORDER BY number") == [
        (int(cancel["id"]), 1), (int(cancel["id"]), 2)]

    command.upgrade(cfg, "head")
    assert _rows(url, "SELECT id, kind, uuid, status, round_id FROM provider_calls") == [
        (int(cancel["id"]), "CancelRound", cancel["uuid"], "failed", "round-1")]
    app = make_app(url, provider_api_url=f"http://127.0.0.1:{_closed_port()}", provider_attempts=1)
    again = Operator(app.test_client()).request("POST", "/cancel-round", json={"reference": "bet-1"}).get_json()
    assert int(again["id"]) > int(cancel["id"])
    shown = Operator(app.test_client()).request("GET", f"/cancels/{cancel['id']}").get_json()
    assert shown["uuid"] == cancel["uuid"] and [a["number"] for a in shown["attempts"]] == [1, 2]
    app.extensions["wallet.engine"].dispose()

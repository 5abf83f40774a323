"""bench/devices/: the "off" side of each hot-path device, as `bench/run.sh devices` runs it.

The devices A/B means something only if the "off" side does the same work and
gives the same answers: each replacement (bench/devices/off.py) is run here on
one scripted conversation (Bet, Result, Refund, Cancel, PromoWin, their
retransmissions, a body with a number in it), and its answers and the ledger
must be those of the service as it is. Then each off-variant is served once
under gunicorn by the bench's own command lines (bench/devices/gunicorn.conf.py,
or the gunicorn options of off.COMMAND_LINE), and answers a Bet.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from bench.devices import off
from tests.conftest import make_app
from tests.support import ADMIN_TOKEN, ROOT, free_port, ledger_problems, reset_postgres, wait_for_http
from wallet.callbacks import blueprint, schemas
from wallet.ledger import functions

# (method, fields): a player's conversation touching every path the bench loads, and a few more.
_BASE = {"providerId": "LuckyMonaco", "userId": "dev-p1", "sessionId": "s-1", "currency": "USD",
         "gameId": "g-1", "gameName": "game", "timeStamp": "2026-11-24T10:00:00Z", "roundDetails": "spin"}
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("Balance", {}),
    ("Bet", {"roundId": "r-1", "reference": "b-1", "amount": "1.00"}),
    ("Bet", {"roundId": "r-1", "reference": "b-2", "amount": "2.50"}),
    ("Bet", {"roundId": "r-1", "reference": "b-2", "amount": "2.50"}),  # retransmission, new uuid
    ("Refund", {"roundId": "r-1", "reference": "b-1", "amount": "1.00"}),
    ("Refund", {"roundId": "r-1", "reference": "b-1", "amount": "1.00"}),
    ("Cancel", {"roundId": "r-1", "reference": "b-2", "amount": "2.50"}),
    ("Cancel", {"reference": "never-bet", "amount": "3.00"}),
    ("Bet", {"roundId": "r-2", "reference": "b-3", "amount": "1.00"}),
    ("Result", {"roundId": "r-2", "reference": "w-1", "amount": "4.00"}),
    ("PromoWin", {"reference": "p-1", "amount": "1.00", "campaignId": "c-1", "campaignType": "T"}),
    ("PromoWin", {"reference": "p-1", "amount": "1.00", "campaignId": "c-1", "campaignType": "T"}),
    ("PromoWin", {"reference": "p-1", "amount": "2.00", "campaignId": "c-1", "campaignType": "T"}),
    ("Bet", {"roundId": "r-3", "reference": "b-4", "amount": "1.00", "extra": 1.5}),  # a Decimal in the body
    ("Bet", {"roundId": "r-3", "reference": "b-5", "amount": "x"}),  # 10, from schema.load
    ("Bet", {"roundId": "r-3", "reference": "b-6"}),  # 7, from schema.load
    ("Refund", {"reference": "b-none", "userId": "nobody"}),  # 100
]


@pytest.fixture
def restore() -> Iterator[None]:
    """Put back whatever an off-variant replaced (module attributes only)."""
    saved = [(functions, "_execute"), (functions, "call"), (functions, "warm_up"), (schemas, "_FAST"),
             (schemas, "_canonical"), (blueprint, "CallbackMiddleware")]
    before = [(module, name, getattr(module, name)) for module, name in saved]
    yield
    for module, name, value in before:
        setattr(module, name, value)


def _play(url: str) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The script's answers (transaction ids numbered by first appearance) and the ledger it leaves."""
    reset_postgres(url)
    app = make_app(url)
    engine = app.extensions["wallet.engine"]
    try:
        functions.warm_up(engine)  # as each worker does (post_worker_init): the module's, as replaced
        client = app.test_client()
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert client.post("/admin/players", json={"userId": "dev-p1", "currency": "USD"}, headers=admin).status_code == 201
        assert client.post("/admin/players/dev-p1/adjustments", headers=admin,
                           json={"amount": "100.00", "reference": "dep-1", "reason": "deposit"}).status_code == 201
        answers, ids = [], {}
        for n, (method, fields) in enumerate(SCRIPT):
            body = {**_BASE, "uuid": f"dev-u{n}", **fields}
            raw = client.post(f"/V4/{method}", data=json.dumps(body), content_type="application/json")
            assert raw.status_code == 200
            answer = json.loads(raw.get_data(), parse_float=Decimal)
            if "transactionId" in answer:
                answer["transactionId"] = ids.setdefault(answer["transactionId"], len(ids))
            answers.append(answer)
        replay = client.post("/V4/Bet", data=json.dumps({**_BASE, "uuid": "dev-u1", **SCRIPT[1][1]}),
                             content_type="application/json")  # the same uuid: the stored answer
        answers.append(json.loads(replay.get_data(), parse_float=Decimal) | {"transactionId": "replayed"})
        with engine.connect() as conn:
            ledger = [tuple(row) for row in conn.exec_driver_sql(
                "SELECT kind, reference, amount, balance_after FROM transactions ORDER BY id")]
            hashes = [tuple(row) for row in conn.exec_driver_sql(
                "SELECT uuid, body_hash FROM requests WHERE uuid LIKE 'dev-u%%' ORDER BY uuid")]
    finally:
        engine.dispose()
    assert ledger_problems(url) == {}
    return answers, ledger + hashes


@pytest.mark.parametrize("device", sorted(off.OFF))
def test_off_variant_gives_the_services_answers(database_url: str, device: str, restore: None) -> None:
    expected = _play(database_url)
    assert [a["error"] for a in expected[0]] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 10, 7, 100, 0]
    off.OFF[device]()
    assert _play(database_url) == expected


def test_off_variants_replace_what_they_name(database_url: str, restore: None) -> None:
    """Each replacement is in force: no held connection, no middleware, schema.load, simplejson."""
    middleware = blueprint.CallbackMiddleware
    off.held()
    off.middleware()
    off.loader()
    off.libpq()
    app = make_app(database_url)
    engine = app.extensions["wallet.engine"]
    try:
        assert not isinstance(app.wsgi_app, middleware)
        assert functions.warm_up(engine) == engine.pool.size()
        assert engine not in functions._ENGINES  # nothing held: every call went through the pool
        assert schemas._FAST["bet"]({"uuid": "u"}) is None
        assert schemas._canonical(["bet", {"a": Decimal("1.0")}]) == '["bet",{"a":1.0}]'
    finally:
        engine.dispose()


# The bench's command lines: bench/devices/gunicorn.conf.py with BENCH_DEVICE_OFF, or the production
# config with off.COMMAND_LINE's options.
def _command(device: str) -> tuple[list[str], dict[str, str]]:
    base = [sys.executable, "-m", "gunicorn"]
    if device in off.COMMAND_LINE:
        return [*base, "-c", "config/gunicorn.conf.py", *off.COMMAND_LINE[device], "wsgi:app"], {}
    return [*base, "-c", "bench/devices/gunicorn.conf.py", "wsgi:app"], {"BENCH_DEVICE_OFF": device}


@pytest.mark.parametrize("device", sorted(off.DEVICES))
def test_bench_command_line_serves_with_the_device_off(database_url: str, device: str, tmp_path) -> None:
    port = free_port()
    command, extra = _command(device)
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "WALLET_DATABASE_URL": database_url, "WALLET_ADMIN_TOKEN": ADMIN_TOKEN,
           "WALLET_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "WALLET_ACCESS_LOG": "-",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"), "PYTHONPATH": str(ROOT), **extra}
    (tmp_path / "prometheus").mkdir()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base, proc)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert requests.post(f"{base}/admin/players", json={"userId": "dev-p1", "currency": "USD"},
                             headers=admin, timeout=10).status_code == 201
        requests.post(f"{base}/admin/players/dev-p1/adjustments", headers=admin, timeout=10,
                      json={"amount": "10.00", "reference": "dep-1", "reason": "deposit"})
        body = {**_BASE, "uuid": "dev-http-1", "roundId": "r-1", "reference": "b-1", "amount": "1.00"}
        answer = requests.post(f"{base}/V4/Bet", json=body, timeout=10).json()
        assert answer["error"] == 0 and answer["cash"] == 9.0, answer
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    text = log.read_text()
    if device in off.OFF:
        assert f"bench: device {device} off" in text
    elif device == "worker":
        assert re.search(r"Using worker: sync\b", text), text
    elif device == "control":
        assert "Using worker: wallet.gunicorn_worker.WalletSyncWorker" in text, text
    else:  # accesslog: gunicorn's own logger writes the callback's access line
        assert '"POST /V4/Bet HTTP/1.1" 200' in text, text

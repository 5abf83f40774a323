"""Staff reads on a real streaming replica (WALLET_READ_DATABASE_URL), writes on the primary.

The replica is started by the test itself: a throwaway primary, `pg_basebackup -R` of it
(wallet/pgserver.py Server.standby), the wallet under gunicorn with both URLs. Pausing the
replica's replay (pg_wal_replay_pause) shows which server answers each request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from config import Settings
from tests.conftest import make_app
from tests.support import ADMIN_TOKEN, HttpWallet, gunicorn, primary_with_standby, unique, wait_for_replay
from wallet.admin import reads

@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str]]:
    with primary_with_standby() as (primary, standby):
        yield primary.url(), standby.url()


@pytest.fixture(scope="module")
def wallet(cluster: tuple[str, str]) -> Iterator[HttpWallet]:
    primary_url, standby_url = cluster
    with gunicorn({"WALLET_DATABASE_URL": primary_url, "WALLET_READ_DATABASE_URL": standby_url},
                  workers=1, threads=4) as base:
        yield HttpWallet(base)


def _replay(standby_url: str, action: str) -> None:
    engine = create_engine(standby_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_wal_replay_{action}()"))
    finally:
        engine.dispose()


def _age(response) -> float:  # type: ignore[no-untyped-def]
    return float(response.headers[reads.DATA_AGE_HEADER])


def test_a_write_on_the_primary_is_served_by_the_replica_once_it_caught_up(
        wallet: HttpWallet, cluster: tuple[str, str]) -> None:
    user = unique("rep")
    wallet.open_player(user, deposit="50.00")
    wait_for_replay(*cluster)
    r = wallet.admin("GET", f"/players/{user}")
    assert r.status_code == 200, r.text
    assert r.json()["balance"] == 50
    assert 0 <= _age(r) < 5  # caught up: nothing received is left to replay
    listed = wallet.admin("GET", "/transactions", params={"userId": user})
    assert [item["type"] for item in listed.json()["items"]] == ["adjustment"]
    assert reads.DATA_AGE_HEADER in listed.headers


def test_with_replay_paused_lists_lag_while_writes_and_reconciliation_use_the_primary(
        wallet: HttpWallet, cluster: tuple[str, str]) -> None:
    primary_url, standby_url = cluster
    user = unique("lag")
    wallet.open_player(user, deposit="100.00")
    wait_for_replay(*cluster)
    _replay(standby_url, "pause")
    try:
        bet = wallet.call("Bet", userId=user, amount="10.00")
        assert (bet["error"], bet["cash"]) == (0, 90)  # the callback wrote on the primary
        bonus = unique("bonus")
        assert wallet.call("BonusWin", userId=user, reference=bonus, amount="3.00")["error"] == 0
        # A staff write goes to the primary too, and is answered from there at once.
        more = wallet.admin("POST", f"/players/{user}/adjustments",
                            json={"amount": "1.00", "reference": unique("adj"), "reason": "goodwill"})
        assert more.status_code == 201, more.text

        first = wallet.admin("GET", "/transactions", params={"userId": user})
        assert first.status_code == 200, first.text
        assert [item["type"] for item in first.json()["items"]] == ["adjustment"]  # only what was replayed
        assert wallet.admin("GET", f"/players/{user}").json()["balance"] == 100
        time.sleep(1.2)
        second = wallet.admin("GET", "/transactions", params={"userId": user})
        # The data age grows while replay stands still (the first answer may still say 0: the
        # primary's WAL had perhaps not reached the replica yet).
        assert _age(second) >= max(_age(first) + 1, 1.2)

        # Reconciliation reads the primary: it sees the BonusWin the replica has not replayed.
        rec = wallet.admin("GET", "/reconciliation")
        assert rec.status_code == 200, rec.text
        assert reads.DATA_AGE_HEADER not in rec.headers
        assert rec.json()["ok"] is True
        assert bonus in [b["reference"] for b in rec.json()["bonusWinsRecorded"]]
    finally:
        _replay(standby_url, "resume")

    wait_for_replay(*cluster)
    caught_up = wallet.admin("GET", "/transactions", params={"userId": user})
    assert sorted(item["type"] for item in caught_up.json()["items"]) == ["adjustment", "adjustment", "bet", "bonus"]
    assert _age(caught_up) < 5


def test_the_replica_refuses_writes_and_the_read_engine_is_read_only_even_on_the_primary(
        cluster: tuple[str, str]) -> None:
    primary_url, standby_url = cluster
    engine = create_engine(standby_url)
    try:
        with pytest.raises(DBAPIError, match="read-only"), engine.begin() as conn:
            conn.execute(text("UPDATE players SET status = status"))
    finally:
        engine.dispose()
    # Pointed at the primary by mistake, the read engine still cannot write.
    app = make_app(primary_url, read_database_url=primary_url)
    try:
        with app.app_context():
            assert reads.uses_replica()
            with pytest.raises(DBAPIError, match="read-only"), reads.read_engine().begin() as conn:
                conn.execute(text("UPDATE players SET status = status"))
            with reads.read_engine().connect() as conn:
                assert reads.staleness(conn) is None  # not a standby
    finally:
        app.extensions["wallet.read_engine"].dispose()
        app.extensions["wallet.engine"].dispose()


def test_without_a_replica_staff_reads_use_the_primary_and_carry_no_data_age(database_url: str) -> None:
    app = make_app(database_url)
    try:
        assert app.extensions["wallet.read_engine"] is app.extensions["wallet.engine"]
        client = app.test_client()
        r = client.get("/admin/transactions", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 200, r.text
        assert reads.DATA_AGE_HEADER not in r.headers
    finally:
        app.extensions["wallet.engine"].dispose()


def test_an_unreachable_replica_makes_staff_lists_503_and_leaves_writes_working(database_url: str) -> None:
    nowhere = "postgresql+psycopg://wallet@/wallet?host=/nonexistent-replica-socket"
    app = make_app(database_url, read_database_url=nowhere)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        client = app.test_client()
        r = client.get("/admin/transactions", headers=auth)
        assert r.status_code == 503, r.text
        assert r.json["error"] == "unavailable"
        created = client.post("/admin/players", json={"userId": unique("p"), "currency": "USD"}, headers=auth)
        assert created.status_code == 201, created.text
        assert client.get("/admin/reconciliation", headers=auth).status_code == 200
    finally:
        app.extensions["wallet.read_engine"].dispose()
        app.extensions["wallet.engine"].dispose()


def test_the_replica_setting_is_read_from_the_environment_and_kept_out_of_repr() -> None:
    url = "postgresql://staff:s3cret-replica-pass@replica.internal/wallet"
    settings = Settings.from_env({"WALLET_READ_DATABASE_URL": f"  {url} "})
    assert settings.read_database_url == url
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({"WALLET_READ_DATABASE_URL": ""}).read_database_url is None

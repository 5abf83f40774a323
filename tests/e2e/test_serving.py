"""The service as `make run` serves it: gunicorn, several workers, PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from tests.support import HttpWallet, fresh_database, gunicorn


def test_gunicorn_serves_a_whole_round_trip(tmp_path):
    url = fresh_database()
    with gunicorn({"WALLET_DATABASE_URL": url}, workers=3) as base:
        wallet = HttpWallet(base)
        wallet.open_player("serving-player", deposit="100.00")
        assert wallet.call("Bet", userId="serving-player", reference="b1", roundId="r1", amount="30")["error"] == 0
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda _: HttpWallet(base).call("Refund", userId="serving-player", reference="b1"), range(16)))
        assert {a["error"] for a in answers} == {0} and len({a["transactionId"] for a in answers}) == 1
        assert wallet.call("Balance", userId="serving-player")["cash"] == Decimal("100.00")
        assert wallet.call("Bet", userId="serving-player", reference="b1", roundId="r1", amount="30")["error"] == 3
        assert wallet.admin("GET", "/reconciliation").json()["ok"] is True
        assert wallet.http.post(base + "/v4/nothing", data="{}").status_code == 404


def test_the_access_log_leaves_out_callbacks_answered_200_and_keeps_everything_else(tmp_path):
    """A callback has its own JSON line; the access log still shows the admin API and refusals."""
    url = fresh_database()
    access = tmp_path / "access.log"
    with gunicorn({"WALLET_DATABASE_URL": url, "WALLET_ACCESS_LOG": str(access)}, workers=2) as base:
        wallet = HttpWallet(base)
        wallet.open_player("logged-player", deposit="10.00")
        assert wallet.call("Balance", userId="logged-player")["error"] == 0
        assert wallet.http.post(base + "/v4/nothing", data="{}").status_code == 404
        assert wallet.http.get(base + "/V4/Balance").status_code == 405
    lines = access.read_text().splitlines()
    assert any('"POST /admin/players HTTP/1.1" 201' in line for line in lines), lines
    assert any('"POST /v4/nothing HTTP/1.1" 404' in line for line in lines), lines
    assert any('"GET /V4/Balance HTTP/1.1" 405' in line for line in lines), lines
    assert not any("POST /V4/Balance" in line for line in lines), lines

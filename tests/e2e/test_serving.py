"""The service as `make run` serves it: gunicorn, several workers, the embedded SQLite default."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from tests.support import HttpWallet, gunicorn, migrate


def test_gunicorn_on_sqlite_serves_a_whole_round_trip(tmp_path):
    url = f"sqlite:///{tmp_path / 'wallet.sqlite3'}"
    migrate(url)
    with gunicorn({"WALLET_DATABASE_URL": url}, workers=3) as base:
        wallet = HttpWallet(base)
        wallet.open_player("sqlite-player", deposit="100.00")
        assert wallet.call("Bet", userId="sqlite-player", reference="b1", roundId="r1", amount="30")["error"] == 0
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda _: HttpWallet(base).call("Refund", userId="sqlite-player", reference="b1"), range(16)))
        assert {a["error"] for a in answers} == {0} and len({a["transactionId"] for a in answers}) == 1
        assert wallet.call("Balance", userId="sqlite-player")["cash"] == Decimal("100.00")
        assert wallet.call("Bet", userId="sqlite-player", reference="b1", roundId="r1", amount="30")["error"] == 3
        assert wallet.admin("GET", "/reconciliation").json()["ok"] is True
        assert wallet.http.post(base + "/v4/nothing", data="{}").status_code == 404

"""Callback authentication (docs/protocol.md): X-Signature over the raw body, the allow-list and
trusted proxies. A refused caller gets error 5 and nothing is processed or remembered."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import text

from tests.conftest import Operator, make_app
from tests.support import HttpWallet, callback_body, fresh_database, gunicorn

SECRET = "callback-secret-for-tests-7f3a9c"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.fixture
def signed_wallet(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url, callback_secret=SECRET)
    Operator(app.test_client()).open_player()
    yield app
    app.extensions["wallet.engine"].dispose()


def post(app: Flask, method: str, raw: bytes, headers: dict[str, str] | None = None,
         remote_addr: str = "127.0.0.1") -> dict[str, Any]:
    r = app.test_client().post(f"/V4/{method}", data=raw, content_type="application/json", headers=headers or {},
                               environ_base={"REMOTE_ADDR": remote_addr})
    assert r.status_code == 200
    answer = json.loads(r.get_data(), parse_float=Decimal)
    assert type(answer["error"]) is int
    return answer


def remembered(app: Flask) -> tuple[int, int]:
    """(stored answers, ledger entries): what a refused request must not have added to (it is
    recorded for staff, without an answer: never replayed)."""
    with app.extensions["wallet.engine"].connect() as conn:
        return (conn.execute(text("SELECT COUNT(*) FROM requests WHERE response IS NOT NULL")).scalar_one(),
                conn.execute(text("SELECT COUNT(*) FROM transactions")).scalar_one())


def bet_raw(**fields: Any) -> bytes:
    return json.dumps(callback_body("Bet", amount="5.00", **fields)).encode()


@pytest.mark.parametrize("signature", [
    None, "", "0" * 64, "not-hex", sign(b"{}"), sign(b"x", "other-secret"), "ü" * 64,
], ids=["missing", "empty", "zeros", "not-hex", "other-body", "other-secret", "non-ascii"])
def test_bad_signatures_get_5_and_nothing_is_processed_or_remembered(signed_wallet: Flask, signature: str | None
                                                                     ) -> None:
    raw = bet_raw()
    before = remembered(signed_wallet)
    headers = {} if signature is None else {"X-Signature": signature}
    assert post(signed_wallet, "Bet", raw, headers)["error"] == 5
    assert remembered(signed_wallet) == before
    # The refused uuid was not remembered: the properly signed request is served as new.
    assert post(signed_wallet, "Bet", raw, {"X-Signature": sign(raw)})["error"] == 0


def test_signature_is_over_the_raw_bytes_not_the_parsed_json(signed_wallet: Flask) -> None:
    body = callback_body("Bet", amount="5.00")
    spaced = json.dumps(body, indent=3).encode()
    compact = json.dumps(body, separators=(",", ":")).encode()
    assert post(signed_wallet, "Bet", spaced, {"X-Signature": sign(compact)})["error"] == 5
    assert post(signed_wallet, "Bet", spaced, {"X-Signature": sign(spaced)})["error"] == 0


def test_a_captured_signature_does_not_cover_another_body(signed_wallet: Flask) -> None:
    raw = bet_raw(reference="captured")
    assert post(signed_wallet, "Bet", raw, {"X-Signature": sign(raw)})["error"] == 0
    tampered = raw.replace(b'"5.00"', b'"500.00"')
    assert tampered != raw
    assert post(signed_wallet, "Bet", tampered, {"X-Signature": sign(raw)})["error"] == 5


def test_a_replayed_signed_request_is_answered_from_the_log_and_moves_nothing(signed_wallet: Flask) -> None:
    raw = bet_raw(reference="replayed")
    first = post(signed_wallet, "Bet", raw, {"X-Signature": sign(raw)})
    for _ in range(3):
        assert post(signed_wallet, "Bet", raw, {"X-Signature": sign(raw)}) == first
    assert Operator(signed_wallet.test_client()).balance() == Decimal("995.00")


def test_signatures_are_compared_with_hmac_compare_digest(signed_wallet: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    raw = bet_raw()
    assert post(signed_wallet, "Bet", raw, {"X-Signature": "ab" * 32})["error"] == 5
    assert calls and any(sign(raw).encode() in pair for pair in calls), calls
    calls.clear()
    assert post(signed_wallet, "Bet", raw, {"X-Signature": sign(raw)})["error"] == 0
    assert calls


# --------------------------------------------------------------------------- allow-list


def allow_list_wallet(database_url: str, trusted: tuple[str, ...] = ()) -> Flask:
    import ipaddress

    app = make_app(database_url, allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),),
                   trusted_proxies=tuple(ipaddress.ip_network(t) for t in trusted))
    Operator(app.test_client()).open_player()
    return app


@pytest.mark.parametrize("remote,forwarded,error", [
    ("10.1.2.3", None, 0),
    ("::ffff:10.1.2.3", None, 0),
    ("192.168.1.1", None, 5),
    ("192.168.1.1", "10.1.2.3", 5),  # a spoofed header from a peer that is not a trusted proxy
    ("127.0.0.1", "10.1.2.3", 5),  # no trusted proxies configured: the header means nothing
], ids=["inside", "v4-mapped", "outside", "spoofed-xff", "untrusted-proxy"])
def test_allow_list_without_trusted_proxies(database_url: str, remote: str, forwarded: str | None,
                                            error: int) -> None:
    app = allow_list_wallet(database_url)
    raw = bet_raw()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    before = remembered(app)
    assert post(app, "Bet", raw, headers, remote_addr=remote)["error"] == error
    if error:
        assert remembered(app) == before
    app.extensions["wallet.engine"].dispose()


@pytest.mark.parametrize("remote,forwarded,error", [
    ("127.0.0.1", "10.1.2.3", 0),
    ("127.0.0.1", "192.168.1.1", 5),
    ("127.0.0.1", "10.1.2.3, 192.168.1.1", 5),  # the caller wrote 10.x; the proxy saw 192.168.1.1
    ("127.0.0.1", "10.1.2.3, 172.16.0.5", 0),  # two trusted hops
    ("127.0.0.1", "not-an-address", 5),
    ("127.0.0.1", None, 5),  # the proxy itself is not a provider
    ("192.168.1.1", "10.1.2.3", 5),  # spoofed header from an untrusted peer
    ("10.9.9.9", "192.168.1.1", 0),  # an allowed peer that is not a proxy: its header is ignored
], ids=["via-proxy", "outside-via-proxy", "client-spoof-behind-proxy", "two-hops", "garbage", "proxy-itself",
        "untrusted-peer", "header-from-non-proxy"])
def test_allow_list_behind_trusted_proxies(database_url: str, remote: str, forwarded: str | None,
                                           error: int) -> None:
    app = allow_list_wallet(database_url, trusted=("127.0.0.1/32", "172.16.0.0/12"))
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    before = remembered(app)
    assert post(app, "Bet", bet_raw(), headers, remote_addr=remote)["error"] == error
    if error:
        assert remembered(app) == before
    app.extensions["wallet.engine"].dispose()


@pytest.mark.parametrize("trusted,error", [("", 5), ("127.0.0.1/32", 0)], ids=["no-proxy", "local-proxy"])
def test_spoofed_forwarded_for_through_real_gunicorn(tmp_path: Path, trusted: str, error: int) -> None:
    """gunicorn must hand the socket's address to the wallet; only a trusted proxy's header counts."""
    env = {"WALLET_DATABASE_URL": fresh_database(), "WALLET_ALLOWED_NETWORKS": "10.0.0.0/8",
           "WALLET_TRUSTED_PROXIES": trusted}
    with gunicorn(env, workers=1) as base:
        wallet = HttpWallet(base)
        wallet.open_player("player-1")
        r = requests.post(f"{base}/V4/Bet", data=bet_raw(), timeout=30,
                          headers={"Content-Type": "application/json", "X-Forwarded-For": "10.1.2.3"})
        assert r.status_code == 200 and r.json()["error"] == error, r.text

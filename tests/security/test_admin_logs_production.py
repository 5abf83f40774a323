"""Admin bearer token, secrets kept out of logs, and production refusing insecure settings
(docs/protocol.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from config import ConfigError, Settings
from tests.conftest import Operator, make_app
from tests.support import ADMIN_TOKEN, ROOT, callback_body, free_port, fresh_database, gunicorn_process

SECRET = "callback-secret-never-logged-4d1e"


@pytest.fixture
def app(database_url: str):  # type: ignore[no-untyped-def]
    app = make_app(database_url, callback_secret=SECRET)
    yield app
    app.extensions["wallet.engine"].dispose()


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", f"Bearer {ADMIN_TOKEN}x", f"Bearer {ADMIN_TOKEN[:-1]}", f"bearer{ADMIN_TOKEN}",
    f"Basic {ADMIN_TOKEN}", ADMIN_TOKEN, f"Bearer {SECRET}",
], ids=["missing", "empty", "no-token", "blank-token", "longer", "shorter", "no-space", "basic", "bare",
        "callback-secret"])
def test_admin_api_refuses_a_missing_or_wrong_token_with_401(app, header: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {} if header is None else {"Authorization": header}
    for verb, path in [("GET", "/admin/reconciliation"), ("POST", "/admin/players"), ("GET", "/admin/players/x")]:
        r = app.test_client().open(path, method=verb, headers=headers, json={"userId": "x", "currency": "USD"})
        assert r.status_code == 401, (verb, path, r.status_code)
    assert app.test_client().get("/admin/reconciliation",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_a_valid_callback_signature_opens_no_admin_door(app) -> None:  # type: ignore[no-untyped-def]
    r = app.test_client().get("/admin/reconciliation", headers={"X-Signature": hmac.new(
        SECRET.encode(), b"", hashlib.sha256).hexdigest()})
    assert r.status_code == 401


def test_without_a_configured_token_the_admin_api_is_closed(database_url: str) -> None:
    app = make_app(database_url, admin_token=None)
    for header in ("Bearer ", "Bearer None", "Bearer null"):
        assert app.test_client().get("/admin/reconciliation", headers={"Authorization": header}).status_code == 401
    app.extensions["wallet.engine"].dispose()


def test_admin_token_is_compared_with_hmac_compare_digest(app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert app.test_client().get("/admin/reconciliation", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert (ADMIN_TOKEN.encode(), b"guess") in calls


# --------------------------------------------------------------------------- secrets in logs


def full_flow(client: Any, signed: bool = True) -> None:
    """A day of traffic with its failures: signed callbacks, bad signatures, bad tokens, bad bodies."""
    def send(method: str, body: Any, signature: str | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sig = signature if signature is not None else hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        client.post(f"/V4/{method}", data=raw, headers={"Content-Type": "application/json", "X-Signature": sig})

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    client.post("/admin/players", json={"userId": "player-1", "currency": "USD"}, headers=admin)
    client.post("/admin/players/player-1/adjustments", headers=admin,
                json={"amount": "100.00", "reference": "dep-1", "reason": "deposit"})
    send("Bet", callback_body("Bet", reference="b1", amount="1.00"))
    send("Refund", callback_body("Refund", reference="b1"))
    send("Bet", callback_body("Bet", reference="b2", amount="1.00"), signature="0" * 64)
    send("Bet", callback_body("Bet", reference="b3", amount="nope"))
    send("Bet", b"{not json")
    send("Bet", callback_body("Bet", userId="ghost"))
    client.get("/admin/reconciliation", headers={"Authorization": f"Bearer {SECRET}"})
    client.get("/admin/reconciliation", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})
    client.get("/admin/players/ghost", headers=admin)


def test_secrets_never_reach_the_logs(app, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    full_flow(app.test_client())
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert any(r.name == "wallet.callbacks" for r in caplog.records)  # the flow was logged at all
    assert SECRET not in logged and ADMIN_TOKEN not in logged
    settings = app.config["WALLET_SETTINGS"]
    assert SECRET not in repr(settings) and ADMIN_TOKEN not in repr(settings)


def test_secrets_never_reach_the_logs_of_a_real_gunicorn(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    env = {"WALLET_DATABASE_URL": fresh_database(), "WALLET_CALLBACK_SECRET": SECRET,
           "WALLET_LOG_LEVEL": "DEBUG", "WALLET_ACCESS_LOG": "-"}
    with gunicorn_process(env, workers=1, log=log) as (base, _):
        session = requests.Session()

        class Client:  # the test client's post/get over real HTTP
            def post(self, path: str, data: bytes | None = None, json: Any = None, headers: Any = None) -> None:
                session.post(base + path, data=data, json=json, headers=headers, timeout=30)

            def get(self, path: str, headers: Any = None) -> None:
                session.get(base + path, headers=headers, timeout=30)

        full_flow(Client())
    text = log.read_text(errors="replace")
    assert "/V4/Bet" in text and "Refund" in text  # access and app logs were captured
    assert SECRET not in text and ADMIN_TOKEN not in text


# --------------------------------------------------------------------------- production settings


@pytest.mark.parametrize("environ", [
    {"WALLET_ENV": "production"},
    {"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": ADMIN_TOKEN},
    {"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": SECRET},
    {"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": SECRET, "WALLET_ADMIN_TOKEN": "short"},
    {"WALLET_ENV": "production", "WALLET_CALLBACK_SECRET": "", "WALLET_ALLOWED_NETWORKS": "",
     "WALLET_ADMIN_TOKEN": ADMIN_TOKEN},
    {"WALLET_ENV": "staging", "WALLET_CALLBACK_SECRET": SECRET, "WALLET_ADMIN_TOKEN": ADMIN_TOKEN},
    {"WALLET_ALLOWED_NETWORKS": "10.0.0.0/33"},
], ids=["nothing", "no-caller-check", "no-admin-token", "short-admin-token", "empty-values", "unknown-env",
        "bad-network"])
def test_insecure_or_invalid_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ)
    assert SECRET not in str(refused.value) and ADMIN_TOKEN not in str(refused.value)


@pytest.mark.parametrize("environ", [
    {"WALLET_CALLBACK_SECRET": SECRET},
    {"WALLET_ALLOWED_NETWORKS": "10.0.0.0/8"},
], ids=["secret", "allow-list"])
def test_production_starts_with_a_caller_check_and_an_admin_token(environ: dict[str, str]) -> None:
    settings = Settings.from_env({"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": ADMIN_TOKEN,
                                  "WALLET_DATABASE_URL": "postgresql://db/wallet", "WALLET_SECRET_KEY": "y" * 32,
                                  **environ})
    assert settings.is_production


def test_gunicorn_in_production_without_a_secret_exits_non_zero(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
    env.update({"WALLET_ENV": "production", "WALLET_ADMIN_TOKEN": ADMIN_TOKEN, "WALLET_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": "1", "WALLET_DATABASE_URL": fresh_database()})
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "WALLET_CALLBACK_SECRET" in proc.stdout + proc.stderr
    assert ADMIN_TOKEN not in proc.stdout + proc.stderr

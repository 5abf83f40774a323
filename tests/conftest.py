"""Fixtures: the app on PostgreSQL, the provider's and the operator's clients.

The server is WALLET_TEST_DATABASE_URL's (`make test` runs pytest under
`python -m wallet.pgserver throwaway`, which sets it); without it, the first
test that needs PostgreSQL starts a throwaway server for the session through
the same launcher (tests/support.pg_url), so plain `pytest` works too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from tests.support import ADMIN_TOKEN, callback_body, migrate, pg_url, reset_postgres, stop_session_server
from wallet import create_app

_pg_migrated = False


def _postgres_url() -> str:
    """The session's database, migrated (once) and emptied."""
    global _pg_migrated
    url = pg_url()
    if not _pg_migrated:
        migrate(url)
        _pg_migrated = True
    reset_postgres(url)
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_session_server()


@pytest.fixture
def database_url() -> str:
    """A freshly migrated, empty PostgreSQL database."""
    return _postgres_url()


@pytest.fixture
def postgres_url(database_url: str) -> str:
    """The same database as `database_url` (the name of tests that need real concurrency)."""
    return database_url


def make_app(database_url: str, **overrides: Any) -> Flask:
    settings = Settings(**{"database_url": database_url, "admin_token": ADMIN_TOKEN, **overrides})
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    yield app
    app.extensions["wallet.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Provider:
    """Lucky Monaco's side of the conversation, through Flask's test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def call(self, method: str, **fields: Any) -> dict[str, Any]:
        return self.send(method, callback_body(method, **fields))

    def send(self, method: str, body: Any, **kwargs: Any) -> dict[str, Any]:
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        r = self.client.post(f"/V4/{method}", data=raw, content_type="application/json", **kwargs)
        assert r.status_code == 200, r.get_data(as_text=True)
        answer = json.loads(r.get_data(), parse_float=Decimal)
        assert isinstance(answer["error"], int) and isinstance(answer["description"], str)
        return answer


class Operator:
    """Operator staff's admin API, through Flask's test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def request(self, verb: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.client.open(f"/admin{path}", method=verb, headers=self.headers, **kwargs)

    def open_player(self, user_id: str = "player-1", currency: str = "USD", deposit: str | None = "1000.00") -> None:
        r = self.request("POST", "/players", json={"userId": user_id, "currency": currency})
        assert r.status_code == 201, r.get_data(as_text=True)
        if deposit:
            r = self.request("POST", f"/players/{user_id}/adjustments",
                             json={"amount": deposit, "reference": f"deposit-{user_id}", "reason": "deposit"})
            assert r.status_code == 201, r.get_data(as_text=True)

    def balance(self, user_id: str = "player-1") -> Decimal:
        r = self.request("GET", f"/players/{user_id}")
        assert r.status_code == 200
        return Decimal(str(json.loads(r.get_data(), parse_float=Decimal)["balance"]))

    def reconciliation(self) -> dict[str, Any]:
        r = self.request("GET", "/reconciliation")
        assert r.status_code == 200
        return r.get_json()


@pytest.fixture
def provider(client: FlaskClient) -> Provider:
    return Provider(client)


@pytest.fixture
def operator(client: FlaskClient) -> Operator:
    return Operator(client)


@pytest.fixture
def player(operator: Operator) -> str:
    """player-1 with a USD wallet holding 1000.00."""
    operator.open_player()
    return "player-1"

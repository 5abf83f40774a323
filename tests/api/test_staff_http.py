"""Staff over real HTTP, two gunicorn servers on one database (two hosts): a token, a revocation, a
disabled person and a four-eyes decision are the database's, so every worker of every host agrees
at once, and the audit trail records the address each request came from."""

from __future__ import annotations

from decimal import Decimal

import requests

from tests.support import ADMIN_TOKEN, gunicorn


def test_tokens_revocations_and_approvals_hold_on_every_host(postgres_url: str) -> None:
    env = {"WALLET_DATABASE_URL": postgres_url, "WALLET_APPROVAL_THRESHOLDS": "USD=100"}
    with gunicorn(env, workers=2) as a, gunicorn(env, workers=2) as b:
        http = requests.Session()

        def call(base: str, token: str, verb: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
            return http.request(verb, f"{base}/admin{path}", headers={"Authorization": f"Bearer {token}"},
                                timeout=30, **kwargs)

        def token_of(name: str, role: str) -> str:
            r = call(a, ADMIN_TOKEN, "POST", "/staff", json={"userName": name, "role": role})
            assert r.status_code == 201, r.text
            return r.json()["token"]

        cashier, alice, bob = token_of("cashier", "platform"), token_of("alice", "finance"), token_of("bob", "finance")
        assert call(b, cashier, "POST", "/players", json={"userId": "h1", "currency": "USD"}).status_code == 201
        assert call(a, cashier, "POST", "/players/h1/adjustments",
                    json={"amount": "500.00", "reference": "dep", "reason": "deposit"}).status_code == 201

        pending = call(a, alice, "POST", "/players/h1/adjustments",
                       json={"amount": "-200.00", "reference": "wd", "reason": "withdrawal"})
        assert pending.status_code == 202 and pending.json()["status"] == "pending"
        request_id = pending.json()["id"]
        assert call(b, alice, "POST", f"/adjustments/{request_id}/approve").status_code == 403  # her own
        assert call(b, bob, "POST", f"/adjustments/{request_id}/approve").status_code == 201
        assert call(a, bob, "POST", f"/adjustments/{request_id}/approve").status_code == 409
        balance = call(b, bob, "GET", "/players/h1").json(parse_float=Decimal)["balance"]
        assert balance == Decimal("300.00")

        # a revoked token and a disabled person: 401 on every worker of both hosts, at once
        extra = call(a, ADMIN_TOKEN, "POST", "/staff/bob/tokens").json()
        assert {call(base, extra["token"], "GET", "/audit").status_code for base in (a, b) for _ in range(4)} == {200}
        assert call(b, ADMIN_TOKEN, "DELETE", f"/staff/bob/tokens/{extra['id']}").status_code == 200
        assert {call(base, extra["token"], "GET", "/audit").status_code for base in (a, b) for _ in range(4)} == {401}
        assert call(a, ADMIN_TOKEN, "PATCH", "/staff/alice", json={"active": False}).status_code == 200
        assert {call(base, alice, "GET", "/audit").status_code for base in (a, b) for _ in range(4)} == {401}

        trail = call(a, bob, "GET", "/audit", params={"limit": 1000}).json()["items"]
        approve = next(e for e in trail if e["action"] == "adjustment.approve")
        assert (approve["actor"], approve["role"], approve["sourceAddress"]) == ("bob", "finance", "127.0.0.1")
        assert {e["actor"] for e in trail} == {"bootstrap", "cashier", "alice", "bob"}

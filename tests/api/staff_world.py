"""A wallet with one staff account per role, a funded player, a game and an open bet, for the staff tests.

The provider is a closed port (one attempt): provider calls are recorded as failed, quickly.
Four eyes at USD=100.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text

from tests.conftest import make_app
from tests.support import ADMIN_TOKEN, callback_body, free_port

ROLES = ("viewer", "support", "finance", "platform", "admin")
THRESHOLD = Decimal("100")


class StaffWorld:
    def __init__(self, database_url: str, **overrides: Any) -> None:
        settings = {"approval_thresholds": (("USD", THRESHOLD),),
                    "provider_api_url": f"http://127.0.0.1:{free_port()}", "provider_attempts": 1,
                    "provider_timeout": 1.0, **overrides}
        self.app: Flask = make_app(database_url, **settings)
        self.client = self.app.test_client()
        self.url = database_url
        self.tokens: dict[str, str] = {"bootstrap": ADMIN_TOKEN}
        for role in ROLES:
            self.tokens[role] = self.add_staff(f"{role}-1", role)

    # ------------------------------------------------------------------ HTTP

    def call(self, who: str, verb: str, path: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        token = self.tokens.get(who, who)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("environ_base", {"REMOTE_ADDR": "203.0.113.7"})
        return self.client.open(f"/admin{path}", method=verb, headers=headers, **kwargs)

    def ok(self, who: str, verb: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = self.call(who, verb, path, **kwargs)
        assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
        return json.loads(r.get_data(), parse_float=Decimal) if r.mimetype == "application/json" else r

    def add_staff(self, user_name: str, role: str, who: str = "bootstrap", **extra: Any) -> str:
        body = self.ok(who, "POST", "/staff", 201, json={"userName": user_name, "role": role, **extra})
        return body["token"]

    def bet(self, reference: str, round_id: str = "round-1", amount: str = "10.00", user_id: str = "p1",
            game_id: str = "g-1") -> None:
        body = callback_body("Bet", userId=user_id, reference=reference, roundId=round_id, amount=amount,
                             gameId=game_id)
        r = self.client.post("/V4/Bet", json=body)
        assert r.status_code == 200 and r.get_json()["error"] == 0, r.get_data(as_text=True)

    def player(self, user_id: str = "p1", deposit: str = "1000.00") -> None:
        """A USD player funded by the cashier (platform: no approval)."""
        self.ok("platform", "POST", "/players", 201, json={"userId": user_id, "currency": "USD"})
        self.ok("platform", "POST", f"/players/{user_id}/adjustments", 201,
                json={"amount": deposit, "reference": f"deposit-{user_id}", "reason": "deposit"})

    def balance(self, user_id: str = "p1") -> Decimal:
        return self.ok("viewer", "GET", f"/players/{user_id}")["balance"]

    # ------------------------------------------------------------------ the database

    def sql(self, statement: str, **params: Any) -> list[Any]:
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return result.all() if result.returns_rows else []
        finally:
            engine.dispose()

    def snapshot(self) -> dict[str, Any]:
        """Everything a staff write could change."""
        queries = {
            "players": "SELECT user_id, status, balance, excluded_until FROM players ORDER BY id",
            "transactions": "SELECT count(*) FROM transactions",
            "limits": "SELECT player_id, name, value, pending_value FROM player_limits ORDER BY 1, 2",
            "games": "SELECT game_id, enabled FROM games ORDER BY 1",
            "staff": "SELECT user_name, role, active, password_hash FROM staff ORDER BY 1",
            "tokens": "SELECT id, revoked_at FROM staff_tokens ORDER BY 1",
            "requests": "SELECT id, status FROM adjustment_requests ORDER BY 1",
            "audit": "SELECT count(*) FROM audit_log",
            "calls": "SELECT count(*) FROM provider_calls",
            "sweeps": "SELECT count(*) FROM round_sweeps",
        }
        return {name: self.sql(q) for name, q in queries.items()}

    def audit(self, **query: str) -> list[dict[str, Any]]:
        return self.ok("bootstrap", "GET", "/audit", query_string=query)["items"]

    def close(self) -> None:
        self.app.extensions["wallet.engine"].dispose()

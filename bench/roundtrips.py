"""Count the database round trips of each callback path (bench/README.md).

    python bench/roundtrips.py postgresql://wallet@127.0.0.1:PORT/wallet

Runs each path once through the app (Flask test client) against a migrated
PostgreSQL database and counts, with SQLAlchemy events, every message that
waits for the server: the pool's pre-ping, BEGIN (psycopg sends it before the
first statement), each statement, COMMIT/ROLLBACK. Creates players rt-*.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter

from sqlalchemy import event

from config import Settings
from wallet import create_app


def main(url: str) -> None:
    app = create_app(Settings(database_url=url, admin_token="roundtrips-admin-token", log_level="WARNING"))
    engine = app.extensions["wallet.engine"]
    counts: Counter[str] = Counter()
    statements: list[str] = []

    @event.listens_for(engine, "engine_connect")
    def _checkout(conn):  # type: ignore[no-untyped-def]
        if engine.pool._pre_ping:
            counts["ping"] += 1

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        counts["begin"] += 1

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        counts["statements"] += 1
        statements.append(" ".join(statement.split())[:90])

    @event.listens_for(engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        counts["commit"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(conn):  # type: ignore[no-untyped-def]
        counts["rollback"] += 1

    client = app.test_client()
    admin = {"Authorization": "Bearer roundtrips-admin-token"}
    tag = uuid.uuid4().hex[:8]
    user = f"rt-{tag}"
    client.post("/admin/players", json={"userId": user, "currency": "USD"}, headers=admin)
    client.post(f"/admin/players/{user}/adjustments", headers=admin,
                json={"amount": "100.00", "reference": f"rt-dep-{tag}", "reason": "deposit"})

    def body(**fields: str) -> dict[str, str]:
        return {"providerId": "LuckyMonaco", "userId": user, "sessionId": "s", "currency": "USD",
                "uuid": uuid.uuid4().hex, "gameId": "g", "gameName": "g", "timeStamp": "t",
                "roundDetails": "spin", "amount": "1.00", **fields}

    bet = body(reference=f"b1-{tag}", roundId=f"r1-{tag}")
    cases = [
        ("Bet (new round)", "Bet", bet),
        ("Bet (same uuid replayed)", "Bet", bet),
        ("Bet (retransmission, new uuid)", "Bet", {**bet, "uuid": uuid.uuid4().hex}),
        ("Bet (existing round)", "Bet", body(reference=f"b2-{tag}", roundId=f"r1-{tag}")),
        ("Refund (of a bet)", "Refund", body(reference=f"b1-{tag}")),
        ("Refund (retransmission)", "Refund", body(reference=f"b1-{tag}")),
        ("Refund (no bet: recorded)", "Refund", body(reference=f"nb-{tag}", roundId=f"r9-{tag}")),
        ("Bet (refused: insufficient funds)", "Bet", body(reference=f"b3-{tag}", roundId=f"r3-{tag}",
                                                          amount="1000000.00")),
        ("Result", "Result", body(reference=f"w1-{tag}", roundId=f"r4-{tag}")),
        ("Balance", "Balance", body()),
        ("EndRound", "EndRound", body(roundId=f"r4-{tag}")),
    ]
    print(f"{'callback path':36} {'round trips':>11}  (ping+begin+statements+commit/rollback)  answer")
    for label, method, payload in cases:
        counts.clear()
        statements.clear()
        answer = json.loads(client.post(f"/V4/{method}", json=payload).get_data())
        total = sum(counts.values())
        detail = "+".join(str(counts[k]) for k in ("ping", "begin", "statements", "commit", "rollback"))
        print(f"{label:36} {total:>11}  ({detail})  error={answer['error']}")
        if "-v" in sys.argv:
            for s in statements:
                print(f"{'':40}{s}")
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])

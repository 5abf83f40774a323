"""Count the database round trips of each callback path (bench/README.md).

    python bench/roundtrips.py postgresql://wallet@127.0.0.1:PORT/wallet [-v]

Runs each path once through the app (Flask test client) against a migrated
PostgreSQL database, after the warm-up each gunicorn worker runs, and counts
on the wire: libpq traces every protocol message of the app's connections,
and each round trip ends with the server's ReadyForQuery (a BEGIN or COMMIT
psycopg sends counts like any statement).
`-v` lists the statements. Creates players rt-*.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from psycopg import pq
from sqlalchemy import event

from config import Settings
from wallet import create_app
from wallet.ledger.functions import warm_up


class WireTrace:
    """libpq's protocol trace of every connection the engine opens from now on, read in parts
    (tests/integration/test_functions.py counts with it too)."""

    def __init__(self, engine: Any, directory: Path | None = None) -> None:
        self.engine = engine
        self.directory = directory or Path(tempfile.mkdtemp(prefix="wallet-roundtrips-"))
        self.traced: list[tuple[Any, Any]] = []
        engine.dispose()  # every connection from now on is new, and traced from its first message
        event.listen(engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        self._start(dbapi_connection)

    def _start(self, dbapi_connection: Any) -> None:
        out = open(self.directory / f"trace-{uuid.uuid4().hex}.txt", "w")  # noqa: SIM115 (closed in take())
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self.traced.append((dbapi_connection, out))

    def take(self, go_on: bool = True) -> list[list[str]]:
        """The messages since the last call (tab-separated fields); tracing goes on in new files
        unless told otherwise."""
        traced, self.traced = self.traced, []
        messages = []
        for dbapi_connection, out in traced:
            dbapi_connection.pgconn.untrace()
            out.close()
            messages += [line.split("\t") for line in Path(out.name).read_text().splitlines()]
            if go_on and not dbapi_connection.closed:
                self._start(dbapi_connection)
        if not go_on:
            event.remove(self.engine, "connect", self._connected)
        return messages


def round_trips(messages: list[list[str]]) -> int:
    """Each round trip ends with the server's ReadyForQuery."""
    return sum(1 for m in messages if m[0] == "B" and m[2] == "ReadyForQuery")


def main(url: str) -> None:
    app = create_app(Settings(database_url=url, admin_token="roundtrips-admin-token", log_level="WARNING"))
    engine = app.extensions["wallet.engine"]
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
        ("Bet (to cancel)", "Bet", body(reference=f"b5-{tag}", roundId=f"r5-{tag}")),
        ("Cancel (of a bet)", "Cancel", body(reference=f"b5-{tag}")),
        ("Cancel (retransmission)", "Cancel", body(reference=f"b5-{tag}")),
        ("Cancel (no bet: recorded)", "Cancel", body(reference=f"nb2-{tag}")),
        ("PromoWin", "PromoWin", body(reference=f"p1-{tag}", campaignId="c1", campaignType="T")),
        ("PromoWin (retransmission)", "PromoWin", body(reference=f"p1-{tag}", campaignId="c1", campaignType="T")),
        ("JackpotWin", "JackpotWin", body(reference=f"j1-{tag}", roundId=f"r4-{tag}", jackpotId="j")),
        ("BonusWin", "BonusWin", body(reference=f"bw1-{tag}", bonusCode="bc")),
        ("Check", "Check", body()),
        ("Balance", "Balance", body()),
        ("EndRound", "EndRound", body(roundId=f"r4-{tag}")),
        ("SessionExpired", "SessionExpired", body(sessionId=f"s-exp-{tag}")),
    ]
    trace = WireTrace(engine)
    warm_up(engine)  # as each gunicorn worker does before it serves: the statements are prepared
    print(f"{'callback path':36} {'round trips':>11}  answer")
    for label, method, payload in cases:
        trace.take()
        answer = json.loads(client.post(f"/V4/{method}", json=payload).get_data())
        sent = trace.take()
        trips = round_trips(sent)
        print(f"{label:36} {trips:>11}  error={answer['error']}")
        if "-v" in sys.argv:
            for m in sent:
                if m[0] == "F" and m[2] in ("Query", "Parse", "Bind"):
                    print(f"{'':40}{m[2]} {' '.join(m[3].split())[:90]}")
    trace.take(go_on=False)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])

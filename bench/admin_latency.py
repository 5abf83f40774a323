"""Staff lists and searches over HTTP on the bench's ledger: p50 and p95 of each (bench/run.sh).

    python bench/admin_latency.py BASE_URL DB_URL LABEL [--repeat N]

BASE_URL is a running wallet, WALLET_ADMIN_TOKEN its admin token. The player, round, reference
and entry asked for are picked in the ledger at DB_URL (one of the filler's players, in the
middle of its history): what support staff search for. Each request is sent REPEAT times in
turn (after one untimed warm-up) with one keep-alive connection; one JSON line per query on
stdout, {"phase": "admin", "label", "ledger_rows", "query", "p50_ms", "p95_ms", "max_ms"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import requests

TARGET_P95_MS = 50.0


def samples(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT count(*), max(id) FROM transactions").fetchone()
        assert rows is not None
        count, top = rows
        # An entry in the middle of the ledger, a bet in a round, of a player with a long history.
        row = conn.execute(
            """SELECT t.id, t.reference, r.round_id, p.user_id FROM transactions t
               JOIN rounds r ON r.id = t.round_pk JOIN players p ON p.id = t.player_id
               WHERE t.id >= %s AND t.kind = 'bet' ORDER BY t.id LIMIT 1""", ((top or 0) // 2,)).fetchone()
        assert row is not None, "no bet in the ledger"
    return {"rows": str(count), "id": str(row[0]), "reference": row[1], "round": row[2], "user": row[3]}


def queries(s: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    now = datetime.now(UTC)
    today = now.date().isoformat()
    return {
        "transactions, page 1": ("/admin/transactions", {}),
        "transactions, userId": ("/admin/transactions", {"userId": s["user"]}),
        "transactions, userId + type=bet": ("/admin/transactions", {"userId": s["user"], "type": "bet"}),
        "transactions, roundId": ("/admin/transactions", {"roundId": s["round"]}),
        "transactions, reference": ("/admin/transactions", {"reference": s["reference"]}),
        "transactions, type=adjustment": ("/admin/transactions", {"type": "adjustment"}),
        "transactions, status=refunded": ("/admin/transactions", {"status": "refunded"}),
        "transactions, last hour": ("/admin/transactions", {"from": (now - timedelta(hours=1)).isoformat()}),
        "transaction by id": (f"/admin/transactions/{s['id']}", {}),
        "by reference": (f"/admin/transactions/by-reference/{s['reference']}", {}),
        "round": (f"/admin/rounds/{s['round']}", {"userId": s["user"]}),
        "player": (f"/admin/players/{s['user']}", {}),
        "player history": (f"/admin/players/{s['user']}/history", {}),
        "daily report, today": ("/admin/reports/daily", {"from": today, "to": today}),
        "stale rounds": ("/admin/stale-rounds", {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base")
    parser.add_argument("db_url")
    parser.add_argument("label")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    s = samples(args.db_url.replace("postgresql+psycopg://", "postgresql://", 1))
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {os.environ['WALLET_ADMIN_TOKEN']}"
    worst = (0.0, "")
    for name, (path, params) in queries(s).items():
        http.get(args.base + path, params=params, timeout=60)  # warm-up, untimed
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            r = http.get(args.base + path, params=params, timeout=60)
            times.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95 + 0.5) - 1)]
        print(json.dumps({"phase": "admin", "label": args.label, "ledger_rows": int(s["rows"]), "query": name,
                          "p50_ms": round(statistics.median(times), 2), "p95_ms": round(p95, 2),
                          "max_ms": round(times[-1], 2)}), flush=True)
        if name != "daily report, today":  # a report, not a list or search (bench/report.py REPORTS)
            worst = max(worst, (p95, name))
    verdict = "held" if worst[0] < TARGET_P95_MS else "NOT held"
    print(f"admin-{args.label} at {int(s['rows']):,} rows: slowest list or search p95 {worst[0]:.1f} ms ({worst[1]}); "
          f"target p95 < {TARGET_P95_MS:.0f} ms {verdict}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

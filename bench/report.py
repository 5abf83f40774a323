"""Turn a bench run's results.jsonl into the Markdown table of docs/performance.md."""

from __future__ import annotations

import json
import sys


def cpu(row: dict, side: str) -> str:
    """CPU ms per request; '>=' when a worker was recycled in the window (its CPU is missing)."""
    value = f"{row.get(f'{side}_cpu_ms_per_req', 0):.2f}"
    return f">={value}" if row.get("workers_recycled") else value


def main(path: str) -> None:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    pgbench = next((r for r in rows if r["phase"] == "pgbench"), None)
    print("| phase | connections | ledger rows before | req/s | p50 ms | p95 ms | p99 ms "
          "| app CPU ms/req | DB CPU ms/req | answers |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    alone = next((r for r in rows if r["phase"] == "refund-db-alone"), None)
    for r in rows:
        if r["phase"] in ("pgbench", "refund-db-alone"):
            continue
        codes = " ".join(f"{k}:{v}" for k, v in sorted(r["codes"].items()))
        if r.get("socket_errors"):
            codes += f" socket-errors:{r['socket_errors']}"
        print(f"| {r['phase']} | {r['connections']} | {r['ledger_rows_before']:,} | {r['rps']:.0f} "
              f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {cpu(r, 'app')} | {cpu(r, 'db')} | {codes} |")
    if pgbench:
        print(f"\npgbench tpcb-like, {pgbench['clients']} clients: {pgbench['tps']:.0f} tps "
              f"(latency avg {pgbench['latency_avg_ms']} ms, DB CPU {pgbench.get('db_cpu_ms_per_tx', 0):.2f} ms/tx)")
        for r in rows:
            if r["phase"] == "refund" and r["connections"] == pgbench["clients"]:
                print(f"Refund at {r['connections']} connections / pgbench: {r['rps'] / pgbench['tps']:.2f}"
                      f" (p99 {r['p99_ms']:.1f} ms)")
        if alone:
            print(f"wallet_refund() alone (pgbench -f bench/refund.sql, {alone['clients']} clients, the wallet"
                  f" stopped): {alone['tps']:.0f} tps = {alone['tps'] / pgbench['tps']:.2f} x pgbench"
                  f" (latency avg {alone['latency_avg_ms']} ms, DB CPU {alone['db_cpu_ms_per_tx']:.2f} ms/tx;"
                  f" refunds applied {alone['refunds_applied']} of {alone['transactions']} transactions)")


if __name__ == "__main__":
    main(sys.argv[1])

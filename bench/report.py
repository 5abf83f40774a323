"""Turn a bench run's results.jsonl into the Markdown tables of docs/performance.md.

    python bench/report.py RESULTS.jsonl              # bench/run.sh
    python bench/report.py --devices RESULTS.jsonl    # bench/run.sh devices
    python bench/report.py --scale RESULTS.jsonl      # bench/run.sh scale
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from typing import Any

TARGET = 0.40  # Refund at 32 connections >= TARGET x pgbench's tpcb-like tps, in the same run
PAYS = 0.05  # a hot-path device stays if it gains at least this much throughput
SCALE_KEEP = 0.90  # Refund and Bet on the large ledger: at least this share of their small-ledger rate
ADMIN_P95_MS = 50.0  # every admin list and search, p95, on the large ledger
REPORTS = {"daily report, today"}  # bench/admin_latency.py queries that are reports, not lists or searches
TEN_MILLION = 10_000_000


def cpu(row: dict[str, Any], side: str) -> str:
    """CPU ms per request; '>=' when a worker was recycled in the window (its CPU is missing)."""
    value = f"{row.get(f'{side}_cpu_ms_per_req', 0):.2f}"
    return f">={value}" if row.get("workers_recycled") else value


def answers(row: dict[str, Any]) -> str:
    codes = " ".join(f"{k}:{v}" for k, v in sorted(row["codes"].items()))
    if row.get("socket_errors"):
        codes += f" socket-errors:{row['socket_errors']}"
    return codes


def bench(rows: list[dict[str, Any]]) -> None:
    pgbench = next((r for r in rows if r["phase"] == "pgbench"), None)
    alone = next((r for r in rows if r["phase"] == "refund-db-alone"), None)
    print("| phase | connections | ledger rows before | req/s | p50 ms | p95 ms | p99 ms "
          "| app CPU ms/req | DB CPU ms/req | answers |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if r["phase"] in ("pgbench", "refund-db-alone", "admin", "bet-limits-db-on", "bet-limits-db-off"):
            continue
        print(f"| {r['phase']} | {r['connections']} | {r['ledger_rows_before']:,} | {r['rps']:.0f} "
              f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {cpu(r, 'app')} | {cpu(r, 'db')} | {answers(r)} |")
    if not pgbench:
        return
    tps = pgbench["tps"]
    print(f"\npgbench tpcb-like, {pgbench['clients']} clients: {tps:.0f} tps "
          f"(latency avg {pgbench['latency_avg_ms']} ms, DB CPU {pgbench.get('db_cpu_ms_per_tx', 0):.2f} ms/tx)\n")
    clients = pgbench["clients"]
    print(f"| callback @{clients} | req/s | p50 ms | p99 ms | x pgbench tps |")
    print("| --- | --- | --- | --- | --- |")
    for phase, name in (("refund", "Refund"), ("bet", "Bet"), ("cancel", "Cancel"), ("promowin", "PromoWin")):
        r = next((r for r in rows if r["phase"] == phase and r["connections"] == clients), None)
        if r:
            print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['rps'] / tps:.2f} |")
    refund = next((r for r in rows if r["phase"] == "refund" and r["connections"] == clients), None)
    if refund:
        ratio = refund["rps"] / tps
        print(f"\nTarget: Refund at {clients} connections >= {TARGET:.2f} x pgbench tpcb: {ratio:.2f},"
              f" {'held' if ratio >= TARGET else 'NOT held'} (p99 {refund['p99_ms']:.1f} ms)")
    with_limits = [r["rps"] for r in rows if r["phase"] == "bet-limits-on"]
    without = [r["rps"] for r in rows if r["phase"] == "bet-limits-off"]
    if with_limits and without:
        # Each round's pair (on, then off, seconds apart) shares the machine's drift: the median of the
        # pairs' ratios is the figure; the means are shown beside it.
        extra = statistics.median(off / on for on, off in zip(with_limits, without, strict=False)) - 1
        print(f"\nTarget: a Bet with every limit set costs at most 10 % more than one without: "
              f"{pct(extra)} time per Bet (median of {min(len(with_limits), len(without))} alternating pairs; "
              f"means {statistics.mean(with_limits):.0f} vs {statistics.mean(without):.0f} req/s), "
              f"{'held' if extra <= 0.10 else 'NOT held'}")
    db_on = [r for r in rows if r["phase"] == "bet-limits-db-on"]
    db_off = [r for r in rows if r["phase"] == "bet-limits-db-off"]
    if db_on and db_off:
        extra = statistics.median(off["tps"] / on["tps"] for on, off in zip(db_on, db_off, strict=False)) - 1
        print(f"The same with the database alone (pgbench -f bench/bet.sql): {pct(extra)} time per Bet "
              f"(median of {min(len(db_on), len(db_off))} pairs; "
              f"{statistics.mean(r['tps'] for r in db_on):.0f} vs {statistics.mean(r['tps'] for r in db_off):.0f} tps; "
              f"DB CPU {statistics.mean(r['db_cpu_ms_per_tx'] for r in db_on):.2f} vs "
              f"{statistics.mean(r['db_cpu_ms_per_tx'] for r in db_off):.2f} ms per Bet)")
    scale(rows)
    if alone:
        print(f"wallet_refund() alone (pgbench -f bench/refund.sql, {alone['clients']} clients, the wallet"
              f" stopped): {alone['tps']:.0f} tps = {alone['tps'] / tps:.2f} x pgbench"
              f" (latency avg {alone['latency_avg_ms']} ms, DB CPU {alone['db_cpu_ms_per_tx']:.2f} ms/tx;"
              f" refunds applied {alone['refunds_applied']} of {alone['transactions']} transactions)")


def pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def spread(values: list[float]) -> str:
    return f"{pct(min(values))} / **{pct(statistics.median(values))}** / {pct(max(values))}"


def cost(row: dict[str, Any]) -> float:
    """CPU per request of the whole load (gunicorn workers, PostgreSQL, wrk), in units of PostgreSQL's
    CPU per request in the same run: no device changes PostgreSQL's work, so this cancels the
    machine's speed of the moment, which moves every process's CPU per request together."""
    return (row["app_cpu_ms_per_req"] + row["db_cpu_ms_per_req"] + row.get("wrk_cpu_ms_per_req", 0)) / row[
        "db_cpu_ms_per_req"]


def devices(rows: list[dict[str, Any]]) -> None:
    """Each "off" run against the mean of the "on" runs on either side of it (bench/run.sh devices).

    Two gains per device: requests per second, measured (the criterion, and what the noise of a
    shared machine moves most); and the CPU gain, how much more CPU a request takes without the
    device, speed-normalised (cost()): on a CPU-bound box, the throughput it should give.
    """
    runs = [r for r in rows if "device" in r]
    gains: dict[str, list[float]] = {}
    cpu_gains: dict[str, list[float]] = {}
    app: dict[str, list[float]] = {}
    p99: dict[str, list[tuple[float, float]]] = {}
    for i, r in enumerate(runs):
        if r["device"] == "on":
            continue
        around = [runs[j] for j in (i - 1, i + 1) if 0 <= j < len(runs) and runs[j]["device"] == "on"]
        if not around:
            continue
        d = r["device"]
        gains.setdefault(d, []).append(statistics.mean(a["rps"] for a in around) / r["rps"] - 1)
        cpu_gains.setdefault(d, []).append(cost(r) / statistics.mean(cost(a) for a in around) - 1)
        app.setdefault(d, []).append(
            (r["app_cpu_ms_per_req"] / r["db_cpu_ms_per_req"])
            / statistics.mean(a["app_cpu_ms_per_req"] / a["db_cpu_ms_per_req"] for a in around) - 1)
        p99.setdefault(d, []).append((statistics.mean(a["p99_ms"] for a in around), r["p99_ms"]))
    on = [r for r in runs if r["device"] == "on"]
    if on:
        first = on[0]
        print(f"{len(on)} runs of the service as it is ({first['connections']} connections, {first['seconds']:.0f} s"
              f" each): {min(r['rps'] for r in on):.0f} to {max(r['rps'] for r in on):.0f} req/s, median"
              f" {statistics.median(r['rps'] for r in on):.0f}; per request, median: workers"
              f" {statistics.median(r['app_cpu_ms_per_req'] for r in on):.3f} ms, PostgreSQL"
              f" {statistics.median(r['db_cpu_ms_per_req'] for r in on):.3f} ms, wrk"
              f" {statistics.median(r.get('wrk_cpu_ms_per_req', 0) for r in on):.3f} ms of CPU\n")
    print("Gain = how much the device gives, each off run against the mean of the on runs around it:"
          " min / **median** / max over the rounds.\n")
    print("| device | pairs | req/s gain | CPU gain | worker CPU per request without it (median) "
          "| p99 ms on / off (median) | pays >= 5 %? |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for device, g in gains.items():
        med, cpu_med = statistics.median(g), statistics.median(cpu_gains[device])
        if device == "control":
            verdict = "(nothing off: the method's bias)"
        elif med >= PAYS and cpu_med >= PAYS:
            verdict = "yes"
        elif med < PAYS and cpu_med < PAYS:
            verdict = "no"
        else:
            verdict = "split"
        on99 = statistics.median(a for a, _ in p99[device])
        off99 = statistics.median(b for _, b in p99[device])
        print(f"| {device} | {len(g)} | {spread(g)} | {spread(cpu_gains[device])} "
              f"| {pct(statistics.median(app[device]))} | {on99:.1f} / {off99:.1f} | {verdict} |")
    bad = [r for r in runs if set(r["codes"]) - {"0"} or r.get("socket_errors")]
    for r in bad:
        print(f"\nwarning: {r['server']} round {r['round']}: answers {answers(r)}")


def _fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares y = a + b * log10(x) over (x, y) points; None with fewer than three x (a line
    through two noisy points says nothing)."""
    if len({x for x, _ in points}) < 3:
        return None
    xs = [math.log10(x) for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def scale(rows: list[dict[str, Any]]) -> None:
    """Refund and Bet at each ledger size against the small ledger, and the admin lists' p95.

    `bench/run.sh scale` pairs every run on the grown ledger with the same run on a copy of the
    small one (phase `refund-ref@<label>`), alternately: the ratio of their means is the ledger's
    effect, the machine's drift cancelled. `bench/run.sh` (no reference runs) compares with the
    small point measured earlier. When the largest size is under ten million, the value at ten
    million is extrapolated from the measured points (a straight line in log10 of the rows)."""
    admin: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r["phase"] == "admin":
            admin.setdefault(r["label"], {})[r["query"]] = r
    labels = list(admin)
    if "small" not in labels:
        return

    def rates(phase: str) -> list[float]:
        return [r["rps"] for r in rows if r["phase"] == phase]

    first = next(r for r in rows if r["phase"] == "refund-small")
    print(f"\n### Scale: Refund and Bet at {first['connections']} connections, admin lists p95\n")
    print("| ledger rows | Refund req/s | reference req/s | ratio | Bet req/s | reference req/s | ratio "
          "| slowest admin list or search, p95 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    curve: dict[str, list[tuple[float, float]]] = {"refund": [], "bet": [], "admin": []}
    for label in labels:
        worst = max((a for q, a in admin[label].items() if q not in REPORTS), key=lambda a: a["p95_ms"])
        size = worst["ledger_rows"]
        cells = []
        for m in ("refund", "bet"):
            grown = rates(f"{m}-{label}")
            ref = rates(f"{m}-ref@{label}") or rates(f"{m}-small")
            ratio = statistics.mean(grown) / statistics.mean(ref)
            curve[m].append((size, ratio))
            cells.append(f"{statistics.mean(grown):.0f} | {statistics.mean(ref):.0f} | **{ratio:.2f}**")
        curve["admin"].append((size, worst["p95_ms"]))
        print(f"| {size:,} | {cells[0]} | {cells[1]} | {worst['p95_ms']:.1f} ({worst['query']}) |")
    print("\n| admin list or search, p95 ms | " + " | ".join(
        f"{next(iter(admin[label].values()))['ledger_rows']:,} rows" for label in labels) + " |")
    print("| --- |" + " --- |" * len(labels))
    for q in admin["small"]:
        print(f"| {q}{' (a report)' if q in REPORTS else ''} | " + " | ".join(
            f"{admin[label][q]['p95_ms']:.1f}" if q in admin[label] else "-" for label in labels) + " |")
    largest, last = curve["refund"][-1][0], labels[-1]
    verdicts = []
    for m, name in (("refund", "Refund"), ("bet", "Bet")):
        at = curve[m][-1][1]
        verdicts.append(f"{name} at {largest:,} rows: {at:.2f} x its rate on the small ledger "
                        f"({'held' if at >= SCALE_KEEP else 'NOT held'}, target >= {SCALE_KEEP:.2f})")
    w = max((a for q, a in admin[last].items() if q not in REPORTS), key=lambda a: a["p95_ms"])
    verdicts.append(f"admin lists and searches at {largest:,} rows: slowest p95 {w['p95_ms']:.1f} ms, "
                    f"{w['query']} ({'held' if w['p95_ms'] < ADMIN_P95_MS else 'NOT held'}, "
                    f"target < {ADMIN_P95_MS:.0f} ms)")
    print("\n" + ";\n".join(verdicts) + ".")
    if not any(r["phase"].startswith(("refund-ref@", "bet-ref@")) for r in rows):
        print("\n(Runs one after another, each size against the small ledger measured minutes before: the"
              " machine's drift is in the ratio. `make bench-scale` pairs each run with a reference run.)")
    if largest < TEN_MILLION:
        guesses = []
        for m, name, unit in (("refund", "Refund", " x small"), ("bet", "Bet", " x small"),
                              ("admin", "slowest admin p95", " ms")):
            fit = _fit(curve[m])
            if fit:
                guesses.append(f"{name} {fit[0] + fit[1] * math.log10(TEN_MILLION):.2f}{unit}")
        if guesses:
            print(f"\nExtrapolated to {TEN_MILLION:,} rows (least squares, linear in log10 of the rows, "
                  f"from the {len(curve['refund'])} measured sizes): " + ", ".join(guesses) + ".")


def main(argv: list[str]) -> None:
    path = argv[-1]
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    if argv[0] == "--devices":
        devices(rows)
    elif argv[0] == "--scale":
        scale(rows)
    else:
        bench(rows)


if __name__ == "__main__":
    main(sys.argv[1:])

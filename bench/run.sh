#!/usr/bin/env bash
# The wallet's throughput and scale benchmark (bench/README.md). Not part of `make test`.
#   bench/run.sh            (or `make bench`)
# Starts its own PostgreSQL (durable defaults), runs pgbench's tpcb-like reference, then the
# wallet under gunicorn with config/gunicorn.conf.py and wrk, and writes everything to $BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
PY=${PY:-$ROOT/.venv/bin/python}
DURATION=${DURATION:-15}                 # seconds per wrk run
CONNECTIONS=${CONNECTIONS:-"8 32 64"}    # wrk connections, one Bet run and one Refund run each
WRK_THREADS=${WRK_THREADS:-2}
PLAYERS=${PLAYERS:-500}
SCALE_CONNECTIONS=${SCALE_CONNECTIONS:-32}
SCALE_DURATION=${SCALE_DURATION:-3}     # short enough not to run out of the ~10k ledger's bets (~3000 refunds/s)
SMALL_LEDGER=${SMALL_LEDGER:-10000}      # ledger rows before the small-scale refund run
FILL_ENTRIES=${FILL_ENTRIES:-1000000}    # ledger rows before the large-scale refund run
MAX_RPS=${MAX_RPS:-4000}                 # sizes the pre-created bets (MAX_RPS x seconds per run)
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-32}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
PG_SETTINGS=${PG_SETTINGS:-"-c shared_buffers=256MB -c max_connections=150"}
OUT=${BENCH_OUT:-$ROOT/var/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
log() { echo "[bench $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt" >&2; }

find_bin() {
  command -v "$1" 2>/dev/null && return
  local c; for c in /usr/lib/postgresql/*/bin/"$1"; do [ -x "$c" ] && { echo "$c"; return; }; done
  echo "bench: $1 not found" >&2; exit 2
}
INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl)
PGBENCH=$(command -v pgbench || find_bin pgbench)
command -v wrk >/dev/null || { echo "bench: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
# CPU spent by a set of processes, from /proc (utime + stime, in clock ticks).
TICK_MS=$((1000 / $(getconf CLK_TCK)))
ticks() {  # ticks PID... -> sum of utime+stime
  local t=0 p f
  for p in "$@"; do f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue; t=$((t + ${f% *} + ${f#* })); done
  echo "$t"
}
pids_of() {  # pids_of postgres|wallet: every PostgreSQL process, or the gunicorn workers
  if [ "$1" = postgres ]; then pgrep -P "$(head -1 "$PGDIR/data/postmaster.pid")"
  else pgrep -P "$GUNICORN_PID"; fi
}
snapshot() {  # snapshot GROUP: one "pid ticks" line per process
  local p; for p in $(pids_of "$1"); do echo "$p $(ticks "$p")"; done
}
delta_ms() {  # CPU ms between two snapshots; a process born in between counts whole, one that died is lost
  awk -v tick="$TICK_MS" 'NR == FNR { b[$1] = $2; next } { d += $2 - (($1 in b) ? b[$1] : 0) }
    END { print d * tick }' "$OUT/.cpu-$1-before" "$OUT/.cpu-$1-after"
}
died() {  # how many processes of GROUP ended during the window (their CPU is missing: figures too low)
  awk 'NR == FNR { a[$1] = 1; next } !($1 in a) { n++ } END { print n + 0 }' \
    "$OUT/.cpu-$1-after" "$OUT/.cpu-$1-before"
}
cpu_window() {  # cpu_window LOADPID SKIP SECONDS GROUP...: CPU ms of each GROUP over a window of a run
  local load=$1 skip=$2 secs=$3; shift 3
  [ "$secs" -ge 1 ] || secs=1
  sleep "$skip"
  local g
  for g in "$@"; do snapshot "$g" >"$OUT/.cpu-$g-before"; done
  sleep "$secs"
  for g in "$@"; do snapshot "$g" >"$OUT/.cpu-$g-after"; done
  CPU_SECONDS=$secs CPU_MS=$(delta_ms "$1")
  if [ $# -gt 1 ]; then CPU_MS2=$(delta_ms "$2"); fi
  CPU_DIED=$(died "$1")
  kill -0 "$load" 2>/dev/null || echo "bench: warning: the CPU window outlasted the run" >&2
}
run_pgbench() {  # run_pgbench LOG PGBENCH-ARGS...: the reference's clients and seconds, PostgreSQL's CPU
  # over the middle of the run; sets PGB_TPS, PGB_LAT (ms), PGB_TX (transactions), PGB_MS_PER_TX
  local log=$1; shift
  "$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U wallet -c "$PGBENCH_CLIENTS" -j 2 -T "$PGBENCH_SECONDS" "$@" >"$log" 2>&1 &
  local pid=$!
  cpu_window "$pid" 2 $((PGBENCH_SECONDS - 4)) postgres
  wait "$pid"
  PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -1)
  PGB_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$log" | head -1)
  PGB_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  PGB_MS_PER_TX=$("$PY" -c "print('%.3f' % ($CPU_MS / ($PGB_TPS * $CPU_SECONDS)))")
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- PostgreSQL, durable defaults
PGPORT=$(free_port); PGDIR=$(mktemp -d /tmp/wallet-bench-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$PGDIR"; as_pg=(runuser -u postgres --)
fi
GUNICORN_PID=
cleanup() {
  [ -n "$GUNICORN_PID" ] && kill "$GUNICORN_PID" 2>/dev/null && wait "$GUNICORN_PID" 2>/dev/null
  "${as_pg[@]}" "$PG_CTL" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
  cp "$PGDIR/postgres.log" "$OUT/" 2>/dev/null || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT INT TERM
"${as_pg[@]}" "$INITDB" -D "$PGDIR/data" -U wallet --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log" 2>&1
# shellcheck disable=SC2086
"${as_pg[@]}" "$PG_CTL" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 60 \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 $PG_SETTINGS" start >/dev/null
PSQL=(psql -X -q -h 127.0.0.1 -p "$PGPORT" -U wallet)
"${PSQL[@]}" -d postgres -c 'CREATE DATABASE wallet' -c 'CREATE DATABASE pgbench'
"${PSQL[@]}" -d postgres -At -c "SELECT name || '=' || setting FROM pg_settings WHERE name IN
  ('server_version','fsync','synchronous_commit','full_page_writes','wal_sync_method','shared_buffers',
   'max_connections','commit_delay')" | tr '\n' ' ' | sed 's/^/postgres: /' | tee -a "$OUT/summary.txt"; echo
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- reference: pgbench tpcb-like
log "pgbench -i -s 10; pgbench -c $PGBENCH_CLIENTS -j 2 -T $PGBENCH_SECONDS"
"$PGBENCH" -h 127.0.0.1 -p "$PGPORT" -U wallet -i -s 10 -q pgbench >"$OUT/pgbench-init.log" 2>&1
run_pgbench "$OUT/pgbench.log" pgbench
echo "{\"phase\":\"pgbench\",\"clients\":$PGBENCH_CLIENTS,\"tps\":$PGB_TPS,\"latency_avg_ms\":$PGB_LAT,\"db_cpu_ms_per_tx\":$PGB_MS_PER_TX}" >>"$RESULTS"
log "pgbench tps=$PGB_TPS latency_avg=${PGB_LAT}ms"
"${PSQL[@]}" -d postgres -c 'DROP DATABASE pgbench'

# ---------------------------------------------------------------- the wallet
DB=postgresql://wallet@127.0.0.1:$PGPORT/wallet
export WALLET_DATABASE_URL=$DB
"$ROOT/.venv/bin/alembic" upgrade head >"$OUT/alembic.log" 2>&1
"$PY" bench/roundtrips.py "$DB" | tee "$OUT/roundtrips.txt"
"$PY" bench/seed.py "$DB" players "$PLAYERS"
"$PY" bench/seed.py "$DB" bets small 1 $((SMALL_LEDGER - $("$PY" bench/seed.py "$DB" count)))
# As pgbench does before its runs: vacuum what was just loaded, so that autovacuum does not do it
# (on the same two cores) during the measurement; and a checkpoint, so that the WAL the loading
# wrote does not start one in the middle of the next run.
vacuum() { "${PSQL[@]}" -d wallet -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null; }
vacuum

WALLET_PORT=$(free_port)
export WALLET_BIND=127.0.0.1:$WALLET_PORT WALLET_ACCESS_LOG=/dev/null
export PROMETHEUS_MULTIPROC_DIR=$OUT/prometheus
"$ROOT/.venv/bin/gunicorn" -c config/gunicorn.conf.py wsgi:app >"$OUT/wallet.log" 2>&1 &
GUNICORN_PID=$!
# Up when any path answers over HTTP (so that older revisions without /healthz can be benched too).
for _ in $(seq 150); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WALLET_PORT/healthz")" != 000 ] && break
  sleep 0.2
done
# Every worker up and its connections warmed (config/gunicorn.conf.py post_worker_init), so that
# the first run does not measure worker boots.
for _ in $(seq 150); do
  [ "$(grep -c 'database warm-up' "$OUT/wallet.log")" -ge "$(pgrep -c -P "$GUNICORN_PID")" ] && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$WALLET_PORT/readyz" || true; echo
log "wallet: gunicorn pid $GUNICORN_PID workers=${WEB_CONCURRENCY:-default} threads=${WALLET_THREADS:-default} pool=${WALLET_DB_POOL_SIZE:-default}"

export BENCH_DIR=$ROOT/bench BENCH_PLAYERS=$PLAYERS BENCH_THREADS=$WRK_THREADS BENCH_RESULT=$OUT/wrk.jsonl
run_wrk() {  # phase script connections seconds [extra env...]
  local phase=$1 script=$2 conns=$3 secs=$4; shift 4
  : >"$BENCH_RESULT"
  env BENCH_RUN="$phase-c$conns-$$" "$@" \
    wrk -t "$WRK_THREADS" -c "$conns" -d "${secs}s" --timeout 10s -s "bench/$script" \
    "http://127.0.0.1:$WALLET_PORT" >>"$OUT/wrk.log" 2>&1 &
  local wrk_pid=$!
  cpu_window "$wrk_pid" 1 $((secs - 2)) wallet postgres
  wait "$wrk_pid"
  local line rps; line=$(tail -1 "$BENCH_RESULT")
  rps=$(echo "$line" | sed 's/.*"rps":\([0-9.]*\).*/\1/')
  local cpu; cpu=$("$PY" -c "n = max(1.0, $rps * $CPU_SECONDS)
print('\"app_cpu_ms_per_req\":%.3f,\"db_cpu_ms_per_req\":%.3f,\"workers_recycled\":$CPU_DIED'
      % ($CPU_MS / n, $CPU_MS2 / n))")
  echo "{\"phase\":\"$phase\",\"connections\":$conns,\"ledger_rows_before\":$LEDGER,$cpu,${line#\{}" >>"$RESULTS"
  log "$phase c=$conns ledger=$LEDGER: $line"
  MOST_PER_THREAD=$(echo "$line" | sed 's/.*"most_per_thread":\([0-9]*\).*/\1/')
}

# Small ledger first: refunds with the ledger at ~SMALL_LEDGER rows.
LEDGER=$("$PY" bench/seed.py "$DB" count)
run_wrk refund-small refund.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION" BENCH_BETS=small BENCH_START=1

for c in $CONNECTIONS; do
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  run_wrk bet bet.lua "$c" "$DURATION"
done

START=1
"$PY" bench/seed.py "$DB" bets main 1 $((MAX_RPS * DURATION * $(echo "$CONNECTIONS" | wc -w)))
vacuum
for c in $CONNECTIONS; do
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  run_wrk refund refund.lua "$c" "$DURATION" BENCH_BETS=main BENCH_START=$START
  # Thread t took bets START + t + WRK_THREADS * k, k < its request count (in flight included),
  # and threads do not go equally fast: the next run starts past the busiest one.
  START=$((START + WRK_THREADS * (MOST_PER_THREAD + 1)))
done

# Large ledger: the same refund run with the ledger filled to FILL_ENTRIES rows.
log "filling the ledger to $FILL_ENTRIES rows"
"$PY" bench/seed.py "$DB" fill "$FILL_ENTRIES"
"$PY" bench/seed.py "$DB" bets large 1 $((MAX_RPS * SCALE_DURATION))
vacuum
LEDGER=$("$PY" bench/seed.py "$DB" count)
run_wrk refund-large refund.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION" BENCH_BETS=large BENCH_START=1

curl -fs "http://127.0.0.1:$WALLET_PORT/metrics" >"$OUT/metrics.txt" || true
# Self-check: every Refund of the bench must have found its own, not yet refunded, bet.
metric() { sed -n "s/^$1 //p" "$OUT/metrics.txt" | cut -d. -f1; }
ANSWERED=$(metric 'wallet_callbacks_total{error="0",method="Refund"}')
APPLIED=$(metric 'wallet_refunds_total{outcome="applied"}')
WITHOUT=$(metric 'wallet_refunds_total{outcome="recorded_without_bet"}')
log "metrics: Refund answered 0: ${ANSWERED:-0}, applied ${APPLIED:-0}, recorded without bet ${WITHOUT:-0};\
 retransmissions (must be 0): $(( ${ANSWERED:-0} - ${APPLIED:-0} - ${WITHOUT:-0} ))"
kill "$GUNICORN_PID"; wait "$GUNICORN_PID" 2>/dev/null || true; GUNICORN_PID=

# The database alone: pgbench calls wallet_refund() itself (bench/refund.sql), with the same
# clients and seconds as the tpcb-like reference and the wallet stopped. Against the reference,
# what PostgreSQL on this box can do for Refund with no HTTP and no Python beside it.
ALONE_BETS=$((MAX_RPS * 3 * PGBENCH_SECONDS))  # pgbench runs ~2-3 x faster than the wallet here
"$PY" bench/seed.py "$DB" bets alone 1 "$ALONE_BETS"
vacuum
log "refund-db-alone: pgbench -M prepared -c $PGBENCH_CLIENTS -j 2 -T $PGBENCH_SECONDS -f bench/refund.sql"
run_pgbench "$OUT/pgbench-refund.log" -n -M prepared -f bench/refund.sql \
  -D k=0 -D clients="$PGBENCH_CLIENTS" -D players="$PLAYERS" -D prefix=alone -D run=db-$$ wallet
# Self-check: each transaction refunded its own bet, once, for its whole amount.
ALONE_APPLIED=$("${PSQL[@]}" -d wallet -At -c "SELECT count(*) FILTER (WHERE amount = 100), count(*)
  FROM transactions WHERE kind = 'refund' AND reference LIKE 'alone-%'")
echo "{\"phase\":\"refund-db-alone\",\"clients\":$PGBENCH_CLIENTS,\"tps\":$PGB_TPS,\"latency_avg_ms\":$PGB_LAT,\"db_cpu_ms_per_tx\":$PGB_MS_PER_TX,\"transactions\":$PGB_TX,\"refunds_applied\":${ALONE_APPLIED%|*},\"refunds\":${ALONE_APPLIED#*|}}" >>"$RESULTS"
log "refund-db-alone tps=$PGB_TPS latency_avg=${PGB_LAT}ms; transactions $PGB_TX, refunds applied ${ALONE_APPLIED%|*} of ${ALONE_APPLIED#*|} (must be equal)"
[ "$ALONE_APPLIED" = "$PGB_TX|$PGB_TX" ] || echo "bench: warning: refund-db-alone did not refund one bet per transaction (bets ran out? raise MAX_RPS)" >&2

"$PY" bench/seed.py "$DB" reconcile | tee -a "$OUT/summary.txt"
"$PY" bench/report.py "$RESULTS" | tee "$OUT/report.md"
log "results in $OUT"

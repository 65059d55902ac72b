#!/usr/bin/env bash
# Benchmark of smartro-gateway against a throwaway PostgreSQL 15 cluster, in one run:
#   1. builds the release gateway and the load generator (crates/gateway/examples/loadgen.rs);
#   2. starts PostgreSQL with its default durability (fsync on, synchronous_commit on);
#   3. measures PostgreSQL's own one-row INSERT commit rate with pgbench at concurrency 16;
#   4. starts the gateway on that server and records its idle RSS;
#   5. creates orders through POST /v1/orders, then drives distinct signed approval informs at concurrency 16, two
#      ways: from an allow-listed notifier address (127.0.0.2, in smartro.notify_allow_cidrs: trusted as it is), and
#      from an ordinary address, each confirmed through the receipt data API of a smartro-sandbox that made the
#      transactions (POST /sandbox/transactions, before the clock starts);
#   6. drives GET /v1/checkout/{id}?t=... (the signed form as JSON) at concurrency 64;
#   7. prints a summary against the targets.
# Everything it starts is stopped, and its temp dir removed, on exit (also on failure or Ctrl-C).
#
# The load generator, the gateway and PostgreSQL share the machine's cores: the CPU each used is printed per phase.
#
# Environment knobs (defaults in brackets):
#   BENCH_PGBENCH_SECS [15]  BENCH_INFORM_SECS [15]  BENCH_RECEIPT_SECS [15]  BENCH_CHECKOUT_SECS [10]
#   BENCH_IDLE_SECS [5]
#   BENCH_INFORM_CONCURRENCY [16]  BENCH_CHECKOUT_CONCURRENCY [64]
#   BENCH_INFORM_ORDERS [auto: enough for the inform phase at pgbench's rate]  BENCH_CHECKOUT_ORDERS [1000]
#   BENCH_RECEIPT_ORDERS [auto: half of the informs']
#   BENCH_LOADGEN_THREADS [1]    worker threads of the load generator
#   BENCH_GATEWAY_POOL [unset]   database.max_connections of the gateway (unset: the shipped default)
#   BENCH_PROFILE [0]            1: perf-record gateway + PostgreSQL during the informs and the checkout phase, print
#                                the top symbols, and per-statement timings of the informs (pg_stat_statements)
#   PG_BINDIR [/usr/lib/postgresql/15/bin, else from PATH]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PGBENCH_SECS=${BENCH_PGBENCH_SECS:-15}
INFORM_SECS=${BENCH_INFORM_SECS:-15}
RECEIPT_SECS=${BENCH_RECEIPT_SECS:-15}
RECEIPT_ORDERS=${BENCH_RECEIPT_ORDERS:-auto}
CHECKOUT_SECS=${BENCH_CHECKOUT_SECS:-10}
IDLE_SECS=${BENCH_IDLE_SECS:-5}
INFORM_CONCURRENCY=${BENCH_INFORM_CONCURRENCY:-16}
CHECKOUT_CONCURRENCY=${BENCH_CHECKOUT_CONCURRENCY:-64}
INFORM_ORDERS=${BENCH_INFORM_ORDERS:-auto}
CHECKOUT_ORDERS=${BENCH_CHECKOUT_ORDERS:-1000}
LOADGEN_THREADS=${BENCH_LOADGEN_THREADS:-1}
GATEWAY_POOL=${BENCH_GATEWAY_POOL:-}
PROFILE=${BENCH_PROFILE:-0}

# Targets (issue 3).
TARGET_INFORM_SHARE=0.40   # inform rate >= 40 % of pgbench's single-insert commit rate
TARGET_INFORM_P99_MS=10
TARGET_CHECKOUT_RATE=20000
TARGET_IDLE_RSS_MIB=30

if [[ -n ${PG_BINDIR:-} ]]; then
    :
elif [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
    PG_BINDIR=/usr/lib/postgresql/15/bin
else
    PG_BINDIR=$(dirname "$(command -v postgres)")
fi
for tool in "$PG_BINDIR/initdb" "$PG_BINDIR/pg_ctl" "$PG_BINDIR/pgbench" "$PG_BINDIR/psql"; do
    [[ -x $tool ]] || { echo "bench: $tool not found (set PG_BINDIR)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "bench: curl is required" >&2; exit 2; }

log() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: whatever was started is stopped, the temp dir removed.
TMP=""
GW_PID=""
SB_PID=""
PERF_PID=""
PGDATA=""
cleanup() {
    local rc=$?
    set +e
    if [[ -n $PERF_PID ]] && kill -0 "$PERF_PID" 2>/dev/null; then
        kill -INT "$PERF_PID" 2>/dev/null
        wait "$PERF_PID" 2>/dev/null
    fi
    if [[ -n $GW_PID ]] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -TERM "$GW_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$GW_PID" 2>/dev/null && kill -KILL "$GW_PID" 2>/dev/null
        wait "$GW_PID" 2>/dev/null
    fi
    if [[ -n $SB_PID ]] && kill -0 "$SB_PID" 2>/dev/null; then
        kill -TERM "$SB_PID" 2>/dev/null
        wait "$SB_PID" 2>/dev/null
    fi
    if [[ -n $PGDATA && -f $PGDATA/postmaster.pid ]]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1
        if [[ -f $PGDATA/postmaster.pid ]]; then
            kill -QUIT "$(head -n 1 "$PGDATA/postmaster.pid")" 2>/dev/null
        fi
    fi
    if [[ -n $TMP && -d $TMP ]]; then
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# initdb and postgres refuse to run as root: run them as the postgres OS user then.
if [[ $EUID -eq 0 ]]; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "bench: no free port found" >&2
    return 1
}

# Reads key=value from a loadgen RESULT line.
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' <<<"$2"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
is_true() { awk "BEGIN { exit !($1) }"; }

# ---------------------------------------------------------------------------------------------------------------
# CPU accounting, so that the contention between loadgen, gateway and PostgreSQL shows in the output.
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)

# utime+stime (and with "children", cutime+cstime of reaped children) of one process, in ticks.
proc_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # Fields after "pid (comm) ": state is $1, so utime=$12 stime=$13 cutime=$14 cstime=$15.
    awk -v children="${2:-}" '{ t = $12 + $13; if (children != "") t += $14 + $15; print t }' <<<"${stat##*) }"
}
gateway_ticks() { proc_ticks "$GW_PID"; }
sandbox_ticks() { if [[ -n $SB_PID ]]; then proc_ticks "$SB_PID"; else echo 0; fi; }
# The postmaster (with its reaped backends) plus every live backend.
pg_ticks() {
    local pm total child
    pm=$(head -n 1 "$PGDATA/postmaster.pid")
    total=$(proc_ticks "$pm" children)
    for child in $(pgrep -P "$pm"); do
        total=$((total + $(proc_ticks "$child")))
    done
    echo "$total"
}
# busy and total jiffies of the whole machine.
machine_ticks() { awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat; }

# This script's reaped children: pgbench or the loadgen (plus a little psql/awk).
client_ticks() { proc_ticks $$ children; }

phase_start() {
    P_GW=$( [[ -n $GW_PID ]] && gateway_ticks || echo 0 )
    P_PG=$(pg_ticks)
    P_SB=$(sandbox_ticks)
    P_CL=$(client_ticks)
    read -r P_BUSY P_ALL < <(machine_ticks)
    P_WALL=$(date +%s.%N)
}
# Prints the cores used by each party during the phase (sets LAST_CPU for the summary). "other" is whatever else
# ran on the machine meanwhile (busy time not accounted to gateway, PostgreSQL or the client): on a shared machine
# it says how much the figures were disturbed.
phase_end() {
    local label=$1 client=$2 gw pg sb cl busy all wall
    gw=$( [[ -n $GW_PID ]] && gateway_ticks || echo 0 )
    pg=$(pg_ticks)
    sb=$(sandbox_ticks)
    cl=$(client_ticks)
    read -r busy all < <(machine_ticks)
    wall=$(calc "$(date +%s.%N) - $P_WALL" 3)
    local gw_cores pg_cores sb_cores cl_cores busy_cores other_cores
    gw_cores=$(calc "($gw - $P_GW) / $CLK_TCK / $wall" 2)
    pg_cores=$(calc "($pg - $P_PG) / $CLK_TCK / $wall" 2)
    sb_cores=$(calc "($sb - $P_SB) / $CLK_TCK / $wall" 2)
    cl_cores=$(calc "($cl - $P_CL) / $CLK_TCK / $wall" 2)
    # /proc/stat counts all CPUs together, in ticks.
    busy_cores=$(calc "$NCPU * ($busy - $P_BUSY) / (($all - $P_ALL) > 0 ? ($all - $P_ALL) : 1)" 2)
    other_cores=$(calc "$busy_cores - $gw_cores - $pg_cores - $sb_cores - $cl_cores" 2)
    LAST_CPU="gateway ${gw_cores}, postgres ${pg_cores}, sandbox ${sb_cores}, $client ${cl_cores}, other ${other_cores} = ${busy_cores} of ${NCPU} cores busy"
    echo "   CPU during $label (${wall} s): $LAST_CPU" >&2
}

# With BENCH_PROFILE=1: perf-record the gateway and every PostgreSQL process during a phase.
profile_start() {
    [[ $PROFILE == 1 ]] || return 0
    command -v perf >/dev/null || { echo "   perf not found: no profile" >&2; return 0; }
    local pm child pids
    pm=$(head -n 1 "$PGDATA/postmaster.pid")
    pids=$GW_PID,$pm
    for child in $(pgrep -P "$pm"); do pids+=",$child"; done
    perf record -F 999 -g -o "$TMP/perf.data" -p "$pids" >"$TMP/perf.log" 2>&1 &
    PERF_PID=$!
}
profile_stop() {
    [[ -n $PERF_PID ]] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    echo "   profile of gateway + PostgreSQL during $1 (perf, self time), by process and object:" >&2
    perf report -i "$TMP/perf.data" --no-children --sort comm,dso --stdio 2>/dev/null \
        | grep -E '^ +[0-9]' | head -n 8 >&2 || true
    echo "   top symbols:" >&2
    perf report -i "$TMP/perf.data" --no-children --sort comm,dso,symbol --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9]' | head -n 30 | cut -c1-160 >&2 || true
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---------------------------------------------------------------------------------------------------------------
log "1. building release binaries"
(cd "$ROOT" && cargo build --release -p smartro-gateway --bin smartro-gateway --example loadgen \
    -p smartro-sandbox --bin smartro-sandbox)
GW_BIN=$TARGET_DIR/release/smartro-gateway
SB_BIN=$TARGET_DIR/release/smartro-sandbox
LOADGEN=$TARGET_DIR/release/examples/loadgen
[[ -x $GW_BIN && -x $SB_BIN && -x $LOADGEN ]] \
    || { echo "bench: release binaries not found under $TARGET_DIR" >&2; exit 2; }

log "2. starting a throwaway PostgreSQL"
TMP=$(mktemp -d /tmp/smartro-bench.XXXXXX)
chmod 0755 "$TMP"
PGDATA=$TMP/pg
SOCKDIR=$TMP/sock
mkdir -p "$PGDATA" "$SOCKDIR"
if [[ $EUID -eq 0 ]]; then
    chown postgres: "$PGDATA" "$SOCKDIR"
fi
chmod 0700 "$PGDATA"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --auth=trust --no-locale -E UTF8 >"$TMP/initdb.log" 2>&1 \
    || { cat "$TMP/initdb.log" >&2; exit 1; }
PGPORT=$(free_port)
# Durability is left at PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on).
PG_OPTS="-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$SOCKDIR -c max_connections=200"
if [[ $PROFILE == 1 ]]; then
    # Per-statement timings of the informs; costs a little CPU, so only when profiling.
    PG_OPTS+=" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
fi
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 -o "$PG_OPTS" \
    start >/dev/null \
    || { cat "$PGDATA/server.log" >&2; exit 1; }
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
psql_q() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
PG_VERSION=$(psql_q -d postgres -c "SHOW server_version")
PG_SETTINGS=$(psql_q -d postgres -F ' ' -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
    WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'max_connections', 'shared_buffers')")
FS_TYPE=$(df -T "$PGDATA" | awk 'NR == 2 { print $2 }')
echo "   PostgreSQL $PG_VERSION on 127.0.0.1:$PGPORT, data on $FS_TYPE: $PG_SETTINGS" >&2
psql_q -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE gateway"

log "3. pgbench: one-row INSERT commit rate, concurrency 16, ${PGBENCH_SECS} s"
psql_q -d bench -c "CREATE TABLE bench_notifications (
    id bigserial PRIMARY KEY, source text NOT NULL, received_at timestamptz NOT NULL, body bytea NOT NULL,
    headers jsonb NOT NULL, remote_addr text, outcome text NOT NULL DEFAULT 'received')"
# About the size of a real inform: ~600 bytes of form body and a small JSON of headers.
cat >"$TMP/insert.sql" <<'SQL'
INSERT INTO bench_notifications (source, received_at, body, headers, remote_addr)
VALUES ('inform', now(), convert_to(repeat('PayMethod=CARD&MID=SMTPAY001m&Amt=1000&', 15), 'UTF8'),
        '{"host": "127.0.0.1", "content-type": "application/x-www-form-urlencoded", "content-length": "600"}',
        '127.0.0.1');
SQL
phase_start
"$PG_BINDIR/pgbench" -n -c 16 -j 2 -T "$PGBENCH_SECS" -f "$TMP/insert.sql" bench >"$TMP/pgbench.log" 2>&1 \
    || { cat "$TMP/pgbench.log" >&2; exit 1; }
phase_end pgbench pgbench
PGBENCH_CPU=$LAST_CPU
PGBENCH_TPS=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.log")
PGBENCH_LAT=$(awk '/^latency average = / { print $4; exit }' "$TMP/pgbench.log")
[[ -n $PGBENCH_TPS ]] || { cat "$TMP/pgbench.log" >&2; exit 1; }
echo "   pgbench: $PGBENCH_TPS tps, latency average $PGBENCH_LAT ms" >&2

log "4. starting the sandbox (receipt data API) and the gateway"
SB_PORT=$(free_port)
SANDBOX=http://127.0.0.1:$SB_PORT
RUST_LOG=warn "$SB_BIN" --bind "127.0.0.1:$SB_PORT" >"$TMP/sandbox.log" 2>&1 &
SB_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$SANDBOX/sandbox/faults" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$SANDBOX/sandbox/faults" >/dev/null || { echo "bench: sandbox not up" >&2; cat "$TMP/sandbox.log" >&2; exit 1; }
GW_PORT=$(free_port)
BASE=http://127.0.0.1:$GW_PORT
NOTIFIER_IP=127.0.0.2
gateway_env=(
    "GATEWAY__DATABASE__URL=postgres://postgres@127.0.0.1:$PGPORT/gateway"
    "GATEWAY__SERVER__BIND=127.0.0.1:$GW_PORT"
    "GATEWAY__SERVER__PUBLIC_URL=$BASE"
    "GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS=$NOTIFIER_IP/32"
    "GATEWAY__SMARTRO__RECEIPT_API_URL=$SANDBOX/receipt"
    "RUST_LOG=warn"
)
if [[ -n $GATEWAY_POOL ]]; then
    gateway_env+=("GATEWAY__DATABASE__MAX_CONNECTIONS=$GATEWAY_POOL")
fi
# Run from the temp dir, so no config/default.toml of a working directory is picked up: compiled-in defaults only.
(cd "$TMP" && exec env -u GATEWAY_CONFIG -u DATABASE_URL "${gateway_env[@]}" "$GW_BIN" serve) >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for _ in $(seq 1 300); do
    if ! kill -0 "$GW_PID" 2>/dev/null; then
        echo "bench: the gateway exited:" >&2
        cat "$TMP/gateway.log" >&2
        exit 1
    fi
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null || { echo "bench: gateway not ready" >&2; cat "$TMP/gateway.log" >&2; exit 1; }
if [[ -n $GATEWAY_POOL ]]; then
    POOL_SHOWN=$GATEWAY_POOL
else
    POOL_SHOWN="$(cd "$TMP" && env -u GATEWAY_CONFIG "$GW_BIN" check-config 2>/dev/null \
        | awk -F' = ' '/^\[/ { section = $0 } section == "[database]" && /^max_connections/ { print $2 }') (shipped default)"
fi
echo "   gateway pid $GW_PID on $BASE, database pool $POOL_SHOWN" >&2
sleep "$IDLE_SECS"
RSS_IDLE=$(rss_kib "$GW_PID")
echo "   idle RSS after ${IDLE_SECS} s: $RSS_IDLE KiB" >&2

log "5. creating orders through POST /v1/orders"
if [[ $INFORM_ORDERS == auto ]]; then
    # Each inform commits twice, so 60 % of pgbench's rate is already well past the target; should the informs
    # run out before the time is up, the rate is still measured over the time they took (and the run says so).
    INFORM_ORDERS=$(awk -v tps="$PGBENCH_TPS" -v s="$INFORM_SECS" \
        'BEGIN { n = int(tps * s * 0.6); if (n < 2000) n = 2000; if (n > 300000) n = 300000; print n }')
fi
if [[ $RECEIPT_ORDERS == auto ]]; then
    RECEIPT_ORDERS=$(awk -v n="$INFORM_ORDERS" -v a="$INFORM_SECS" -v b="$RECEIPT_SECS" \
        'BEGIN { m = int(n * b / a / 2); if (m < 1000) m = 1000; print m }')
fi
phase_start
ORDERS_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" orders --count "$INFORM_ORDERS" \
    --concurrency 16 --prefix BENCHINF --out "$TMP/inform-orders.tsv")
phase_end "order creation" loadgen
"$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" orders --count "$CHECKOUT_ORDERS" \
    --concurrency 16 --prefix BENCHCHK --out "$TMP/checkout-orders.tsv" >/dev/null
"$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" orders --count "$RECEIPT_ORDERS" \
    --concurrency 16 --prefix BENCHRCP --out "$TMP/receipt-orders.tsv" >/dev/null

log "5a. informs from the allow-listed notifier ($NOTIFIER_IP): distinct signed approvals, concurrency $INFORM_CONCURRENCY, ${INFORM_SECS} s"
db_counters() {
    psql_q -d postgres -F ' ' -c "SELECT pg_stat_force_next_flush()" -c "SELECT xact_commit, sessions,
        tup_inserted + tup_updated FROM pg_stat_database WHERE datname = 'gateway'" | tail -n 1
}
if [[ $PROFILE == 1 ]]; then
    psql_q -d gateway -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
sleep 1
read -r DB_COMMITS0 DB_SESSIONS0 DB_WRITES0 < <(db_counters)
profile_start
phase_start
INFORM_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" inform --orders "$TMP/inform-orders.tsv" \
    --concurrency "$INFORM_CONCURRENCY" --duration-secs "$INFORM_SECS" --source-ip "$NOTIFIER_IP")
phase_end informs loadgen
INFORM_CPU=$LAST_CPU
profile_stop informs
sleep 1
read -r DB_COMMITS1 DB_SESSIONS1 DB_WRITES1 < <(db_counters)
INF_REQS_DONE=$(field requests "$INFORM_OUT")
DB_PER_INFORM="$(calc "($DB_COMMITS1 - $DB_COMMITS0) / ($INF_REQS_DONE > 0 ? $INF_REQS_DONE : 1)" 2) commits and \
$(calc "($DB_WRITES1 - $DB_WRITES0) / ($INF_REQS_DONE > 0 ? $INF_REQS_DONE : 1)" 1) row writes per inform, \
$((DB_SESSIONS1 - DB_SESSIONS0)) new sessions"
echo "   database work: $DB_PER_INFORM" >&2
if [[ $PROFILE == 1 ]]; then
    echo "   statements during informs (pg_stat_statements, by total time):" >&2
    psql_q -d gateway -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 0) AS ms,
        round((total_exec_time / calls * 1000)::numeric, 0) AS us_per_call, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
        FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 20" >&2
fi
# Cross-check in the database: every acknowledged inform must have become exactly one payment.
PAID=$(psql_q -d gateway -c "SELECT count(*) FROM payments WHERE success")
APPLIED=$(psql_q -d gateway -c "SELECT count(*) FROM notifications WHERE outcome = 'applied'")
echo "   database: $PAID successful payments, $APPLIED notifications applied" >&2
RSS_AFTER_INFORM=$(rss_kib "$GW_PID")

log "5b. informs confirmed through the sandbox's receipt API: concurrency $INFORM_CONCURRENCY, ${RECEIPT_SECS} s"
# The sandbox pays these orders first (not timed); then every inform costs the gateway one receipt lookup.
"$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" sandbox-pay --orders "$TMP/receipt-orders.tsv" \
    --sandbox "$SANDBOX" --out "$TMP/receipt-paid.tsv"
read -r DB_COMMITS0 DB_SESSIONS0 DB_WRITES0 < <(db_counters)
phase_start
RECEIPT_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" inform --orders "$TMP/receipt-paid.tsv" \
    --concurrency "$INFORM_CONCURRENCY" --duration-secs "$RECEIPT_SECS")
phase_end "receipt-confirmed informs" loadgen
RECEIPT_CPU=$LAST_CPU
sleep 1
read -r DB_COMMITS1 DB_SESSIONS1 DB_WRITES1 < <(db_counters)
RCP_REQS_DONE=$(field requests "$RECEIPT_OUT")
DB_PER_RECEIPT="$(calc "($DB_COMMITS1 - $DB_COMMITS0) / ($RCP_REQS_DONE > 0 ? $RCP_REQS_DONE : 1)" 2) commits and \
$(calc "($DB_WRITES1 - $DB_WRITES0) / ($RCP_REQS_DONE > 0 ? $RCP_REQS_DONE : 1)" 1) row writes per inform"
CONFIRMED_BY_RECEIPT=$(psql_q -d gateway -c "SELECT count(*) FROM notifications WHERE confirmed_by = 'receipt_api'")
echo "   database work: $DB_PER_RECEIPT; $CONFIRMED_BY_RECEIPT results confirmed by the receipt API" >&2

log "6. checkout JSON: GET /v1/checkout/{id}?t=..., concurrency $CHECKOUT_CONCURRENCY, ${CHECKOUT_SECS} s"
profile_start
phase_start
CHECKOUT_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" checkout \
    --orders "$TMP/checkout-orders.tsv" --concurrency "$CHECKOUT_CONCURRENCY" --duration-secs "$CHECKOUT_SECS")
phase_end checkout loadgen
CHECKOUT_CPU=$LAST_CPU
profile_stop checkout

log "7. RSS"
sleep 1
RSS_AFTER=$(rss_kib "$GW_PID")
echo "   after informs $RSS_AFTER_INFORM KiB, after checkout $RSS_AFTER KiB" >&2

# ---------------------------------------------------------------------------------------------------------------
INF_OK_RATE=$(field ok_rate "$INFORM_OUT")
INF_REQS=$(field requests "$INFORM_OUT")
INF_ERRORS=$(field errors "$INFORM_OUT")
INF_P50=$(field p50_ms "$INFORM_OUT")
INF_P90=$(field p90_ms "$INFORM_OUT")
INF_P99=$(field p99_ms "$INFORM_OUT")
INF_MAX=$(field max_ms "$INFORM_OUT")
INF_EXHAUSTED=$(field exhausted "$INFORM_OUT")
CHK_OK_RATE=$(field ok_rate "$CHECKOUT_OUT")
CHK_REQS=$(field requests "$CHECKOUT_OUT")
CHK_ERRORS=$(field errors "$CHECKOUT_OUT")
CHK_P50=$(field p50_ms "$CHECKOUT_OUT")
CHK_P99=$(field p99_ms "$CHECKOUT_OUT")
CHK_MAX=$(field max_ms "$CHECKOUT_OUT")
RCP_OK_RATE=$(field ok_rate "$RECEIPT_OUT")
RCP_REQS=$(field requests "$RECEIPT_OUT")
RCP_ERRORS=$(field errors "$RECEIPT_OUT")
RCP_P50=$(field p50_ms "$RECEIPT_OUT")
RCP_P99=$(field p99_ms "$RECEIPT_OUT")
RCP_EXHAUSTED=$(field exhausted "$RECEIPT_OUT")
RCP_SHARE=$(calc "100 * $RCP_OK_RATE / $PGBENCH_TPS" 1)
ORD_RATE=$(field ok_rate "$ORDERS_OUT")
ORD_P99=$(field p99_ms "$ORDERS_OUT")

INF_SHARE=$(calc "100 * $INF_OK_RATE / $PGBENCH_TPS" 1)
INF_NEEDED=$(calc "$TARGET_INFORM_SHARE * $PGBENCH_TPS" 0)
RSS_IDLE_MIB=$(calc "$RSS_IDLE / 1024" 1)
RSS_AFTER_MIB=$(calc "$RSS_AFTER / 1024" 1)
verdict() { if is_true "$1"; then echo "met"; else echo "NOT MET"; fi; }
V_RATE=$(verdict "$INF_OK_RATE >= $TARGET_INFORM_SHARE * $PGBENCH_TPS")
V_P99=$(verdict "$INF_P99 <= $TARGET_INFORM_P99_MS")
V_CHK=$(verdict "$CHK_OK_RATE >= $TARGET_CHECKOUT_RATE")
V_RSS=$(verdict "$RSS_IDLE <= $TARGET_IDLE_RSS_MIB * 1024")

cat <<EOF

==================================================================================================================
smartro-gateway benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))
PostgreSQL $PG_VERSION, data on $FS_TYPE: $PG_SETTINGS
gateway database pool: $POOL_SHOWN; loadgen threads: $LOADGEN_THREADS

pgbench  1-row INSERT, c=16      : $PGBENCH_TPS tps, latency avg $PGBENCH_LAT ms
                                   CPU: $PGBENCH_CPU
orders   POST /v1/orders, c=16   : $ORD_RATE req/s, p99 $ORD_P99 ms ($INFORM_ORDERS + $CHECKOUT_ORDERS created)
informs  allow-listed, c=$INFORM_CONCURRENCY      : $INF_OK_RATE OK/s ($INF_REQS requests, $INF_ERRORS errors$( [[ $INF_EXHAUSTED == 1 ]] && echo ", RAN OUT OF ORDERS" || true ))
                                   latency ms p50 $INF_P50  p90 $INF_P90  p99 $INF_P99  max $INF_MAX
                                   database: $PAID payments, $APPLIED applied notifications; $DB_PER_INFORM
                                   CPU: $INFORM_CPU
informs  receipt-confirmed, c=$INFORM_CONCURRENCY : $RCP_OK_RATE OK/s = $RCP_SHARE % of pgbench ($RCP_REQS requests, $RCP_ERRORS errors$( [[ $RCP_EXHAUSTED == 1 ]] && echo ", RAN OUT OF ORDERS" || true ))
                                   latency ms p50 $RCP_P50  p99 $RCP_P99; $DB_PER_RECEIPT
                                   CPU: $RECEIPT_CPU
checkout GET /v1/checkout, c=$CHECKOUT_CONCURRENCY  : $CHK_OK_RATE OK/s ($CHK_REQS requests, $CHK_ERRORS errors)
                                   latency ms p50 $CHK_P50  p99 $CHK_P99  max $CHK_MAX
                                   CPU: $CHECKOUT_CPU
gateway RSS                      : idle $RSS_IDLE_MIB MiB, after informs $(calc "$RSS_AFTER_INFORM / 1024" 1) MiB, after all load $RSS_AFTER_MIB MiB
EOF
row() { printf '%-34s %-54s %s\n' "$@"; }
row "target" "measured" "result"
row "inform rate >= 40 % of pgbench" "$INF_OK_RATE/s = $INF_SHARE % of $PGBENCH_TPS (need $INF_NEEDED/s)" "$V_RATE"
row "inform p99 <= $TARGET_INFORM_P99_MS ms" "$INF_P99 ms" "$V_P99"
row "checkout JSON >= $TARGET_CHECKOUT_RATE req/s" "$CHK_OK_RATE req/s" "$V_CHK"
row "idle RSS <= $TARGET_IDLE_RSS_MIB MiB" "$RSS_IDLE_MIB MiB ($RSS_IDLE KiB)" "$V_RSS"
echo "=================================================================================================================="

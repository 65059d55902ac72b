#!/usr/bin/env bash
# Benchmark of smartro-gateway against a throwaway PostgreSQL 15 cluster, in ONE run (issue 12):
#   1. builds the release gateway and the load generator (crates/gateway/examples/loadgen.rs);
#   2. starts PostgreSQL with its default durability (fsync on, synchronous_commit on);
#   3. measures PostgreSQL's own rates with pgbench (prepared statements, as the gateway uses): a one-row INSERT
#      commit at concurrency 16, and a primary-key SELECT at the checkout's concurrency;
#   4. starts the gateway on that server and records its idle RSS;
#   5. order creation: POST /v1/orders with an Idempotency-Key each, concurrency 16;
#   6. informs at a small database: orders pre-filled with SQL, then distinct signed approval informs from the
#      allow-listed notifier address (127.0.0.2, in smartro.notify_allow_cidrs) at concurrency 16;
#   7. the floor: the gateway's own inform write set (the same statements, same transaction, groups of the size the
#      gateway formed) as a pgbench script;
#   8. informs confirmed through a smartro-sandbox's receipt data API (from an ordinary address);
#   9. checkout JSON: GET /v1/checkout/{id}?t=... at concurrency 64;
#  10. the database grown to BENCH_GROW_TO orders (INSERT ... SELECT generate_series), then informs again: the
#      cost per inform (gateway + PostgreSQL CPU, commits, row writes) at both sizes;
#  11. a summary with the ratios against the targets, PASS or FAIL each.
# Everything it starts is stopped, and its temp dir removed, on exit (also on failure or Ctrl-C).
#
# The load generator, the gateway and PostgreSQL share the machine's cores: the CPU each used is printed per phase,
# and the load generator's share of the busy CPU is in the summary.
#
# Environment knobs (defaults in brackets):
#   BENCH_PGBENCH_SECS [15]  BENCH_INFORM_SECS [15]  BENCH_RECEIPT_SECS [10]  BENCH_CHECKOUT_SECS [10]
#   BENCH_FLOOR_SECS [same as BENCH_INFORM_SECS]   BENCH_IDLE_SECS [5]
#   BENCH_INFORM_CONCURRENCY [16]  BENCH_CHECKOUT_CONCURRENCY [64]
#   BENCH_ORDERS [auto: about 3 s of pgbench's INSERT rate]   orders created through the API
#   BENCH_SMALL_ORDERS [10000]   orders in the database before the first inform phase (besides its own)
#   BENCH_GROW_TO [1000000]      orders in the database before the last inform phase
#   BENCH_INFORM_ORDERS [auto: enough for an inform phase at half pgbench's rate]
#   BENCH_CHECKOUT_ORDERS [1000]  BENCH_RECEIPT_ORDERS [auto]
#   BENCH_LOADGEN_THREADS [1]    worker threads of the load generator
#   BENCH_GATEWAY_POOL [unset]   database.max_connections of the gateway (unset: the shipped default)
#   BENCH_PROFILE [0]            1: perf-record gateway + PostgreSQL during the first informs and the checkout phase,
#                                print the top symbols, and per-statement timings and calls per inform
#                                (pg_stat_statements)
#   BENCH_SHARED_BUFFERS [512MB] PostgreSQL's shared_buffers
#   BENCH_BIN_DIR [unset]        take smartro-gateway, smartro-sandbox and loadgen from this directory, not a build
#   PG_BINDIR [/usr/lib/postgresql/15/bin, else from PATH]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PGBENCH_SECS=${BENCH_PGBENCH_SECS:-15}
INFORM_SECS=${BENCH_INFORM_SECS:-15}
FLOOR_SECS=${BENCH_FLOOR_SECS:-$INFORM_SECS}
RECEIPT_SECS=${BENCH_RECEIPT_SECS:-10}
RECEIPT_ORDERS=${BENCH_RECEIPT_ORDERS:-auto}
CHECKOUT_SECS=${BENCH_CHECKOUT_SECS:-10}
IDLE_SECS=${BENCH_IDLE_SECS:-5}
INFORM_CONCURRENCY=${BENCH_INFORM_CONCURRENCY:-16}
CHECKOUT_CONCURRENCY=${BENCH_CHECKOUT_CONCURRENCY:-64}
ORDERS=${BENCH_ORDERS:-auto}
SMALL_ORDERS=${BENCH_SMALL_ORDERS:-10000}
GROW_TO=${BENCH_GROW_TO:-1000000}
INFORM_ORDERS=${BENCH_INFORM_ORDERS:-auto}
CHECKOUT_ORDERS=${BENCH_CHECKOUT_ORDERS:-1000}
LOADGEN_THREADS=${BENCH_LOADGEN_THREADS:-1}
GATEWAY_POOL=${BENCH_GATEWAY_POOL:-}
PROFILE=${BENCH_PROFILE:-0}

# Targets (issue 12), each a ratio to what PostgreSQL itself does on the same machine in the same run.
TARGET_INFORM_SHARE=0.25     # informs >= 25 % of pgbench's one-row INSERT commit rate at concurrency 16
TARGET_INFORM_P99_MS=15
TARGET_CHECKOUT_SHARE=0.50   # checkout JSON >= 50 % of pgbench's primary-key SELECT rate at the same concurrency
TARGET_ORDER_SHARE=0.30      # order creation >= 30 % of the one-row INSERT rate
TARGET_IDLE_RSS_MIB=30
TARGET_FLAT=1.25             # cost per inform at BENCH_GROW_TO orders <= 1.25 x the cost at the small database

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
    # CPU seconds of the gateway plus PostgreSQL (the cost of the work measured), and the client's share of the
    # machine's busy time.
    LAST_SERVER_CPU_S=$(calc "($gw - $P_GW + $pg - $P_PG) / $CLK_TCK" 3)
    LAST_CLIENT_SHARE=$(calc "100 * $cl_cores / ($busy_cores > 0 ? $busy_cores : 1)" 0)
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
if [[ -n ${BENCH_BIN_DIR:-} ]]; then
    log "1. using the binaries in $BENCH_BIN_DIR"
    GW_BIN=$BENCH_BIN_DIR/smartro-gateway
    SB_BIN=$BENCH_BIN_DIR/smartro-sandbox
    LOADGEN=$BENCH_BIN_DIR/loadgen
else
    log "1. building release binaries"
    (cd "$ROOT" && cargo build --release -p smartro-gateway --bin smartro-gateway --example loadgen \
        -p smartro-sandbox --bin smartro-sandbox)
    GW_BIN=$TARGET_DIR/release/smartro-gateway
    SB_BIN=$TARGET_DIR/release/smartro-sandbox
    LOADGEN=$TARGET_DIR/release/examples/loadgen
fi
[[ -x $GW_BIN && -x $SB_BIN && -x $LOADGEN ]] \
    || { echo "bench: release binaries not found (under $TARGET_DIR, or BENCH_BIN_DIR)" >&2; exit 2; }

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
# Durability is left at PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on). shared_buffers is
# raised from the 128 MB default to BENCH_SHARED_BUFFERS [512MB] (for every phase, pgbench's too), so that the grown
# database of step 10 is not measured through a buffer cache sized for a laptop.
PG_OPTS="-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$SOCKDIR -c max_connections=200"
PG_OPTS+=" -c shared_buffers=${BENCH_SHARED_BUFFERS:-512MB}"
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

log "3a. pgbench: one-row INSERT commit rate, concurrency 16, ${PGBENCH_SECS} s"
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
psql_q -d postgres -c "CHECKPOINT"
phase_start
"$PG_BINDIR/pgbench" -n -M prepared -c 16 -j 2 -T "$PGBENCH_SECS" -f "$TMP/insert.sql" bench >"$TMP/pgbench.log" 2>&1 \
    || { cat "$TMP/pgbench.log" >&2; exit 1; }
phase_end "pgbench INSERT" pgbench
PGBENCH_CPU=$LAST_CPU
PGBENCH_TPS=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench.log")
PGBENCH_LAT=$(awk '/^latency average = / { print $4; exit }' "$TMP/pgbench.log")
[[ -n $PGBENCH_TPS ]] || { cat "$TMP/pgbench.log" >&2; exit 1; }
echo "   pgbench INSERT: $PGBENCH_TPS tps, latency average $PGBENCH_LAT ms" >&2

log "3b. pgbench: primary-key SELECT rate (pgbench -S, 100 000 accounts), concurrency $CHECKOUT_CONCURRENCY, ${PGBENCH_SECS} s"
"$PG_BINDIR/pgbench" -i -q -s 1 bench >"$TMP/pgbench-init.log" 2>&1 || { cat "$TMP/pgbench-init.log" >&2; exit 1; }
phase_start
"$PG_BINDIR/pgbench" -n -S -M prepared -c "$CHECKOUT_CONCURRENCY" -j 2 -T "$PGBENCH_SECS" bench >"$TMP/pgbench-select.log" 2>&1 \
    || { cat "$TMP/pgbench-select.log" >&2; exit 1; }
phase_end "pgbench SELECT" pgbench
SELECT_CPU=$LAST_CPU
SELECT_TPS=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench-select.log")
SELECT_LAT=$(awk '/^latency average = / { print $4; exit }' "$TMP/pgbench-select.log")
[[ -n $SELECT_TPS ]] || { cat "$TMP/pgbench-select.log" >&2; exit 1; }
echo "   pgbench PK SELECT: $SELECT_TPS tps, latency average $SELECT_LAT ms" >&2

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

if [[ $ORDERS == auto ]]; then
    ORDERS=$(awk -v tps="$PGBENCH_TPS" 'BEGIN { n = int(tps * 3); if (n < 5000) n = 5000; if (n > 200000) n = 200000; print n }')
fi
if [[ $INFORM_ORDERS == auto ]]; then
    # Half of pgbench's rate is twice the target; should the informs run out before the time is up, the rate is
    # still measured over the time they took (and the run says so).
    INFORM_ORDERS=$(awk -v tps="$PGBENCH_TPS" -v s="$INFORM_SECS" \
        'BEGIN { n = int(tps * s * 0.5); if (n < 5000) n = 5000; if (n > 400000) n = 400000; print n }')
fi
if [[ $RECEIPT_ORDERS == auto ]]; then
    RECEIPT_ORDERS=$(awk -v n="$INFORM_ORDERS" -v a="$INFORM_SECS" -v b="$RECEIPT_SECS" \
        'BEGIN { m = int(n * b / a / 3); if (m < 1000) m = 1000; print m }')
fi

log "5. order creation: POST /v1/orders with an Idempotency-Key each, concurrency 16, $ORDERS orders"
psql_q -d postgres -c "CHECKPOINT"
phase_start
ORDERS_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" orders --count "$ORDERS" \
    --concurrency 16 --prefix BENCHORD --out "$TMP/api-orders.tsv")
phase_end "order creation" loadgen
ORDERS_CPU=$LAST_CPU
ORDERS_CLIENT_SHARE=$LAST_CLIENT_SHARE
ORD_RATE=$(field ok_rate "$ORDERS_OUT")
ORD_P99=$(field p99_ms "$ORDERS_OUT")
ORD_ERRORS=$(field errors "$ORDERS_OUT")
IDEM_KEYS=$(psql_q -d gateway -c "SELECT count(*) FROM idempotency_keys WHERE response_status = 201")
echo "   $IDEM_KEYS idempotency keys answered 201" >&2
# Pending orders for the checkout, more for the receipt-confirmed informs.
head -n "$CHECKOUT_ORDERS" "$TMP/api-orders.tsv" >"$TMP/checkout-orders.tsv"
sed -n "$((CHECKOUT_ORDERS + 1)),$((CHECKOUT_ORDERS + RECEIPT_ORDERS))p" "$TMP/api-orders.tsv" >"$TMP/receipt-orders.tsv"

db_counters() {
    psql_q -d postgres -F ' ' -c "SELECT pg_stat_force_next_flush()" -c "SELECT xact_commit, sessions,
        tup_inserted + tup_updated FROM pg_stat_database WHERE datname = 'gateway'" | tail -n 1
}
order_count() { psql_q -d gateway -c "SELECT count(*) FROM orders"; }
# Pending card orders made with SQL (as POST /v1/orders makes them), written as the loadgen's order list. Each has its
# own creation time, a millisecond apart, as orders taken one by one have: with one time for all of them, every
# update of an order added an entry to a single run of equal keys in orders_created_at (in one comparison, the
# floor's script made ~3,100 informs/s on such orders against ~4,200 on orders a millisecond apart).
prefill_orders() {
    local prefix=$1 count=$2 out=$3
    psql_q -d gateway -c "INSERT INTO orders (order_id, mid, status, amount, goods_name, goods_count, pay_method,
        buyer_name, buyer_tel, buyer_email, checkout_token, created_at, updated_at, expires_at)
        SELECT '$prefix' || lpad(g::text, 8, '0'), 'SMTPAY001m', 'pending', 1000 + g % 9000, '벤치마크 상품', 1, 'CARD',
            '홍길동', '010-1234-5678', 'buyer@example.com', md5(g::text || '$prefix'),
            now() - ($count - g) * interval '1 ms', now(), now() + interval '1 day'
        FROM generate_series(1, $count) g"
    psql_q -d gateway -c "COPY (SELECT order_id, amount, checkout_token FROM orders WHERE order_id LIKE '$prefix%'
        ORDER BY order_id) TO STDOUT" >"$out"
}

# Paid orders with the history a paid order has (bound TID, payment, applied raw message and its claim, a delivered
# event), made with SQL: the database of a gateway that has been taking payments.
fill_history() {
    local prefix=$1 count=$2 started
    started=$(date +%s)
    psql_q -d gateway -c "WITH o AS (
        INSERT INTO orders (order_id, mid, status, amount, paid_amount, goods_name, goods_count, pay_method, buyer_name,
            buyer_tel, buyer_email, checkout_token, tid, result_code, result_message, card_issuer_code, created_at,
            updated_at, expires_at, paid_at)
        SELECT '$prefix' || lpad(g::text, 8, '0'), 'SMTPAY001m', 'paid', 1000 + g % 9000, 1000 + g % 9000,
            '벤치마크 상품', 1, 'CARD', '홍길동', '010-1234-5678', 'buyer@example.com', md5(g::text || '$prefix'),
            '${prefix}T' || lpad(g::text, 12, '0'), '3001', '정상 처리되었습니다.', '04',
            now() - interval '2 days' + g * interval '1 ms', now() - interval '1 day', now() - interval '1 day',
            now() - interval '1 day'
        FROM generate_series(1, $count) g
        RETURNING order_id, tid, amount, created_at),
      b AS (INSERT INTO tid_bindings (provider, tid, order_id, bound_at) SELECT 'weblink', tid, order_id, created_at FROM o),
      p AS (INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message, success,
                auth_code, auth_date, source, created_at, updated_at, provider)
            SELECT tid, order_id, 'SMTPAY001m', 'CARD', amount, '3001', '정상 처리되었습니다.', true, '30001234',
                '261121120000', 'inform', created_at, created_at, 'weblink' FROM o),
      n AS (INSERT INTO notifications (source, received_at, body, headers, remote_addr, outcome, mid, tid, order_id,
                dedupe_key, confirmed_by, processed_at)
            SELECT 'inform', created_at, convert_to(repeat('PayMethod=CARD&MID=SMTPAY001m&Amt=1000&', 15), 'UTF8'),
                '{\"content-type\": \"application/x-www-form-urlencoded\"}', '127.0.0.2', 'applied', 'SMTPAY001m', tid,
                order_id, tid || ':0:3001:' || amount, 'notifier', created_at FROM o
            RETURNING id, order_id, dedupe_key, processed_at),
      a AS (INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
            SELECT dedupe_key, order_id, id, processed_at FROM n)
    INSERT INTO outbox_events (id, order_id, event_type, payload, created_at, delivery_status, attempts,
        next_attempt_at, delivered_at, window_started_at)
    SELECT 'evt_' || md5(order_id), order_id, 'payment.paid', jsonb_build_object('order_id', order_id, 'amount', amount),
        created_at, 'delivered', 1, created_at, created_at, created_at FROM o"
    echo "   $count paid orders with their history made in $(($(date +%s) - started)) s" >&2
}

# One inform phase from the allow-listed notifier: sets INF_* (and prints what the database did per inform).
inform_phase() {
    local label=$1 orders=$2 tid_base=$3
    psql_q -d gateway -c "ANALYZE" -c "CHECKPOINT"
    sleep 1
    local c0 s0 w0 c1 s1 w1 reqs
    read -r c0 s0 w0 < <(db_counters)
    phase_start
    INFORM_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" inform --orders "$orders" \
        --concurrency "$INFORM_CONCURRENCY" --duration-secs "$INFORM_SECS" --source-ip "$NOTIFIER_IP" \
        --tid-base "$tid_base")
    phase_end "$label" loadgen
    INF_CPU=$LAST_CPU
    INF_CLIENT_SHARE=$LAST_CLIENT_SHARE
    sleep 1
    read -r c1 s1 w1 < <(db_counters)
    reqs=$(field requests "$INFORM_OUT")
    INF_OK_RATE=$(field ok_rate "$INFORM_OUT")
    INF_REQS=$reqs
    INF_ERRORS=$(field errors "$INFORM_OUT")
    INF_P50=$(field p50_ms "$INFORM_OUT")
    INF_P90=$(field p90_ms "$INFORM_OUT")
    INF_P99=$(field p99_ms "$INFORM_OUT")
    INF_MAX=$(field max_ms "$INFORM_OUT")
    INF_EXHAUSTED=$(field exhausted "$INFORM_OUT")
    [[ $reqs -gt 0 ]] || reqs=1
    INF_COMMITS=$(calc "($c1 - $c0) / $reqs" 2)
    INF_WRITES=$(calc "($w1 - $w0) / $reqs" 1)
    INF_SESSIONS=$((s1 - s0))
    INF_COST_US=$(calc "1000000 * $LAST_SERVER_CPU_S / $reqs" 0)
    echo "   database work: $INF_COMMITS commits and $INF_WRITES row writes per inform, $INF_SESSIONS new sessions;" \
        "gateway + PostgreSQL CPU $INF_COST_US us per inform" >&2
}

log "6. informs at a small database: $SMALL_ORDERS paid orders, then $INFORM_ORDERS pending orders for the informs (SQL)"
fill_history BENCHSML "$SMALL_ORDERS"
prefill_orders BENCHINF "$INFORM_ORDERS" "$TMP/inform-orders.tsv"
ORDERS_AT_SMALL=$(order_count)
log "6a. informs from the allow-listed notifier ($NOTIFIER_IP), $ORDERS_AT_SMALL orders in the database: distinct signed approvals, concurrency $INFORM_CONCURRENCY, ${INFORM_SECS} s"
if [[ $PROFILE == 1 ]]; then
    psql_q -d gateway -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
profile_start
inform_phase "informs (small database)" "$TMP/inform-orders.tsv" 0
profile_stop informs
S_RATE=$INF_OK_RATE S_REQS=$INF_REQS S_ERRORS=$INF_ERRORS S_P50=$INF_P50 S_P90=$INF_P90 S_P99=$INF_P99 S_MAX=$INF_MAX
S_EXHAUSTED=$INF_EXHAUSTED S_COMMITS=$INF_COMMITS S_WRITES=$INF_WRITES S_COST=$INF_COST_US S_CPU=$INF_CPU
S_CLIENT_SHARE=$INF_CLIENT_SHARE
if [[ $PROFILE == 1 ]]; then
    echo "   statements during informs (pg_stat_statements, by total time), $S_REQS informs:" >&2
    psql_q -d gateway -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 0) AS ms,
        round((total_exec_time / calls * 1000)::numeric, 0) AS us_per_call, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
        FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 20" >&2
    echo "   statements (BEGIN and COMMIT included: round trips) per inform: $(psql_q -d gateway -c \
        "SELECT round(sum(calls)::numeric / $S_REQS, 2) FROM pg_stat_statements
         WHERE query NOT LIKE '%pg_stat%' AND query NOT LIKE '%ANALYZE%' AND query NOT LIKE '%CHECKPOINT%'")" >&2
fi
# Cross-check in the database: every acknowledged inform must have become exactly one payment.
PAID=$(psql_q -d gateway -c "SELECT count(*) FROM payments WHERE success AND order_id LIKE 'BENCHINF%'")
APPLIED=$(psql_q -d gateway -c "SELECT count(*) FROM notifications WHERE outcome = 'applied' AND order_id LIKE 'BENCHINF%'")
CLAIMED=$(psql_q -d gateway -c "SELECT count(*) FROM applied_results WHERE order_id LIKE 'BENCHINF%'")
PAID_TWICE=$(psql_q -d gateway -c "SELECT count(*) FROM (SELECT order_id FROM payments WHERE success
    GROUP BY order_id HAVING count(*) > 1) twice")
echo "   database: $PAID successful payments, $APPLIED notifications applied, $CLAIMED applied results for the informs' orders; $PAID_TWICE orders paid twice" >&2

log "7. the floor: the gateway's inform write set as a pgbench script, concurrency $INFORM_CONCURRENCY, ${FLOOR_SECS} s"
# The same statements the gateway sends for a group of allow-listed approvals (crates/gateway/src/store/results.rs,
# apply_with_messages: generic plans, lock_result_orders, one statement writing the group, COMMIT), with a real
# inform's body and headers and a real event payload of this run, on pending orders made alike. A transaction is a
# group of the size the gateway formed in phase 6a (1 / its commits per inform); one extra nextval outside the
# transaction picks a distinct group per transaction. The floor is reported in informs per second.
FLOOR_GROUP=$(awk -v c="$S_COMMITS" 'BEGIN { g = (c > 0) ? int(1 / c + 0.5) : 1; if (g < 1) g = 1; if (g > 64) g = 64; print g }')
FLOOR_ORDERS=$(awk -v tps="$PGBENCH_TPS" -v s="$FLOOR_SECS" 'BEGIN { n = int(tps * s * 0.6); if (n < 5000) n = 5000; print n }')
prefill_orders BENCHFLR "$FLOOR_ORDERS" /dev/null
psql_q -d gateway -c "CREATE SEQUENCE bench_floor_seq"
SAMPLE_BODY=$(psql_q -d gateway -c "SELECT encode(body, 'hex') FROM notifications WHERE outcome = 'applied' ORDER BY id LIMIT 1")
SAMPLE_HEADERS=$(psql_q -d gateway -c "SELECT quote_literal(headers::text) FROM notifications WHERE outcome = 'applied' ORDER BY id LIMIT 1")
SAMPLE_EVENTS=$(psql_q -d gateway -c "SELECT quote_literal(jsonb_agg(jsonb_build_object('type', event_type, 'payload', payload))::text)
    FROM (SELECT event_type, payload FROM outbox_events ORDER BY seq LIMIT 1) e")
G=$FLOOR_GROUP
cat >"$TMP/floor.sql" <<SQL
SELECT nextval('bench_floor_seq') AS n \gset
BEGIN;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT count(*) FROM lock_result_orders(
    ARRAY(SELECT 'BENCHFLR' || lpad(g::text, 8, '0') FROM generate_series(:n * $G, :n * $G + $G - 1) g), 'weblink',
    ARRAY(SELECT 'FLOORTID' || g FROM generate_series(:n * $G, :n * $G + $G - 1) g),
    ARRAY(SELECT NULL::text FROM generate_series(:n * $G, :n * $G + $G - 1) g),
    ARRAY(SELECT 'FLOORKEY' || g FROM generate_series(:n * $G, :n * $G + $G - 1) g));
WITH src AS (
  SELECT g, 'BENCHFLR' || lpad(g::text, 8, '0') AS oid, 'FLOORTID' || g AS tid, 'FLOORKEY' || g AS key
  FROM generate_series(:n * $G, :n * $G + $G - 1) g),
n AS (
  INSERT INTO notifications (source, received_at, body, headers, remote_addr, outcome, mid, tid,
    order_id, dedupe_key, confirmed_by, processed_at)
  SELECT 'inform', now(), decode('$SAMPLE_BODY', 'hex'), $SAMPLE_HEADERS, '127.0.0.2', 'applied', 'SMTPAY001m',
    tid, oid, key, 'notifier', now() FROM src
  RETURNING id, order_id, dedupe_key, processed_at),
claim AS (
  INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
  SELECT dedupe_key, order_id, id, processed_at FROM n
  ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key, order_id, applied_at),
b AS (
  INSERT INTO tid_bindings (provider, tid, order_id, bound_at) SELECT 'weblink', tid, oid, now() FROM src
  ON CONFLICT (provider, tid) DO NOTHING RETURNING 1),
o AS (
  UPDATE orders SET status = 'paid', paid_amount = amount, cancelled_amount = 0, tid = src.tid,
    result_code = '3001', result_message = 'ok', review_reason = NULL, paid_at = now(), updated_at = now(),
    expires_at = expires_at, amount = amount, refunded_amount = 0, review_tid = NULL,
    card_issuer_code = '04', card_issuer_name = 'card', card_acquirer_code = '04', card_quota = '00',
    card_masked_number = '411111******1111', vbank_bank_code = NULL, vbank_bank_name = NULL, vbank_account = NULL,
    cash_receipt_type = NULL, cash_receipt_approval_no = NULL, cash_receipt_issued_at = NULL
  FROM src WHERE orders.order_id = src.oid AND src.oid IN (SELECT order_id FROM claim)
  RETURNING 1),
p AS (
  INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
    success, auth_code, auth_date, source, created_at, updated_at, provider)
  SELECT tid, oid, 'SMTPAY001m', 'CARD', 1000, '3001', 'ok', true, '30001234', '261121120000', 'inform', now(),
    now(), 'weblink'
  FROM src WHERE src.oid IN (SELECT order_id FROM claim)
  ON CONFLICT (provider, tid) DO UPDATE SET result_code = EXCLUDED.result_code
  WHERE payments.order_id = EXCLUDED.order_id
  RETURNING 1),
e AS (
  INSERT INTO outbox_events (id, order_id, event_type, payload, created_at, next_attempt_at, window_started_at)
  SELECT 'evt_floor_' || src.g || '_' || x.k, src.oid, x.x->>'type', x.x->'payload', now(), now(), now()
  FROM src, jsonb_array_elements($SAMPLE_EVENTS::jsonb) WITH ORDINALITY AS x(x, k)
  WHERE src.oid IN (SELECT order_id FROM claim)
  ORDER BY src.g, x.k
  RETURNING 1),
d AS (
  UPDATE notifications SET outcome = 'duplicate', next_check_at = NULL, processed_at = c.applied_at
  FROM claim c
  WHERE notifications.dedupe_key = ANY (ARRAY(SELECT dedupe_key FROM claim)) AND notifications.outcome = 'unconfirmed'
    AND notifications.dedupe_key = c.dedupe_key AND notifications.order_id = c.order_id)
SELECT (SELECT count(*) FROM claim), (SELECT count(*) FROM b), (SELECT count(*) FROM o), (SELECT count(*) FROM p),
  (SELECT count(*) FROM e);
COMMIT;
SQL
psql_q -d gateway -c "ANALYZE" -c "CHECKPOINT"
if [[ $(psql_q -d gateway -c "SELECT to_regproc('lock_result_orders') IS NULL") == t ]]; then
    # An older schema (BENCH_BIN_DIR of an older build): the script does not apply to it.
    echo "   this schema has no lock_result_orders(): no floor measured" >&2
    echo "tps = 0" >"$TMP/pgbench-floor.log"
    echo "latency average = 0 ms" >>"$TMP/pgbench-floor.log"
else
phase_start
"$PG_BINDIR/pgbench" -n -M prepared -c "$INFORM_CONCURRENCY" -j 2 -T "$FLOOR_SECS" -f "$TMP/floor.sql" gateway \
    >"$TMP/pgbench-floor.log" 2>&1 || { cat "$TMP/pgbench-floor.log" >&2; exit 1; }
phase_end "inform floor" pgbench
fi
FLOOR_CPU=${LAST_CPU}
FLOOR_GROUPS=$(awk '/^tps = / { print $3; exit }' "$TMP/pgbench-floor.log")
FLOOR_TPS=$(calc "$FLOOR_GROUPS * $FLOOR_GROUP" 1)
FLOOR_LAT=$(awk '/^latency average = / { print $4; exit }' "$TMP/pgbench-floor.log")
FLOOR_PAID=$(psql_q -d gateway -c "SELECT count(*) FROM orders WHERE order_id LIKE 'BENCHFLR%' AND status = 'paid'")
[[ -n $FLOOR_TPS ]] || { cat "$TMP/pgbench-floor.log" >&2; exit 1; }
echo "   inform floor: $FLOOR_GROUPS groups of $FLOOR_GROUP/s = $FLOOR_TPS informs/s, latency average $FLOOR_LAT ms ($FLOOR_PAID orders paid)" >&2

log "8. informs confirmed through the sandbox's receipt API: concurrency $INFORM_CONCURRENCY, ${RECEIPT_SECS} s"
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

log "9. checkout JSON: GET /v1/checkout/{id}?t=..., concurrency $CHECKOUT_CONCURRENCY, ${CHECKOUT_SECS} s"
if [[ $PROFILE == 1 ]]; then
    psql_q -d gateway -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
profile_start
phase_start
CHECKOUT_OUT=$("$LOADGEN" --base "$BASE" --threads "$LOADGEN_THREADS" checkout \
    --orders "$TMP/checkout-orders.tsv" --concurrency "$CHECKOUT_CONCURRENCY" --duration-secs "$CHECKOUT_SECS")
phase_end checkout loadgen
CHECKOUT_CPU=$LAST_CPU
CHECKOUT_CLIENT_SHARE=$LAST_CLIENT_SHARE
profile_stop checkout
if [[ $PROFILE == 1 ]]; then
    echo "   statements during checkout (pg_stat_statements, by total time):" >&2
    psql_q -d gateway -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 0) AS ms,
        round((total_exec_time / calls * 1000)::numeric, 0) AS us_per_call, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
        FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 8" >&2
fi
RSS_AFTER_CHECKOUT=$(rss_kib "$GW_PID")

NOW_ORDERS=$(order_count)
GROW_BY=$((GROW_TO - NOW_ORDERS - INFORM_ORDERS))
log "10. growing the database to $GROW_TO orders ($GROW_BY more paid ones with their history, with SQL), then informs again"
if [[ $GROW_BY -gt 0 ]]; then
    fill_history BENCHBIG "$GROW_BY"
fi
prefill_orders BENCHBIGI "$INFORM_ORDERS" "$TMP/inform-orders-big.tsv"
psql_q -d gateway -c "VACUUM ANALYZE"
ORDERS_AT_BIG=$(order_count)
log "10a. informs from the allow-listed notifier, $ORDERS_AT_BIG orders in the database, concurrency $INFORM_CONCURRENCY, ${INFORM_SECS} s"
inform_phase "informs (large database)" "$TMP/inform-orders-big.tsv" 500000000
B_RATE=$INF_OK_RATE B_REQS=$INF_REQS B_ERRORS=$INF_ERRORS B_P50=$INF_P50 B_P90=$INF_P90 B_P99=$INF_P99 B_MAX=$INF_MAX
B_EXHAUSTED=$INF_EXHAUSTED B_COMMITS=$INF_COMMITS B_WRITES=$INF_WRITES B_COST=$INF_COST_US B_CPU=$INF_CPU

log "11. RSS"
sleep 1
RSS_AFTER=$(rss_kib "$GW_PID")
echo "   after checkout $RSS_AFTER_CHECKOUT KiB, after all load $RSS_AFTER KiB" >&2

# ---------------------------------------------------------------------------------------------------------------
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

INF_SHARE=$(calc "100 * $S_RATE / $PGBENCH_TPS" 1)
FLOOR_SHARE=$(calc "100 * $FLOOR_TPS / $PGBENCH_TPS" 1)
INF_OF_FLOOR=$(calc "100 * $S_RATE / ($FLOOR_TPS > 0 ? $FLOOR_TPS : 1)" 1)
CHK_SHARE=$(calc "100 * $CHK_OK_RATE / $SELECT_TPS" 1)
ORD_SHARE=$(calc "100 * $ORD_RATE / $PGBENCH_TPS" 1)
FLAT=$(calc "$B_COST / ($S_COST > 0 ? $S_COST : 1)" 2)
RSS_IDLE_MIB=$(calc "$RSS_IDLE / 1024" 1)
RSS_AFTER_MIB=$(calc "$RSS_AFTER / 1024" 1)
verdict() { if is_true "$1"; then echo "PASS"; else echo "FAIL"; fi; }
V_RATE=$(verdict "$S_RATE >= $TARGET_INFORM_SHARE * $PGBENCH_TPS")
V_P99=$(verdict "$S_P99 <= $TARGET_INFORM_P99_MS")
V_CHK=$(verdict "$CHK_OK_RATE >= $TARGET_CHECKOUT_SHARE * $SELECT_TPS")
V_ORD=$(verdict "$ORD_RATE >= $TARGET_ORDER_SHARE * $PGBENCH_TPS")
V_RSS=$(verdict "$RSS_IDLE <= $TARGET_IDLE_RSS_MIB * 1024")
V_FLAT=$(verdict "$B_COST <= $TARGET_FLAT * $S_COST")
V_EXACT=$(verdict "$PAID == $S_REQS - $S_ERRORS && $APPLIED == $PAID && $CLAIMED == $PAID && $PAID_TWICE == 0")
ran_out() { if [[ $1 == 1 ]]; then echo ", RAN OUT OF ORDERS"; fi; }

MACHINE="$NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), \
$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
cat <<REPORT

==================================================================================================================
smartro-gateway benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $MACHINE
PostgreSQL $PG_VERSION, data on $FS_TYPE: $PG_SETTINGS
gateway database pool: $POOL_SHOWN; loadgen threads: $LOADGEN_THREADS

pgbench  1-row INSERT, c=16       : $PGBENCH_TPS tps, latency avg $PGBENCH_LAT ms
                                    CPU: $PGBENCH_CPU
pgbench  PK SELECT, c=$CHECKOUT_CONCURRENCY         : $SELECT_TPS tps, latency avg $SELECT_LAT ms
                                    CPU: $SELECT_CPU
pgbench  inform write set, c=$INFORM_CONCURRENCY  : $FLOOR_TPS informs/s in groups of $FLOOR_GROUP, latency avg $FLOOR_LAT ms (the floor for this schema)
                                    CPU: $FLOOR_CPU
orders   POST /v1/orders+key, c=16: $ORD_RATE req/s, p99 $ORD_P99 ms ($ORDERS orders, $ORD_ERRORS errors)
                                    CPU: $ORDERS_CPU
informs  allow-listed, c=$INFORM_CONCURRENCY       : $S_RATE OK/s ($S_REQS requests, $S_ERRORS errors$(ran_out "$S_EXHAUSTED")), $ORDERS_AT_SMALL orders in the database
                                    latency ms p50 $S_P50  p90 $S_P90  p99 $S_P99  max $S_MAX
                                    per inform: $S_COMMITS commits, $S_WRITES row writes, $S_COST us CPU (gateway + PostgreSQL)
                                    database: $PAID payments, $APPLIED applied notifications, $CLAIMED applied results
                                    CPU: $S_CPU
informs  same, at $ORDERS_AT_BIG orders: $B_RATE OK/s ($B_REQS requests, $B_ERRORS errors$(ran_out "$B_EXHAUSTED"))
                                    latency ms p50 $B_P50  p90 $B_P90  p99 $B_P99  max $B_MAX
                                    per inform: $B_COMMITS commits, $B_WRITES row writes, $B_COST us CPU (gateway + PostgreSQL)
                                    CPU: $B_CPU
informs  receipt-confirmed, c=$INFORM_CONCURRENCY  : $RCP_OK_RATE OK/s = $RCP_SHARE % of pgbench INSERT ($RCP_REQS requests, $RCP_ERRORS errors$(ran_out "$RCP_EXHAUSTED"))
                                    latency ms p50 $RCP_P50  p99 $RCP_P99; $DB_PER_RECEIPT
                                    CPU: $RECEIPT_CPU
checkout GET /v1/checkout, c=$CHECKOUT_CONCURRENCY   : $CHK_OK_RATE OK/s ($CHK_REQS requests, $CHK_ERRORS errors)
                                    latency ms p50 $CHK_P50  p99 $CHK_P99  max $CHK_MAX
                                    CPU: $CHECKOUT_CPU
gateway RSS                       : idle $RSS_IDLE_MIB MiB, after checkout $(calc "$RSS_AFTER_CHECKOUT / 1024" 1) MiB, after all load $RSS_AFTER_MIB MiB
load generator, share of busy CPU : order creation $ORDERS_CLIENT_SHARE %, informs $S_CLIENT_SHARE %, checkout $CHECKOUT_CLIENT_SHARE %

REPORT
row() { printf '%-44s %-70s %s\n' "$@"; }
row "target" "measured" "result"
row "informs >= 25 % of pgbench INSERT" "$S_RATE/s = $INF_SHARE % of $PGBENCH_TPS (floor $FLOOR_SHARE %; informs $INF_OF_FLOOR % of floor)" "$V_RATE"
row "inform p99 <= $TARGET_INFORM_P99_MS ms" "$S_P99 ms" "$V_P99"
row "every OK inform applied exactly once" "$((S_REQS - S_ERRORS)) OK: $PAID paid, $APPLIED raw applied, $CLAIMED claimed, $PAID_TWICE paid twice" "$V_EXACT"
row "checkout >= 50 % of pgbench PK SELECT" "$CHK_OK_RATE/s = $CHK_SHARE % of $SELECT_TPS" "$V_CHK"
row "order creation >= 30 % of pgbench INSERT" "$ORD_RATE/s = $ORD_SHARE % of $PGBENCH_TPS" "$V_ORD"
row "idle RSS <= $TARGET_IDLE_RSS_MIB MiB" "$RSS_IDLE_MIB MiB ($RSS_IDLE KiB)" "$V_RSS"
row "cost per inform flat (x <= $TARGET_FLAT)" "$ORDERS_AT_SMALL -> $ORDERS_AT_BIG orders: $S_COST -> $B_COST us CPU (x $FLAT), $S_RATE -> $B_RATE/s" "$V_FLAT"
echo "=================================================================================================================="

#!/usr/bin/env bash
# Runs the same workload shapes on Redis, PostgreSQL and kvsql on this machine, in one
# run, and prints one table with each figure, the kvsql/peer ratios, and whether each
# ratio meets its target.
#
#   benches/compare.sh [SECONDS]        (default 10 seconds per measurement)
#   ROUNDS=N benches/compare.sh ...      (default 3 rounds; the table gives medians)
#   REPORT_FROM=OUT benches/compare.sh   (the table again, from an earlier run's output)
#
# Installs redis-server, redis-tools and postgresql when missing (as root, with apt-get),
# starts each server on a loopback port in a temporary directory, and stops them all at
# the end (also on failure). Not part of CI: it takes minutes and installs packages.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}

# --- report --------------------------------------------------------------------------------
median() { # FORMAT: the median of the numbers on standard input ("n/a" for none)
  { grep -v '^NA$' || true; } | sort -g \
    | awk -v f="$1" '{ v[NR] = $1 } END { if (NR % 2) printf f, v[(NR + 1) / 2]; else if (NR) printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2; else print "n/a" }'
}
# The median of the rounds' kvsql/peer ratios, each from two figures taken side by side
# (a ratio of the two medians could pair figures from different rounds); unrounded.
ratio_of() { # KVSQL-KEY PEER-KEY
  paste <(echo ${S[$1]:-} | tr ' ' '\n') <(echo ${S[$2]:-} | tr ' ' '\n') \
    | awk '$1 != "NA" && $2 != "NA" && $2 > 0 { print $1 / $2 }' | median '%.6f'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b > 0) printf "%.6f", a / b; else print "n/a" }'; }
row() { printf "| %s | %s | %s | %s | %s |\n" "$1" "$2" "$3" "$4" "$5"; }
# The ratio and target columns: the ratio as the table shows it, and "met" or how far
# the (unrounded) ratio is below the target ratio (issue 7's targets; "-" for none).
judged() { # RATIO TARGET
  awk -v r="$1" -v t="$2" 'BEGIN {
    if (r !~ /^[0-9.]+$/) { printf "n/a | %s", (t == "-" ? "-" : "n/a"); exit }
    printf "%.2fx | ", r
    if (t == "-") print "-"
    else if (r + 0 >= t) printf "%.1fx: met", t
    else printf "%.1fx: short %.1f%%", t, 100 * (1 - r / t) }'
}
# One row: workload, kvsql's figure, what it is set against, the ratio, and its target.
line() { # WORKLOAD FIGURE AGAINST RATIO TARGET
  printf "| %s | %s | %s | %s |\n" "$1" "$2" "$3" "$(judged "$4" "$5")"
}
vs() { # WORKLOAD KVSQL-KEY PEER-LABEL PEER-KEY TARGET
  line "$1" "${R[$2]:-n/a}" "$3 ${R[$4]:-n/a}" "$(ratio_of "$2" "$4")" "$5"
}
report() { # MACHINE-LINE STEAL-LINE: prints the table of the figures in S
  declare -gA R
  local key
  for key in "${!S[@]}"; do
    R[$key]=$(echo ${S[$key]} | tr ' ' '\n' | median '%.1f\n')
  done
  local LOAD=${R[load]:-n/a} SCAN=${R[scan]:-n/a}
  echo
  echo "$1"
  echo "$2"
  echo
  row "workload" "kvsql" "peer" "kvsql / peer" "target"
  row "---" "---" "---" "---" "---"
  vs "point select, 1 client" kv_select_1 "Redis GET" redis_get_1 1.0
  vs "point select, 1 client" kv_select_1 "PostgreSQL -S" pg_select_1 1.3
  vs "point select, 16 clients" kv_select_16 "Redis GET" redis_get_16 -
  vs "point select, 16 clients" kv_select_16 "PostgreSQL -S (16)" pg_select_16 -
  vs "point select, 50 clients" kv_select_50 "Redis GET" redis_get_50 1.0
  vs "point select, 50 clients" kv_select_50 "PostgreSQL -S (16)" pg_select_16 1.5
  vs "point select, 50 x 16 pipelined" kv_select_50p16 "Redis GET -P 16" redis_get_50p16 0.8
  vs "insert, 16 clients" kv_insert_16 "PostgreSQL sync off (16)" pg_insert_16_async -
  vs "insert, 50 clients" kv_insert_50 "Redis SET (AOF everysec)" redis_set_50 1.0
  vs "insert, 50 clients" kv_insert_50 "PostgreSQL sync off (16)" pg_insert_16_async 2.0
  vs "insert --sync, 16 clients" kv_insert_16_sync "PostgreSQL sync on (16)" pg_insert_16_sync 2.0
  line "bulk load, rows/s (100-byte rows)" "$LOAD" "target 1,000,000" "$(ratio "$LOAD" 1000000)" 1.0
  line "full-table SELECT * streamed, rows/s" "$SCAN" "target 2,000,000" "$(ratio "$SCAN" 2000000)" 1.0
  echo
  echo "Each figure above is the median of $ROUNDS rounds, and each ratio the median of the rounds'"
  echo "ratios; every round's figures, in order:"
  for key in $(printf '%s\n' "${!S[@]}" | sort); do
    echo "  $key:${S[$key]}"
  done
}

# REPORT_FROM=FILE: print the table again from the output of an earlier run (its
# per-round figures and its header lines), measuring nothing.
declare -A S
if [ -n "${REPORT_FROM:-}" ]; then
  while read -r key values; do
    S[${key%:}]=" $values"
  done < <(grep -E '^  [a-z0-9_]+: ' "$REPORT_FROM")
  ROUNDS=$(echo ${S[kv_select_1]:-} | wc -w)
  report "$(grep -m1 '^Machine:' "$REPORT_FROM" || echo 'Machine: (not recorded)')" \
    "$(grep -m1 '^Steal' "$REPORT_FROM" || echo 'Steal: (not recorded)')"
  exit 0
fi

WORK=$(mktemp -d)
REDIS_PORT=16379
PG_PORT=15432
KVSQL_PORT=17878
KVSQL_SYNC_PORT=17879
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${PG_CTL:-}" ] && [ -d "$WORK/pg" ]; then
    su postgres -c "$PG_CTL -D $WORK/pg -m fast stop" >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need redis-server || ! need redis-benchmark || ! need pgbench || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing redis-server, redis-tools, postgresql ..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools postgresql >/dev/null
fi
PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
PG_CTL="$PG_BIN/pg_ctl"

echo "building kvsql (release) ..." >&2
scripts/setup.sh >/dev/null
# Only what it runs: the server and the load generator.
cargo build --release -p kvsql-server -p kvsql-benches >/dev/null 2>&1
BIN=target/release

# --- start the servers ---------------------------------------------------------------
redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$WORK" --save '' \
  --appendonly yes --appendfsync everysec --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/pg" && chown postgres "$WORK" "$WORK/pg"
su postgres -c "$PG_BIN/initdb -D $WORK/pg -A trust >/dev/null"
su postgres -c "$PG_CTL -D $WORK/pg -o '-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200' -l $WORK/pg.log -w start" >/dev/null
"$BIN/kvsql-server" --listen 127.0.0.1:$KVSQL_PORT --data-dir "$WORK/kvsql" >"$WORK/kvsql.log" 2>&1 &
PIDS+=($!)
"$BIN/kvsql-server" --listen 127.0.0.1:$KVSQL_SYNC_PORT --data-dir "$WORK/kvsql-sync" --sync >"$WORK/kvsql-sync.log" 2>&1 &
PIDS+=($!)
sleep 2

# --- measure -----------------------------------------------------------------------------
redis() { # clients pipeline command
  redis-benchmark -h 127.0.0.1 -p $REDIS_PORT -c "$1" -P "$2" -t "$3" -d 100 -r 100000 \
    -n $(( 100000 * (1 + $1 / 10) * $2 )) -q --csv 2>/dev/null | tail -n 1 | cut -d'"' -f4
}
pg() { # clients extra-args...
  local c=$1; shift
  PGHOST=127.0.0.1 PGPORT=$PG_PORT su postgres -c "pgbench -M prepared -c $c -j $(( c < 2 ? c : 2 )) -T $SECS $* postgres" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1
}
kv() { # port connections pipeline workload extra...
  local port=$1 c=$2 p=$3 w=$4; shift 4
  "$BIN/kvsql-bench" --addr 127.0.0.1:"$port" -c "$c" -P "$p" -w "$w" -d "$SECS" --json "$@" \
    | tail -n 1 | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p'
}

echo "loading ..." >&2
# Redis gets the keys its GETs ask for: the 100,000 that -r 100000 draws from
# ("key:" and 12 digits), each with a 100-byte value, as kvsql's table has 100,000
# rows of 100-byte values. (A GET of a missing key answers nil without touching a
# value, and on this machine ran 1.14M-1.19M/s pipelined against 0.78M-0.79M found.)
awk 'BEGIN { v = sprintf("%100s", ""); gsub(/ /, "x", v);
             for (i = 0; i < 100000; i++) printf "SET key:%012d %s\r\n", i, v }' \
  | redis-cli -h 127.0.0.1 -p $REDIS_PORT --pipe >/dev/null
if [ "$(redis-cli -h 127.0.0.1 -p $REDIS_PORT dbsize)" != 100000 ]; then
  echo "compare.sh: Redis did not take the 100,000 keys for its GETs" >&2
  exit 1
fi
PGHOST=127.0.0.1 PGPORT=$PG_PORT su postgres -c "pgbench -i -s 1 postgres" >/dev/null 2>&1
PGHOST=127.0.0.1 PGPORT=$PG_PORT su postgres -c "psql -q -d postgres -c 'CREATE TABLE kv (id bigint primary key, value text)'" >/dev/null
echo "INSERT INTO kv VALUES (nextval('kvseq'), repeat('x', 100));" >"$WORK/insert.sql"
PGHOST=127.0.0.1 PGPORT=$PG_PORT su postgres -c "psql -q -d postgres -c 'CREATE SEQUENCE kvseq'" >/dev/null
chmod a+r "$WORK/insert.sql"
"$BIN/kvsql-bench" --addr 127.0.0.1:$KVSQL_PORT -k 100000 -n 1 >/dev/null
"$BIN/kvsql-bench" --addr 127.0.0.1:$KVSQL_SYNC_PORT -k 1000 -n 1 >/dev/null

# Each figure is measured ROUNDS times (default 3), and each kvsql figure next to its
# peer's, first after it and then, in the next round, before it, so that a slow spell
# of the machine (seen here to last minutes), or a peer's writes still going to disk,
# land on both sides of a ratio rather than on one. The table gives each figure's
# median, and every round's figures follow it.
ROUNDS=${ROUNDS:-3}
# A figure that did not come out (a tool failed) is kept as NA, so rounds stay aligned.
add() { S[$1]="${S[$1]:-} ${2:-NA}"; }
# both PEER-KEY PEER-COMMAND KVSQL-KEY KVSQL-COMMAND
both() {
  if (( round % 2 )); then
    add "$1" "$(eval "$2")"; add "$3" "$(eval "$4")"
  else
    add "$3" "$(eval "$4")"; add "$1" "$(eval "$2")"
  fi
}
pg_sync() {
  PGHOST=127.0.0.1 PGPORT=$PG_PORT su postgres -c "psql -q -d postgres -c 'ALTER SYSTEM SET synchronous_commit = $1' -c 'SELECT pg_reload_conf()'" >/dev/null
}
# Steal and total CPU time so far, in ticks (/proc/stat's cpu line: user nice system
# idle iowait irq softirq steal ...): on a virtual machine the hypervisor's share of the
# run says how far its figures can be trusted.
cpu_ticks() { awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
read -r STEAL0 TOTAL0 < <(cpu_ticks)
echo "measuring ($SECS s each, $ROUNDS rounds) ..." >&2
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS ..." >&2
  both redis_get_1 'redis 1 1 get' kv_select_1 'kv $KVSQL_PORT 1 1 point-select --no-load -k 100000'
  add pg_select_1 "$(pg 1 -S)"
  both redis_get_16 'redis 16 1 get' kv_select_16 'kv $KVSQL_PORT 16 1 point-select --no-load -k 100000'
  add pg_select_16 "$(pg 16 -S)"
  both redis_get_50 'redis 50 1 get' kv_select_50 'kv $KVSQL_PORT 50 1 point-select --no-load -k 100000'
  both redis_get_50p16 'redis 50 16 get' kv_select_50p16 'kv $KVSQL_PORT 50 16 point-select --no-load -k 100000'
  pg_sync on
  both pg_insert_16_sync 'pg 16 -n -f "$WORK/insert.sql"' kv_insert_16_sync 'kv $KVSQL_SYNC_PORT 16 1 insert --no-load -k 1000'
  pg_sync off
  both pg_insert_16_async 'pg 16 -n -f "$WORK/insert.sql"' kv_insert_16 'kv $KVSQL_PORT 16 1 insert --no-load -k 100000'
  both redis_set_50 'redis 50 1 set' kv_insert_50 'kv $KVSQL_PORT 50 1 insert --no-load -k 100000'
  add load "$("$BIN/kvsql-bench" --addr 127.0.0.1:$KVSQL_PORT --table bulk -k 1000000 -b 100 -n 1 --json \
    | tail -n 1 | sed -n 's/.*"load_rows_per_s":\([0-9.]*\).*/\1/p')"
  add scan "$("$BIN/kvsql-bench" --addr 127.0.0.1:$KVSQL_PORT --table bulk -k 1000000 -w full-scan -d "$SECS" \
    --no-load --json | tail -n 1 | sed -n 's/.*"rows_per_s":\([0-9.]*\).*/\1/p')"
done
read -r STEAL1 TOTAL1 < <(cpu_ticks)
STEAL=$(awk -v s=$((STEAL1 - STEAL0)) -v t=$((TOTAL1 - TOTAL0)) 'BEGIN { if (t > 0) printf "%.1f%%", 100 * s / t; else print "n/a" }')
report "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $SECS s per figure, median of $ROUNDS rounds" \
  "Steal (CPU time a hypervisor took from this machine while it measured): $STEAL"

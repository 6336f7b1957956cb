#!/usr/bin/env bash
# cluster.sh: a wharf cluster on this machine, to try the multi-node mode:
# a nats-server, a PostgreSQL and N wharfd nodes sharing them (README,
# "Cluster").
#
#   scripts/cluster.sh               # 3 nodes; Ctrl-C stops everything
#   N=5 BASE=27000 scripts/cluster.sh
#   SMOKE=1 scripts/cluster.sh       # start, check the cluster works, stop
#   BENCH=1 scripts/cluster.sh       # cross-node fan-out with wharf-bench, CPU per process
#   BENCH=1 N=1 NOCLUSTER=1 scripts/cluster.sh   # the same on one node, no broker
#
# Node i (from 0) serves the packet protocol on 127.0.0.1:BASE+10i, the web
# app on BASE+10i+1 and its dashboard and /metrics on BASE+10i+2. A user
# registered on one node logs in on any other, and chat messages, direct
# messages and presence cross nodes. Kill a node (kill -9 $(cat
# $OUT/node1.pid)) and watch the others drop its users within 3 s.
#
# nats-server is built from the module's nats-server/v2 dependency (no
# install needed); PostgreSQL must be installed (apt-get install
# postgresql): a private server is made in $OUT, with trust authentication
# on loopback only. Set NATS_URL or PG_URL to use servers of your own.
#
# BENCH=1 publishes through node0's push API (SUBS subscribers over
# CHANNELS channels of the "bench" namespace, RATE publications a second
# for DUR, SIZE bytes each) with the subscribers spread over every node
# (SUBS_ON=all: a third of the deliveries local with 3 nodes) or over the
# nodes other than node0 (SUBS_ON=others: every delivery crosses the
# broker). It writes wharf-bench's JSON to $OUT/fanout.json and the CPU
# seconds each process used during the run (nats-server, PostgreSQL, each
# node, wharf-bench) to $OUT/cpu.txt (bench/RESULTS.md, "Cluster").
#
# Knobs (environment): N, BASE, NATS_PORT, PG_PORT, PROCESSES (workers per
# node), OUT, NATS_URL, PG_URL, SMOKE, NOCLUSTER (no [cluster] table and
# no nats-server: the single-node baseline), BENCH, SUBS, CHANNELS, RATE,
# DUR, SIZE, SUBS_ON.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3}
BASE=${BASE:-17000}
NATS_PORT=${NATS_PORT:-$((BASE + 900))}
PG_PORT=${PG_PORT:-$((BASE + 901))}
PROCESSES=${PROCESSES:-0}
OUT=${OUT:-$(mktemp -d /tmp/wharf-cluster.XXXXXX)}
SMOKE=${SMOKE:-}
NOCLUSTER=${NOCLUSTER:-}
BENCH=${BENCH:-}
SUBS=${SUBS:-3000} CHANNELS=${CHANNELS:-1} RATE=${RATE:-100} DUR=${DUR:-20s} SIZE=${SIZE:-100} SUBS_ON=${SUBS_ON:-all}
PUSH_KEY="bench-push-key-0123456789abcdef"
mkdir -p "$OUT"
chmod 755 "$OUT"
echo "cluster: N=$N BASE=$BASE OUT=$OUT"

NODES=()     # wharfd pids
NATS_PID=""  # our nats-server, if we started one
PG_DATA=""   # our PostgreSQL's data directory, if we started one
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# stop PID...: TERM, then KILL whatever is left after 5 s.
stop() {
  kill -TERM "$@" 2>/dev/null
  for pid in "$@"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
}
cleanup() {
  set +e
  [ ${#NODES[@]} -gt 0 ] && stop "${NODES[@]}"  # first: they say goodbye through nats-server
  [ -n "$NATS_PID" ] && stop "$NATS_PID"
  [ -n "$PG_DATA" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
  echo "cluster: stopped (files in $OUT)"
}
trap cleanup EXIT

# wait_for DESCRIPTION COMMAND...: retry COMMAND for up to 30 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "cluster: timed out waiting for $what" >&2
  return 1
}

echo "== build"
go build -o "$OUT/wharfd" ./cmd/wharfd
[ -n "$BENCH" ] && go build -o "$OUT/wharf-bench" ./cmd/wharf-bench
[ -n "${NATS_URL:-}" ] || [ -n "$NOCLUSTER" ] || go build -o "$OUT/nats-server" github.com/nats-io/nats-server/v2

if [ -z "${NATS_URL:-}" ] && [ -z "$NOCLUSTER" ]; then
  echo "== nats-server on 127.0.0.1:$NATS_PORT"
  "$OUT/nats-server" -a 127.0.0.1 -p "$NATS_PORT" -m $((NATS_PORT + 2)) > "$OUT/nats.log" 2>&1 &
  NATS_PID=$!
  echo $! > "$OUT/nats.pid"
  NATS_URL="nats://127.0.0.1:$NATS_PORT"
  wait_for "nats-server" curl -sf "http://127.0.0.1:$((NATS_PORT + 2))/healthz"
fi

if [ -z "${PG_URL:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$PG_BIN/initdb" ] || { echo "cluster: PostgreSQL not installed (apt-get install postgresql), or set PG_URL" >&2; exit 2; }
  echo "== PostgreSQL on 127.0.0.1:$PG_PORT"
  PG_DATA="$OUT/pg"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U wharf --auth=trust > "$OUT/initdb.log" 2>&1
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c fsync=off" start > /dev/null
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U wharf wharf
  PG_URL="postgres://wharf@127.0.0.1:$PG_PORT/wharf?sslmode=disable"
fi

echo "== $N wharfd nodes"
for i in $(seq 0 $((N - 1))); do
  p=$((BASE + 10 * i))
  cat > "$OUT/node$i.toml" <<TOML
processes = $PROCESSES
pid_file = "$OUT/node$i.pid"
data_dir = "$OUT/node$i"

[server]
listen = "127.0.0.1:$p"
stats_interval = "0s"
max_connections_per_ip = 0   # every client is on 127.0.0.1 here

[http]
listen = "127.0.0.1:$((p + 1))"

[admin]
listen = "127.0.0.1:$((p + 2))"

[kcp]
listen = []

[database]
url = "$PG_URL"

[channels]
history = "sql"

[[channels.namespace]]
name = "room"
presence = true
join_leave = true
history_size = 100

[[channels.namespace]]
name = "bench"
subscribe = "anyone"
publish = "server"
history_size = 100

[push]
keys = ["$PUSH_KEY"]
rate = 100000
burst = 100000

[chat]
max_fanout = 100000000
TOML
  [ -n "$NOCLUSTER" ] || cat >> "$OUT/node$i.toml" <<TOML

[cluster]
broker = "$NATS_URL"
node_name = "node$i"
TOML
  "$OUT/wharfd" -c "$OUT/node$i.toml" > "$OUT/node$i.log" 2>&1 &
  NODES+=($!)
done
for i in $(seq 0 $((N - 1))); do
  wait_for "node$i" curl -sf "http://127.0.0.1:$((BASE + 10 * i + 1))/healthz"
done
NODES_ALL=$((N * (PROCESSES > 0 ? PROCESSES : 1)))  # every worker is a node
[ -n "$NOCLUSTER" ] || wait_for "every node to see $NODES_ALL nodes" \
  sh -c "curl -sf http://127.0.0.1:$((BASE + 2))/api/stats | grep -q '\"nodes\":$NODES_ALL[,}]'"

for i in $(seq 0 $((N - 1))); do
  p=$((BASE + 10 * i))
  echo "node$i: packets 127.0.0.1:$p  web http://127.0.0.1:$((p + 1))/  dashboard http://127.0.0.1:$((p + 2))/  log $OUT/node$i.log"
done
echo "nats: ${NATS_URL:-none}  postgres: $PG_URL"

# cpu PID...: the CPU seconds (user + system) the processes and their
# children have used so far.
cpu() {
  local tck total=0 pid
  tck=$(getconf CLK_TCK)
  for pid in "$@"; do
    for p in $pid $(pgrep -P "$pid" 2>/dev/null); do
      [ -r "/proc/$p/stat" ] || continue
      total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
  done
  echo "scale=2; $total / $tck" | bc
}

if [ -n "$BENCH" ]; then
  addrs=""
  first=0
  [ "$SUBS_ON" = others ] && [ "$N" -gt 1 ] && first=1
  for i in $(seq $first $((N - 1))); do addrs+="127.0.0.1:$((BASE + 10 * i)),"; done
  PG_PID=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || echo "")
  echo "== fanout: $SUBS subscribers on ${addrs%,}, $CHANNELS channel(s), $RATE/s for $DUR through node0's push API"
  declare -A before
  for i in $(seq 0 $((N - 1))); do before[node$i]=$(cpu "${NODES[$i]}"); done
  [ -n "$NATS_PID" ] && before[nats]=$(cpu "$NATS_PID")
  [ -n "$PG_PID" ] && before[postgres]=$(cpu "$PG_PID")
  "$OUT/wharf-bench" fanout -q -json -addr "${addrs%,}" -c "$SUBS" -channels "$CHANNELS" -prefix bench: \
    -rate "$RATE" -d "$DUR" -s "$SIZE" -push-url "http://127.0.0.1:$((BASE + 2))" -push-key "$PUSH_KEY" \
    > "$OUT/fanout.json" 2> "$OUT/fanout.txt" &
  BENCH_PID=$!
  wait "$BENCH_PID" || echo "cluster: wharf-bench exited with $?" >&2
  {
    printf 'process\tcpu_s\n'
    for i in $(seq 0 $((N - 1))); do printf 'node%d\t%s\n' "$i" "$(echo "$(cpu "${NODES[$i]}") - ${before[node$i]}" | bc)"; done
    [ -n "$NATS_PID" ] && printf 'nats-server\t%s\n' "$(echo "$(cpu "$NATS_PID") - ${before[nats]}" | bc)"
    [ -n "$PG_PID" ] && printf 'postgres\t%s\n' "$(echo "$(cpu "$PG_PID") - ${before[postgres]}" | bc)"
  } > "$OUT/cpu.txt"
  cat "$OUT/fanout.txt"
  column -t "$OUT/cpu.txt" 2>/dev/null || cat "$OUT/cpu.txt"
  for i in $(seq 0 $((N - 1))); do
    curl -sf "http://127.0.0.1:$((BASE + 10 * i + 2))/metrics" | grep -E '^wharf_cluster_(messages|refused|dropped)|^wharf_channels_drops_total|^wharf_packets_dropped_total|^wharf_kicks_total\{reason="slow_reader"\}' | sed "s/^/node$i: /"
  done
  exit 0
fi

if [ -n "$SMOKE" ]; then
  echo "== smoke: register on node0, log in on node1, the session works on node$((N - 1))"
  web0="http://127.0.0.1:$((BASE + 1))" web1="http://127.0.0.1:$((BASE + 11))" webN="http://127.0.0.1:$((BASE + 10 * (N - 1) + 1))"
  curl -sf -X POST -d '{"username":"smoke","password":"correct horse"}' "$web0/api/register" > /dev/null
  curl -sf -c "$OUT/jar" -X POST -d '{"username":"smoke","password":"correct horse"}' "$web1/api/login" > /dev/null
  curl -sf -b "$OUT/jar" "$webN/api/me" | grep -q '"username":"smoke"'
  curl -sf "http://127.0.0.1:$((BASE + 2))/metrics" | grep -q '^wharf_cluster_connected 1'
  echo "cluster: smoke ok"
  exit 0
fi
echo "cluster: running; Ctrl-C stops it"
wait

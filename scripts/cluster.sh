#!/usr/bin/env bash
# cluster.sh: a wharf cluster on this machine, to try the multi-node mode:
# a nats-server, a PostgreSQL and N wharfd nodes sharing them (README,
# "Cluster").
#
#   scripts/cluster.sh               # 3 nodes; Ctrl-C stops everything
#   N=5 BASE=27000 scripts/cluster.sh
#   SMOKE=1 scripts/cluster.sh       # start, check the cluster works, stop
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
# Knobs (environment): N, BASE, NATS_PORT, PG_PORT, PROCESSES (workers per
# node), OUT, NATS_URL, PG_URL, SMOKE.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3}
BASE=${BASE:-17000}
NATS_PORT=${NATS_PORT:-$((BASE + 900))}
PG_PORT=${PG_PORT:-$((BASE + 901))}
PROCESSES=${PROCESSES:-0}
OUT=${OUT:-$(mktemp -d /tmp/wharf-cluster.XXXXXX)}
SMOKE=${SMOKE:-}
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
[ -n "${NATS_URL:-}" ] || go build -o "$OUT/nats-server" github.com/nats-io/nats-server/v2

if [ -z "${NATS_URL:-}" ]; then
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

[http]
listen = "127.0.0.1:$((p + 1))"

[admin]
listen = "127.0.0.1:$((p + 2))"

[kcp]
listen = []

[database]
url = "$PG_URL"

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
wait_for "every node to see $N nodes" \
  sh -c "curl -sf http://127.0.0.1:$((BASE + 2))/api/stats | grep -q '\"nodes\":$N[,}]'"

for i in $(seq 0 $((N - 1))); do
  p=$((BASE + 10 * i))
  echo "node$i: packets 127.0.0.1:$p  web http://127.0.0.1:$((p + 1))/  dashboard http://127.0.0.1:$((p + 2))/  log $OUT/node$i.log"
done
echo "nats: $NATS_URL  postgres: $PG_URL"

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

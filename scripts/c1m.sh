#!/usr/bin/env bash
# c1m.sh: hold N concurrent connections against wharfd on this machine, with
# heartbeats, for a while, and report what it costs (issue 9, SPEC §8).
#
#   sudo N=100000 DUR=2m scripts/c1m.sh      # a first run
#   sudo scripts/c1m.sh                      # 1,000,000 connections for 10 minutes
#
# It prepares the machine (sysctls: the old values are saved and restored on
# exit), starts wharfd with enough worker processes for the per-process
# descriptor limit, holds the connections with `wharf-bench hold` (client
# processes, source addresses 127.0.0.2-127.0.0.60, several server ports),
# samples memory and CPU every SAMPLE seconds, and prints a summary. Every
# output file is in $OUT.
#
# Knobs (environment): N, DUR, RATE (new connections per second), CLOSE_RATE
# (closes per second at the end), HEARTBEAT (ping interval per connection),
# PORTS (server ports), SRC, PER_WORKER (connections per wharfd worker),
# SAMPLE, OUT, TRANSPORT (tcp, the default, or ws: the packet protocol over
# WebSocket, the ports then being HTTP listeners with /ws).
#
#   sudo TRANSPORT=ws N=100000 DUR=3m HEARTBEAT=30s scripts/c1m.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
DUR=${DUR:-10m}
RATE=${RATE:-3000}
CLOSE_RATE=${CLOSE_RATE:-$RATE}
HEARTBEAT=${HEARTBEAT:-120s}
PORTS=${PORTS:-4}
SRC=${SRC:-127.0.0.2-127.0.0.60}
PER_WORKER=${PER_WORKER:-19000}
SAMPLE=${SAMPLE:-10}
OUT=${OUT:-/tmp/c1m-$(date +%Y%m%d-%H%M%S)}
TRANSPORT=${TRANSPORT:-tcp}
case "$TRANSPORT" in tcp|ws) ;; *) echo "c1m: TRANSPORT must be tcp or ws, not $TRANSPORT" >&2; exit 2 ;; esac
WORKERS=${WORKERS:-$(( (N + PER_WORKER - 1) / PER_WORKER ))}
mkdir -p "$OUT"
echo "c1m: TRANSPORT=$TRANSPORT N=$N DUR=$DUR RATE=$RATE HEARTBEAT=$HEARTBEAT PORTS=$PORTS WORKERS=$WORKERS OUT=$OUT"

[ "$(id -u)" = 0 ] || { echo "c1m: run as root (sysctls)" >&2; exit 2; }

echo "== build"
go build -o "$OUT/wharfd" ./cmd/wharfd
go build -o "$OUT/wharf-bench" ./cmd/wharf-bench

# --- sysctls: save, set, restore on exit -----------------------------------
declare -A WANT=(
  [fs.file-max]=4000000                        # 2 sockets per connection, both ends here
  [net.ipv4.ip_local_port_range]="1024 65535"  # ephemeral ports per source address
  [net.core.somaxconn]=65535                   # accept queues during the ramp
  [net.ipv4.tcp_max_syn_backlog]=65535
  [net.ipv4.tcp_mem]="2097152 3145728 4194304" # pages: 8/12/16 GiB before TCP memory pressure
  [net.ipv4.tcp_rmem]="4096 4096 6291456"      # idle sockets: a small default buffer
  [net.ipv4.tcp_wmem]="4096 4096 4194304"
  [net.ipv4.tcp_tw_reuse]=1                    # reconnects reuse TIME_WAIT ports
)
[ -e /proc/sys/net/netfilter/nf_conntrack_max ] && WANT[net.netfilter.nf_conntrack_max]=4000000
: > "$OUT/sysctl.old"
for k in "${!WANT[@]}"; do
  printf '%s\t%s\n' "$k" "$(sysctl -n "$k" | tr '\t' ' ')" >> "$OUT/sysctl.old"
done
restore() {
  set +e
  [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null
  if [ -n "${WHARFD:-}" ] && kill -0 "$WHARFD" 2>/dev/null; then
    kill -QUIT "$WHARFD"; for _ in $(seq 60); do kill -0 "$WHARFD" 2>/dev/null || break; sleep 1; done
    kill -KILL "$WHARFD" 2>/dev/null
  fi
  while IFS=$'\t' read -r k v; do sysctl -q -w "$k=$v" >/dev/null; done < "$OUT/sysctl.old"
  echo "c1m: sysctls restored"
}
trap restore EXIT
for k in "${!WANT[@]}"; do sysctl -q -w "$k=${WANT[$k]}" >/dev/null; done

# --- wharfd ------------------------------------------------------------------
LISTEN=""; ADDRS=""
for i in $(seq 0 $((PORTS - 1))); do
  LISTEN+="\"tcp://127.0.0.1:$((7000 + i))\","; ADDRS+="127.0.0.1:$((7000 + i)),"
done
# The packet listeners are the hold's ports over TCP; over WebSocket they
# are HTTP listeners, and the packet protocol itself listens on one port
# nobody uses.
PACKET_LISTEN="[${LISTEN%,}]"; HTTP_LISTEN='["tcp://127.0.0.1:18080"]'
if [ "$TRANSPORT" = ws ]; then
  HTTP_LISTEN="[${LISTEN%,}]"; PACKET_LISTEN='["tcp://127.0.0.1:18070"]'
fi
cat > "$OUT/wharf.toml" <<TOML
processes = $WORKERS
pid_file = "$OUT/wharfd.pid"
data_dir = "$OUT/data"
drain_timeout = "30s"
[server]
listen = $PACKET_LISTEN
max_connections = $((PER_WORKER + 500))
max_connections_per_ip = 0   # the load comes from a few loopback addresses
idle_timeout = "$(( $(echo "$HEARTBEAT" | tr -dc 0-9) * 3 ))s"
stats_interval = "30s"
[http]
listen = $HTTP_LISTEN
max_connections = $((PER_WORKER + 500))
max_connections_per_ip = 0
[admin]
listen = "tcp://127.0.0.1:18090"
[kcp]
listen = []
[log]
file = "$OUT/wharfd.log"
async = true
TOML
"$OUT/wharfd" -t -c "$OUT/wharf.toml"
"$OUT/wharfd" -c "$OUT/wharf.toml" > "$OUT/wharfd.stdout" 2>&1 &
WHARFD=$!
for _ in $(seq 120); do grep -q "supervisor: serving" "$OUT/wharfd.log" 2>/dev/null && break; sleep 1; done
grep -q "supervisor: serving" "$OUT/wharfd.log" || { echo "c1m: wharfd did not start"; tail "$OUT/wharfd.log"; exit 1; }
echo "== wharfd serving with $WORKERS workers (pid $WHARFD)"

# --- sampler -----------------------------------------------------------------
rss_sum() { # total VmRSS (KiB) of processes whose command line matches $1
  local t=0
  for p in $(pgrep -f "$1"); do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${v:-0}))
  done
  echo $t
}
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
(
  set +eo pipefail # a sample that fails (a slow curl, head closing a pipe) is not fatal
  peak=0
  echo "time,online,server_rss_kib,client_rss_kib,tcp_inuse,tcp_mem_pages,slab_kib,sunreclaim_kib,memavail_kib,cpu_busy_ticks,cpu_idle_ticks"
  while :; do
    online=$(curl -s --max-time 20 http://127.0.0.1:18090/api/stats | sed -n 's/.*"online":\([0-9]*\).*/\1/p')
    read -r busy idle < <(cpu_busy)
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$(date +%s)" "${online:-0}" \
      "$(rss_sum "$OUT/wharfd")" "$(rss_sum "$OUT/wharf-bench")" \
      "$(awk '/^TCP:/{print $3}' /proc/net/sockstat)" "$(awk '/^TCP:/{print $NF}' /proc/net/sockstat)" \
      "$(awk '/^Slab:/{print $2}' /proc/meminfo)" "$(awk '/^SUnreclaim:/{print $2}' /proc/meminfo)" \
      "$(awk '/^MemAvailable:/{print $2}' /proc/meminfo)" "$busy" "$idle"
    # Keep the kernel's slab breakdown at the highest count seen so far.
    if [ "${online:-0}" -gt "$peak" ]; then
      peak=$online
      { echo "# /proc/slabinfo at $online connections: cache, objects, object size, MiB"
        awk 'NR>2 {printf "%-28s %10d %6d %8.1f\n", $1, $3, $4, $3*$4/1048576}' /proc/slabinfo | sort -k4 -nr | head -15
      } > "$OUT/slab-peak.txt"
    fi
    sleep "$SAMPLE"
  done
) > "$OUT/samples.csv" &
SAMPLER=$!

# --- hold --------------------------------------------------------------------
echo "== hold $N connections for $DUR"
set +e
"$OUT/wharf-bench" hold -transport "$TRANSPORT" -addr "${ADDRS%,}" -src "$SRC" -c "$N" -rate "$RATE" -close-rate "$CLOSE_RATE" \
  -heartbeat "$HEARTBEAT" -d "$DUR" -q -json > "$OUT/hold.json" 2> "$OUT/hold.log"
HOLD_STATUS=$?
set -e
curl -s --max-time 10 http://127.0.0.1:18090/api/stats > "$OUT/server-stats.json" || true
kill "$SAMPLER" 2>/dev/null || true; SAMPLER=

# --- summary -----------------------------------------------------------------
echo "== summary ($OUT)"
python3 - "$OUT" "$N" <<'PY'
import csv, json, sys
out, n = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(out + "/samples.csv")))
base = rows[0]
peak = max(rows, key=lambda r: int(r["online"] or 0))
held = int(peak["online"] or 0)
def per(k, r=peak):
    d = int(r[k]) - int(base[k])
    return d * 1024 / held if held else 0
print(f"connections held (peak, server count): {held:,} of {n:,}")
if held:
    print(f"server RSS per connection:  {per('server_rss_kib'):8.0f} B  (total {int(peak['server_rss_kib'])/1024:.0f} MiB)")
    print(f"client RSS per connection:  {per('client_rss_kib'):8.0f} B  (total {int(peak['client_rss_kib'])/1024:.0f} MiB)")
    print(f"kernel slab per connection: {per('slab_kib'):8.0f} B  (both ends; slab {int(peak['slab_kib'])/1024:.0f} MiB)")
    print(f"TCP buffer memory (sockstat): {int(peak['tcp_mem_pages'])*4/1024:.0f} MiB")
    print(f"memory available at peak: {int(peak['memavail_kib'])/1024/1024:.1f} GiB")
b0, i0 = int(rows[0]["cpu_busy_ticks"]), int(rows[0]["cpu_idle_ticks"])
b1, i1 = int(rows[-1]["cpu_busy_ticks"]), int(rows[-1]["cpu_idle_ticks"])
print(f"CPU busy over the run: {100*(b1-b0)/max(1,(b1-b0)+(i1-i0)):.0f}% of 2 cores")
try:
    h = json.load(open(out + "/hold.json"))
    print("hold result:", json.dumps({k: h.get(k) for k in ("errors", "latency", "hold")}, indent=1)[:3000])
except Exception as e:
    print("hold.json:", e)
try:
    s = json.load(open(out + "/server-stats.json"))
    print("server kicks over the run:", s.get("kicks"))
except Exception as e:
    print("server stats:", e)
PY
[ -f "$OUT/slab-peak.txt" ] && cat "$OUT/slab-peak.txt"
echo "c1m: wharf-bench hold exit status $HOLD_STATUS"
exit $HOLD_STATUS

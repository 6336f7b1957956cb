#!/usr/bin/env bash
# Runs the KCP-vs-TCP benchmark of bench/RESULTS.md (section kcp):
#  1. the wrapper path: KCP in every mode through package lossy (loss each
#     way, DELAY one way), server and clients in one process;
#  2. the kernel path: TCP and KCP in every mode through the kernel, the
#     server in network namespace A and the clients in B, joined by TUN
#     devices and ./tunlink (loss each way, DELAY one way). This kernel has no
#     netem (CONFIG_NET_SCH_NETEM is unset), so tunlink plays its part.
# Needs root (ip netns, /dev/net/tun). Every process is bounded by timeout;
# the namespaces are deleted on exit. WRAPPER_LOSSES="" or KERNEL_LOSSES=""
# skips a path; RUNS repeats each row (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-5s}
PUSH=${PUSH:-1024}
DELAY=${DELAY:-10ms}
RUNS=${RUNS:-1}
DIR=$(mktemp -d)
go build -o "$DIR/kcpbench" ./kcp
go build -o "$DIR/tunlink" ./kcp/tunlink

echo "| path | loss | transport | p50 ms | p99 ms | mean ms | req/s | push MB/s |"
echo "|---|---|---|---|---|---|---|---|"
for loss in ${WRAPPER_LOSSES-0 0.05 0.15}; do
	for _ in $(seq "$RUNS"); do
		timeout 300 "$DIR/kcpbench" -path wrapper -loss "$loss" -latency "$DELAY" -duration "$DUR" -push "$PUSH"
	done
done

KERNEL_LOSSES=${KERNEL_LOSSES-0 0.05 0.15}
[ -z "$KERNEL_LOSSES" ] && exit 0
A=wharf-kcpb-a-$$
B=wharf-kcpb-b-$$
SERVER=
LINK=
cleanup() {
	[ -n "$LINK" ] && kill "$LINK" 2>/dev/null || true
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
# 198.18.0.0/15 is the range set aside for benchmarks (RFC 2544); it exists
# only inside these two namespaces.
for ns in "$A" "$B"; do
	ip netns add "$ns"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip tuntap add dev wt0 mode tun
done
ip netns exec "$A" ip addr add 198.18.0.1/30 dev wt0
ip netns exec "$B" ip addr add 198.18.0.2/30 dev wt0
for ns in "$A" "$B"; do
	ip netns exec "$ns" ip link set wt0 mtu 1500 up
done
ip netns exec "$A" timeout 1800 "$DIR/kcpbench" -role server -host 198.18.0.1 -for 25m &
SERVER=$!
sleep 1
for loss in $KERNEL_LOSSES; do
	"$DIR/tunlink" -a "$A" -b "$B" -loss "$loss" -delay "$DELAY" -for 20m 2>/dev/null &
	LINK=$!
	sleep 0.5
	for _ in $(seq "$RUNS"); do
		timeout 900 ip netns exec "$B" "$DIR/kcpbench" -role client -path kernel -host 198.18.0.1 \
			-loss "$loss" -duration "$DUR" -push "$PUSH"
	done
	kill "$LINK"
	wait "$LINK" 2>/dev/null || true
	LINK=
done

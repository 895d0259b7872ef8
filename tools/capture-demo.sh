#!/usr/bin/env bash
# capture-demo.sh - the `make run` demo: shows `weir capture` on real traffic
# without touching the host's network.
#
# It creates two network namespaces joined by a veth pair, starts
# `weir capture -c N` on the receiving end (in namespace B), and has trafgen
# send UDP and TCP from namespace A. B's kernel answers every datagram with
# an ICMP port unreachable and every segment with a TCP reset, so the capture
# shows both directions. Everything is deleted on exit, even on failure.
#
# Usage: tools/capture-demo.sh [BIN_DIR]   (default bin; needs bin/weir and
# bin/trafgen, and root)
set -euo pipefail

bin=${1:-bin}
n=8 # frames of each protocol
for b in weir trafgen; do
	[ -x "$bin/$b" ] || { echo "capture-demo: $bin/$b not built (run make build)" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
	echo "capture-demo: needs root to create namespaces and load BPF programs" >&2
	exit 1
fi
command -v ip >/dev/null || { echo "capture-demo: ip(8) from iproute2 is missing (run tools/deps.sh)" >&2; exit 1; }

tag=$$
nsa=weir-demo-$tag-a nsb=weir-demo-$tag-b
va=wda$tag vb=wdb$tag
weir_pid=
cleanup() {
	[ -n "$weir_pid" ] && kill -INT "$weir_pid" 2>/dev/null || true
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "$va" type veth peer name "$vb"
ip link set "$va" netns "$nsa"
ip link set "$vb" netns "$nsb"
for ns in "$nsa" "$nsb"; do
	# Keep the pair quiet (no IPv6 autoconfiguration chatter) and make B
	# answer every datagram, not one per second.
	# /proc/sys/net shows the settings of the reader's namespace.
	ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 &&
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 &&
		echo 0 >/proc/sys/net/ipv4/icmp_ratelimit' 
done
ip -n "$nsa" addr add 10.213.0.1/30 dev "$va"
ip -n "$nsb" addr add 10.213.0.2/30 dev "$vb"
ip -n "$nsa" link set "$va" up
ip -n "$nsb" link set "$vb" up

# n UDP + n TCP frames in, n ICMP + n RST out, plus B's ARP request for A
# and A's reply.
total=$((4 * n + 2))
echo "+ weir capture -i $vb -c $total    (in namespace $nsb)"
errlog=$(mktemp)
timeout -s INT 30 ip netns exec "$nsb" "$bin/weir" capture -i "$vb" -c "$total" 2>"$errlog" &
weir_pid=$!
# Wait until weir is attached (it reports "listening") before sending.
for _ in $(seq 100); do
	grep -q listening "$errlog" && break
	if ! kill -0 "$weir_pid" 2>/dev/null; then
		cat "$errlog" >&2
		exit 1
	fi
	sleep 0.05
done
echo "+ trafgen: $n UDP datagrams over 4 flows and $n TCP segments from $va (namespace $nsa), 20 per second"
"$bin/trafgen" -q --netns "$nsa" -i "$va" --rx-netns "$nsb" --rx-iface "$vb" -p udp -s 64 -f 4 -c "$n" -r 20 >/dev/null &
tg=$!
wait "$tg"
"$bin/trafgen" -q --netns "$nsa" -i "$va" --rx-netns "$nsb" --rx-iface "$vb" -p tcp -s 70 --dport 80 -c "$n" -r 20 >/dev/null
set +e
wait "$weir_pid"
rc=$?
weir_pid=
set -e
grep -v listening "$errlog" >&2 || true
rm -f "$errlog"
exit "$rc"

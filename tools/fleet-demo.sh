#!/usr/bin/env bash
# fleet-demo.sh - the `make demo-fleet` demo: two capture agents in two
# network namespaces publish the packets they capture to one NATS server,
# and a third weir consumes them all into one pcapng file that tshark reads.
#
#   ns A (agent a) --veth--+
#                          +-- ns S: nats-server, weir consumer -> fleet.pcapng
#   ns B (agent b) --veth--+
#
# Each agent runs `weir run` with a packet source on its uplink (kernel
# filter "icmp", so the NATS traffic itself is not captured) feeding a
# nats_out sink; agent a publishes one event per message, agent b batch
# frames, to subjects fleet.a and fleet.b. Each pings the server namespace
# N times, so each captures 2N packets (requests and replies) and stops.
# The consumer subscribes to fleet.> (core NATS) and writes a pcapng file.
# The demo checks that the counts add up: what each agent captured and
# published, what the consumer received and wrote, and what tshark reads,
# per agent. Everything is deleted on exit, even on failure.
#
# Usage: tools/fleet-demo.sh [BIN_DIR]   (needs BIN_DIR/weir and
# BIN_DIR/nats-server, which make demo-fleet builds; root; tshark)
set -euo pipefail

bin=${1:-bin}
n=${N:-20}
for b in weir nats-server; do
	[ -x "$bin/$b" ] || { echo "fleet-demo: $bin/$b not built (run make demo-fleet)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "fleet-demo: needs root to create namespaces and load BPF programs" >&2; exit 1; }
for c in ip tshark ping; do
	command -v "$c" >/dev/null || { echo "fleet-demo: $c is missing (run tools/deps.sh)" >&2; exit 1; }
done

tag=$$
nss=weir-fleet-$tag-s nsa=weir-fleet-$tag-a nsb=weir-fleet-$tag-b
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for ns in "$nsa" "$nsb" "$nss"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

for ns in "$nss" "$nsa" "$nsb"; do
	ip netns add "$ns"
	ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
	ip -n "$ns" link set lo up
done
i=1
for agent in a b; do
	ns=weir-fleet-$tag-$agent
	ip link add "wf$agent$tag" type veth peer name "ws$agent$tag"
	ip link set "wf$agent$tag" netns "$ns"
	ip link set "ws$agent$tag" netns "$nss"
	ip -n "$ns" addr add "10.214.$i.1/24" dev "wf$agent$tag"
	ip -n "$nss" addr add "10.214.$i.2/24" dev "ws$agent$tag"
	ip -n "$ns" link set "wf$agent$tag" up
	ip -n "$nss" link set "ws$agent$tag" up
	i=$((i + 1))
done

echo "+ nats-server in namespace S"
ip netns exec "$nss" "$bin/nats-server" -a 0.0.0.0 -p 4222 >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	ip netns exec "$nss" bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222' 2>/dev/null && break
	sleep 0.05
done

cat >"$work/consumer.yaml" <<YAML
connectors:
  in: {type: nats_in, config: {url: "nats://127.0.0.1:4222", subject: "fleet.>", buffer: 4096}}
  file: {type: pcapng, config: {path: "$work/fleet.pcapng"}}
connections:
  - {from: in, to: file}
YAML
echo "+ consumer: weir run (nats_in fleet.> -> pcapng) in namespace S"
ip netns exec "$nss" "$bin/weir" run -c "$work/consumer.yaml" >"$work/consumer.out" 2>"$work/consumer.err" &
consumer=$!
pids+=($consumer)
for _ in $(seq 200); do
	grep -q 'connector running connector=in' "$work/consumer.err" 2>/dev/null && break
	sleep 0.05
done

i=1
agents=()
for agent in a b; do
	ns=weir-fleet-$tag-$agent
	framing=event
	[ "$agent" = b ] && framing=batch
	cat >"$work/agent-$agent.yaml" <<YAML
connectors:
  cap: {type: packet, config: {interfaces: [wf$agent$tag], filter: icmp, count: $((2 * n))}}
  out: {type: nats_out, config: {url: "nats://10.214.$i.2:4222", subject: fleet.$agent, framing: $framing}}
connections:
  - {from: cap, to: out}
YAML
	echo "+ agent $agent: weir run (packet wf$agent$tag, filter icmp, count $((2 * n)) -> nats_out fleet.$agent, $framing framing) in namespace ${agent^^}"
	ip netns exec "$ns" "$bin/weir" run -c "$work/agent-$agent.yaml" >"$work/agent-$agent.out" 2>"$work/agent-$agent.err" &
	agents+=($!)
	pids+=($!)
	i=$((i + 1))
done
for agent in a b; do
	for _ in $(seq 200); do
		grep -q 'connector running connector=cap' "$work/agent-$agent.err" 2>/dev/null && break
		sleep 0.05
	done
done
echo "+ each agent namespace pings S $n times"
ip netns exec "$nsa" ping -q -c "$n" -i 0.02 10.214.1.2 >/dev/null &
pa=$!
ip netns exec "$nsb" ping -q -c "$n" -i 0.02 10.214.2.2 >/dev/null
wait "$pa"

rc=0
for p in "${agents[@]}"; do
	timeout 20 tail --pid="$p" -f /dev/null || { echo "fleet-demo: an agent did not finish within 20s" >&2; rc=1; }
	wait "$p" || rc=1
done
# The consumer runs until interrupted: give it until it has every event
# (bounded), then stop it and let it write its summary.
want=$((4 * n))
for _ in $(seq 100); do
	got=$(grep -c . <(tshark -r "$work/fleet.pcapng" 2>/dev/null) || true)
	[ "${got:-0}" -ge "$want" ] && break
	sleep 0.1
done
kill -INT "$consumer"
wait "$consumer" || rc=1

sink_out() { # the events a component delivered, from a weir run summary
	awk -v name="$2" '$1 == name && $3 == "sink" { print $5 }' "$1"
}
echo
for agent in a b; do
	echo "agent $agent summary:"
	sed -n '/accounting summary:/,$p' "$work/agent-$agent.out"
done
echo "consumer summary:"
sed -n '/accounting summary:/,$p' "$work/consumer.out"
echo
total=$(tshark -r "$work/fleet.pcapng" 2>/dev/null | wc -l)
from_a=$(tshark -r "$work/fleet.pcapng" -Y 'ip.addr == 10.214.1.1' 2>/dev/null | wc -l)
from_b=$(tshark -r "$work/fleet.pcapng" -Y 'ip.addr == 10.214.2.1' 2>/dev/null | wc -l)
echo "tshark reads $total packets from the consumer's pcapng: $from_a of agent a (10.214.1.1), $from_b of agent b (10.214.2.1)"
echo "expected: $((2 * n)) per agent ($n echo requests and $n replies), $want in all"
if [ "$total" -ne "$want" ] || [ "$from_a" -ne $((2 * n)) ] || [ "$from_b" -ne $((2 * n)) ]; then
	echo "fleet-demo: the counts do not add up" >&2
	for f in "$work"/*.err; do echo "== $f"; tail -5 "$f"; done >&2
	rc=1
fi
if [ "$rc" -eq 0 ]; then
	echo "fleet-demo: ok, the counts add up"
fi
exit "$rc"

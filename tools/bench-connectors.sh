#!/usr/bin/env bash
# bench-connectors.sh - the broker sink benchmark of docs/BENCHMARKS.md,
# side by side in one run:
#
#   blaster -> nats_out (core, JetStream) and -> kafka_out (kfake),
#   64 and 512 bytes, event and batch framing   (tools/connbench)
#   nats bench pub, the same sizes, the same server
#
# It builds nats-server from the Go module weir's tests use, installs
# nats bench (natscli v0.5.0) into a temporary GOBIN (not a dependency of
# weir), starts `nats-server -js` on 127.0.0.1 with a temporary store, and
# stops it at exit.
#
# Usage: tools/bench-connectors.sh [DURATION]   (default 3s per weir case)
set -euo pipefail

dur=${1:-3s}
msgs=${MSGS:-2000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building nats-server (module github.com/nats-io/nats-server/v2) and installing natscli v0.5.0 into $work/bin" >&2
(cd "$root" && go build -o "$work/bin/nats-server" github.com/nats-io/nats-server/v2)
nats=${NATS_CLI:-}
if [ -z "$nats" ]; then
	(cd "$work" && GOBIN="$work/bin" GOFLAGS=-mod=mod go install github.com/nats-io/natscli/nats@v0.5.0)
	nats=$work/bin/nats
fi

port=$((14000 + $$ % 1000))
url=nats://127.0.0.1:$port
"$work/bin/nats-server" -js -a 127.0.0.1 -p "$port" -sd "$work/store" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
	sleep 0.05
done

echo "## weir sinks (tools/connbench, $dur per case)"
(cd "$root" && go run ./tools/connbench -nats "$url" -sizes 64,512 -duration "$dur" 2>"$work/connbench.err") || { tail "$work/connbench.err" >&2; exit 1; }
echo
echo "## nats bench (natscli v0.5.0), same server; MB/s is msgs/s x size / 10^6"
echo "| tool | size | msgs/s | MB/s |"
echo "|---|---|---|---|"
row() { # name size output
	local rate
	rate=$(grep -E 'publisher stats' <<<"$3" | tail -1 | sed -E 's/.*stats: ([0-9,]+) msgs\/sec.*/\1/' | tr -d ,)
	[ -n "$rate" ] || { echo "nats bench printed no rate:" >&2; echo "$3" >&2; exit 1; }
	echo "| $1 | $2 | $rate | $(awk -v r="$rate" -v s="$2" 'BEGIN { printf "%.1f", r * s / 1e6 }') |"
}
for size in 64 512; do
	row "nats bench pub (core)" "$size" "$("$nats" bench pub bench.core --server "$url" --size "$size" --msgs "$msgs" --no-progress 2>&1)"
	row "nats bench js pub async" "$size" "$("$nats" bench js pub async bench.jsnb --server "$url" --size "$size" --msgs $((msgs / 10)) --create --purge --no-progress 2>&1)"
done

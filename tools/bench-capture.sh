#!/usr/bin/env bash
# bench-capture.sh - the "Capture vs tcpdump" benchmark of docs/BENCHMARKS.md.
#
# Builds bin/weir, then runs tools/benchcapture twice: as fast as the
# generator goes, and at an offered 1 Mpps. Each run puts a fresh veth pair
# in throw-away namespaces, sends 6 million 128-byte UDP frames with trafgen
# and captures them on the receiving end with snaplen 96 into a file under
# /dev/shm, with no capture, tcpdump, weir capture --mode xdp and --mode tc;
# in the same rotation, with no traffic, a process that only writes the bytes
# of each tool's file the way that tool writes them (write-pcap,
# write-pcapng).
# Needs root, tcpdump and a kernel with XDP live frames.
#
# Usage: tools/bench-capture.sh [BIN_DIR]   (extra settings: COUNT, REPS, DIR)
set -euo pipefail
bin=${1:-bin}
count=${COUNT:-6000000}
reps=${REPS:-5}
dir=${DIR:-/dev/shm}
command -v tcpdump >/dev/null || { echo "bench-capture: tcpdump is missing (run tools/deps.sh)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench-capture: needs root" >&2; exit 1; }
CGO_ENABLED=0 go build -o "$bin/weir" ./cmd/weir
CGO_ENABLED=0 go build -o "$bin/benchcapture" ./tools/benchcapture
echo "## offered: as fast as trafgen goes"
"$bin/benchcapture" -bin "$bin" -count "$count" -reps "$reps" -dir "$dir"
echo
echo "## offered: 1 Mpps"
"$bin/benchcapture" -bin "$bin" -count "$count" -reps "$reps" -dir "$dir" -rate 1000000

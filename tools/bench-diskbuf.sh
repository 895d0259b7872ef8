#!/usr/bin/env bash
# bench-diskbuf.sh - the "Disk buffer" benchmark of docs/BENCHMARKS.md.
#
# Builds bin/weir, then, for each event size, runs blaster -> disk buffer ->
# blackhole flat out with each fsync policy (batch, 100ms, never), and a
# plain sequential write of the same bytes (the buffer's bytes written,
# framing included) with dd oflag=direct, all in DIR, in rotation, REPS
# times. It prints one markdown table row per case: the median wall time
# and MB/s (10^6 bytes) of bytes written, and the ratio to dd's median.
#
# Usage: tools/bench-diskbuf.sh [BIN_DIR]   (settings: BYTES, REPS, DIR, SIZES)
set -euo pipefail
bin=${1:-bin}
total=${BYTES:-2147483648}      # event bytes per run
reps=${REPS:-3}
dir=${DIR:-/var/tmp/weir-bench-diskbuf}
sizes=${SIZES:-"512 64"}
CGO_ENABLED=0 go build -o "$bin/weir" ./cmd/weir
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
fs=$(df --output=source,fstype "$dir" | tail -1)
echo "directory $dir on $fs; $(nproc) CPUs; $(uname -r)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

for size in $sizes; do
	count=$((total / size))
	declare -A secs=() bytes=()
	for rep in $(seq "$reps"); do
		for fsync in batch 100ms never; do
			rm -rf "$dir/buf"
			cat >"$dir/c.yaml" <<YAML
connectors:
  gen: {type: blaster, config: {count: $count, size: $size}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: gen, to: hole, buffer: {type: disk, path: $dir/buf, max_size: 8GiB, fsync: $fsync}}
YAML
			t0=$(now)
			"$bin/weir" run -c "$dir/c.yaml" --metrics off --log-level warn >"$dir/out" 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
			t1=$(now)
			grep -q '^accounting: balanced' "$dir/out" || { echo "bench-diskbuf: summary does not balance" >&2; cat "$dir/out" >&2; exit 1; }
			w=$(sed -n 's/.*events buffered (\([0-9]*\) bytes written).*/\1/p' "$dir/out")
			bytes[$fsync]=$w
			secs[$fsync]+="$(echo "$t1 - $t0" | bc -l) "
		done
		# dd of the same bytes, whole MiB blocks.
		mib=$(( (bytes[100ms] + 1048575) / 1048576 ))
		rm -f "$dir/dd.out"
		t0=$(now)
		dd if=/dev/zero of="$dir/dd.out" bs=1M count="$mib" oflag=direct status=none
		t1=$(now)
		rm -f "$dir/dd.out"
		bytes[dd]=$((mib * 1048576))
		secs[dd]+="$(echo "$t1 - $t0" | bc -l) "
	done
	ddm=$(echo "${secs[dd]}" | tr ' ' '\n' | grep . | median)
	ddrate=$(echo "${bytes[dd]} / $ddm / 1000000" | bc -l)
	echo
	echo "### $size-byte events, $count events ($((total >> 20)) MiB of event bytes), median of $reps"
	echo
	echo "| case | bytes written | median s | MB/s | vs dd |"
	echo "|---|---|---|---|---|"
	for c in batch 100ms never dd; do
		m=$(echo "${secs[$c]}" | tr ' ' '\n' | grep . | median)
		rate=$(echo "${bytes[$c]} / $m / 1000000" | bc -l)
		name="weir, fsync $c"
		[ "$c" = dd ] && name="dd bs=1M oflag=direct"
		printf '| %s | %d | %.2f | %.0f | %.2f |\n' "$name" "${bytes[$c]}" "$m" "$rate" "$(echo "$rate / $ddrate" | bc -l)"
	done
	unset secs bytes
done

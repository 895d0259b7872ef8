#!/usr/bin/env bash
# bench-trace.sh - the "weir trace vs bpftrace, strace and perf trace"
# benchmark of docs/BENCHMARKS.md: the cost per call of a tight loop of
# getpid and of 1-byte writes to /dev/null (tools/sysloop/sysloop.c), with
# no tracer and under each tracer, measured in the same run, rotating the
# cases for each repetition.
#
# Each case starts sysloop held at a gate (a FIFO), attaches the tracer to
# its pid (weir's --pid, bpftrace's /pid == N/, strace -p, perf trace -p),
# waits SETTLE seconds, opens the gate and waits for the loop. sysloop
# prints its thread's CPU time per call, which counts the time the kernel
# and the BPF programs spend in its calls but not the time it waits for a
# CPU, so figures hold up on a loaded machine, and its wall time per call.
# "floor" is tools/tracefloor: empty programs on the same two hooks, what
# any tracer there costs before doing anything.
# "weir, other pid" traces a sleeping process instead: every call of the
# loop runs weir's programs and is filtered out in the kernel. With
# kernel.bpf_stats_enabled the script also reads the kernel's run count
# and run time of weir's programs (bpftool prog show) while weir runs.
#
# Needs root. Usage: tools/bench-trace.sh [BIN_DIR]
# Settings: N (calls per loop, default 1000000), NSLOW (for strace and perf
# trace, default 20000), REPS (default 5), SETTLE (default 4: bpftrace
# compiles its program with LLVM first, which takes seconds on a loaded
# machine).
#
# A run counts only when the tracer saw every call of the loop (weir's
# counters, bpftrace's @calls, strace's and perf trace's summary); runs
# where it had not attached in time are dropped and counted in the output.
set -euo pipefail
bin=${1:-bin}
n=${N:-1000000}
nslow=${NSLOW:-20000}
reps=${REPS:-5}
settle=${SETTLE:-4}
[ "$(id -u)" -eq 0 ] || { echo "bench-trace: needs root" >&2; exit 1; }
CGO_ENABLED=0 go build -o "$bin/weir" ./cmd/weir
CGO_ENABLED=0 go build -o "$bin/tracefloor" ./tools/tracefloor
cc -O2 -Wall -Werror -o "$bin/sysloop" tools/sysloop/sysloop.c
tmp=$(mktemp -d)
sleeper=
cleanup() { [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# bpftrace 0.17 attaches classic tracepoints, which need tracefs.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || true
# The kernel's per-program statistics cost two clock reads per run, so
# they are on only in a last pass of the weir cases (BPF ns/run column).
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$old_stats; cleanup' EXIT
sleep 3600 & sleeper=$!

cases=(none floor weir-other weir-print weir-q bpftrace)
command -v strace >/dev/null && cases+=(strace)
perf trace -s -- true >/dev/null 2>&1 && cases+=(perf)
# CASES picks some, e.g. CASES="none bpftrace" SETTLE=15.
[ -n "${CASES:-}" ] && read -r -a cases <<<"$CASES"

# bpfstats prints "RUN_CNT RUN_TIME_NS" summed over weir's sys_enter and
# sys_exit programs.
bpfstats() {
	bpftool prog show -j | python3 -c '
import json, sys
cnt = ns = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith(("weir_sys_enter", "weir_sys_exit", "weir_floor")):
        cnt += p.get("run_cnt", 0); ns += p.get("run_time_ns", 0)
print(cnt, ns)'
}

# one CASE CALL runs one loop under CASE and prints "CASE CALL CPU WALL
# BPF_NS_PER_RUN".
one() {
	local c=$1 call=$2 calls=$n tracer= bpf=-
	case $c in strace | perf) calls=$nslow ;; esac
	rm -f "$tmp/gate" "$tmp/tracer.out" "$tmp/tracer.err" && mkfifo "$tmp/gate"
	"$bin/sysloop" "$call" "$calls" gate <>"$tmp/gate" >"$tmp/loop" &
	local loop=$!
	case $c in
	none) ;;
	floor) "$bin/tracefloor" 2>"$tmp/tracer.err" & tracer=$! ;;
	weir-other) "$bin/weir" trace -q -p "$sleeper" 2>"$tmp/tracer.err" & tracer=$! ;;
	weir-print) "$bin/weir" trace -p "$loop" >/dev/null 2>"$tmp/tracer.err" & tracer=$! ;;
	weir-q) "$bin/weir" trace -q -p "$loop" 2>"$tmp/tracer.err" & tracer=$! ;;
	bpftrace) bpftrace -e "tracepoint:raw_syscalls:sys_enter /pid == $loop/ { @calls = count(); }" >"$tmp/tracer.out" 2>"$tmp/tracer.err" & tracer=$! ;;
	strace) strace -f -c -o "$tmp/tracer.out" -p "$loop" 2>"$tmp/tracer.err" & tracer=$! ;;
	perf) perf trace -s -p "$loop" -o "$tmp/tracer.out" 2>"$tmp/tracer.err" & tracer=$! ;;
	esac
	sleep "$settle"
	local before="0 0" stats
	stats=$(sysctl -n kernel.bpf_stats_enabled)
	[[ ($c == weir-* || $c == floor) && $stats == 1 ]] && before=$(bpfstats)
	echo x >"$tmp/gate"
	wait "$loop"
	if [[ ($c == weir-* || $c == floor) && $stats == 1 ]]; then
		local after
		after=$(bpfstats)
		bpf=$(awk -v a="$after" -v b="$before" 'BEGIN{split(a,x," ");split(b,y," "); if (x[1]>y[1]) printf "%.1f", (x[2]-y[2])/(x[1]-y[1]); else print "-"}')
	fi
	if [ -n "$tracer" ]; then
		kill -INT "$tracer" 2>/dev/null || true
		wait "$tracer" 2>/dev/null || true
		if [[ $c == weir-* ]] && ! grep -q ' calls seen' "$tmp/tracer.err"; then
			echo "bench-trace: weir did not report its counters:" >&2; cat "$tmp/tracer.err" >&2
		fi
		[[ $c == weir-* ]] && sed "s/^/# $c $call: /" "$tmp/tracer.err" >>"$tmp/counters"
	fi
	read -r _ _ cpu wall <"$tmp/loop"
	# How many of the loop's calls the tracer saw.
	local saw=$calls
	case $c in
	weir-other) saw=$(grep -o '[0-9]* filtered out' "$tmp/tracer.err" | cut -d' ' -f1) ;;
	weir-print) saw=$(grep -o '[0-9]* recorded' "$tmp/tracer.err" | cut -d' ' -f1) ;;
	weir-q) saw=$(grep -o '[0-9]* counted' "$tmp/tracer.err" | cut -d' ' -f1) ;;
	bpftrace) saw=$(grep -o '@calls: [0-9]*' "$tmp/tracer.out" | cut -d' ' -f2) ;;
	strace) saw=$(awk -v s="$call" '$NF == s {print $4}' "$tmp/tracer.out") ;;
	perf) saw=$(awk -v s="$call" '$1 == s {print $2}' "$tmp/tracer.out") ;;
	esac
	if [ "${saw:-0}" -lt "$calls" ]; then
		echo "dropped $c $call: the tracer saw ${saw:-0} of $calls calls" >&2
		return
	fi
	echo "$c $call $cpu $wall $bpf"
}

echo "# $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); N=$n NSLOW=$nslow REPS=$reps"
for ((r = 1; r <= reps; r++)); do
	for call in getpid write; do
		for c in "${cases[@]}"; do
			one "$c" "$call"
		done
	done
done | tee "$tmp/raw"
sysctl -qw kernel.bpf_stats_enabled=1
for call in getpid write; do
	for c in floor weir-other weir-print weir-q; do
		[[ " ${cases[*]} " == *" $c "* ]] && one "$c" "$call"
	done
done | sed 's/^/stats /' | tee "$tmp/stats" || true
cat "$tmp/counters" 2>/dev/null | tail -n 4
echo
echo "# medians over $reps runs: ns per call (thread CPU time), added over no tracer; wall ns per call; BPF ns per program run (from the stats pass)"
python3 - "$tmp/raw" "$tmp/stats" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    c, call, cpu, wall, bpf = line.split()
    rows.setdefault((call, c), []).append((float(cpu), float(wall), None))
for line in open(sys.argv[2]):
    _, c, call, cpu, wall, bpf = line.split()
    if bpf != "-" and (call, c) in rows:
        rows[(call, c)].append((None, None, float(bpf)))
for call in ("getpid", "write"):
    base = statistics.median(x[0] for x in rows[(call, "none")] if x[0] is not None)
    print(f"| {call} | case | ns/call (CPU) | added ns/call | wall ns/call | BPF ns/run |")
    print("|---|---|---|---|---|---|")
    for (cl, c), v in rows.items():
        if cl != call:
            continue
        cpu = statistics.median(x[0] for x in v if x[0] is not None)
        wall = statistics.median(x[1] for x in v if x[1] is not None)
        b = [x[2] for x in v if x[2] is not None]
        bs = f"{statistics.median(b):.1f}" if b else "-"
        print(f"| {call} | {c} | {cpu:.0f} | {cpu - base:+.0f} | {wall:.0f} | {bs} |")
    print()
PY

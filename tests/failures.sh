#!/usr/bin/env bash
# failures.sh drives weir's failure paths through the real binary, as a
# user meets them: each case runs a command with a time bound and checks
# its exit status and the first line of its error output (and, where it
# applies, that the accounting summary balances). `make test` runs it as
# root after building bin/weir.
#
# Usage: tests/failures.sh [BIN_DIR]
set -uo pipefail
bin=${1:-bin}
weir="$bin/weir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 cases=0

# check NAME WANT_STATUS STDERR_REGEX [--summary] -- COMMAND...
# runs COMMAND for at most 20 s and checks its status and the first line
# of its standard error against the extended regex.
check() {
	local name=$1 want=$2 re=$3 summary=no
	shift 3
	if [ "$1" = --summary ]; then summary=yes; shift; fi
	[ "$1" = -- ] && shift
	cases=$((cases + 1))
	local start=$SECONDS
	timeout -s KILL 20 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local got=$? first
	first=$(grep -v '^time=' "$tmp/err" | head -n 1)
	local why=""
	if [ "$got" != "$want" ]; then why="exit status $got, want $want"; fi
	if ! printf '%s\n' "$first" | grep -Eq -- "$re"; then why="${why:+$why; }first error line: '$first', want /$re/"; fi
	if [ $summary = yes ] && ! grep -q '^accounting: balanced' "$tmp/out"; then why="${why:+$why; }summary does not balance"; fi
	if [ -n "$why" ]; then
		fails=$((fails + 1))
		echo "FAIL $name ($((SECONDS - start)) s): $why"
		sed 's/^/    /' "$tmp/err" | head -n 8
	else
		echo "ok   $name ($((SECONDS - start)) s)"
	fi
}

# nobody runs the command after it without root and its capabilities.
nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --)

cat >"$tmp/gen.yaml" <<'YAML'
connectors:
  gen:  {type: blaster, config: {count: 1000}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: gen, to: hole}
YAML
cat >"$tmp/bounds.yaml" <<'YAML'
connectors:
  gen:  {type: blaster, config: {rate: -5}}
  hole: {type: blackhole}
connections:
  - {from: gen, to: hole}
YAML
cat >"$tmp/nosuch.yaml" <<'YAML'
connectors:
  cap:  {type: packet, config: {interfaces: [nosuch0]}}
  file: {type: pcapng, config: {path: /dev/null}}
connections:
  - {from: cap, to: file, policy: drop_newest}
YAML
cat >"$tmp/lo.yaml" <<'YAML'
connectors:
  cap:  {type: packet, config: {interfaces: [lo]}}
  file: {type: pcapng, config: {path: /dev/null}}
connections:
  - {from: cap, to: file, policy: drop_newest}
YAML
cat >"$tmp/slow.yaml" <<'YAML'
connectors:
  gen:  {type: blaster, config: {rate: 100}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: gen, to: hole}
YAML
cat >"$tmp/mix.yaml" <<'YAML'
connectors:
  gen:  {type: blaster, config: {rate: 100}}
  cap:  {type: packet, config: {interfaces: [lo]}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: gen, to: hole}
  - {from: cap, to: hole, policy: drop_newest}
YAML
chmod 0755 "$tmp" && chmod 0644 "$tmp"/*.yaml

echo "## flags and usage"
check "run: unknown flag" 2 "^weir run: unknown flag: --frob" -- "$weir" run -c "$tmp/gen.yaml" --frob
check "run: bad duration" 2 '^weir run: invalid argument "abc" for "--drain-timeout"' -- "$weir" run --drain-timeout abc
check "run: -c without a file" 2 "^weir run: flag needs an argument" -- "$weir" run -c
check "run: negative drain timeout" 2 "^weir run: --drain-timeout -1s: want a positive duration" -- "$weir" run -c "$tmp/gen.yaml" --drain-timeout -1s
check "capture: interface twice" 2 "^weir capture: -i lo is given twice" -- "$weir" capture -i lo -i lo
check "capture: unknown user" 2 "^weir capture: --user: " -- "$weir" capture -i lo --user no-such-user-weir
check "capture: -w into a missing directory" 1 "^weir capture: -w: create file in $tmp/nodir: no such file" -- "$weir" capture -i lo -w "$tmp/nodir/x.pcapng"
check "capture: -w to a directory" 1 "^weir capture: -w: $tmp is a directory" -- "$weir" capture -i lo -w "$tmp"
printf 'keep me\n' >"$tmp/keep.pcapng"
check "capture: an interface typo keeps the output file" 1 "^weir capture: -i eht0: no such network interface" -- "$weir" capture -i eht0 -w "$tmp/keep.pcapng"
if [ "$(cat "$tmp/keep.pcapng")" != "keep me" ]; then fails=$((fails + 1)); echo "FAIL capture: the interface typo truncated the output file"; fi
mkfifo "$tmp/fifo"
check "capture: -w to a FIFO nobody reads, stopped" 0 "" -- sh -c "'$weir' capture -i lo -w '$tmp/fifo' & sleep 1; kill -INT \$!; wait \$!"

check "trace: unknown flag" 2 "^weir trace: unknown flag: --frob" -- "$weir" trace --frob
if ! sed -n 2p "$tmp/err" | grep -q '^Usage: weir trace '; then fails=$((fails + 1)); echo "FAIL trace: unknown flag: no usage line after the error"; fi
check "trace: unknown syscall" 2 '^weir trace: --syscalls: unknown syscall "conect" on [a-z0-9]+; did you mean connect\?' -- "$weir" trace -e conect
check "trace: --sample 0" 2 "^weir trace: --sample 0: want 1" -- "$weir" trace --sample 0
check "trace: a command that does not exist" 127 '^weir trace: command "weir-no-such-command": executable file not found' -- "$weir" trace -- weir-no-such-command
check "trace: the command's exit status" 3 "" -- "$weir" trace -q -- sh -c "exit 3"
check "trace: --cgroup not in cgroup v2" 2 "^weir trace: --cgroup: /tmp is not a cgroup v2 directory; the cgroup v2 hierarchy is mounted at /" -- "$weir" trace --cgroup /tmp
check "trace: --cgroup that does not exist" 2 "^weir trace: --cgroup: /sys/fs/cgroup/weir-no-such does not exist.* mounted at /" -- "$weir" trace --cgroup /sys/fs/cgroup/weir-no-such
check "trace: --cgroup relative" 2 '^weir trace: --cgroup: cgroup "weir/no-such": /.*/weir/no-such does not exist \(a relative path is taken from the cgroup v2 mount, /' -- "$weir" trace --cgroup weir/no-such

echo "## inputs are bounded"
check "validate: /dev/zero" 2 "larger than the limit of 4194304 bytes" -- sh -c "'$weir' validate -c - </dev/zero"
head -c 5000000 /dev/zero >"$tmp/big.yaml"
check "run: a config over the limit" 1 "^weir run: read config $tmp/big.yaml: larger than the limit of 4194304 bytes" -- "$weir" run -c "$tmp/big.yaml" --metrics off
rm -f "$tmp/big.yaml"
check "validate: out-of-range value" 1 "bounds.yaml:2:[0-9]+: connector \"gen\" \\(type blaster\\): field rate: -5 is out of range" -- "$weir" validate -c "$tmp/bounds.yaml"

echo "## missing privileges and devices fail at once"
check "capture as nobody" 1 "capturing needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON" -- "${nobody[@]}" "$weir" capture -i lo -c 1
check "trace as nobody" 1 "^weir trace: tracing syscalls needs root, or the capabilities CAP_BPF and CAP_PERFMON" -- "${nobody[@]}" "$weir" trace -c 1
check "trace a command as nobody" 1 "^weir trace: tracing syscalls needs root" -- "${nobody[@]}" "$weir" trace -- /bin/true
check "run as nobody" 1 "capturing needs root" --summary -- "${nobody[@]}" "$weir" run -c "$tmp/lo.yaml" --metrics off
check "run: no such interface" 1 'interface "nosuch0": no such network interface' --summary -- "$weir" run -c "$tmp/nosuch.yaml" --metrics off

echo "## the metrics and health server"
# serve.sh WHAT [RUNNER...] runs weir run (under RUNNER, such as setpriv)
# serving metrics on a free loopback port, and checks WHAT: health, that
# /healthz answers 503 naming the packet source nobody cannot start while
# the blaster runs on; or halfsent, that the server closes a connection
# whose request headers never end (after its 5 s header timeout).
cat >"$tmp/serve.sh" <<SH
what=\$1
shift
config="$tmp/slow.yaml"
[ "\$what" = health ] && config="$tmp/mix.yaml"
"\$@" "$weir" run -c "\$config" --metrics 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
p=\$!
trap 'kill \$p 2>/dev/null; wait \$p 2>/dev/null' EXIT
port=
for _ in \$(seq 100); do
	port=\$(sed -n 's|.*metrics=http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/serve.err" | head -n 1)
	[ -n "\$port" ] && break
	sleep 0.1
done
[ -n "\$port" ] || { echo "weir serves no metrics:"; cat "$tmp/serve.err"; exit 1; } >&2
case \$what in
health)
	for _ in \$(seq 100); do
		code=\$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:\$port/healthz")
		grep -qs 'cap (failed)' "$tmp/body" && break
		sleep 0.1
	done
	[ "\$code" = 503 ] && grep -qsx 'not running: cap (failed)' "$tmp/body" ||
		{ echo "/healthz answered \$code: \$(cat "$tmp/body")"; exit 1; } >&2
	;;
halfsent)
	exec 3<>/dev/tcp/127.0.0.1/\$port
	printf 'GET /metrics HTTP/1.1\r\nHost: weir\r\n' >&3
	timeout 15 cat <&3 >/dev/null
	[ \$? != 124 ] || { echo "a half-sent request was still open after 15 s"; exit 1; } >&2
	;;
esac
SH
check "metrics: /healthz names a source that cannot start" 0 "" -- bash "$tmp/serve.sh" health "${nobody[@]}"
check "metrics: a request whose headers never end is closed" 0 "" -- bash "$tmp/serve.sh" halfsent

echo "## settings that can never work are refused up front"
check "run: zero pool" 2 "^weir run: --pool 0: must be at least 1" -- "$weir" run -c "$tmp/gen.yaml" --pool 0
check "run: batch too large" 2 "^weir run: --batch-events 100000000: out of range" -- "$weir" run -c "$tmp/gen.yaml" --batch-events 100000000
check "bench: batch too large" 2 "^weir bench: --batch 100000000: out of range" -- "$weir" bench --batch 100000000 --timeout 3s
check "bench: histogram log into a directory" 1 "^weir bench: .*write histogram log: open $tmp: is a directory" -- "$weir" bench --events 1000 --hdr-log "$tmp"

echo "## plugins another user could have changed are refused"
if [ -f "$bin/plugins/libweir_blackhole.so" ]; then
	mkdir -m 0755 "$tmp/plug"
	cp "$bin/plugins/libweir_blackhole.so" "$tmp/plug/"
	chmod 0646 "$tmp/plug/libweir_blackhole.so"
	check "plugin inspect: world-writable file" 1 "chmod go-w" -- "$weir" plugin inspect "$tmp/plug/libweir_blackhole.so"
	check "plugin inspect: allowed for development" 0 "" -- "$weir" plugin inspect --allow-insecure-plugins "$tmp/plug/libweir_blackhole.so"
	chmod 0644 "$tmp/plug/libweir_blackhole.so"
	chmod 0777 "$tmp/plug"
	check "plugin inspect: a world-writable directory" 1 "directory $tmp/plug is writable by group or others .*fix with: chmod go-w $tmp/plug" -- "$weir" plugin inspect "$tmp/plug/libweir_blackhole.so"
	chmod 0755 "$tmp/plug"
	chown nobody "$tmp/plug/libweir_blackhole.so"
	check "plugin inspect: a file of another user" 1 "file $tmp/plug/libweir_blackhole.so is owned by uid [0-9]+, neither root nor" -- "$weir" plugin inspect "$tmp/plug/libweir_blackhole.so"
else
	echo "skip plugin cases: $bin/plugins/libweir_blackhole.so not built (make plugins)"
fi
if [ -f "$bin/plugins/test/libweir_misbehave.so" ]; then
	# record_sink fails every write when it cannot open its file.
	check "bench: a plugin sink that fails every write" 1 "^weir bench: run incomplete, 0 of [0-9]+ events emitted were delivered" -- \
		env WEIR_RECORD="$tmp/nodir/record" "$weir" bench --events 1000 --sink "$bin/plugins/test/libweir_misbehave.so" --sink-type record_sink
else
	echo "skip bench sink case: $bin/plugins/test/libweir_misbehave.so not built (make plugins)"
fi
# --saved-plugins checks plugin types against FILE.json and runs no plugin
# code: the library here is not even an ELF file.
mkdir -m 0755 "$tmp/saved"
printf 'never loaded' >"$tmp/saved/libjunk.so"
printf '%s' '{"types":[{"id":"junk_sink","roles":["sink"],"config_schema":{"type":"object","additionalProperties":false,"properties":{"n":{"type":"integer","minimum":1}}}}]}' >"$tmp/saved/libjunk.so.json"
printf 'plugins: [libjunk.so]\nconnectors:\n  gen: {type: blaster}\n  out: {type: junk_sink, config: {n: 0}}\nconnections:\n  - {from: gen, to: out}\n' >"$tmp/saved/c.yaml"
chmod 0644 "$tmp/saved"/*
check "validate --saved-plugins: no plugin code runs" 1 "c.yaml:4:[0-9]+: connector \"out\" \(type junk_sink\): field n: 0 is out of range" -- "$weir" validate --saved-plugins -c "$tmp/saved/c.yaml"

echo "## stopping always stops, even with a stuck sink"
mkfifo "$tmp/stuck"
cat >"$tmp/stuck.yaml" <<YAML
connectors:
  gen: {type: blaster, config: {count: 0}}
  out: {type: file, config: {path: $tmp/stuck}}
connections:
  - {from: gen, to: out}
YAML
# stuck.sh DRAIN SIGNALS runs weir run with a reader that opens the FIFO
# and never reads, so the sink's writes block; after 1.5 s it sends
# SIGTERM, SIGNALS times, half a second apart. The summary must balance,
# the events held in the abandoned call counted as in flight there.
cat >"$tmp/stuck.sh" <<SH
sleep 60 3<"$tmp/stuck" &
reader=\$!
"$weir" run -c "$tmp/stuck.yaml" --drain-timeout "\$1" --metrics off &
p=\$!
sleep 1.5
for i in \$(seq "\$2"); do kill -TERM \$p; sleep 0.5; done
wait \$p
rc=\$?
kill \$reader
exit \$rc
SH
check "run: SIGTERM with a stuck sink" 1 "^weir run: connector out \(type file, sink\) was abandoned" --summary -- bash "$tmp/stuck.sh" 1s 1
# With a drain timeout of 60 s, only the second signal can end it in time
# (15 s leaves room for a busy machine and is far below the 60 s). It
# abandons every connector still in a call, the stuck sink among them.
check "run: a second SIGTERM ends it at once" 1 "^weir run: connector .* was abandoned" --summary -- timeout 15 bash "$tmp/stuck.sh" 60s 2
# stuckhup.sh sends SIGHUP once the sink's write has been stuck for longer
# than the drain timeout: the reload must be refused at once, naming the
# stuck call (it used to hold the main loop for the drain timeout and the
# kill grace), and a SIGTERM then ends the run as above.
cat >"$tmp/stuckhup.sh" <<SH
sleep 60 3<"$tmp/stuck" &
reader=\$!
"$weir" run -c "$tmp/stuck.yaml" --drain-timeout 1s --metrics off 2>"$tmp/hup.err" &
p=\$!
sleep 2.5
kill -HUP \$p
for _ in \$(seq 80); do grep -q 'reload failed' "$tmp/hup.err" && break; sleep 0.1; done
kill -TERM \$p
wait \$p
rc=\$?
kill \$reader
grep -v '^time=' "$tmp/hup.err" >&2
if ! grep -q 'reload failed.*connector out (type file) is stuck in write' "$tmp/hup.err"; then
	echo "SIGHUP with a stuck sink was not refused naming the stuck write" >&2
	exit 7
fi
exit \$rc
SH
check "run: SIGHUP with a stuck sink is refused at once" 1 "^weir run: connector out \(type file, sink\) was abandoned" --summary -- bash "$tmp/stuckhup.sh"

echo "## an interface deleted under a capture"
# The capture notices within about a second, writes out what it read and
# exits 1 naming the interface; the file keeps every packet it reported.
cat >"$tmp/gone.sh" <<SH
ns=weir-gone\$\$
ip netns add \$ns || exit 9
trap 'ip netns del \$ns' EXIT
ip -n \$ns link add wg0 type veth peer name wg1 && ip -n \$ns link set wg0 up && ip -n \$ns link set wg1 up || exit 9
ip netns exec \$ns "$weir" capture -i wg0 -w "$tmp/gone.pcapng" 2>"$tmp/gone.err" &
p=\$!
sleep 2
ip -n \$ns link del wg0
wait \$p
rc=\$?
cat "$tmp/gone.err" | grep -v listening >&2
n=\$(sed -n 's/^\([0-9]*\) packets captured\$/\1/p' "$tmp/gone.err")
got=\$(tshark -r "$tmp/gone.pcapng" 2>/dev/null | wc -l)
[ "\$n" = "\$got" ] || { echo "stderr says \$n packets captured, the file holds \$got" >&2; exit 8; }
exit \$rc
SH
check "capture: the interface is deleted" 1 "^weir capture: packet source capture: tcx ingress on wg0: interface gone" -- bash "$tmp/gone.sh"

echo "## a run that ends by itself balances"
check "run: blaster to blackhole" 0 "" --summary -- "$weir" run -c "$tmp/gen.yaml" --metrics off

echo "## disk buffers: a shared directory, a read-only file system, a full disk"
cat >"$tmp/buf.yaml" <<YAML
connectors:
  gen:  {type: blaster, config: {rate: 1000}}
  hole: {type: blackhole, config: {print: false}}
connections:
  - {from: gen, to: hole, buffer: {type: disk, path: $tmp/buf, max_size: 1MiB}}
YAML
"$weir" run -c "$tmp/buf.yaml" --metrics off >/dev/null 2>&1 &
holder=$!
for _ in $(seq 200); do [ -s "$tmp/buf/lock" ] && break; sleep 0.1; done
check "run: a buffer another weir uses" 1 "^weir run: start engine: .*buf.yaml:5:5: connection gen -> hole: open disk buffer .*: disk buffer directory in use \(held by pid $holder\)" -- "$weir" run -c "$tmp/buf.yaml" --metrics off
kill $holder; wait $holder
mkdir -p "$tmp/ro" "$tmp/small"
if mount -t tmpfs -o size=1m,ro tmpfs "$tmp/ro" 2>/dev/null; then
	sed "s|$tmp/buf|$tmp/ro/buf|" "$tmp/buf.yaml" >"$tmp/ro.yaml"
	check "run: a buffer on a read-only file system" 1 "^weir run: start engine: .*connection gen -> hole: open disk buffer: create directory: .*read-only file system" -- "$weir" run -c "$tmp/ro.yaml" --metrics off
	umount "$tmp/ro"
	mount -t tmpfs -o size=256k tmpfs "$tmp/small"
	cat >"$tmp/full.yaml" <<YAML
connectors:
  gen:  {type: blaster, config: {count: 20000, size: 512}}
  hole: {type: file, config: {path: /dev/full}}
connections:
  - {from: gen, to: hole, buffer: {type: disk, path: $tmp/small/buf, max_size: 64MiB, fsync: never}}
YAML
	# The sink fails every write (ENOSPC on /dev/full), the buffer's disk
	# fills: drops are counted (buffer_error, and sink_error for what got
	# through the buffer, if any), it balances, and the run fails, naming
	# where events were dropped.
	check "run: the buffer's disk fills" 1 "^weir run: (sink hole|edge gen -> hole) dropped [0-9]+ events: " --summary -- "$weir" run -c "$tmp/full.yaml" --metrics off
	grep -q 'buffer_error' "$tmp/out" || { fails=$((fails + 1)); echo "FAIL run: the buffer's disk fills: no buffer_error drops in the summary"; }
	grep -Eq '^weir run: edge gen -> hole dropped [0-9]+ events: a disk buffer could not store them \([0-9]+ buffer_error\)$' "$tmp/err" || { fails=$((fails + 1)); echo "FAIL run: the buffer's disk fills: the edge's buffer_error drops not named on stderr"; }
	umount "$tmp/small"
else
	echo "skip disk buffer mounts: cannot mount a tmpfs (needs root)"
fi

echo "$cases cases, $fails failed"
[ "$fails" -eq 0 ]

#!/usr/bin/env bash
# Installs, with apt-get, everything weir's build, tests and demo need on a
# fresh Debian 12 machine. Run it as root. Go itself is expected at
# /usr/local/go or on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(make gcc g++ libc6-dev clang-16 llvm-16 clang-format-16 bpftool libbpf-dev
      tshark tcpdump netsniff-ng iproute2 ethtool iputils-ping
      bpftrace strace linux-perf # peers weir trace is measured against (docs/BENCHMARKS.md)
      prometheus) # for promtool: tests check /metrics with `promtool check metrics`
# The Rust plugin needs cargo; use the one on PATH when there is one.
command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || pkgs+=(cargo)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

// Package trafgen generates real network traffic at millions of packets per
// second, for weir's tests, benchmarks and demo.
//
// It uses BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: the kernel runs a
// small XDP program (bpf/trafgen.c) Repeat times on a template frame and
// transmits every copy the program returns XDP_TX for out of the interface
// named in the run's context. On a veth pair that means the frames arrive at
// the peer as if received from a wire. The peer must have an XDP program
// attached (a veth only delivers XDP frames to a peer with NAPI enabled);
// Generator.AttachReceiver attaches one that passes and counts every frame,
// and a capture's own XDP program does as well.
//
// A Generator sends UDP datagrams or TCP data segments (ACK|PSH) of a set
// frame size, a set count, optionally paced to a rate in packets per second,
// spread over a set number of flows (source ports). Every run is bounded in
// count and in time.
//
// BPF_PROG_RUN looks the ingress interface up in the network namespace of
// the calling thread, so Run must be called from a thread in the sending
// interface's namespace (see internal/netns.Do), as must AttachReceiver for
// the receiving one.
//
// The command in tools/trafgen/cmd/trafgen drives a Generator from the
// command line.
package trafgen

// The BPF objects are generated from bpf/trafgen.c with a pinned clang and
// committed, so building needs no clang. `make generate` reruns this.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-16 -strip llvm-strip-16 -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package trafgen trafgen ../../bpf/trafgen.c -- -I../../bpf/headers

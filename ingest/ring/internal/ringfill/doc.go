// Package ringfill loads bpf/ringfill.c, a BPF program that writes records
// of known contents into a ring buffer on demand, for the tests and
// benchmarks of package ring.
package ringfill

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-16 -strip llvm-strip-16 -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package ringfill fill ../../../../bpf/ringfill.c -- -I../../../../bpf/headers

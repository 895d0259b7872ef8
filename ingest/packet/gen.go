package packet

// The BPF objects are generated from bpf/packet.c with a pinned clang and
// committed, so building weir needs no clang. Run `make generate` after
// changing anything under bpf/.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-16 -strip llvm-strip-16 -cflags "-O2 -g -Wall -Werror" -target bpfel -go-package packet packet ../../bpf/packet.c -- -I../../bpf/headers

package syscall

// The BPF objects are generated from bpf/syscall.c with a pinned clang and
// committed, so building weir needs no clang: one object per architecture,
// since the syscall argument registers differ. Run `make generate` after
// changing anything under bpf/.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-16 -strip llvm-strip-16 -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -go-package syscall sys ../../bpf/syscall.c -- -I../../bpf/headers

// The syscall name tables (sysnum_GOARCH.go) come from golang.org/x/sys
// (see internal/mksysnum for why).
//go:generate go run ./internal/mksysnum amd64 arm64

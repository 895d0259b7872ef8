# BPF programs (bpf/) and their bpf2go output. The generated Go bindings and
# objects are committed, so `go build` needs no clang; `generate` rebuilds
# them with the pinned clang-16 and -Wall -Werror (see the go:generate lines
# in ingest/packet/gen.go and tools/).

# Files bpf2go writes, as git pathspecs (a '*' also matches '/').
BPF_GENERATED := '*_bpfel.go' '*_bpfel.o' '*_bpfeb.go' '*_bpfeb.o'

.PHONY: generate check-generate

generate: ## regenerate the BPF objects and Go bindings with clang-16
	$(GO) generate ./ingest/... $(if $(wildcard tools/*/*.go),./tools/...)

check-generate: generate ## fail if regenerating the BPF objects changes anything
	@git diff --exit-code --stat -- $(BPF_GENERATED) || { echo "check-generate: regenerated BPF files differ from the committed ones; run make generate and commit"; exit 1; }
	@new=$$(git ls-files --others --exclude-standard -- $(BPF_GENERATED)); if [ -n "$$new" ]; then echo "check-generate: generated files not committed: $$new"; exit 1; fi

CHECKS += check-generate

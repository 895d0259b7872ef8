# weir's build. `make help` lists the targets. Each area keeps its rules in
# mk/AREA.mk; those fragments add to the variables below.

# Go and cargo are found where their installers put them, even when PATH
# does not name them yet.
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/.cargo/bin
GO      ?= go
BIN     := bin
PLUGDIR := $(BIN)/plugins
# The host binary never uses cgo.
HOST_ENV := CGO_ENABLED=0
# weir version prints VERSION, from git when the tree is a checkout. Without
# it (go build, go install) weir falls back to the VCS revision the Go
# toolchain records.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
VERSION_LDFLAGS := $(if $(VERSION),-ldflags '-X main.version=$(VERSION)')

# Fragments append: plugin libraries to build, and checks `make test` runs
# after the Go tests.
PLUGINS :=
CHECKS  :=

.DEFAULT_GOAL := all

include $(sort $(wildcard mk/*.mk))

.PHONY: all build plugins test gotest bench lint format help clean run generate

all: build plugins ## build bin/weir and every plugin into bin/plugins/

build: ## build bin/weir, without cgo, its version stamped from git describe
	$(HOST_ENV) $(GO) build $(VERSION_LDFLAGS) -o $(BIN)/weir ./cmd/weir

plugins: $(PLUGINS) ## build the C, Rust and Go plugins into bin/plugins/

test: all gotest $(CHECKS) ## run every test CI runs (BPF tests need root)

gotest:
	$(HOST_ENV) $(GO) vet ./...
	$(HOST_ENV) $(GO) test -count=1 -timeout 20m ./...

bench: all ## run every Go benchmark once (docs/BENCHMARKS.md gives the command behind each recorded figure)
	$(HOST_ENV) $(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

lint: ## go vet and a gofmt check
	$(HOST_ENV) $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

format: ## gofmt the Go code and clang-format the C code
	gofmt -w $$(git ls-files '*.go')
	@command -v clang-format-16 >/dev/null && clang-format-16 -i $$(git ls-files '*.c' '*.h' | grep -v -e vmlinux.h -e '^bpf/headers/bpf/') || echo "clang-format-16 not installed; C left as is"

clean: ## remove bin/
	rm -rf $(BIN)

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n", $$1, $$2}'

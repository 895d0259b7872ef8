# Plugins in C, Rust and Go (plugins/), built into bin/plugins/.

PLUGIN_HDR := cabi/include/weir/plugin.h
PLUGIN_CC  ?= cc
PLUGIN_CFLAGS := -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -I cabi/include

# C plugins: each library is one plugin source plus the shared config parser.
C_PLUGIN_COMMON := plugins/c/config.c plugins/c/config.h

$(PLUGDIR)/libweir_blackhole.so: plugins/c/blackhole.c $(C_PLUGIN_COMMON) $(PLUGIN_HDR)
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -o $@ plugins/c/blackhole.c plugins/c/config.c

$(PLUGDIR)/libweir_generator.so: plugins/c/generator.c $(C_PLUGIN_COMMON) $(PLUGIN_HDR)
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -o $@ plugins/c/generator.c plugins/c/config.c

PLUGINS += $(PLUGDIR)/libweir_blackhole.so $(PLUGDIR)/libweir_generator.so

# Plugins that break the ABI on purpose (segfault, abort or hang in write,
# a wild pointer or too many events from poll), to try isolate: process
# with. They go in a subdirectory, so that loading bin/plugins as a
# directory never picks them up.
$(PLUGDIR)/test/libweir_misbehave.so: connector/plugin/isolate/testdata/misbehave.c $(C_PLUGIN_COMMON) $(PLUGIN_HDR)
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -o $@ connector/plugin/isolate/testdata/misbehave.c plugins/c/config.c

PLUGINS += $(PLUGDIR)/test/libweir_misbehave.so

# The C template (plugins/c/template): the same flags, plus plugins/c for
# config.h, which template.c includes as a plugin author's copy would.
$(PLUGDIR)/libweir_c_template.so: plugins/c/template/template.c $(C_PLUGIN_COMMON) $(PLUGIN_HDR)
	@mkdir -p $(@D)
	$(PLUGIN_CC) $(PLUGIN_CFLAGS) -I plugins/c -o $@ plugins/c/template/template.c plugins/c/config.c

PLUGINS += $(PLUGDIR)/libweir_c_template.so

# Rust plugins: std only, so cargo builds them offline. Cargo.lock is not
# kept (see plugins/rust/.gitignore), so old and new cargo both accept them.
# $(1) is the crate directory under plugins/rust, $(2) the library name,
# $(3) sources outside the crate directory.
RUST_TARGET := plugins/rust/target

define rust_plugin
$(PLUGDIR)/lib$(2).so: $(wildcard plugins/rust/$(1)/src/*.rs) plugins/rust/$(1)/Cargo.toml $(3) $(PLUGIN_HDR)
	@mkdir -p $$(@D)
	CARGO_TARGET_DIR=$(RUST_TARGET) cargo build --release --offline --manifest-path plugins/rust/$(1)/Cargo.toml
	cp $(RUST_TARGET)/release/lib$(2).so $$@

PLUGINS += $(PLUGDIR)/lib$(2).so
endef

# Both plugins depend by path on plugins/rust/weir-ffi: the FFI, the packet
# record reader and the config parser.
RUST_FFI_SRC := $(wildcard plugins/rust/weir-ffi/src/*.rs) plugins/rust/weir-ffi/Cargo.toml cabi/include/weir/records.h

$(eval $(call rust_plugin,blackhole,weir_rust_blackhole,$(RUST_FFI_SRC)))
$(eval $(call rust_plugin,template,weir_rust_template,$(RUST_FFI_SRC)))

# Go plugins: c-shared libraries built with the SDK (the only cgo in weir).
GO_SDK_SRC := $(filter-out %_test.go,$(wildcard plugins/go/sdk/*.go)) $(wildcard plugins/go/sdk/*.c plugins/go/sdk/*.h)

define go_plugin
$(PLUGDIR)/libweir_go_$(1).so: $(filter-out %_test.go,$(wildcard plugins/go/$(1)/*.go)) $(GO_SDK_SRC) $(PLUGIN_HDR) go.mod
	@mkdir -p $$(@D)
	CGO_ENABLED=1 $$(GO) build -buildmode=c-shared -o $$@ ./plugins/go/$(1)
	@rm -f $$(@:.so=.h)

PLUGINS += $(PLUGDIR)/libweir_go_$(1).so
endef

$(foreach p,blackhole counter,$(eval $(call go_plugin,$(p))))

# The SDK's own tests need cgo, which the host's `go test ./...` runs
# without; they run here instead.
.PHONY: plugins-sdk-test

plugins-sdk-test: ## vet and test the cgo Go plugin SDK and Go plugins
	CGO_ENABLED=1 $(GO) vet ./plugins/go/...
	CGO_ENABLED=1 $(GO) test -count=1 -timeout 5m ./plugins/go/...

CHECKS += plugins-sdk-test

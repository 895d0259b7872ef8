# Packet capture: `weir capture`, the trafgen load generator, and the demo.

.PHONY: trafgen capture-bench

trafgen: ## build bin/trafgen, the XDP live-frames packet generator
	$(HOST_ENV) $(GO) build -o $(BIN)/trafgen ./tools/trafgen/cmd/trafgen

run: build trafgen ## demo (root): capture generated traffic on a throw-away veth pair with weir capture
	bash tools/capture-demo.sh $(BIN)

capture-bench: build trafgen ## benchmark (root): weir capture vs tcpdump on the same trafgen load
	bash tools/bench-capture.sh $(BIN)

# The plugin demo: the C generator driven into each blackhole through the ABI.

.PHONY: plugin-demo

plugin-demo: plugins ## drive the C generator into the C, Rust and Go blackholes and print events/s
	$(HOST_ENV) $(GO) run ./tools/plugindemo --dir $(PLUGDIR)

# The fleet demo: two capture agents publish to one NATS server, a third
# weir consumes into pcapng. nats-server is built from the Go module the
# tests use (no package needed).
.PHONY: demo-fleet
demo-fleet: build ## demo (root): two capture agents in namespaces publish to NATS, a third weir writes one pcapng; checks the counts add up
	$(HOST_ENV) $(GO) build -o $(BIN)/nats-server github.com/nats-io/nats-server/v2
	bash tools/fleet-demo.sh $(BIN)

# The plugin demo: the C generator driven into each blackhole through the ABI.

.PHONY: plugin-demo

plugin-demo: plugins ## drive the C generator into the C, Rust and Go blackholes and print events/s
	$(HOST_ENV) $(GO) run ./tools/plugindemo --dir $(PLUGDIR)

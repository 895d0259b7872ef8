# The disk buffer's kill -9 loop (tests/killloop) runs in make test with
# 20 kills (about 50 s); this target runs a longer one against bin/weir.

KILL_LOOPS ?= 100

.PHONY: kill-loop

kill-loop: build ## kill -9 bin/weir KILL_LOOPS times (default 100) under load into a disk buffer feeding NATS JetStream, and print the ledger
	WEIR_BIN=$(BIN)/weir WEIR_KILL_LOOPS=$(KILL_LOOPS) $(GO) test -count=1 -v -timeout 60m -run '^TestKillLoop$$' ./tests/killloop

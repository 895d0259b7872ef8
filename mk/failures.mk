# The failure paths driven through the real binary (tests/failures.sh):
# bad flags, oversized input, missing privileges and devices, each checked
# for its exit status, first error line and, where it applies, a balanced
# summary.

CHECKS += failures

.PHONY: failures

failures: build ## drive weir's failure paths through bin/weir (as root)
	bash tests/failures.sh $(BIN)

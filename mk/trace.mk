# Syscall tracing: the weir trace benchmark.

.PHONY: trace-bench

trace-bench: build ## benchmark (root): weir trace vs no tracer, empty programs, bpftrace, strace and perf trace on getpid and write loops
	bash tools/bench-trace.sh $(BIN)

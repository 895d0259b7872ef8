# Checks `make test` runs after the Go tests: the race detector over the
# concurrent packages, and a short fuzz of every Fuzz target. Together they
# take about three minutes on two cores once the builds are cached (race
# about 1, fuzz about 2).

RACE_PKGS ?= ./runtime/... ./cabi/... ./ingest/...
# How many inputs `make fuzz` tries per target. A count, not a duration:
# go test -fuzz with a short -fuzztime duration fails at random with
# "context deadline exceeded" when the deadline lands while the workers
# are still starting (seen in CI with 1s on FuzzLabels). Longer runs find
# more, e.g. make fuzz FUZZTIME=200000x or FUZZTIME=1m by hand.
FUZZTIME  ?= 3000x
# Targets whose setup is slow get FUZZTIME_SLOW instead: each FuzzConfig
# worker first builds the C, Rust and Go plugins.
FUZZ_SLOW     ?= FuzzConfig
FUZZTIME_SLOW ?= 500x

.PHONY: race fuzz

race: ## run the runtime, cabi and ingest tests with the race detector (cgo)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

# go test -fuzz takes one target at a time, so each FuzzXxx in a _test.go
# file gets its own run.
fuzz: ## fuzz every FuzzXxx target with FUZZTIME inputs (default 3000x) each
	@git grep -n -o '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' | while IFS=: read -r file line fn; do \
		fn=$${fn#func }; dir=./$$(dirname $$file); t=$(FUZZTIME); \
		case " $(FUZZ_SLOW) " in *" $$fn "*) t=$(FUZZTIME_SLOW);; esac; \
		echo "fuzz $$fn $$dir for $$t"; \
		$(GO) test -count=1 -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$t $$dir >/tmp/weir-fuzz.$$$$ 2>&1 \
			|| { cat /tmp/weir-fuzz.$$$$; rm -f /tmp/weir-fuzz.$$$$; exit 1; }; \
		rm -f /tmp/weir-fuzz.$$$$; \
	done

CHECKS += race fuzz

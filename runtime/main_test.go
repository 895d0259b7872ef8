package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when engine goroutines outlive the tests: every
// test shuts its engine down, and Shutdown must stop every worker.
func TestMain(m *testing.M) {
	before := goruntime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		// Generous: a passing run waits milliseconds, and a loaded
		// machine may take long to schedule the last workers' exits.
		deadline := time.Now().Add(20 * time.Second)
		for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := goruntime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:goruntime.Stack(buf, true)])
			var ours []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "weir/runtime.") && !strings.Contains(g, "runtime.TestMain") {
					ours = append(ours, g)
				}
			}
			if len(ours) > 0 {
				fmt.Fprintf(os.Stderr, "leaked %d goroutines:\n%s\n", len(ours), strings.Join(ours, "\n\n"))
				code = 1
			}
		}
	}
	os.Exit(code)
}

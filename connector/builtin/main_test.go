package builtin_test

import (
	"testing"

	"github.com/weirproject/weir/internal/leakcheck"
)

// TestMain fails the run when the tests leak file descriptors or
// goroutines (an engine not shut down).
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.Options{FDs: true, Goroutines: true}) }

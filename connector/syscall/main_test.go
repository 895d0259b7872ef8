package syscall

import (
	"testing"

	"github.com/weirproject/weir/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.Options{FDs: true, BPF: true}) }

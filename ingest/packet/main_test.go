package packet

import (
	"testing"

	"github.com/weirproject/weir/internal/leakcheck"
)

// TestMain fails the run when the tests leak file descriptors (maps,
// programs, links, epoll or event fds).
func TestMain(m *testing.M) { leakcheck.Main(m, leakcheck.Options{FDs: true, BPF: true}) }

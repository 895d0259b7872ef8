package packet

import (
	"fmt"
	"os"
	"testing"

	"github.com/cilium/ebpf"
)

// TestMain fails the run when the tests leak file descriptors (maps,
// programs, links, epoll or event fds).
func TestMain(m *testing.M) {
	warmUp()
	before := openFDs()
	code := m.Run()
	if after := openFDs(); code == 0 && after > before {
		fmt.Fprintf(os.Stderr, "leaked %d file descriptors (%d open before the tests, %d after)\n", after-before, before, after)
		code = 1
	}
	os.Exit(code)
}

// warmUp makes cilium/ebpf open the descriptors it keeps for the life of
// the process (it holds one on /dev/null so that no BPF object gets fd 0),
// so they are not mistaken for leaks.
func warmUp() {
	if m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}); err == nil {
		m.Close()
	}
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

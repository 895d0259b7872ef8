package loader

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
)

// logHost is a BasicHost that also keeps its log lines. Safe for
// concurrent use.
type logHost struct {
	*BasicHost
	mu    sync.Mutex
	lines []string
}

func (h *logHost) Log(level int32, msg string) {
	h.mu.Lock()
	h.lines = append(h.lines, msg)
	h.mu.Unlock()
}

func (h *logHost) logged() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// TestHostAPIThreadRule: a plugin that calls log and counter_add from a
// thread of its own (the header allows only wakeup there) is diagnosed:
// each such call is counted, and one warning naming the call and the
// rule is logged once; the calls made inside host calls are not counted,
// and the wakeup is not a violation. On both call paths.
func TestHostAPIThreadRule(t *testing.T) {
	for _, p := range callPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Setenv(CallEnv, p.env)
			l, err := Load(buildPlugin(t, "threadrule.c", "../include"))
			if err != nil {
				t.Fatal(err)
			}
			h := &logHost{BasicHost: NewBasicHost("", nil)}
			in, err := l.Type("rulebreaker").Create(nil, h)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Destroy()
			if err := in.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-h.WakeupC():
			case <-time.After(5 * time.Second):
				t.Fatal("no wakeup from the plugin's thread")
			}
			b, err := cabi.AllocBatch(4, 64)
			if err != nil {
				t.Fatal(err)
			}
			defer cabi.FreeBatch(b)
			in.Poll(b, 0)
			if err := in.Stop(); err != nil {
				t.Fatal(err)
			}
			if got := in.HostAPIMisuse(); got != 6 {
				t.Errorf("HostAPIMisuse() = %d; want 6 (3 log and 3 counter_add from the plugin's thread)", got)
			}
			var warned, plain int
			for _, l := range h.logged() {
				switch {
				case strings.Contains(l, "outside a host call") && strings.Contains(l, "only wakeup"):
					warned++
				case l == "from my own thread":
					plain++
				}
			}
			if warned != 1 || plain != 3 {
				t.Errorf("log lines %q: want one warning about the thread rule and the plugin's 3 lines", h.logged())
			}
		})
	}
}

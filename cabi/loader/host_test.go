package loader

import (
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// cstr returns a NUL-terminated copy of s and its address, as C would pass
// it. The slice must stay alive while the address is used.
func cstr(s string) ([]byte, uintptr) {
	b := append([]byte(s), 0)
	return b, uintptr(unsafe.Pointer(&b[0]))
}

// TestHostCallbacks calls the host API trampolines as a plugin would and
// checks the checks they make before reaching the Host.
func TestHostCallbacks(t *testing.T) {
	var log strings.Builder
	h := NewBasicHost("[x] ", &log)
	id, e := registerHost(h)
	defer releaseHost(id)
	e.calls.Add(1) // as from inside a host call on the instance

	keep, msg := cstr("hello")
	cbLog(id, cabi.LogWarn, msg)
	if log.String() != "[x] warn: hello\n" {
		t.Errorf("log = %q", log.String())
	}
	cbLog(id+1000, cabi.LogWarn, msg) // unknown handle: ignored
	_ = keep

	cases := []struct {
		name string
		kind int32
		want int32
	}{
		{"events_total", int32(cabi.MetricCounter), 0},
		{"events_total", int32(cabi.MetricCounter), 0}, // same name, same kind: same id
		{"depth", int32(cabi.MetricGauge), 1},
		{"events_total", int32(cabi.MetricGauge), -1}, // same name, other kind
		{"Bad-Name", int32(cabi.MetricCounter), -1},
		{"", int32(cabi.MetricCounter), -1},
		{"ok", 7, -1}, // unknown kind
	}
	for _, tc := range cases {
		k, p := cstr(tc.name)
		if got := cbMetricRegister(id, p, tc.kind, 0); got != tc.want {
			t.Errorf("metric_register(%q, %d) = %d; want %d", tc.name, tc.kind, got, tc.want)
		}
		_ = k
	}
	if got := cbMetricRegister(id, 0, 0, 0); got != -1 {
		t.Errorf("metric_register(NULL) = %d; want -1", got)
	}
	cbCounterAdd(id, 0, 5)
	cbCounterAdd(id, 0, 7)
	cbCounterAdd(id, 1, 100) // a gauge: ignored by counter_add
	cbCounterAdd(id, 42, 1)  // unknown: ignored
	cbGaugeSet(id, 1, -3)
	if v, k, _ := h.Metric("events_total"); v != 12 || k != cabi.MetricCounter {
		t.Errorf("events_total = %d %v; want 12 counter", v, k)
	}
	if v, k, _ := h.Metric("depth"); v != -3 || k != cabi.MetricGauge {
		t.Errorf("depth = %d %v; want -3 gauge", v, k)
	}

	// wakeup from many threads at once, as plugin threads may.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				cbWakeup(id)
			}
		}()
	}
	wg.Wait()
	if h.Wakeups() != 8000 {
		t.Errorf("wakeups = %d; want 8000", h.Wakeups())
	}
	select {
	case <-h.WakeupC():
	default:
		t.Error("WakeupC not signalled")
	}
}

func TestHostAPITableOnce(t *testing.T) {
	a, b := hostAPIPtr(), hostAPIPtr()
	if a != b || theAPI.Log == 0 || theAPI.Wakeup == 0 || theAPI.StructSize != uint32(unsafe.Sizeof(hostAPI{})) {
		t.Errorf("host API table: %#x %#x %+v", a, b, theAPI)
	}
}

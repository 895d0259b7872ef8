package loader

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/weirproject/weir/cabi"
)

// Host receives the calls a plugin instance makes through weir_host_api.
// Each instance gets its own Host at Create.
//
// Log, RegisterMetric, CounterAdd and GaugeSet are called only from inside a
// call the host makes on the instance, so never concurrently for one
// instance. Wakeup may be called from any thread at any time until Stop
// returns, concurrently with anything else; it must not block.
type Host interface {
	// Log writes msg at level (LogDebug..LogError).
	Log(level int32, msg string)
	// RegisterMetric declares a metric and returns its id (>= 0), or -1 if
	// it is declared already with another kind. name has been checked
	// against [a-z0-9_]+; help may be "".
	RegisterMetric(name string, kind cabi.MetricKind, help string) int32
	// CounterAdd adds delta to counter id. Unknown ids are ignored.
	CounterAdd(id int32, delta uint64)
	// GaugeSet sets gauge id to value. Unknown ids are ignored.
	GaugeSet(id int32, value int64)
	// Wakeup says a source has events ready.
	Wakeup()
}

// hosts maps the integer handles passed to plugins as weir_host* to the
// Host for each live instance. Plugins never see a Go pointer.
var (
	hosts      sync.Map // uintptr -> *hostEntry
	nextHandle atomic.Uintptr
)

// hostEntry is what a weir_host handle stands for: the instance's Host
// and what the callbacks need to check the header's thread rule (only
// wakeup may be called outside a host call on the instance).
type hostEntry struct {
	h Host
	// frame is the instance's direct-call frame, whose sp is set while a
	// direct call runs; nil until Create has made the instance.
	frame atomic.Pointer[callFrame]
	// calls counts the calls in flight that do not set frame.sp (create,
	// and every call on the purego.SyscallN path).
	calls atomic.Int32
	// misuse counts host API calls other than wakeup made outside any
	// host call on the instance; warned is set once that was logged.
	misuse atomic.Uint64
	warned atomic.Bool
}

// inCall reports whether a host call on the instance is running.
func (e *hostEntry) inCall() bool {
	if e.calls.Load() > 0 {
		return true
	}
	f := e.frame.Load()
	return f != nil && atomic.LoadUintptr(&f.sp) != 0
}

// check counts a call of the host API function fn made outside any host
// call on the instance (from a thread the plugin started, as the header
// forbids for everything but wakeup), logging the first one.
func (e *hostEntry) check(fn string) {
	if e.inCall() {
		return
	}
	e.misuse.Add(1)
	if e.warned.CompareAndSwap(false, true) {
		e.h.Log(int32(cabi.LogWarn), "the plugin called the host API's "+fn+" outside a host call on its instance (from a thread it started?); "+
			"plugin.h allows only wakeup there. Such calls are counted (host_api_misuse); this is logged once.")
	}
}

func registerHost(h Host) (uintptr, *hostEntry) {
	id := nextHandle.Add(1)
	e := &hostEntry{h: h}
	hosts.Store(id, e)
	return id, e
}

func releaseHost(id uintptr) { hosts.Delete(id) }

func lookupEntry(id uintptr) *hostEntry {
	if v, ok := hosts.Load(id); ok {
		return v.(*hostEntry)
	}
	return nil
}

func lookupHost(id uintptr) Host {
	if e := lookupEntry(id); e != nil {
		return e.h
	}
	return nil
}

// theAPI is the one weir_host_api of the process. It lives in Go's static
// data, never moves and is never freed. purego callbacks are capped and
// cannot be released, so they are made once.
var (
	theAPI     hostAPI
	theAPIOnce sync.Once
)

func hostAPIPtr() uintptr {
	theAPIOnce.Do(func() {
		theAPI = hostAPI{
			StructSize:     uint32(unsafe.Sizeof(hostAPI{})),
			Log:            purego.NewCallback(cbLog),
			MetricRegister: purego.NewCallback(cbMetricRegister),
			CounterAdd:     purego.NewCallback(cbCounterAdd),
			GaugeSet:       purego.NewCallback(cbGaugeSet),
			Wakeup:         purego.NewCallback(cbWakeup),
		}
	})
	return uintptr(unsafe.Pointer(&theAPI))
}

func cbLog(host uintptr, level int32, msg uintptr) {
	e := lookupEntry(host)
	if e == nil {
		return
	}
	e.check("log")
	h := e.h
	s, ok := cString(ptrFrom(msg))
	if !ok {
		s = "(log message not NUL-terminated within 64 KiB)"
	}
	h.Log(level, s)
}

func cbMetricRegister(host uintptr, name uintptr, kind int32, help uintptr) int32 {
	e := lookupEntry(host)
	if e == nil {
		return -1
	}
	e.check("metric_register")
	h := e.h
	if name == 0 {
		return -1
	}
	n, ok := cString(ptrFrom(name))
	if !ok || !validMetricName(n) {
		return -1
	}
	k := cabi.MetricKind(kind)
	if k != cabi.MetricCounter && k != cabi.MetricGauge {
		return -1
	}
	hs, _ := cString(ptrFrom(help))
	return h.RegisterMetric(n, k, hs)
}

func cbCounterAdd(host uintptr, id int32, delta uint64) {
	if e := lookupEntry(host); e != nil {
		e.check("counter_add")
		e.h.CounterAdd(id, delta)
	}
}

func cbGaugeSet(host uintptr, id int32, value int64) {
	if e := lookupEntry(host); e != nil {
		e.check("gauge_set")
		e.h.GaugeSet(id, value)
	}
}

func cbWakeup(host uintptr) {
	if h := lookupHost(host); h != nil {
		h.Wakeup()
	}
}

func validMetricName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// BasicHost is a simple Host for tests and tools: it writes log lines to a
// writer, keeps metrics in memory and signals wakeups on a channel. It is
// safe for concurrent use.
type BasicHost struct {
	prefix string
	out    io.Writer
	wake   chan struct{}
	wakes  atomic.Uint64

	mu      sync.Mutex
	names   map[string]int32
	metrics []*basicMetric
}

type basicMetric struct {
	name  string
	kind  cabi.MetricKind
	help  string
	value atomic.Int64
}

var _ Host = (*BasicHost)(nil)

// NewBasicHost returns a BasicHost that writes log lines, each starting
// with prefix, to out; out may be nil to discard them.
func NewBasicHost(prefix string, out io.Writer) *BasicHost {
	if out == nil {
		out = io.Discard
	}
	return &BasicHost{prefix: prefix, out: out, wake: make(chan struct{}, 1), names: map[string]int32{}}
}

var levelNames = [...]string{"debug", "info", "warn", "error"}

// Log writes "prefix level: msg" as one line.
func (h *BasicHost) Log(level int32, msg string) {
	name := "level" + fmt.Sprint(level)
	if level >= 0 && int(level) < len(levelNames) {
		name = levelNames[level]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.out, "%s%s: %s\n", h.prefix, name, msg)
}

// RegisterMetric declares a metric, returning the same id for the same name
// and kind, and -1 for a name declared with another kind.
func (h *BasicHost) RegisterMetric(name string, kind cabi.MetricKind, help string) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.names[name]; ok {
		if h.metrics[id].kind != kind {
			return -1
		}
		return id
	}
	id := int32(len(h.metrics))
	h.metrics = append(h.metrics, &basicMetric{name: name, kind: kind, help: help})
	h.names[name] = id
	return id
}

func (h *BasicHost) metric(id int32, kind cabi.MetricKind) *basicMetric {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id < 0 || int(id) >= len(h.metrics) || h.metrics[id].kind != kind {
		return nil
	}
	return h.metrics[id]
}

// CounterAdd adds delta to counter id.
func (h *BasicHost) CounterAdd(id int32, delta uint64) {
	if m := h.metric(id, cabi.MetricCounter); m != nil {
		m.value.Add(int64(delta))
	}
}

// GaugeSet sets gauge id to value.
func (h *BasicHost) GaugeSet(id int32, value int64) {
	if m := h.metric(id, cabi.MetricGauge); m != nil {
		m.value.Store(value)
	}
}

// Wakeup counts the wakeup and signals WakeupC without blocking.
func (h *BasicHost) Wakeup() {
	h.wakes.Add(1)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// WakeupC returns a channel that receives after one or more Wakeup calls.
func (h *BasicHost) WakeupC() <-chan struct{} { return h.wake }

// Wakeups returns how many times Wakeup was called.
func (h *BasicHost) Wakeups() uint64 { return h.wakes.Load() }

// Metric returns the value and kind of the metric named name, and whether
// it exists. Counters are reported as int64.
func (h *BasicHost) Metric(name string) (int64, cabi.MetricKind, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.names[name]
	if !ok {
		return 0, 0, false
	}
	return h.metrics[id].value.Load(), h.metrics[id].kind, true
}

package plugins

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

// The three blackholes: library and connector type ID.
var blackholes = []struct{ lang, lib, id string }{
	{"c", "c_blackhole", "c_blackhole"},
	{"rust", "rust_blackhole", "rust_blackhole"},
	{"go", "go_blackhole", "go_blackhole"},
}

var loaded struct {
	mu   sync.Mutex
	libs map[string]*loader.Library
}

// loadType loads the named library once per process (Go runtimes cannot be
// unloaded) and returns its connector type id.
func loadType(tb testing.TB, name, id string) *loader.ConnectorType {
	tb.Helper()
	path := pluginPath(tb, name)
	loaded.mu.Lock()
	defer loaded.mu.Unlock()
	lib := loaded.libs[name]
	if lib == nil {
		var err error
		lib, err = loader.Load(path)
		if err != nil {
			tb.Fatalf("loader.Load(%s): %v", path, err)
		}
		if loaded.libs == nil {
			loaded.libs = map[string]*loader.Library{}
		}
		loaded.libs[name] = lib
	}
	t := lib.Type(id)
	if t == nil {
		tb.Fatalf("%s offers no connector type %q", path, id)
	}
	return t
}

func create(tb testing.TB, t *loader.ConnectorType, config string) (*loader.Instance, *loader.BasicHost) {
	tb.Helper()
	host := loader.NewBasicHost(t.ID+": ", nil)
	in, err := t.Create([]byte(config), host)
	if err != nil {
		tb.Fatalf("create %s with %s: %v", t.ID, config, err)
	}
	tb.Cleanup(in.Destroy)
	return in, host
}

func allocBatch(tb testing.TB, capacity, arena int) *cabi.Batch {
	tb.Helper()
	b, err := cabi.AllocBatch(capacity, arena)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

func counter(tb testing.TB, h *loader.BasicHost, name string) int64 {
	tb.Helper()
	v, kind, ok := h.Metric(name)
	if !ok {
		tb.Fatalf("metric %s not registered", name)
	}
	if kind != cabi.MetricCounter {
		tb.Fatalf("metric %s is a %v, want a counter", name, kind)
	}
	return v
}

func mustOK(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// TestEveryLanguage drives each blackhole through the whole lifecycle and
// feeds it the C generator's events; the host counters must match what the
// generator produced.
func TestEveryLanguage(t *testing.T) {
	const total = 50_000
	genType := loadType(t, "c_generator", "generator")
	for _, bh := range blackholes {
		t.Run(bh.lang, func(t *testing.T) {
			typ := loadType(t, bh.lib, bh.id)
			if typ.Roles != loader.RoleSink {
				t.Fatalf("%s roles = %v; want sink", bh.id, typ.Roles)
			}
			// Default config: counts reach the host on pause, drain and stop.
			sink, host := create(t, typ, "{}")
			gen, _ := create(t, genType, fmt.Sprintf(`{"size":64,"count":%d,"stream":7}`, total))
			b := allocBatch(t, 256, 256*64)

			if st, err := sink.Connect(1); err != nil || st != cabi.OK {
				t.Fatalf("connect = %v, %v; want WEIR_OK", st, err)
			}
			mustOK(t, "start sink", sink.Start())
			mustOK(t, "start generator", gen.Start())
			mustOK(t, "pause", sink.Pause())
			b.Append(1, 1, cabi.KindRaw, 0, make([]byte, 8))
			if st, err := sink.Write(b); err != nil || st != cabi.Retry {
				t.Fatalf("write while paused = %v, %v; want WEIR_RETRY", st, err)
			}
			mustOK(t, "resume", sink.Resume())

			var events, bytes, batches int64
			var seq uint64
			for {
				b.Reset()
				st, err := gen.Poll(b, 10*time.Millisecond)
				if err != nil {
					t.Fatalf("poll: %v", err)
				}
				for _, e := range b.EventSlice() {
					if e.Len != 64 || e.StreamID != 7 || e.Kind != cabi.KindRaw {
						t.Fatalf("event %d: len %d stream %d kind %d; want 64, 7, 0", seq, e.Len, e.StreamID, e.Kind)
					}
					data := e.Bytes()
					if got := *(*uint64)(e.Data); got != seq {
						t.Fatalf("event %d carries sequence %d", seq, got)
					}
					for i := 8; i < len(data); i++ {
						if data[i] != byte(seq+uint64(i)) {
							t.Fatalf("event %d byte %d = %#x; want %#x", seq, i, data[i], byte(seq+uint64(i)))
						}
					}
					seq++
				}
				if b.Len > 0 {
					if ws, err := sink.Write(b); err != nil || ws != cabi.OK {
						t.Fatalf("write: %v, %v", ws, err)
					}
					events += int64(b.Len)
					bytes += int64(b.ArenaLen)
					batches++
				}
				if st == cabi.EOF {
					break
				}
			}
			if events != total {
				t.Fatalf("generator produced %d events; want %d", events, total)
			}
			mustOK(t, "drain", sink.Drain())
			for name, want := range map[string]int64{
				"blackhole_events_total":  events,
				"blackhole_bytes_total":   bytes,
				"blackhole_batches_total": batches,
			} {
				if got := counter(t, host, name); got != want {
					t.Errorf("%s = %d; want %d", name, got, want)
				}
			}
			mustOK(t, "stop", sink.Stop())
			mustOK(t, "stop generator", gen.Stop())
			if st, err := sink.Write(b); err == nil {
				t.Errorf("write after stop = %v, nil; want an error", st)
			}
		})
	}
}

// TestBlackholeRejects checks that every blackhole refuses bad descriptors
// with WEIR_ERROR and a message naming the event, and counts nothing from
// the refused batch.
func TestBlackholeRejects(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(b *cabi.Batch)
		want  string
	}{
		{"null data", func(b *cabi.Batch) { b.EventSlice()[3].Data = nil }, "event 3 has len 16 but data is NULL"},
		{"reserved kind", func(b *cabi.Batch) { b.EventSlice()[2].Kind = 6 }, "event 2 has reserved kind 6"},
		{"reserved flag", func(b *cabi.Batch) { b.EventSlice()[0].Flags = 1 << 5 }, "event 0 has reserved flag bits 0x0020"},
		{"len over capacity", func(b *cabi.Batch) { b.Len = b.Capacity + 1 }, "batch len 9 exceeds capacity 8"},
		{"short stride", func(b *cabi.Batch) { b.EventSize = 16 }, "batch event_size 16, want at least 32"},
	}
	for _, bh := range blackholes {
		typ := loadType(t, bh.lib, bh.id)
		for _, c := range cases {
			t.Run(bh.lang+"/"+c.name, func(t *testing.T) {
				sink, host := create(t, typ, `{"publish_every":0}`)
				mustOK(t, "start", sink.Start())
				b := allocBatch(t, 8, 8*16)
				for i := 0; i < 4; i++ {
					b.Append(uint64(i), 1, cabi.KindText, 0, []byte("0123456789abcdef"))
				}
				// Plugin kinds and weir's defined flags are fine.
				b.EventSlice()[1].Kind = 0x8001
				b.EventSlice()[1].Flags = cabi.FlagTruncated | 1<<9
				if st, err := sink.Write(b); err != nil || st != cabi.OK {
					t.Fatalf("write of a good batch = %v, %v", st, err)
				}
				c.spoil(b)
				st, err := sink.Write(b)
				var oe *loader.OpError
				if !errors.As(err, &oe) || st != cabi.Error {
					t.Fatalf("write = %v, %v; want WEIR_ERROR with an *loader.OpError", st, err)
				}
				if !strings.Contains(oe.Message, c.want) {
					t.Errorf("last_error = %q; want it to contain %q", oe.Message, c.want)
				}
				if got := counter(t, host, "blackhole_events_total"); got != 4 {
					t.Errorf("events counted = %d; want 4 (the refused batch must not count)", got)
				}
			})
		}
	}
}

// TestPanics checks that panics in Rust and Go plugins come back as
// WEIR_ERROR with the panic message, and that the instance stays usable
// for destroy.
func TestPanics(t *testing.T) {
	cases := []struct {
		lib, id, config, op string
		want                string
	}{
		{"rust_blackhole", "rust_blackhole", `{"panic":"create"}`, "create", "create rust blackhole: panic: rust blackhole: create panicked as the config asked"},
		{"rust_blackhole", "rust_blackhole", `{"panic":"start"}`, "start", "start rust blackhole: panic: rust blackhole: start panicked"},
		{"rust_blackhole", "rust_blackhole", `{"panic":"write"}`, "write", "write rust blackhole: panic: rust blackhole: write panicked"},
		{"rust_blackhole", "rust_blackhole", `{"panic":"drain"}`, "drain", "drain rust blackhole: panic: rust blackhole: drain panicked"},
		{"go_blackhole", "go_blackhole", `{"panic":"create"}`, "create", "create go_blackhole: panic: go blackhole: create panicked as the config asked"},
		{"go_blackhole", "go_blackhole", `{"panic":"connect"}`, "connect", "connect go_blackhole: panic: go blackhole: connect panicked"},
		{"go_blackhole", "go_blackhole", `{"panic":"write"}`, "write", "write go_blackhole: panic: go blackhole: write panicked"},
		{"go_blackhole", "go_blackhole", `{"panic":"stop"}`, "stop", "stop go_blackhole: panic: go blackhole: stop panicked"},
		{"go_counter", "go_counter", `{"panic":"process"}`, "process", "process go_counter: panic: go counter: process panicked"},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+c.op, func(t *testing.T) {
			typ := loadType(t, c.lib, c.id)
			host := loader.NewBasicHost("", nil)
			in, err := typ.Create([]byte(c.config), host)
			if c.op == "create" {
				if err == nil {
					in.Destroy()
					t.Fatal("create succeeded; want the panic as an error")
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("create error = %q; want it to contain %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			defer in.Destroy()
			b := allocBatch(t, 4, 64)
			b.Append(1, 1, cabi.KindRaw, 0, []byte("x"))
			steps := []struct {
				op string
				do func() error
			}{
				{"connect", func() error { _, err := in.Connect(1); return err }},
				{"start", in.Start},
				{"write", func() error {
					if typ.Roles&loader.RoleSink == 0 {
						return nil
					}
					_, err := in.Write(b)
					return err
				}},
				{"process", func() error {
					if typ.Roles&loader.RoleProcessor == 0 {
						return nil
					}
					return in.Process(b)
				}},
				{"drain", in.Drain},
				{"stop", in.Stop},
			}
			for _, s := range steps {
				err := s.do()
				if s.op != c.op {
					if err != nil {
						t.Fatalf("%s: %v", s.op, err)
					}
					continue
				}
				var oe *loader.OpError
				if !errors.As(err, &oe) || oe.Status != cabi.Error {
					t.Fatalf("%s = %v; want an *loader.OpError with WEIR_ERROR", s.op, err)
				}
				if !strings.Contains(oe.Message, c.want) {
					t.Fatalf("%s last_error = %q; want it to contain %q", s.op, oe.Message, c.want)
				}
				return
			}
			t.Fatalf("operation %s never ran", c.op)
		})
	}
}

// TestTwoGoRuntimes loads two Go c-shared plugins into this Go host and
// drives them from many goroutines at once, while the host collects garbage
// in a loop and both plugins allocate and run their own collectors. Every
// count must come out exact.
func TestTwoGoRuntimes(t *testing.T) {
	bhType := loadType(t, "go_blackhole", "go_blackhole")
	ctType := loadType(t, "go_counter", "go_counter")
	const (
		workers   = 8
		rounds    = 2000
		perBatch  = 64
		dropEvery = 7
		deadline  = 60 * time.Second
	)
	stopGC := make(chan struct{})
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	hostGCs := 0
	go func() {
		defer gcWG.Done()
		for {
			select {
			case <-stopGC:
				return
			default:
			}
			runtime.GC()
			hostGCs++
			time.Sleep(time.Millisecond)
		}
	}()

	type result struct {
		bhHost, ctHost *loader.BasicHost
		dropped        int
		err            error
	}
	results := make([]result, workers)
	start := time.Now()
	var wg sync.WaitGroup
	// Churn: instances of both plugins are created, started and destroyed
	// while the workers run, so both runtimes' handle tables change under
	// concurrent calls.
	churnErr := make(chan error, 1)
	churned := 0
	go func() {
		defer close(churnErr)
		for i := 0; ; i++ {
			churned = i
			select {
			case <-stopGC:
				return
			default:
			}
			for _, typ := range []*loader.ConnectorType{bhType, ctType} {
				in, err := typ.Create([]byte(`{"gc_every":1}`), loader.NewBasicHost("", nil))
				if err != nil {
					churnErr <- fmt.Errorf("churn %d: %w", i, err)
					return
				}
				err = in.Start()
				in.Destroy()
				if err != nil {
					churnErr <- fmt.Errorf("churn %d: %w", i, err)
					return
				}
			}
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := &results[w]
			r.err = func() error {
				r.bhHost = loader.NewBasicHost("", nil)
				r.ctHost = loader.NewBasicHost("", nil)
				bh, err := bhType.Create([]byte(`{"publish_every":0,"gc_every":50,"alloc":4096}`), r.bhHost)
				if err != nil {
					return err
				}
				defer bh.Destroy()
				ct, err := ctType.Create([]byte(fmt.Sprintf(`{"drop_every":%d,"gc_every":60}`, dropEvery)), r.ctHost)
				if err != nil {
					return err
				}
				defer ct.Destroy()
				if err := bh.Start(); err != nil {
					return err
				}
				if err := ct.Start(); err != nil {
					return err
				}
				b, err := cabi.AllocBatch(perBatch, perBatch*32)
				if err != nil {
					return err
				}
				defer cabi.FreeBatch(b)
				payload := make([]byte, 32)
				for i := 0; i < rounds; i++ {
					if time.Since(start) > deadline {
						return fmt.Errorf("round %d: over the %v budget", i, deadline)
					}
					b.Reset()
					for j := 0; j < perBatch; j++ {
						b.Append(uint64(i), uint64(w), cabi.KindRaw, 0, payload)
					}
					if err := ct.Process(b); err != nil {
						return fmt.Errorf("round %d: %w", i, err)
					}
					for _, e := range b.EventSlice() {
						if e.Flags&cabi.FlagDrop != 0 {
							r.dropped++
						}
					}
					if st, err := bh.Write(b); err != nil || st != cabi.OK {
						return fmt.Errorf("round %d: write = %v, %w", i, st, err)
					}
				}
				if err := bh.Drain(); err != nil {
					return err
				}
				return bh.Stop()
			}()
		}(w)
	}
	wg.Wait()
	close(stopGC)
	gcWG.Wait()
	if err := <-churnErr; err != nil {
		t.Errorf("create/destroy churn: %v", err)
	}
	t.Logf("%d workers x %d rounds in %v, %d host GCs, %d create/destroy churns", workers, rounds, time.Since(start).Round(time.Millisecond), hostGCs, churned)
	const events = rounds * perBatch
	for w, r := range results {
		if r.err != nil {
			t.Errorf("worker %d: %v", w, r.err)
			continue
		}
		if got := counter(t, r.bhHost, "blackhole_events_total"); got != events {
			t.Errorf("worker %d: blackhole events = %d; want %d", w, got, events)
		}
		if got := counter(t, r.bhHost, "blackhole_bytes_total"); got != events*32 {
			t.Errorf("worker %d: blackhole bytes = %d; want %d", w, got, events*32)
		}
		if got := counter(t, r.ctHost, "counter_events_total"); got != events {
			t.Errorf("worker %d: counter events = %d; want %d", w, got, events)
		}
		if got := counter(t, r.ctHost, "counter_dropped_total"); got != events/dropEvery || r.dropped != events/dropEvery {
			t.Errorf("worker %d: dropped = %d (host counter), %d (flags seen); want %d", w, got, r.dropped, events/dropEvery)
		}
	}
}

// TestGoTicker drives the go_ticker source, the second type in the
// go_counter library: its goroutine calls the host's wakeup, and its ticks
// arrive in order until the count is reached.
func TestGoTicker(t *testing.T) {
	typ := loadType(t, "go_counter", "go_ticker")
	if typ.Roles != loader.RoleSource {
		t.Fatalf("go_ticker roles = %v; want source", typ.Roles)
	}
	host := loader.NewBasicHost("", nil)
	in, err := typ.Create([]byte(`{"interval_us":500,"count":40}`), host)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	b := allocBatch(t, 16, 16*8)
	if _, err := in.Poll(b, 0); err == nil || !strings.Contains(err.Error(), "poll before start") {
		t.Fatalf("poll before start = %v; want an error", err)
	}
	mustOK(t, "start", in.Start())
	var next uint64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.Reset()
		st, err := in.Poll(b, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.EventSlice() {
			if e.Kind != cabi.KindTick || e.Len != 8 {
				t.Fatalf("tick %d: kind %d len %d; want a tick of 8 bytes", next, e.Kind, e.Len)
			}
			if got := *(*uint64)(e.Data); got != next {
				t.Fatalf("tick carries %d; want %d", got, next)
			}
			next++
		}
		if st == cabi.EOF {
			break
		}
	}
	if next != 40 {
		t.Fatalf("got %d ticks; want 40", next)
	}
	select {
	case <-host.WakeupC():
	default:
		t.Error("the ticker goroutine never woke the host")
	}
	// The ticker wakes the host after it counts a tick, so the last
	// wakeup can land just after Poll saw the last tick.
	for wait := time.Now().Add(20 * time.Second); host.Wakeups() < 40 && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	if host.Wakeups() < 40 {
		t.Errorf("host saw %d wakeups; want at least one per tick (40)", host.Wakeups())
	}
	mustOK(t, "stop", in.Stop())
}

// TestCHarness builds plugins/c/testdata/harness.c, a host written in C
// with dlopen, and runs the C generator into every blackhole with it: the
// plugins work without the Go loader too.
func TestCHarness(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skipf("cc not found: %v", err)
	}
	harness := filepath.Join(t.TempDir(), "harness")
	if err := run(exec.Command("cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I", "../cabi/include",
		"-o", harness, "c/testdata/harness.c", "-ldl")); err != nil {
		t.Fatal(err)
	}
	gen := pluginPath(t, "c_generator")
	for _, bh := range blackholes {
		out, err := exec.Command(harness, gen, pluginPath(t, bh.lib)).CombinedOutput()
		if err != nil {
			t.Fatalf("harness with %s: %v\n%s", bh.lib, err, out)
		}
		if !strings.Contains(string(out), "ok: 100000 events, 6400000 bytes") {
			t.Errorf("harness with %s printed:\n%s", bh.lib, out)
		}
	}
}

package loader

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// callPaths are the two ways an Instance can call its plugin, as CallEnv
// selects them. On platforms without the direct path both use SyscallN.
var callPaths = []struct{ name, env string }{{"direct", ""}, {"syscalln", "syscalln"}}

// TestCallFrameLayout checks the offsets call_amd64.s addresses (the
// trampoline and faultHandler).
func TestCallFrameLayout(t *testing.T) {
	var f callFrame
	got := []uintptr{unsafe.Offsetof(f.fn), unsafe.Offsetof(f.a0), unsafe.Offsetof(f.a1),
		unsafe.Offsetof(f.a2), unsafe.Offsetof(f.ret), unsafe.Offsetof(f.sp), unsafe.Offsetof(f.op), unsafe.Offsetof(f.whoMsg)}
	want := []uintptr{0, 8, 16, 24, 32, 40, 48, 64}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("callFrame offsets and size = %v; want %v", got, want)
		}
	}
}

// TestCallEnv checks that CallEnv picks the path per instance.
func TestCallEnv(t *testing.T) {
	l, err := Load(buildPlugin(t, "callback.c", "../include"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range callPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Setenv(CallEnv, p.env)
			in, err := l.Type("chatty").Create(nil, NewBasicHost("", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Destroy()
			want := haveDirect && p.env == ""
			if in.direct != want {
				t.Errorf("%s=%q: direct = %v; want %v", CallEnv, p.env, in.direct, want)
			}
		})
	}
}

// TestDirectArgs calls a bare C function with three arguments through the
// direct trampoline and checks each arrived in its place and the whole
// 64-bit result came back, and that the callee gets an aligned stack.
func TestDirectArgs(t *testing.T) {
	if !haveDirect {
		t.Skip("no direct call path on " + runtime.GOOS + "/" + runtime.GOARCH)
	}
	l, err := Load(buildPlugin(t, "callback.c", "../include"))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := purego.Dlsym(l.handle, "mix3")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ a, b, c uint64 }{
		{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1},
		{3, 5, 7}, {1 << 40, 1 << 41, 1 << 62}, {^uint64(0), 2, ^uint64(0) - 5},
	}
	in := &Instance{direct: true}
	misalign, err := purego.Dlsym(l.handle, "frame_misalign")
	if err != nil {
		t.Fatal(err)
	}
	if got := in.call3("test", misalign, 0, 0, 0, 0); got != 0 {
		t.Errorf("frame_misalign() through the trampoline = %d; want 0 (stack 16-byte aligned)", got)
	}
	for _, tc := range cases {
		want := tc.a*1000003 + tc.b*1009 + tc.c
		if got := uint64(in.call3("test", fn, 3, uintptr(tc.a), uintptr(tc.b), uintptr(tc.c))); got != want {
			t.Errorf("mix3(%d, %d, %d) = %d; want %d", tc.a, tc.b, tc.c, got, want)
		}
		// The same call through SyscallN must agree.
		r, _, _ := purego.SyscallN(fn, uintptr(tc.a), uintptr(tc.b), uintptr(tc.c))
		if uint64(r) != want {
			t.Errorf("SyscallN mix3(%d, %d, %d) = %d; want %d", tc.a, tc.b, tc.c, r, want)
		}
	}
}

// TestCallbacksInsideCalls drives a plugin that logs, updates metrics and
// calls wakeup from inside write and poll, on both call paths, while
// other goroutines force garbage collections and allocate (so goroutine
// stacks grow and move, and the scheduler has other work while the plugin
// is in C). Every callback must reach the instance's Host, every status
// and argument must come through, and nothing may crash.
func TestCallbacksInsideCalls(t *testing.T) {
	l, err := Load(buildPlugin(t, "callback.c", "../include"))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // GC and allocation pressure
		defer bg.Done()
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			keep = append(keep, make([]byte, 4096))
			if len(keep) > 256 {
				keep = nil
				runtime.GC()
			}
		}
	}()
	defer func() { close(stop); bg.Wait() }()

	for _, p := range callPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Setenv(CallEnv, p.env)
			const workers, calls = 4, 300
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				var log strings.Builder
				h := NewBasicHost("", &log)
				in, err := l.Type("chatty").Create(nil, h)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(in.Destroy)
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					errs <- driveChatty(in, h, &log, w, calls)
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// driveChatty makes calls writes and calls polls on one chatty instance
// and checks what its host saw. grow recurses to make the goroutine's
// stack grow (and move) between calls.
func driveChatty(in *Instance, h *BasicHost, log *strings.Builder, w, calls int) error {
	b, err := cabi.AllocBatch(16, 0)
	if err != nil {
		return err
	}
	defer cabi.FreeBatch(b)
	var written int64
	for i := 0; i < calls; i++ {
		b.Reset()
		n := i % 10
		for j := 0; j < n; j++ {
			b.Append(uint64(j), 0, cabi.KindTick, 0, nil)
		}
		st, err := in.Write(b)
		want := cabi.OK
		if n == 7 {
			want = cabi.Retry
		}
		if err != nil || st != want {
			return fmt.Errorf("worker %d: write %d events = %v, %v; want %v", w, n, st, err, want)
		}
		written += int64(n)

		b.Reset()
		timeout := time.Duration(w*1000000 + i)
		st, err = in.Poll(b, timeout)
		if err != nil || st != cabi.OK {
			return fmt.Errorf("worker %d: poll = %v, %v; want OK", w, st, err)
		}
		if e := event(b, 0); b.Len != 1 || e.TsNs != uint64(timeout) || e.StreamID != uint64(i+1) {
			return fmt.Errorf("worker %d: poll %d gave len %d, ts %d, stream %d; want 1, %d, %d",
				w, i, b.Len, e.TsNs, e.StreamID, timeout, i+1)
		}
		if v, _, _ := h.Metric("timeout"); v != int64(timeout) {
			return fmt.Errorf("worker %d: timeout gauge = %d after poll(%d)", w, v, timeout)
		}
		grow(i % 64)
	}
	if v, _, _ := h.Metric("events"); v != written {
		return fmt.Errorf("worker %d: events counter = %d; want %d", w, v, written)
	}
	if got := h.Wakeups(); got != uint64(calls) {
		return fmt.Errorf("worker %d: wakeups = %d; want %d", w, got, calls)
	}
	h.mu.Lock()
	out := log.String()
	h.mu.Unlock()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2*calls {
		return fmt.Errorf("worker %d: %d log lines; want %d", w, len(lines), 2*calls)
	}
	if lines[0] != "info: write 0" || lines[len(lines)-1] != fmt.Sprintf("debug: poll %d", w*1000000+calls-1) {
		return fmt.Errorf("worker %d: log starts %q and ends %q", w, lines[0], lines[len(lines)-1])
	}
	return nil
}

//go:noinline
func grow(depth int) byte {
	var pad [512]byte
	if depth == 0 {
		return pad[0]
	}
	pad[depth] = byte(depth)
	return grow(depth-1) + pad[depth]
}

// TestHotPathAllocsSyscallN repeats TestHotPathAllocs's checks with the
// instance on SyscallN, so both paths stay allocation-free.
func TestHotPathAllocsSyscallN(t *testing.T) {
	t.Setenv(CallEnv, "syscalln")
	TestHotPathAllocs(t)
}

// BenchmarkCallPath compares the two call paths side by side: each
// iteration is one round that times callChunk calls of each case in turn,
// so all cases see the same machine load. Cases: an empty C function with
// three arguments called bare (SyscallN as Instance used it, and the
// direct trampoline), Instance.Write of an empty batch into the bench
// sink on an instance of each path, and an empty exported function of the
// Go c-shared test plugin called bare both ways (the difference from the C
// noop is what entering the plugin's Go runtime costs). It reports the median and best round
// per case in ns/call, and the direct/SyscallN ratios of the medians.
func BenchmarkCallPath(b *testing.B) {
	const callChunk = 4096
	l, err := Load(buildPlugin(b, "bench.c", "../include"))
	if err != nil {
		b.Fatal(err)
	}
	noop, err := purego.Dlsym(l.handle, "bench_noop")
	if err != nil {
		b.Fatal(err)
	}
	instances := map[string]*Instance{}
	for _, p := range callPaths {
		b.Setenv(CallEnv, p.env)
		in, err := l.Type("bench").Create(nil, NewBasicHost("", nil))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(in.Destroy)
		instances[p.name] = in
	}
	if !instances["direct"].direct {
		b.Skip("no direct call path on " + runtime.GOOS + "/" + runtime.GOARCH)
	}
	// The Go plugin under the name TestTwoGoRuntimes uses, so a run of
	// tests and benchmarks loads no extra Go runtime.
	golib, err := Load(goPluginCopies(b, "two", 1)[0])
	if err != nil {
		b.Fatal(err)
	}
	gonoop, err := purego.Dlsym(golib.handle, "goNoop")
	if err != nil {
		b.Fatal(err)
	}
	batch := ctest.NewBatch(b, 1, 64)
	bare := &Instance{}
	cases := []struct {
		name string
		call func()
	}{
		{"noop-syscalln", func() { bare.direct = false; bare.call3("test", noop, 3, 1, 2, 3) }},
		{"noop-direct", func() { bare.direct = true; bare.call3("test", noop, 3, 1, 2, 3) }},
		{"write-syscalln", func() { instances["syscalln"].Write(batch) }},
		{"write-direct", func() { instances["direct"].Write(batch) }},
		{"gonoop-syscalln", func() { bare.direct = false; bare.call3("test", gonoop, 3, 1, 2, 3) }},
		{"gonoop-direct", func() { bare.direct = true; bare.call3("test", gonoop, 3, 1, 2, 3) }},
	}
	rounds := make([][]float64, len(cases))
	for k, c := range cases {
		for j := 0; j < callChunk; j++ { // warm up
			c.call()
		}
		rounds[k] = make([]float64, 0, b.N)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, c := range cases {
			t0 := time.Now()
			for j := 0; j < callChunk; j++ {
				c.call()
			}
			rounds[k] = append(rounds[k], float64(time.Since(t0).Nanoseconds())/callChunk)
		}
	}
	b.StopTimer()
	med := make([]float64, len(cases))
	for k, c := range cases {
		sort.Float64s(rounds[k])
		med[k] = rounds[k][len(rounds[k])/2]
		b.ReportMetric(med[k], "ns/call-"+c.name)
		b.ReportMetric(rounds[k][0], "best-ns/call-"+c.name)
	}
	b.ReportMetric(med[1]/med[0], "x-noop")
	b.ReportMetric(med[3]/med[2], "x-write")
	b.ReportMetric(med[5]/med[4], "x-gonoop")
}

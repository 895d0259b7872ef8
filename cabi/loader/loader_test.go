package loader

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadGood(t *testing.T) {
	l := loadGood(t)
	if l.Name != "good" || l.Version != "1.2.3" || l.ABIMajor != cabi.ABIMajor || l.ABIMinor != cabi.ABIMinor || l.GoRuntime {
		t.Errorf("Load(good) = name %q version %q abi %d.%d go %v; want good 1.2.3 %d.%d false",
			l.Name, l.Version, l.ABIMajor, l.ABIMinor, l.GoRuntime, cabi.ABIMajor, cabi.ABIMinor)
	}
	want := []struct {
		id     string
		roles  Role
		acks   bool
		desc   string
		schema bool
	}{
		{"counter", RoleSource, true, "counts to config.count", true},
		{"sink", RoleSink, false, "checks and counts events", false},
		{"filter", RoleProcessor, false, "", false},
	}
	if len(l.Types) != len(want) {
		t.Fatalf("Load(good) has %d types; want %d", len(l.Types), len(want))
	}
	for i, w := range want {
		got := l.Types[i]
		if got.Unpausable != (w.id == "counter") {
			t.Errorf("type %q: Unpausable = %v; only the counter source sets WEIR_SOURCE_UNPAUSABLE", w.id, got.Unpausable)
		}
		if got.ID != w.id || got.Roles != w.roles || got.WantsAcks != w.acks || got.Description != w.desc || (got.ConfigSchema != "") != w.schema {
			t.Errorf("type %d = {%q %v acks=%v %q schema=%q}; want {%q %v acks=%v %q schema=%v}",
				i, got.ID, got.Roles, got.WantsAcks, got.Description, got.ConfigSchema, w.id, w.roles, w.acks, w.desc, w.schema)
		}
		if got.Library() != l || l.Type(w.id) != got {
			t.Errorf("type %q: Library() or Library.Type() does not round-trip", w.id)
		}
	}
	if l.Type("nope") != nil {
		t.Error(`Type("nope") != nil`)
	}
}

// TestSourceLifecycle drives the counter source through every step and
// checks events, foreign bytes, acks, metrics, logs and wakeups from a
// plugin thread.
func TestSourceLifecycle(t *testing.T) {
	l := loadGood(t)
	var log strings.Builder
	host := NewBasicHost("counter ", &log)
	in, err := l.Type("counter").Create([]byte(`{"count":20}`), host)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	defer in.Destroy()
	if !strings.Contains(log.String(), "counter info: counter created") {
		t.Errorf("log = %q; want the create message", log.String())
	}
	if st, err := in.Connect(1); st != cabi.OK || err != nil {
		t.Fatalf("Connect = %v, %v", st, err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-host.WakeupC():
	case <-time.After(5 * time.Second):
		t.Fatal("no wakeup from the plugin's thread within 5s")
	}
	if err := in.Pause(); err != nil { // absent op: OK
		t.Fatal(err)
	}
	if err := in.Resume(); err != nil {
		t.Fatal(err)
	}

	b := ctest.NewBatch(t, 8, 256)
	var got []string
	foreignSeen := 0
	for polls := 0; ; polls++ {
		if polls > 100 {
			t.Fatal("source did not reach EOF in 100 polls")
		}
		b.Reset()
		b.ID = uint64(polls + 1)
		st, err := in.Poll(b, time.Millisecond)
		if err != nil {
			t.Fatalf("Poll = %v", err)
		}
		for i := range b.EventSlice() {
			e := &b.EventSlice()[i]
			// The plugin puts every event with ts%3 == 2 in its own memory.
			if foreign := e.TsNs%3 == 2; b.InArena(e) == foreign {
				t.Errorf("event %q: in arena = %v; want %v", e.Bytes(), b.InArena(e), !foreign)
			}
			if e.TsNs%3 == 2 {
				foreignSeen++
			}
		}
		if !b.AdoptForeign(0) {
			t.Fatal("AdoptForeign found no room in a 256-byte arena")
		}
		for i := range b.EventSlice() {
			e := &b.EventSlice()[i]
			if !b.InArena(e) {
				t.Errorf("after AdoptForeign event %q is outside the arena", e.Bytes())
			}
			got = append(got, string(e.Bytes()))
		}
		if err := in.Ack(b.ID); err != nil {
			t.Fatal(err)
		}
		if st == cabi.EOF {
			break
		}
	}
	if foreignSeen != 6 {
		t.Errorf("saw %d events in plugin memory; want 6", foreignSeen)
	}
	if len(got) != 20 || got[0] != "event 0" || got[2] != "event 2" || got[19] != "event 19" {
		t.Errorf("events = %q; want event 0..event 19", got)
	}
	if v, kind, ok := host.Metric("acked_batches"); !ok || kind != cabi.MetricGauge || v < 7 {
		t.Errorf("acked_batches = %d, %v, %v; want a gauge >= 7", v, kind, ok)
	}
	if err := in.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := host.Wakeups(); n != 3 {
		t.Errorf("wakeups = %d; want 3", n)
	}
	if _, err := in.Write(b); err == nil {
		t.Error("Write on a source succeeded")
	}
}

func TestSinkAndProcessor(t *testing.T) {
	l := loadGood(t)
	host := NewBasicHost("", nil)
	sink, err := l.Type("sink").Create(nil, host)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Destroy()
	proc, err := l.Type("filter").Create(nil, NewBasicHost("", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Destroy()

	b := ctest.NewBatch(t, 4, 64)
	for _, s := range []string{"alpha", "beta", "gamma", ""} {
		b.Append(1, 2, cabi.KindText, 0, []byte(s))
	}
	if err := proc.Process(b); err != nil {
		t.Fatalf("Process = %v", err)
	}
	ev := b.EventSlice()
	if ev[0].Flags&cabi.FlagDrop != 0 || ev[1].Flags&cabi.FlagDrop == 0 || string(ev[0].Bytes()) != "alph" || string(ev[2].Bytes()) != "gamm" {
		t.Errorf("after Process: %q drop=%v, %q drop=%v", ev[0].Bytes(), ev[0].Flags&cabi.FlagDrop != 0, ev[1].Bytes(), ev[1].Flags&cabi.FlagDrop != 0)
	}
	if st, err := sink.Write(b); st != cabi.OK || err != nil {
		t.Fatalf("Write = %v, %v", st, err)
	}
	if v, _, _ := host.Metric("events"); v != 4 {
		t.Errorf("events counter = %d; want 4", v)
	}
	if v, _, _ := host.Metric("bytes"); v != 4+4+4 {
		t.Errorf("bytes counter = %d; want 12", v)
	}
	// The sink checks descriptors: NULL data with a length is an error
	// carrying the plugin's message.
	ev[3].Len = 3
	st, err := sink.Write(b)
	var oe *OpError
	if st != cabi.Error || !errors.As(err, &oe) || !errors.Is(err, ErrPlugin) || oe.Message != "event 3: NULL data with len 3" || oe.Connector != "sink" {
		t.Errorf("Write(bad batch) = %v, %v; want an OpError with the plugin's message", st, err)
	}
	if sink.LastError() != "event 3: NULL data with len 3" {
		t.Errorf("LastError = %q", sink.LastError())
	}
	if _, err := sink.Poll(b, 0); err == nil {
		t.Error("Poll on a sink succeeded")
	}
}

func TestDestroyOnceAndClose(t *testing.T) {
	l := loadGood(t)
	in, err := l.Type("sink").Create(nil, NewBasicHost("", nil))
	if err != nil {
		t.Fatal(err)
	}
	// Close must refuse while the instance lives; the library is shared
	// with other tests, so this never unloads it.
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), "still alive") {
		t.Errorf("Close with a live instance = %v; want an error", err)
	}
	in.Destroy()
	in.Destroy()
	b := ctest.NewBatch(t, 1, 0)
	if _, err := in.Write(b); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Write after Destroy = %v; want ErrDestroyed", err)
	}
	if err := in.Start(); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Start after Destroy = %v; want ErrDestroyed", err)
	}
	if in.LastError() != "" {
		t.Errorf("LastError after Destroy = %q", in.LastError())
	}
}

// TestCloseUnloads loads a private copy, closes it, and checks that
// creating from a closed library fails cleanly.
func TestCloseUnloads(t *testing.T) {
	src := buildPlugin(t, "good.c", "../include")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "copy.so")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	typ := l.Type("sink")
	if err := l.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := typ.Create(nil, NewBasicHost("", nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Close = %v; want ErrClosed", err)
	}
}

// TestV10Plugin loads a plugin built against the frozen ABI 1.0 header in
// testdata/v1.0 and runs it through the whole lifecycle.
func TestV10Plugin(t *testing.T) {
	l, err := Load(buildPlugin(t, "v1.0/oldplugin.c", "testdata/v1.0"))
	if err != nil {
		t.Fatalf("Load(v1.0 plugin) = %v", err)
	}
	typ := l.Type("ticker")
	if typ == nil || typ.Roles != RoleSource|RoleSink || l.ABIMinor != 0 {
		t.Fatalf("v1.0 plugin types = %+v", l.Types)
	}
	host := NewBasicHost("", nil)
	in, err := typ.Create([]byte("{}"), host)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	if st, err := in.Connect(1); st != cabi.Retry || err != nil {
		t.Errorf("Connect(1) = %v, %v; want WEIR_RETRY", st, err)
	}
	if st, err := in.Connect(2); st != cabi.OK || err != nil {
		t.Errorf("Connect(2) = %v, %v; want WEIR_OK", st, err)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	b := ctest.NewBatch(t, 3, 0)
	total := 0
	for i := 0; i < 10; i++ {
		b.Reset()
		st, err := in.Poll(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		total += int(b.Len)
		if st, err := in.Write(b); st != cabi.OK || err != nil {
			t.Fatalf("Write = %v, %v", st, err)
		}
		if st == cabi.EOF {
			break
		}
	}
	if total != 5 {
		t.Errorf("polled %d events; want 5", total)
	}
	if v, _, _ := host.Metric("written"); v != 5 {
		t.Errorf("written = %d; want 5", v)
	}
	for _, f := range []func() error{in.Pause, in.Resume, in.Drain, in.Stop} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
}

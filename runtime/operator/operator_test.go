package operator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

// ev is a test event.
type ev struct {
	ts, stream uint64
	kind       cabi.Kind
	flags      uint16
	data       []byte
}

func newBatch(t testing.TB, events ...ev) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(1024, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	for _, e := range events {
		if !b.Append(e.ts, e.stream, e.kind, e.flags, e.data) {
			t.Fatal("batch full")
		}
	}
	return b
}

// kept returns the indexes of the events not marked dropped.
func kept(b *cabi.Batch) []int {
	var out []int
	for i, e := range b.EventSlice() {
		if e.Flags&cabi.FlagDrop == 0 {
			out = append(out, i)
		}
	}
	return out
}

func mustNew(t testing.TB, typ, config string) Op {
	t.Helper()
	op, err := New(typ, []byte(config))
	if err != nil {
		t.Fatalf("New(%q, %s): %v", typ, config, err)
	}
	return op
}

func sizes(ns ...int) []ev {
	out := make([]ev, len(ns))
	for i, n := range ns {
		out[i] = ev{ts: uint64(i), stream: uint64(i % 3), kind: cabi.Kind(i % 2), data: make([]byte, n)}
	}
	return out
}

func TestSpecsCheck(t *testing.T) {
	for _, id := range IDs() {
		if err := Types[id].Spec.Check(); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if Types[id].ID != id || Types[id].Description == "" {
			t.Errorf("%s: ID %q or empty description", id, Types[id].ID)
		}
		for _, path := range Types[id].Exprs {
			s := Types[id].Spec
			list, rest, isList := strings.Cut(path, "[].")
			if isList {
				f, ok := s.Field(list)
				if !ok || f.Kind != spec.Objects {
					t.Errorf("%s: expression path %s: no list field %s", id, path, list)
					continue
				}
				s, path = f.Fields, rest
			}
			if f, ok := s.Field(path); !ok || f.Kind != spec.String {
				t.Errorf("%s: expression path %s is not a string field", id, path)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		typ, config, want string
	}{
		{"nope", `{}`, `unknown type "nope"`},
		{"filter", `{}`, `missing required field "expr"`},
		{"filter", `{"expr": "len >> 3"}`, `offset 5`},
		{"sample", `{"n": 0}`, `out of range`},
		{"truncate", `{"max": "1XB"}`, `parse size`},
		{"rate_limit", `{"rate": 0}`, `out of range`},
		{"route", `{"outputs": []}`, `at least one output`},
		{"route", `{"outputs": [{"name": "a", "when": "true"}, {"name": "a", "when": "true"}]}`, `named twice`},
		{"route", `{"outputs": [{"name": "default", "when": "true"}]}`, `reserved`},
		{"aggregate", `{"window": "1us"}`, `out of range`},
		{"aggregate", `{"window": "1s", "group_by": "color"}`, `not one of`},
	}
	for _, tt := range tests {
		_, err := New(tt.typ, []byte(tt.config))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, %s) = %v; want error containing %q", tt.typ, tt.config, err, tt.want)
		}
	}
	_, err := New("filter", []byte(`{"expr": "len > 1 and kind == bogus"}`))
	var ee *ExprError
	if !errors.As(err, &ee) || ee.Field != "expr" || ee.Offset != 20 {
		t.Errorf("New(filter, bad kind) = %v; want *ExprError for expr at offset 20", err)
	}
	_, err = New("route", []byte(`{"outputs": [{"name": "a", "when": "true"}, {"name": "b", "when": "ts <"}]}`))
	if !errors.As(err, &ee) || ee.Field != "outputs[1].when" || ee.Offset != 4 {
		t.Errorf("New(route, bad when) = %v; want *ExprError for outputs[1].when at offset 4", err)
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		config string
		want   []int
	}{
		{`{"expr": "len > 10"}`, []int{1, 3}},
		{`{"expr": "len > 10", "drop": true}`, []int{0, 2, 4}},
		{`{"expr": "kind == packet"}`, []int{1, 3}},
		{`{"expr": "stream_id in [0, 2]"}`, []int{0, 2, 3}},
		{`{"expr": "not (len <= 10) or ts == 4"}`, []int{1, 3, 4}},
	}
	for _, tt := range tests {
		b := newBatch(t, sizes(5, 20, 10, 11, 0)...)
		mustNew(t, "filter", tt.config).Apply(b, time.Time{})
		if got := kept(b); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("filter %s kept %v; want %v", tt.config, got, tt.want)
		}
	}
}

func TestFilterSkipsDropped(t *testing.T) {
	b := newBatch(t, ev{flags: cabi.FlagDrop, data: []byte("x")}, ev{data: []byte("y")})
	mustNew(t, "filter", `{"expr": "len == 1", "drop": true}`).Apply(b, time.Time{})
	if got := kept(b); len(got) != 0 {
		t.Errorf("kept %v; want none", got)
	}
	if b.EventSlice()[0].Flags != cabi.FlagDrop {
		t.Errorf("flags of a pre-dropped event changed to %#x", b.EventSlice()[0].Flags)
	}
}

func TestSampleEvery(t *testing.T) {
	op := mustNew(t, "sample", `{"n": 3, "mode": "every"}`)
	var got []uint64
	for round := 0; round < 3; round++ {
		evs := sizes(1, 1, 1, 1, 1)
		for i := range evs {
			evs[i].ts = uint64(round*5 + i)
		}
		evs[1].flags = cabi.FlagDrop // not counted
		b := newBatch(t, evs...)
		op.Apply(b, time.Time{})
		for _, i := range kept(b) {
			got = append(got, b.EventSlice()[i].TsNs)
		}
	}
	// Live events by ts: 0 2 3 4 5 7 8 9 10 12 13 14; every 3rd from the 1st.
	if want := "[0 4 8 12]"; fmt.Sprint(got) != want {
		t.Errorf("sample n=3 kept ts %v; want %s", got, want)
	}
}

// TestSampleUnbiased feeds request/reply pairs (kinds 0 and 1 alternating)
// through the default sample operator at n=2: every-nth would keep only
// requests, a random draw keeps about half of each. Dropped events are
// neither counted nor kept.
func TestSampleUnbiased(t *testing.T) {
	op := mustNew(t, "sample", `{"n": 2}`)
	var keptKind [2]int
	const rounds, perBatch = 40, 500 // 20,000 live events, 10,000 of each kind
	for r := 0; r < rounds; r++ {
		evs := make([]ev, perBatch+1)
		for i := range evs {
			evs[i] = ev{kind: cabi.Kind(i % 2), data: []byte("x")}
		}
		evs[perBatch].flags = cabi.FlagDrop
		b := newBatch(t, evs...)
		op.Apply(b, time.Time{})
		if b.EventSlice()[perBatch].Flags != cabi.FlagDrop {
			t.Fatalf("flags of a pre-dropped event changed to %#x", b.EventSlice()[perBatch].Flags)
		}
		for _, i := range kept(b) {
			keptKind[b.EventSlice()[i].Kind]++
		}
	}
	// Binomial(10000, 1/2): sd 50; 6 sd either side never flakes.
	for k, n := range keptKind {
		if n < 4700 || n > 5300 {
			t.Errorf("kind %d: kept %d of 10000 at n=2; want about 5000 (kept per kind %v)", k, n, keptKind)
		}
	}
}

// TestSampleSeed: a seed makes the random draw repeatable; without one
// two operators draw differently.
func TestSampleSeed(t *testing.T) {
	run := func(config string) string {
		op := mustNew(t, "sample", config)
		b := newBatch(t, sizes(make([]int, 200)...)...)
		op.Apply(b, time.Time{})
		return fmt.Sprint(kept(b))
	}
	if a, b := run(`{"n": 4, "seed": 7}`), run(`{"n": 4, "seed": 7}`); a != b {
		t.Errorf("seed 7 kept %s, then %s; want the same", a, b)
	}
	if a, b := run(`{"n": 4}`), run(`{"n": 4}`); a == b {
		t.Errorf("two unseeded operators kept the same 200-event pattern %s", a)
	}
	if got := run(`{"n": 1}`); got != fmt.Sprint(kept(newBatch(t, sizes(make([]int, 200)...)...))) {
		t.Errorf("n=1 dropped events: kept %s", got)
	}
}

func TestTruncate(t *testing.T) {
	b := newBatch(t, sizes(5, 8, 9, 100)...)
	mustNew(t, "truncate", `{"max": 8}`).Apply(b, time.Time{})
	for i, want := range []struct {
		len   uint32
		trunc bool
	}{{5, false}, {8, false}, {8, true}, {8, true}} {
		e := b.EventSlice()[i]
		if e.Len != want.len || (e.Flags&cabi.FlagTruncated != 0) != want.trunc {
			t.Errorf("event %d: len %d flags %#x; want len %d truncated %v", i, e.Len, e.Flags, want.len, want.trunc)
		}
	}
}

func TestRateLimit(t *testing.T) {
	op := mustNew(t, "rate_limit", `{"rate": 10, "burst": 4}`)
	t0 := time.Unix(1000, 0)
	count := func(now time.Time, n int) int {
		b := newBatch(t, sizes(make([]int, n)...)...)
		op.Apply(b, now)
		return len(kept(b))
	}
	steps := []struct {
		at   time.Duration
		n    int
		want int
	}{
		{0, 10, 4},                      // full bucket: burst
		{100 * time.Millisecond, 10, 1}, // 0.1s at 10/s: one token
		{150 * time.Millisecond, 10, 0}, // half a token
		{200 * time.Millisecond, 10, 1}, // the other half
		{10 * time.Second, 10, 4},       // capped at burst
		{9 * time.Second, 10, 0},        // time going back refills nothing
	}
	for _, s := range steps {
		if got := count(t0.Add(s.at), s.n); got != s.want {
			t.Errorf("at +%v: passed %d of %d; want %d", s.at, got, s.n, s.want)
		}
	}
	def := mustNew(t, "rate_limit", `{"rate": 2.5}`).(*RateLimit)
	if def.burst != 3 {
		t.Errorf("default burst for rate 2.5 = %v; want 3", def.burst)
	}
}

func TestRoute(t *testing.T) {
	r := mustNew(t, "route", `{"outputs": [{"name": "big", "when": "len > 10"}, {"name": "odd", "when": "kind == packet"}]}`).(Router)
	if got := strings.Join(r.Outputs(), ","); got != "big,odd,default" {
		t.Errorf("Outputs() = %s; want big,odd,default", got)
	}
	b := newBatch(t, sizes(5, 20, 11, 1)...)
	r.Apply(b, time.Time{})
	var masks []uint64
	for i := range b.EventSlice() {
		masks = append(masks, r.Route(&b.EventSlice()[i]))
	}
	if want := "[4 3 1 2]"; fmt.Sprint(masks) != want {
		t.Errorf("masks %v; want %s", masks, want)
	}
	if got := kept(b); len(got) != 4 {
		t.Errorf("route with default dropped events: kept %v", got)
	}

	nd := mustNew(t, "route", `{"outputs": [{"name": "big", "when": "len > 10"}], "default": false}`).(Router)
	if got := strings.Join(nd.Outputs(), ","); got != "big" {
		t.Errorf("Outputs() without default = %s; want big", got)
	}
	b = newBatch(t, sizes(5, 20)...)
	nd.Apply(b, time.Time{})
	if got := kept(b); fmt.Sprint(got) != "[1]" {
		t.Errorf("route without default kept %v; want [1]", got)
	}
}

type rollupRec struct{ start, end, key, count, sum uint64 }

func readRollups(t *testing.T, b *cabi.Batch) []rollupRec {
	t.Helper()
	var out []rollupRec
	for _, e := range b.EventSlice() {
		p := e.Bytes()
		if len(p) != RecordSize || e.Kind != cabi.KindRaw {
			t.Fatalf("rollup of %d bytes, kind %d; want %d, raw", len(p), e.Kind, RecordSize)
		}
		u := func(i int) uint64 { return binary.LittleEndian.Uint64(p[i*8:]) }
		r := rollupRec{u(0), u(1), u(2), u(3), u(4)}
		if e.TsNs != r.end {
			t.Errorf("rollup ts %d; want window end %d", e.TsNs, r.end)
		}
		out = append(out, r)
	}
	return out
}

func TestAggregate(t *testing.T) {
	op := mustNew(t, "aggregate", `{"window": "1s", "group_by": "kind", "max_groups": 2}`).(Emitter)
	t0 := time.Unix(100, 250e6)
	in := newBatch(t, sizes(10, 20, 30, 40)...) // kinds 0 1 0 1
	in.Append(0, 0, cabi.KindTick, 0, make([]byte, 7))
	op.Apply(in, t0)
	if got := kept(in); len(got) != 0 {
		t.Errorf("aggregate left events %v in its input", got)
	}
	out := newBatch(t)
	next := op.Flush(t0.Add(500*time.Millisecond), out)
	if out.Len != 0 || !next.Equal(time.Unix(101, 0)) {
		t.Fatalf("Flush inside the window: %d events, next %v; want 0, %v", out.Len, next, time.Unix(101, 0))
	}
	// A second batch after the window ended: Apply closes the old window.
	op.Apply(newBatch(t, sizes(5)...), time.Unix(101, 1))
	next = op.Flush(time.Unix(101, 2), out)
	got := readRollups(t, out)
	w := func(s int64) uint64 { return uint64(time.Unix(s, 0).UnixNano()) }
	want := []rollupRec{
		{w(100), w(101), 0, 2, 40},
		{w(100), w(101), 1, 2, 60},
		{w(100), w(101), OverflowKey, 1, 7},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rollups\n got %v\nwant %v", got, want)
	}
	if !next.Equal(time.Unix(102, 0)) {
		t.Errorf("next flush %v; want %v", next, time.Unix(102, 0))
	}
	out.Reset()
	if next = op.Flush(time.Unix(102, 0), out); !next.IsZero() {
		t.Errorf("next flush after the last window %v; want zero", next)
	}
	if got := readRollups(t, out); fmt.Sprint(got) != fmt.Sprint([]rollupRec{{w(101), w(102), 0, 1, 5}}) {
		t.Errorf("second window rollups %v", got)
	}
}

// TestAggregateFinalFlush checks that a flush far in the future, which the
// engine does at a final drain, emits the open window.
func TestAggregateFinalFlush(t *testing.T) {
	op := mustNew(t, "aggregate", `{"window": "1h"}`).(Emitter)
	op.Apply(newBatch(t, sizes(3, 4)...), time.Now())
	out := newBatch(t)
	if next := op.Flush(time.Unix(1<<40, 0), out); !next.IsZero() || out.Len != 2 {
		t.Errorf("final flush: %d rollups, next %v; want 2 and zero", out.Len, next)
	}
}

func TestAggregateSumFieldAndJSON(t *testing.T) {
	op := mustNew(t, "aggregate", `{"window": "10s", "group_by": "stream_id", "sum": "u16le", "sum_offset": 1, "format": "json"}`).(Emitter)
	t0 := time.Unix(50, 0)
	op.Apply(newBatch(t,
		ev{stream: 7, data: []byte{0, 0x34, 0x12}},
		ev{stream: 7, data: []byte{0, 1, 0, 9}},
		ev{stream: 7, data: []byte{0, 1}}, // too short: adds 0
	), t0)
	out := newBatch(t)
	op.Flush(time.Unix(60, 0), out)
	if out.Len != 1 {
		t.Fatalf("%d rollups; want 1", out.Len)
	}
	e := out.EventSlice()[0]
	want := `{"start_ns":50000000000,"end_ns":60000000000,"group_by":"stream_id","key":7,"count":3,"sum":4661}`
	if string(e.Bytes()) != want || e.Kind != cabi.KindJSON || e.StreamID != 7 {
		t.Errorf("rollup %s kind %d stream %d; want %s kind json stream 7", e.Bytes(), e.Kind, e.StreamID, want)
	}
}

func TestAggregateFullOutput(t *testing.T) {
	op := mustNew(t, "aggregate", `{"window": "1s", "group_by": "stream_id"}`).(Emitter)
	evs := make([]ev, 5)
	for i := range evs {
		evs[i] = ev{stream: uint64(i)}
	}
	op.Apply(newBatch(t, evs...), time.Unix(1, 0))
	small, err := cabi.AllocBatch(2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer cabi.FreeBatch(small)
	var keys []uint64
	now := time.Unix(2, 0)
	for i := 0; i < 4; i++ {
		small.Reset()
		next := op.Flush(now, small)
		for _, r := range readRollups(t, small) {
			keys = append(keys, r.key)
		}
		if next.IsZero() {
			break
		}
		if !next.Equal(now) {
			t.Fatalf("next %v with rollups waiting; want now", next)
		}
	}
	if fmt.Sprint(keys) != "[0 1 2 3 4]" {
		t.Errorf("rollup keys across small batches %v; want [0 1 2 3 4]", keys)
	}
}

// allocConfigs is one config per operator type, for the allocation test
// and the benchmarks.
var allocConfigs = []struct{ typ, config string }{
	{"filter", `{"expr": "kind == raw and len > 32 or stream_id in [1, 2, 3]"}`},
	{"sample", `{"n": 10}`},
	{"truncate", `{"max": 32}`},
	{"rate_limit", `{"rate": 1e6}`},
	{"route", `{"outputs": [{"name": "a", "when": "len > 32"}, {"name": "b", "when": "kind == packet"}]}`},
	{"aggregate", `{"window": "1ms", "group_by": "stream_id"}`},
}

// run applies op to b the way a pipeline does: reset the flags, apply,
// route every event, flush.
func run(op Op, b, out *cabi.Batch, now time.Time) {
	evs := b.EventSlice()
	for i := range evs {
		evs[i].Flags = 0
		evs[i].Len = 64
	}
	op.Apply(b, now)
	if r, ok := op.(Router); ok {
		for i := range evs {
			r.Route(&evs[i])
		}
	}
	if e, ok := op.(Emitter); ok {
		out.Reset()
		e.Flush(now, out)
	}
}

func batch64(t testing.TB) *cabi.Batch {
	evs := make([]ev, 1024)
	for i := range evs {
		evs[i] = ev{ts: uint64(i), stream: uint64(i % 16), kind: cabi.Kind(i % 3), data: make([]byte, 64)}
	}
	return newBatch(t, evs...)
}

func TestZeroAllocs(t *testing.T) {
	for _, c := range allocConfigs {
		op := mustNew(t, c.typ, c.config)
		b, out := batch64(t), newBatch(t)
		now := time.Unix(1, 0)
		run(op, b, out, now) // warm up: first groups, first window
		allocs := testing.AllocsPerRun(50, func() {
			now = now.Add(400 * time.Microsecond)
			run(op, b, out, now)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per batch of %d events; want 0", c.typ, allocs, b.Len)
		}
	}
}

func BenchmarkOps(b *testing.B) {
	for _, c := range allocConfigs {
		b.Run(c.typ, func(b *testing.B) {
			op := mustNew(b, c.typ, c.config)
			in, out := batch64(b), newBatch(b)
			now := time.Unix(1, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(100 * time.Microsecond)
				run(op, in, out, now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(in.Len), "ns/event")
		})
	}
}

func TestGroupTable(t *testing.T) {
	tab := newGroupTable(100)
	for round := 0; round < 3; round++ {
		for k := uint64(0); k < 101; k++ {
			key := k * 0x100000001 // spread and collide in the low bits
			if _, ok := tab.get(key); ok {
				t.Fatalf("round %d: key %d present before put", round, k)
			}
			tab.put(key, int32(k))
		}
		for k := uint64(0); k < 101; k++ {
			if v, ok := tab.get(k * 0x100000001); !ok || v != int32(k) {
				t.Fatalf("round %d: get(%d) = %d, %v; want %d, true", round, k, v, ok, k)
			}
		}
		tab.reset()
	}
	tab.gen = ^uint32(0)
	tab.put(7, 1)
	tab.reset() // wraps the generation
	if _, ok := tab.get(7); ok {
		t.Error("key survived a reset that wrapped the generation")
	}
}

func TestAggregateManyGroups(t *testing.T) {
	op := mustNew(t, "aggregate", `{"window": "1s", "group_by": "stream_id", "max_groups": 100, "sum": "none"}`).(Emitter)
	evs := make([]ev, 1000)
	for i := range evs {
		evs[i] = ev{stream: uint64(i % 250)}
	}
	op.Apply(newBatch(t, evs...), time.Unix(5, 0))
	out := newBatch(t)
	op.Flush(time.Unix(6, 0), out)
	got := readRollups(t, out)
	if len(got) != 101 {
		t.Fatalf("%d rollups; want 100 groups and the overflow group", len(got))
	}
	for i, r := range got[:100] {
		if r.key != uint64(i) || r.count != 4 || r.sum != 0 {
			t.Errorf("rollup %d = %+v; want key %d count 4 sum 0", i, r, i)
		}
	}
	if o := got[100]; o.key != OverflowKey || o.count != 600 {
		t.Errorf("overflow rollup = %+v; want key 2^64-1 count 600", o)
	}
}

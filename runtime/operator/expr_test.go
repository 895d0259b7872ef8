package operator

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
)

func TestParsePred(t *testing.T) {
	tests := []struct{ in, want string }{
		{"len > 64", "len > 64"},
		{"kind == packet", "kind == 1"},
		{"kind==tick&&len<=0x10", "(kind == 5 and len <= 16)"},
		{"a", ""},
		{"not len > 1 or flags has truncated", "(not len > 1 or flags has 2)"},
		{"!(len != 3)", "not len != 3"},
		{"stream_id in [1, 2,3]", "stream_id in [1, 2, 3]"},
		{"kind not in [raw, json]", "not kind in [0, 3]"},
		{"true and false or ts >= 0b101", "((true and false) or ts >= 5)"},
		{"len < 1 or len > 2 and kind == 0", "(len < 1 or (len > 2 and kind == 0))"},
		{"  (( len == 0o17 ))  ", "len == 15"},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		p, err := parsePred("expr", tt.in)
		if err != nil {
			t.Errorf("parsePred(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("parsePred(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestParsePredErrors(t *testing.T) {
	tests := []struct {
		in   string
		off  int
		want string
	}{
		{"", 0, "empty expression"},
		{"lenn > 1", 0, `unknown field "lenn"`},
		{"len = 1", 4, "use =="},
		{"len > ", 6, "found end of expression"},
		{"len > 1 len < 2", 8, "join tests with and/or"},
		{"(len > 1", 8, "want ) to close the ( at offset 0"},
		{"len > 0x1_0000_0000", 6, "larger than len can be"},
		{"len > packet", 6, "want a number to compare with len"},
		{"kind == pkt", 8, `unknown kind "pkt"`},
		{"len has 1", 4, "has tests bits of flags"},
		{"kind in 1", 8, "want [ to start the list"},
		{"kind in [1 2]", 11, "want , or ] in the list"},
		{"kind not 1", 9, "want in after kind not"},
		{"len > 1 & len < 2", 8, "use && or ||"},
		{"len > 1.5", 6, `bad number "1.5"`},
		{"len ~ 1", 4, `unexpected character "~"`},
		{"len", 3, "want a comparison"},
		{strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200), 100, "nested deeper"},
		{strings.Repeat("not ", 200) + "true", 396, "nested deeper"},
	}
	for _, tt := range tests {
		_, err := parsePred("when", tt.in)
		var ee *ExprError
		if !errors.As(err, &ee) {
			t.Errorf("parsePred(%q) = %v; want an *ExprError", tt.in, err)
			continue
		}
		if ee.Offset != tt.off || ee.Field != "when" || !strings.Contains(ee.Msg, tt.want) {
			t.Errorf("parsePred(%q) = %v; want offset %d and %q", tt.in, err, tt.off, tt.want)
		}
	}
}

func TestPredEval(t *testing.T) {
	e := cabi.Event{TsNs: 1000, StreamID: 42, Len: 100, Kind: cabi.KindPacket, Flags: cabi.FlagTruncated}
	tests := []struct {
		expr string
		want bool
	}{
		{"len == 100", true}, {"len != 100", false}, {"len < 100", false}, {"len <= 100", true},
		{"len > 99", true}, {"len >= 101", false}, {"kind == packet", true}, {"kind in [raw, syscall]", false},
		{"stream_id in [1, 42]", true}, {"flags has truncated", true}, {"flags has drop", false},
		{"flags == 2", true}, {"ts > 999 and ts < 1001", true}, {"not true", false},
		{"false or stream_id not in [42]", false}, {"!(kind == raw) && (len > 1 || false)", true},
	}
	for _, tt := range tests {
		p, err := parsePred("expr", tt.expr)
		if err != nil {
			t.Fatalf("parsePred(%q): %v", tt.expr, err)
		}
		if got := p.eval(&e); got != tt.want {
			t.Errorf("eval(%q) = %v; want %v", tt.expr, got, tt.want)
		}
	}
}

// FuzzParsePred checks that parsing never panics, that errors point inside
// the input, and that printing a parsed predicate and parsing it again
// gives the same predicate.
func FuzzParsePred(f *testing.F) {
	for _, s := range []string{"len > 64", "kind == packet and not flags has drop", "stream_id in [1, 2, 3] || ts < 0x10",
		"((kind != tick))", "kind not in [raw]", "", "len >", "(", "!!!true"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePred("expr", s)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Offset < 0 || ee.Offset > len(s) {
				t.Fatalf("parsePred(%q) = %v; want an *ExprError with an offset in [0, %d]", s, err, len(s))
			}
			return
		}
		text := p.String()
		q, err := parsePred("expr", text)
		if err != nil {
			t.Fatalf("reparse of %q (from %q): %v", text, s, err)
		}
		if q.String() != text {
			t.Fatalf("round trip of %q: %q then %q", s, text, q.String())
		}
		e := cabi.Event{TsNs: 1, StreamID: 2, Len: 3, Kind: 4, Flags: 5}
		if p.eval(&e) != q.eval(&e) {
			t.Fatalf("%q and its reprint %q disagree", s, text)
		}
		checkBatchEval(t, p, sampleEvents)
	})
}

// sampleEvents covers small values and the extremes of every field, over
// more than two bitmap words.
var sampleEvents = func() []cabi.Event {
	var evs []cabi.Event
	for i := 0; i < 150; i++ {
		u := uint64(i)
		e := cabi.Event{TsNs: u * 7, StreamID: u % 5, Len: uint32(i * 3 % 70), Kind: cabi.Kind(i % 7), Flags: uint16(i % 4)}
		switch i % 37 {
		case 0:
			e.TsNs, e.StreamID, e.Len, e.Kind, e.Flags = ^uint64(0), ^uint64(0), ^uint32(0), 0xffff, 0xffff
		case 1:
			e.TsNs, e.StreamID, e.Len, e.Kind, e.Flags = 0, 0, 0, 0, 0
		}
		evs = append(evs, e)
	}
	return evs
}()

// checkBatchEval checks that evaluating p over a batch agrees with
// evaluating it event by event, for every prefix length class.
func checkBatchEval(t *testing.T, p *pred, evs []cabi.Event) {
	t.Helper()
	v := newEvaluator(p)
	for _, n := range []int{1, 63, 64, 65, len(evs)} {
		got := v.run(evs[:n])
		for i := 0; i < n; i++ {
			want := p.eval(&evs[i])
			if bit := got[i/64]>>(i%64)&1 == 1; bit != want {
				t.Fatalf("%s on event %d of %d (%+v): batch %v, single %v", p, i, n, evs[i], bit, want)
			}
		}
	}
}

func TestBatchEval(t *testing.T) {
	exprs := []string{
		"true", "false", "len == 3", "len != 3", "len < 30", "len <= 30", "len > 30", "len >= 30",
		"len < 0", "len >= 0", "len > 4294967295", "len <= 4294967295", "ts > 18446744073709551615", "ts <= 18446744073709551615",
		"kind in [0, 3, 6]", "kind not in [1]", "flags has 3", "flags has 0", "stream_id == 4 or len > 60 and not kind == 2",
		"(len > 10 or kind == 1) and (stream_id != 0 or flags has truncated)", "not not (ts >= 700 and ts < 800)",
	}
	for _, x := range exprs {
		p, err := parsePred("expr", x)
		if err != nil {
			t.Fatalf("parsePred(%q): %v", x, err)
		}
		checkBatchEval(t, p, sampleEvents)
	}
}

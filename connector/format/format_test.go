package format

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/internal/conntest"
)

// parsed is a record resolved against its buffer, for comparisons.
type parsed struct {
	Kind   cabi.Kind
	Stream uint64
	Data   string
}

func resolve(data []byte, recs []Record) []parsed {
	out := make([]parsed, len(recs))
	for i, r := range recs {
		out[i] = parsed{r.Kind, r.Stream, string(data[r.Off : r.Off+r.N])}
	}
	return out
}

func TestParseJSONL(t *testing.T) {
	src, err := os.ReadFile("testdata/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	data, recs, err := ParseJSONL("events.jsonl", src)
	if err != nil {
		t.Fatalf("ParseJSONL(events.jsonl) error: %v", err)
	}
	want := []parsed{
		{cabi.KindText, 7, "hello"},
		{0x8000, 0, "\x00\x01\x02\x03"},
		{cabi.KindRaw, 0, "tab\there \"quoted\" é"},
		{cabi.KindJSON, 1, "{}"},
		{cabi.KindPacket, 0, ""},
	}
	got := resolve(data, recs)
	if len(got) != len(want) {
		t.Fatalf("ParseJSONL(events.jsonl) = %d events; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

func TestParseJSONLErrors(t *testing.T) {
	tests := []struct {
		file string
		want string // the error must contain this
	}{
		{"bad_kind.jsonl", `bad_kind.jsonl:2:1: unknown kind "bogus"`},
		{"bad_field.jsonl", `bad_field.jsonl:2:1: json: unknown field "colour"`},
		{"bad_syntax.jsonl", `bad_syntax.jsonl:3:10: invalid character 'x'`},
		{"bad_both.jsonl", `bad_both.jsonl:1:1: both data and data_b64 are set`},
		{"bad_b64.jsonl", `bad_b64.jsonl:1:1: data_b64: illegal base64`},
		{"bad_kindnum.jsonl", `bad_kindnum.jsonl:1:1: kind 70000 is not a kind name or a number`},
		{"bad_stream.jsonl", `bad_stream.jsonl:1:`},
		{"bad_two.jsonl", `bad_two.jsonl:1:14: more than one JSON value`},
	}
	for _, tt := range tests {
		src, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ParseJSONL(tt.file, src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJSONL(%q) error = %v; want one containing %q", tt.file, err, tt.want)
		}
	}
}

func TestParseRaw(t *testing.T) {
	tests := []struct {
		name    string
		src     []byte
		want    []string
		wantErr string
	}{
		{"empty", nil, nil, ""},
		{"three", conntest.RawFile("a", "", "hello"), []string{"a", "", "hello"}, ""},
		{"short prefix", append(conntest.RawFile("a"), 1, 0), nil, "f: byte 5: truncated length prefix (2 of 4 bytes)"},
		{"short record", append(conntest.RawFile("ab"), 9, 0, 0, 0, 'x'), nil, "f: byte 6: record of 9 bytes is truncated at 1 bytes"},
		{"huge", []byte{0xff, 0xff, 0xff, 0xff}, nil, "f: byte 0: record length 4294967295 is larger than the limit"},
	}
	for _, tt := range tests {
		recs, err := ParseRaw("f", tt.src, cabi.KindText, 9)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRaw(%s) error = %v; want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRaw(%s) error: %v", tt.name, err)
			continue
		}
		got := resolve(tt.src, recs)
		if len(got) != len(tt.want) {
			t.Errorf("ParseRaw(%s) = %d records; want %d", tt.name, len(got), len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if got[i] != (parsed{cabi.KindText, 9, w}) {
				t.Errorf("ParseRaw(%s) record %d = %+v; want %q kind text stream 9", tt.name, i, got[i], w)
			}
		}
	}
}

func event(kind cabi.Kind, stream uint64, data []byte) cabi.Event {
	e := cabi.Event{TsNs: 42, StreamID: stream, Kind: kind, Len: uint32(len(data)), Flags: 0}
	if len(data) > 0 {
		e.Data = unsafe.Pointer(&data[0])
	}
	return e
}

// TestJSONRoundTrip checks that what AppendJSON writes parses back to the
// same event, whatever the bytes.
func TestJSONRoundTrip(t *testing.T) {
	inputs := []struct {
		kind cabi.Kind
		data string
	}{
		{cabi.KindText, "plain"},
		{cabi.KindRaw, ""},
		{cabi.KindJSON, `{"a":"b\\c"}` + "\n\t\r\x01\x1f"},
		{0x9000, "\xff\xfe not utf-8"},
		{cabi.KindText, "ünïcødé \u2028"},
	}
	var out []byte
	for i, in := range inputs {
		e := event(in.kind, uint64(i), []byte(in.data))
		out = AppendJSON(out, &e)
	}
	if n := bytes.Count(out, []byte{'\n'}); n != len(inputs) {
		t.Fatalf("AppendJSON wrote %d lines; want %d:\n%s", n, len(inputs), out)
	}
	data, recs, err := ParseJSONL("roundtrip", out)
	if err != nil {
		t.Fatalf("ParseJSONL(AppendJSON output) error: %v\n%s", err, out)
	}
	got := resolve(data, recs)
	for i, in := range inputs {
		if want := (parsed{in.kind, uint64(i), in.data}); got[i] != want {
			t.Errorf("round trip %d = %+v; want %+v", i, got[i], want)
		}
	}
}

func TestRawRoundTrip(t *testing.T) {
	var out []byte
	for _, s := range []string{"x", "", "\x00\xff"} {
		e := event(cabi.KindRaw, 0, []byte(s))
		out = AppendRaw(out, &e)
	}
	if want := conntest.RawFile("x", "", "\x00\xff"); !bytes.Equal(out, want) {
		t.Errorf("AppendRaw = %q; want %q", out, want)
	}
}

func FuzzParseJSONL(f *testing.F) {
	for _, name := range []string{"events.jsonl", "bad_kind.jsonl", "bad_syntax.jsonl", "bad_two.jsonl"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		data, recs, err := ParseJSONL("fuzz", src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range recs {
			if r.Off < 0 || r.N < 0 || r.Off+r.N > len(data) {
				t.Fatalf("record %+v outside data of %d bytes", r, len(data))
			}
		}
		// What parses must survive a round trip through the writer.
		var out []byte
		for _, r := range recs {
			e := event(r.Kind, r.Stream, data[r.Off:r.Off+r.N])
			out = AppendJSON(out, &e)
		}
		data2, recs2, err := ParseJSONL("again", out)
		if err != nil {
			t.Fatalf("re-parse of written events: %v\n%s", err, out)
		}
		a, b := resolve(data, recs), resolve(data2, recs2)
		if len(a) != len(b) {
			t.Fatalf("round trip: %d events became %d", len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("round trip event %d: %+v became %+v", i, a[i], b[i])
			}
		}
	})
}

func FuzzParseRaw(f *testing.F) {
	f.Add(conntest.RawFile("a", "", "hello"))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0})
	f.Fuzz(func(t *testing.T, src []byte) {
		recs, err := ParseRaw("fuzz", src, cabi.KindRaw, 0)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: byte ") {
				t.Fatalf("error %q does not name the file and offset", err)
			}
			return
		}
		var out []byte
		for _, r := range recs {
			e := event(r.Kind, r.Stream, src[r.Off:r.Off+r.N])
			out = AppendRaw(out, &e)
		}
		if !bytes.Equal(out, src) {
			t.Fatalf("re-encoding %q gave %q", src, out)
		}
	})
}

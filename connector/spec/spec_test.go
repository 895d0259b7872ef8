package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var testSpec = Spec{
	{Name: "name", Kind: String, Required: true, Doc: "A name."},
	{Name: "count", Kind: Int, Default: -1, Min: -5, Max: 100, Doc: "A count."},
	{Name: "n", Kind: Uint, Default: uint64(3), Doc: "A uint."},
	{Name: "ratio", Kind: Float, Default: 0.5, Min: 0.0, Max: 1.0, Doc: "A ratio."},
	{Name: "on", Kind: Bool, Default: true, Doc: "A switch."},
	{Name: "every", Kind: Duration, Default: 2 * time.Second, Min: "1ms", Doc: "A period."},
	{Name: "buf", Kind: Size, Default: "4KiB", Max: "1MiB", Doc: "A size."},
	{Name: "tags", Kind: Strings, Doc: "Some tags."},
	{Name: "mode", Kind: Enum, Enum: []string{"fast", "slow"}, Default: "fast", Doc: "A mode."},
	{Name: "sub", Kind: Object, Doc: "A nested object.", Fields: Spec{
		{Name: "x", Kind: Int, Required: true, Doc: "X."},
	}},
	{Name: "list", Kind: Objects, Doc: "A list of objects.", Fields: Spec{
		{Name: "k", Kind: String, Required: true, Doc: "K."},
		{Name: "v", Kind: Uint, Default: 7, Doc: "V."},
	}},
}

func parse(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func TestCheck(t *testing.T) {
	if err := testSpec.Check(); err != nil {
		t.Fatal(err)
	}
	bad := []Spec{
		{{Name: "a", Kind: Int, Default: "x", Doc: "d"}},
		{{Name: "a", Kind: Int, Doc: "d"}, {Name: "a", Kind: Int, Doc: "d"}},
		{{Name: "a", Kind: Enum, Doc: "d"}},
		{{Name: "a", Kind: Enum, Enum: []string{"x"}, Default: "y", Doc: "d"}},
		{{Name: "a", Kind: Object, Doc: "d"}},
		{{Name: "a", Kind: Bool}},
		{{Name: "a", Kind: String, Min: 1, Doc: "d"}},
		{{Name: "a", Kind: Duration, Default: "5", Doc: "d"}},
	}
	for i, s := range bad {
		if err := s.Check(); err == nil {
			t.Errorf("Check(bad spec %d) = nil; want an error", i)
		}
	}
}

func TestApply(t *testing.T) {
	tests := []struct{ in, want string }{
		{"name: a", `{"name":"a","count":-1,"n":3,"ratio":0.5,"on":true,"every":"2s","buf":4096,"mode":"fast"}`},
		{"{name: 7, count: 0x10, n: 0, ratio: 1, on: false, every: 1m30s, buf: 1 MiB, tags: [x, y], mode: slow, sub: {x: -2}, list: [{k: a}, {k: b, v: 9}]}",
			`{"name":"7","count":16,"n":0,"ratio":1,"on":false,"every":"1m30s","buf":1048576,"tags":["x","y"],"mode":"slow","sub":{"x":-2},"list":[{"k":"a","v":7},{"k":"b","v":9}]}`},
		{"{name: a, tags: solo, count: ~}", `{"name":"a","count":-1,"n":3,"ratio":0.5,"on":true,"every":"2s","buf":4096,"tags":["solo"],"mode":"fast"}`},
		{`{name: a, count: "5", ratio: "0.25"}`, `{"name":"a","count":5,"n":3,"ratio":0.25,"on":true,"every":"2s","buf":4096,"mode":"fast"}`},
	}
	for _, tt := range tests {
		got, errs := Apply(testSpec, "f.yaml", parse(t, tt.in))
		if len(errs) > 0 {
			t.Errorf("Apply(%q): %v", tt.in, errs)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Apply(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string // each error as LINE:COL: message fragment
	}{
		{"", []string{`1:1: missing required field "name"`}},
		{"[1]", []string{`1:1: want a mapping of fields`}},
		{"name: a\nnmae: b", []string{`2:1: unknown field "nmae" (did you mean "name"?)`}},
		{"name: a\nname: b", []string{`2:1: field "name" is given twice`}},
		{"name: [a]", []string{`1:7: field name: want a string, found a list`}},
		{"name: a\ncount: 101", []string{`2:8: field count: 101 is out of range [-5, 100]`}},
		{"name: a\ncount: x", []string{`2:8: field count: want an integer`}},
		{"name: a\nn: -1", []string{`2:4: field n: want a non-negative integer`}},
		{"name: a\nratio: .nan", []string{`2:8: field ratio: want a finite number`}},
		{"name: a\non: yes", []string{`2:5: field on: want true or false`}},
		{"name: a\nevery: 10", []string{`2:8: field every: parse duration "10"`}},
		{"name: a\nevery: 10us", []string{`2:8: field every: 10µs is out of range >= 1ms`}},
		{"name: a\nbuf: 2MiB", []string{`2:6: field buf: 2097152 is out of range <= 1048576`}},
		{"name: a\nbuf: lots", []string{`2:6: field buf: parse size "lots"`}},
		{"name: a\nmode: fst", []string{`2:7: field mode: "fst" is not one of fast, slow (did you mean "fast"?)`}},
		{"name: a\ntags: [a, {b: c}]", []string{`2:11: field tags[1]: want a string, found a mapping`}},
		{"name: a\nsub: {y: 1}", []string{`2:7: sub: unknown field "y"`, `2:6: sub: missing required field "x"`}},
		{"name: a\nlist: [{v: 1}, {k: a, v: x}]", []string{`2:8: list[0]: missing required field "k"`, `2:26: field list[1].v: want a non-negative integer`}},
		{"name: a\nlist: {k: a}", []string{`2:7: field list: want a list of mappings`}},
		{"count: x\nbogus: 1", []string{`2:1: unknown field "bogus"`, `1:1: missing required field "name"`, `1:8: field count`}},
	}
	for _, tt := range tests {
		_, errs := Apply(testSpec, "f.yaml", parse(t, tt.in))
		if len(errs) != len(tt.want) {
			t.Errorf("Apply(%q) = %d errors %v; want %d", tt.in, len(errs), errs, len(tt.want))
			continue
		}
		for i, e := range errs {
			if !strings.HasPrefix(e.Error(), "f.yaml:") || !strings.Contains(e.Error(), tt.want[i]) {
				t.Errorf("Apply(%q) error %d = %q; want it to contain %q", tt.in, i, e, tt.want[i])
			}
		}
	}
}

func TestApplyNilSpec(t *testing.T) {
	got, errs := Apply(nil, "f", parse(t, "{a: 1, b: [x, 2.5, true, ~], c: {d: 0x1f}, e: '1'}"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := `{"a":1,"b":["x",2.5,true,null],"c":{"d":31},"e":"1"}`; string(got) != want {
		t.Errorf("Apply(nil spec) = %s; want %s", got, want)
	}
	if got, _ := Apply(nil, "f", nil); string(got) != "{}" {
		t.Errorf("Apply(nil spec, empty) = %s; want {}", got)
	}
	if _, errs := Apply(nil, "f", parse(t, "[1]")); len(errs) != 1 {
		t.Errorf("Apply(nil spec, list) = %v; want one error", errs)
	}
}

func TestApplyJSON(t *testing.T) {
	got, err := ApplyJSON(Spec{{Name: "a", Kind: Size, Default: 1, Doc: "A."}}, []byte(`{"a": "2KB"}`))
	if err != nil || string(got) != `{"a":2000}` {
		t.Errorf("ApplyJSON = %s, %v; want {\"a\":2000}", got, err)
	}
	if _, err := ApplyJSON(testSpec, []byte(`{"count": 1}`)); err == nil || !strings.Contains(err.Error(), "config:1:1: missing required field") {
		t.Errorf("ApplyJSON(missing name) = %v; want a positioned error", err)
	}
	if _, err := ApplyJSON(testSpec, []byte(`{"name": `)); err == nil {
		t.Error("ApplyJSON(truncated) = nil error")
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"64", 64, true}, {"64B", 64, true}, {"4KiB", 4096, true}, {"4K", 4096, true},
		{"1 MB", 1000000, true}, {"2GiB", 2 << 30, true}, {"1TB", 1e12, true},
		{"", 0, false}, {"-1", 0, false}, {"1.5MiB", 0, false}, {"KiB", 0, false}, {"9999999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"blastr", "blaster"}, {"blakchole", "blackhole"}, {"stdot", "stdout"}, {"xyz", ""}, {"file", "file"},
		{"metro", "metronome"},
	}
	cands := []string{"blaster", "blackhole", "stdout", "file", "metronome"}
	for _, tt := range tests {
		got := ""
		if s := Suggest(tt.name, cands); len(s) > 0 {
			got = s[0]
		}
		if got != tt.want {
			t.Errorf("Suggest(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzApplyJSON checks that any input either fails cleanly or yields a
// JSON object that applies again to the same bytes.
func FuzzApplyJSON(f *testing.F) {
	for _, s := range []string{`{"name": "a"}`, `{"name": "a", "list": [{"k": "x"}], "sub": {"x": 1}}`, `name: b\nbuf: 1KiB`, `[`, `{"every": "1s"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := ApplyJSON(testSpec, in)
		if err != nil {
			return
		}
		again, err := ApplyJSON(testSpec, out)
		if err != nil {
			t.Fatalf("re-apply of %s (from %q): %v", out, in, err)
		}
		if string(again) != string(out) {
			t.Fatalf("re-apply changed %s to %s", out, again)
		}
	})
}

func TestApplyMergeKeys(t *testing.T) {
	text := "base: &base {name: a, count: 2, mode: slow}\nmore: &more {n: 9, count: 3}\nuse: {<<: [*base, *more], count: 4}\n"
	root := parse(t, text)
	use := root.Content[5]
	got, errs := Apply(testSpec, "f", use)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := `{"name":"a","count":4,"n":9,"ratio":0.5,"on":true,"every":"2s","buf":4096,"mode":"slow"}`; string(got) != want {
		t.Errorf("Apply with merge keys = %s; want %s", got, want)
	}
	got, _ = Apply(nil, "f", use)
	if want := `{"count":4,"name":"a","mode":"slow","n":9}`; string(got) != want {
		t.Errorf("Apply(nil spec) with merge keys = %s; want %s", got, want)
	}
}

func TestApplyAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, errs := Apply(nil, "f", parse(t, b.String()))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "through aliases") {
		t.Errorf("Apply(alias bomb) = %v; want one expansion error", errs)
	}
}

func TestRedact(t *testing.T) {
	s := Spec{
		{Name: "user", Kind: String},
		{Name: "password", Kind: String, Secret: true},
		{Name: "tls", Kind: Object, Fields: Spec{{Name: "key", Kind: String, Secret: true}, {Name: "ca", Kind: String}}},
	}
	tests := []struct{ in, want string }{
		{`{"user":"u","password":"hunter2"}`, `{"password":"REDACTED","user":"u"}`},
		{`{"user":"u","password":""}`, `{"user":"u","password":""}`},
		{`{"tls":{"key":"k","ca":"c"}}`, `{"tls":{"ca":"c","key":"REDACTED"}}`},
		{`not json`, `not json`},
	}
	for _, tt := range tests {
		if got := string(Redact(s, []byte(tt.in))); got != tt.want {
			t.Errorf("Redact(%s) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestValueErrorText: an error inside a string names its offset; one about
// the whole value (Offset < 0) names only the field.
func TestValueErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    ValueError
		want string
	}{
		{ValueError{Field: "filter", Offset: 4, Msg: "bad"}, "field filter, offset 4: bad"},
		{ValueError{Field: "flow_seed", Offset: -1, Msg: "bad"}, "field flow_seed: bad"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q; want %q", tc.e, got, tc.want)
		}
	}
}

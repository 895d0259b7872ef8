package plugins

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
)

func init() {
	// The C template builds with its own Makefile, the one plugin authors
	// copy, so this also checks that Makefile.
	libs["c_template"] = pluginLib{file: "libweir_c_template.so", tool: "make", build: func(root, out string) error {
		return run(exec.Command("make", "-s", "-C", filepath.Join(root, "plugins/c/template"), "OUT="+out))
	}}
	libs["rust_template"] = pluginLib{file: "libweir_rust_template.so", tool: "cargo", build: func(root, out string) error {
		return cargoPlugin(root, out, "template", "libweir_rust_template.so")
	}}
}

// cargoPlugin builds the crate plugins/rust/<crate> and moves its library
// file to out.
func cargoPlugin(root, out, crate, file string) error {
	target := filepath.Join(filepath.Dir(out), "cargo-target")
	cmd := exec.Command("cargo", "build", "--release", "--offline",
		"--manifest-path", filepath.Join(root, "plugins/rust", crate, "Cargo.toml"))
	cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
	if err := run(cmd); err != nil {
		return err
	}
	return os.Rename(filepath.Join(target, "release", file), out)
}

// The two templates: library and connector type ID.
var templates = []struct{ lang, lib, id string }{
	{"c", "c_template", "c_template"},
	{"rust", "rust_template", "rust_template"},
}

// templateEvent is one event before and after a template processes it.
type templateEvent struct {
	in      string
	inFlags uint16
	// After process: the event's len and flags, and the bytes of its
	// arena slot (all len(in) of them, so that bytes past a shortened len
	// show they were left alone).
	len   uint32
	flags uint16
	slot  string
}

// TestTemplates runs one batch through each template processor and checks
// every event's length, flags and bytes, and the drop counter.
func TestTemplates(t *testing.T) {
	const drop, trunc = cabi.FlagDrop, cabi.FlagTruncated
	const plugBit = 0x0100 // a plugin-defined flag bit, carried through
	cases := []struct {
		name, config string
		events       []templateEvent
		dropped      int64
	}{
		{
			name:   "min 3 max 8",
			config: `{"min_len":3,"max_len":8}`,
			events: []templateEvent{
				{in: "hello world", len: 8, flags: trunc, slot: "HELLO WOrld"},
				{in: "ab", len: 2, flags: drop, slot: "ab"},
				{in: "MiXeD-1!", len: 8, slot: "MIXED-1!"},
				{in: "xyz", inFlags: drop, len: 3, flags: drop, slot: "xyz"},
				{in: "", len: 0, flags: drop, slot: ""},
				{in: "abc", inFlags: plugBit, len: 3, flags: plugBit, slot: "ABC"},
				{in: "\xc3\xa4bc", len: 4, slot: "\xc3\xa4BC"},
				{in: "truncated", inFlags: trunc, len: 8, flags: trunc, slot: "TRUNCATEd"},
			},
			dropped: 2,
		},
		{
			name:   "default config",
			config: `{}`,
			events: []templateEvent{
				{in: "hello world", len: 11, slot: "HELLO WORLD"},
				{in: "", len: 0, slot: ""},
				{in: "a{z}", len: 4, slot: "A{Z}"},
				{in: "skip", inFlags: drop, len: 4, flags: drop, slot: "skip"},
			},
			dropped: 0,
		},
	}
	for _, tpl := range templates {
		t.Run(tpl.lang, func(t *testing.T) {
			typ := loadType(t, tpl.lib, tpl.id)
			if typ.Roles != loader.RoleProcessor {
				t.Fatalf("%s roles = %v; want processor", tpl.id, typ.Roles)
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					proc, host := create(t, typ, tc.config)
					b := allocBatch(t, 16, 256)
					offs := make([]int, len(tc.events))
					for i, ev := range tc.events {
						offs[i] = int(b.ArenaLen)
						if !b.Append(uint64(1000+i), uint64(7+i), cabi.KindText, ev.inFlags, []byte(ev.in)) {
							t.Fatalf("append event %d: batch full", i)
						}
					}
					before := append([]cabi.Event(nil), b.EventSlice()...)
					if err := proc.Process(b); err != nil {
						t.Fatalf("process: %v", err)
					}
					if b.Len != uint32(len(tc.events)) {
						t.Fatalf("batch len = %d; want %d", b.Len, len(tc.events))
					}
					arena := b.ArenaBytes()
					for i, e := range b.EventSlice() {
						want := tc.events[i]
						if e.Len != want.len || e.Flags != want.flags {
							t.Errorf("event %d (%q): len %d flags %#04x; want len %d flags %#04x",
								i, want.in, e.Len, e.Flags, want.len, want.flags)
						}
						if slot := string(arena[offs[i] : offs[i]+len(want.in)]); slot != want.slot {
							t.Errorf("event %d (%q): bytes %q; want %q", i, want.in, slot, want.slot)
						}
						if e.Data != before[i].Data || e.TsNs != before[i].TsNs ||
							e.StreamID != before[i].StreamID || e.Kind != before[i].Kind {
							t.Errorf("event %d (%q): data, ts, stream or kind changed: %+v; was %+v", i, want.in, e, before[i])
						}
					}
					if got := counter(t, host, "template_dropped_total"); got != tc.dropped {
						t.Errorf("template_dropped_total = %d; want %d", got, tc.dropped)
					}
				})
			}
		})
	}
}

// TestTemplateBadConfig checks that each template refuses a config it does
// not understand, through last_error.
func TestTemplateBadConfig(t *testing.T) {
	cases := []struct {
		lang, config, want string
	}{
		{"c", `{"min_len":3,"bogus":1}`, `create weir-c-template/c_template: parse config: offset 13: unknown key "bogus"`},
		{"c", `{"max_len":-1}`, `create weir-c-template/c_template: parse config: offset 11: key "max_len": negative number, expected 0..4294967295`},
		{"rust", `{"min_len":3,"bogus":1}`, `create weir-rust-template/rust_template: parse config: unknown key "bogus", expected min_len or max_len`},
		{"rust", `{"max_len":-1}`, `create weir-rust-template/rust_template: parse config: offset 11: key "max_len": negative number, expected a non-negative integer`},
		{"rust", `{"min_len":4294967296}`, `create weir-rust-template/rust_template: parse config: key "min_len": expected an integer from 0 to 4294967295`},
	}
	for _, tc := range cases {
		var typ *loader.ConnectorType
		for _, tpl := range templates {
			if tpl.lang == tc.lang {
				typ = loadType(t, tpl.lib, tpl.id)
			}
		}
		in, err := typ.Create([]byte(tc.config), loader.NewBasicHost("", nil))
		if err == nil {
			in.Destroy()
			t.Errorf("%s: Create(%s) succeeded; want an error", tc.lang, tc.config)
			continue
		}
		var op *loader.OpError
		if !errors.As(err, &op) || err.Error() != tc.want {
			t.Errorf("%s: Create(%s) = %v; want *loader.OpError %q", tc.lang, tc.config, err, tc.want)
		}
	}
}

// TestRustTemplateLayout runs the tests of the Rust template and of the
// weir-ffi crate it uses, which check every field offset of the FFI structs
// and record mirrors against the headers (sizes are checked at compile
// time) and read a packet record.
func TestRustTemplateLayout(t *testing.T) {
	if _, err := exec.LookPath("cargo"); err != nil {
		t.Skipf("cargo not found on PATH: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("find module root: %v", err)
	}
	target := t.TempDir()
	for _, crate := range []string{"weir-ffi", "template"} {
		cmd := exec.Command("cargo", "test", "--offline", "--manifest-path", filepath.Join(root, "plugins/rust", crate, "Cargo.toml"))
		cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
		if err := run(cmd); err != nil {
			t.Fatal(err)
		}
	}
}

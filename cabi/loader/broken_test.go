package loader

import (
	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"

	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenCases says what each testdata/broken/*.c must produce. Failures at
// load time are checked against the sentinel and message; the others load,
// and the named operation must fail.
var brokenCases = map[string]struct {
	load error  // sentinel Load must wrap, or nil if Load succeeds
	op   string // with load == nil: "create", "poll", "write" or "process"
	want error  // sentinel the op's error wraps
	msg  string // substring of the error
}{
	"noentry.c":     {load: ErrNoEntry, msg: "does not export it"},
	"nullentry.c":   {load: ErrNoEntry, msg: "returned NULL"},
	"major.c":       {load: ErrABIVersion, msg: fmt.Sprintf("plugin built for ABI %d.0, host implements %d.%d", cabi.ABIMajor+1, cabi.ABIMajor, cabi.ABIMinor)},
	"minor.c":       {load: ErrABIVersion, msg: fmt.Sprintf("plugin built for ABI %d.%d, host implements %d.%d", cabi.ABIMajor, cabi.ABIMinor+1, cabi.ABIMajor, cabi.ABIMinor)},
	"pluginsize.c":  {load: ErrDescriptor, msg: "weir_plugin.struct_size is 16, smaller than the 40 bytes of ABI 1.0"},
	"typesize.c":    {load: ErrDescriptor, msg: "types[0]: struct_size is 24, smaller than the 128 bytes"},
	"rolesize.c":    {load: ErrDescriptor, msg: `type "x": sink.struct_size is 8`},
	"nolasterror.c": {load: ErrDescriptor, msg: `type "x": required op last_error is NULL`},
	"nopoll.c":      {load: ErrDescriptor, msg: `required op source.poll is NULL`},
	"norole.c":      {load: ErrDescriptor, msg: `no role`},
	"badid.c":       {load: ErrDescriptor, msg: `id "Blackhole Sink": byte 0 ('B') is not allowed`},
	"dupid.c":       {load: ErrDescriptor, msg: `types[0] and types[1] both have id "same"`},
	"nulltype.c":    {load: ErrDescriptor, msg: "types[1] is NULL"},
	"notypes.c":     {load: ErrDescriptor, msg: "n_types is 0, want 1..256"},
	"noname.c":      {load: ErrDescriptor, msg: "weir_plugin.name is NULL"},
	"unresolved.c":  {load: ErrOpen, msg: "undefined symbol: weir_test_no_such_function"},
	"createfail.c":  {op: "create", want: ErrPlugin, msg: `create broken/x: bad config: missing field "rate"`},
	"overflow.c":    {op: "poll", want: ErrBatch, msg: "poll broken/x: batch: len 5 exceeds capacity 4"},
	"nulldata.c":    {op: "poll", want: ErrBatch, msg: "poll broken/x: event 1: data is NULL but len is 2"},
	"pastarena.c":   {op: "poll", want: ErrBatch, msg: "poll broken/x: event 2: bytes [4, 1004) of the arena run past arena_len 6"},
	"srcflags.c":    {op: "poll", want: ErrBatch, msg: "poll broken/x: event 1: flags 0x1 set bits a source may not set (DROP, or reserved bits 2-7) (2 of the 3 events appended are bad)"},
	"wildptr.c":     {op: "poll", want: ErrBatch, msg: "poll broken/x: event 1: data 0x18 (len 2) is not a user-space address (3 of the 4 events appended are bad)"},
	"arenaover.c":   {op: "poll", want: ErrBatch, msg: "arena_len 65 exceeds arena_cap 64"},
	"badstatus.c":   {op: "write", want: ErrPlugin, msg: "write broken/x: unexpected status weir_status(7) (confused)"},
	"procgrow.c":    {op: "process", want: ErrBatch, msg: "process broken/x: event 1: len grew from 2 to 7"},
}

func TestBrokenPlugins(t *testing.T) {
	srcs, err := filepath.Glob("testdata/broken/*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no broken plugins in testdata/broken: %v", err)
	}
	for _, src := range srcs {
		name := filepath.Base(src)
		tc, ok := brokenCases[name]
		if !ok {
			t.Errorf("%s has no case in brokenCases", src)
			continue
		}
		t.Run(strings.TrimSuffix(name, ".c"), func(t *testing.T) {
			path := buildPlugin(t, "broken/"+name, "../include")
			l, err := Load(path)
			if tc.load != nil {
				var le *LoadError
				if !errors.Is(err, tc.load) || !errors.As(err, &le) || le.Path != path || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("Load(%s) = %v; want a *LoadError for %s wrapping %v and containing %q", name, err, path, tc.load, tc.msg)
				}
				if !strings.HasPrefix(err.Error(), "load plugin "+path+": ") {
					t.Errorf("Load(%s) error %q does not start with the operation and path", name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%s) = %v; want success", name, err)
			}
			err = runBrokenOp(t, l, tc.op)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%s on %s = %v; want an error wrapping %v containing %q", tc.op, name, err, tc.want, tc.msg)
			}
		})
	}
}

// runBrokenOp creates an instance of the library's only type and runs op
// once on a batch of capacity 4 holding, for sinks and processors, two
// events.
func runBrokenOp(t *testing.T, l *Library, op string) error {
	typ := l.Types[0]
	in, err := typ.Create(nil, NewBasicHost("", nil))
	if op == "create" {
		if in != nil {
			t.Error("Create returned an instance with an error")
		}
		return err
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	b := ctest.NewBatch(t, 4, 64)
	switch op {
	case "poll":
		_, err = in.Poll(b, 0)
	case "write":
		b.Append(0, 0, cabi.KindRaw, 0, []byte("ab"))
		_, err = in.Write(b)
	case "process":
		b.Append(0, 0, cabi.KindRaw, 0, []byte("ab"))
		b.Append(0, 0, cabi.KindRaw, 0, []byte("cd"))
		err = in.Process(b)
	default:
		t.Fatalf("unknown op %q", op)
	}
	return err
}

// TestCreateFailDestroys checks that a failed create's instance is
// destroyed exactly once.
func TestCreateFailDestroys(t *testing.T) {
	l, err := Load(buildPlugin(t, "broken/createfail.c", "../include"))
	if err != nil {
		t.Fatal(err)
	}
	before := destroyedCount(t, l)
	for i := 0; i < 3; i++ {
		if _, err := l.Types[0].Create(nil, NewBasicHost("", nil)); err == nil {
			t.Fatal("Create succeeded")
		}
	}
	if got := destroyedCount(t, l) - before; got != 3 {
		t.Errorf("3 failed creates destroyed %d instances; want 3", got)
	}
	if n := l.live.Load(); n != 0 {
		t.Errorf("live instances after failed creates = %d; want 0", n)
	}
}

func destroyedCount(t *testing.T, l *Library) int {
	t.Helper()
	return int(callInt(t, l, "broken_destroyed"))
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.so")
	if err := os.WriteFile(text, []byte(strings.Repeat("this is a text file, not a shared library\n", 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.so")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, msg string }{
		{filepath.Join(dir, "missing.so"), "No such file or directory"},
		{text, "invalid ELF header"},
		{empty, "file too short"},
		{dir, "Is a directory"},
	}
	for _, tc := range cases {
		_, err := Load(tc.path)
		var le *LoadError
		if !errors.Is(err, ErrOpen) || !errors.As(err, &le) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Load(%q) = %v; want ErrOpen naming the file and containing %q", tc.path, err, tc.msg)
		}
	}
}

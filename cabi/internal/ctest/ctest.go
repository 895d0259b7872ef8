// Package ctest holds what the cabi tests share for checking Go mirrors
// against the C headers: finding the system C compiler, and comparing the
// sizeof and offsetof a small C program prints with the Go structs.
package ctest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// CC returns the system C compiler ($CC, cc or gcc), or skips t when there
// is none.
func CC(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CC"), "cc", "gcc"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no C compiler (cc) on PATH; the plugin tests build C sources")
	return ""
}

// Struct is one C struct as the layout program printed it.
type Struct struct {
	Size   uintptr
	Fields []Field
}

// Field is one member of a Struct.
type Field struct {
	Name      string
	Off, Size uintptr
}

// Layout builds the C program src against the headers in include, runs it
// and parses what it prints: "struct NAME SIZE" lines, each followed by
// "field NAME OFFSET SIZE" lines.
func Layout(t *testing.T, include, src string) map[string]*Struct {
	t.Helper()
	return ParseLayout(t, Run(t, include, src))
}

// Run builds the C program src against the headers in include, runs it and
// returns what it printed.
func Run(t *testing.T, include, src string) []byte {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "layout")
	if msg, err := exec.Command(CC(t), "-std=c11", "-Wall", "-Werror", "-I"+include, "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", src, err, msg)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatalf("run %s: %v", src, err)
	}
	return out
}

// ParseLayout parses what a layout program printed (see Layout).
func ParseLayout(t *testing.T, out []byte) map[string]*Struct {
	t.Helper()
	m := map[string]*Struct{}
	var cur *Struct
	sc := bufio.NewScanner(bytes.NewReader(out))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		num := func(s string) uintptr {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("layout output line %d: %q: %v", line, sc.Text(), err)
			}
			return uintptr(n)
		}
		switch {
		case len(f) == 3 && f[0] == "struct":
			cur = &Struct{Size: num(f[2])}
			m[f[1]] = cur
		case len(f) == 4 && f[0] == "field" && cur != nil:
			cur.Fields = append(cur.Fields, Field{f[1], num(f[2]), num(f[3])})
		default:
			t.Fatalf("layout output line %d: unexpected %q", line, sc.Text())
		}
	}
	return m
}

// CheckMirrors compares every Go mirror with its C struct in c, field by
// field in declaration order. Each C struct must be either in mirrors or
// in elsewhere (the names another package's test checks), so a struct
// added to a header without a mirror fails the test.
func CheckMirrors(t *testing.T, c map[string]*Struct, mirrors map[string]reflect.Type, elsewhere ...string) {
	t.Helper()
	for name := range c {
		if _, ok := mirrors[name]; !ok && !contains(elsewhere, name) {
			t.Errorf("struct %s has no Go mirror in the test table", name)
		}
	}
	for name, gt := range mirrors {
		st, ok := c[name]
		if !ok {
			t.Errorf("Go mirror %s: the layout program does not describe struct %s", gt, name)
			continue
		}
		if gt.Size() != st.Size {
			t.Errorf("sizeof(%s) = %d, unsafe.Sizeof(%s) = %d", name, st.Size, gt, gt.Size())
		}
		if gt.NumField() != len(st.Fields) {
			t.Errorf("%s has %d fields in C, %s has %d", name, len(st.Fields), gt, gt.NumField())
			continue
		}
		for i, f := range st.Fields {
			gf := gt.Field(i)
			if gf.Offset != f.Off || gf.Type.Size() != f.Size {
				t.Errorf("%s.%s: C offset %d size %d; Go %s.%s offset %d size %d",
					name, f.Name, f.Off, f.Size, gt, gf.Name, gf.Offset, gf.Type.Size())
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ForeignBuf stands in for plugin memory outside the arena.
var ForeignBuf [64]byte

// PolledEvent describes an event a fake source appended: where its data
// points ("nil", "arena" at off, or "foreign") and its length.
type PolledEvent struct {
	Where string
	Off   uint64
	Len   uint32
}

// FakePoll applies what a source would do to b: append evs and set
// arena_len, then returns the header copy from before.
func FakePoll(b *cabi.Batch, evs []PolledEvent, arenaLen uint64) cabi.Batch {
	before := *b
	for _, pe := range evs {
		e := b.Event(int(b.Len))
		*e = cabi.Event{Len: pe.Len}
		switch pe.Where {
		case "arena":
			e.Data = unsafe.Add(b.Arena, pe.Off)
		case "foreign":
			e.Data = unsafe.Pointer(&ForeignBuf[0])
		}
		b.Len++
	}
	b.ArenaLen = arenaLen
	return before
}

// NewBatch allocates a batch freed when the test ends.
func NewBatch(t testing.TB, capacity, arena int) *cabi.Batch {
	t.Helper()
	b, err := cabi.AllocBatch(capacity, arena)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cabi.FreeBatch(b) })
	return b
}

// Ev is PolledEvent{where, off, n}, for short tables.
func Ev(where string, off uint64, n uint32) PolledEvent {
	return PolledEvent{Where: where, Off: off, Len: n}
}

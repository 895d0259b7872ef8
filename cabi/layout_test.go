package cabi

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestLayout compiles testdata/layout.c, which prints sizeof and offsetof
// for every struct and field in plugin.h, and checks each Go mirror against
// it field by field, in declaration order.
func TestLayout(t *testing.T) {
	compiler := cc(t)
	exe := filepath.Join(t.TempDir(), "layout")
	if msg, err := exec.Command(compiler, "-std=c11", "-Wall", "-Werror", "-Iinclude", "-o", exe, "testdata/layout.c").CombinedOutput(); err != nil {
		t.Fatalf("build layout.c: %v\n%s", err, msg)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatalf("run layout: %v", err)
	}
	c := parseLayout(t, out)

	mirrors := map[string]reflect.Type{
		"weir_event":          reflect.TypeFor[Event](),
		"weir_batch":          reflect.TypeFor[Batch](),
		"weir_host_api":       reflect.TypeFor[hostAPI](),
		"weir_source_ops":     reflect.TypeFor[sourceOps](),
		"weir_sink_ops":       reflect.TypeFor[sinkOps](),
		"weir_processor_ops":  reflect.TypeFor[processorOps](),
		"weir_connector_type": reflect.TypeFor[connectorDesc](),
		"weir_plugin":         reflect.TypeFor[pluginDesc](),
	}
	if len(c) != len(mirrors) {
		t.Errorf("layout.c describes %d structs, the test knows %d mirrors", len(c), len(mirrors))
	}
	for name, st := range c {
		gt, ok := mirrors[name]
		if !ok {
			t.Errorf("struct %s has no Go mirror in the test table", name)
			continue
		}
		if gt.Size() != st.size {
			t.Errorf("sizeof(%s) = %d, unsafe.Sizeof(%s) = %d", name, st.size, gt, gt.Size())
		}
		if gt.NumField() != len(st.fields) {
			t.Errorf("%s has %d fields in C, %s has %d", name, len(st.fields), gt, gt.NumField())
			continue
		}
		for i, f := range st.fields {
			gf := gt.Field(i)
			if gf.Offset != f.off || gf.Type.Size() != f.size {
				t.Errorf("%s.%s: C offset %d size %d; Go %s.%s offset %d size %d",
					name, f.name, f.off, f.size, gt, gf.Name, gf.Offset, gf.Type.Size())
			}
		}
	}
}

type cStruct struct {
	size   uintptr
	fields []cField
}

type cField struct {
	name      string
	off, size uintptr
}

func parseLayout(t *testing.T, out []byte) map[string]*cStruct {
	t.Helper()
	m := map[string]*cStruct{}
	var cur *cStruct
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
			cur = &cStruct{size: num(f[2])}
			m[f[1]] = cur
		case len(f) == 4 && f[0] == "field" && cur != nil:
			cur.fields = append(cur.fields, cField{f[1], num(f[2]), num(f[3])})
		default:
			t.Fatalf("layout output line %d: unexpected %q", line, sc.Text())
		}
	}
	return m
}

// TestHeaderCompiles compiles the header with every warning as an error,
// as C99 and C11 with gcc and clang-16, and as C++11 and C++17 with g++.
func TestHeaderCompiles(t *testing.T) {
	strict := []string{"-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-Iinclude"}
	cases := []struct{ compiler, lang, std string }{
		{"gcc", "c", "c99"}, {"gcc", "c", "c11"},
		{"clang-16", "c", "c99"}, {"clang-16", "c", "c11"},
		{"g++", "c++", "c++11"}, {"g++", "c++", "c++17"},
		{"clang++-16", "c++", "c++17"},
	}
	for _, tc := range cases {
		t.Run(tc.compiler+"/"+tc.std, func(t *testing.T) {
			path, err := exec.LookPath(tc.compiler)
			if err != nil {
				t.Skipf("%s not installed", tc.compiler)
			}
			args := append([]string{"-x", tc.lang, "-std=" + tc.std}, strict...)
			args = append(args, "testdata/header_check.c")
			if msg, err := exec.Command(path, args...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", tc.compiler, strings.Join(args, " "), err, msg)
			}
		})
	}
}

// TestABIConstants checks the Go constants against the header's macros and
// enums by compiling a program that prints them.
func TestABIConstants(t *testing.T) {
	compiler := cc(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "consts.c")
	prog := `#include <stdio.h>
#include "weir/plugin.h"
int main(void) {
	printf("%d %d %d %d %d %d %d %u %u %u %u %d %d %d %d %d %d\n", WEIR_ABI_MAJOR, WEIR_ABI_MINOR,
	       WEIR_OK, WEIR_TIMEOUT, WEIR_EOF, WEIR_RETRY, WEIR_ERROR,
	       WEIR_EVENT_DROP, WEIR_EVENT_TRUNCATED, WEIR_SOURCE_WANTS_ACKS, WEIR_SOURCE_UNPAUSABLE,
	       WEIR_METRIC_COUNTER, WEIR_METRIC_GAUGE, WEIR_LOG_DEBUG, WEIR_LOG_ERROR,
	       WEIR_KIND_TEXT, WEIR_KIND_TICK);
	return 0;
}
`
	if err := writeFile(src, prog); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "consts")
	abs, _ := filepath.Abs("include")
	if msg, err := exec.Command(compiler, "-I"+abs, "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", ABIMajor, ABIMinor,
		OK, Timeout, EOF, Retry, Error, FlagDrop, FlagTruncated, SourceWantsAcks, SourceUnpausable,
		MetricCounter, MetricGauge, LogDebug, LogError, KindText, KindTick)
	if string(out) != want {
		t.Errorf("header constants = %q; Go constants = %q", out, want)
	}
}

package cabi_test

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"
)

// loaderStructs are the plugin.h structs only the loader reads; the
// loader package's TestLayout checks their mirrors.
var loaderStructs = []string{"weir_host_api", "weir_source_ops", "weir_sink_ops", "weir_processor_ops", "weir_connector_type", "weir_plugin"}

// TestLayout compiles testdata/layout.c, which prints sizeof and offsetof
// for every struct and field in the headers, and checks the layout
// package's mirrors against it field by field, in declaration order.
func TestLayout(t *testing.T) {
	c := ctest.Layout(t, "include", "testdata/layout.c")
	ctest.CheckMirrors(t, c, map[string]reflect.Type{
		"weir_event": reflect.TypeFor[cabi.Event](),
		"weir_batch": reflect.TypeFor[cabi.Batch](),
	}, loaderStructs...)
}

// TestHeaderCompiles compiles the headers (plugin.h, and records.h with its
// helper) with every warning as an error, as C99 and C11 with gcc and
// clang-16, and as C++11 and C++17 with g++ and clang++-16.
func TestHeaderCompiles(t *testing.T) {
	strict := []string{"-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-Iinclude"}
	cases := []struct{ compiler, lang, std string }{
		{"gcc", "c", "c99"}, {"gcc", "c", "c11"},
		{"clang-16", "c", "c99"}, {"clang-16", "c", "c11"},
		{"g++", "c++", "c++11"}, {"g++", "c++", "c++17"},
		{"clang++-16", "c++", "c++17"},
	}
	for _, src := range []string{"testdata/header_check.c", "testdata/records_check.c"} {
		for _, tc := range cases {
			t.Run(filepath.Base(src)+"/"+tc.compiler+"/"+tc.std, func(t *testing.T) {
				path, err := exec.LookPath(tc.compiler)
				if err != nil {
					t.Skipf("%s not installed", tc.compiler)
				}
				args := append([]string{"-x", tc.lang, "-std=" + tc.std}, strict...)
				args = append(args, src)
				if msg, err := exec.Command(path, args...).CombinedOutput(); err != nil {
					t.Errorf("%s %s: %v\n%s", tc.compiler, strings.Join(args, " "), err, msg)
				}
			})
		}
	}
}

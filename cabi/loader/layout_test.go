package loader

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/internal/ctest"
)

// TestLayout checks the mirrors of the structs only the loader reads
// against ../testdata/layout.c; the cabi package checks Event and Batch.
func TestLayout(t *testing.T) {
	c := ctest.Layout(t, "../include", "../testdata/layout.c")
	ctest.CheckMirrors(t, c, map[string]reflect.Type{
		"weir_host_api":       reflect.TypeFor[hostAPI](),
		"weir_source_ops":     reflect.TypeFor[sourceOps](),
		"weir_sink_ops":       reflect.TypeFor[sinkOps](),
		"weir_processor_ops":  reflect.TypeFor[processorOps](),
		"weir_connector_type": reflect.TypeFor[connectorDesc](),
		"weir_plugin":         reflect.TypeFor[pluginDesc](),
	}, "weir_event", "weir_batch")
}

// TestABIConstants checks the Go constants against the header's macros and
// enums by compiling a program that prints them.
func TestABIConstants(t *testing.T) {
	compiler := ctest.CC(t)
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
	abs, _ := filepath.Abs("../include")
	if msg, err := exec.Command(compiler, "-I"+abs, "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	out, err := exec.Command(exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", cabi.ABIMajor, cabi.ABIMinor,
		cabi.OK, cabi.Timeout, cabi.EOF, cabi.Retry, cabi.Error, cabi.FlagDrop, cabi.FlagTruncated, SourceWantsAcks, SourceUnpausable,
		cabi.MetricCounter, cabi.MetricGauge, cabi.LogDebug, cabi.LogError, cabi.KindText, cabi.KindTick)
	if string(out) != want {
		t.Errorf("header constants = %q; Go constants = %q", out, want)
	}
}

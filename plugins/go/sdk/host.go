//go:build cgo

package weirsdk

/*
#cgo CFLAGS: -I${SRCDIR}/../../../cabi/include -O2 -Wall -Werror
#include <stdlib.h>
#include <stddef.h>
#include <weir/plugin.h>

// The host API table may be older (smaller) than this header's; a
// function past its struct_size is absent.
#define HAS(api, f) ((api) != NULL && (api)->struct_size >= offsetof(weir_host_api, f) + sizeof((api)->f) && (api)->f != NULL)

static void host_log(const weir_host_api *api, weir_host *h, int32_t level, const char *msg) {
	if (HAS(api, log)) api->log(h, level, msg);
}
static int32_t host_metric_register(const weir_host_api *api, weir_host *h, const char *name, int32_t kind, const char *help) {
	return HAS(api, metric_register) ? api->metric_register(h, name, kind, help) : -1;
}
static void host_counter_add(const weir_host_api *api, weir_host *h, int32_t id, uint64_t d) {
	if (HAS(api, counter_add)) api->counter_add(h, id, d);
}
static void host_gauge_set(const weir_host_api *api, weir_host *h, int32_t id, int64_t v) {
	if (HAS(api, gauge_set)) api->gauge_set(h, id, v);
}
static void host_wakeup(const weir_host_api *api, weir_host *h) {
	if (HAS(api, wakeup)) api->wakeup(h);
}
*/
import "C"

import (
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// Log levels for Host.Log.
const (
	LogDebug = cabi.LogDebug
	LogInfo  = cabi.LogInfo
	LogWarn  = cabi.LogWarn
	LogError = cabi.LogError
)

// MetricKind is the kind of a host metric.
type MetricKind = cabi.MetricKind

// Metric kinds.
const (
	MetricCounter = cabi.MetricCounter
	MetricGauge   = cabi.MetricGauge
)

// Host is the host's service table for one instance: logging, metrics and
// wakeup. Wakeup may be called from any goroutine until Stop returns; the
// other methods only from inside a call the host made on the instance.
type Host struct {
	api *C.weir_host_api
	h   *C.weir_host
}

// Log writes msg to the host's log at level (LogDebug...LogError).
func (h *Host) Log(level int32, msg string) {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	C.host_log(h.api, h.h, C.int32_t(level), cs)
}

// RegisterMetric declares a metric named name ([a-z0-9_]+) and returns its
// id, or -1 if the host refused it.
func (h *Host) RegisterMetric(name string, kind MetricKind, help string) int32 {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	ch := C.CString(help)
	defer C.free(unsafe.Pointer(ch))
	return int32(C.host_metric_register(h.api, h.h, cn, C.int32_t(kind), ch))
}

// CounterAdd adds delta to counter id.
func (h *Host) CounterAdd(id int32, delta uint64) {
	C.host_counter_add(h.api, h.h, C.int32_t(id), C.uint64_t(delta))
}

// GaugeSet sets gauge id to v.
func (h *Host) GaugeSet(id int32, v int64) {
	C.host_gauge_set(h.api, h.h, C.int32_t(id), C.int64_t(v))
}

// Wakeup tells the host that a source has events ready. Safe from any
// goroutine until Stop returns.
func (h *Host) Wakeup() {
	C.host_wakeup(h.api, h.h)
}

//go:build cgo

package weirsdk

/*
#cgo CFLAGS: -I${SRCDIR}/../../../cabi/include -O2 -Wall -Werror
#include <stdlib.h>
#include "sdk.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"
)

// maxTypes matches WEIRSDK_MAX_TYPES in sdk.h.
const maxTypes = C.WEIRSDK_MAX_TYPES

// instance is one live connector behind a handle.
type instance struct {
	typ  *Type
	conn any
	host Host
	src  Source
	sink Sink
	proc Processor
	ack  Acker
	errC *C.char // last_error text, C memory, freed at the next call
}

// begin clears the previous call's error; the string last_error returned
// is valid only until the next call, which is now.
func (in *instance) begin() {
	if in.errC != nil {
		C.free(unsafe.Pointer(in.errC))
		in.errC = nil
	}
}

func (in *instance) setError(msg string) {
	if in.errC != nil {
		C.free(unsafe.Pointer(in.errC))
	}
	in.errC = C.CString(msg)
}

// fail records err from op and returns the status it maps to.
func (in *instance) fail(op string, err error, retryable bool) C.int {
	in.setError(fmt.Sprintf("%s %s: %v", op, in.typ.ID, err))
	if retryable && errors.Is(err, ErrRetry) {
		return C.int(Retry)
	}
	return C.int(Error)
}

// recoverInto turns a panic into WEIR_ERROR with the panic in last_error.
// Use as: defer in.recoverInto("write", &st).
func (in *instance) recoverInto(op string, st *C.int) {
	if r := recover(); r != nil {
		in.setError(fmt.Sprintf("%s %s: panic: %v", op, in.typ.ID, r))
		*st = C.int(Error)
	}
}

var describeOnce struct {
	sync.Once
	plugin *C.weir_plugin
}

//export weirsdk_describe
func weirsdk_describe() (p *C.weir_plugin) {
	defer func() {
		if recover() != nil {
			p = nil
		}
	}()
	describeOnce.Do(func() {
		registry.mu.Lock()
		defer registry.mu.Unlock()
		registry.frozen = true
		if len(registry.types) == 0 {
			return // NULL descriptor: the host reports a plugin with no types
		}
		name, version := registry.name, registry.version
		if name == "" {
			name = registry.types[0].ID
		}
		if version == "" {
			version = "0.0.0"
		}
		// These strings live as long as the library: never freed.
		for i, t := range registry.types {
			var desc, schema *C.char
			if t.Description != "" {
				desc = C.CString(t.Description)
			}
			if t.ConfigSchema != "" {
				schema = C.CString(t.ConfigSchema)
			}
			acks := 0
			if t.WantsAcks {
				acks = 1
			}
			C.weirsdk_set_type(C.int(i), C.CString(t.ID), desc, schema, C.int(t.Roles), C.int(acks))
		}
		describeOnce.plugin = (*C.weir_plugin)(unsafe.Pointer(C.weirsdk_set_plugin(C.CString(name), C.CString(version), C.int(len(registry.types)))))
	})
	return describeOnce.plugin
}

// bind checks that conn implements the roles t declares and fills in the
// role interfaces.
func (in *instance) bind() error {
	t := in.typ
	var ok bool
	if t.Roles&RoleSource != 0 {
		if in.src, ok = in.conn.(Source); !ok {
			return fmt.Errorf("New returned %T, which does not implement weirsdk.Source", in.conn)
		}
	}
	if t.Roles&RoleSink != 0 {
		if in.sink, ok = in.conn.(Sink); !ok {
			return fmt.Errorf("New returned %T, which does not implement weirsdk.Sink", in.conn)
		}
	}
	if t.Roles&RoleProcessor != 0 {
		if in.proc, ok = in.conn.(Processor); !ok {
			return fmt.Errorf("New returned %T, which does not implement weirsdk.Processor", in.conn)
		}
	}
	if t.WantsAcks {
		if in.ack, ok = in.conn.(Acker); !ok {
			return fmt.Errorf("New returned %T, which does not implement weirsdk.Acker", in.conn)
		}
	}
	return nil
}

//export weirsdk_create
func weirsdk_create(idx C.int, config *C.uint8_t, n C.size_t, api *C.weir_host_api, host *C.weir_host, out *C.uintptr_t) (st C.int) {
	*out = 0
	registry.mu.Lock()
	var t *Type
	if int(idx) < len(registry.types) {
		t = registry.types[idx]
	}
	registry.mu.Unlock()
	if t == nil {
		return C.int(Error)
	}
	in := &instance{typ: t, host: Host{api: api, h: host}}
	*out = C.uintptr_t(putHandle(in))
	defer in.recoverInto("create", &st)
	var cfg []byte
	if config != nil && n > 0 {
		cfg = C.GoBytes(unsafe.Pointer(config), C.int(n))
	} else {
		cfg = []byte("{}")
	}
	conn, err := t.New(cfg, &in.host)
	in.conn = conn
	if err != nil {
		return in.fail("create", err, false)
	}
	if conn == nil {
		return in.fail("create", errors.New("New returned nil without an error"), false)
	}
	if err := in.bind(); err != nil {
		return in.fail("create", err, false)
	}
	return C.int(OK)
}

//export weirsdk_destroy
func weirsdk_destroy(h C.uintptr_t) {
	in := getHandle(uintptr(h))
	if in == nil {
		return
	}
	dropHandle(uintptr(h))
	defer func() {
		recover() // destroy returns nothing; a panicking Close must not unwind into C
		in.begin()
	}()
	if c, ok := in.conn.(Closer); ok {
		c.Close()
	}
}

//export weirsdk_last_error
func weirsdk_last_error(h C.uintptr_t) *C.char {
	if in := getHandle(uintptr(h)); in != nil {
		return in.errC
	}
	return nil
}

//export weirsdk_connect
func weirsdk_connect(h C.uintptr_t, attempt C.uint32_t) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	defer in.recoverInto("connect", &st)
	if c, ok := in.conn.(Connecter); ok {
		if err := c.Connect(uint32(attempt)); err != nil {
			return in.fail("connect", err, true)
		}
	}
	return C.int(OK)
}

//export weirsdk_op
func weirsdk_op(h C.uintptr_t, op C.int) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	var name string
	var err error
	switch op {
	case C.WEIRSDK_OP_START:
		name = "start"
	case C.WEIRSDK_OP_PAUSE:
		name = "pause"
	case C.WEIRSDK_OP_RESUME:
		name = "resume"
	case C.WEIRSDK_OP_DRAIN:
		name = "drain"
	case C.WEIRSDK_OP_STOP:
		name = "stop"
	default:
		in.setError(fmt.Sprintf("weirsdk: unknown lifecycle op %d", int(op)))
		return C.int(Error)
	}
	defer in.recoverInto(name, &st)
	switch op {
	case C.WEIRSDK_OP_START:
		if c, ok := in.conn.(Starter); ok {
			err = c.Start()
		}
	case C.WEIRSDK_OP_PAUSE:
		if c, ok := in.conn.(Pauser); ok {
			err = c.Pause()
		}
	case C.WEIRSDK_OP_RESUME:
		if c, ok := in.conn.(Pauser); ok {
			err = c.Resume()
		}
	case C.WEIRSDK_OP_DRAIN:
		if c, ok := in.conn.(Drainer); ok {
			err = c.Drain()
		}
	case C.WEIRSDK_OP_STOP:
		if c, ok := in.conn.(Stopper); ok {
			err = c.Stop()
		}
	}
	if err != nil {
		return in.fail(name, err, false)
	}
	return C.int(OK)
}

//export weirsdk_poll
func weirsdk_poll(h C.uintptr_t, b *C.weir_batch, timeout C.int64_t) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	defer in.recoverInto("poll", &st)
	s, err := in.src.Poll((*Batch)(unsafe.Pointer(b)), time.Duration(timeout))
	if err != nil {
		return in.fail("poll", err, false)
	}
	return C.int(s)
}

//export weirsdk_ack
func weirsdk_ack(h C.uintptr_t, id C.uint64_t, ok C.int) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	op := "ack"
	if ok == 0 {
		op = "fail"
	}
	defer in.recoverInto(op, &st)
	var err error
	if ok != 0 {
		err = in.ack.Ack(uint64(id))
	} else {
		err = in.ack.Fail(uint64(id))
	}
	if err != nil {
		return in.fail(op, err, false)
	}
	return C.int(OK)
}

//export weirsdk_write
func weirsdk_write(h C.uintptr_t, b *C.weir_batch) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	defer in.recoverInto("write", &st)
	if err := in.sink.Write((*Batch)(unsafe.Pointer(b))); err != nil {
		return in.fail("write", err, true)
	}
	return C.int(OK)
}

//export weirsdk_process
func weirsdk_process(h C.uintptr_t, b *C.weir_batch) (st C.int) {
	in := getHandle(uintptr(h))
	if in == nil {
		return C.int(Error)
	}
	in.begin()
	defer in.recoverInto("process", &st)
	if err := in.proc.Process((*Batch)(unsafe.Pointer(b))); err != nil {
		return in.fail("process", err, false)
	}
	return C.int(OK)
}

// cLayout returns the C compiler's size or offset number what (see
// weirsdk_layout in sdk.c), for the layout test.
func cLayout(what int) uintptr { return uintptr(C.weirsdk_layout(C.int(what))) }

package loader

import (
	"github.com/weirproject/weir/cabi"

	"fmt"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Instance is one live connector made by ConnectorType.Create.
//
// Calls on one Instance must be serialized: the ABI promises plugins that
// the host never calls into one instance from two threads at once, and the
// Instance itself keeps per-call scratch state. Different instances may be
// used concurrently. Destroy must be called exactly once, whatever failed
// before; every method after Destroy returns ErrDestroyed.
type Instance struct {
	typ    *ConnectorType
	ptr    uintptr // weir_instance *
	handle uintptr // weir_host * given to the plugin
	dead   bool

	// direct selects the direct call path (see call3 and CallEnv) for
	// every call but create; frame is its reusable argument block.
	direct bool
	frame  callFrame
	// slot is the frame's place in faultFrames, or -1.
	slot int
	// entry is what handle stands for, for the host API callbacks.
	entry *hostEntry

	// args is the argument vector for calls through purego.SyscallN.
	// Passing a slice of it, rather than separate arguments, keeps the
	// variadic slice (which go:uintptrescapes moves to the heap) from being
	// allocated on every call.
	args [3]uintptr

	// scratch holds each event's data and len before a process call, so
	// the batch can be checked after it without allocating.
	scratch []eventShape
}

type eventShape struct {
	data uintptr
	len  uint32
}

// HostAPIMisuse returns how many host API calls other than wakeup the
// plugin made outside any host call on the instance, against the
// header's threading rule (a thread the plugin started may call only
// wakeup). The first one is logged through the Host as a warning.
func (in *Instance) HostAPIMisuse() uint64 { return in.entry.misuse.Load() }

// Type returns the connector type the instance was made from.
func (in *Instance) Type() *ConnectorType { return in.typ }

// Create makes an instance from config, the connector's JSON config ("{}"
// when empty). host receives the instance's log lines, metrics and wakeups
// until Destroy. If the plugin fails, Create reads its last_error, destroys
// any instance it returned, and returns an *OpError carrying the message.
func (t *ConnectorType) Create(config []byte, host Host) (*Instance, error) {
	if host == nil {
		return nil, fmt.Errorf("create %s/%s: host is nil", t.lib.Name, t.ID)
	}
	t.lib.mu.Lock()
	closed := t.lib.closed
	if !closed {
		t.lib.live.Add(1)
	}
	t.lib.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("create %s/%s: %w", t.lib.Name, t.ID, ErrClosed)
	}
	if len(config) == 0 {
		config = []byte("{}")
	}
	// A private copy: the plugin may read it only during the call, and the
	// caller may change its slice concurrently. Go's heap does not move.
	cfg := append([]byte(nil), config...)
	in := &Instance{typ: t, direct: useDirect(), slot: -1}
	in.handle, in.entry = registerHost(host)
	var out uintptr
	in.entry.calls.Add(1) // create counts as a host call
	r, _, _ := purego.SyscallN(t.create,
		uintptr(unsafe.Pointer(unsafe.SliceData(cfg))), uintptr(len(cfg)),
		hostAPIPtr(), in.handle, uintptr(unsafe.Pointer(&out)))
	in.entry.calls.Add(-1)
	if in.direct {
		in.entry.frame.Store(&in.frame)
	}
	in.ptr = out
	st := cabi.Status(int32(uint32(r)))
	if st == cabi.OK && out == 0 {
		in.Destroy()
		return nil, &OpError{Plugin: t.lib.Name, Connector: t.ID, Op: "create", Status: st, Message: "returned WEIR_OK without an instance"}
	}
	if st != cabi.OK {
		err := in.opError("create", st)
		in.Destroy()
		return nil, err
	}
	in.slot = -1
	if in.direct {
		in.slot = track(&in.frame, fmt.Sprintf("type %s of library %s", t.ID, t.lib.Path))
	}
	return in, nil
}

// SetName names the connector the instance serves, for the line a fault
// in one of its calls writes (see InstallFaultHandler): connector "NAME"
// (type T, library PATH). Call it before any call but create.
func (in *Instance) SetName(name string) {
	if in.direct && in.slot >= 0 {
		in.frame.who = fmt.Sprintf("connector %q (type %s, library %s)", name, in.typ.ID, in.typ.lib.Path)
		in.frame.whoMsg = strMsg(in.frame.who)
	}
}

// LastError returns the plugin's last_error text, or "" if it has none.
func (in *Instance) LastError() string {
	if in.dead || in.ptr == 0 {
		return ""
	}
	r := in.call3("last_error", in.typ.lastError, 1, in.ptr, 0, 0)
	s, ok := cString(ptrFrom(r))
	if !ok {
		return "(last_error not NUL-terminated within 64 KiB)"
	}
	return s
}

func (in *Instance) opError(op string, st cabi.Status) error {
	return &OpError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: op, Status: st, Message: in.LastError()}
}

// call runs an op that takes only the instance and maps its status: OK and
// any status in also are returned as is, WEIR_ERROR and anything else
// become an *OpError. An absent op answers OK.
func (in *Instance) call(op string, fn uintptr, arg uintptr, nargs int, also cabi.Status) (cabi.Status, error) {
	if in.dead {
		return cabi.Error, fmt.Errorf("%s %s/%s: %w", op, in.typ.lib.Name, in.typ.ID, ErrDestroyed)
	}
	if fn == 0 {
		return cabi.OK, nil
	}
	r := in.call3(op, fn, nargs, in.ptr, arg, 0)
	st := cabi.Status(int32(uint32(r)))
	if st == cabi.OK || (st == also && also != cabi.OK) {
		return st, nil
	}
	return cabi.Error, in.opError(op, st)
}

// Connect acquires the connector's external resources. attempt counts from
// 1. It returns Retry (with a nil error) when the plugin asks to be retried
// later.
func (in *Instance) Connect(attempt uint32) (cabi.Status, error) {
	return in.call("connect", in.typ.connect, uintptr(attempt), 2, cabi.Retry)
}

// Start begins work.
func (in *Instance) Start() error {
	_, err := in.call("start", in.typ.start, 0, 1, cabi.OK)
	return err
}

// Pause asks a source to stop producing until Resume.
func (in *Instance) Pause() error {
	_, err := in.call("pause", in.typ.pause, 0, 1, cabi.OK)
	return err
}

// Resume undoes Pause.
func (in *Instance) Resume() error {
	_, err := in.call("resume", in.typ.resume, 0, 1, cabi.OK)
	return err
}

// Drain says no more input will arrive.
func (in *Instance) Drain() error {
	_, err := in.call("drain", in.typ.drain, 0, 1, cabi.OK)
	return err
}

// Stop stops work and joins the instance's threads.
func (in *Instance) Stop() error {
	_, err := in.call("stop", in.typ.stop, 0, 1, cabi.OK)
	return err
}

// Ack tells a source that wants acks that batch id was delivered. It is a
// no-op for sources without WantsAcks or without an ack op.
func (in *Instance) Ack(id uint64) error {
	if !in.typ.WantsAcks {
		return nil
	}
	_, err := in.call("ack", in.typ.ack, uintptr(id), 2, cabi.OK)
	return err
}

// Fail tells a source that wants acks that batch id was not delivered.
func (in *Instance) Fail(id uint64) error {
	if !in.typ.WantsAcks {
		return nil
	}
	_, err := in.call("fail", in.typ.fail, uintptr(id), 2, cabi.OK)
	return err
}

// Poll asks a source to append events to b, waiting at most timeout for the
// first one. It returns OK, Timeout or EOF with a nil error, or Error with an
// *OpError when the plugin fails or a *BatchError when it left b
// inconsistent (b is then unusable until Reset). b must come from AllocBatch
// or otherwise live outside the Go heap. Events appended may point to plugin
// memory that is valid only until the next call on the instance; see
// Batch.AdoptForeign. Poll does not allocate.
func (in *Instance) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if in.typ.poll == 0 {
		return cabi.Error, in.noRole("poll", "source")
	}
	if in.dead {
		return cabi.Error, fmt.Errorf("poll %s/%s: %w", in.typ.lib.Name, in.typ.ID, ErrDestroyed)
	}
	before := *b
	r := in.call3("poll", in.typ.poll, 3, in.ptr, uintptr(unsafe.Pointer(b)), uintptr(timeout.Nanoseconds()))
	st := cabi.Status(int32(uint32(r)))
	switch st {
	case cabi.OK, cabi.Timeout, cabi.EOF:
	default:
		return cabi.Error, in.opError("poll", st)
	}
	if reason, idx := checkPolled(&before, b); reason != "" {
		return cabi.Error, &BatchError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: "poll", Index: idx, Reason: reason}
	}
	return st, nil
}

// Write offers b to a sink. It returns OK or Retry with a nil error, or
// Error with an *OpError. Write does not allocate.
func (in *Instance) Write(b *cabi.Batch) (cabi.Status, error) {
	if in.typ.write == 0 {
		return cabi.Error, in.noRole("write", "sink")
	}
	if in.dead {
		return cabi.Error, fmt.Errorf("write %s/%s: %w", in.typ.lib.Name, in.typ.ID, ErrDestroyed)
	}
	r := in.call3("write", in.typ.write, 2, in.ptr, uintptr(unsafe.Pointer(b)), 0)
	st := cabi.Status(int32(uint32(r)))
	if st == cabi.OK || st == cabi.Retry {
		return st, nil
	}
	return cabi.Error, in.opError("write", st)
}

// Process runs a processor over b. It returns an *OpError when the plugin
// fails and a *BatchError when it changed b.Len or another header field,
// grew an event or moved its data. Process does not allocate once the instance has seen a batch of b's
// size.
func (in *Instance) Process(b *cabi.Batch) error {
	if in.typ.process == 0 {
		return in.noRole("process", "processor")
	}
	if in.dead {
		return fmt.Errorf("process %s/%s: %w", in.typ.lib.Name, in.typ.ID, ErrDestroyed)
	}
	n := b.Len
	if n > b.Capacity {
		return fmt.Errorf("process %s/%s: batch len %d exceeds capacity %d", in.typ.lib.Name, in.typ.ID, n, b.Capacity)
	}
	if cap(in.scratch) < int(n) {
		in.scratch = make([]eventShape, n)
	}
	shapes := in.scratch[:n]
	for i := range shapes {
		e := event(b, i)
		shapes[i] = eventShape{data: uintptr(e.Data), len: e.Len}
	}
	before := *b
	r := in.call3("process", in.typ.process, 2, in.ptr, uintptr(unsafe.Pointer(b)), 0)
	st := cabi.Status(int32(uint32(r)))
	if st != cabi.OK {
		return in.opError("process", st)
	}
	if headerChanged(&before, b) || b.ArenaLen != before.ArenaLen {
		return &BatchError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: "process", Index: -1, Reason: fixedFieldsMsg + " or arena_len"}
	}
	if b.Len != n {
		return &BatchError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: "process", Index: -1,
			Reason: fmt.Sprintf("len changed from %d to %d", n, b.Len)}
	}
	for i, s := range shapes {
		e := event(b, i)
		if uintptr(e.Data) != s.data {
			return &BatchError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: "process", Index: i, Reason: "data pointer moved"}
		}
		if e.Len > s.len {
			return &BatchError{Plugin: in.typ.lib.Name, Connector: in.typ.ID, Op: "process", Index: i,
				Reason: fmt.Sprintf("len grew from %d to %d", s.len, e.Len)}
		}
	}
	return nil
}

func (in *Instance) noRole(op, role string) error {
	return fmt.Errorf("%s %s/%s: the connector type is not a %s", op, in.typ.lib.Name, in.typ.ID, role)
}

// Destroy frees the instance in the plugin. It runs at most once; later
// calls do nothing. It is safe after any failure, including a failed Create.
func (in *Instance) Destroy() {
	if in.dead {
		return
	}
	in.dead = true
	if in.direct && in.slot >= 0 {
		defer untrack(in.slot) // after destroy, which may crash too
		in.slot = -1
	}
	if in.ptr != 0 {
		in.call3("destroy", in.typ.destroy, 1, in.ptr, 0, 0)
		in.ptr = 0
	}
	releaseHost(in.handle)
	in.typ.lib.live.Add(-1)
}

//go:build cgo

package weirsdk

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/weirproject/weir/cabi"
)

// Role is a set of connector roles.
type Role int

// The roles a connector type may have; combine them with |.
const (
	RoleSource    Role = 1 << 0
	RoleSink      Role = 1 << 1
	RoleProcessor Role = 1 << 2
)

// Status is a weir_status value.
type Status = cabi.Status

// Status values, as plugin.h defines them.
const (
	OK      = cabi.OK
	Timeout = cabi.Timeout
	EOF     = cabi.EOF
	Retry   = cabi.Retry
	Error   = cabi.Error
)

// ErrRetry, returned (possibly wrapped) by Connect or Write, makes the
// operation answer WEIR_RETRY: the host tries again later.
var ErrRetry = errors.New("retry later")

// Connecter is implemented by connectors that acquire external resources.
// attempt counts from 1; return ErrRetry or any error to be retried.
type Connecter interface {
	Connect(attempt uint32) error
}

// Starter is implemented by connectors with work to begin; a source may
// start goroutines here (and must end them in Stop).
type Starter interface {
	Start() error
}

// Pauser is implemented by connectors that can pause. Pause may be called
// any number of times; Resume undoes it.
type Pauser interface {
	Pause() error
	Resume() error
}

// Drainer is implemented by connectors that hold input to flush when no
// more will arrive.
type Drainer interface {
	Drain() error
}

// Stopper is implemented by connectors that must stop work and wait for
// their goroutines.
type Stopper interface {
	Stop() error
}

// Closer is implemented by connectors that free resources on destroy.
// Close is called exactly once and its panics are swallowed.
type Closer interface {
	Close()
}

// Source is the source role. Poll appends events to b (see Batch.Append),
// waiting at most timeout for the first one, and returns OK, Timeout or EOF;
// a non-nil error answers WEIR_ERROR.
type Source interface {
	Poll(b *Batch, timeout time.Duration) (Status, error)
}

// Acker is implemented by sources that want Ack or Fail for every batch
// (Type.WantsAcks).
type Acker interface {
	Ack(batchID uint64) error
	Fail(batchID uint64) error
}

// Sink is the sink role. Write consumes every event of b, which is valid
// only during the call. Returning ErrRetry answers WEIR_RETRY; any other
// error answers WEIR_ERROR.
type Sink interface {
	Write(b *Batch) error
}

// Processor is the processor role. Process marks events to drop (FlagDrop)
// and may rewrite bytes in place or shorten Len; it must not grow Len, move
// Data or change the batch's length.
type Processor interface {
	Process(b *Batch) error
}

// Type describes one connector type.
type Type struct {
	// ID is the type's ID: [a-z][a-z0-9_.-]*.
	ID string
	// Description is one line describing the type.
	Description string
	// ConfigSchema is an optional JSON Schema for the config.
	ConfigSchema string
	// Roles lists the roles; the value New returns must implement the
	// matching interfaces (Source, Sink, Processor).
	Roles Role
	// WantsAcks makes the host call Ack or Fail for every batch the
	// source produced; the connector must implement Acker.
	WantsAcks bool
	// New makes an instance from its JSON config ("{}" when the user gave
	// none). It must not start goroutines or open connections. It may
	// return a non-nil value with an error; the value is then Closed.
	New func(config []byte, host *Host) (any, error)
}

var registry struct {
	mu      sync.Mutex
	name    string
	version string
	types   []*Type
	frozen  bool
}

// SetPlugin names the library. Call it from init.
func SetPlugin(name, version string) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.name, registry.version = name, version
}

// Register adds a connector type. It fails after the host has read the
// descriptor, for a duplicate or malformed ID, for missing roles or New,
// and past 16 types.
func Register(t Type) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.frozen {
		return fmt.Errorf("register %q: the host has already read the descriptor; register from init", t.ID)
	}
	if err := cabi.CheckID(t.ID); err != nil {
		return fmt.Errorf("register %q: %w", t.ID, err)
	}
	if t.New == nil {
		return fmt.Errorf("register %q: New is nil", t.ID)
	}
	if t.Roles&(RoleSource|RoleSink|RoleProcessor) == 0 || t.Roles&^(RoleSource|RoleSink|RoleProcessor) != 0 {
		return fmt.Errorf("register %q: roles %#x: want a non-empty set of RoleSource, RoleSink, RoleProcessor", t.ID, int(t.Roles))
	}
	if t.WantsAcks && t.Roles&RoleSource == 0 {
		return fmt.Errorf("register %q: WantsAcks needs RoleSource", t.ID)
	}
	for _, o := range registry.types {
		if o.ID == t.ID {
			return fmt.Errorf("register %q: ID already registered", t.ID)
		}
	}
	if len(registry.types) >= maxTypes {
		return fmt.Errorf("register %q: a library offers at most %d types", t.ID, maxTypes)
	}
	tc := t
	registry.types = append(registry.types, &tc)
	return nil
}

// MustRegister is Register that panics on error.
func MustRegister(t Type) {
	if err := Register(t); err != nil {
		panic("weirsdk: " + err.Error())
	}
}

// Kind is an event kind (weir_event_kind); 0x8000 and up belong to plugins.
type Kind = cabi.Kind

// Event kinds defined by plugin.h.
const (
	KindRaw     = cabi.KindRaw
	KindPacket  = cabi.KindPacket
	KindSyscall = cabi.KindSyscall
	KindJSON    = cabi.KindJSON
	KindText    = cabi.KindText
	KindTick    = cabi.KindTick
)

// Event flag bits (WEIR_EVENT_*).
const (
	FlagDrop      = cabi.FlagDrop
	FlagTruncated = cabi.FlagTruncated
)

// Event is struct weir_event, the host's own descriptor type. It lives in
// host memory; never keep a pointer to it past the call that received it.
// Bytes gives its data without copying.
type Event = cabi.Event

// Batch is struct weir_batch, in host memory, valid only during the call
// that received it. Len is the number of valid events; Event(i) returns one
// without copying and Append (for sources) copies bytes into the arena.
type Batch = cabi.Batch

package connector

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector/spec"
)

// Roles a connector type can play.
const (
	RoleSource = 1 << iota
	RoleSink
	RoleProcessor
)

// Type is a registered connector type.
type Type struct {
	// ID names the type in configs, e.g. "blackhole".
	ID string
	// Description is one line for help and docs.
	Description string
	// Roles is a mask of RoleSource, RoleSink and RoleProcessor.
	Roles int
	// Unpausable marks a source that cannot hold back what feeds it, such
	// as a kernel ring buffer: when its output blocks, events are dropped
	// (and counted) before they reach weir. Config validation warns when
	// such a source's edges promise the block policy.
	Unpausable bool
	// Isolatable marks a type whose instances can run in a child process
	// (Env.Isolation), as plugin types can; config validation refuses
	// isolate for other types.
	Isolatable bool
	// Spec lists the config fields. A nil Spec accepts any JSON object
	// (plugins without a schema).
	Spec spec.Spec
	// Check, when set, reports what New would refuse in a config that
	// passed Spec: rules across fields or about the host (a mode and a
	// direction that do not go together, a directory that does not
	// exist), without side effects. Config validation calls it, so that
	// `weir validate` refuses what `weir run` would.
	Check func(config []byte) error
	// New creates an instance from its JSON config. It must have no side
	// effects beyond allocation; the runtime calls Connect next, and
	// retries Connect, never New: an error from New fails the connector
	// until a reload changes its config. The
	// returned value implements Source, Sink and/or Processor per Roles.
	New func(config []byte, env Env) (Connector, error)
	// Library is the path of the shared library a plugin type comes
	// from, for messages that must name it (a stuck call); "" for a
	// built-in type.
	Library string
}

// ErrDuplicate is returned by Register for an ID already registered.
var ErrDuplicate = errors.New("connector type already registered")

// Registry maps connector type IDs to types. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*Type
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*Type{}} }

// Default is the process-wide registry that built-in connectors register
// into from init.
var Default = NewRegistry()

// Register adds t. It fails if the ID is malformed, already taken, or t has
// no constructor or roles.
func (r *Registry) Register(t Type) error {
	if err := cabi.CheckID(t.ID); err != nil {
		return fmt.Errorf("register connector type %q: %w", t.ID, err)
	}
	if t.New == nil || t.Roles == 0 {
		return fmt.Errorf("register connector type %q: a constructor and at least one role are required", t.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[t.ID]; dup {
		return fmt.Errorf("register connector type %q: %w", t.ID, ErrDuplicate)
	}
	r.types[t.ID] = &t
	return nil
}

// MustRegister is Register that panics on error, for init functions.
func (r *Registry) MustRegister(t Type) {
	if err := r.Register(t); err != nil {
		panic(err)
	}
}

// Lookup returns the type registered under id.
func (r *Registry) Lookup(id string) (*Type, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[id]
	return t, ok
}

// IDs returns the registered IDs, sorted.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.types))
	for id := range r.types {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Clone returns an independent copy, so tests can register types without
// touching the original.
func (r *Registry) Clone() *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := NewRegistry()
	for id, t := range r.types {
		c.types[id] = t
	}
	return c
}

// Register adds t to Default.
func Register(t Type) error { return Default.Register(t) }

// MustRegister adds t to Default and panics on error.
func MustRegister(t Type) { Default.MustRegister(t) }

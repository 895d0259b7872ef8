package loader

import (
	"runtime"

	"github.com/weirproject/weir/cabi"

	"debug/elf"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

// Role is a set of connector roles.
type Role uint8

// Roles a connector type may have.
const (
	RoleSource Role = 1 << iota
	RoleSink
	RoleProcessor
)

// String returns the roles as "source", "sink|processor" and so on.
func (r Role) String() string {
	var parts []string
	if r&RoleSource != 0 {
		parts = append(parts, "source")
	}
	if r&RoleSink != 0 {
		parts = append(parts, "sink")
	}
	if r&RoleProcessor != 0 {
		parts = append(parts, "processor")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// maxTypes bounds n_types so a garbage descriptor cannot make the loader
// walk far through memory.
const maxTypes = 256

// Library is a loaded plugin library. Its exported fields are copied out of
// the plugin's descriptor at load time and never change. A Library is safe
// for concurrent use.
type Library struct {
	// Path is the file as given to Load.
	Path string
	// Name and Version are the plugin's own.
	Name, Version string
	// ABIMajor and ABIMinor are the ABI version the plugin was built for.
	ABIMajor, ABIMinor uint16
	// GoRuntime reports whether the library embeds a Go runtime. Such a
	// library is never unloaded: Close only marks it closed.
	GoRuntime bool
	// Types are the connector types the library offers, in the plugin's
	// order.
	Types []*ConnectorType

	handle uintptr
	live   atomic.Int64 // instances created and not yet destroyed
	mu     sync.Mutex
	closed bool
}

// ConnectorType is one kind of connector a Library offers. Make instances
// with Create.
type ConnectorType struct {
	// ID is the type's ID, unique within the library.
	ID string
	// Description is the plugin's one-line description, or "".
	Description string
	// ConfigSchema is the JSON Schema for the config, or "" when the plugin
	// gives none.
	ConfigSchema string
	// Roles says which of source, sink and processor the type implements.
	Roles Role
	// WantsAcks reports whether the source wants ack/fail for every batch.
	WantsAcks bool
	// Unpausable reports a source that loses events at their origin when
	// paused, such as a kernel ring (WEIR_SOURCE_UNPAUSABLE).
	Unpausable bool

	lib *Library
	// Pre-resolved function pointers; 0 for an absent optional op.
	create, destroy, lastError                 uintptr
	connect, start, pause, resume, drain, stop uintptr
	poll, ack, fail, write, process            uintptr
}

// Library returns the library that offers the type.
func (t *ConnectorType) Library() *Library { return t.lib }

// Type returns the connector type with the given ID, or nil.
func (l *Library) Type(id string) *ConnectorType {
	for _, t := range l.Types {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// goImages holds the files (device and inode) of the libraries with a Go
// runtime loaded into the process. They are never unloaded, so the set only
// grows; loading the same file again reuses its image and runtime.
var (
	goRuntimeMu sync.Mutex
	goImages    = map[[2]uint64]bool{}
)

// MaxGoRuntimes is how many distinct library files embedding a Go runtime
// Load accepts per process; it refuses more with ErrGoRuntime. Each such
// library runs a whole Go runtime (its own heap, GC and threads) that can
// never be unloaded, so the cap bounds what reloads can leak. It is a
// resource limit, not a correctness one: TestTwoGoRuntimes drives two Go
// plugins concurrently under GC in every runtime, and 24 runtimes have been
// loaded into one host without fault.
const MaxGoRuntimes = 8

// Load opens the plugin library at path, checks its ABI version and
// validates its descriptor. A path without a slash is taken relative to the
// working directory, not searched for like a system library. The library is
// opened with RTLD_NOW|RTLD_LOCAL, so unresolved symbols fail here.
//
// Load refuses a file that users other than root and the one loading it
// could have changed (CheckFile), since loading runs its code.
//
// Every error is a *LoadError naming path and wrapping ErrOpen, ErrNoEntry,
// ErrABIVersion, ErrDescriptor, ErrGoRuntime or ErrInsecure.
func Load(path string) (*Library, error) { return Options{}.Load(path) }

// Load is the package's Load with the options o.
func (o Options) Load(path string) (*Library, error) {
	fail := func(err error) (*Library, error) { return nil, &LoadError{Path: path, Err: err} }
	if !o.AllowInsecure {
		if err := CheckFile(path); err != nil {
			return fail(err)
		}
	}
	open := path
	if !strings.Contains(open, "/") {
		open = "./" + open
	}
	hasGo := embedsGoRuntime(open)
	var image [2]uint64
	if hasGo {
		var st unix.Stat_t
		if err := unix.Stat(open, &st); err != nil {
			return fail(fmt.Errorf("%w: stat: %v", ErrOpen, err))
		}
		image = [2]uint64{st.Dev, st.Ino}
		goRuntimeMu.Lock()
		defer goRuntimeMu.Unlock()
		if !goImages[image] && len(goImages) >= MaxGoRuntimes {
			return fail(fmt.Errorf("%w: %d libraries with a Go runtime are loaded already, the most this host allows (MaxGoRuntimes)", ErrGoRuntime, len(goImages)))
		}
	}
	// dlerror's message is per thread: stay on the thread that called
	// dlopen, or a failure may come back with an empty reason (seen in
	// TestBrokenPlugins under load).
	runtime.LockOSThread()
	h, err := purego.Dlopen(open, purego.RTLD_NOW|purego.RTLD_LOCAL)
	runtime.UnlockOSThread()
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrOpen, err))
	}
	if hasGo {
		// Its runtime is now running and cannot be unloaded, whatever
		// the descriptor says.
		goImages[image] = true
	}
	l := &Library{Path: path, GoRuntime: hasGo, handle: h}
	if err := l.describe(); err != nil {
		if !hasGo {
			purego.Dlclose(h)
		}
		return fail(err)
	}
	return l, nil
}

// describe calls the entry point and fills l from the descriptor.
func (l *Library) describe() error {
	entry, err := purego.Dlsym(l.handle, EntrySymbol)
	if err != nil || entry == 0 {
		return fmt.Errorf("%w: the library does not export it", ErrNoEntry)
	}
	r, _, _ := purego.SyscallN(entry)
	if r == 0 {
		return fmt.Errorf("%w: it returned NULL", ErrNoEntry)
	}
	return l.parse(ptrFrom(r))
}

// parse checks the weir_plugin at p and fills l from it.
func (l *Library) parse(p unsafe.Pointer) error {
	// The version comes first, before any other field is trusted.
	major := *(*uint16)(p)
	minor := *(*uint16)(unsafe.Add(p, 2))
	if major != cabi.ABIMajor || minor > cabi.ABIMinor {
		return fmt.Errorf("%w: plugin built for ABI %d.%d, host implements %d.%d (needs major %d, minor at most %d)",
			ErrABIVersion, major, minor, cabi.ABIMajor, cabi.ABIMinor, cabi.ABIMajor, cabi.ABIMinor)
	}
	l.ABIMajor, l.ABIMinor = major, minor
	size := *(*uint32)(unsafe.Add(p, 4))
	if size < pluginSizeV10 {
		return fmt.Errorf("%w: weir_plugin.struct_size is %d, smaller than the %d bytes of ABI 1.0", ErrDescriptor, size, pluginSizeV10)
	}
	var d pluginDesc
	readPrefix(unsafe.Pointer(&d), unsafe.Sizeof(d), p, size)

	var ok bool
	if d.Name == nil {
		return fmt.Errorf("%w: weir_plugin.name is NULL", ErrDescriptor)
	}
	if l.Name, ok = cString(d.Name); !ok || l.Name == "" {
		return fmt.Errorf("%w: weir_plugin.name is empty or not NUL-terminated", ErrDescriptor)
	}
	if d.Version == nil {
		return fmt.Errorf("%w: plugin %q: weir_plugin.version is NULL", ErrDescriptor, l.Name)
	}
	if l.Version, ok = cString(d.Version); !ok {
		return fmt.Errorf("%w: plugin %q: weir_plugin.version is not NUL-terminated", ErrDescriptor, l.Name)
	}
	if d.NTypes < 1 || d.NTypes > maxTypes {
		return fmt.Errorf("%w: plugin %q: n_types is %d, want 1..%d", ErrDescriptor, l.Name, d.NTypes, maxTypes)
	}
	if d.Types == nil {
		return fmt.Errorf("%w: plugin %q: types is NULL", ErrDescriptor, l.Name)
	}
	ptrs := unsafe.Slice((*unsafe.Pointer)(d.Types), d.NTypes)
	seen := make(map[string]int, d.NTypes)
	for i, tp := range ptrs {
		t, err := l.connectorType(i, tp)
		if err != nil {
			return fmt.Errorf("%w: plugin %q: %v", ErrDescriptor, l.Name, err)
		}
		if j, dup := seen[t.ID]; dup {
			return fmt.Errorf("%w: plugin %q: types[%d] and types[%d] both have id %q", ErrDescriptor, l.Name, j, i, t.ID)
		}
		seen[t.ID] = i
		l.Types = append(l.Types, t)
	}
	return nil
}

// connectorType reads and checks types[i].
func (l *Library) connectorType(i int, p unsafe.Pointer) (*ConnectorType, error) {
	if p == nil {
		return nil, fmt.Errorf("types[%d] is NULL", i)
	}
	size := *(*uint32)(p)
	if size < connectorSizeV10 {
		return nil, fmt.Errorf("types[%d]: struct_size is %d, smaller than the %d bytes of ABI 1.0", i, size, connectorSizeV10)
	}
	var d connectorDesc
	readPrefix(unsafe.Pointer(&d), unsafe.Sizeof(d), p, size)
	if d.ID == nil {
		return nil, fmt.Errorf("types[%d]: id is NULL", i)
	}
	id, ok := cString(d.ID)
	if !ok {
		return nil, fmt.Errorf("types[%d]: id is not NUL-terminated", i)
	}
	if err := cabi.CheckID(id); err != nil {
		return nil, fmt.Errorf("types[%d]: %v", i, err)
	}
	t := &ConnectorType{
		ID: id, lib: l,
		create: d.Create, destroy: d.Destroy, lastError: d.LastError,
		connect: d.Connect, start: d.Start, pause: d.Pause, resume: d.Resume,
		drain: d.Drain, stop: d.Stop,
	}
	if t.Description, ok = cString(d.Description); !ok {
		return nil, fmt.Errorf("type %q: description is not NUL-terminated", id)
	}
	if t.ConfigSchema, ok = cString(d.ConfigSchema); !ok {
		return nil, fmt.Errorf("type %q: config_schema is not NUL-terminated", id)
	}
	for _, op := range []struct {
		name string
		fn   uintptr
	}{{"create", d.Create}, {"destroy", d.Destroy}, {"last_error", d.LastError}} {
		if op.fn == 0 {
			return nil, fmt.Errorf("type %q: required op %s is NULL", id, op.name)
		}
	}
	if d.Source == nil && d.Sink == nil && d.Processor == nil {
		return nil, fmt.Errorf("type %q: no role: source, sink and processor are all NULL", id)
	}
	if d.Source != nil {
		var s sourceOps
		if err := readRole(&s, d.Source, sourceSizeV10, id, "source"); err != nil {
			return nil, err
		}
		if s.Poll == 0 {
			return nil, fmt.Errorf("type %q: required op source.poll is NULL", id)
		}
		t.Roles |= RoleSource
		t.poll, t.ack, t.fail = s.Poll, s.Ack, s.Fail
		t.WantsAcks = s.Flags&SourceWantsAcks != 0
		t.Unpausable = s.Flags&SourceUnpausable != 0
	}
	if d.Sink != nil {
		var s sinkOps
		if err := readRole(&s, d.Sink, sinkSizeV10, id, "sink"); err != nil {
			return nil, err
		}
		if s.Write == 0 {
			return nil, fmt.Errorf("type %q: required op sink.write is NULL", id)
		}
		t.Roles |= RoleSink
		t.write = s.Write
	}
	if d.Processor != nil {
		var s processorOps
		if err := readRole(&s, d.Processor, processorSizeV10, id, "processor"); err != nil {
			return nil, err
		}
		if s.Process == 0 {
			return nil, fmt.Errorf("type %q: required op processor.process is NULL", id)
		}
		t.Roles |= RoleProcessor
		t.process = s.Process
	}
	return t, nil
}

// readRole checks a role table's struct_size and copies it into dst.
func readRole[T any](dst *T, src unsafe.Pointer, min uint32, id, role string) error {
	size := *(*uint32)(src)
	if size < min {
		return fmt.Errorf("type %q: %s.struct_size is %d, smaller than the %d bytes of ABI 1.0", id, role, size, min)
	}
	readPrefix(unsafe.Pointer(dst), unsafe.Sizeof(*dst), src, size)
	return nil
}

// Close unloads the library. It fails while instances made from its types
// are alive. A library that embeds a Go runtime is never unloaded (a Go
// runtime cannot be); Close then only marks it closed. Close may be called
// more than once.
func (l *Library) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if n := l.live.Load(); n > 0 {
		return fmt.Errorf("close plugin %s: %d instances are still alive", l.Path, n)
	}
	l.closed = true
	if l.GoRuntime {
		return nil
	}
	if err := purego.Dlclose(l.handle); err != nil {
		return fmt.Errorf("close plugin %s: %w", l.Path, err)
	}
	return nil
}

// embedsGoRuntime reports whether the ELF file at path contains a Go
// runtime. Go's linker always emits a .go.buildinfo section, even into
// stripped c-shared libraries; symbols are checked as a fallback. A file
// debug/elf cannot read is reported as having none: dlopen then fails on it
// with its own message.
func embedsGoRuntime(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		// Missing, unreadable, short or not ELF: dlopen's message names
		// the problem the way users know it.
		return false
	}
	defer f.Close()
	if f.Section(".go.buildinfo") != nil {
		return true
	}
	syms, _ := f.DynamicSymbols()
	if more, err := f.Symbols(); err == nil {
		syms = append(syms, more...)
	}
	for _, s := range syms {
		if s.Name == "x_cgo_init" || s.Name == "_cgo_init" || strings.HasPrefix(s.Name, "runtime.") {
			return true
		}
	}
	return false
}

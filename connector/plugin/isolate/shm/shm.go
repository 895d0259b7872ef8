package shm

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Magic starts the header of a region made by Create.
const Magic = 0x31_6f_73_69_72_69_65_77 // "weiriso1", little-endian

// Sizes of the fixed parts of a region.
const (
	// Entries is the number of entries in each ring.
	Entries = 64
	// EntrySize is the size of one ring entry in bytes.
	EntrySize = int(unsafe.Sizeof(Entry{}))
	// HeaderSize is the size of the header that holds both rings.
	HeaderSize = 16 << 10
	// CtrlSize is the size of the control area: a config (up to 4 MiB)
	// or an error message.
	CtrlSize = 4<<20 + 64<<10
	// MaxEvents is the most event slots the data area holds.
	MaxEvents = 1 << 20
	// MaxArena is the most bytes a batch's arena may take in the data
	// area.
	MaxArena = 1 << 30
	// ExtraArena follows the arena: room for bytes a source lends from
	// its own memory, which the child copies there.
	ExtraArena = 1 << 28
)

// Offsets of the header fields and areas.
const (
	offMagic  = 0
	offSize   = 8
	offCurOp  = 16 // uint32: the op the child is running, 0 when idle
	offCurTag = 24 // uint64: that op's tag
	offSQ     = 1024
	offCQ     = 2048
	ringHead  = 0   // uint32, written by the consumer
	ringTail  = 64  // uint32, written by the producer
	ringSeq   = 128 // uint32 futex word, bumped by the producer
	ringWait  = 192 // uint32, 1 while the consumer sleeps
	offSQEnts = 4096
	offCQEnts = offSQEnts + Entries*64
	// BatchOffset is where the child keeps the batch header it hands the
	// plugin, in the header page.
	BatchOffset = offCQEnts + Entries*64
	// CtrlOffset is where the control area starts.
	CtrlOffset = HeaderSize
	// EventsOffset is where the data area's event slots start.
	EventsOffset = CtrlOffset + CtrlSize
	// ArenaOffset is where the data area's arena starts.
	ArenaOffset = EventsOffset + MaxEvents*32
	// Size is the size of the region; pages never written take no memory.
	Size = ArenaOffset + MaxArena + ExtraArena
)

var _ = [1]struct{}{}[max(0, EntrySize-64, BatchOffset+128-HeaderSize)]

// Entry is one submission or completion. What A, B, C and D mean depends
// on Op (see the isolate package).
type Entry struct {
	Op     uint32
	Status int32
	Tag    uint64
	A, B   uint64
	C, D   uint64
}

// Region is a mapping of a shared region.
type Region struct {
	// Mem is the whole mapping.
	Mem []byte
	// SQ carries submissions from the host to the child.
	SQ *Ring
	// CQ carries completions from the child to the host.
	CQ *Ring
}

// Create makes a new region in a memfd called name and maps it. The
// caller owns fd (close it when the child has it) and unmaps with Close.
func Create(name string) (*Region, int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, Size); err != nil {
		unix.Close(fd)
		return nil, -1, fmt.Errorf("size shared memory: %w", err)
	}
	r, err := Map(fd)
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	*(*uint64)(unsafe.Pointer(&r.Mem[offMagic])) = Magic
	*(*uint64)(unsafe.Pointer(&r.Mem[offSize])) = Size
	return r, fd, nil
}

// Map maps the region in fd, made by Create.
func Map(fd int) (*Region, error) {
	mem, err := unix.Mmap(fd, 0, Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map shared memory: %w", err)
	}
	r := &Region{Mem: mem}
	r.SQ = newRing(mem, offSQ, offSQEnts)
	r.CQ = newRing(mem, offCQ, offCQEnts)
	return r, nil
}

// Check reports whether the region's header is one Create wrote.
func (r *Region) Check() error {
	if m := *(*uint64)(unsafe.Pointer(&r.Mem[offMagic])); m != Magic {
		return fmt.Errorf("shared memory: bad magic %#x", m)
	}
	if s := *(*uint64)(unsafe.Pointer(&r.Mem[offSize])); s != Size {
		return fmt.Errorf("shared memory: size %d, want %d", s, uint64(Size))
	}
	return nil
}

// Close unmaps the region.
func (r *Region) Close() error {
	if r == nil || r.Mem == nil {
		return nil
	}
	err := unix.Munmap(r.Mem)
	r.Mem = nil
	return err
}

// Base returns the address of the mapping.
func (r *Region) Base() uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(r.Mem))) }

// Ptr returns a pointer to offset off of the mapping.
func (r *Region) Ptr(off int) unsafe.Pointer { return unsafe.Pointer(&r.Mem[off]) }

// SetCurrent records, in the child, the op it is about to run (0 when
// idle), so that the host can name it if the child dies.
func (r *Region) SetCurrent(op uint32, tag uint64) {
	(*atomic.Uint64)(r.Ptr(offCurTag)).Store(tag)
	(*atomic.Uint32)(r.Ptr(offCurOp)).Store(op)
}

// Current returns what SetCurrent recorded last.
func (r *Region) Current() (op uint32, tag uint64) {
	return (*atomic.Uint32)(r.Ptr(offCurOp)).Load(), (*atomic.Uint64)(r.Ptr(offCurTag)).Load()
}

// Ring is one single-producer, single-consumer ring in a Region. Push is
// for the producer's goroutine and Pop and Wait for the consumer's; each
// side may be in another process.
type Ring struct {
	head, tail, seq, wait *atomic.Uint32
	ents                  unsafe.Pointer
}

func newRing(mem []byte, off, ents int) *Ring {
	at := func(o int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&mem[off+o])) }
	return &Ring{head: at(ringHead), tail: at(ringTail), seq: at(ringSeq), wait: at(ringWait), ents: unsafe.Pointer(&mem[ents])}
}

func (r *Ring) slot(i uint32) *Entry {
	return (*Entry)(unsafe.Add(r.ents, uintptr(i%Entries)*64))
}

// ErrCorrupt is returned by Pop when the ring's indices are impossible:
// the other side wrote garbage.
var ErrCorrupt = errors.New("shared ring indices corrupt")

// Push appends e and wakes the consumer if it sleeps. It returns false
// when the ring is full.
func (r *Ring) Push(e Entry) bool {
	t := r.tail.Load()
	if t-r.head.Load() >= Entries {
		return false
	}
	*r.slot(t) = e
	r.tail.Store(t + 1)
	r.seq.Add(1)
	if r.wait.Load() != 0 {
		futexWake(r.seq)
	}
	return true
}

// Pop takes the oldest entry. ok is false when the ring is empty.
func (r *Ring) Pop() (e Entry, ok bool, err error) {
	h := r.head.Load()
	n := r.tail.Load() - h
	if n == 0 {
		return Entry{}, false, nil
	}
	if n > Entries {
		return Entry{}, false, ErrCorrupt
	}
	e = *r.slot(h)
	r.head.Store(h + 1)
	return e, true, nil
}

// Empty reports whether the ring holds no entry.
func (r *Ring) Empty() bool { return r.tail.Load() == r.head.Load() }

// Full reports whether Push would fail.
func (r *Ring) Full() bool { return r.tail.Load()-r.head.Load() >= Entries }

// Wait returns when the ring may hold an entry, after spin of busy
// checking and then a sleep of at most timeout, or when Kick is called.
// It may return early; callers check with Pop.
func (r *Ring) Wait(spin, timeout time.Duration) {
	if !r.Empty() {
		return
	}
	if spin > 0 {
		start := time.Now()
		for i := 0; ; i++ {
			if !r.Empty() {
				return
			}
			if i&63 == 63 && time.Since(start) >= spin {
				break
			}
		}
	}
	s := r.seq.Load()
	r.wait.Store(1)
	if r.Empty() {
		futexWait(r.seq, s, timeout)
	}
	r.wait.Store(0)
}

// Kick wakes a consumer sleeping in Wait without pushing, for example
// when the other side has died.
func (r *Ring) Kick() {
	r.seq.Add(1)
	futexWake(r.seq)
}

// The futex word is in a MAP_SHARED mapping used by two processes, so the
// shared (not private) futex ops are used.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

func futexWait(addr *atomic.Uint32, val uint32, timeout time.Duration) {
	ts := unix.NsecToTimespec(timeout.Nanoseconds())
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func futexWake(addr *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, 1<<30, 0, 0, 0)
}

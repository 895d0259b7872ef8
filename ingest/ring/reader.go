package ring

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// DefaultGiveBack is Options.GiveBack's default.
const DefaultGiveBack = 256 << 10

// Bits of a ring record's length word (BPF_RINGBUF_BUSY_BIT and
// BPF_RINGBUF_DISCARD_BIT in the kernel uapi), and the size of the record
// header the kernel puts in front of every record.
const (
	busyBit    = 1 << 31
	discardBit = 1 << 30
	recHdrSize = 8
)

// Errors callers may branch on.
var (
	// ErrClosed is returned by Read and Consume after Close.
	ErrClosed = errors.New("ring reader closed")
	// ErrBatchState is returned when a batch is read while already in
	// flight, or released while not in flight.
	ErrBatchState = errors.New("batch in wrong state")
	// ErrReleaseOrder is returned when a batch is released before a batch
	// that was read earlier.
	ErrReleaseOrder = errors.New("batch released out of order")
)

// Describer fills in the event descriptor for one record. rec is the
// record's payload in ring memory, exactly as the producer reserved it; it
// must not be kept after the call returns. The Describer sets ev.Kind,
// ev.Len (at most len(rec)), ev.StreamID, ev.Flags and ev.TsNs as
// CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns), or 0 when the record has no
// time. The reader sets ev.Data to the start of rec and converts a non-zero
// TsNs to Unix nanoseconds. Returning false leaves the record out of the
// batch; it is counted in Stats.Rejected and released with the batch.
type Describer func(rec []byte, ev *cabi.Event) bool

// Options configure a Reader. The zero value is valid.
type Options struct {
	// Describe interprets records. When nil, every record becomes a
	// cabi.KindRaw event covering the whole record, with TsNs 0.
	Describe Describer
	// GiveBack is how many bytes of a ring Consume reads before it lets
	// the producers have them back, rather than at the end of its pass
	// (0 means DefaultGiveBack). Producers that wake the reader once
	// that much data waits, as weir's capture programs do, need it below
	// their threshold: a pass held over the threshold, while the records
	// are written to a slow file, would have each record they commit
	// wake the reader again.
	GiveBack int
}

// Stats are a Reader's running totals.
type Stats struct {
	// Records is the number of events handed out in batches, and of
	// records Consume's function accepted.
	Records uint64
	// Discarded is the number of records the producer discarded
	// (bpf_ringbuf_discard) that the reader skipped.
	Discarded uint64
	// Rejected is the number of records the Describer refused.
	Rejected uint64
	// Batches is the number of batches released.
	Batches uint64
}

// Reader reads records from one or more BPF ring buffers into batches of
// event descriptors that point into ring memory. It is safe for concurrent
// use, although one goroutine reading and releasing is the intended use.
type Reader struct {
	mu       sync.Mutex
	rings    []*mapped
	describe Describer
	giveStep uint64       // Options.GiveBack
	offset   atomic.Int64 // CLOCK_REALTIME - CLOCK_MONOTONIC, ns
	offsetAt time.Time    // when offset was measured; refreshed every second
	epfd     int
	evfd     int
	events   []unix.EpollEvent
	// epf wraps epfd for Go's netpoller: a Read with nothing to read
	// parks its goroutine there rather than blocking a thread in
	// epoll_wait. The runtime takes the P away from a thread blocked in a
	// system call for over 10 ms and then polls every 20 µs for a while;
	// parked, the reader costs the process fewer wakeups (at 1 Mpps,
	// about half as many of sysmon's sleeps per packet).
	epf      *os.File
	epc      syscall.RawConn
	pollFn   func(fd uintptr) bool // r.poll, bound once so waits do not allocate
	pollErr  error
	inflight []flight
	spare    [][]uint64 // pos slices of released flights, for reuse
	next     int        // ring to start the next Read at, for fairness
	waiters  int        // Reads waiting for ring data
	closed   bool
	fdsDone  bool
	unmapped bool
	stats    Stats
	order    time.Duration // SetOrder's window; < 0: ring order
	dry      bool          // the last read did not fill its batch
	heads    []head        // each ring's next record, when ordered
}

// flight is a batch handed out and not yet released, with the position
// each ring's consumer may advance to when it is.
type flight struct {
	b   *cabi.Batch
	pos []uint64
}

// mapped is one ring buffer mapped into memory.
type mapped struct {
	m        *ebpf.Map
	consPage []byte
	prodData []byte
	consPos  *uint64
	prodPos  *uint64
	data     unsafe.Pointer
	mask     uint64
	readPos  uint64 // position after the last record handed out or skipped
	prod     uint64 // producer position last loaded; records below it need no new load
	stored   uint64 // last consumer position written
}

// NewReader maps the given ring buffer maps and returns a Reader over all of
// them. The Reader holds its own file descriptors for the maps, so the
// caller may close its copies. Close the Reader when done.
func NewReader(rings []*ebpf.Map, opts Options) (*Reader, error) {
	if len(rings) == 0 {
		return nil, errors.New("new ring reader: no rings given")
	}
	if opts.GiveBack < 0 {
		return nil, fmt.Errorf("new ring reader: negative give-back size %d", opts.GiveBack)
	}
	if opts.GiveBack == 0 {
		opts.GiveBack = DefaultGiveBack
	}
	r := &Reader{describe: opts.Describe, giveStep: uint64(opts.GiveBack), epfd: -1, evfd: -1, order: -1}
	fail := func(err error) (*Reader, error) {
		r.closeFDs()
		r.unmap()
		return nil, err
	}
	var err error
	r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fail(fmt.Errorf("new ring reader: epoll_create1: %w", err))
	}
	r.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fail(fmt.Errorf("new ring reader: eventfd: %w", err))
	}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, r.evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(r.evfd)}); err != nil {
		return fail(fmt.Errorf("new ring reader: add eventfd to epoll: %w", err))
	}
	// A non-blocking descriptor is what os.NewFile hands to the netpoller.
	if err := unix.SetNonblock(r.epfd, true); err != nil {
		return fail(fmt.Errorf("new ring reader: make epoll non-blocking: %w", err))
	}
	r.epf = os.NewFile(uintptr(r.epfd), "ring epoll")
	if r.epc, err = r.epf.SyscallConn(); err != nil {
		return fail(fmt.Errorf("new ring reader: %w", err))
	}
	// os.NewFile falls back to a blocking file when the netpoller refuses
	// the descriptor; waits would then fail, so fail here instead.
	if err := r.epf.SetReadDeadline(time.Time{}); err != nil {
		return fail(fmt.Errorf("new ring reader: Go's netpoller does not take the epoll descriptor: %w", err))
	}
	r.pollFn = r.poll
	for i, m := range rings {
		mp, err := mapRing(m)
		if err != nil {
			return fail(fmt.Errorf("new ring reader: ring %d: %w", i, err))
		}
		r.rings = append(r.rings, mp)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(i)}
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, mp.m.FD(), &ev); err != nil {
			return fail(fmt.Errorf("new ring reader: add ring %d to epoll: %w", i, err))
		}
	}
	r.events = make([]unix.EpollEvent, len(rings)+1)
	r.offset.Store(monotonicToRealtime())
	r.offsetAt = time.Now()
	return r, nil
}

func mapRing(m *ebpf.Map) (*mapped, error) {
	if m == nil {
		return nil, errors.New("nil map")
	}
	if m.Type() != ebpf.RingBuf {
		return nil, fmt.Errorf("map type %s, want %s", m.Type(), ebpf.RingBuf)
	}
	size := uint64(m.MaxEntries())
	page := uint64(unix.Getpagesize())
	if size == 0 || size&(size-1) != 0 || size%page != 0 {
		return nil, fmt.Errorf("ring size %d is not a power-of-2 multiple of the page size", size)
	}
	c, err := m.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone map: %w", err)
	}
	mp := &mapped{m: c, mask: size - 1}
	mp.consPage, err = unix.Mmap(c.FD(), 0, int(page), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("mmap consumer page: %w", err)
	}
	mp.prodData, err = unix.Mmap(c.FD(), int64(page), int(page+2*size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(mp.consPage)
		c.Close()
		return nil, fmt.Errorf("mmap producer page and data: %w", err)
	}
	mp.consPos = (*uint64)(unsafe.Pointer(unsafe.SliceData(mp.consPage)))
	mp.prodPos = (*uint64)(unsafe.Pointer(unsafe.SliceData(mp.prodData)))
	mp.data = unsafe.Add(unsafe.Pointer(unsafe.SliceData(mp.prodData)), page)
	mp.readPos = atomic.LoadUint64(mp.consPos)
	mp.stored = mp.readPos
	return mp, nil
}

// monotonicToRealtime estimates CLOCK_REALTIME - CLOCK_MONOTONIC, taking the
// tightest of a few samples.
func monotonicToRealtime() int64 {
	best := int64(math.MaxInt64)
	var off int64
	for i := 0; i < 5; i++ {
		var a, m, b unix.Timespec
		unix.ClockGettime(unix.CLOCK_REALTIME, &a)
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &m)
		unix.ClockGettime(unix.CLOCK_REALTIME, &b)
		if gap := b.Nano() - a.Nano(); gap < best {
			best = gap
			off = a.Nano() + gap/2 - m.Nano()
		}
	}
	return off
}

// Read fills b with descriptors of the records available in the rings, up to
// b.Capacity, and returns how many it added. It empties b first (b.Len and
// b.ArenaLen are reset; the arena is not used); Append is Read without
// that. Each event's Data points at the record in ring memory and stays
// valid until Release(b).
//
// When no record is available Read waits until one is, or until timeout has
// passed, and then returns whatever is available; (0, nil) means the
// deadline passed with nothing to read. A timeout <= 0 never waits. Producers
// that do not wake the reader (BPF_RB_NO_WAKEUP) are picked up at the
// deadline, so timeout bounds their latency.
//
// A batch returned with n > 0 is in flight until Release; reading into a
// batch that is in flight returns ErrBatchState. Read returns ErrClosed once
// the reader is closed.
func (r *Reader) Read(b *cabi.Batch, timeout time.Duration) (int, error) {
	return r.read(b, timeout, true)
}

// Append is Read without emptying b first: it adds descriptors after the
// b.Len events already there, and Release(b) later gives back only the ring
// memory of the events Append added. It suits callers, such as runtime
// sources, that share a batch with other producers. On a full batch it
// returns (0, nil) at once.
func (r *Reader) Append(b *cabi.Batch, timeout time.Duration) (int, error) {
	return r.read(b, timeout, false)
}

func (r *Reader) read(b *cabi.Batch, timeout time.Duration, reset bool) (int, error) {
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	for _, f := range r.inflight {
		if f.b == b {
			return 0, fmt.Errorf("read ring batch %d: %w: still in flight", b.ID, ErrBatchState)
		}
	}
	if reset {
		b.Len = 0
		b.ArenaLen = 0
	}
	if b.Len >= b.Capacity {
		return 0, nil // nowhere to put a record: do not wait
	}
	r.refreshOffset()
	if r.dry && timeout > 0 {
		// The last read left the rings dry (it did not fill its
		// batch): wait for the producers' wakeup, or the timeout, as
		// after an empty read, rather than come back at once for the
		// few records that arrived since. Batches stay large, and so
		// the cost per record small, at any rate.
		if err := r.wait(deadline); err != nil {
			return 0, err
		}
		if r.closed {
			return 0, ErrClosed
		}
	}
	for {
		n, held := r.collect(b)
		if n > 0 {
			r.dry = b.Len < b.Capacity
			return n, nil
		}
		if !time.Now().Before(deadline) {
			return 0, nil
		}
		until := deadline
		if soon := time.Now().Add(r.order); held && soon.Before(until) {
			// Only the order window holds records back: look again
			// when the oldest has come of age.
			until = soon
		}
		if err := r.wait(until); err != nil {
			return 0, err
		}
		if r.closed {
			return 0, ErrClosed
		}
	}
}

// Consume calls fn with the payload of each record available in the rings,
// in place in ring memory, and gives that memory back to the producers once
// fn has seen them. It is the fast path for callers that are done with a
// record when fn returns, such as a capture file writer: it fills no event
// descriptors and leaves nothing in flight, so records are read once, in
// ring order, one ring after another.
//
// rec is valid only during the call. fn runs with the Reader locked, so it
// must not call the Reader's methods, except UnixNano. When fn returns false
// Consume stops before that record, which stays in the ring for the next
// call. The Describer is not used; discarded records are skipped and counted
// in Stats.Discarded, and records fn accepted in Stats.Records.
//
// Consume waits for records as Read does, and returns how many fn accepted;
// (0, nil) means the timeout passed with nothing to read, or fn refused the
// first record. With batches in flight it consumes the records after theirs,
// and their memory is given back with the last of those batches. Consume
// returns ErrClosed once the reader is closed.
func (r *Reader) Consume(fn func(rec []byte) bool, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, ErrClosed
	}
	r.refreshOffset()
	for i := range r.heads {
		r.heads[i].ok = false // Consume moves the read positions itself
	}
	for {
		n, stopped := r.walk(fn, len(r.inflight) == 0)
		r.stats.Records += uint64(n)
		r.giveBack()
		if n > 0 || stopped || !time.Now().Before(deadline) {
			return n, nil
		}
		if err := r.wait(deadline); err != nil {
			return 0, err
		}
		if r.closed {
			return 0, ErrClosed
		}
	}
}

// UnixNano converts a record's CLOCK_MONOTONIC timestamp (bpf_ktime_get_ns)
// to Unix nanoseconds, with the same clock offset Read applies to event
// timestamps. It is safe to call from a Consume callback.
func (r *Reader) UnixNano(mono uint64) uint64 {
	return uint64(int64(mono) + r.offset.Load())
}

// refreshOffset follows wall-clock steps (NTP, settimeofday) within a
// second, so timestamps stay Unix time for long captures. Called with r.mu
// held.
func (r *Reader) refreshOffset() {
	if now := time.Now(); now.Sub(r.offsetAt) > time.Second {
		r.offset.Store(monotonicToRealtime())
		r.offsetAt = now
	}
}

// walk visits the committed records of every ring from its read position,
// starting with ring r.next, and calls visit with the payload of each one
// the producer did not discard, in place. A record visit accepts, or a
// discarded one, moves the ring's read position past it; a refused one ends
// the walk. With eager set, the producers get the memory walked over every
// r.giveStep bytes, rather than only when the walk ends. It returns how
// many records visit accepted and whether it refused one. Called with r.mu
// held.
func (r *Reader) walk(visit func(rec []byte) bool, eager bool) (accepted int, refused bool) {
	nr := len(r.rings)
	start := r.next
	r.next = (r.next + 1) % nr
	for i := 0; i < nr; i++ {
		rg := r.rings[(start+i)%nr]
		prod := atomic.LoadUint64(rg.prodPos)
		pos := rg.readPos
		for pos < prod {
			hdr := unsafe.Add(rg.data, pos&rg.mask)
			l := atomic.LoadUint32((*uint32)(hdr))
			if l&busyBit != 0 {
				break
			}
			size := l &^ (busyBit | discardBit)
			next := pos + (uint64(size)+recHdrSize+7)&^7
			if l&discardBit != 0 {
				r.stats.Discarded++
			} else if !visit(unsafe.Slice((*byte)(unsafe.Add(hdr, recHdrSize)), size)) {
				rg.readPos = pos
				return accepted, true
			} else {
				accepted++
			}
			pos = next
			if eager && pos-rg.stored >= r.giveStep {
				// The read position first: should visit panic
				// and the caller recover, the next walk must not
				// start behind memory already given back.
				rg.readPos = pos
				atomic.StoreUint64(rg.consPos, pos)
				rg.stored = pos
			}
		}
		rg.readPos = pos
	}
	return accepted, false
}

// giveBack lets the producers have the memory up to the read positions: at
// once, or, with batches in flight, when the newest of them is released.
// Called with r.mu held.
func (r *Reader) giveBack() {
	if len(r.inflight) == 0 {
		r.advance(nil)
		return
	}
	last := r.inflight[len(r.inflight)-1]
	for i, rg := range r.rings {
		last.pos[i] = rg.readPos
	}
}

// wait blocks until a ring or the close eventfd has something, or deadline
// passes, with r.mu released. It is called and returns with r.mu held.
//
// The first waiter parks its goroutine in the netpoller; the deadline and
// the poll result live on the Reader, so they serve one waiter only. A Read
// that arrives while another waits blocks its thread in epoll_wait with its
// own timeout instead, as every waiter did before the netpoller.
func (r *Reader) wait(deadline time.Time) error {
	parked := r.waiters == 0
	r.waiters++
	r.mu.Unlock()
	var err error
	if parked {
		if err = r.epf.SetReadDeadline(deadline); err == nil {
			r.pollErr = nil
			if err = r.epc.Read(r.pollFn); err == nil {
				err = r.pollErr
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil
		}
	} else {
		ms := int((time.Until(deadline) + time.Millisecond - 1) / time.Millisecond)
		var evs [2]unix.EpollEvent
		if _, err = unix.EpollWait(r.epfd, evs[:], max(ms, 0)); errors.Is(err, unix.EINTR) {
			err = nil
		}
	}
	r.mu.Lock()
	r.waiters--
	if r.closed && r.waiters == 0 {
		r.closeFDs()
	}
	if err != nil {
		return fmt.Errorf("wait for ring data: %w", err)
	}
	return nil
}

// poll is the RawConn.Read callback of wait: it reports whether epfd has
// events, without blocking; false makes the netpoller wait for it.
func (r *Reader) poll(fd uintptr) bool {
	n, err := unix.EpollWait(int(fd), r.events, 0)
	if err != nil && !errors.Is(err, unix.EINTR) {
		r.pollErr = fmt.Errorf("epoll_wait: %w", err)
		return true
	}
	return n > 0
}

// collect appends available records to b, in ring order or merged by time
// (SetOrder), and records b as in flight if it got any. held reports that
// the order window kept records back. Called with r.mu held.
func (r *Reader) collect(b *cabi.Batch) (int, bool) {
	first := b.Len
	var n uint32
	held := false
	if r.order >= 0 {
		n, held = r.collectOrdered(b)
	} else {
		n = r.collectRing(b)
	}
	r.stats.Records += uint64(n - first)
	if n == first {
		// Nothing handed out, but skipped records may have moved the
		// read positions.
		r.giveBack()
		return 0, held
	}
	b.Len = n
	f := flight{b: b}
	if k := len(r.spare); k > 0 {
		f.pos, r.spare = r.spare[k-1], r.spare[:k-1]
	} else {
		f.pos = make([]uint64, len(r.rings))
	}
	for i, rg := range r.rings {
		f.pos[i] = rg.readPos
	}
	r.inflight = append(r.inflight, f)
	return int(n - first), held
}

// collectRing appends available records to b ring after ring, and returns
// b's new length. Called with r.mu held.
func (r *Reader) collectRing(b *cabi.Batch) uint32 {
	slots := unsafe.Slice((*cabi.Event)(b.Events), b.Capacity)
	n := b.Len
	off := r.offset.Load()
	var rejected uint64
	r.walk(func(rec []byte) bool {
		if n >= b.Capacity {
			return false
		}
		size := uint32(len(rec))
		ev := &slots[n]
		*ev = cabi.Event{Kind: cabi.KindRaw, Len: size}
		if r.describe != nil && !r.describe(rec, ev) {
			rejected++
			return true
		}
		if ev.Len > size {
			ev.Len = size
		}
		ev.Data = unsafe.Pointer(unsafe.SliceData(rec))
		if ev.TsNs != 0 {
			ev.TsNs = uint64(int64(ev.TsNs) + off)
		}
		n++
		return true
	}, false)
	r.stats.Rejected += rejected
	return n
}

// advance stores each ring's consumer position: from pos, or from the read
// positions when pos is nil. One store per ring that moved.
func (r *Reader) advance(pos []uint64) {
	for i, rg := range r.rings {
		p := rg.readPos
		if pos != nil {
			p = pos[i]
		}
		if p != rg.stored {
			atomic.StoreUint64(rg.consPos, p)
			rg.stored = p
		}
	}
}

// Release gives the ring memory behind b back to the producers: it advances
// each ring's consumer position past b's records. It does not change b, whose
// descriptors must not be used afterwards. Batches must
// be released in the order Read returned them; releasing another one
// returns ErrReleaseOrder and changes nothing. After Close, Release still
// must be called for batches in flight; the last one unmaps the rings.
func (r *Reader) Release(b *cabi.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.inflight) == 0 || r.inflight[0].b != b {
		for _, f := range r.inflight {
			if f.b == b {
				return fmt.Errorf("release ring batch %d: %w", b.ID, ErrReleaseOrder)
			}
		}
		return fmt.Errorf("release ring batch %d: %w: not in flight", b.ID, ErrBatchState)
	}
	f := r.inflight[0]
	// Shift rather than reslice, so the queue's array is reused and
	// steady-state reading allocates nothing.
	n := copy(r.inflight, r.inflight[1:])
	r.inflight[n] = flight{}
	r.inflight = r.inflight[:n]
	if !r.unmapped {
		r.advance(f.pos)
	}
	r.spare = append(r.spare, f.pos)
	r.stats.Batches++
	if r.closed && len(r.inflight) == 0 {
		r.unmap()
	}
	return nil
}

// InFlight returns the number of batches read and not yet released.
func (r *Reader) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight)
}

// Stats returns the reader's running totals.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Close stops the reader: a Read blocked in another goroutine returns
// ErrClosed, and later Reads fail the same way. Memory that batches in
// flight point into stays mapped until each of them is released. Close is
// idempotent.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.evfd >= 0 {
		var one [8]byte
		*(*uint64)(unsafe.Pointer(&one)) = 1
		unix.Write(r.evfd, one[:])
	}
	if r.waiters == 0 {
		r.closeFDs()
	}
	if len(r.inflight) == 0 {
		r.unmap()
	}
	return nil
}

// closeFDs closes the epoll and event fds and the cloned maps.
func (r *Reader) closeFDs() {
	if r.fdsDone {
		return
	}
	r.fdsDone = true
	switch {
	case r.epf != nil:
		r.epf.Close() // closes epfd
	case r.epfd >= 0:
		unix.Close(r.epfd)
	}
	if r.evfd >= 0 {
		unix.Close(r.evfd)
	}
	for _, rg := range r.rings {
		rg.m.Close()
	}
}

// unmap removes the ring mappings.
func (r *Reader) unmap() {
	if r.unmapped {
		return
	}
	r.unmapped = true
	for _, rg := range r.rings {
		unix.Munmap(rg.prodData)
		unix.Munmap(rg.consPage)
	}
}

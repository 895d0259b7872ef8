package ring

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weirproject/weir/cabi"
)

// SetOrder makes Read and Append merge the rings by timestamp: each batch
// holds its records in TsNs order, and a record is handed out only once it
// is window old (by CLOCK_MONOTONIC, the clock the Describer's TsNs is on
// before the Reader converts it), so that a record another CPU stamped
// earlier but committed a little later is not overtaken. Output is then in
// time order across batches unless a record takes longer than window
// between its timestamp and its commit to the ring. A window of 0 merges
// without holding anything back, as a reader draining stopped producers
// wants. Ordering needs a Describer that sets TsNs; records it leaves at 0
// sort first. SetOrder(-1) goes back to ring order.
func (r *Reader) SetOrder(window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order = window
	if r.order >= 0 && len(r.heads) != len(r.rings) {
		r.heads = make([]head, len(r.rings))
	}
}

// head is the next record of one ring in an ordered read, already
// described, so each record is described once however many times it is
// compared.
type head struct {
	ev   cabi.Event
	next uint64 // ring position after the record
	ok   bool   // ev holds the record at the ring's readPos
}

// collectOrdered is collect for an ordered Reader: a k-way merge over the
// rings' heads, taking the oldest head each step, up to b's capacity, and
// stopping at heads newer than the window allows. held reports that a
// record was left in a ring only because of the window. Called with r.mu
// held.
func (r *Reader) collectOrdered(b *cabi.Batch) (n uint32, held bool) {
	slots := unsafe.Slice((*cabi.Event)(b.Events), b.Capacity)
	n = b.Len
	limit := ^uint64(0)
	if r.order > 0 {
		var now unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
		limit = uint64(now.Nano() - int64(r.order))
	}
	off := r.offset.Load()
	for n < b.Capacity {
		best := -1
		for i := range r.rings {
			h := &r.heads[i]
			if !h.ok && !r.peek(i) {
				continue
			}
			if best < 0 || h.ev.TsNs < r.heads[best].ev.TsNs {
				best = i
			}
		}
		if best < 0 {
			break
		}
		h := &r.heads[best]
		if h.ev.TsNs > limit {
			held = true
			break
		}
		ev := &slots[n]
		*ev = h.ev
		if ev.TsNs != 0 {
			ev.TsNs = uint64(int64(ev.TsNs) + off)
		}
		r.rings[best].readPos = h.next
		h.ok = false
		n++
	}
	return n, held
}

// peek describes the next committed record of ring i into its head,
// skipping discarded and refused records (and counting them). It reports
// whether ring i has a head. Called with r.mu held.
func (r *Reader) peek(i int) bool {
	rg, h := r.rings[i], &r.heads[i]
	prod := atomic.LoadUint64(rg.prodPos)
	for rg.readPos < prod {
		hdr := unsafe.Add(rg.data, rg.readPos&rg.mask)
		l := atomic.LoadUint32((*uint32)(hdr))
		if l&busyBit != 0 {
			return false
		}
		size := l &^ (busyBit | discardBit)
		next := rg.readPos + (uint64(size)+recHdrSize+7)&^7
		if l&discardBit != 0 {
			r.stats.Discarded++
			rg.readPos = next
			continue
		}
		rec := unsafe.Slice((*byte)(unsafe.Add(hdr, recHdrSize)), size)
		h.ev = cabi.Event{Kind: cabi.KindRaw, Len: size}
		if r.describe != nil && !r.describe(rec, &h.ev) {
			r.stats.Rejected++
			rg.readPos = next
			continue
		}
		h.ev.Len = min(h.ev.Len, size)
		h.ev.Data = unsafe.Pointer(unsafe.SliceData(rec))
		h.next = next
		h.ok = true
		return true
	}
	return false
}

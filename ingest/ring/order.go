package ring

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// SetOrder makes Read and Append merge the rings by timestamp: each batch
// holds its records in TsNs order, and a record is handed out only once it
// is window old (a read that finds only younger records looks again when
// the oldest has come of age) (by CLOCK_MONOTONIC, the clock the Describer's TsNs is on
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
	// A head is the record at its ring's read position, which reads in
	// ring order move past: drop them, to be described again from
	// there, as Consume does.
	for i := range r.heads {
		r.heads[i].ok = false
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
// rings' heads, up to b's capacity, stopping at heads newer than the
// window allows. Each step takes the oldest head, then goes on taking that
// ring's records, described straight into b, for as long as they are no
// newer than any other ring's head: a run of one CPU's packets costs a
// comparison each, not a scan of every head. It returns b's new length,
// and whether the window held records back. Called with r.mu held.
func (r *Reader) collectOrdered(b *cabi.Batch) (n uint32, held bool) {
	slots := unsafe.Slice((*cabi.Event)(b.Events), b.Capacity)
	n = b.Len
	off := r.offset.Load()
	limit := ^uint64(0)
	if r.order > 0 {
		// CLOCK_MONOTONIC now, from the wall clock and the offset the
		// Reader keeps between the two: time.Now reads the vDSO, a
		// clock_gettime syscall per read would cost more than the merge.
		limit = uint64(time.Now().UnixNano() - off - int64(r.order))
	}
	for n < b.Capacity {
		best, bound := -1, limit
		for i := range r.rings {
			h := &r.heads[i]
			if !h.ok {
				if h.ok = r.describeNext(i, &h.ev, &h.next); !h.ok {
					continue
				}
			}
			switch {
			case best < 0:
				best = i
			case h.ev.TsNs < r.heads[best].ev.TsNs:
				bound = min(bound, r.heads[best].ev.TsNs)
				best = i
			default:
				bound = min(bound, h.ev.TsNs)
			}
		}
		if best < 0 {
			break
		}
		if r.heads[best].ev.TsNs > limit {
			held = true
			break
		}
		h, rg := &r.heads[best], r.rings[best]
		slots[n] = h.ev
		toUnix(&slots[n], off)
		rg.readPos = h.next
		h.ok = false
		n++
		// The same ring's next records, while none is newer than bound.
		n = r.describeRun(rg, h, slots, n, bound, off)
	}
	return n, held
}

// describeRun describes ring rg's next records into slots from n on, as
// describeNext does, for as long as there is room and none is newer than
// bound; it moves past them and converts their time to Unix by off. A
// record newer than bound becomes the ring's head h instead, and stays
// unread. It returns the new n. Every record of a run from one ring passes
// through this loop, so it keeps the ring's positions in locals and calls
// nothing but the Describer. Called with r.mu held.
func (r *Reader) describeRun(rg *mapped, h *head, slots []cabi.Event, n uint32, bound uint64, off int64) uint32 {
	describe := r.describe
	pos, prod := rg.readPos, rg.prod
	var discarded, rejected uint64
	for int(n) < len(slots) {
		if pos >= prod {
			// See describeNext: the producer position only when the
			// records known to be there are used up.
			if prod = atomic.LoadUint64(rg.prodPos); pos >= prod {
				break
			}
		}
		hdr := unsafe.Add(rg.data, pos&rg.mask)
		l := atomic.LoadUint32((*uint32)(hdr))
		if l&busyBit != 0 {
			break
		}
		size := l &^ (busyBit | discardBit)
		end := pos + (uint64(size)+recHdrSize+7)&^7
		if l&discardBit != 0 {
			discarded++
			pos = end
			continue
		}
		rec := unsafe.Add(hdr, recHdrSize)
		ev := &slots[n]
		*ev = cabi.Event{Kind: cabi.KindRaw, Len: size}
		if describe != nil && !describe(unsafe.Slice((*byte)(rec), size), ev) {
			rejected++
			pos = end
			continue
		}
		ev.Len = min(ev.Len, size)
		ev.Data = rec
		if ev.TsNs > bound {
			h.ev, h.next, h.ok = *ev, end, true
			break
		}
		if ev.TsNs != 0 {
			ev.TsNs = uint64(int64(ev.TsNs) + off)
		}
		pos = end
		n++
	}
	rg.readPos, rg.prod = pos, prod
	r.stats.Discarded += discarded
	r.stats.Rejected += rejected
	return n
}

// toUnix moves ev's CLOCK_MONOTONIC time to Unix time by off; 0 stays 0.
func toUnix(ev *cabi.Event, off int64) {
	if ev.TsNs != 0 {
		ev.TsNs = uint64(int64(ev.TsNs) + off)
	}
}

// describeNext describes the next committed record of ring i into ev and
// its end position into next, skipping discarded and refused records (and
// counting them; the read position moves past them). It reports whether
// ring i has such a record. Called with r.mu held.
func (r *Reader) describeNext(i int, ev *cabi.Event, next *uint64) bool {
	rg := r.rings[i]
	for {
		if rg.readPos >= rg.prod {
			// The producer position shares a cache line the kernel
			// writes on every commit from another CPU: load it only
			// when the records known to be there are used up, not per
			// record.
			if rg.prod = atomic.LoadUint64(rg.prodPos); rg.readPos >= rg.prod {
				return false
			}
		}
		hdr := unsafe.Add(rg.data, rg.readPos&rg.mask)
		l := atomic.LoadUint32((*uint32)(hdr))
		if l&busyBit != 0 {
			return false
		}
		size := l &^ (busyBit | discardBit)
		end := rg.readPos + (uint64(size)+recHdrSize+7)&^7
		if l&discardBit != 0 {
			r.stats.Discarded++
			rg.readPos = end
			continue
		}
		rec := unsafe.Slice((*byte)(unsafe.Add(hdr, recHdrSize)), size)
		*ev = cabi.Event{Kind: cabi.KindRaw, Len: size}
		if r.describe != nil && !r.describe(rec, ev) {
			r.stats.Rejected++
			rg.readPos = end
			continue
		}
		ev.Len = min(ev.Len, size)
		ev.Data = unsafe.Pointer(unsafe.SliceData(rec))
		*next = end
		return true
	}
}

package packet

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weirproject/weir/cabi"
)

// DefaultOrderWindow is Config.OrderWindow's default: how old a record must
// be before Poll hands it out, so that records from all CPUs come out in
// time order. A record is stamped and committed to its CPU's ring within
// microseconds; a millisecond covers that with room to spare and adds at
// most a millisecond of latency.
const DefaultOrderWindow = time.Millisecond

// attachCheckInterval is how often an idle Poll checks that the capture's
// interfaces still exist.
const attachCheckInterval = time.Second

// Poll gives the ring memory of the previous Poll's events back to the
// kernel, then appends descriptors of the packet records now waiting to b
// (cabi.KindPacket events that point into the rings, starting at their
// Header, TsNs in Unix nanoseconds), waiting up to timeout for the first.
// Unless Config.OrderWindow is negative, records are merged across the
// per-CPU rings by timestamp.
//
// After Drain, Poll hands over what the rings still hold and then returns
// io.EOF once every record the programs emitted has been read. Poll and
// Drain must not be called concurrently with each other.
func (c *Capture) Poll(b *cabi.Batch, timeout time.Duration) (int, error) {
	if err := c.release(); err != nil {
		return 0, err
	}
	if c.draining {
		// Detached: only records already in the rings, or being
		// written by a program that started before Detach, are left;
		// they do not wake the reader, so look often.
		timeout = min(timeout, time.Millisecond)
	}
	n, err := c.reader.Append(b, timeout)
	if err != nil {
		return 0, fmt.Errorf("read rings: %w", err)
	}
	if n > 0 {
		c.last = b
		return n, nil
	}
	if c.draining {
		done, err := c.Drained()
		if err != nil {
			return 0, err
		}
		if done && c.gone != nil {
			return 0, c.gone
		}
		if done {
			return 0, io.EOF
		}
		return 0, nil
	}
	if now := time.Now(); now.Sub(c.checked) >= attachCheckInterval {
		c.checked = now
		if err := c.CheckAttached(); err != nil {
			c.gone = err
			return 0, c.Drain()
		}
	}
	return 0, nil
}

// release gives back the ring memory of the last Poll's batch.
func (c *Capture) release() error {
	if c.last == nil {
		return nil
	}
	b := c.last
	c.last = nil
	if err := c.reader.Release(b); err != nil {
		return fmt.Errorf("release ring batch: %w", err)
	}
	return nil
}

// Drain stops intake: it detaches the programs, so the rings only empty from
// now on, stops holding records back for ordering (no earlier record can
// come any more), and gives back the ring memory of the last Poll. Poll then
// returns what is left, then io.EOF.
func (c *Capture) Drain() error {
	c.draining = true
	if c.cfg.OrderWindow >= 0 {
		c.reader.SetOrder(0)
	}
	return errors.Join(c.Detach(), c.release())
}

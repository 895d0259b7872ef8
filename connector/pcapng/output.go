package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// output collects a Writer's blocks in a buffer, in place, and writes the
// buffer to w when it is full or flushed. A write error sticks: every later
// call returns it.
type output struct {
	w       io.Writer
	file    *os.File // set by Create; closed by close
	trunc   bool     // file is a regular file, cut back to whole blocks on a short write
	buf     []byte   // len is what is filled, cap the buffer size
	flushed int64    // bytes written to w, all of them whole blocks
	pending uint64   // packet blocks in buf
	packets uint64   // packet blocks written to w whole
	err     error
}

// tryReserve is reserve's common case, small enough to be inlined: the
// next n bytes of the buffer when they are free, else nil, and then the
// caller calls reserve.
func (o *output) tryReserve(n int) []byte {
	if k := len(o.buf); n <= cap(o.buf)-k && o.err == nil {
		o.buf = o.buf[:k+n]
		return o.buf[k:]
	}
	return nil
}

// reserve returns the next n bytes of the output for the caller to fill
// completely before the next call.
func (o *output) reserve(n int) ([]byte, error) {
	if o.err != nil {
		return nil, o.err
	}
	if len(o.buf)+n > cap(o.buf) {
		if err := o.flush(); err != nil {
			return nil, err
		}
		if n > cap(o.buf) {
			o.buf = make([]byte, 0, n)
		}
	}
	k := len(o.buf)
	o.buf = o.buf[:k+n]
	return o.buf[k : k+n : k+n], nil
}

// flush writes the buffer. When a write stops part way (a full disk, a
// closed pipe), the whole blocks that were written count, and a regular
// file is cut back to the end of the last of them, so that it stays
// readable to its end; what a pipe took stays where it went.
func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf) == 0 {
		return nil
	}
	n, err := o.w.Write(o.buf)
	if err == nil && n < len(o.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		whole, packets := wholeBlocks(o.buf[:n])
		o.flushed += int64(whole)
		o.packets += packets
		o.err = err
		if o.trunc && whole < n {
			if terr := o.file.Truncate(o.flushed); terr != nil {
				o.err = errors.Join(err, fmt.Errorf("cut %s back to its last whole block: %w", o.file.Name(), terr))
			}
		}
		o.buf, o.pending = o.buf[:0], 0
		return o.err
	}
	o.flushed += int64(len(o.buf))
	o.packets += o.pending
	o.buf, o.pending = o.buf[:0], 0
	return nil
}

// wholeBlocks returns the length of the whole blocks at the start of b,
// which holds blocks the Writer built, and how many of them are packet
// blocks.
func wholeBlocks(b []byte) (n int, packets uint64) {
	for len(b)-n >= 8 {
		total := int(binary.LittleEndian.Uint32(b[n+4:]))
		if total > len(b)-n {
			break
		}
		if binary.LittleEndian.Uint32(b[n:]) == blockEPB {
			packets++
		}
		n += total
	}
	return n, packets
}

// close flushes and closes the file Create opened.
func (o *output) close() error {
	err := o.flush()
	if o.file != nil {
		err = errors.Join(err, o.file.Close())
	}
	return err
}

package pcapng

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// output collects a Writer's blocks in a buffer, in place, and writes the
// buffer to w when it is full. A write error sticks: every later call
// returns it.
type output struct {
	w       io.Writer
	file    *os.File // set by Create; closed by close
	buf     []byte   // len is what is filled, cap the buffer size
	flushed int64    // bytes written to w, all of them whole blocks
	err     error
}

// reserve returns the next n bytes of the output for the caller to fill
// completely before the next call.
func (o *output) reserve(n int) ([]byte, error) {
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

// flush writes the buffer. When writing a file fails part way (a full
// disk), the file is cut back to the blocks written before, so that it
// stays readable to the end.
func (o *output) flush() error {
	if o.err != nil {
		return o.err
	}
	if len(o.buf) == 0 {
		return nil
	}
	if _, err := o.w.Write(o.buf); err != nil {
		o.err = err
		if o.file != nil {
			if terr := o.file.Truncate(o.flushed); terr != nil {
				o.err = errors.Join(err, fmt.Errorf("cut %s back to its last whole block: %w", o.file.Name(), terr))
			}
		}
		return o.err
	}
	o.flushed += int64(len(o.buf))
	o.buf = o.buf[:0]
	return nil
}

// close flushes and closes the file Create opened.
func (o *output) close() error {
	err := o.flush()
	if o.file != nil {
		err = errors.Join(err, o.file.Close())
	}
	return err
}

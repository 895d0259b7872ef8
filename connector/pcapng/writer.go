package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Block types.
const (
	blockSHB = 0x0A0D0D0A
	blockIDB = 0x00000001
	blockEPB = 0x00000006
	blockSPB = 0x00000003
)

// Option codes.
const (
	optEnd     = 0
	optComment = 1
	optIfName  = 2
	optTsResol = 9
	optUserApp = 4 // shb_userappl
)

const byteOrderMagic = 0x1A2B3C4D

// LinkTypeEthernet is the LINKTYPE_ETHERNET link type: frames start with an
// Ethernet header.
const LinkTypeEthernet = 1

// Interface describes one capture interface, written as an interface
// description block.
type Interface struct {
	// Name is the interface name (if_name), e.g. "eth0". Optional.
	Name string
	// LinkType is the LINKTYPE_ value of the frames, usually
	// LinkTypeEthernet.
	LinkType uint16
	// SnapLen is the largest number of bytes captured per packet; 0 means
	// no limit.
	SnapLen uint32
}

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("pcapng writer closed")

// ErrTooLarge is wrapped by WritePacketComment's error for a packet whose
// block, with its comment, would exceed the 16 MiB a Reader accepts; the
// Writer is unchanged and usable.
var ErrTooLarge = errors.New("too large for a pcapng block")

// Writer streams a pcapng section. It is not safe for concurrent use.
type Writer struct {
	out    output
	ifaces []Interface
	closed bool
}

// DefaultBufferSize is the size of a Writer's buffer.
const DefaultBufferSize = 1 << 20

// NewWriter writes a section header block to w and returns a Writer that
// appends to it through a DefaultBufferSize buffer. application, if not
// empty, is recorded as shb_userappl. Close flushes the buffer but does not
// close w.
func NewWriter(w io.Writer, application string) (*Writer, error) {
	return newWriter(output{w: w}, application)
}

func newWriter(out output, application string) (*Writer, error) {
	out.buf = make([]byte, 0, DefaultBufferSize)
	pw := &Writer{out: out}
	body := make([]byte, 16, 64)
	binary.LittleEndian.PutUint32(body[0:], byteOrderMagic)
	binary.LittleEndian.PutUint16(body[4:], 1) // major
	binary.LittleEndian.PutUint16(body[6:], 0) // minor
	binary.LittleEndian.PutUint64(body[8:], ^uint64(0))
	if application != "" {
		body = appendOption(body, optUserApp, []byte(application))
		body = appendOption(body, optEnd, nil)
	}
	if err := pw.writeBlock(blockSHB, body); err != nil {
		return nil, fmt.Errorf("write pcapng section header: %w", err)
	}
	return pw, nil
}

// Create creates (or truncates) the file at path and returns a Writer on
// it. Close closes the file. If a write fails part way, for instance on a
// full disk, a regular file is cut back to the end of the last whole block
// written before the error is returned, so it stays readable, and Packets
// counts the packets it holds.
func Create(path, application string) (*Writer, error) {
	f, err := openOutput(path)
	if err != nil {
		return nil, fmt.Errorf("create pcapng file: %w", err)
	}
	out := output{w: f, file: f}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		out.trunc = true
	}
	w, err := newWriter(out, application)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create pcapng file %s: %w", path, err)
	}
	return w, nil
}

// AddInterface writes an interface description block and returns the
// interface's ID, which WritePacket takes. IDs count from 0 in the order
// interfaces are added. Timestamps of the interface have nanosecond
// resolution (if_tsresol=9).
func (w *Writer) AddInterface(ifc Interface) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	body := make([]byte, 8, 64)
	binary.LittleEndian.PutUint16(body[0:], ifc.LinkType)
	binary.LittleEndian.PutUint32(body[4:], ifc.SnapLen)
	if ifc.Name != "" {
		body = appendOption(body, optIfName, []byte(ifc.Name))
	}
	body = appendOption(body, optTsResol, []byte{9})
	body = appendOption(body, optEnd, nil)
	if err := w.writeBlock(blockIDB, body); err != nil {
		return 0, fmt.Errorf("write pcapng interface %q: %w", ifc.Name, err)
	}
	w.ifaces = append(w.ifaces, ifc)
	return len(w.ifaces) - 1, nil
}

// WritePacket writes an enhanced packet block: data (the captured bytes)
// seen on interface id at tsNs nanoseconds since the Unix epoch, with
// origLen bytes on the wire. origLen smaller than len(data) is raised to
// len(data).
func (w *Writer) WritePacket(id int, tsNs uint64, data []byte, origLen int) error {
	return w.WritePacketComment(id, tsNs, data, origLen, nil)
}

// WritePacketComment is WritePacket with a packet comment (opt_comment,
// UTF-8, at most 65535 bytes) in the block, which Wireshark shows with the
// packet and tshark as frame.comment. An empty comment writes no option.
func (w *Writer) WritePacketComment(id int, tsNs uint64, data []byte, origLen int, comment []byte) error {
	if w.closed || uint(id) >= uint(len(w.ifaces)) || len(data)+len(comment) > maxBlock-64 || len(comment) > 0xffff {
		return w.packetError(id, data, comment)
	}
	total := packetLen(len(data))
	opts := 0
	if len(comment) > 0 {
		// opt_comment, padded to 4, then opt_endofopt.
		opts = 4 + (len(comment)+3)&^3 + 4
		total += opts
	}
	h := w.out.tryReserve(total)
	if h == nil {
		var err error
		if h, err = w.out.reserve(total); err != nil {
			return fmt.Errorf("write pcapng packet: %w", err)
		}
	}
	putPacket(h, uint32(id), tsNs, data, uint32(max(origLen, len(data))))
	if opts > 0 {
		o := h[total-4-opts : total-4]
		binary.LittleEndian.PutUint16(o[0:], optComment)
		binary.LittleEndian.PutUint16(o[2:], uint16(len(comment)))
		clear(o[4+copy(o[4:], comment):])
	}
	w.out.pending++
	return nil
}

// packetLen is the size of an enhanced packet block without options for
// n captured bytes.
func packetLen(n int) int { return 32 + n + -n&3 }

// putPacket fills b, a whole enhanced packet block, with the block's fixed
// part, data, its pad and the trailer; options, if the block has room for
// them, go between the pad and the trailer, written after. It is small
// enough to be inlined (cost 80 of 80), which saves the sink's fast path a
// call per packet.
func putPacket(b []byte, id uint32, tsNs uint64, data []byte, origLen uint32) {
	// The fixed part through a pointer to an array: one length check,
	// not one per field.
	f := (*[28]byte)(b)
	binary.LittleEndian.PutUint32(f[0:], blockEPB)
	binary.LittleEndian.PutUint32(f[4:], uint32(len(b)))
	binary.LittleEndian.PutUint32(f[8:], id)
	binary.LittleEndian.PutUint32(f[12:], uint32(tsNs>>32))
	binary.LittleEndian.PutUint32(f[16:], uint32(tsNs))
	binary.LittleEndian.PutUint32(f[20:], uint32(len(data)))
	binary.LittleEndian.PutUint32(f[24:], origLen)
	copy(b[28:], data)
	// A zero word after the data pads it; what it writes past the pad
	// is the options' or the trailer's, written after it.
	binary.LittleEndian.PutUint32(b[28+len(data):], 0)
	binary.LittleEndian.PutUint32(b[len(b)-4:], uint32(len(b)))
}

// packetError is the error WritePacketComment returns for a closed Writer,
// an unknown interface or a block too large, kept apart so that building
// it costs the packets that are written nothing.
func (w *Writer) packetError(id int, data, comment []byte) error {
	switch {
	case w.closed:
		return ErrClosed
	case id < 0 || id >= len(w.ifaces):
		return fmt.Errorf("write pcapng packet: interface %d not added (have %d)", id, len(w.ifaces))
	case len(data) > maxBlock-64:
		return fmt.Errorf("write pcapng packet: %d bytes is %w", len(data), ErrTooLarge)
	default:
		return fmt.Errorf("write pcapng packet: comment of %d bytes is %w", len(comment), ErrTooLarge)
	}
}

// Packets returns how many packets have reached the underlying writer
// whole; packets still in the buffer do not count. After a failed write it
// is the number of packets the output holds.
func (w *Writer) Packets() uint64 { return w.out.packets }

// Buffered returns how many bytes are in the buffer, waiting for Flush.
func (w *Writer) Buffered() int { return len(w.out.buf) }

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if err := w.out.flush(); err != nil {
		return fmt.Errorf("flush pcapng: %w", err)
	}
	return nil
}

// Sync flushes the Writer and, if it was made by Create, commits the file
// to stable storage (fsync).
func (w *Writer) Sync() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if w.out.file != nil {
		// A pipe, socket or device such as /dev/stdout has nothing to
		// sync: fsync says EINVAL.
		if err := w.out.file.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("sync pcapng: %w", err)
		}
	}
	return nil
}

// Close flushes the Writer and, if it was made by Create, closes the file.
// Later calls return ErrClosed.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if err := w.out.close(); err != nil {
		return fmt.Errorf("close pcapng: %w", err)
	}
	return nil
}

func (w *Writer) writeBlock(typ uint32, body []byte) error {
	total := 12 + len(body)
	b, err := w.out.reserve(total)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], uint32(total))
	copy(b[8:], body)
	binary.LittleEndian.PutUint32(b[total-4:], uint32(total))
	return nil
}

// appendOption appends a TLV option padded to 4 bytes.
func appendOption(b []byte, code uint16, val []byte) []byte {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[0:], code)
	binary.LittleEndian.PutUint16(h[2:], uint16(len(val)))
	b = append(b, h[:]...)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ErrNoReader is wrapped by Create's error for a FIFO that no process has
// open for reading yet.
var ErrNoReader = errors.New("no reader on the FIFO yet")

// openOutput creates or truncates path for writing. A FIFO is opened
// without waiting for a reader (an open that would wait fails with
// ErrNoReader, so a caller can retry or give up instead of hanging), then
// made blocking again for the writes.
func openOutput(path string) (*os.File, error) {
	if st, err := os.Stat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return os.Create(path)
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return nil, fmt.Errorf("open %s: %w", path, ErrNoReader)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

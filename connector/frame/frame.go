package frame

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"

	"github.com/weirproject/weir/cabi"
)

// Framing names, as connector configs spell them.
const (
	// Event is one event per message, its fields in headers.
	Event = "event"
	// Batch is many events per message, in a batch frame.
	Batch = "batch"
)

// Names lists the framings for config enums.
var Names = []string{Event, Batch}

// The batch frame's fixed layout (docs/FRAMING.md). All integers are
// little-endian.
const (
	// Magic is the frame's first four bytes, "WEBF".
	Magic = "WEBF"
	// Version is the frame version this package writes and reads.
	Version = 1
	// HeaderSize is the size of the frame header: magic (4), version (1),
	// reserved zero bytes (3), event count (4), body length (4), CRC-32 (4).
	HeaderSize = 20
	// RecordHeaderSize is the size of each record's header before its
	// bytes: ts_ns (8), stream_id (8), kind (2), flags (2), length (4).
	RecordHeaderSize = 24
	// crcOffset is where the CRC-32 sits in the header.
	crcOffset = 16
)

// MaxRecordLen bounds one record's bytes (the length field is 32 bits;
// decoders refuse more than the frame holds anyway).
const MaxRecordLen = 1<<32 - 1

// Errors the decoder returns, wrapped with the offset where it found the
// problem.
var (
	// ErrShort is a frame shorter than its header or than it says.
	ErrShort = errors.New("frame truncated")
	// ErrMagic is a frame that does not start with Magic.
	ErrMagic = errors.New("not a weir batch frame (bad magic)")
	// ErrVersion is a frame of a version this package does not read.
	ErrVersion = errors.New("unsupported batch frame version")
	// ErrChecksum is a frame whose CRC-32 does not match its bytes.
	ErrChecksum = errors.New("batch frame checksum mismatch")
	// ErrCorrupt is a frame whose records do not add up to its header.
	ErrCorrupt = errors.New("corrupt batch frame")
)

var crcTable = crc32.MakeTable(crc32.IEEE)

// Size returns the encoded size of a frame holding evs.
func Size(evs []cabi.Event) int {
	n := HeaderSize
	for i := range evs {
		n += RecordHeaderSize + int(evs[i].Len)
	}
	return n
}

// Fit returns how many events from the start of evs fit in a frame of at
// most max bytes, and their frame size. It returns at least 1 when evs is
// not empty, even if that one event alone is larger than max: the caller
// decides what to do with an event that cannot fit any frame.
func Fit(evs []cabi.Event, max int) (n, size int) {
	size = HeaderSize
	for n < len(evs) {
		s := RecordHeaderSize + int(evs[n].Len)
		if n > 0 && size+s > max {
			break
		}
		size += s
		n++
	}
	return n, size
}

// Append encodes evs as one batch frame appended to dst.
func Append(dst []byte, evs []cabi.Event) []byte {
	start := len(dst)
	dst = append(dst, Magic...)
	dst = append(dst, Version, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(evs)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // body length, below
	dst = binary.LittleEndian.AppendUint32(dst, 0) // CRC, below
	body := len(dst)
	for i := range evs {
		e := &evs[i]
		dst = binary.LittleEndian.AppendUint64(dst, e.TsNs)
		dst = binary.LittleEndian.AppendUint64(dst, e.StreamID)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(e.Kind))
		dst = binary.LittleEndian.AppendUint16(dst, e.Flags)
		dst = binary.LittleEndian.AppendUint32(dst, e.Len)
		dst = append(dst, e.Bytes()...)
	}
	f := dst[start:]
	binary.LittleEndian.PutUint32(f[12:], uint32(len(dst)-body))
	binary.LittleEndian.PutUint32(f[crcOffset:], checksum(f))
	return dst
}

// checksum is the CRC-32 (IEEE, as zlib's crc32) of the frame with its CRC
// field taken as zero bytes.
func checksum(f []byte) uint32 {
	var zero [4]byte
	c := crc32.Update(0, crcTable, f[:crcOffset])
	c = crc32.Update(c, crcTable, zero[:])
	return crc32.Update(c, crcTable, f[HeaderSize:])
}

// Record is one event decoded from a frame. Data aliases the frame.
type Record struct {
	TsNs     uint64
	StreamID uint64
	Kind     cabi.Kind
	Flags    uint16
	Data     []byte
}

// Count checks f as a whole (header, length, checksum, and that its
// records add up) and returns how many events it holds. It does not
// allocate.
func Count(f []byte) (int, error) {
	n, err := check(f)
	if err != nil {
		return 0, err
	}
	return n, walk(f, n, nil)
}

// Decode checks f and calls fn for each record in order. Nothing is passed
// to fn unless the whole frame is valid.
func Decode(f []byte, fn func(Record)) (int, error) {
	n, err := Count(f)
	if err != nil {
		return 0, err
	}
	return n, walk(f, n, fn)
}

// check validates the header and checksum and returns the event count.
func check(f []byte) (int, error) {
	if len(f) < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrShort, len(f), HeaderSize)
	}
	if string(f[:4]) != Magic {
		return 0, fmt.Errorf("%w: starts with %q", ErrMagic, f[:4])
	}
	if f[4] != Version {
		return 0, fmt.Errorf("%w: %d (this reader knows %d)", ErrVersion, f[4], Version)
	}
	if f[5] != 0 || f[6] != 0 || f[7] != 0 {
		return 0, fmt.Errorf("%w: reserved bytes 5..7 are not zero", ErrCorrupt)
	}
	count := binary.LittleEndian.Uint32(f[8:])
	body := binary.LittleEndian.Uint32(f[12:])
	if uint64(body) != uint64(len(f)-HeaderSize) {
		if uint64(body) > uint64(len(f)-HeaderSize) {
			return 0, fmt.Errorf("%w: header says %d body bytes, frame has %d", ErrShort, body, len(f)-HeaderSize)
		}
		return 0, fmt.Errorf("%w: header says %d body bytes, frame has %d", ErrCorrupt, body, len(f)-HeaderSize)
	}
	if uint64(count)*RecordHeaderSize > uint64(body) {
		return 0, fmt.Errorf("%w: %d events cannot fit %d body bytes", ErrCorrupt, count, body)
	}
	if want, got := binary.LittleEndian.Uint32(f[crcOffset:]), checksum(f); want != got {
		return 0, fmt.Errorf("%w: header says %08x, bytes give %08x", ErrChecksum, want, got)
	}
	return int(count), nil
}

// walk steps over n records of a frame whose header check passed, calling
// fn (when not nil) for each; it fails if the records do not fill the body
// exactly.
func walk(f []byte, n int, fn func(Record)) error {
	off := HeaderSize
	for i := 0; i < n; i++ {
		if len(f)-off < RecordHeaderSize {
			return fmt.Errorf("%w: record %d header at byte %d runs past the end", ErrCorrupt, i, off)
		}
		h := f[off : off+RecordHeaderSize]
		l := binary.LittleEndian.Uint32(h[20:])
		off += RecordHeaderSize
		if uint64(l) > uint64(len(f)-off) {
			return fmt.Errorf("%w: record %d at byte %d says %d bytes, %d remain", ErrCorrupt, i, off-RecordHeaderSize, l, len(f)-off)
		}
		if fn != nil {
			fn(Record{
				TsNs:     binary.LittleEndian.Uint64(h[0:]),
				StreamID: binary.LittleEndian.Uint64(h[8:]),
				Kind:     cabi.Kind(binary.LittleEndian.Uint16(h[16:])),
				Flags:    binary.LittleEndian.Uint16(h[18:]),
				Data:     f[off : off+int(l) : off+int(l)],
			})
		}
		off += int(l)
	}
	if off != len(f) {
		return fmt.Errorf("%w: %d bytes after the last of %d records", ErrCorrupt, len(f)-off, n)
	}
	return nil
}

// Header names of event framing. Values are decimal integers.
const (
	HeaderKind   = "Weir-Kind"
	HeaderStream = "Weir-Stream"
	HeaderTs     = "Weir-Ts"
	HeaderFlags  = "Weir-Flags"
	// HeaderFrame marks a batch-framed message, with the frame version as
	// its value, so a consumer can tell the framings apart.
	HeaderFrame = "Weir-Frame"
)

// Meta is the event fields that event framing carries in headers.
type Meta struct {
	TsNs     uint64
	StreamID uint64
	Kind     cabi.Kind
	Flags    uint16
}

// MetaOf returns e's header fields.
func MetaOf(e *cabi.Event) Meta {
	return Meta{TsNs: e.TsNs, StreamID: e.StreamID, Kind: e.Kind, Flags: e.Flags}
}

// ParseMeta reads the header values of event framing with get, which
// returns "" for a missing header. A missing header leaves its field zero
// (a message published by something other than weir is a raw event); a
// malformed one is an error naming it.
func ParseMeta(get func(name string) string) (Meta, error) {
	var m Meta
	for _, h := range [...]struct {
		name string
		bits int
		set  func(uint64)
	}{
		{HeaderTs, 64, func(v uint64) { m.TsNs = v }},
		{HeaderStream, 64, func(v uint64) { m.StreamID = v }},
		{HeaderKind, 16, func(v uint64) { m.Kind = cabi.Kind(v) }},
		{HeaderFlags, 16, func(v uint64) { m.Flags = uint16(v) }},
	} {
		s := get(h.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseUint(s, 10, h.bits)
		if err != nil {
			return Meta{}, fmt.Errorf("header %s: %q is not a %d-bit unsigned decimal", h.name, s, h.bits)
		}
		h.set(v)
	}
	return m, nil
}

// Digest is a digest of a batch's content in a scope: the scope, then
// every event's timestamp, stream ID, kind, flags and bytes, in order. Two
// batches with the same events have the same digest in the same scope,
// and different digests in different scopes.
type Digest [16]byte

// DigestOf returns the digest of evs in scope (SHA-256, truncated to 128
// bits). The scope names the publisher (see ScopeOf), so that identical
// batches from two publishers are not taken for one another's retries.
func DigestOf(scope string, evs []cabi.Event) Digest {
	h := sha256.New()
	var hdr [RecordHeaderSize]byte
	if scope != "" {
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(scope)))
		h.Write(hdr[:4])
		h.Write([]byte(scope))
	}
	for i := range evs {
		e := &evs[i]
		binary.LittleEndian.PutUint64(hdr[0:], e.TsNs)
		binary.LittleEndian.PutUint64(hdr[8:], e.StreamID)
		binary.LittleEndian.PutUint16(hdr[16:], uint16(e.Kind))
		binary.LittleEndian.PutUint16(hdr[18:], e.Flags)
		binary.LittleEndian.PutUint32(hdr[20:], e.Len)
		h.Write(hdr[:])
		h.Write(e.Bytes())
	}
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// ScopeOf returns the message ID scope of a connector: configured when
// not empty, else HOSTNAME/CONNECTOR, which is stable across restarts of
// the same agent and differs between agents.
func ScopeOf(configured, connector string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return host + "/" + connector
}

// MsgID appends to dst the message ID of the i-th message made from the
// batch with digest d, in the framing tagged by tag ('e' for event, 'b'
// for batch): 32 hex digits, a dash, the tag, and i in decimal. The same
// batch always yields the same IDs; the events in a batch are told apart
// by i, so two identical events in one batch are not taken for
// duplicates, and the tag keeps the two framings' IDs apart.
func (d Digest) MsgID(dst []byte, tag byte, i int) []byte {
	dst = hex.AppendEncode(dst, d[:])
	dst = append(dst, '-', tag)
	return strconv.AppendInt(dst, int64(i), 10)
}

package diskbuf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// On-disk layout, all little-endian.
//
// A segment file is named by the sequence number of its first record,
// twenty decimal digits and ".seg", and holds records back to back:
//
//	offset size field
//	0      4    magic "WRB1" (0x31425257)
//	4      4    CRC-32C (Castagnoli) of bytes 8 .. 24+length
//	8      4    length of the payload in bytes
//	12     4    number of events in the payload
//	16     8    sequence number, one more than the record before it
//	24     length payload
//
// The checksum covers the header fields after it as well as the payload,
// so a record whose length, count or sequence number was damaged is
// refused like one whose bytes were. The magic lets a scan find the next
// record after a damaged one.
//
// The payload is the events of one batch, each a 24-byte descriptor and
// then its bytes:
//
//	0  8 timestamp (ns)
//	8  8 stream ID
//	16 4 length of the event's bytes
//	20 2 kind
//	22 2 flags
//	24 length bytes
//
// The ack file ("ack") holds 16 bytes: the magic "WRA1", the CRC-32C of
// the next 8 bytes, 4 bytes of zero, and the floor: every record with a
// smaller sequence number was delivered. It is rewritten in place.
const (
	recMagic   = 0x31425257 // "WRB1"
	ackMagic   = 0x31415257 // "WRA1"
	headerSize = 24
	eventHead  = 24
	// MaxPayload is the largest record payload accepted, in bytes: a
	// length beyond it in a header marks the record as damaged.
	MaxPayload = 1 << 31
	segSuffix  = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// putHeader fills the 24-byte header of a record whose payload follows it
// in rec (rec[headerSize:]).
func putHeader(rec []byte, events uint32, seq uint64) {
	le := binary.LittleEndian
	le.PutUint32(rec[0:], recMagic)
	le.PutUint32(rec[8:], uint32(len(rec)-headerSize))
	le.PutUint32(rec[12:], events)
	le.PutUint64(rec[16:], seq)
	le.PutUint32(rec[4:], crc32.Checksum(rec[8:], castagnoli))
}

// header is a decoded record header.
type header struct {
	crc    uint32
	length uint32
	events uint32
	seq    uint64
}

// parseHeader decodes h (at least headerSize bytes); ok is false when the
// magic is wrong or the length is out of range.
func parseHeader(h []byte) (hd header, ok bool) {
	le := binary.LittleEndian
	if le.Uint32(h[0:]) != recMagic {
		return hd, false
	}
	hd = header{crc: le.Uint32(h[4:]), length: le.Uint32(h[8:]), events: le.Uint32(h[12:]), seq: le.Uint64(h[16:])}
	return hd, hd.length <= MaxPayload
}

// verify checks the checksum of a whole record (header and payload).
func verify(rec []byte, hd header) bool {
	return crc32.Checksum(rec[8:], castagnoli) == hd.crc
}

// EncodedSize returns how many payload bytes Encode makes of b.
func EncodedSize(b *cabi.Batch) int {
	n := 0
	for _, e := range b.EventSlice() {
		n += eventHead + int(e.Len)
	}
	return n
}

// Encode appends the events of b to dst in the payload layout described
// above and returns the result.
func Encode(dst []byte, b *cabi.Batch) []byte {
	le := binary.LittleEndian
	for _, e := range b.EventSlice() {
		var h [eventHead]byte
		le.PutUint64(h[0:], e.TsNs)
		le.PutUint64(h[8:], e.StreamID)
		le.PutUint32(h[16:], e.Len)
		le.PutUint16(h[20:], uint16(e.Kind))
		le.PutUint16(h[22:], e.Flags)
		dst = append(dst, h[:]...)
		dst = append(dst, e.Bytes()...)
	}
	return dst
}

// ErrPayload is wrapped by the errors Decode and Measure return for a
// payload that does not hold whole events, or holds a different number of
// them than its header says.
var ErrPayload = errors.New("malformed payload")

// Measure checks that p holds exactly events whole events and returns the
// number of event bytes in them.
func Measure(p []byte, events uint32) (bytes int, err error) {
	le := binary.LittleEndian
	n := uint32(0)
	for off := 0; off < len(p); n++ {
		if len(p)-off < eventHead {
			return 0, fmt.Errorf("%w: %d stray bytes at offset %d", ErrPayload, len(p)-off, off)
		}
		l := int(le.Uint32(p[off+16:]))
		off += eventHead
		if l > len(p)-off {
			return 0, fmt.Errorf("%w: event %d of %d bytes overruns the payload at offset %d", ErrPayload, n, l, off)
		}
		off += l
		bytes += l
	}
	if n != events {
		return 0, fmt.Errorf("%w: %d events, header says %d", ErrPayload, n, events)
	}
	return bytes, nil
}

// Decode appends the events of payload p to b, copying their bytes into
// b's arena. The caller checks first with Measure that p is well formed
// and that b has room for its events and bytes; Decode returns false,
// having appended what fitted, when it has not.
func Decode(b *cabi.Batch, p []byte) bool {
	le := binary.LittleEndian
	for off := 0; off+eventHead <= len(p); {
		h := p[off : off+eventHead]
		l := int(le.Uint32(h[16:]))
		off += eventHead
		if l > len(p)-off {
			return false
		}
		if !b.Append(le.Uint64(h[0:]), le.Uint64(h[8:]), cabi.Kind(le.Uint16(h[20:])), le.Uint16(h[22:]), p[off:off+l]) {
			return false
		}
		off += l
	}
	return true
}

// The descriptor layout above stores Kind in 2 bytes.
var _ = [1]struct{}{}[unsafe.Sizeof(cabi.Kind(0))-2]

// ackRecord encodes the ack file's contents for floor.
func ackRecord(floor uint64) []byte {
	le := binary.LittleEndian
	b := make([]byte, 16)
	le.PutUint32(b[0:], ackMagic)
	le.PutUint64(b[8:], floor)
	le.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return b
}

// parseAck decodes the ack file's contents; ok is false when they are
// damaged or absent.
func parseAck(b []byte) (floor uint64, ok bool) {
	le := binary.LittleEndian
	if len(b) < 16 || le.Uint32(b[0:]) != ackMagic || crc32.Checksum(b[8:16], castagnoli) != le.Uint32(b[4:]) {
		return 0, false
	}
	return le.Uint64(b[8:]), true
}

package diskbuf

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// recInfo locates one record in its segment.
type recInfo struct {
	off    int64
	length uint32 // payload bytes
	events uint32
	seq    uint64
}

func (r recInfo) end() int64 { return r.off + headerSize + int64(r.length) }

// Region is a byte range [Start, End) of a segment file that holds no
// record whose checksum holds.
type Region struct {
	File       string
	Start, End int64
}

// scanner reads the records of one segment file, skipping damaged bytes.
type scanner struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	tmp  []byte
}

const scanChunk = 1 << 20

var magicBytes = binary.LittleEndian.AppendUint32(nil, recMagic)

// scan returns every record of the file whose checksum holds, in file
// order with rising sequence numbers, and the damaged ranges between and
// after them. A record with a sequence number not above the one before it
// is treated as damage too.
func (s *scanner) scan() (recs []recInfo, bad [][2]int64) {
	off := int64(0)
	var prev uint64
	for off < s.size {
		if r, ok := s.recordAt(off); ok && (len(recs) == 0 || r.seq > prev) {
			recs = append(recs, r)
			prev = r.seq
			off = r.end()
			continue
		}
		start := off
		next := s.resync(off+1, len(recs) > 0, prev)
		bad = append(bad, [2]int64{start, next})
		off = next
	}
	return recs, bad
}

// resync finds the first offset from off at which a good record starts
// (with a sequence number above prev when havePrev), or returns the file
// size.
func (s *scanner) resync(off int64, havePrev bool, prev uint64) int64 {
	if cap(s.buf) < scanChunk+len(magicBytes) {
		s.buf = make([]byte, scanChunk+len(magicBytes))
	}
	for off < s.size {
		n := min(int64(scanChunk+len(magicBytes)), s.size-off)
		chunk := s.buf[:n]
		if m, err := s.r.ReadAt(chunk, off); int64(m) < n && err != nil {
			return s.size
		}
		for i := 0; ; {
			j := bytes.Index(chunk[i:], magicBytes)
			if j < 0 {
				break
			}
			at := off + int64(i+j)
			if r, ok := s.recordAt(at); ok && (!havePrev || r.seq > prev) {
				return at
			}
			i += j + 1
		}
		if n <= int64(len(magicBytes)) {
			break
		}
		off += n - int64(len(magicBytes)-1)
	}
	return s.size
}

// recordAt checks for a whole, good record at off, streaming the payload
// through the checksum so that a damaged length costs no allocation.
func (s *scanner) recordAt(off int64) (recInfo, bool) {
	if s.size-off < headerSize {
		return recInfo{}, false
	}
	var h [headerSize]byte
	if _, err := s.r.ReadAt(h[:], off); err != nil {
		return recInfo{}, false
	}
	hd, ok := parseHeader(h[:])
	if !ok || int64(hd.length) > s.size-off-headerSize {
		return recInfo{}, false
	}
	crc := crc32.Checksum(h[8:], castagnoli)
	if s.tmp == nil {
		s.tmp = make([]byte, 64<<10)
	}
	tmp := s.tmp
	for pos, left := off+headerSize, int64(hd.length); left > 0; {
		n := min(left, int64(len(tmp)))
		if _, err := s.r.ReadAt(tmp[:n], pos); err != nil {
			return recInfo{}, false
		}
		crc = crc32.Update(crc, castagnoli, tmp[:n])
		pos += n
		left -= n
	}
	if crc != hd.crc {
		return recInfo{}, false
	}
	return recInfo{off: off, length: hd.length, events: hd.events, seq: hd.seq}, true
}

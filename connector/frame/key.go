package frame

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/pktfmt"
)

// Partition key choices, as connector configs spell them.
const (
	KeyNone   = "none"
	KeyStream = "stream"
	KeyFlow   = "flow"
)

// KeyNames lists the key choices for config enums.
var KeyNames = []string{KeyNone, KeyStream, KeyFlow}

// FlowHash returns a hash of a packet event's flow: its IP addresses,
// transport protocol and ports, the same for both directions, so that
// every packet of a conversation lands in the same partition. ok is false
// for events that are not IP packets; callers fall back to the stream ID.
func FlowHash(e *cabi.Event) (h uint64, ok bool) {
	if e.Kind != cabi.KindPacket {
		return 0, false
	}
	v, err := cabi.ReadPacketEvent(e)
	if err != nil {
		return 0, false
	}
	p := pktfmt.Decode(v.Frame, int(v.Header.OrigLen))
	if p.IPVersion == 0 || !p.Src.IsValid() || !p.Dst.IsValid() {
		return 0, false
	}
	a, b := p.Src.As16(), p.Dst.As16()
	ap, bp := p.SrcPort, p.DstPort
	// Order the two ends, so both directions hash alike.
	if string(a[:]) > string(b[:]) || a == b && ap > bp {
		a, b, ap, bp = b, a, bp, ap
	}
	f := fnv.New64a()
	var buf [16 + 16 + 2 + 2 + 1]byte
	copy(buf[0:], a[:])
	copy(buf[16:], b[:])
	binary.BigEndian.PutUint16(buf[32:], ap)
	binary.BigEndian.PutUint16(buf[34:], bp)
	buf[36] = p.Proto
	f.Write(buf[:])
	return f.Sum64(), true
}

// Key returns the partition key of e under choice (KeyStream or KeyFlow)
// as 8 big-endian bytes appended to dst; KeyNone appends nothing. KeyFlow
// falls back to the stream ID for events that are not IP packets.
func Key(dst []byte, choice string, e *cabi.Event) []byte {
	switch choice {
	case KeyStream:
		return binary.BigEndian.AppendUint64(dst, e.StreamID)
	case KeyFlow:
		if h, ok := FlowHash(e); ok {
			return binary.BigEndian.AppendUint64(dst, h)
		}
		return binary.BigEndian.AppendUint64(dst, e.StreamID)
	}
	return dst
}

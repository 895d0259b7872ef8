package packet

import (
	"errors"
	"fmt"
	"unsafe"
)

// Record types and layout version (WEIR_REC_* and WEIR_PKT_RECORD_VERSION in
// bpf/headers/weir_record.h).
const (
	RecordTypePacket = 1
	RecordVersion    = 1
)

// Direction values written into Header.Direction (WEIR_DIR_*).
const (
	RecordIngress = 1
	RecordEgress  = 2
)

// Hook values written into Header.Hook (WEIR_HOOK_*).
const (
	HookXDP = 1
	HookTCX = 2
)

// Parse flag bits of Header.ParseFlags (WEIR_PARSE_*).
//
// The transport header and IPv6 extension headers are checked against the
// packet's whole length, the link and IP headers against the part the
// program reads directly, which under TCX ends before the packet does when
// the kernel keeps the packet in pieces (a non-linear socket buffer). An
// L4Off can lie beyond the captured bytes: check it against CapLen before
// reading there.
const (
	ParsedL3       = 1 << 0 // L3Off and L3Proto are valid
	ParsedL4       = 1 << 1 // L4Off and L4Proto are valid: the transport header is within the packet
	ParseFragment  = 1 << 2 // an IP fragment that carries no transport header
	ParseTruncated = 1 << 3 // a header ran past the end of the packet (see above) or starts beyond the parser's 1024 bytes
	ParseExtLimit  = 1 << 4 // more IPv6 extension headers than the parser's bound
)

// OffNone marks an offset the parser did not find (WEIR_OFF_NONE).
const OffNone = 0xffff

// SnaplenMax is the largest snaplen the BPF programs honour
// (WEIR_SNAPLEN_MAX): the largest record size class.
const SnaplenMax = 9216

// Header mirrors struct weir_pkt_record, the fixed header in front of every
// captured packet in a ring record. The captured bytes (CapLen of them)
// follow it. All fields are in host byte order.
type Header struct {
	TsNs       uint64 // bpf_ktime_get_ns (CLOCK_MONOTONIC) at capture
	Seq        uint64 // per-CPU sequence; a gap means ring-full drops
	Type       uint16 // RecordTypePacket
	Version    uint16 // RecordVersion
	Ifindex    uint32 // interface index
	OrigLen    uint32 // length on the wire
	CapLen     uint32 // bytes captured after the header
	SampleRate uint32 // 1-in-N rate in force (1 = every packet)
	CPU        uint32 // CPU the program ran on
	Direction  uint8  // RecordIngress or RecordEgress
	Hook       uint8  // HookXDP or HookTCX
	ParseFlags uint8  // Parsed* and Parse* bits
	VLANDepth  uint8  // number of VLAN tags, at most 2
	L3Proto    uint16 // EtherType of the network layer, 0 if none
	L3Off      uint16 // offset of the network header
	L4Off      uint16 // offset of the transport header, OffNone if none
	L4Proto    uint8  // IP protocol of the transport layer
	_          uint8
	VLANTCI    uint16 // TCI of the outer VLAN tag, 0 if none
	_          uint16
}

// HeaderSize is the size of Header and of struct weir_pkt_record.
const HeaderSize = int(unsafe.Sizeof(Header{}))

// ErrShortRecord is returned by Decode for a buffer shorter than its header
// claims.
var ErrShortRecord = errors.New("short packet record")

// Decode interprets rec as a packet record: a Header followed by CapLen
// packet bytes. The returned header is a copy; data aliases rec. It checks
// the type, version and lengths, and never reads past len(rec).
func Decode(rec []byte) (Header, []byte, error) {
	if len(rec) < HeaderSize {
		return Header{}, nil, fmt.Errorf("decode packet record: %d bytes, header needs %d: %w", len(rec), HeaderSize, ErrShortRecord)
	}
	var h Header
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), HeaderSize), rec)
	if h.Type != RecordTypePacket {
		return h, nil, fmt.Errorf("decode packet record: type %d, want %d", h.Type, RecordTypePacket)
	}
	if h.Version != RecordVersion {
		return h, nil, fmt.Errorf("decode packet record: version %d, want %d", h.Version, RecordVersion)
	}
	if h.CapLen > h.OrigLen {
		return h, nil, fmt.Errorf("decode packet record: captured length %d exceeds original length %d", h.CapLen, h.OrigLen)
	}
	if uint64(h.CapLen) > uint64(len(rec)-HeaderSize) {
		return h, nil, fmt.Errorf("decode packet record: captured length %d but only %d bytes follow the header: %w", h.CapLen, len(rec)-HeaderSize, ErrShortRecord)
	}
	return h, rec[HeaderSize : HeaderSize+int(h.CapLen)], nil
}

// View interprets rec as a packet record in place: h aliases rec's header
// and data its CapLen captured bytes. ok is false when rec is not a
// well-formed packet record (too short for its header, of another type or
// version, or with lengths that do not add up), where Decode would say why.
// rec must be 8-byte aligned, as ring records are. It neither copies nor
// allocates, for readers that handle each record where it lies.
func View(rec []byte) (h *Header, data []byte, ok bool) {
	if len(rec) < HeaderSize {
		return nil, nil, false
	}
	h = (*Header)(unsafe.Pointer(unsafe.SliceData(rec)))
	if h.Type != RecordTypePacket || h.Version != RecordVersion || h.CapLen > h.OrigLen || uint64(h.CapLen) > uint64(len(rec)-HeaderSize) {
		return nil, nil, false
	}
	return h, rec[HeaderSize : HeaderSize+int(h.CapLen)], true
}

// Truncated reports whether fewer bytes were captured than were on the wire.
func (h *Header) Truncated() bool { return h.CapLen < h.OrigLen }

// FilterHead is how many leading packet bytes the filter hook sees
// (WEIR_FILTER_HEAD).
const FilterHead = 128

// FilterArgs mirrors struct weir_filter_args, what the filter hook
// weir_filter receives: parsed metadata and a copy of the packet's first
// HeadLen bytes. Filter bodies (Config.Filter) load its fields at the
// offsets of this struct.
type FilterArgs struct {
	Head      [FilterHead]byte // the packet's first HeadLen bytes
	HeadLen   uint32           // valid bytes in Head
	WireLen   uint32           // length on the wire
	Ifindex   uint32           // interface index
	L3Proto   uint16           // EtherType of the network layer, 0 if none
	L3Off     uint16           // offset of the network header, OffNone if none
	L4Off     uint16           // offset of the transport header, OffNone if none
	L4Proto   uint8            // IP protocol, 0 if none
	Direction uint8            // RecordIngress or RecordEgress
}

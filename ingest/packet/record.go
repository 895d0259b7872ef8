package packet

import (
	"fmt"
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// Record type and layout version (WEIR_RECORD_PACKET and
// WEIR_PKT_RECORD_VERSION in cabi/include/weir/records.h).
const (
	RecordTypePacket = cabi.RecordPacket
	RecordVersion    = cabi.PacketRecordVersion
)

// Direction values written into Header.Direction (WEIR_DIR_*).
const (
	RecordIngress = cabi.DirIngress
	RecordEgress  = cabi.DirEgress
)

// Hook values written into Header.Hook (WEIR_HOOK_*).
const (
	HookXDP = cabi.HookXDP
	HookTCX = cabi.HookTCX
)

// Parse flag bits of Header.ParseFlags (WEIR_PARSE_*); cabi.ParsedL3 says
// what each means and which bytes a flag was checked against. An L4Off can
// lie beyond the captured bytes: check it against CapLen before reading
// there.
const (
	ParsedL3       = cabi.ParsedL3
	ParsedL4       = cabi.ParsedL4
	ParseFragment  = cabi.ParseFragment
	ParseTruncated = cabi.ParseTruncated
	ParseExtLimit  = cabi.ParseExtLimit
)

// OffNone marks an offset the parser did not find (WEIR_OFF_NONE).
const OffNone = cabi.OffNone

// SnaplenMax is the largest snaplen the BPF programs honour
// (WEIR_SNAPLEN_MAX in bpf/headers/weir_record.h): the largest record size
// class.
const SnaplenMax = 9216

// Header is the fixed header in front of every captured packet in a ring
// record: cabi.PacketRecord, the Go mirror of struct weir_pkt_record in
// cabi/include/weir/records.h. Its common prefix (cabi.RecordHeader) holds
// the timestamp (CLOCK_MONOTONIC, bpf_ktime_get_ns), sequence number, type,
// version, total size and CPU. The captured bytes (CapLen of them) follow
// it. All fields are in host byte order.
type Header = cabi.PacketRecord

// HeaderSize is the size of Header and of struct weir_pkt_record.
const HeaderSize = cabi.PacketRecordSize

// ErrShortRecord is returned by Decode for a buffer shorter than its header
// claims. It is cabi.ErrRecordShort, which cabi.ReadPacket returns too.
var ErrShortRecord = cabi.ErrRecordShort

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
	if uint64(h.Size) != uint64(HeaderSize)+uint64(h.CapLen) {
		return h, nil, fmt.Errorf("decode packet record: size %d, want header %d + captured length %d", h.Size, HeaderSize, h.CapLen)
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
	if h.Type != RecordTypePacket || h.Version != RecordVersion || h.CapLen > h.OrigLen ||
		uint64(h.Size) != uint64(HeaderSize)+uint64(h.CapLen) || uint64(h.CapLen) > uint64(len(rec)-HeaderSize) {
		return nil, nil, false
	}
	return h, rec[HeaderSize : HeaderSize+int(h.CapLen)], true
}

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

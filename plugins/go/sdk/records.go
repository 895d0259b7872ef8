//go:build cgo

package weirsdk

import (
	"unsafe"

	"github.com/weirproject/weir/cabi"
)

// PacketView is what ReadPacket reads out of a packet event: the record
// header (a copy), the capture time in Unix nanoseconds, the interface,
// direction and wire length, and the captured frame, which aliases the
// event's bytes and is valid only during the call that received the batch.
// It is cabi.PacketView; cabi/include/weir/records.h defines the record.
type PacketView = cabi.PacketView

// PacketRecord mirrors struct weir_pkt_record, the header of a packet
// record (cabi.PacketRecord).
type PacketRecord = cabi.PacketRecord

// Errors ReadPacket wraps, one per weir_record_status other than OK.
var (
	ErrRecordShort   = cabi.ErrRecordShort
	ErrRecordType    = cabi.ErrRecordType
	ErrRecordVersion = cabi.ErrRecordVersion
	ErrRecordLength  = cabi.ErrRecordLength
)

// ReadPacket reads the packet record a KindPacket event carries, as
// weir_packet_view does in C: it checks the kind, the record's type,
// version and lengths, and never reads past the event's bytes. An event a
// processor cut (FlagTruncated) yields the frame bytes it still holds.
// Nothing is copied but the record header; the view's Frame must not be
// kept past the call that received the batch.
func ReadPacket(e *Event) (PacketView, error) {
	return cabi.ReadPacketEvent((*cabi.Event)(unsafe.Pointer(e)))
}

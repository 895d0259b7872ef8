package format

import (
	"net"
	"strconv"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/packet"
	"github.com/weirproject/weir/ingest/pktfmt"
)

// InterfaceNames maps interface indexes to names, asking the kernel once
// per index. The zero value is ready to use. It is not safe for concurrent
// use.
type InterfaceNames struct {
	names map[uint32]string
}

// Name returns the name of the interface with index i, as
// net.InterfaceByIndex first found it, or "ifI" when there was none (an
// interface gone, or in another network namespace).
func (n *InterfaceNames) Name(i uint32) string {
	if name, ok := n.names[i]; ok {
		return name
	}
	name := "if" + strconv.FormatUint(uint64(i), 10)
	if ifc, err := net.InterfaceByIndex(int(i)); err == nil && ifc.Name != "" {
		name = ifc.Name
	}
	if n.names == nil {
		n.names = map[uint32]string{}
	}
	n.names[i] = name
	return name
}

// packetEncoder returns an encoder that writes each packet record with
// appendRecord and a newline, and any other event with appendMarker, which
// is told why.
func packetEncoder(appendRecord func([]byte, *pktfmt.Record) []byte, appendMarker func([]byte, *cabi.Event, string) []byte) func([]byte, *cabi.Event) []byte {
	var names InterfaceNames
	return func(dst []byte, e *cabi.Event) []byte {
		if e.Kind != cabi.KindPacket {
			return appendMarker(dst, e, "not a packet")
		}
		h, data, err := packet.Decode(e.Bytes())
		if err != nil {
			return appendMarker(dst, e, err.Error())
		}
		rec := pktfmt.Record{TsNs: e.TsNs, Iface: names.Name(h.Ifindex), Header: h, Data: data}
		dst = appendRecord(dst, &rec)
		return append(dst, '\n')
	}
}

// appendTextMarker appends the line the packet encoding writes for an
// event that is not a packet record, for example
//
//	[text event, 5 bytes: not a packet]
func appendTextMarker(dst []byte, e *cabi.Event, why string) []byte {
	dst = append(dst, '[')
	dst = AppendKind(dst, e.Kind)
	dst = append(dst, " event, "...)
	dst = strconv.AppendUint(dst, uint64(e.Len), 10)
	dst = append(dst, " bytes: "...)
	dst = append(dst, why...)
	return append(dst, "]\n"...)
}

// appendJSONMarker appends the object the packet-json encoding writes for
// an event that is not a packet record, for example
//
//	{"ts_ns":1,"kind":"text","len":5,"error":"not a packet"}
func appendJSONMarker(dst []byte, e *cabi.Event, why string) []byte {
	dst = append(dst, `{"ts_ns":`...)
	dst = strconv.AppendUint(dst, e.TsNs, 10)
	dst = append(dst, `,"kind":"`...)
	dst = AppendKind(dst, e.Kind)
	dst = append(dst, `","len":`...)
	dst = strconv.AppendUint(dst, uint64(e.Len), 10)
	dst = append(dst, `,"error":`...)
	dst = appendJSONString(dst, []byte(why))
	return append(dst, "}\n"...)
}

package packet

import (
	"encoding/binary"
)

// Frame builders for the BPF_PROG_TEST_RUN tests. They build headers with
// plausible contents; checksums are left zero since the programs ignore
// them.

var (
	testSrcMAC = []byte{0x02, 0, 0, 0, 0, 1}
	testDstMAC = []byte{0x02, 0, 0, 0, 0, 2}
)

type vlanTag struct {
	tpid uint16 // 0x8100 or 0x88a8
	tci  uint16
}

// frame assembles Ethernet, VLAN tags, ethertype and payload.
func frame(tags []vlanTag, ethertype uint16, l3 []byte) []byte {
	b := append([]byte{}, testDstMAC...)
	b = append(b, testSrcMAC...)
	for _, t := range tags {
		b = binary.BigEndian.AppendUint16(b, t.tpid)
		b = binary.BigEndian.AppendUint16(b, t.tci)
	}
	b = binary.BigEndian.AppendUint16(b, ethertype)
	return append(b, l3...)
}

// ipv4 builds an IPv4 header with optWords 32-bit words of options (NOPs)
// around payload.
func ipv4(proto uint8, fragOff uint16, optWords int, payload []byte) []byte {
	ihl := 5 + optWords
	b := make([]byte, ihl*4, ihl*4+len(payload))
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)+len(payload)))
	binary.BigEndian.PutUint16(b[6:], fragOff)
	b[8] = 64
	b[9] = proto
	copy(b[12:], []byte{10, 0, 0, 1})
	copy(b[16:], []byte{10, 0, 0, 2})
	for i := 20; i < ihl*4; i++ {
		b[i] = 1 // NOP option
	}
	return append(b, payload...)
}

// ipv6Ext is one IPv6 extension header: its protocol number and total
// length in bytes (a multiple of 8, or of 4 for AH).
type ipv6Ext struct {
	proto uint8
	size  int
	frag  uint16 // fragment offset field for a fragment header
}

// ipv6 builds an IPv6 header, extension headers and payload, final protocol
// proto.
func ipv6(exts []ipv6Ext, proto uint8, payload []byte) []byte {
	first := proto
	if len(exts) > 0 {
		first = exts[0].proto
	}
	var body []byte
	for i, e := range exts {
		next := proto
		if i+1 < len(exts) {
			next = exts[i+1].proto
		}
		h := make([]byte, e.size)
		h[0] = next
		switch e.proto {
		case 44: // fragment: fixed 8 bytes
			binary.BigEndian.PutUint16(h[2:], e.frag)
		case 51: // AH: length in 4-byte words minus 2
			h[1] = byte(e.size/4 - 2)
		default:
			h[1] = byte(e.size/8 - 1)
		}
		body = append(body, h...)
	}
	body = append(body, payload...)
	b := make([]byte, 40, 40+len(body))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(body)))
	b[6] = first
	b[7] = 64
	b[8] = 0xfd
	b[23] = 1
	b[24] = 0xfd
	b[39] = 2
	return append(b, body...)
}

func udp(n int) []byte {
	b := make([]byte, 8+n)
	binary.BigEndian.PutUint16(b[0:], 4000)
	binary.BigEndian.PutUint16(b[2:], 5000)
	binary.BigEndian.PutUint16(b[4:], uint16(8+n))
	for i := range n {
		b[8+i] = byte(i)
	}
	return b
}

func tcp(n int) []byte {
	b := make([]byte, 20+n)
	binary.BigEndian.PutUint16(b[0:], 4000)
	binary.BigEndian.PutUint16(b[2:], 80)
	b[12] = 5 << 4
	b[13] = 0x02 // SYN
	for i := range n {
		b[20+i] = byte(i)
	}
	return b
}

func icmp(n int) []byte {
	b := make([]byte, 8+n)
	b[0] = 8 // echo request (ICMPv6 uses 128)
	return b
}

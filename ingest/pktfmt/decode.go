package pktfmt

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// EtherTypes and IP protocol numbers Decode understands.
const (
	EtherTypeIPv4  = 0x0800
	EtherTypeARP   = 0x0806
	EtherTypeIPv6  = 0x86DD
	EtherTypeVLAN  = 0x8100
	EtherTypeQinQ  = 0x88A8
	ProtoICMP      = 1
	ProtoTCP       = 6
	ProtoUDP       = 17
	ProtoICMPv6    = 58
	maxIPv6ExtHdrs = 8
)

// Layer names the header a truncated packet ended in.
type Layer string

// Layers, as tcpdump names them in "[|name]".
const (
	LayerNone   Layer = ""
	LayerEther  Layer = "ether"
	LayerVLAN   Layer = "vlan"
	LayerARP    Layer = "arp"
	LayerIPv4   Layer = "ip"
	LayerIPv6   Layer = "ip6"
	LayerTCP    Layer = "tcp"
	LayerUDP    Layer = "udp"
	LayerICMP   Layer = "icmp"
	LayerICMPv6 Layer = "icmp6"
)

// VLAN is one 802.1Q or 802.1ad tag.
type VLAN struct {
	TPID     uint16 // EtherTypeVLAN or EtherTypeQinQ
	ID       uint16 // 12-bit VLAN ID
	Priority uint8  // 3-bit PCP
}

// Packet is what Decode found in a frame. Fields of layers that were not
// present, or not captured, are zero.
type Packet struct {
	// Length is the packet's length on the wire; Captured, how many bytes
	// were decoded from.
	Length, Captured int

	SrcMAC, DstMAC net.HardwareAddr
	VLANs          []VLAN
	// EtherType is the type of the payload after any VLAN tags.
	EtherType uint16

	// ARP: operation (1 request, 2 reply) and protocol addresses.
	ARPOp                uint16
	ARPSender, ARPTarget netip.Addr

	// IP (4 or 6): addresses, the transport protocol (after IPv6 extension
	// headers), TTL or hop limit, and the IP payload length from the IP
	// header.
	IPVersion  int
	Src, Dst   netip.Addr
	Proto      uint8
	TTL        uint8
	IPID       uint16
	IPPayload  int
	Fragment   bool // a non-first fragment: no transport header follows
	MoreFrags  bool
	FragOffset int // bytes

	// Transport.
	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID, ICMPSeq  uint16
	// Payload is the transport payload length according to the headers
	// (UDP length, or IP payload minus the TCP or ICMP header).
	Payload int

	// Truncated names the layer whose header ran past the captured bytes;
	// LayerNone when every header present was captured whole.
	Truncated Layer
	// l4 is the transport layer that was decoded.
	l4 Layer
}

// Decode decodes a frame of captured bytes that was length bytes on the
// wire. It never reads outside data.
func Decode(data []byte, length int) Packet {
	p := Packet{Length: length, Captured: len(data)}
	if p.Length < len(data) {
		p.Length = len(data)
	}
	if len(data) < 14 {
		p.Truncated = LayerEther
		return p
	}
	p.DstMAC = net.HardwareAddr(data[0:6])
	p.SrcMAC = net.HardwareAddr(data[6:12])
	et := binary.BigEndian.Uint16(data[12:])
	off := 14
	for (et == EtherTypeVLAN || et == EtherTypeQinQ) && len(p.VLANs) < 2 {
		if len(data) < off+4 {
			p.Truncated = LayerVLAN
			return p
		}
		tci := binary.BigEndian.Uint16(data[off:])
		p.VLANs = append(p.VLANs, VLAN{TPID: et, ID: tci & 0x0fff, Priority: uint8(tci >> 13)})
		et = binary.BigEndian.Uint16(data[off+2:])
		off += 4
	}
	p.EtherType = et
	rest := data[off:]
	switch et {
	case EtherTypeARP:
		p.arp(rest)
	case EtherTypeIPv4:
		p.ipv4(rest)
	case EtherTypeIPv6:
		p.ipv6(rest)
	}
	return p
}

func (p *Packet) arp(b []byte) {
	if len(b) < 8 {
		p.Truncated = LayerARP
		return
	}
	p.ARPOp = binary.BigEndian.Uint16(b[6:])
	hl, pl := int(b[4]), int(b[5])
	if binary.BigEndian.Uint16(b[2:]) != EtherTypeIPv4 || pl != 4 {
		return
	}
	if len(b) < 8+2*hl+2*pl {
		p.Truncated = LayerARP
		return
	}
	p.ARPSender = netip.AddrFrom4([4]byte(b[8+hl : 8+hl+4]))
	p.ARPTarget = netip.AddrFrom4([4]byte(b[8+2*hl+4 : 8+2*hl+8]))
}

func (p *Packet) ipv4(b []byte) {
	if len(b) < 20 {
		p.Truncated = LayerIPv4
		return
	}
	ihl := int(b[0]&0x0f) * 4
	if b[0]>>4 != 4 || ihl < 20 {
		p.Truncated = LayerIPv4
		return
	}
	p.IPVersion = 4
	p.TTL = b[8]
	p.Proto = b[9]
	p.IPID = binary.BigEndian.Uint16(b[4:])
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	total := int(binary.BigEndian.Uint16(b[2:]))
	p.IPPayload = max(total-ihl, 0)
	frag := binary.BigEndian.Uint16(b[6:])
	p.MoreFrags = frag&0x2000 != 0
	p.FragOffset = int(frag&0x1fff) * 8
	p.Fragment = p.FragOffset != 0
	if len(b) < ihl {
		p.Truncated = LayerIPv4
		return
	}
	if p.Fragment {
		return
	}
	p.transport(b[ihl:])
}

func (p *Packet) ipv6(b []byte) {
	if len(b) < 40 || b[0]>>4 != 6 {
		p.Truncated = LayerIPv6
		return
	}
	p.IPVersion = 6
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.IPPayload = int(binary.BigEndian.Uint16(b[4:]))
	next := b[6]
	b = b[40:]
ext:
	for range maxIPv6ExtHdrs {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				p.Proto = next
				p.Truncated = LayerIPv6
				return
			}
			n := (int(b[1]) + 1) * 8
			p.IPPayload -= n
			if len(b) < n {
				p.Proto = next
				p.Truncated = LayerIPv6
				return
			}
			next, b = b[0], b[n:]
			continue
		case 44: // fragment
			if len(b) < 8 {
				p.Proto = next
				p.Truncated = LayerIPv6
				return
			}
			fo := binary.BigEndian.Uint16(b[2:])
			p.FragOffset = int(fo>>3) * 8
			p.MoreFrags = fo&1 != 0
			p.Fragment = p.FragOffset != 0
			p.IPPayload -= 8
			next, b = b[0], b[8:]
			if p.Fragment {
				p.Proto = next
				return
			}
			continue
		}
		break ext
	}
	p.Proto = next
	p.IPPayload = max(p.IPPayload, 0)
	p.transport(b)
}

func (p *Packet) transport(b []byte) {
	switch p.Proto {
	case ProtoUDP:
		p.l4 = LayerUDP
		if len(b) < 8 {
			p.Truncated = LayerUDP
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Payload = max(int(binary.BigEndian.Uint16(b[4:]))-8, 0)
	case ProtoTCP:
		p.l4 = LayerTCP
		if len(b) < 20 {
			p.Truncated = LayerTCP
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:])
		p.DstPort = binary.BigEndian.Uint16(b[2:])
		p.Seq = binary.BigEndian.Uint32(b[4:])
		p.Ack = binary.BigEndian.Uint32(b[8:])
		p.TCPFlags = b[13]
		p.Window = binary.BigEndian.Uint16(b[14:])
		p.Payload = max(p.IPPayload-int(b[12]>>4)*4, 0)
	case ProtoICMP, ProtoICMPv6:
		p.l4 = LayerICMP
		if p.Proto == ProtoICMPv6 {
			p.l4 = LayerICMPv6
		}
		if len(b) < 4 {
			p.Truncated = p.l4
			return
		}
		p.ICMPType, p.ICMPCode = b[0], b[1]
		p.Payload = max(p.IPPayload-8, 0)
		if p.isEcho() {
			if len(b) < 8 {
				p.Truncated = p.l4
				return
			}
			p.ICMPID = binary.BigEndian.Uint16(b[4:])
			p.ICMPSeq = binary.BigEndian.Uint16(b[6:])
		}
	}
}

func (p *Packet) isEcho() bool {
	if p.Proto == ProtoICMP {
		return p.ICMPType == 0 || p.ICMPType == 8
	}
	return p.ICMPType == 128 || p.ICMPType == 129
}

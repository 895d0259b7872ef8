package trafgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// Proto is the transport protocol of generated frames.
type Proto uint8

// Protocols a Generator can send.
const (
	UDP Proto = 17
	TCP Proto = 6
)

// String returns "udp" or "tcp".
func (p Proto) String() string {
	switch p {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// ParseProto parses "udp" or "tcp".
func ParseProto(s string) (Proto, error) {
	switch s {
	case "udp", "UDP":
		return UDP, nil
	case "tcp", "TCP":
		return TCP, nil
	}
	return 0, fmt.Errorf("parse protocol %q: want udp or tcp", s)
}

// Frame sizes a Generator accepts: the Ethernet frame without its FCS.
const (
	MinUDPSize = 14 + 20 + 8
	MinTCPSize = 14 + 20 + 20
	MaxSize    = 1514
)

// Template describes the frame a Generator repeats.
type Template struct {
	SrcMAC, DstMAC   net.HardwareAddr // Ethernet source and destination
	SrcIP, DstIP     netip.Addr       // IPv4
	SrcPort, DstPort uint16           // SrcPort is the first of Flows source ports
	Proto            Proto            // UDP or TCP
	// Size is the frame length in bytes, Ethernet header included and FCS
	// excluded: MinUDPSize or MinTCPSize up to MaxSize.
	Size int
}

// Payload returns the payload bytes a frame of the template carries: byte i
// is i modulo 256. Tests compare captured payloads against it.
func (t Template) Payload() []byte {
	n := t.Size - MinUDPSize
	if t.Proto == TCP {
		n = t.Size - MinTCPSize
	}
	if n < 0 {
		n = 0
	}
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

func (t Template) check() error {
	if len(t.SrcMAC) != 6 || len(t.DstMAC) != 6 {
		return fmt.Errorf("build frame: source and destination MAC must be Ethernet addresses, got %q and %q", t.SrcMAC, t.DstMAC)
	}
	if !t.SrcIP.Is4() || !t.DstIP.Is4() {
		return fmt.Errorf("build frame: source and destination must be IPv4 addresses, got %v and %v", t.SrcIP, t.DstIP)
	}
	min := MinUDPSize
	switch t.Proto {
	case UDP:
	case TCP:
		min = MinTCPSize
	default:
		return fmt.Errorf("build frame: protocol %v not supported, want udp or tcp", t.Proto)
	}
	if t.Size < min || t.Size > MaxSize {
		return fmt.Errorf("build frame: size %d out of range for %v: want %d to %d", t.Size, t.Proto, min, MaxSize)
	}
	return nil
}

// Frame builds the template frame with correct IPv4 and L4 checksums.
func (t Template) Frame() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := make([]byte, t.Size)
	copy(b[0:6], t.DstMAC)
	copy(b[6:12], t.SrcMAC)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(t.Size-14))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64
	ip[9] = byte(t.Proto)
	src, dst := t.SrcIP.As4(), t.DstIP.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip, 0)))

	l4 := b[34:]
	var hdrLen, csumOff int
	switch t.Proto {
	case UDP:
		hdrLen, csumOff = 8, 6
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	case TCP:
		hdrLen, csumOff = 20, 16
		binary.BigEndian.PutUint32(l4[4:], 1)     // sequence number
		binary.BigEndian.PutUint32(l4[8:], 1)     // acknowledgement number
		l4[12] = 5 << 4                           // data offset: 5 words
		l4[13] = 0x18                             // ACK|PSH
		binary.BigEndian.PutUint16(l4[14:], 8192) // window
	}
	binary.BigEndian.PutUint16(l4[0:], t.SrcPort)
	binary.BigEndian.PutUint16(l4[2:], t.DstPort)
	copy(l4[hdrLen:], t.Payload())
	// Pseudo-header: addresses, protocol, L4 length.
	var ph [12]byte
	copy(ph[0:4], src[:])
	copy(ph[4:8], dst[:])
	ph[9] = byte(t.Proto)
	binary.BigEndian.PutUint16(ph[10:], uint16(len(l4)))
	c := ^fold(sum(l4, sum(ph[:], 0)))
	if c == 0 && t.Proto == UDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[csumOff:], c)
	return b, nil
}

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

package pktfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/ingest/packet"
)

// Record is one captured packet as the capture path hands it over.
type Record struct {
	// TsNs is the capture time in nanoseconds since the Unix epoch.
	TsNs uint64
	// Iface is the name of the interface the packet was seen on.
	Iface string
	// Header is the kernel's record header.
	Header packet.Header
	// Data is the captured bytes (Header.CapLen of them).
	Data []byte
}

// Location is the time zone text timestamps are printed in; tcpdump prints
// local time.
var Location = time.Local

// direction returns "in", "out" or "?".
func direction(d uint8) string {
	switch d {
	case packet.RecordIngress:
		return "in"
	case packet.RecordEgress:
		return "out"
	}
	return "?"
}

// AppendText appends a one-line, tcpdump-style summary of r to dst,
// without a trailing newline, for example
//
//	15:04:05.000000123 veth0 in IP 10.1.0.1.40000 > 10.1.0.2.9: UDP, length 18
func AppendText(dst []byte, r *Record) []byte {
	p := Decode(r.Data, int(r.Header.OrigLen))
	dst = time.Unix(0, int64(r.TsNs)).In(Location).AppendFormat(dst, "15:04:05.000000000")
	dst = append(dst, ' ')
	dst = append(dst, r.Iface...)
	dst = append(dst, ' ')
	dst = append(dst, direction(r.Header.Direction)...)
	dst = append(dst, ' ')
	return p.AppendText(dst)
}

// AppendText appends the summary of the decoded packet, starting at the
// link layer, as tcpdump prints it without -e.
func (p *Packet) AppendText(dst []byte) []byte {
	if p.Truncated == LayerEther {
		return fmt.Appendf(dst, "[|ether], length %d", p.Length)
	}
	for _, v := range p.VLANs {
		dst = fmt.Appendf(dst, "vlan %d, p %d, ", v.ID, v.Priority)
	}
	if p.Truncated == LayerVLAN {
		return fmt.Appendf(dst, "[|vlan], length %d", p.Length)
	}
	switch p.EtherType {
	case EtherTypeARP:
		return p.appendARP(dst)
	case EtherTypeIPv4, EtherTypeIPv6:
		if p.IPVersion == 0 {
			return fmt.Appendf(dst, "[|%s], length %d", p.Truncated, p.Length)
		}
		return p.appendIP(dst)
	}
	return fmt.Appendf(dst, "ethertype 0x%04x, length %d", p.EtherType, p.Length)
}

func (p *Packet) appendARP(dst []byte) []byte {
	if p.Truncated == LayerARP || !p.ARPSender.IsValid() {
		return fmt.Appendf(dst, "ARP, [|arp], length %d", p.Length)
	}
	switch p.ARPOp {
	case 1:
		return fmt.Appendf(dst, "ARP, Request who-has %s tell %s, length %d", p.ARPTarget, p.ARPSender, p.Length)
	case 2:
		return fmt.Appendf(dst, "ARP, Reply %s is-at %s, length %d", p.ARPSender, p.SrcMAC, p.Length)
	}
	return fmt.Appendf(dst, "ARP, op %d, length %d", p.ARPOp, p.Length)
}

// tcpFlags renders TCP flags the way tcpdump does: S F R P U E W, and "."
// for ACK.
func tcpFlags(dst []byte, f uint8) []byte {
	dst = append(dst, '[')
	start := len(dst)
	for _, x := range []struct {
		bit uint8
		c   byte
	}{{0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}, {0x10, '.'}} {
		if f&x.bit != 0 {
			dst = append(dst, x.c)
		}
	}
	if len(dst) == start {
		dst = append(dst, "none"...)
	}
	return append(dst, ']')
}

func (p *Packet) appendIP(dst []byte) []byte {
	if p.IPVersion == 6 {
		dst = append(dst, "IP6 "...)
	} else {
		dst = append(dst, "IP "...)
	}
	hasPorts := !p.Fragment && (p.l4 == LayerTCP || p.l4 == LayerUDP) && p.Truncated != p.l4
	dst = p.Src.AppendTo(dst)
	if hasPorts {
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, uint64(p.SrcPort), 10)
	}
	dst = append(dst, " > "...)
	dst = p.Dst.AppendTo(dst)
	if hasPorts {
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, uint64(p.DstPort), 10)
	}
	dst = append(dst, ": "...)
	if p.Fragment {
		return fmt.Appendf(dst, "ip-proto-%d, fragment offset %d, length %d", p.Proto, p.FragOffset, p.IPPayload)
	}
	if p.Truncated == LayerIPv4 || p.Truncated == LayerIPv6 {
		return fmt.Appendf(dst, "[|%s]", p.Truncated)
	}
	if p.Truncated != LayerNone {
		return fmt.Appendf(dst, "[|%s]", p.Truncated)
	}
	switch p.l4 {
	case LayerUDP:
		return fmt.Appendf(dst, "UDP, length %d", p.Payload)
	case LayerTCP:
		dst = append(dst, "Flags "...)
		dst = tcpFlags(dst, p.TCPFlags)
		if p.Payload > 0 {
			dst = fmt.Appendf(dst, ", seq %d:%d", p.Seq, uint64(p.Seq)+uint64(p.Payload))
		} else if p.TCPFlags&0x07 != 0 {
			dst = fmt.Appendf(dst, ", seq %d", p.Seq)
		}
		if p.TCPFlags&0x10 != 0 {
			dst = fmt.Appendf(dst, ", ack %d", p.Ack)
		}
		return fmt.Appendf(dst, ", win %d, length %d", p.Window, p.Payload)
	case LayerICMP, LayerICMPv6:
		name := icmpName(p.Proto, p.ICMPType)
		prefix := "ICMP "
		if p.Proto == ProtoICMPv6 {
			prefix = "ICMP6, "
		}
		if p.isEcho() {
			return fmt.Appendf(dst, "%s%s, id %d, seq %d, length %d", prefix, name, p.ICMPID, p.ICMPSeq, p.IPPayload)
		}
		return fmt.Appendf(dst, "%s%s, code %d, length %d", prefix, name, p.ICMPCode, p.IPPayload)
	}
	return fmt.Appendf(dst, "ip-proto-%d %d", p.Proto, p.IPPayload)
}

func icmpName(proto, typ uint8) string {
	if proto == ProtoICMP {
		switch typ {
		case 0:
			return "echo reply"
		case 3:
			return "unreachable"
		case 8:
			return "echo request"
		case 11:
			return "time exceeded"
		}
	} else {
		switch typ {
		case 1:
			return "destination unreachable"
		case 3:
			return "time exceeded"
		case 128:
			return "echo request"
		case 129:
			return "echo reply"
		case 130:
			return "multicast listener query"
		case 131:
			return "multicast listener report"
		case 133:
			return "router solicitation"
		case 134:
			return "router advertisement"
		case 135:
			return "neighbor solicitation"
		case 136:
			return "neighbor advertisement"
		case 143:
			return "multicast listener report v2"
		}
	}
	return "type " + strconv.Itoa(int(typ))
}

// jsonRecord is the JSON form of a record; see AppendJSON.
type jsonRecord struct {
	Time       string    `json:"time"`
	TsNs       uint64    `json:"ts_ns"`
	Iface      string    `json:"iface"`
	Ifindex    uint32    `json:"ifindex"`
	Direction  string    `json:"direction"`
	Length     int       `json:"len"`
	CapLen     int       `json:"caplen"`
	SampleRate uint32    `json:"sample_rate"`
	SampleMode string    `json:"sample_mode,omitempty"`
	CPU        uint32    `json:"cpu"`
	Seq        uint64    `json:"seq"`
	Eth        *jsonEth  `json:"eth,omitempty"`
	VLANs      []jsonTag `json:"vlan,omitempty"`
	ARP        *jsonARP  `json:"arp,omitempty"`
	IP         *jsonIP   `json:"ip,omitempty"`
	TCP        *jsonTCP  `json:"tcp,omitempty"`
	UDP        *jsonUDP  `json:"udp,omitempty"`
	ICMP       *jsonICMP `json:"icmp,omitempty"`
	Truncated  string    `json:"truncated,omitempty"`
	Summary    string    `json:"summary"`
}

type jsonEth struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Type string `json:"type"`
}

type jsonTag struct {
	TPID     string `json:"tpid"`
	ID       uint16 `json:"id"`
	Priority uint8  `json:"pcp"`
}

type jsonARP struct {
	Op     uint16 `json:"op"`
	Sender string `json:"sender,omitempty"`
	Target string `json:"target,omitempty"`
}

type jsonIP struct {
	Version    int    `json:"version"`
	Src        string `json:"src"`
	Dst        string `json:"dst"`
	Proto      uint8  `json:"proto"`
	TTL        uint8  `json:"ttl"`
	ID         uint16 `json:"id,omitempty"`
	Payload    int    `json:"payload_len"`
	FragOffset int    `json:"frag_offset,omitempty"`
	MoreFrags  bool   `json:"more_fragments,omitempty"`
}

type jsonTCP struct {
	SrcPort uint16 `json:"sport"`
	DstPort uint16 `json:"dport"`
	Flags   string `json:"flags"`
	Seq     uint32 `json:"seq"`
	Ack     uint32 `json:"ack"`
	Window  uint16 `json:"win"`
	Payload int    `json:"payload_len"`
}

type jsonUDP struct {
	SrcPort uint16 `json:"sport"`
	DstPort uint16 `json:"dport"`
	Payload int    `json:"payload_len"`
}

type jsonICMP struct {
	Type uint8  `json:"type"`
	Code uint8  `json:"code"`
	Name string `json:"name"`
	ID   uint16 `json:"id,omitempty"`
	Seq  uint16 `json:"seq,omitempty"`
}

// sampleMode names how the sampler chose a packet (cabi.SampleRandom,
// cabi.SampleFlow) for JSON: "random", "flow", or "" when the packet was
// not sampled (or the record predates sampling modes).
func sampleMode(m uint8) string {
	switch m {
	case cabi.SampleRandom:
		return "random"
	case cabi.SampleFlow:
		return "flow"
	case cabi.SampleNone:
		return ""
	}
	return "mode " + strconv.Itoa(int(m))
}

// AppendJSON appends r as one JSON object (no trailing newline) to dst: the
// record's metadata, every decoded header, the truncated layer if any, and
// the text summary.
func AppendJSON(dst []byte, r *Record) []byte {
	p := Decode(r.Data, int(r.Header.OrigLen))
	j := jsonRecord{
		Time:       time.Unix(0, int64(r.TsNs)).UTC().Format(time.RFC3339Nano),
		TsNs:       r.TsNs,
		Iface:      r.Iface,
		Ifindex:    r.Header.Ifindex,
		Direction:  direction(r.Header.Direction),
		Length:     p.Length,
		CapLen:     p.Captured,
		SampleRate: r.Header.SampleRate,
		SampleMode: sampleMode(r.Header.SampleMode),
		CPU:        r.Header.CPU,
		Seq:        r.Header.Seq,
		Truncated:  string(p.Truncated),
		Summary:    string(p.AppendText(nil)),
	}
	if p.Truncated != LayerEther {
		j.Eth = &jsonEth{Src: p.SrcMAC.String(), Dst: p.DstMAC.String(), Type: fmt.Sprintf("0x%04x", p.EtherType)}
	}
	for _, v := range p.VLANs {
		j.VLANs = append(j.VLANs, jsonTag{TPID: fmt.Sprintf("0x%04x", v.TPID), ID: v.ID, Priority: v.Priority})
	}
	if p.EtherType == EtherTypeARP && p.Truncated != LayerARP {
		j.ARP = &jsonARP{Op: p.ARPOp}
		if p.ARPSender.IsValid() {
			j.ARP.Sender, j.ARP.Target = p.ARPSender.String(), p.ARPTarget.String()
		}
	}
	if p.IPVersion != 0 {
		j.IP = &jsonIP{Version: p.IPVersion, Src: p.Src.String(), Dst: p.Dst.String(), Proto: p.Proto, TTL: p.TTL,
			ID: p.IPID, Payload: p.IPPayload, FragOffset: p.FragOffset, MoreFrags: p.MoreFrags}
	}
	if p.Truncated != p.l4 {
		switch p.l4 {
		case LayerTCP:
			j.TCP = &jsonTCP{SrcPort: p.SrcPort, DstPort: p.DstPort, Flags: string(tcpFlags(nil, p.TCPFlags)),
				Seq: p.Seq, Ack: p.Ack, Window: p.Window, Payload: p.Payload}
		case LayerUDP:
			j.UDP = &jsonUDP{SrcPort: p.SrcPort, DstPort: p.DstPort, Payload: p.Payload}
		case LayerICMP, LayerICMPv6:
			j.ICMP = &jsonICMP{Type: p.ICMPType, Code: p.ICMPCode, Name: icmpName(p.Proto, p.ICMPType), ID: p.ICMPID, Seq: p.ICMPSeq}
		}
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&j); err != nil {
		// Every field is a plain string or number; encoding cannot fail.
		panic("pktfmt: encode record: " + err.Error())
	}
	out := buf.Bytes()
	return out[:len(out)-1] // Encode adds a newline
}

// Package pktfmt turns captured packet records into text and JSON for
// people: a one-line summary in the style of tcpdump, and a JSON object with
// the decoded headers.
//
// Decode parses the captured bytes itself (Ethernet, up to two 802.1Q or
// 802.1ad tags, ARP, IPv4, IPv6 with extension headers, TCP, UDP, ICMP and
// ICMPv6); it does not rely on the kernel's parse. It never reads past the
// captured bytes and never panics: a header cut short by the snaplen is
// reported as truncated, the way tcpdump prints "[|udp]".
package pktfmt

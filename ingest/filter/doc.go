// Package filter compiles tcpdump filter expressions (the pcap-filter
// language, see pcap-filter(7)) to eBPF for the filter hook of weir's packet
// programs, in pure Go and without libpcap.
//
// Parse turns an expression into an Expr, resolving tcpdump's
// abbreviations ("host a or b", "tcp port 80 or 443") and the offsets of
// every header it reads, including the shift that each "vlan" and "mpls"
// applies to what follows it. Expr.Compile turns it into the body of
//
//	int weir_filter(void *ctx, const struct weir_filter_args *args)
//
// (see Config.Filter in ingest/packet). The program reads packet bytes from
// the copy of the packet's head in args and, beyond it, with
// bpf_xdp_load_bytes (bpf_skb_load_bytes in TCX programs), so no expression
// is limited by the size of that copy. It follows libpcap's semantics for
// Ethernet savefiles, which the tests check against tcpdump itself: headers
// are found at the offsets tcpdump uses (a VLAN-tagged packet is IP only
// after "vlan"), arithmetic is unsigned 32-bit, and a load beyond the end of
// the packet, or a division by zero, rejects the packet whatever the rest
// of the expression says.
//
// Beyond tcpdump on savefiles, "inbound", "outbound" and "ifindex N" test
// the direction and interface of the hook that saw the packet.
//
// What is not supported is refused with an *Error naming the column: host
// and service names (weir does no name lookups), "gateway", "protochain",
// and link types and protocols other than those documented in
// docs/filters.md.
package filter

// Package packet is the "packet" source: it captures packets with the eBPF
// programs of ingest/packet and hands the kernel's records to the engine
// without copying them, with the kernel's counters as its own.
package packet

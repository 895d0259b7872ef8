// Package stdout is the "stdout" sink: it prints events as text or JSON
// lines, or packets as tcpdump-like or JSON lines.
package stdout

package main

import (
	"bytes"
	"net/netip"
	"sync"
)

// lockedBuf is a bytes.Buffer safe for a writing process and a poller.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

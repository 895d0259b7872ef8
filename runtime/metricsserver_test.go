package runtime

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// metricsEngine starts an engine serving metrics on a loopback port and
// returns the port's address.
func metricsEngine(t *testing.T) string {
	t.Helper()
	f := newFixture()
	f.newSrc = func(string) *testSource { return &testSource{eventsPer: 1, size: 8, limit: 1} }
	opts := testOpts()
	opts.MetricsAddr = "127.0.0.1:0"
	e := startEngine(t, graph([]string{"in:src", "out:sink"}, nil, EdgeDef{From: "in", To: "out"}), f, opts)
	return e.MetricsAddr()
}

// safety bounds how long a test waits for what should happen, so a
// broken server fails the test instead of hanging it. It is not a speed
// requirement: passing tests never get near it.
const safety = 20 * time.Second

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(safety))
	return c
}

// TestMetricsHeaderTimeout checks that the server closes a connection whose
// request headers never finish once metricsReadHeaderTimeout has passed.
func TestMetricsHeaderTimeout(t *testing.T) {
	defer func(d time.Duration) { metricsReadHeaderTimeout = d }(metricsReadHeaderTimeout)
	metricsReadHeaderTimeout = 50 * time.Millisecond
	c := dial(t, metricsEngine(t))
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: weir\r\n"); err != nil {
		t.Fatal(err)
	}
	// The server closes the connection (it may first answer 408).
	_, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("half-sent request still open after %v; want it closed after the header timeout", safety)
	}
}

// TestMetricsConnLimit checks that the server serves no more than
// metricsMaxConns connections at once: a request on one connection more
// waits until another closes.
func TestMetricsConnLimit(t *testing.T) {
	defer func(n int) { metricsMaxConns = n }(metricsMaxConns)
	metricsMaxConns = 2
	addr := metricsEngine(t)
	get := func(c net.Conn) {
		t.Helper()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: weir\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// Two connections take both slots and keep them (keep-alive).
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range held {
		get(c)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	extra := dial(t, addr)
	get(extra)
	// The third is not served while both slots are held. (A broken limit
	// would answer at once; the wait only bounds how long we look.)
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := bufio.NewReader(extra).ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection read = %v; want no answer while %d connections are open", err, metricsMaxConns)
	}
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(safety))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("third connection after one closed: %v; want an answer", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok") {
		t.Errorf("third connection got %d %q; want 200 ok", resp.StatusCode, body)
	}
}

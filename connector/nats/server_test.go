package nats

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testServer is a real NATS server with JetStream, run in-process on
// 127.0.0.1 with its store in a temporary directory. Restart keeps the
// port and the store, as a restarted server process would.
type testServer struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// startServer starts a server; mod may change its options first.
func startServer(t testing.TB, mod func(*server.Options)) *testServer {
	t.Helper()
	ts := &testServer{t: t, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if mod != nil {
		mod(&ts.opts)
	}
	ts.start()
	ts.opts.Port = ts.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	opts := ts.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		ts.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		ts.t.Fatal("nats server not ready in 10s")
	}
	ts.srv = s
}

// stop shuts the server down, as a killed server would vanish for its
// clients.
func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Shutdown()
		ts.srv.WaitForShutdown()
		ts.srv = nil
	}
}

func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.start()
}

// url is the server's client URL, stable across restarts.
func (ts *testServer) url() string {
	return "nats://" + net.JoinHostPort(ts.opts.Host, strconv.Itoa(ts.opts.Port))
}

// client connects a plain nats.go client to the server, for setting up
// streams and reading back what the connectors published.
func (ts *testServer) client() (*nats.Conn, jetstream.JetStream) {
	ts.t.Helper()
	nc, err := nats.Connect(ts.url(), nats.UserInfo(ts.opts.Username, ts.opts.Password))
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		ts.t.Fatal(err)
	}
	return nc, js
}

// addStream creates a file-backed stream capturing subjects.
func (ts *testServer) addStream(name string, subjects ...string) jetstream.Stream {
	ts.t.Helper()
	_, js := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.FileStorage})
	if err != nil {
		ts.t.Fatal(err)
	}
	return st
}

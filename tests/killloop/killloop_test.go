package killloop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is a real NATS server with JetStream, in-process on
// 127.0.0.1; restart keeps its port and store, as a restarted server
// process would.
type natsServer struct {
	t    *testing.T
	opts server.Options
	srv  *server.Server
}

func startServer(t *testing.T) *natsServer {
	s := &natsServer{t: t, opts: server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true}}
	s.start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) start() {
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats server not ready in 10s")
	}
	s.srv = srv
}

func (s *natsServer) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

func (s *natsServer) url() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// publisher publishes events 1, 2, 3... to in.events at a steady rate, in
// chunks whose every message JetStream must acknowledge before the next
// chunk; a chunk that fails (the server restarting) is published again,
// and its message IDs (the sequence numbers) keep JetStream from storing
// a message twice. acked is the last sequence number acknowledged.
type publisher struct {
	acked atomic.Uint64
	stop  chan struct{}
	done  chan struct{}
}

const (
	payloadSize = 64
	chunk       = 100
)

func startPublisher(t *testing.T, js jetstream.JetStream, rate int) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		pause := time.Duration(float64(time.Second) * chunk / float64(rate))
		for next := uint64(1); ; next += chunk {
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				if p.publish(js, next) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			p.acked.Store(next + chunk - 1)
			select {
			case <-p.stop:
				return
			case <-time.After(pause):
			}
		}
	}()
	return p
}

func (p *publisher) publish(js jetstream.JetStream, first uint64) bool {
	var futs []jetstream.PubAckFuture
	for seq := first; seq < first+chunk; seq++ {
		data := make([]byte, payloadSize)
		binary.LittleEndian.PutUint64(data, seq)
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: "in.events", Data: data}, jetstream.WithMsgID(strconv.FormatUint(seq, 10)))
		if err != nil {
			return false
		}
		futs = append(futs, f)
	}
	timeout := time.After(3 * time.Second)
	for _, f := range futs {
		select {
		case <-f.Ok():
		case <-f.Err():
			return false
		case <-timeout:
			return false
		}
	}
	return true
}

func (p *publisher) finish() uint64 {
	close(p.stop)
	<-p.done
	return p.acked.Load()
}

// buildWeir returns $WEIR_BIN (make kill-loop passes bin/weir), or builds
// the weir binary, as make build does, into the test's temporary
// directory.
func buildWeir(t *testing.T) string {
	if bin := os.Getenv("WEIR_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "weir")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/weirproject/weir/cmd/weir")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build weir: %v\n%s", err, out)
	}
	return bin
}

const config = `connectors:
  in:
    type: nats_in
    config: {url: %[1]q, mode: jetstream, subject: in.events, stream: IN, durable: weir, ack_wait: 2s}
  out:
    type: nats_out
    config: {url: %[1]q, mode: jetstream, subject: out, stream: OUT, max_pending: 64}
connections:
  - from: in
    to: out
    buffer: {type: disk, path: %[2]q, max_size: 64MiB, fsync: %[3]s}
`

var recovered = regexp.MustCompile(`disk buffer recovered.* replaying_records=(\d+) replaying_events=(\d+).* corrupt_bytes=(\d+) torn_bytes=(\d+)`)

// TestKillLoop kills `weir run` with SIGKILL at random moments under
// steady load, restarting the NATS server twice while weir runs, then
// lets a last run deliver what is left and checks that every event the
// publisher got acknowledged reached the output stream, counting
// duplicates and checking that each is explained by its message IDs.
func TestKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("the kill -9 loop takes about 50 s")
	}
	kills, rate, fsync := 20, 4000, "100ms"
	if v := os.Getenv("WEIR_KILL_LOOPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 {
			t.Fatalf("WEIR_KILL_LOOPS=%q: want a number of kills, at least 3", v)
		}
		kills = n
	}
	if v := os.Getenv("WEIR_KILL_FSYNC"); v != "" {
		fsync = v
	}
	began := time.Now()
	bin := buildWeir(t)
	t.Logf("built weir in %v", time.Since(began).Round(time.Millisecond))
	srv := startServer(t)
	_, js := connect(t, srv.url())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, subj := range map[string]string{"IN": "in.events", "OUT": "out"} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj},
			Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "weir.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(config, srv.url(), filepath.Join(dir, "buffer"), fsync)), 0o644)
	logf, err := os.Create(filepath.Join(dir, "weir.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	pub := startPublisher(t, js, rate)
	restarts := map[int]bool{kills / 3: true, 2 * kills / 3: true}
	start := time.Now()
	for i := 0; i < kills; i++ {
		cmd := exec.Command(bin, "run", "-c", cfg, "--metrics", "off", "--log-level", "info")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		if restarts[i] {
			// The server goes away under a running weir and comes back.
			srv.stop()
			time.Sleep(200 * time.Millisecond)
			srv.start()
			time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	produced := pub.finish()
	loopTime := time.Since(start)

	// A last run, not killed, delivers what is left.
	var summary bytes.Buffer
	cmd := exec.Command(bin, "run", "-c", cfg, "--metrics", "off", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = &summary, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64][]string{}
	var distinctSeen uint64
	total := readStream(t, js, "OUT", func(seq uint64, id string) bool {
		if len(seen[seq]) == 0 && seq >= 1 && seq <= produced {
			distinctSeen++
		}
		seen[seq] = append(seen[seq], id)
		return distinctSeen == produced
	})
	t.Logf("the last run delivered the rest in %v", time.Since(start.Add(loopTime)).Round(time.Millisecond))
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("last weir run: %v\n%s", err, summary.String())
	}

	// The ledger.
	var delivered, missing, dupEvents, dupCopies, sharedID, unknown uint64
	for seq, ids := range seen {
		if seq < 1 || seq > produced {
			unknown++
			continue
		}
		if len(ids) > 1 {
			dupEvents++
			dupCopies += uint64(len(ids) - 1)
			if distinct(ids) < len(ids) {
				sharedID++
			}
		}
	}
	delivered = countUpTo(seen, produced)
	missing = produced - delivered
	logData, _ := os.ReadFile(logf.Name())
	var runsReplaying, replayedEvents, corrupt, torn uint64
	for _, m := range recovered.FindAllStringSubmatch(string(logData), -1) {
		runsReplaying++
		replayedEvents += atoi(m[2])
		corrupt += atoi(m[3])
		torn += atoi(m[4])
	}
	ledger := fmt.Sprintf(`kill -9 loop ledger (%d kills of weir run in %v, NATS server restarted %d times, fsync %s):
  produced (acknowledged by stream IN):   %d events
  delivered to stream OUT at least once:  %d
  missing (lost):                         %d
  delivered more than once:               %d events, %d extra copies (OUT holds %d messages)
    of which sharing a message ID:        %d (JetStream's duplicate window should have dropped these)
    with distinct message IDs:            %d: the same event in batches grouped differently, because
                                          IN redelivered messages weir had not acked when it was killed
  not produced by the publisher:          %d
  runs that found a buffer to replay:     %d of %d (%d events replayed in all; %d corrupt and %d torn bytes recovered)
  dropped with a reason:                  not counted across kills (a killed run prints no summary); a
                                          batch a run drops is failed back to IN, which redelivers it, so
                                          a drop would show above only as a duplicate, never as missing
`, kills, loopTime.Round(time.Second), len(restarts), fsync, produced, delivered, missing, dupEvents, dupCopies, total,
		sharedID, dupEvents-sharedID, unknown, runsReplaying, kills+1, replayedEvents, corrupt, torn)
	t.Log("\n" + ledger)
	t.Log("last run's summary:\n" + summary.String())
	if missing != 0 || unknown != 0 || sharedID != 0 {
		t.Errorf("the ledger does not hold: %d missing, %d unknown, %d duplicates sharing an ID", missing, unknown, sharedID)
		for seq := uint64(1); seq <= produced && missing > 0; seq++ {
			if len(seen[seq]) == 0 {
				t.Errorf("first missing event: %d", seq)
				break
			}
		}
	}
	if produced < uint64(kills)*chunk {
		t.Errorf("the publisher got only %d events acknowledged in %d runs; the load was not steady", produced, kills)
	}
	if !strings.Contains(summary.String(), "accounting: balanced") {
		t.Errorf("the last run's summary does not balance:\n%s", summary.String())
	}
}

// readStream reads every message of stream, in order, handing each to fn
// with the event's sequence number and its message ID, until fn returns
// true or no message comes for 20 s. It returns how many it read.
func readStream(t *testing.T, js jetstream.JetStream, stream string, fn func(seq uint64, id string) bool) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(20*time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", stream, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			n++
			data := m.Data()
			if len(data) < 8 {
				t.Errorf("message %d of %s has %d bytes", n, stream, len(data))
				continue
			}
			if fn(binary.LittleEndian.Uint64(data), m.Headers().Get(jetstream.MsgIDHeader)) {
				return n
			}
		}
		if got == 0 {
			t.Errorf("no message in %s for 20 s after %d", stream, n)
			return n
		}
	}
}

// countUpTo counts the sequence numbers 1..max seen at least once.
func countUpTo(seen map[uint64][]string, max uint64) uint64 {
	var n uint64
	for seq, ids := range seen {
		if seq >= 1 && seq <= max && len(ids) > 0 {
			n++
		}
	}
	return n
}

func distinct(ids []string) int {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return len(m)
}

func atoi(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits of the metrics and health server, so that slow or idle clients
// cannot hold connections or goroutines without end. They are variables so
// that tests can shorten them.
var (
	metricsReadHeaderTimeout = 5 * time.Second
	metricsReadTimeout       = 10 * time.Second
	metricsWriteTimeout      = 10 * time.Second
	metricsIdleTimeout       = 60 * time.Second
	// metricsMaxConns is how many connections the server serves at once;
	// further ones wait in the listen backlog until one closes.
	metricsMaxConns = 64
)

// serveMetrics listens on addr and serves the engine's handler.
func (e *engine) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	ln = newLimitListener(ln, metricsMaxConns)
	e.ln = ln
	addr = ln.Addr().String()
	e.addr.Store(&addr)
	e.srv = &http.Server{
		Handler:           e.handler(),
		ReadHeaderTimeout: metricsReadHeaderTimeout,
		ReadTimeout:       metricsReadTimeout,
		WriteTimeout:      metricsWriteTimeout,
		IdleTimeout:       metricsIdleTimeout,
	}
	go func() {
		if err := e.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			e.opts.Log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// limitListener is a net.Listener that has at most n accepted connections
// open at once: Accept waits for one to close before taking another.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and wakes an Accept waiting for a free slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (e *engine) metricsAddr() string {
	if a := e.addr.Load(); a != nil {
		return *a
	}
	return ""
}

func (e *engine) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		s := e.stats()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		code, body := http.StatusOK, "ok\n"
		var failed []string
		for _, c := range s.Components {
			// A connector that cannot connect is not serving either,
			// however long it retries.
			switch {
			case c.State == "failed" || c.State == "connecting":
				failed = append(failed, c.Name+" ("+c.State+")")
			case c.Circuit == "open":
				// Its sources are paused: nothing flows to it.
				failed = append(failed, c.Name+" (circuit breaker open)")
			}
		}
		if len(failed) > 0 {
			code, body = http.StatusServiceUnavailable, "not running: "+strings.Join(failed, ", ")+"\n"
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		WritePrometheus(bw, e.stats())
		bw.Flush()
	})
	return mux
}

// metric is one Prometheus metric family being written.
type metric struct {
	name, help, typ string
	samples         []sample
	// own marks a family made by connectors' own counts (a plugin's
	// metrics), which only such counts may join.
	own bool
	// series holds the label sets of own's samples, so that one plugin
	// cannot serve a series twice.
	series map[string]bool
}

type sample struct {
	labels string
	value  float64
}

// WritePrometheus writes s in the Prometheus text exposition format
// (version 0.0.4): one family per counter, labelled by component, role and
// type, or by edge.
func WritePrometheus(w io.Writer, s Snapshot) error {
	fams := map[string]*metric{}
	var order []string
	add := func(name, typ, help, labels string, v float64) {
		m, ok := fams[name]
		if !ok {
			m = &metric{name: name, help: help, typ: typ}
			fams[name] = m
			order = append(order, name)
		}
		m.samples = append(m.samples, sample{labels, v})
	}
	// Connectors' own counts are named by the plugin (weir_TYPE_NAME) and
	// are added after every built-in family, so that a type named
	// "component" or "edge" cannot join a built-in family: it would serve
	// a second series beside the host's own, with the same labels, or
	// give the host's family its help text.
	addOwn := func(name, typ, help, labels string, v float64) {
		m, ok := fams[name]
		if ok && (!m.own || m.typ != typ || m.series[labels]) {
			return
		}
		if !ok {
			m = &metric{name: name, help: help, typ: typ, own: true, series: map[string]bool{}}
			fams[name] = m
			order = append(order, name)
		}
		m.series[labels] = true
		m.samples = append(m.samples, sample{labels, v})
	}
	for _, c := range s.Components {
		l := labels("component", c.Name, "role", c.Role, "type", c.Type)
		add("weir_component_events_in_total", "counter", "Events that entered the component.", l, float64(c.EventsIn))
		add("weir_component_events_out_total", "counter", "Events the component passed on or wrote.", l, float64(c.EventsOut))
		add("weir_component_bytes_in_total", "counter", "Event bytes that entered the component.", l, float64(c.BytesIn))
		add("weir_component_bytes_out_total", "counter", "Event bytes the component passed on or wrote.", l, float64(c.BytesOut))
		add("weir_component_batches_in_total", "counter", "Batches that entered the component.", l, float64(c.BatchesIn))
		add("weir_component_batches_out_total", "counter", "Batches the component passed on or wrote.", l, float64(c.BatchesOut))
		if c.Role == StatPipeline {
			add("weir_component_events_emitted_total", "counter", "Events the pipeline's operators created; not in events_in.", l, float64(c.Emitted))
		}
		add("weir_component_events_in_flight", "gauge", "Events inside the component now.", l, float64(c.InFlight))
		add("weir_component_errors_total", "counter", "Failed connector calls.", l, float64(c.Errors))
		add("weir_component_retries_total", "counter", "Sink writes retried.", l, float64(c.Retries))
		add("weir_component_restarts_total", "counter", "Instances recreated after dying.", l, float64(c.Restarts))
		add("weir_component_panics_total", "counter", "Panics recovered from connector calls.", l, float64(c.Panics))
		add("weir_component_abandoned_total", "counter", "Instances abandoned because a call into them did not return.", l, float64(c.Abandoned))
		add("weir_component_connect_attempts_total", "counter", "Connect calls.", l, float64(c.ConnectAttempts))
		if c.Role == StatSource {
			add("weir_component_acks_total", "counter", "Batches acknowledged to the source.", l, float64(c.Acks))
			add("weir_component_fails_total", "counter", "Batches failed back to the source.", l, float64(c.Fails))
			add("weir_component_acks_dropped_total", "counter", "Batches neither acked nor failed because the source instance that produced them had ended.", l, float64(c.AcksDropped))
		}
		for _, st := range stateNames {
			add("weir_component_state", "gauge", "1 for the component's lifecycle state.", l+","+labels("state", st), b2f(c.State == st))
		}
		if c.Circuit != "" {
			add("weir_sink_circuit_state", "gauge", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", l, float64(indexString(breakerNames[:], c.Circuit)))
		}
		for _, r := range sortedKeys(c.Dropped) {
			add("weir_component_dropped_events_total", "counter", "Events the component dropped, by reason.", l+","+labels("reason", r), float64(c.Dropped[r]))
		}
	}
	for _, e := range s.Edges {
		l := labels("from", e.From, "port", e.FromPort, "to", e.To, "policy", e.Policy)
		add("weir_edge_events_in_total", "counter", "Events offered to the edge.", l, float64(e.EventsIn))
		add("weir_edge_events_out_total", "counter", "Events the consumer took from the edge.", l, float64(e.EventsOut))
		add("weir_edge_batches_in_total", "counter", "Batches offered to the edge.", l, float64(e.BatchesIn))
		add("weir_edge_batches_out_total", "counter", "Batches the consumer took from the edge.", l, float64(e.BatchesOut))
		add("weir_edge_bytes_in_total", "counter", "Event bytes offered to the edge.", l, float64(e.BytesIn))
		add("weir_edge_queue_batches", "gauge", "Batches queued on the edge.", l, float64(e.QueuedBatches))
		add("weir_edge_queue_events", "gauge", "Events queued on the edge.", l, float64(e.QueuedEvents))
		add("weir_edge_queue_capacity_batches", "gauge", "Queue capacity of the edge in batches.", l, float64(e.Capacity))
		for _, r := range sortedKeys(e.Dropped) {
			add("weir_edge_dropped_events_total", "counter", "Events the edge dropped, by reason.", l+","+labels("reason", r), float64(e.Dropped[r]))
		}
		if b := e.Buffer; b != nil {
			bl := l + "," + labels("path", b.Path)
			add("weir_buffer_buffered_events_total", "counter", "Events written to the edge's disk buffer.", bl, float64(b.Buffered))
			add("weir_buffer_written_bytes_total", "counter", "Bytes written to the edge's disk buffer, framing included.", bl, float64(b.BytesWritten))
			add("weir_buffer_replayed_events_total", "counter", "Events found in the disk buffer at start, left by an earlier run.", bl, float64(b.Replayed))
			add("weir_buffer_acked_events_total", "counter", "Events removed from the disk buffer once their consumer was done with them.", bl, float64(b.Acked))
			add("weir_buffer_unacked_events", "gauge", "Events in the disk buffer not yet acked.", bl, float64(b.Unacked))
			add("weir_buffer_bytes", "gauge", "Bytes of the disk buffer's segment files.", bl, float64(b.Bytes))
			add("weir_buffer_max_bytes", "gauge", "The disk buffer's max_size.", bl, float64(b.MaxSize))
			add("weir_buffer_segments", "gauge", "Segment files of the disk buffer.", bl, float64(b.Segments))
			add("weir_buffer_corrupt_bytes_total", "counter", "Damaged bytes skipped in the disk buffer.", bl, float64(b.CorruptBytes))
			add("weir_buffer_torn_bytes_total", "counter", "Bytes of a record cut short by a crash, cut off the disk buffer at start.", bl, float64(b.TornBytes))
			add("weir_buffer_write_errors_total", "counter", "Failed writes to the disk buffer.", bl, float64(b.WriteErrors))
			add("weir_buffer_sync_errors_total", "counter", "Failed syncs of the disk buffer.", bl, float64(b.SyncErrors))
		}
	}
	for _, c := range s.Components {
		l := labels("component", c.Name, "role", c.Role, "type", c.Type)
		for _, k := range c.Counters {
			name := "weir_" + metricName(c.Type) + "_" + metricName(k.Name)
			if k.Gauge {
				addOwn(name, "gauge", k.Help, l, float64(int64(k.Value)))
			} else {
				addOwn(strings.TrimSuffix(name, "_total")+"_total", "counter", k.Help, l, float64(k.Value))
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, name := range order {
		m := fams[name]
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, helpEscaper.Replace(m.help), m.name, m.typ)
		for _, s := range m.samples {
			fmt.Fprintf(bw, "%s{%s} %v\n", m.name, s.labels, s.value)
		}
	}
	return bw.Flush()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// labels formats name="value" pairs, escaping values as the format asks.
func labels(kv ...string) string {
	var sb strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(kv[i])
		sb.WriteString(`="`)
		sb.WriteString(labelEscaper.Replace(kv[i+1]))
		sb.WriteByte('"')
	}
	return sb.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// helpEscaper escapes a HELP text as the format asks (a plugin's help text
// may hold anything).
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// metricName makes a connector type ID (such as "packet" or "my.plugin-x")
// usable in a metric name.
func metricName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/cabi/loader"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/plugin/isolate"
)

// Connector is a runtime connector backed by a plugin instance. It
// implements connector.Source, connector.Sink and connector.Processor; the
// runtime calls only the roles its Type declares, and a call for a role the
// plugin lacks returns an error. Sources whose plugin wants acks are
// wrapped in an AckingConnector instead, which also implements
// connector.Acker.
type Connector struct {
	inst *loader.Instance
	host *host
	name string
}

// AckingConnector is a Connector whose plugin source asked for acks.
type AckingConnector struct {
	*Connector
}

var (
	_ connector.Counting  = (*Connector)(nil)
	_ connector.Source    = (*Connector)(nil)
	_ connector.Sink      = (*Connector)(nil)
	_ connector.Processor = (*Connector)(nil)
	_ connector.Acker     = AckingConnector{}
)

// newConnector creates a plugin instance of t for the runtime instance
// described by env.
func newConnector(t *loader.ConnectorType, config []byte, env connector.Env) (connector.Connector, error) {
	h := newHost(env)
	if env.Isolation.Isolated() {
		c, err := isolate.New(t, config, h, isolate.Options{Name: env.Name, Mode: env.Isolation.Mode, Deadline: env.Isolation.Deadline, Log: h.log})
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", env.Name, err)
		}
		if t.WantsAcks && t.Roles&loader.RoleSource != 0 {
			return isolate.AckingConn{Conn: c}, nil
		}
		return c, nil
	}
	inst, err := t.Create(config, h)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", env.Name, err)
	}
	inst.SetName(env.Name)
	c := &Connector{inst: inst, host: h, name: env.Name}
	if t.WantsAcks && t.Roles&loader.RoleSource != 0 {
		return AckingConnector{c}, nil
	}
	return c, nil
}

// Instance returns the underlying plugin instance.
func (c *Connector) Instance() *loader.Instance { return c.inst }

// Metrics returns the current value of every metric the plugin instance
// registered through the host API, by name.
func (c *Connector) Metrics() map[string]int64 { return c.host.snapshot() }

// Counters returns the metrics the plugin instance declared with
// metric_register, so that the engine shows them in its snapshot, the
// summary and /metrics like a built-in connector's own counts. A gauge's
// Value holds its int64 value.
//
// Once the plugin has broken the host API's thread rule (see
// loader.Instance.HostAPIMisuse), the count of such calls follows as
// host_api_misuse.
func (c *Connector) Counters() []connector.Counter {
	out := c.host.counters()
	if n := c.inst.HostAPIMisuse(); n > 0 {
		out = append(out, connector.Counter{Name: "host_api_misuse", Value: n,
			Help: "Host API calls other than wakeup that the plugin made outside any host call on the instance (from a thread it started), which plugin.h forbids."})
	}
	return out
}

// Connect calls the plugin's connect with attempt. A WEIR_RETRY answer is
// returned as an error so that the runtime retries with backoff.
func (c *Connector) Connect(_ context.Context, attempt int) error {
	st, err := c.inst.Connect(uint32(attempt))
	if err != nil {
		return err
	}
	if st == cabi.Retry {
		msg := c.inst.LastError()
		if msg == "" {
			msg = "no error message"
		}
		return fmt.Errorf("connect %s (attempt %d): plugin asked to retry: %s", c.name, attempt, msg)
	}
	return nil
}

// Start calls the plugin's start.
func (c *Connector) Start() error { return c.inst.Start() }

// Pause calls the plugin's pause.
func (c *Connector) Pause() error { return c.inst.Pause() }

// Resume calls the plugin's resume.
func (c *Connector) Resume() error { return c.inst.Resume() }

// Drain calls the plugin's drain.
func (c *Connector) Drain() error { return c.inst.Drain() }

// Stop calls the plugin's stop.
func (c *Connector) Stop() error { return c.inst.Stop() }

// Close destroys the plugin instance. Later calls do nothing.
func (c *Connector) Close() error {
	c.inst.Destroy()
	return nil
}

// Poll lets the plugin append events to b directly.
func (c *Connector) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	return c.inst.Poll(b, timeout)
}

// Write hands b to the plugin as it is.
func (c *Connector) Write(b *cabi.Batch) (cabi.Status, error) {
	return c.inst.Write(b)
}

// Process lets the plugin mark and rewrite the events of b in place.
func (c *Connector) Process(b *cabi.Batch) error {
	return c.inst.Process(b)
}

// Ack tells the plugin source that batch id was delivered. A failure is
// logged: the runtime's Acker contract has no error to return.
func (a AckingConnector) Ack(id uint64) {
	if err := a.inst.Ack(id); err != nil {
		a.host.log.Warn("plugin ack failed", "batch", id, "err", err)
	}
}

// Fail tells the plugin source that batch id was not delivered.
func (a AckingConnector) Fail(id uint64) {
	if err := a.inst.Fail(id); err != nil {
		a.host.log.Warn("plugin fail failed", "batch", id, "err", err)
	}
}

// host is the loader.Host of one plugin instance: it forwards log lines to
// the instance's logger and wakeups to the runtime, and keeps the metrics
// the plugin declares.
type host struct {
	log    *slog.Logger
	wakeup func()

	mu      sync.Mutex
	names   []string
	helps   []string
	kinds   []cabi.MetricKind
	values  []*atomic.Int64
	indexOf map[string]int32
}

func newHost(env connector.Env) *host {
	log := env.Log
	if log == nil {
		log = slog.Default().With("connector", env.Name)
	}
	return &host{log: log, wakeup: env.Wakeup, indexOf: map[string]int32{}}
}

var logLevels = [...]slog.Level{
	cabi.LogDebug: slog.LevelDebug,
	cabi.LogInfo:  slog.LevelInfo,
	cabi.LogWarn:  slog.LevelWarn,
	cabi.LogError: slog.LevelError,
}

// Log implements loader.Host.
func (h *host) Log(level int32, msg string) {
	l := slog.LevelInfo
	if level >= 0 && int(level) < len(logLevels) {
		l = logLevels[level]
	}
	h.log.Log(context.Background(), l, msg, "from", "plugin")
}

// RegisterMetric implements loader.Host.
func (h *host) RegisterMetric(name string, kind cabi.MetricKind, help string) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.indexOf[name]; ok {
		if h.kinds[id] != kind {
			return -1
		}
		return id
	}
	id := int32(len(h.names))
	h.names = append(h.names, name)
	h.helps = append(h.helps, help)
	h.kinds = append(h.kinds, kind)
	h.values = append(h.values, new(atomic.Int64))
	h.indexOf[name] = id
	return id
}

func (h *host) metric(id int32, kind cabi.MetricKind) *atomic.Int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id < 0 || int(id) >= len(h.values) || h.kinds[id] != kind {
		return nil
	}
	return h.values[id]
}

// CounterAdd implements loader.Host.
func (h *host) CounterAdd(id int32, delta uint64) {
	if v := h.metric(id, cabi.MetricCounter); v != nil {
		v.Add(int64(delta))
	}
}

// GaugeSet implements loader.Host.
func (h *host) GaugeSet(id int32, value int64) {
	if v := h.metric(id, cabi.MetricGauge); v != nil {
		v.Store(value)
	}
}

// Wakeup implements loader.Host.
func (h *host) Wakeup() {
	if h.wakeup != nil {
		h.wakeup()
	}
}

// counters returns the declared metrics as connector counters, in the
// order the plugin declared them. A metric declared without help text gets
// one that says whose it is.
func (h *host) counters() []connector.Counter {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]connector.Counter, len(h.names))
	for i, n := range h.names {
		help := h.helps[i]
		if help == "" {
			help = "Metric " + n + " of the plugin (it gave no help text)."
		}
		out[i] = connector.Counter{Name: n, Help: help, Value: uint64(h.values[i].Load()), Gauge: h.kinds[i] == cabi.MetricGauge}
	}
	return out
}

func (h *host) snapshot() map[string]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int64, len(h.names))
	for i, n := range h.names {
		m[n] = h.values[i].Load()
	}
	return m
}

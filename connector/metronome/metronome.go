package metronome

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/spec"
)

// Spec describes the metronome's config fields.
var Spec = spec.Spec{
	{Name: "interval", Kind: spec.Duration, Default: "1s", Min: "1us", Doc: "Time between ticks; the first tick comes one interval after start."},
	{Name: "count", Kind: spec.Uint, Default: 0, Doc: "Ticks to emit before EOF; 0 ticks forever."},
	{Name: "stream_id", Kind: spec.Uint, Default: 0, Doc: "Stream ID of the tick events."},
}

// Config is the metronome's decoded config.
type Config struct {
	Interval spec.DurationValue `json:"interval"`
	Count    uint64             `json:"count"`
	StreamID uint64             `json:"stream_id"`
}

// Source is a source that emits one cabi.KindTick event every interval.
// A tick's data is its sequence number, from 0, as a little-endian uint64
// copied into the batch arena (empty when the arena has no room). Ticks
// missed because nobody polled in time are skipped, not bunched up, and
// counted by Missed.
type Source struct {
	connector.Base
	cfg     Config
	next    time.Time
	seq     uint64
	missed  uint64
	paused  bool
	drained bool
}

var _ connector.Source = (*Source)(nil)

// New creates a metronome from a JSON config.
func New(config []byte, env connector.Env) (*Source, error) {
	var cfg Config
	if err := spec.Decode(Spec, config, &cfg); err != nil {
		return nil, fmt.Errorf("metronome %s: %w", env.Name, err)
	}
	return &Source{cfg: cfg}, nil
}

// Start schedules the first tick one interval from now.
func (m *Source) Start() error {
	m.next = time.Now().Add(time.Duration(m.cfg.Interval))
	return nil
}

// Pause stops ticking until Resume.
func (m *Source) Pause() error {
	m.paused = true
	return nil
}

// Resume schedules the next tick one interval from now.
func (m *Source) Resume() error {
	m.paused = false
	m.next = time.Now().Add(time.Duration(m.cfg.Interval))
	return nil
}

// Drain makes the next Poll return EOF.
func (m *Source) Drain() error {
	m.drained = true
	return nil
}

// Ticks returns how many ticks were emitted.
func (m *Source) Ticks() uint64 { return m.seq }

// Missed returns how many ticks were skipped because Poll came late.
func (m *Source) Missed() uint64 { return m.missed }

// Poll waits for the next tick, up to timeout, and appends it.
func (m *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	if m.drained || (m.cfg.Count != 0 && m.seq >= m.cfg.Count) {
		return cabi.EOF, nil
	}
	if m.paused {
		time.Sleep(timeout)
		return cabi.Timeout, nil
	}
	if b.Len >= b.Capacity {
		return cabi.OK, nil
	}
	now := time.Now()
	if m.next.IsZero() {
		m.next = now.Add(time.Duration(m.cfg.Interval))
	}
	if wait := m.next.Sub(now); wait > 0 {
		if wait > timeout {
			time.Sleep(timeout)
			return cabi.Timeout, nil
		}
		time.Sleep(wait)
		now = time.Now()
	}
	var data [8]byte
	binary.LittleEndian.PutUint64(data[:], m.seq)
	ts := uint64(now.UnixNano())
	if !b.Append(ts, m.cfg.StreamID, cabi.KindTick, 0, data[:]) {
		b.Append(ts, m.cfg.StreamID, cabi.KindTick, 0, nil)
	}
	m.seq++
	interval := time.Duration(m.cfg.Interval)
	m.next = m.next.Add(interval)
	if late := now.Sub(m.next); late >= 0 {
		skip := uint64(late/interval) + 1
		m.missed += skip
		m.next = m.next.Add(time.Duration(skip) * interval)
	}
	if m.cfg.Count != 0 && m.seq >= m.cfg.Count {
		return cabi.EOF, nil
	}
	return cabi.OK, nil
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "metronome",
		Description: "Emits a tick event every interval.",
		Roles:       connector.RoleSource,
		Spec:        Spec,
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return New(config, env)
		},
	})
}

//go:build cgo

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	weirsdk "github.com/weirproject/weir/plugins/go/sdk"
)

// ticker is the "go_ticker" source, the library's second connector type.
// Start launches a goroutine that counts ticks and calls the host's Wakeup,
// the one host function a plugin's own goroutine may call; Poll hands the
// ticks over as WEIR_KIND_TICK events whose 8 bytes are the tick's sequence
// number, little-endian. Stop ends the goroutine and waits for it.
//
// Config keys, all optional:
//
//	interval_us  microseconds between ticks (default 1000, at least 10)
//	count        ticks before WEIR_EOF; 0 for no limit
type ticker struct {
	host     *weirsdk.Host
	interval time.Duration
	limit    uint64

	mu      sync.Mutex
	ticks   uint64 // ticks counted by the goroutine
	paused  bool
	running bool
	ready   chan struct{} // signalled after each tick
	quit    chan struct{}
	done    chan struct{}

	emitted uint64 // ticks handed to the host
	drained bool
	buf     [8]byte
}

var (
	_ weirsdk.Source  = (*ticker)(nil)
	_ weirsdk.Starter = (*ticker)(nil)
	_ weirsdk.Stopper = (*ticker)(nil)
	_ weirsdk.Closer  = (*ticker)(nil)
)

func newTicker(raw []byte, host *weirsdk.Host) (any, error) {
	var c struct {
		IntervalUS *uint64 `json:"interval_us"`
		Count      uint64  `json:"count"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse config: trailing data after the object")
	}
	t := &ticker{host: host, interval: time.Millisecond, limit: c.Count, ready: make(chan struct{}, 1)}
	if c.IntervalUS != nil {
		if *c.IntervalUS < 10 || *c.IntervalUS > 3600e6 {
			return nil, fmt.Errorf("parse config: interval_us %d out of range 10..3600000000", *c.IntervalUS)
		}
		t.interval = time.Duration(*c.IntervalUS) * time.Microsecond
	}
	return t, nil
}

// Start launches the tick goroutine.
func (t *ticker) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running || t.done != nil {
		return errors.New("already started")
	}
	t.running = true
	t.quit, t.done = make(chan struct{}), make(chan struct{})
	go t.run(t.quit, t.done)
	return nil
}

func (t *ticker) run(quit, done chan struct{}) {
	defer close(done)
	tk := time.NewTicker(t.interval)
	defer tk.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tk.C:
		}
		t.mu.Lock()
		if !t.paused && (t.limit == 0 || t.ticks < t.limit) {
			t.ticks++
		}
		t.mu.Unlock()
		select {
		case t.ready <- struct{}{}:
		default:
		}
		t.host.Wakeup()
	}
}

// Pause stops counting ticks until Resume.
func (t *ticker) Pause() error {
	t.mu.Lock()
	t.paused = true
	t.mu.Unlock()
	return nil
}

// Resume counts ticks again.
func (t *ticker) Resume() error {
	t.mu.Lock()
	t.paused = false
	t.mu.Unlock()
	return nil
}

// Drain stops taking new ticks; Poll returns those counted, then WEIR_EOF.
func (t *ticker) Drain() error {
	t.mu.Lock()
	t.paused = true
	t.mu.Unlock()
	t.drained = true
	return nil
}

// Poll appends the ticks counted since the last call, waiting up to
// timeout for one.
func (t *ticker) Poll(b *weirsdk.Batch, timeout time.Duration) (weirsdk.Status, error) {
	if t.done == nil {
		return weirsdk.Error, errors.New("poll before start")
	}
	avail := t.available()
	if avail == 0 && !t.drained && timeout > 0 {
		tm := time.NewTimer(timeout)
		select {
		case <-t.ready:
		case <-tm.C:
		}
		tm.Stop()
		avail = t.available()
	}
	now := uint64(time.Now().UnixNano())
	for ; avail > 0; avail-- {
		binary.LittleEndian.PutUint64(t.buf[:], t.emitted)
		if !b.Append(now, 0, weirsdk.KindTick, 0, t.buf[:]) {
			break
		}
		t.emitted++
	}
	switch {
	case (t.limit > 0 && t.emitted >= t.limit) || (t.drained && t.available() == 0):
		return weirsdk.EOF, nil
	case b.Len > 0:
		return weirsdk.OK, nil
	}
	return weirsdk.Timeout, nil
}

func (t *ticker) available() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ticks - t.emitted
}

// Stop ends the tick goroutine and waits for it.
func (t *ticker) Stop() error {
	t.mu.Lock()
	running := t.running
	t.running = false
	t.mu.Unlock()
	if running {
		close(t.quit)
		<-t.done
	}
	return nil
}

// Close stops the goroutine if Stop was not called.
func (t *ticker) Close() { t.Stop() }

func init() {
	weirsdk.MustRegister(weirsdk.Type{
		ID:          "go_ticker",
		Description: "Emits a tick event at a fixed interval from its own goroutine (Go).",
		ConfigSchema: `{"type":"object","additionalProperties":false,"properties":{` +
			`"interval_us":{"type":"integer","minimum":10,"default":1000},"count":{"type":"integer","minimum":0}}}`,
		Roles: weirsdk.RoleSource,
		New:   newTicker,
	})
}

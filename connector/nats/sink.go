package nats

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/spec"
)

// SinkSpec describes the nats_out sink's config fields.
var SinkSpec = append(spec.Spec{
	{Name: "subject", Kind: spec.String, Required: true, Doc: "Subject to publish to: one literal subject (dot-separated tokens, no spaces, no * or > wildcards); in jetstream mode a stream must capture it."},
	{Name: "stream", Kind: spec.String, Default: "", Doc: "jetstream: the stream the subject must land in; connecting fails at once when it does not exist, and publishes name it as the expected stream. Empty: whichever stream captures the subject (there must be one)."},
	{Name: "framing", Kind: spec.Enum, Enum: frame.Names, Default: frame.Event, Doc: "event (one event per message, its fields in Weir-* headers) or batch (many events per message in a batch frame, docs/FRAMING.md)."},
	{Name: "max_frame", Kind: spec.Size, Default: 0, Doc: "Largest message payload to publish; 0 is the server's max_payload. An event that cannot fit it is dropped and counted."},
	{Name: "max_pending", Kind: spec.Uint, Default: 256, Min: 1, Max: 65536, Doc: "jetstream: most publishes awaiting the server's acknowledgement at once."},
	{Name: "ack_timeout", Kind: spec.Duration, Default: "5s", Min: "1ms", Doc: "jetstream: how long a batch waits for its acknowledgements before the sink answers RETRY (the retry carries the same message IDs)."},
	{Name: "msg_id_scope", Kind: spec.String, Default: "", Doc: "jetstream: a name mixed into every message ID, so that two weirs publishing identical batches are not dropped as each other's duplicates; empty is HOSTNAME/CONNECTOR. Keep it stable across restarts (a replay after a restart is deduplicated only under the same scope), and distinct per agent."},
	{Name: "flush_timeout", Kind: spec.Duration, Default: "5s", Min: "1ms", Doc: "core: how long drain and stop wait for the server to confirm what was written."},
}, connSpec...)

// SinkConfig is the nats_out sink's decoded config.
type SinkConfig struct {
	connConfig
	Subject      string             `json:"subject"`
	Stream       string             `json:"stream"`
	Framing      string             `json:"framing"`
	MaxFrame     int64              `json:"max_frame"`
	MaxPending   int                `json:"max_pending"`
	AckTimeout   spec.DurationValue `json:"ack_timeout"`
	FlushTimeout spec.DurationValue `json:"flush_timeout"`
	MsgIDScope   string             `json:"msg_id_scope"`
}

// Sink publishes events to NATS. See the package doc for its guarantees.
type Sink struct {
	connector.Base
	cfg   SinkConfig
	name  string
	scope string // of message IDs
	log   *slog.Logger

	nc     *nats.Conn
	js     jetstream.JetStream
	stream string // the stream the subject lands in (jetstream)

	// part remembers how far a batch answered RETRY got: a retry of the
	// same batch (same digest) skips the messages already published (core)
	// or acknowledged (jetstream).
	part struct {
		valid  bool
		digest frame.Digest
		done   []bool
	}
	msgs []msgPlan
	buf  []byte
	hdrs []nats.Header

	conn  connStats
	stats sinkStats
}

// msgPlan is one message of a batch: a span of events and its payload.
type msgPlan struct {
	first, n int // events evs[first:first+n]
	payload  []byte
}

// sinkStats counts what the sink does, beyond the engine's counters.
type sinkStats struct {
	published       atomic.Uint64
	acked           atomic.Uint64
	duplicates      atomic.Uint64
	retryDown       atomic.Uint64
	retryTimeout    atomic.Uint64
	retryNoStream   atomic.Uint64
	retryPublishErr atomic.Uint64
	droppedOversize atomic.Uint64
	rejected        atomic.Uint64
	pending         atomic.Int64
}

var (
	_ connector.Sink     = (*Sink)(nil)
	_ connector.Counting = (*Sink)(nil)
)

// ErrDisconnected is what Write returns, with cabi.Retry, while the server
// is away.
var ErrDisconnected = errors.New("not connected to the NATS server")

// NewSink creates a nats_out sink from a JSON config. It does not connect.
func NewSink(config []byte, env connector.Env) (*Sink, error) {
	var cfg SinkConfig
	if err := decodeSink(config, &cfg); err != nil {
		return nil, fmt.Errorf("nats_out %s: %w", env.Name, err)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{cfg: cfg, name: env.Name, scope: frame.ScopeOf(cfg.MsgIDScope, env.Name), log: log}, nil
}

func decodeSink(config []byte, cfg *SinkConfig) error {
	if err := spec.Decode(SinkSpec, config, cfg); err != nil {
		return err
	}
	if err := cfg.connConfig.check(); err != nil {
		return err
	}
	if cfg.Mode != modeJetStream && cfg.Stream != "" {
		return errors.New("stream is for mode jetstream; core mode publishes to the subject only")
	}
	return checkPublishSubject(cfg.Subject)
}

// checkPublishSubject refuses a subject no message can be published to:
// nats.go refuses whitespace at every publish (the sink would answer
// RETRY forever), and a wildcard or an empty token is not a subject a
// publisher may name (a server lets some through as literal text, so
// subscribers of the pattern never see them).
func checkPublishSubject(subj string) error {
	if i := strings.IndexAny(subj, " \t\r\n"); i >= 0 {
		return fmt.Errorf("subject %q: whitespace at byte %d; a subject is dot-separated tokens without spaces", subj, i)
	}
	for i, tok := range strings.Split(subj, ".") {
		switch tok {
		case "":
			return fmt.Errorf("subject %q: token %d is empty (a leading, trailing or doubled dot)", subj, i+1)
		case "*", ">":
			return fmt.Errorf("subject %q: token %d is the wildcard %s; a sink publishes to one literal subject (wildcards are for nats_in)", subj, i+1, tok)
		}
	}
	return nil
}

// Connect connects to the server and, in jetstream mode, checks that a
// stream captures the subject. Missing credentials files, refused
// credentials and a missing stream are permanent errors.
func (s *Sink) Connect(ctx context.Context, attempt int) error {
	if s.nc != nil {
		return nil
	}
	nc, err := dial(ctx, &s.cfg.connConfig, s.name, s.log, &s.conn)
	if err != nil {
		return fmt.Errorf("nats_out %s: %w", s.name, err)
	}
	if s.cfg.Mode == modeJetStream {
		js, err := jetstream.New(nc,
			jetstream.WithPublishAsyncMaxPending(s.cfg.MaxPending),
			jetstream.WithPublishAsyncTimeout(time.Duration(s.cfg.AckTimeout)))
		if err == nil {
			s.stream, err = findStream(ctx, js, s.cfg.Stream, s.cfg.Subject)
		}
		if err != nil {
			nc.Close()
			return fmt.Errorf("nats_out %s: %w", s.name, err)
		}
		s.js = js
	}
	s.nc = nc
	return nil
}

// findStream returns the stream that captures subject, checking that it is
// name when name is set. Not finding it is permanent.
func findStream(ctx context.Context, js jetstream.JetStream, name, subject string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if name != "" {
		_, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return "", connector.Permanent(fmt.Errorf("jetstream stream %q not found on the server (create it, e.g. nats stream add %s --subjects %q)", name, name, subject))
		}
		if err != nil {
			return "", streamLookupErr(name, err)
		}
	}
	got, err := js.StreamNameBySubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if name != "" {
			return "", connector.Permanent(fmt.Errorf("jetstream stream %q does not capture subject %q", name, subject))
		}
		return "", connector.Permanent(fmt.Errorf("no jetstream stream captures subject %q (create one, or use mode: core)", subject))
	case err != nil:
		return "", streamLookupErr(subject, err)
	}
	if name != "" && got != name {
		return "", connector.Permanent(fmt.Errorf("subject %q lands in stream %q, not %q", subject, got, name))
	}
	return got, nil
}

// streamLookupErr wraps a failed stream lookup; JetStream being off is
// permanent.
func streamLookupErr(what string, err error) error {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return connector.Permanent(fmt.Errorf("jetstream is not enabled on the server (run nats-server -js): %w", err))
	}
	return fmt.Errorf("look up jetstream stream of %q: %w", what, err)
}

// maxPayload is the largest payload to publish.
func (s *Sink) maxPayload() int {
	m := int(s.nc.MaxPayload())
	if s.cfg.MaxFrame > 0 && (m <= 0 || int(s.cfg.MaxFrame) < m) {
		m = int(s.cfg.MaxFrame)
	}
	return m
}

// plan splits evs into messages per the framing, dropping (and counting)
// events that cannot fit a message. Payloads are copies in s.buf, so a
// message outlives the batch.
func (s *Sink) plan(evs []cabi.Event) {
	limit := s.maxPayload()
	s.msgs = s.msgs[:0]
	s.buf = s.buf[:0]
	dropped := 0
	if s.cfg.Framing == frame.Batch {
		for i := 0; i < len(evs); {
			n, size := frame.Fit(evs[i:], limit)
			if size > limit { // one event that no frame can hold
				dropped++
				i++
				continue
			}
			start := len(s.buf)
			s.buf = frame.Append(s.buf, evs[i:i+n])
			s.msgs = append(s.msgs, msgPlan{first: i, n: n, payload: s.buf[start:len(s.buf):len(s.buf)]})
			i += n
		}
	} else {
		for i := range evs {
			if int(evs[i].Len) > limit {
				dropped++
				continue
			}
			start := len(s.buf)
			s.buf = append(s.buf, evs[i].Bytes()...)
			s.msgs = append(s.msgs, msgPlan{first: i, n: 1, payload: s.buf[start:len(s.buf):len(s.buf)]})
		}
	}
	// s.buf may have moved while growing: point the payloads at its
	// final array.
	off := 0
	for i := range s.msgs {
		l := len(s.msgs[i].payload)
		s.msgs[i].payload = s.buf[off : off+l : off+l]
		off += l
	}
	if dropped > 0 {
		s.stats.droppedOversize.Add(uint64(dropped))
		s.log.Warn("events larger than the largest message dropped", "events", dropped, "max_payload", limit)
	}
}

// message builds the NATS message for plan i of the batch with digest d.
func (s *Sink) message(evs []cabi.Event, d frame.Digest, i int) *nats.Msg {
	p := &s.msgs[i]
	h := make(nats.Header, 5)
	if s.cfg.Framing == frame.Batch {
		h[frame.HeaderFrame] = []string{strconv.Itoa(frame.Version)}
	} else {
		e := &evs[p.first]
		h[frame.HeaderTs] = []string{strconv.FormatUint(e.TsNs, 10)}
		h[frame.HeaderStream] = []string{strconv.FormatUint(e.StreamID, 10)}
		h[frame.HeaderKind] = []string{strconv.FormatUint(uint64(e.Kind), 10)}
		h[frame.HeaderFlags] = []string{strconv.FormatUint(uint64(e.Flags), 10)}
	}
	if s.js != nil {
		h[jetstream.MsgIDHeader] = []string{string(d.MsgID(nil, s.cfg.Framing[0], i))}
	}
	return &nats.Msg{Subject: s.cfg.Subject, Header: h, Data: p.payload}
}

// Write publishes the batch. Core: OK once every message is handed to the
// connection. JetStream: OK once the server acknowledged every message.
// While the server is away, or acknowledgements are late, it answers
// cabi.Retry; the retry skips what already went through.
func (s *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	if s.nc == nil {
		return cabi.Error, fmt.Errorf("nats_out %s: write before connect", s.name)
	}
	evs := b.EventSlice()
	if len(evs) == 0 {
		return cabi.OK, nil
	}
	if !s.nc.IsConnected() {
		s.stats.retryDown.Add(1)
		return cabi.Retry, fmt.Errorf("nats_out %s: %w (%s)", s.name, ErrDisconnected, s.nc.Status())
	}
	// JetStream message IDs come from the batch content; core messages
	// carry none, so core tells a retried batch by its identity in this
	// process instead of hashing every byte.
	var d frame.Digest
	if s.js != nil {
		d = frame.DigestOf(s.scope, evs)
	} else {
		binary.LittleEndian.PutUint64(d[0:], b.ID)
		binary.LittleEndian.PutUint64(d[8:], uint64(uintptr(b.Events))^uint64(b.Len)<<48)
	}
	s.plan(evs)
	if !s.part.valid || s.part.digest != d || len(s.part.done) != len(s.msgs) {
		s.part.valid, s.part.digest = true, d
		s.part.done = make([]bool, len(s.msgs))
	}
	var st cabi.Status
	var err error
	if s.js == nil {
		st, err = s.writeCore(evs, d)
	} else {
		st, err = s.writeJetStream(evs, d)
	}
	if st == cabi.OK {
		s.part.valid = false
	}
	return st, err
}

func (s *Sink) writeCore(evs []cabi.Event, d frame.Digest) (cabi.Status, error) {
	for i := range s.msgs {
		if s.part.done[i] {
			continue
		}
		if err := s.nc.PublishMsg(s.message(evs, d, i)); err != nil {
			return s.publishFailed(err)
		}
		s.part.done[i] = true
		s.stats.published.Add(1)
	}
	return cabi.OK, nil
}

// publishFailed answers a publish the client refused.
func (s *Sink) publishFailed(err error) (cabi.Status, error) {
	if errors.Is(err, nats.ErrMaxPayload) {
		// plan keeps payloads under the limit; the server lowered it.
		s.stats.rejected.Add(1)
		return cabi.Error, fmt.Errorf("nats_out %s: publish: %w", s.name, err)
	}
	if !s.nc.IsConnected() || errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrConnectionClosed) {
		s.stats.retryDown.Add(1)
		return cabi.Retry, fmt.Errorf("nats_out %s: %w: %v", s.name, ErrDisconnected, err)
	}
	s.stats.retryPublishErr.Add(1)
	return cabi.Retry, fmt.Errorf("nats_out %s: publish: %w", s.name, err)
}

func (s *Sink) writeJetStream(evs []cabi.Event, d frame.Digest) (cabi.Status, error) {
	type sent struct {
		i   int
		fut jetstream.PubAckFuture
	}
	futs := make([]sent, 0, len(s.msgs))
	var pubErr error
	for i := range s.msgs {
		if s.part.done[i] {
			continue
		}
		opts := []jetstream.PublishOpt{jetstream.WithStallWait(time.Duration(s.cfg.AckTimeout))}
		if s.cfg.Stream != "" {
			opts = append(opts, jetstream.WithExpectStream(s.cfg.Stream))
		}
		f, err := s.js.PublishMsgAsync(s.message(evs, d, i), opts...)
		if err != nil {
			pubErr = err
			break
		}
		s.stats.published.Add(1)
		s.stats.pending.Add(1)
		futs = append(futs, sent{i, f})
	}
	timer := time.NewTimer(time.Duration(s.cfg.AckTimeout))
	defer timer.Stop()
	var ackErr error
	timedOut := false
	for _, f := range futs {
		if timedOut {
			// Do not wait again; take what has come.
			select {
			case a := <-f.fut.Ok():
				s.acked(f.i, a)
			case err := <-f.fut.Err():
				ackErr = cmp(ackErr, err)
			default:
			}
			continue
		}
		select {
		case a := <-f.fut.Ok():
			s.acked(f.i, a)
		case err := <-f.fut.Err():
			ackErr = cmp(ackErr, err)
		case <-timer.C:
			timedOut = true
		}
	}
	s.stats.pending.Store(int64(s.js.PublishAsyncPending()))
	if pubErr == nil && ackErr == nil && !timedOut {
		return cabi.OK, nil
	}
	if timedOut && pubErr == nil && ackErr == nil {
		s.stats.retryTimeout.Add(1)
		// The late messages still hold their payloads: give the next
		// batch a fresh buffer.
		s.buf = nil
		return cabi.Retry, fmt.Errorf("nats_out %s: no jetstream acknowledgement within %s", s.name, time.Duration(s.cfg.AckTimeout))
	}
	if timedOut {
		s.buf = nil
	}
	err := pubErr
	if err == nil {
		err = ackErr
	}
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		s.stats.rejected.Add(1)
		return cabi.Error, fmt.Errorf("nats_out %s: stream %s refused the message: %w", s.name, s.stream, err)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		s.stats.retryNoStream.Add(1)
		return cabi.Retry, fmt.Errorf("nats_out %s: no jetstream stream answered for %s (server restarting?): %w", s.name, s.cfg.Subject, err)
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout), errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		s.stats.retryTimeout.Add(1)
		return cabi.Retry, fmt.Errorf("nats_out %s: %w", s.name, err)
	}
	return s.publishFailed(err)
}

// cmp keeps the first error.
func cmp(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

func (s *Sink) acked(i int, a *jetstream.PubAck) {
	s.part.done[i] = true
	s.stats.acked.Add(1)
	if a != nil && a.Duplicate {
		s.stats.duplicates.Add(1)
	}
}

// flush asks the server to confirm what core publishes wrote.
func (s *Sink) flush() error {
	if s.nc == nil || s.js != nil || !s.nc.IsConnected() {
		return nil
	}
	if err := s.nc.FlushTimeout(time.Duration(s.cfg.FlushTimeout)); err != nil {
		return fmt.Errorf("nats_out %s: flush: %w", s.name, err)
	}
	return nil
}

// Drain flushes core publishes.
func (s *Sink) Drain() error { return s.flush() }

// Stop flushes core publishes.
func (s *Sink) Stop() error { return s.flush() }

// Close closes the connection. It is safe after a failed Connect.
func (s *Sink) Close() error {
	if s.nc == nil {
		return nil
	}
	err := s.flush()
	s.nc.Close()
	s.nc, s.js = nil, nil
	return err
}

// Counters returns the sink's own counters. Safe from any goroutine.
func (s *Sink) Counters() []connector.Counter {
	st := &s.stats
	return append([]connector.Counter{
		{Name: "published", Help: "Messages handed to the server.", Value: st.published.Load()},
		{Name: "acked", Help: "jetstream: messages the server acknowledged.", Value: st.acked.Load()},
		{Name: "duplicates", Help: "jetstream: acknowledged messages the stream had already, by message ID (a retry or replay of a batch).", Value: st.duplicates.Load()},
		{Name: "retry_disconnected", Help: "Batches answered RETRY because the server was away.", Value: st.retryDown.Load()},
		{Name: "retry_ack_timeout", Help: "jetstream: batches answered RETRY because acknowledgements were late.", Value: st.retryTimeout.Load()},
		{Name: "retry_no_stream", Help: "jetstream: batches answered RETRY because no stream answered (server restarting).", Value: st.retryNoStream.Load()},
		{Name: "retry_publish_error", Help: "Batches answered RETRY for another publish error.", Value: st.retryPublishErr.Load()},
		{Name: "dropped_oversize", Help: "Events dropped because they cannot fit the largest message the server takes.", Value: st.droppedOversize.Load()},
		{Name: "rejected", Help: "Batches answered ERROR because the server refused a message (stream limits, permissions).", Value: st.rejected.Load()},
		{Name: "pending_acks", Help: "jetstream: publishes awaiting acknowledgement.", Value: uint64(max(st.pending.Load(), 0)), Gauge: true},
	}, s.conn.counters()...)
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "nats_out",
		Description: "Publishes events to NATS subjects (core) or JetStream streams (acknowledged, deduplicated by message ID), one per message or in batch frames.",
		Roles:       connector.RoleSink,
		Spec:        SinkSpec,
		Check: func(config []byte) error {
			var cfg SinkConfig
			return decodeSink(config, &cfg)
		},
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return NewSink(config, env)
		},
	})
}

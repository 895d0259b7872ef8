package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/spec"
)

// SourceSpec describes the nats_in source's config fields.
var SourceSpec = append(spec.Spec{
	{Name: "subject", Kind: spec.String, Required: true, Doc: "Subject to read; wildcards (* and >) work. jetstream: the consumer's filter subject."},
	{Name: "stream", Kind: spec.String, Default: "", Doc: "jetstream: the stream to consume; empty is the stream that captures subject."},
	{Name: "durable", Kind: spec.String, Default: "", Doc: "jetstream: durable consumer name, so a restarted weir goes on where it stopped; empty is an ephemeral consumer."},
	{Name: "deliver", Kind: spec.Enum, Enum: []string{"all", "new"}, Default: "all", Doc: "jetstream: where a new consumer starts: all (the stream's first message) or new (messages published from now)."},
	{Name: "ack_wait", Kind: spec.Duration, Default: "30s", Min: "100ms", Doc: "jetstream: how long the server waits for weir's acknowledgement before it delivers a message again; longer than a batch takes to reach the sinks."},
	{Name: "max_ack_pending", Kind: spec.Uint, Default: 4096, Min: 1, Doc: "jetstream: most messages delivered and not yet acknowledged."},
	{Name: "queue", Kind: spec.String, Default: "", Doc: "core: queue group, so several weirs share the subject's messages."},
	{Name: "buffer", Kind: spec.Uint, Default: 1024, Min: 1, Max: 1 << 20, Doc: "Messages received and not yet polled. core: more arriving are dropped and counted; jetstream: the consumer waits."},
}, connSpec...)

// SourceConfig is the nats_in source's decoded config.
type SourceConfig struct {
	connConfig
	Subject       string             `json:"subject"`
	Stream        string             `json:"stream"`
	Durable       string             `json:"durable"`
	Deliver       string             `json:"deliver"`
	AckWait       spec.DurationValue `json:"ack_wait"`
	MaxAckPending int                `json:"max_ack_pending"`
	Queue         string             `json:"queue"`
	Buffer        int                `json:"buffer"`
}

// Source reads events from NATS. Messages with a Weir-Frame header are
// batch frames; others are one event each, its fields from Weir-*
// headers (absent ones are 0).
type Source struct {
	connector.Base
	cfg  SourceConfig
	name string
	log  *slog.Logger

	nc   *nats.Conn
	sub  *nats.Subscription
	cc   jetstream.ConsumeContext
	in   chan item
	done chan struct{}
	once sync.Once

	cur      *pending             // a message whose events did not all fit the last batch
	inflight map[uint64][]*msgRef // batch ID -> the messages it holds events of
	drained  bool

	conn  connStats
	stats sourceStats
}

// item is one received message.
type item struct {
	data   []byte
	header nats.Header
	js     jetstream.Msg // nil in core mode
}

// msgRef follows one JetStream message until every batch holding its
// events is answered.
type msgRef struct {
	m       jetstream.Msg
	batches int  // batches holding its events, not yet answered
	emitted bool // all its events are in batches
	failed  bool // a batch holding its events failed
}

// pending is a message being split into events.
type pending struct {
	ref  *msgRef
	recs []frame.Record
	next int
}

type sourceStats struct {
	received      atomic.Uint64
	events        atomic.Uint64
	acked         atomic.Uint64
	naked         atomic.Uint64
	ackErrors     atomic.Uint64
	droppedSlow   atomic.Uint64
	droppedBad    atomic.Uint64
	droppedBig    atomic.Uint64
	clientDropped atomic.Uint64
}

var (
	_ connector.Source   = (*Source)(nil)
	_ connector.Acker    = (*Source)(nil)
	_ connector.Counting = (*Source)(nil)
)

// NewSource creates a nats_in source from a JSON config. It does not
// connect.
func NewSource(config []byte, env connector.Env) (*Source, error) {
	var cfg SourceConfig
	if err := decodeSource(config, &cfg); err != nil {
		return nil, fmt.Errorf("nats_in %s: %w", env.Name, err)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, name: env.Name, log: log, in: make(chan item, cfg.Buffer),
		done: make(chan struct{}), inflight: map[uint64][]*msgRef{}}, nil
}

func decodeSource(config []byte, cfg *SourceConfig) error {
	if err := spec.Decode(SourceSpec, config, cfg); err != nil {
		return err
	}
	if err := cfg.connConfig.check(); err != nil {
		return err
	}
	if cfg.Mode == modeJetStream && cfg.Queue != "" {
		return errors.New("queue is for mode core; jetstream consumers share work through one durable consumer")
	}
	if cfg.Mode != modeJetStream && (cfg.Stream != "" || cfg.Durable != "") {
		return errors.New("stream and durable are for mode jetstream")
	}
	return nil
}

// Connect connects and subscribes: to the subject (core) or through a
// pull consumer it creates or updates (jetstream). A missing stream is a
// permanent error.
func (s *Source) Connect(ctx context.Context, attempt int) error {
	if s.nc != nil {
		return nil
	}
	nc, err := dial(ctx, &s.cfg.connConfig, s.name, s.log, &s.conn)
	if err != nil {
		return fmt.Errorf("nats_in %s: %w", s.name, err)
	}
	if s.cfg.Mode == modeJetStream {
		err = s.consume(ctx, nc)
	} else {
		err = s.subscribe(nc)
	}
	if err != nil {
		nc.Close()
		return fmt.Errorf("nats_in %s: %w", s.name, err)
	}
	s.nc = nc
	return nil
}

func (s *Source) subscribe(nc *nats.Conn) error {
	handler := func(m *nats.Msg) {
		select {
		case s.in <- item{data: m.Data, header: m.Header}:
		default:
			s.stats.droppedSlow.Add(1)
		}
	}
	var err error
	if s.cfg.Queue != "" {
		s.sub, err = nc.QueueSubscribe(s.cfg.Subject, s.cfg.Queue, handler)
	} else {
		s.sub, err = nc.Subscribe(s.cfg.Subject, handler)
	}
	if err != nil {
		return connector.Permanent(fmt.Errorf("subscribe to %q: %w", s.cfg.Subject, err))
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("subscribe to %q: %w", s.cfg.Subject, err)
	}
	if err := nc.LastError(); err != nil {
		return connector.Permanent(fmt.Errorf("subscribe to %q: %w", s.cfg.Subject, err))
	}
	return nil
}

func (s *Source) consume(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := findStream(ctx, js, s.cfg.Stream, s.cfg.Subject)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	deliver := jetstream.DeliverAllPolicy
	if s.cfg.Deliver == "new" {
		deliver = jetstream.DeliverNewPolicy
	}
	cc := jetstream.ConsumerConfig{
		Durable:       s.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Duration(s.cfg.AckWait),
		MaxAckPending: s.cfg.MaxAckPending,
		FilterSubject: s.cfg.Subject,
		DeliverPolicy: deliver,
	}
	if s.cfg.Durable == "" {
		cc.InactiveThreshold = time.Minute
	}
	cons, err := js.CreateOrUpdateConsumer(cctx, stream, cc)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			return connector.Permanent(fmt.Errorf("create consumer on stream %q: %w", stream, err))
		}
		return fmt.Errorf("create consumer on stream %q: %w", stream, err)
	}
	s.cc, err = cons.Consume(func(m jetstream.Msg) {
		select {
		case s.in <- item{data: m.Data(), header: m.Headers(), js: m}:
		case <-s.done:
			// Not acknowledged: the server delivers it again.
		}
	}, jetstream.PullMaxMessages(min(s.cfg.Buffer, s.cfg.MaxAckPending)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.conn.asyncErrors.Add(1)
			s.log.Warn("jetstream consumer error", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("consume stream %q: %w", stream, err)
	}
	return nil
}

// Poll appends the events of received messages to b, waiting up to
// timeout for the first message. A message whose events do not all fit
// goes on in the next batch.
func (s *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	var refs []*msgRef
	defer func() {
		if len(refs) > 0 {
			s.inflight[b.ID] = append(s.inflight[b.ID], refs...)
		}
	}()
	full := false
	if s.cur != nil {
		if refs, full = s.place(b, refs); full {
			return cabi.OK, nil
		}
	}
	var timer <-chan time.Time
	for !full {
		var it item
		select {
		case it = <-s.in:
		default:
			if b.Len > 0 {
				return cabi.OK, nil
			}
			if s.drained {
				return cabi.EOF, nil
			}
			if timer == nil {
				t := time.NewTimer(timeout)
				defer t.Stop()
				timer = t.C
			}
			select {
			case it = <-s.in:
			case <-timer:
				return cabi.Timeout, nil
			}
		}
		s.stats.received.Add(1)
		if !s.open(it) {
			continue
		}
		refs, full = s.place(b, refs)
	}
	return cabi.OK, nil
}

// open decodes a message into s.cur. A message that is not valid, or
// holds no event, is settled at once (terminated or acknowledged) and
// open returns false.
func (s *Source) open(it item) bool {
	ref := &msgRef{m: it.js}
	var recs []frame.Record
	if it.header.Get(frame.HeaderFrame) != "" {
		if _, err := frame.Decode(it.data, func(r frame.Record) { recs = append(recs, r) }); err != nil {
			s.bad(ref, err)
			return false
		}
	} else {
		meta, err := frame.ParseMeta(it.header.Get)
		if err != nil {
			s.bad(ref, err)
			return false
		}
		recs = []frame.Record{{TsNs: meta.TsNs, StreamID: meta.StreamID, Kind: meta.Kind, Flags: meta.Flags, Data: it.data}}
	}
	if len(recs) == 0 {
		ref.emitted = true
		s.settle(ref)
		return false
	}
	s.cur = &pending{ref: ref, recs: recs}
	return true
}

// bad drops a message that cannot be decoded, counted and logged; a
// JetStream message is terminated, so it is not delivered again.
func (s *Source) bad(ref *msgRef, err error) {
	s.stats.droppedBad.Add(1)
	s.log.Warn("message dropped: not a valid weir message", "err", err)
	if ref.m != nil {
		if terr := ref.m.Term(); terr != nil {
			s.stats.ackErrors.Add(1)
		}
	}
}

// place appends s.cur's events to b until it is done or b is full, and
// reports whether b is full.
func (s *Source) place(b *cabi.Batch, refs []*msgRef) ([]*msgRef, bool) {
	p := s.cur
	placed := false
	for p.next < len(p.recs) {
		r := &p.recs[p.next]
		if !b.Append(r.TsNs, r.StreamID, r.Kind, r.Flags, r.Data) {
			if b.Len > 0 {
				break
			}
			// It cannot fit even an empty batch.
			s.stats.droppedBig.Add(1)
			s.log.Warn("event larger than a batch arena dropped", "bytes", len(r.Data), "arena", b.ArenaCap)
			p.next++
			continue
		}
		placed = true
		s.stats.events.Add(1)
		p.next++
	}
	if placed && p.ref.m != nil {
		p.ref.batches++
		refs = append(refs, p.ref)
	}
	if p.next < len(p.recs) {
		return refs, true
	}
	p.ref.emitted = true
	s.cur = nil
	if !placed {
		s.settle(p.ref)
	}
	return refs, b.Len >= b.Capacity
}

// Ack acknowledges the messages whose events are all in answered batches.
func (s *Source) Ack(batchID uint64) { s.answer(batchID, false) }

// Fail asks the server to deliver again the messages of a failed batch
// (jetstream; core messages are gone).
func (s *Source) Fail(batchID uint64) { s.answer(batchID, true) }

func (s *Source) answer(batchID uint64, failed bool) {
	refs := s.inflight[batchID]
	delete(s.inflight, batchID)
	for _, r := range refs {
		r.batches--
		r.failed = r.failed || failed
		s.settle(r)
	}
}

// settle acknowledges (or, after a failure, negatively acknowledges) a
// JetStream message once no batch holds its events.
func (s *Source) settle(r *msgRef) {
	if r.m == nil || r.batches > 0 || !r.emitted {
		return
	}
	var err error
	if r.failed {
		err = r.m.Nak()
		s.stats.naked.Add(1)
	} else {
		err = r.m.Ack()
		s.stats.acked.Add(1)
	}
	if err != nil {
		s.stats.ackErrors.Add(1)
		s.log.Warn("jetstream acknowledgement failed; the server will deliver the message again", "err", err)
	}
	r.m = nil
}

// stopInput stops receiving; what was received is still polled.
func (s *Source) stopInput() {
	s.once.Do(func() {
		close(s.done)
		if s.cc != nil {
			s.cc.Stop()
		}
		if s.sub != nil {
			if n, err := s.sub.Dropped(); err == nil {
				s.stats.clientDropped.Store(uint64(n))
			}
			s.sub.Unsubscribe()
		}
	})
}

// Drain stops receiving; Poll returns what was received, then EOF.
func (s *Source) Drain() error {
	s.stopInput()
	s.drained = true
	return nil
}

// Stop stops receiving.
func (s *Source) Stop() error {
	s.stopInput()
	return nil
}

// Close stops receiving and closes the connection. Messages received and
// not acknowledged are delivered again by the server (jetstream). It is
// safe after a failed Connect.
func (s *Source) Close() error {
	s.stopInput()
	if s.nc != nil {
		if s.nc.IsConnected() {
			s.nc.FlushTimeout(time.Second) // send the last acks
		}
		s.nc.Close()
		s.nc = nil
	}
	return nil
}

// Counters returns the source's own counters. Safe from any goroutine.
func (s *Source) Counters() []connector.Counter {
	st := &s.stats
	dropped := st.clientDropped.Load()
	return append([]connector.Counter{
		{Name: "received", Help: "Messages received.", Value: st.received.Load()},
		{Name: "events", Help: "Events taken from messages into batches.", Value: st.events.Load()},
		{Name: "acked", Help: "jetstream: messages acknowledged once their events were acknowledged by the sinks.", Value: st.acked.Load()},
		{Name: "naked", Help: "jetstream: messages handed back for redelivery because a batch holding their events failed.", Value: st.naked.Load()},
		{Name: "ack_errors", Help: "jetstream: acknowledgements that could not be sent (the server delivers the message again).", Value: st.ackErrors.Load()},
		{Name: "dropped_slow", Help: "core: messages dropped because buffer was full (weir polled too slowly).", Value: st.droppedSlow.Load() + dropped},
		{Name: "dropped_invalid", Help: "Messages dropped because their batch frame or Weir-* headers were invalid.", Value: st.droppedBad.Load()},
		{Name: "dropped_too_large", Help: "Events dropped because they are larger than a whole batch arena.", Value: st.droppedBig.Load()},
		{Name: "buffered", Help: "Messages received and not yet polled.", Value: uint64(len(s.in)), Gauge: true},
	}, s.conn.counters()...)
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "nats_in",
		Description: "Reads events from NATS subjects (core) or a JetStream stream through a durable consumer, acknowledging messages once weir's sinks have their events.",
		Roles:       connector.RoleSource,
		Spec:        SourceSpec,
		Check: func(config []byte) error {
			var cfg SourceConfig
			return decodeSource(config, &cfg)
		},
		New: func(config []byte, env connector.Env) (connector.Connector, error) {
			return NewSource(config, env)
		},
	})
}

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/spec"
)

// SourceSpec describes the kafka_in source's config fields.
var SourceSpec = append(spec.Spec{
	{Name: "topics", Kind: spec.Strings, Required: true, Doc: "Topics to consume."},
	{Name: "group", Kind: spec.String, Required: true, Doc: "Consumer group; weirs in one group share the partitions, and a restarted weir goes on from the group's committed offsets."},
	{Name: "start", Kind: spec.Enum, Enum: []string{"earliest", "latest"}, Default: "earliest", Doc: "Where a group with no committed offset starts."},
	{Name: "commit_interval", Kind: spec.Duration, Default: "1s", Min: "100ms", Doc: "How often acknowledged offsets are committed; they are committed at stop and on rebalance too."},
	{Name: "max_poll_records", Kind: spec.Uint, Default: 4096, Min: 1, Doc: "Most records taken from the client in one poll."},
}, connSpec...)

// SourceConfig is the kafka_in source's decoded config.
type SourceConfig struct {
	connConfig
	Topics         []string           `json:"topics"`
	Group          string             `json:"group"`
	Start          string             `json:"start"`
	CommitInterval spec.DurationValue `json:"commit_interval"`
	MaxPollRecords int                `json:"max_poll_records"`
}

// Source consumes events from Kafka as a consumer-group member. Records
// with a Weir-Frame header are batch frames; others are one event each.
type Source struct {
	connector.Base
	cfg  SourceConfig
	name string
	log  *slog.Logger
	cl   *kgo.Client

	queue    []*kgo.Record // fetched, not yet placed
	cur      *pending
	inflight map[uint64][]*recRef
	parts    map[tp]*partState
	drained  bool

	hooks connHooks
	stats struct {
		received, events, committedMarks, rewinds, droppedBad, droppedBig atomic.Uint64
	}
}

type tp struct {
	topic string
	part  int32
}

// recRef follows one record until every batch holding its events is
// answered.
type recRef struct {
	tp      tp
	offset  int64
	epoch   int32
	gen     int // partState.gen when it was read; older refs are ignored
	batches int
	emitted bool
	failed  bool
	settled bool
}

// partState is a partition's records in offset order, not yet committed.
type partState struct {
	refs []*recRef
	gen  int
}

type pending struct {
	ref  *recRef
	recs []frame.Record
	next int
}

var (
	_ connector.Source   = (*Source)(nil)
	_ connector.Acker    = (*Source)(nil)
	_ connector.Counting = (*Source)(nil)
)

// NewSource creates a kafka_in source from a JSON config. It does not
// connect.
func NewSource(config []byte, env connector.Env) (*Source, error) {
	var cfg SourceConfig
	if err := decodeSource(config, &cfg); err != nil {
		return nil, fmt.Errorf("kafka_in %s: %w", env.Name, err)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, name: env.Name, log: log, inflight: map[uint64][]*recRef{}, parts: map[tp]*partState{}}
	s.hooks.log = log
	return s, nil
}

func decodeSource(config []byte, cfg *SourceConfig) error {
	if err := spec.Decode(SourceSpec, config, cfg); err != nil {
		return err
	}
	if len(cfg.Topics) == 0 {
		return errors.New("topics: give at least one")
	}
	return cfg.connConfig.check()
}

// Connect joins the group. Missing topics and refused credentials are
// permanent.
func (s *Source) Connect(ctx context.Context, attempt int) error {
	if s.cl != nil {
		return nil
	}
	opts, err := s.cfg.clientOpts(s.name, &s.hooks)
	if err != nil {
		return fmt.Errorf("kafka_in %s: %w", s.name, err)
	}
	reset := kgo.NewOffset().AtStart()
	if s.cfg.Start == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Duration(s.cfg.CommitInterval)),
		kgo.OnPartitionsRevoked(s.revoked),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return connector.Permanent(fmt.Errorf("kafka_in %s: %w", s.name, err))
	}
	if err := ping(ctx, cl, &s.cfg.connConfig); err != nil {
		cl.Close()
		return fmt.Errorf("kafka_in %s: %w", s.name, err)
	}
	for _, t := range s.cfg.Topics {
		if err := topicExists(ctx, cl, t, time.Duration(s.cfg.ConnectTimeout)); err != nil {
			cl.Close()
			return fmt.Errorf("kafka_in %s: %w", s.name, err)
		}
	}
	s.cl = cl
	return nil
}

// revoked is called by the client before partitions go to another
// member: it commits what is acknowledged so far (setting this hook
// replaces franz-go's default commit, so it must). Records of those
// partitions still in weir are delivered, but their offsets are no longer
// ours to commit: the new owner reads them again (at least once).
func (s *Source) revoked(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		s.log.Warn("commit on rebalance failed; the next owner may read some records again", "err", err)
	}
}

// Poll appends the events of fetched records to b, waiting up to timeout
// for the first.
func (s *Source) Poll(b *cabi.Batch, timeout time.Duration) (cabi.Status, error) {
	var refs []*recRef
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
	fetched := false
	for !full {
		if len(s.queue) == 0 {
			if b.Len > 0 || fetched {
				break
			}
			if s.drained {
				return cabi.EOF, nil
			}
			if err := s.fetch(timeout); err != nil {
				return cabi.Error, err
			}
			fetched = true
			continue
		}
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.stats.received.Add(1)
		if !s.open(r) {
			continue
		}
		refs, full = s.place(b, refs)
	}
	if b.Len == 0 {
		return cabi.Timeout, nil
	}
	return cabi.OK, nil
}

// fetch polls the client for records, waiting up to timeout.
func (s *Source) fetch(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fs := s.cl.PollRecords(ctx, s.cfg.MaxPollRecords)
	if fs.IsClientClosed() {
		return fmt.Errorf("kafka_in %s: client closed", s.name)
	}
	var errs []error
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("fetch %s/%d: %w", t, p, err))
		}
	})
	for _, err := range errs {
		s.log.Warn("kafka fetch error", "err", err)
	}
	s.queue = append(s.queue, fs.Records()...)
	return nil
}

// open decodes a record into s.cur and tracks it; an invalid record is
// dropped and counted, and settled at once so commits go past it.
func (s *Source) open(r *kgo.Record) bool {
	k := tp{r.Topic, r.Partition}
	ps := s.parts[k]
	if ps == nil {
		ps = &partState{}
		s.parts[k] = ps
	}
	ref := &recRef{tp: k, offset: r.Offset, epoch: r.LeaderEpoch, gen: ps.gen}
	ps.refs = append(ps.refs, ref)
	get := func(name string) string {
		for _, h := range r.Headers {
			if h.Key == name {
				return string(h.Value)
			}
		}
		return ""
	}
	var recs []frame.Record
	if get(frame.HeaderFrame) != "" {
		if _, err := frame.Decode(r.Value, func(fr frame.Record) { recs = append(recs, fr) }); err != nil {
			s.bad(ref, err)
			return false
		}
	} else {
		meta, err := frame.ParseMeta(get)
		if err != nil {
			s.bad(ref, err)
			return false
		}
		recs = []frame.Record{{TsNs: meta.TsNs, StreamID: meta.StreamID, Kind: meta.Kind, Flags: meta.Flags, Data: r.Value}}
	}
	if len(recs) == 0 {
		ref.emitted = true
		s.settle(ref)
		return false
	}
	s.cur = &pending{ref: ref, recs: recs}
	return true
}

func (s *Source) bad(ref *recRef, err error) {
	s.stats.droppedBad.Add(1)
	s.log.Warn("record dropped: not a valid weir record", "topic", ref.tp.topic, "partition", ref.tp.part, "offset", ref.offset, "err", err)
	ref.emitted = true
	s.settle(ref)
}

// place appends s.cur's events to b and reports whether b is full.
func (s *Source) place(b *cabi.Batch, refs []*recRef) ([]*recRef, bool) {
	p := s.cur
	placed := false
	for p.next < len(p.recs) {
		r := &p.recs[p.next]
		if !b.Append(r.TsNs, r.StreamID, r.Kind, r.Flags, r.Data) {
			if b.Len > 0 {
				break
			}
			s.stats.droppedBig.Add(1)
			s.log.Warn("event larger than a batch arena dropped", "bytes", len(r.Data), "arena", b.ArenaCap)
			p.next++
			continue
		}
		placed = true
		s.stats.events.Add(1)
		p.next++
	}
	if placed {
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

// Ack settles the records of an acknowledged batch.
func (s *Source) Ack(batchID uint64) { s.answer(batchID, false) }

// Fail rewinds the partitions of a failed batch's records, so they are
// read again.
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

// settle marks a record done once no batch holds its events, and commits
// (marks) each partition up to its first record not yet done. A failed
// record rewinds its partition to that first record.
func (s *Source) settle(r *recRef) {
	if r.batches > 0 || !r.emitted || r.settled {
		return
	}
	ps := s.parts[r.tp]
	if ps == nil || ps.gen != r.gen {
		return // the partition was rewound since: this read is void
	}
	r.settled = true
	if r.failed {
		s.rewind(r.tp, ps)
		return
	}
	n := 0
	for n < len(ps.refs) && ps.refs[n].settled {
		n++
	}
	if n == 0 || s.cl == nil {
		return
	}
	last := ps.refs[n-1]
	ps.refs = ps.refs[n:]
	s.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{
		r.tp.topic: {r.tp.part: {Epoch: last.epoch, Offset: last.offset + 1}},
	})
	s.stats.committedMarks.Add(1)
}

// rewind sets the partition's fetch position back to its first record not
// yet committed, and forgets what was read after it.
func (s *Source) rewind(k tp, ps *partState) {
	if len(ps.refs) == 0 || s.cl == nil {
		return
	}
	first := ps.refs[0]
	ps.refs = nil
	ps.gen++
	s.stats.rewinds.Add(1)
	kept := s.queue[:0]
	for _, q := range s.queue {
		if q.Topic != k.topic || q.Partition != k.part {
			kept = append(kept, q)
		}
	}
	s.queue = kept
	if s.cur != nil && s.cur.ref.tp == k {
		s.cur = nil
	}
	s.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{k.topic: {k.part: {Epoch: first.epoch, Offset: first.offset}}})
	s.log.Info("batch failed: partition rewound", "topic", k.topic, "partition", k.part, "offset", first.offset)
}

// Drain stops fetching; Poll returns what was fetched, then EOF.
func (s *Source) Drain() error {
	s.drained = true
	if s.cl != nil {
		s.cl.PauseFetchTopics(s.cfg.Topics...)
	}
	return nil
}

// Close commits the acknowledged offsets, leaves the group and closes the
// client. It is safe after a failed Connect.
func (s *Source) Close() error {
	if s.cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.cl.CommitMarkedOffsets(ctx)
	s.cl.Close()
	s.cl = nil
	if err != nil {
		return fmt.Errorf("kafka_in %s: commit offsets: %w", s.name, err)
	}
	return nil
}

// Counters returns the source's own counters. Safe from any goroutine.
func (s *Source) Counters() []connector.Counter {
	st := &s.stats
	return append([]connector.Counter{
		{Name: "received", Help: "Records fetched.", Value: st.received.Load()},
		{Name: "events", Help: "Events taken from records into batches.", Value: st.events.Load()},
		{Name: "commit_marks", Help: "Times a partition's commit offset advanced after acknowledgements.", Value: st.committedMarks.Load()},
		{Name: "rewinds", Help: "Partitions rewound after a failed batch, to read records again.", Value: st.rewinds.Load()},
		{Name: "dropped_invalid", Help: "Records dropped because their batch frame or Weir-* headers were invalid.", Value: st.droppedBad.Load()},
		{Name: "dropped_too_large", Help: "Events dropped because they are larger than a whole batch arena.", Value: st.droppedBig.Load()},
	}, s.hooks.counters()...)
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "kafka_in",
		Description: "Consumes events from Kafka topics as a consumer-group member, committing offsets only after weir's sinks acknowledged the events.",
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

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirproject/weir/cabi"
	"github.com/weirproject/weir/connector"
	"github.com/weirproject/weir/connector/frame"
	"github.com/weirproject/weir/connector/spec"
)

// HeaderMsgID is the record header holding the message ID (see
// docs/FRAMING.md), for consumers that deduplicate.
const HeaderMsgID = "Weir-Msg-Id"

// SinkSpec describes the kafka_out sink's config fields.
var SinkSpec = append(spec.Spec{
	{Name: "topic", Kind: spec.String, Required: true, Doc: "Topic to produce to; it must exist."},
	{Name: "framing", Kind: spec.Enum, Enum: frame.Names, Default: frame.Event, Doc: "event (one event per record, its fields in Weir-* headers) or batch (many events per record in a batch frame, docs/FRAMING.md)."},
	{Name: "key", Kind: spec.Enum, Enum: frame.KeyNames, Default: frame.KeyNone, Doc: "Partition key: stream (the stream ID), flow (a hash of a packet's addresses, protocol and ports, the same both ways; the stream ID for other events) or none (spread evenly). With batch framing, each frame holds events of one key."},
	{Name: "compression", Kind: spec.Enum, Enum: []string{"none", "lz4", "zstd"}, Default: "lz4", Doc: "Compression of record batches."},
	{Name: "max_frame", Kind: spec.Size, Default: "1000000", Min: 64, Max: "64MiB", Doc: "Largest record value; an event that cannot fit is dropped and counted. Keep it under the topic's max.message.bytes."},
	{Name: "linger", Kind: spec.Duration, Default: "0s", Doc: "How long the producer waits for more records to fill a batch; a batch of events is produced at once anyway."},
	{Name: "msg_id_scope", Kind: spec.String, Default: "", Doc: "A name mixed into every Weir-Msg-Id, so that a consumer deduplicating by it does not drop identical batches of two weirs; empty is HOSTNAME/CONNECTOR. Keep it stable across restarts and distinct per agent."},
	{Name: "delivery_timeout", Kind: spec.Duration, Default: "5s", Min: "1s", Doc: "How long records may wait for a broker before the sink answers RETRY."},
}, connSpec...)

// SinkConfig is the kafka_out sink's decoded config.
type SinkConfig struct {
	connConfig
	Topic           string             `json:"topic"`
	Framing         string             `json:"framing"`
	Key             string             `json:"key"`
	Compression     string             `json:"compression"`
	MaxFrame        int64              `json:"max_frame"`
	Linger          spec.DurationValue `json:"linger"`
	DeliveryTimeout spec.DurationValue `json:"delivery_timeout"`
	MsgIDScope      string             `json:"msg_id_scope"`
}

// Sink produces events to a Kafka topic. See the package doc.
type Sink struct {
	connector.Base
	cfg   SinkConfig
	name  string
	scope string // of message IDs
	log   *slog.Logger
	cl    *kgo.Client
	// connected is set by the first successful Connect; cl may be nil
	// after it, between a timeout and the next Write.
	connected bool

	part struct {
		valid  bool
		digest frame.Digest
		done   []bool
	}
	recs    []*kgo.Record
	scratch []cabi.Event

	hooks connHooks
	stats struct {
		produced, acked, retryTimeout, retryDown, retryOther, droppedOversize, rejected, aborted atomic.Uint64
	}
}

var (
	_ connector.Sink     = (*Sink)(nil)
	_ connector.Counting = (*Sink)(nil)
)

// NewSink creates a kafka_out sink from a JSON config. It does not
// connect.
func NewSink(config []byte, env connector.Env) (*Sink, error) {
	var cfg SinkConfig
	if err := decodeSink(config, &cfg); err != nil {
		return nil, fmt.Errorf("kafka_out %s: %w", env.Name, err)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{cfg: cfg, name: env.Name, scope: frame.ScopeOf(cfg.MsgIDScope, env.Name), log: log}
	s.hooks.log = log
	return s, nil
}

func decodeSink(config []byte, cfg *SinkConfig) error {
	if err := spec.Decode(SinkSpec, config, cfg); err != nil {
		return err
	}
	return cfg.connConfig.check()
}

// Connect creates the producer, checks that a broker answers and that the
// topic exists (a missing topic and refused credentials are permanent).
func (s *Sink) Connect(ctx context.Context, attempt int) error {
	if s.cl != nil {
		return nil
	}
	cl, err := s.open(ctx)
	if err != nil {
		return err
	}
	if err := topicExists(ctx, cl, s.cfg.Topic, time.Duration(s.cfg.ConnectTimeout)); err != nil {
		cl.Close()
		return fmt.Errorf("kafka_out %s: %w", s.name, err)
	}
	s.cl = cl
	s.connected = true
	return nil
}

// open creates a producer client and pings a broker.
func (s *Sink) open(ctx context.Context) (*kgo.Client, error) {
	opts, err := s.cfg.clientOpts(s.name, &s.hooks)
	if err != nil {
		return nil, fmt.Errorf("kafka_out %s: %w", s.name, err)
	}
	codec := kgo.NoCompression()
	switch s.cfg.Compression {
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	}
	opts = append(opts,
		kgo.DefaultProduceTopic(s.cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence needs acks from all
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(int32(s.cfg.MaxFrame)+4096),
		kgo.ProducerLinger(time.Duration(s.cfg.Linger)),
		kgo.RecordDeliveryTimeout(time.Duration(s.cfg.DeliveryTimeout)),
		kgo.UnknownTopicRetries(2),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, connector.Permanent(fmt.Errorf("kafka_out %s: %w", s.name, err))
	}
	if err := ping(ctx, cl, &s.cfg.connConfig); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka_out %s: %w", s.name, err)
	}
	return cl, nil
}

// topicExists asks for the topic's metadata; an unknown topic is
// permanent.
func topicExists(ctx context.Context, cl *kgo.Client, topic string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		if isAuthErr(err) {
			return connector.Permanent(fmt.Errorf("metadata of topic %q: %w", topic, err))
		}
		return fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) || isAuthErr(err) {
				return connector.Permanent(fmt.Errorf("topic %q: %w", topic, err))
			}
			return fmt.Errorf("topic %q: %w", topic, err)
		}
	}
	return nil
}

// plan builds the batch's records. Values are copies, so a record
// outlives the batch.
func (s *Sink) plan(evs []cabi.Event, d frame.Digest) {
	limit := int(s.cfg.MaxFrame)
	s.recs = s.recs[:0]
	dropped := 0
	add := func(key, value []byte, hdrs []kgo.RecordHeader) {
		i := len(s.recs)
		hdrs = append(hdrs, kgo.RecordHeader{Key: HeaderMsgID, Value: d.MsgID(nil, s.cfg.Framing[0], i)})
		s.recs = append(s.recs, &kgo.Record{Topic: s.cfg.Topic, Key: key, Value: value, Headers: hdrs})
	}
	if s.cfg.Framing == frame.Event {
		for i := range evs {
			e := &evs[i]
			if int(e.Len) > limit {
				dropped++
				continue
			}
			add(frame.Key(nil, s.cfg.Key, e), append([]byte(nil), e.Bytes()...), []kgo.RecordHeader{
				{Key: frame.HeaderTs, Value: strconv.AppendUint(nil, e.TsNs, 10)},
				{Key: frame.HeaderStream, Value: strconv.AppendUint(nil, e.StreamID, 10)},
				{Key: frame.HeaderKind, Value: strconv.AppendUint(nil, uint64(e.Kind), 10)},
				{Key: frame.HeaderFlags, Value: strconv.AppendUint(nil, uint64(e.Flags), 10)},
			})
		}
	} else {
		// Group events by key, in order, so each frame has one key.
		groups := [][]cabi.Event{evs}
		var keys [][]byte
		if s.cfg.Key != frame.KeyNone {
			groups, keys = groupByKey(evs, s.cfg.Key)
		}
		for g, ge := range groups {
			var key []byte
			if keys != nil {
				key = keys[g]
			}
			for i := 0; i < len(ge); {
				n, size := frame.Fit(ge[i:], limit)
				if size > limit {
					dropped++
					i++
					continue
				}
				add(key, frame.Append(make([]byte, 0, size), ge[i:i+n]), []kgo.RecordHeader{
					{Key: frame.HeaderFrame, Value: []byte(strconv.Itoa(frame.Version))},
				})
				i += n
			}
		}
	}
	if dropped > 0 {
		s.stats.droppedOversize.Add(uint64(dropped))
		s.log.Warn("events larger than max_frame dropped", "events", dropped, "max_frame", limit)
	}
}

// groupByKey splits evs into runs that share a key, keeping each key's
// events in order.
func groupByKey(evs []cabi.Event, choice string) ([][]cabi.Event, [][]byte) {
	idx := map[string]int{}
	var groups [][]cabi.Event
	var keys [][]byte
	for i := range evs {
		k := frame.Key(nil, choice, &evs[i])
		g, ok := idx[string(k)]
		if !ok {
			g = len(groups)
			idx[string(k)] = g
			groups = append(groups, nil)
			keys = append(keys, k)
		}
		groups[g] = append(groups[g], evs[i])
	}
	return groups, keys
}

// Write produces the batch and waits until every record is acknowledged
// (OK), or failed: RETRY when the brokers were unreachable or slow within
// delivery_timeout, ERROR when a broker refused a record for good.
func (s *Sink) Write(b *cabi.Batch) (cabi.Status, error) {
	if !s.connected {
		return cabi.Error, fmt.Errorf("kafka_out %s: write before connect", s.name)
	}
	evs := b.EventSlice()
	if len(evs) > 0 && s.cl == nil {
		// The last client was closed to give up on records no broker
		// took: a new one, that is a new producer session.
		cl, err := s.open(context.Background())
		if err != nil {
			s.stats.retryDown.Add(1)
			return cabi.Retry, err
		}
		s.cl = cl
	}
	if len(evs) == 0 {
		return cabi.OK, nil
	}
	d := frame.DigestOf(s.scope, evs)
	s.plan(evs, d)
	if !s.part.valid || s.part.digest != d || len(s.part.done) != len(s.recs) {
		s.part.valid, s.part.digest = true, d
		s.part.done = make([]bool, len(s.recs))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i, r := range s.recs {
		if s.part.done[i] {
			continue
		}
		wg.Add(1)
		s.stats.produced.Add(1)
		s.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			s.part.done[i] = true
			s.stats.acked.Add(1)
		})
	}
	// The client checks delivery_timeout only around produce requests, so
	// with no broker reachable the records would wait forever: past the
	// timeout, close the client, which fails every buffered record, and
	// answer RETRY; the next Write opens a new client (and producer
	// session, so a record that did reach a broker may be stored twice,
	// with the same Weir-Msg-Id).
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	timer := time.NewTimer(time.Duration(s.cfg.DeliveryTimeout))
	select {
	case <-waited:
		timer.Stop()
	case <-timer.C:
		s.stats.aborted.Add(1)
		s.cl.Close()
		s.cl = nil
		<-waited
		mu.Lock()
		if firstErr == nil {
			firstErr = kgo.ErrRecordTimeout
		}
		mu.Unlock()
	}
	if firstErr == nil {
		s.part.valid = false
		return cabi.OK, nil
	}
	err := firstErr
	switch {
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrClientClosed), errors.Is(err, context.DeadlineExceeded):
		s.stats.retryTimeout.Add(1)
		return cabi.Retry, fmt.Errorf("kafka_out %s: not delivered within %s (brokers unreachable?): %w", s.name, time.Duration(s.cfg.DeliveryTimeout), err)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.UnknownTopicOrPartition), isAuthErr(err):
		s.stats.rejected.Add(1)
		return cabi.Error, fmt.Errorf("kafka_out %s: topic %s refused the batch: %w", s.name, s.cfg.Topic, err)
	}
	s.stats.retryOther.Add(1)
	return cabi.Retry, fmt.Errorf("kafka_out %s: produce: %w", s.name, err)
}

// flush waits for buffered records (there are none between Writes).
func (s *Sink) flush() error {
	if s.cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.DeliveryTimeout))
	defer cancel()
	return s.cl.Flush(ctx)
}

// Drain waits for records in flight.
func (s *Sink) Drain() error { return s.flush() }

// Close closes the producer. It is safe after a failed Connect.
func (s *Sink) Close() error {
	if s.cl == nil {
		return nil
	}
	err := s.flush()
	s.cl.Close()
	s.cl = nil
	if err != nil {
		return fmt.Errorf("kafka_out %s: flush: %w", s.name, err)
	}
	return nil
}

// Counters returns the sink's own counters. Safe from any goroutine.
func (s *Sink) Counters() []connector.Counter {
	st := &s.stats
	return append([]connector.Counter{
		{Name: "produced", Help: "Records handed to the producer.", Value: st.produced.Load()},
		{Name: "acked", Help: "Records the brokers acknowledged.", Value: st.acked.Load()},
		{Name: "retry_timeout", Help: "Batches answered RETRY because records were not delivered within delivery_timeout.", Value: st.retryTimeout.Load()},
		{Name: "aborted", Help: "Times records still waiting for a broker past delivery_timeout were failed by closing the producer (their batch answered RETRY).", Value: st.aborted.Load()},
		{Name: "retry_disconnected", Help: "Batches answered RETRY because no broker answered a new producer.", Value: st.retryDown.Load()},
		{Name: "retry_other", Help: "Batches answered RETRY for another produce error.", Value: st.retryOther.Load()},
		{Name: "dropped_oversize", Help: "Events dropped because they cannot fit max_frame.", Value: st.droppedOversize.Load()},
		{Name: "rejected", Help: "Batches answered ERROR because a broker refused a record for good.", Value: st.rejected.Load()},
	}, s.hooks.counters()...)
}

func init() {
	connector.MustRegister(connector.Type{
		ID:          "kafka_out",
		Description: "Produces events to a Kafka topic with an idempotent producer, one per record or in batch frames, keyed by stream, flow or nothing.",
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

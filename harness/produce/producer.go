package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// Source yields ticks in order; Next returns io.EOF after the last one.
// *CSV and *SyntheticSource are Sources.
type Source interface {
	Next() (tick.Tick, error)
}

// Result is what Produce did.
type Result struct {
	// Produced is the records Kafka acknowledged, in the sense of the
	// producer's Acks: with AcksAll every in-sync replica has them, with
	// Acks1 the leader, with Acks0 they were only sent (no answer comes).
	Produced int64
	Skipped  int // bad input rows skipped (sources with a Skipped method)
}

// Option configures New.
type Option func(*config)

type config struct {
	topic       string
	rate        float64
	speedup     float64
	pingTimeout time.Duration
	timestamp   func(i int64, t tick.Tick) time.Time
	codec       string
	acks        string
	idempotent  bool
	kgoOpts     []kgo.Opt
}

// The values Acks accepts: how many replicas must have a batch before the
// broker answers.
const (
	AcksAll = "all" // every in-sync replica (the default; what idempotence needs)
	Acks1   = "1"   // the leader alone: lost if the leader fails before followers copy it
	Acks0   = "0"   // no answer at all: the producer never learns of a failure
)

// AcksValues are the values Acks accepts, safest first.
var AcksValues = []string{AcksAll, Acks1, Acks0}

// Acks sets the producer's required acks: AcksAll (default), Acks1 or
// Acks0. Anything else, or Acks1/Acks0 with Idempotent(true), is an error
// from New: Kafka's idempotence needs acks=all.
func Acks(a string) Option { return func(c *config) { c.acks = a } }

// Idempotent turns Kafka's idempotent produce on (the default) or off. Off,
// a batch the client retries after an ambiguous failure (a timeout, a
// REQUEST_TIMED_OUT answered after the broker appended it, a connection cut
// before the answer) is appended again: a duplicate. Tests and scenarios
// turn it off to show exactly that.
func Idempotent(on bool) Option { return func(c *config) { c.idempotent = on } }

// acksOpts maps Acks and Idempotent to kgo options.
func acksOpts(acks string, idempotent bool) ([]kgo.Opt, error) {
	var a kgo.Acks
	switch acks {
	case AcksAll, "-1", "":
		a = kgo.AllISRAcks()
	case Acks1:
		a = kgo.LeaderAck()
	case Acks0:
		a = kgo.NoAck()
	default:
		return nil, fmt.Errorf("produce: unknown acks %q: use one of %s", acks, strings.Join(AcksValues, ", "))
	}
	if !idempotent {
		return []kgo.Opt{kgo.RequiredAcks(a), kgo.DisableIdempotentWrite()}, nil
	}
	if a != kgo.AllISRAcks() {
		return nil, fmt.Errorf("produce: acks %s with idempotence: Kafka's idempotent producer needs acks=all; turn idempotence off for acks %s", acks, acks)
	}
	return []kgo.Opt{kgo.RequiredAcks(a)}, nil // idempotence is kgo's default with acks=all
}

// Topic sets the topic to produce to. Default tick.DefaultTopic.
func Topic(t string) Option { return func(c *config) { c.topic = t } }

// Rate paces production at r records per second. Default: unpaced.
func Rate(r float64) Option { return func(c *config) { c.rate = r } }

// Speedup replays the trading-day timeline x times faster than real time:
// ticks whose trade dates are one day apart are sent 24h/x apart (86400 =
// one trading day per second). Ticks of the same day go out together.
// Default: unpaced. Rate wins if both are set.
func Speedup(x float64) Option { return func(c *config) { c.speedup = x } }

// PingTimeout bounds the reachability check New does before anything is
// produced. Default 10s.
func PingTimeout(d time.Duration) Option { return func(c *config) { c.pingTimeout = d } }

// KafkaOptions adds franz-go client options (TLS, SASL, or short metadata
// ages in tests). They are applied after tickflow's defaults.
func KafkaOptions(opts ...kgo.Opt) Option {
	return func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) }
}

// Codecs are the batch compression codecs Compression accepts.
var Codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// DefaultCompression is the codec the producer uses unless told otherwise:
// none, because every Kafka client reads uncompressed batches, while Debian's
// kafka-python has no snappy, lz4 or zstd and kafkajs reads only gzip
// without a plugin. On a real cluster over a network pick gzip (readable by
// all) or zstd/lz4 (faster, when every consumer supports them).
const DefaultCompression = "none"

// Compression sets the batch compression codec: one of Codecs. Default
// DefaultCompression. An unknown name is an error from New.
func Compression(codec string) Option { return func(c *config) { c.codec = codec } }

// codecOpt maps a codec name to the kgo option.
func codecOpt(name string) (kgo.Opt, error) {
	var codec kgo.CompressionCodec
	switch strings.ToLower(name) {
	case "none", "":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("produce: unknown compression %q: use one of %s", name, strings.Join(Codecs, ", "))
	}
	return kgo.ProducerBatchCompression(codec), nil
}

// RecordTimestamps sets each record's timestamp (testing only: it replaces
// Kafka's CreateTime = produce time, e.g. to spread records over hours).
// fn gets the 0-based record number and the tick.
func RecordTimestamps(fn func(i int64, t tick.Tick) time.Time) Option {
	return func(c *config) { c.timestamp = fn }
}

// Producer writes ticks to Kafka: by default idempotent with acks=all (see
// Acks and Idempotent), keyed by symbol, JSON values with the lake's column
// names.
type Producer struct {
	cfg      config
	client   *kgo.Client
	brokers  []string
	produced atomic.Int64
	sent     atomic.Int64
}

// New connects to brokers and checks within PingTimeout that one of them
// answers, so an unreachable cluster is an error, not a hang.
func New(ctx context.Context, brokers []string, opts ...Option) (*Producer, error) {
	cfg := config{topic: tick.DefaultTopic, pingTimeout: 10 * time.Second, codec: DefaultCompression, acks: AcksAll, idempotent: true}
	for _, o := range opts {
		o(&cfg)
	}
	if len(brokers) == 0 {
		return nil, errors.New("produce: no brokers given")
	}
	compression, err := codecOpt(cfg.codec)
	if err != nil {
		return nil, err
	}
	acks, err := acksOpts(cfg.acks, cfg.idempotent)
	if err != nil {
		return nil, err
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(cfg.topic),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.DialTimeout(5 * time.Second),
		compression,
	}
	kopts = append(kopts, acks...)
	if cfg.timestamp == nil {
		kopts = append(kopts, kgo.RecordDeliveryTimeout(2*time.Minute))
	} else {
		// kgo measures the delivery timeout from the record timestamp, which
		// the caller set (possibly in the past): bound retries instead.
		kopts = append(kopts, kgo.RecordRetries(30))
	}
	kopts = append(kopts, cfg.kgoOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("produce: kafka client for %v: %w", brokers, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.pingTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("produce: no Kafka broker reachable at %s within %s (check --brokers and that Kafka is up): %w",
			strings.Join(brokers, ","), cfg.pingTimeout, err)
	}
	return &Producer{cfg: cfg, client: cl, brokers: brokers}, nil
}

// Produced is the number of records acknowledged so far; safe to call from
// another goroutine (progress displays).
func (p *Producer) Produced() int64 { return p.produced.Load() }

// Close releases the client. Records not yet flushed are abandoned.
func (p *Producer) Close() { p.client.Close() }

// Produce sends every tick of src and waits until all are acknowledged. It
// stops early on ctx cancellation or the first delivery error, returning
// what was acknowledged so far with the error.
func (p *Producer) Produce(ctx context.Context, src Source) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		errOnce  sync.Once
		firstErr error
		res      Result
		start    = time.Now()
		first    time.Time
		i        int64
		base     = p.produced.Load()
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel(err) })
	}
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			fail(fmt.Errorf("produce: deliver record to %s: %w", p.cfg.topic, err))
			return
		}
		p.produced.Add(1)
	}
	var srcErr error
	for ctx.Err() == nil {
		t, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			srcErr = fmt.Errorf("produce: %w", err)
			break
		}
		if err := p.pace(ctx, start, i, t, &first); err != nil {
			break
		}
		val, err := tick.Marshal(t)
		if err != nil {
			srcErr = fmt.Errorf("produce: encode tick %d: %w", i, err)
			break
		}
		r := &kgo.Record{Key: []byte(t.Symbol), Value: val}
		if p.cfg.timestamp != nil {
			r.Timestamp = p.cfg.timestamp(i, t)
		}
		p.client.Produce(ctx, r, promise)
		i++
	}
	if sk, ok := src.(interface{ Skipped() int }); ok {
		res.Skipped = sk.Skipped()
	}
	// Wait for every in-flight record (bounded by RecordDeliveryTimeout);
	// after a cancellation give them only a moment.
	fctx := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		var c context.CancelFunc
		fctx, c = context.WithTimeout(fctx, 5*time.Second)
		defer c()
	}
	_ = p.client.Flush(fctx)
	res.Produced = p.produced.Load() - base
	switch {
	case srcErr != nil:
		return res, srcErr
	case firstErr != nil:
		return res, firstErr
	case ctx.Err() != nil:
		return res, fmt.Errorf("produce: stopped after %d records: %w", res.Produced, context.Cause(ctx))
	}
	return res, nil
}

// pace sleeps until tick i may be sent.
func (p *Producer) pace(ctx context.Context, start time.Time, i int64, t tick.Tick, first *time.Time) error {
	var due time.Time
	switch {
	case p.cfg.rate > 0:
		due = start.Add(time.Duration(float64(i) / p.cfg.rate * float64(time.Second)))
	case p.cfg.speedup > 0:
		d, err := time.Parse(time.DateOnly, t.TradeDate)
		if err != nil {
			return nil // not pace-able; validation is the sink's job
		}
		if first.IsZero() {
			*first = d
		}
		due = start.Add(time.Duration(float64(d.Sub(*first)) / p.cfg.speedup))
	default:
		return nil
	}
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

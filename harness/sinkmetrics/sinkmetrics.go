// Package sinkmetrics exposes an exactly-once sink's (harness/sink) work as
// Prometheus metrics: records consumed and written, objects and bytes
// uploaded, an upload latency histogram, retries, dead letters, fence
// refusals, committed offsets and lag per partition. It does not change the
// sink: it reads sink.Stats at scrape time and wraps the object store the
// sink writes through to time each upload.
//
//	m := sinkmetrics.New(sinkmetrics.Lag(adm, group, topic)) // lag: optional
//	st = m.Store(st)                                        // before sink.New
//	s, _ := sink.New(ctx, brokers, st, opts...)
//	m.Attach(s)
//	reg.MustRegister(m) // then serve reg with promhttp
//
// Names follow Prometheus conventions: tickflow_sink_…_total for counters,
// seconds and bytes as base units.
package sinkmetrics

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
)

// Option configures New.
type Option func(*Metrics)

// Lag makes every scrape ask the brokers (through adm, bounded by 2 s) for
// group's committed offsets and topic's end offsets, and report the lag per
// partition. Without it no lag is reported.
func Lag(adm *kadm.Client, group, topic string) Option {
	return func(m *Metrics) { m.adm, m.group, m.topic = adm, group, topic }
}

// Metrics is a prometheus.Collector for one sink.
type Metrics struct {
	adm          *kadm.Client
	group, topic string

	mu sync.Mutex
	s  *sink.Sink

	uploads   *prometheus.HistogramVec
	refusals  prometheus.Counter
	lagErrors prometheus.Counter
}

var (
	descConsumed  = prometheus.NewDesc("tickflow_sink_records_consumed_total", "Records the sink received from Kafka.", nil, nil)
	descWritten   = prometheus.NewDesc("tickflow_sink_records_written_total", "Rows the sink uploaded in lake objects.", nil, nil)
	descObjects   = prometheus.NewDesc("tickflow_sink_objects_uploaded_total", "Lake objects the sink uploaded.", nil, nil)
	descBytes     = prometheus.NewDesc("tickflow_sink_uploaded_bytes_total", "Bytes of the lake objects the sink uploaded.", nil, nil)
	descRetries   = prometheus.NewDesc("tickflow_sink_retries_total", "S3 calls the sink retried.", nil, nil)
	descDLQ       = prometheus.NewDesc("tickflow_sink_dead_letters_total", "Undecodable records the sink sent to the dead-letter topic.", nil, nil)
	descAdopted   = prometheus.NewDesc("tickflow_sink_objects_adopted_total", "Objects another writer had already put at the sink's next key, taken over instead of written.", nil, nil)
	descRefused   = prometheus.NewDesc("tickflow_sink_refused_total", "Side effects the sink did not make because it no longer owned the partition or the group rejected its commit.", nil, nil)
	descOrphans   = prometheus.NewDesc("tickflow_sink_orphans_deleted_total", "Off-chain objects removed by reconciliation.", nil, nil)
	descExpired   = prometheus.NewDesc("tickflow_sink_expired_offsets_total", "Offsets removed by retention before the sink read them.", nil, nil)
	descTruncated = prometheus.NewDesc("tickflow_sink_log_truncations_total", "Partition logs found truncated below offsets the sink had read (the sink stops: sink.ErrTruncated).", nil, nil)
	descUnknown   = prometheus.NewDesc("tickflow_sink_unknown_fields_total", "Keys of decoded record values that are not lake columns (ignored, not stored).", nil, nil)
	descCommitted = prometheus.NewDesc("tickflow_sink_committed_offset", "The sink's last committed offset (exclusive end) per partition.", []string{"partition"}, nil)
	descLag       = prometheus.NewDesc("tickflow_sink_lag", "Records of the partition the sink's group has not committed yet.", []string{"topic", "partition"}, nil)
)

// New returns the sink's metrics; register them on a prometheus.Registerer.
func New(opts ...Option) *Metrics {
	m := &Metrics{
		uploads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tickflow_sink_upload_duration_seconds",
			Help:    "Time of each object upload attempt (PUT), by result: ok, refused (the key already existed: If-None-Match fence) or error.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms … 33 s
		}, []string{"result"}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_sink_fence_refusals_total",
			Help: "Conditional uploads (If-None-Match: *) the store refused because the key already held an object: a retry whose earlier attempt landed, or another writer's object.",
		}),
		lagErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickflow_sink_lag_errors_total",
			Help: "Scrapes whose lag query to the brokers failed; tickflow_sink_lag is missing from those scrapes.",
		}),
	}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	return m
}

// Store wraps st so that every upload through it is timed and every fence
// refusal counted. Give the wrapped store to sink.New.
func (m *Metrics) Store(st objstore.Store) objstore.Store { return &timedStore{Store: st, m: m} }

// Attach points the counters at s (Stats are read at scrape time).
func (m *Metrics) Attach(s *sink.Sink) {
	m.mu.Lock()
	m.s = s
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConsumed, descWritten, descObjects, descBytes, descRetries, descDLQ,
		descAdopted, descRefused, descOrphans, descExpired, descTruncated, descUnknown, descCommitted, descLag} {
		ch <- d
	}
	m.uploads.Describe(ch)
	m.refusals.Describe(ch)
	m.lagErrors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.uploads.Collect(ch)
	m.refusals.Collect(ch)
	defer m.lagErrors.Collect(ch) // after a failed lag query has counted itself
	m.mu.Lock()
	s := m.s
	m.mu.Unlock()
	if s == nil {
		return
	}
	st := s.Stats()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descConsumed, st.Consumed)
	counter(descWritten, st.Written)
	counter(descObjects, st.Objects)
	counter(descBytes, st.Bytes)
	counter(descRetries, st.Retries)
	counter(descDLQ, st.DLQ)
	counter(descAdopted, st.Adopted)
	counter(descRefused, st.Refused)
	counter(descOrphans, st.OrphansDeleted)
	counter(descExpired, st.Expired)
	counter(descTruncated, st.Truncated)
	counter(descUnknown, st.UnknownFields)
	for p, off := range st.Committed {
		ch <- prometheus.MustNewConstMetric(descCommitted, prometheus.GaugeValue, float64(off), strconv.Itoa(int(p)))
	}
	if m.adm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// A failed query must not fail the whole scrape: the other metrics
	// matter most exactly when the brokers are in trouble.
	lags, err := m.adm.Lag(ctx, m.group)
	if err != nil {
		m.lagErrors.Inc()
		return
	}
	gl, ok := lags[m.group]
	if !ok {
		return
	}
	if err := gl.Error(); err != nil {
		m.lagErrors.Inc()
		return
	}
	for _, l := range gl.Lag.Sorted() {
		if l.Topic != m.topic || l.Lag < 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(l.Lag), l.Topic, strconv.Itoa(int(l.Partition)))
	}
}

// timedStore times uploads; every other call goes straight to the store.
type timedStore struct {
	objstore.Store
	m *Metrics
}

func (t *timedStore) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	start := time.Now()
	err := t.Store.Put(ctx, key, body, meta)
	t.observe(start, err)
	return err
}

func (t *timedStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	start := time.Now()
	err := t.Store.PutIfAbsent(ctx, key, body, meta)
	t.observe(start, err)
	return err
}

func (t *timedStore) observe(start time.Time, err error) {
	result := "ok"
	switch {
	case errors.Is(err, objstore.ErrPreconditionFailed):
		result = "refused"
		t.m.refusals.Inc()
	case err != nil:
		result = "error"
	}
	t.m.uploads.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

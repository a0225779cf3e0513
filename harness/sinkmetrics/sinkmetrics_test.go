package sinkmetrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/sinkmetrics"
	"github.com/tickflow/tickflow/harness/tick"
)

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value is the sample of name whose labels are exactly labels (k, v, ...).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
outer:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for i, l := range m.GetLabel() {
			if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
				continue outer
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestSinkMetricsMatchTheLake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := broker.Start(ctx, broker.GroupMinSessionTimeout(500*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	kopts := []kgo.Opt{kgo.SeedBrokers(w.KafkaAddrs()...), kgo.MetadataMinAge(100 * time.Millisecond)}
	cl, err := kgo.NewClient(kopts...)
	require.NoError(t, err)
	defer cl.Close()

	// 400 ticks and 3 poison records that must go to the dead-letter topic.
	const good, poison = 400, 3
	var recs []*kgo.Record
	for i := range good {
		v, _ := json.Marshal(tick.Tick{Symbol: fmt.Sprintf("S%d", i%5), TradeDate: "2024-03-04", Open: 1, High: 1, Low: 1, Close: 1, AdjClose: 1, Volume: int64(i), CloseUSD: 1})
		recs = append(recs, &kgo.Record{Topic: tick.DefaultTopic, Key: fmt.Appendf(nil, "S%d", i%5), Value: v})
	}
	for i := range poison {
		recs = append(recs, &kgo.Record{Topic: tick.DefaultTopic, Key: []byte("bad"), Value: fmt.Appendf(nil, "not json %d", i)})
	}
	// And one tick with two keys that are not lake columns.
	const unknown = 2
	recs = append(recs, &kgo.Record{Topic: tick.DefaultTopic, Key: []byte("S0"),
		Value: []byte(`{"symbol":"S0","trade_date":"2024-03-04","close":1,"exchange":"X","seq":1}`)})
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	const group = "metrics-sink"
	m := sinkmetrics.New(sinkmetrics.Lag(kadm.NewClient(cl), group, tick.DefaultTopic))
	s, err := sink.New(ctx, w.KafkaAddrs(), m.Store(st), sink.Group(group), sink.FlushRecords(40), sink.FlushInterval(200*time.Millisecond),
		sink.KafkaOptions(kgo.MetadataMinAge(100*time.Millisecond)))
	require.NoError(t, err)
	m.Attach(s)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() {
		stop()
		require.NoError(t, <-done)
	}()

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, tick.DefaultTopic)
	require.NoError(t, err)
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(60 * time.Second)
	for {
		fams = scrape(t, srv.URL)
		caughtUp := true
		ends.Each(func(o kadm.ListedOffset) {
			lag, ok := value(fams, "tickflow_sink_lag", "partition", strconv.Itoa(int(o.Partition)), "topic", tick.DefaultTopic)
			// The group has the commit a moment before the sink's Stats do:
			// wait for both.
			committed, okC := value(fams, "tickflow_sink_committed_offset", "partition", strconv.Itoa(int(o.Partition)))
			if o.Offset > 0 && (!ok || lag != 0 || !okC || committed != float64(o.Offset)) {
				caughtUp = false
			}
		})
		if caughtUp {
			break
		}
		require.True(t, time.Now().Before(deadline), "the sink's lag never reached 0")
		time.Sleep(50 * time.Millisecond)
	}

	get := func(name string, labels ...string) float64 {
		v, ok := value(fams, name, labels...)
		require.True(t, ok, "%s%v missing", name, labels)
		return v
	}
	assert.Equal(t, float64(good+1+poison), get("tickflow_sink_records_consumed_total"))
	assert.Equal(t, float64(good+1), get("tickflow_sink_records_written_total"))
	assert.Equal(t, float64(unknown), get("tickflow_sink_unknown_fields_total"))
	assert.Equal(t, float64(poison), get("tickflow_sink_dead_letters_total"))
	// Objects and bytes: what is in the lake.
	objs, err := st.List(ctx, tick.Table+"/")
	require.NoError(t, err)
	var size int64
	for _, o := range objs {
		size += o.Size
	}
	assert.Equal(t, float64(len(objs)), get("tickflow_sink_objects_uploaded_total"))
	assert.Equal(t, float64(size), get("tickflow_sink_uploaded_bytes_total"))
	assert.Equal(t, float64(len(objs)), get("tickflow_sink_upload_duration_seconds", "result", "ok"), "one timed upload per object")
	assert.Equal(t, float64(0), get("tickflow_sink_fence_refusals_total"))
	assert.Equal(t, float64(0), get("tickflow_sink_retries_total"))
	// Committed offsets: the end of every partition.
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			assert.Equal(t, float64(o.Offset), get("tickflow_sink_committed_offset", "partition", strconv.Itoa(int(o.Partition))))
		}
	})
	assert.Equal(t, dto.MetricType_HISTOGRAM, fams["tickflow_sink_upload_duration_seconds"].GetType())
}

func TestFenceRefusalsAreCounted(t *testing.T) {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1})
	require.NoError(t, err)
	m := sinkmetrics.New()
	ts := m.Store(st)
	require.NoError(t, ts.PutIfAbsent(ctx, "k", []byte("a"), nil))
	err = ts.PutIfAbsent(ctx, "k", []byte("b"), nil)
	require.True(t, errors.Is(err, objstore.ErrPreconditionFailed), "%v", err)
	f := w.Coordinator().FailS3(broker.S3Fault{Op: "PUT", Status: 500, Count: 1})
	require.NoError(t, f.Err())
	require.Error(t, ts.Put(ctx, "j", []byte("c"), nil))

	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	fams := scrape(t, srv.URL)
	v, _ := value(fams, "tickflow_sink_fence_refusals_total")
	assert.Equal(t, float64(1), v)
	for result, want := range map[string]float64{"ok": 1, "refused": 1, "error": 1} {
		v, ok := value(fams, "tickflow_sink_upload_duration_seconds", "result", result)
		assert.True(t, ok, result)
		assert.Equal(t, want, v, result)
	}
	_, ok := value(fams, "tickflow_sink_records_consumed_total")
	assert.False(t, ok, "no sink attached: no sink counters")
}

// Brokers that do not answer cost the lag, not the scrape.
func TestLagErrorKeepsTheScrape(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.DialTimeout(100*time.Millisecond), kgo.RetryTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	m := sinkmetrics.New(sinkmetrics.Lag(kadm.NewClient(cl), "g", tick.DefaultTopic))
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	m.Attach(&sink.Sink{}) // zero counters
	fams := scrape(t, srv.URL)
	v, ok := value(fams, "tickflow_sink_lag_errors_total")
	assert.True(t, ok)
	assert.Equal(t, float64(1), v)
	_, ok = value(fams, "tickflow_sink_records_consumed_total")
	assert.True(t, ok, "the sink's counters are still there")
	assert.NotContains(t, fams, "tickflow_sink_lag")
}

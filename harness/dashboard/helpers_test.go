package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// fixture is a running world with a dashboard watching it.
type fixture struct {
	w   *broker.World
	d   *dashboard.Server
	url string // the page, "http://127.0.0.1:PORT/"
}

func start(t *testing.T, opts ...broker.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	w, err := broker.Start(ctx, append([]broker.Option{broker.GroupMinSessionTimeout(500 * time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	d, err := dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), dashboard.SampleInterval(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Watch(ctx, dashboard.Target{World: w}))
	return &fixture{w: w, d: d, url: d.URL()}
}

func kafkaOpts(w *broker.World) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(w.KafkaAddrs()...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	}
}

// produced is what a test produced: records per partition and one record
// to look for.
type produced struct {
	perPartition map[int32]int64
	total        int64
	records      []*kgo.Record
}

// produceTicks sends n ticks keyed by symbol (8 symbols), each with a
// "seq" header, and returns where they landed.
func produceTicks(t *testing.T, w *broker.World, n int) produced {
	t.Helper()
	cl, err := kgo.NewClient(kafkaOpts(w)...)
	require.NoError(t, err)
	defer cl.Close()
	base := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range n {
		sym := fmt.Sprintf("SYM%d", i%8)
		v, err := json.Marshal(tick.Tick{Symbol: sym, TradeDate: "2024-03-04", Open: 1, High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5, Volume: int64(i), CloseUSD: 0.2})
		require.NoError(t, err)
		recs = append(recs, &kgo.Record{Topic: tick.DefaultTopic, Key: []byte(sym), Value: v,
			Timestamp: base.Add(time.Duration(i) * time.Minute),
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	p := produced{perPartition: map[int32]int64{}, records: recs}
	for _, r := range recs {
		p.perPartition[r.Partition]++
		p.total++
	}
	return p
}

// runSink starts the exactly-once sink in group and stops it at cleanup.
func runSink(t *testing.T, w *broker.World, group string, opts ...sink.Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	s, err := sink.New(ctx, w.KafkaAddrs(), st, append([]sink.Option{
		sink.Group(group), sink.FlushInterval(200 * time.Millisecond), sink.FlushRecords(50),
		sink.KafkaOptions(kgo.MetadataMinAge(100*time.Millisecond), kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond)),
	}, opts...)...)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("sink stopped: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("sink did not stop within 30s")
		}
	})
}

// eventually polls cond every 50ms until it is true or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last state: %s", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// state fetches /api/state.
func (f *fixture) state(t *testing.T) *dashboard.Snapshot {
	t.Helper()
	resp, err := http.Get(f.url + "api/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s dashboard.Snapshot
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return &s
}

// post sends a JSON POST as the page would (same Origin) unless hdr says
// otherwise, and returns the status and body.
func (f *fixture) post(t *testing.T, path string, body any, hdr map[string]string) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, f.url+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", strings.TrimSuffix(f.url, "/"))
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "no CORS header may be sent")
	return resp.StatusCode, string(out)
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func brokerUp(c *broker.Coordinator, id int32) bool {
	for _, b := range c.Brokers() {
		if b.ID == id {
			return b.Up
		}
	}
	return false
}

package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/dashboard"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

func TestStartRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opt  dashboard.Option
		want string
	}{
		{"not host:port", dashboard.Addr("8080"), "not host:port"},
		{"host name", dashboard.Addr("example.com:8080"), "not an IP address"},
		{"bad port", dashboard.Addr("127.0.0.1:99999"), "0..65535"},
		{"zero interval", dashboard.SampleInterval(0), "SampleInterval"},
		{"history shorter than interval", dashboard.History(time.Millisecond), "History"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), tc.opt)
			if d != nil {
				d.Close()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		_, err = dashboard.Start(ctx, dashboard.Addr(ln.Addr().String()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), ln.Addr().String())
	})
}

func TestNoWorldAttached(t *testing.T) {
	d, err := dashboard.Start(context.Background(), dashboard.Addr("127.0.0.1:0"), dashboard.SampleInterval(50*time.Millisecond))
	require.NoError(t, err)
	defer d.Close()
	f := &fixture{d: d, url: d.URL()}
	s := f.state(t)
	assert.Nil(t, s.World)
	code, body := f.post(t, "api/faults", dashboard.Action{Action: "shuffle-leaders"}, nil)
	assert.Equal(t, http.StatusConflict, code, body)
	assert.Contains(t, body, "no world")
	code, body = f.get(t, "api/messages?topic=x")
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
}

func TestPageIsEmbeddedAndSelfContained(t *testing.T) {
	f := start(t, broker.Brokers(1))
	code, body := f.get(t, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<title>tickflow dashboard</title>")
	// Offline: nothing is loaded from another host.
	for _, path := range []string{"", "app.js", "style.css"} {
		_, b := f.get(t, path)
		assert.NotContains(t, b, "http://", path)
		assert.NotContains(t, b, "https://", path)
		assert.NotContains(t, b, "//cdn", path)
	}
	resp, err := http.Get(f.url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestFaultActionsAreSafeByDefault(t *testing.T) {
	f := start(t)
	c := f.w.Coordinator()
	stop1 := dashboard.Action{Action: "stop-broker", Broker: ptr(int32(1))}

	code, body := f.post(t, "api/faults", stop1, map[string]string{"Origin": "http://evil.example"})
	assert.Equal(t, http.StatusForbidden, code, body)
	assert.Contains(t, body, "Origin")
	code, body = f.post(t, "api/faults", stop1, map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusForbidden, code, body)
	code, body = f.post(t, "api/faults", stop1, map[string]string{"Content-Type": "text/plain"})
	assert.Equal(t, http.StatusUnsupportedMediaType, code, body)
	code, body = f.post(t, "api/faults", stop1, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	assert.Equal(t, http.StatusUnsupportedMediaType, code, body)
	assert.True(t, brokerUp(c, 1), "a refused request must not stop the broker")

	// DNS rebinding: a name other than an IP or localhost is refused, GET too.
	req, err := http.NewRequest(http.MethodGet, f.url+"api/state", nil)
	require.NoError(t, err)
	req.Host = "attacker.example:80"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// GET cannot act.
	code, _ = f.get(t, "api/faults")
	assert.Equal(t, http.StatusMethodNotAllowed, code)

	// A request without Origin (curl, scripts) from this machine is fine.
	code, body = f.post(t, "api/faults", stop1, map[string]string{"Origin": ""})
	assert.Equal(t, http.StatusOK, code, body)
	assert.False(t, brokerUp(c, 1))
}

func TestFaultActionsGoThroughTheCoordinator(t *testing.T) {
	f := start(t)
	c := f.w.Coordinator()
	ctx := context.Background()

	code, body := f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(0))}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.False(t, brokerUp(c, 0))
	eventually(t, 5*time.Second, "the page shows broker 0 down", func() (bool, string) {
		s := f.state(t)
		if s.World == nil {
			return false, "no world"
		}
		for _, b := range s.World.Brokers {
			if b.ID == 0 {
				return !b.Up, fmt.Sprintf("broker 0 up=%v", b.Up)
			}
		}
		return false, "broker 0 missing"
	})

	// Refusals by the Coordinator are 409 with its reason.
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(0))}, nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "already down")
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(c.Controller())}, nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "controller")
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(9))}, nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "no broker with id 9")

	// Malformed actions are 400 and say what to send.
	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"unknown action", map[string]any{"action": "reboot"}, "unknown action"},
		{"no action", map[string]any{}, "no \\\"action\\\""},
		{"no broker", map[string]any{"action": "restart-broker"}, "needs \\\"broker\\\""},
		{"move without partition", map[string]any{"action": "move-leader", "broker": 1, "topic": "stock-ticks"}, "needs \\\"topic\\\" and \\\"partition\\\""},
		{"unknown field", map[string]any{"action": "shuffle-leaders", "force": true}, "unknown field"},
		{"bad S3 op", map[string]any{"action": "s3-errors", "on": true, "op": "COPY"}, "S3Fault.Op"},
		{"bad latency", map[string]any{"action": "s3-latency", "on": true, "latency_ms": -5}, "latency_ms"},
		{"not JSON", "stop it", "bad JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.post(t, "api/faults", tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, code, body)
			assert.Contains(t, body, tc.want)
		})
	}

	code, body = f.post(t, "api/faults", dashboard.Action{Action: "restart-broker", Broker: ptr(int32(0))}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.True(t, brokerUp(c, 0))

	code, body = f.post(t, "api/faults", dashboard.Action{Action: "move-leader", Topic: tick.DefaultTopic, Partition: ptr(int32(2)), Broker: ptr(int32(0))}, nil)
	require.Equal(t, http.StatusOK, code, body)
	eventually(t, 5*time.Second, "partition 2 led by broker 0", func() (bool, string) {
		ts, err := c.Topics(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, tp := range ts {
			if tp.Name == tick.DefaultTopic {
				return tp.Partitions[2].Leader == 0, fmt.Sprintf("leader %d", tp.Partitions[2].Leader)
			}
		}
		return false, "no topic"
	})
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "shuffle-leaders"}, nil)
	require.Equal(t, http.StatusOK, code, body)

	// S3 errors on: every PUT fails with 503; off: PUTs work again.
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: f.w.S3Endpoint(), Bucket: f.w.Bucket(), Region: f.w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey, MaxAttempts: 1})
	require.NoError(t, err)
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "s3-errors", On: true, Op: "put", Share: 1}, nil)
	require.Equal(t, http.StatusOK, code, body)
	err = st.Put(ctx, "x", []byte("x"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SlowDown")
	_, err = st.List(ctx, "")
	require.NoError(t, err, "only PUTs fail")
	eventually(t, 5*time.Second, "the page lists the active S3 fault", func() (bool, string) {
		s := f.state(t)
		return s.World != nil && len(s.World.Faults) == 1 && s.World.Faults[0].Hits == 1, fmt.Sprintf("%+v", s.World.Faults)
	})
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "s3-errors", On: false}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "answered 1 requests")
	require.NoError(t, st.Put(ctx, "x", []byte("x"), nil))
}

func ptr[T any](v T) *T { return &v }

func TestEventLogRecordsEveryAction(t *testing.T) {
	f := start(t)
	f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(1))}, nil)
	f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(1))}, nil) // refused: already down
	f.post(t, "api/faults", dashboard.Action{Action: "s3-latency", On: true, LatencyMS: 5}, nil)
	f.post(t, "api/faults", dashboard.Action{Action: "s3-latency", On: false}, nil)
	s := f.state(t)
	var lines []string
	for _, e := range s.Events {
		lines = append(lines, fmt.Sprintf("%s ok=%v %s %s", e.Action, e.OK, e.Detail, e.Error))
	}
	log := strings.Join(lines, "\n")
	assert.Contains(t, log, "stop-broker ok=true stopped broker 1")
	assert.Contains(t, log, "stop-broker ok=false")
	assert.Contains(t, log, "already down")
	assert.Contains(t, log, "s3-latency ok=true s3-latency on: +5ms on every operation")
	assert.Contains(t, log, "s3-latency ok=true s3-latency off")
}

func TestMessageBrowser(t *testing.T) {
	f := start(t)
	p := produceTicks(t, f.w, 200)
	want := p.records[137]

	get := func(q string) (int, dashboard.MessagePage, string) {
		code, body := f.get(t, "api/messages?"+q)
		var page dashboard.MessagePage
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &page), body)
		}
		return code, page, body
	}

	// By offset: exactly the record produced there, with its headers.
	code, page, body := get(fmt.Sprintf("topic=%s&partition=%d&offset=%d&limit=1", tick.DefaultTopic, want.Partition, want.Offset))
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, page.Messages, 1)
	m := page.Messages[0]
	assert.Equal(t, want.Offset, m.Offset)
	assert.Equal(t, string(want.Key), m.Key)
	assert.JSONEq(t, string(want.Value), m.Value)
	assert.Equal(t, []dashboard.Header{{Key: "seq", Value: "137"}}, m.Headers)
	assert.Equal(t, map[int32]int64{want.Partition: want.Offset + 1}, page.Next)

	// By key over every partition: all records of that key, nothing else.
	code, page, body = get(fmt.Sprintf("topic=%s&key=%s&limit=500", tick.DefaultTopic, want.Key))
	require.Equal(t, http.StatusOK, code, body)
	assert.Len(t, page.Messages, 25) // 200 records over 8 symbols
	for _, m := range page.Messages {
		assert.Equal(t, string(want.Key), m.Key)
	}
	assert.False(t, page.More)

	// By time: starts at the first record at or after it.
	code, page, body = get(fmt.Sprintf("topic=%s&partition=%d&time=%d&limit=1", tick.DefaultTopic, want.Partition, want.Timestamp.UnixMilli()))
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, page.Messages, 1)
	assert.Equal(t, want.Offset, page.Messages[0].Offset)

	// Latest: the last records of the partition.
	code, page, body = get(fmt.Sprintf("topic=%s&partition=%d&limit=3", tick.DefaultTopic, want.Partition))
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, page.Messages, 3)
	assert.Equal(t, p.perPartition[want.Partition]-1, page.Messages[2].Offset)

	// Bad input names the parameter.
	for q, w := range map[string]string{
		"":                                  "topic",
		"topic=stock-ticks&partition=x":     "partition \\\"x\\\"",
		"topic=stock-ticks&partition=99":    "no partition 99",
		"topic=stock-ticks&offset=-1":       "offset",
		"topic=stock-ticks&time=yesterday":  "time \\\"yesterday\\\"",
		"topic=stock-ticks&offset=1&time=1": "not both",
		"topic=stock-ticks&limit=100000":    "limit",
		"topic=stock-ticks&limit=0":         "limit",
	} {
		code, _, body := get(q)
		assert.Equal(t, http.StatusBadRequest, code, "%s: %s", q, body)
		assert.Contains(t, body, w, q)
	}
	code, _, body = get("topic=no-such-topic")
	assert.Equal(t, http.StatusNotFound, code, body)
}

// Dead letters are browsable like any topic, with the sink's headers.
func TestMessageBrowserShowsDeadLetters(t *testing.T) {
	f := start(t)
	produceTicks(t, f.w, 20)
	cl, err := kgo.NewClient(kafkaOpts(f.w)...)
	require.NoError(t, err)
	defer cl.Close()
	poison := &kgo.Record{Topic: tick.DefaultTopic, Key: []byte("bad"), Value: []byte("not a tick")}
	require.NoError(t, cl.ProduceSync(context.Background(), poison).FirstErr())
	runSink(t, f.w, "dlq-sink")

	dlq := tick.DefaultTopic + ".dlq"
	var page dashboard.MessagePage
	eventually(t, 30*time.Second, "the dead letter in "+dlq, func() (bool, string) {
		code, body := f.get(t, "api/messages?topic="+dlq)
		if code != http.StatusOK {
			return false, body
		}
		page = dashboard.MessagePage{}
		require.NoError(t, json.Unmarshal([]byte(body), &page))
		return len(page.Messages) == 1, body
	})
	m := page.Messages[0]
	assert.Equal(t, "not a tick", m.Value)
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[h.Key] = h.Value
	}
	assert.Equal(t, fmt.Sprint(poison.Partition), headers[sink.HeaderPartition])
	assert.Equal(t, fmt.Sprint(poison.Offset), headers[sink.HeaderOffset])
	assert.NotEmpty(t, headers[sink.HeaderError])
}

// The verify button reports the contract's rule IDs for a broken lake.
func TestVerifyReportsRuleIDs(t *testing.T) {
	f := start(t)
	code, body := f.post(t, "api/verify", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, code, body)
	var v dashboard.VerifyResult
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.Contains(t, v.Error, "no objects", "an empty lake is an error, not a pass")
	assert.False(t, v.OK)

	produceTicks(t, f.w, 50)
	runSink(t, f.w, "verify-sink")
	eventually(t, 30*time.Second, "rows in the lake", func() (bool, string) {
		s := f.state(t)
		return s.World != nil && s.World.Lake.Rows == 50, fmt.Sprint(s.World.Lake.Rows)
	})
	// A stray CSV file in a partition folder breaks the contract.
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: f.w.S3Endpoint(), Bucket: f.w.Bucket(), Region: f.w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey})
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), "stock_ticks/dt=2024-03-04/hour=09/export.csv", []byte("a,b\n1,2\n"), nil))
	code, body = f.post(t, "api/verify", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, code, body)
	v = dashboard.VerifyResult{}
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.Empty(t, v.Error)
	assert.False(t, v.OK, "%+v", v)
	require.NotEmpty(t, v.Rules)
	for _, r := range v.Rules {
		assert.Regexp(t, `^[A-Z]\d\d$`, r)
	}
	require.NotEmpty(t, v.Violations)
	assert.Equal(t, "stock_ticks/dt=2024-03-04/hour=09/export.csv", v.Violations[0].Key)
	s := f.state(t)
	require.NotNil(t, s.Verify)
	assert.Equal(t, v.Rules, s.Verify.Rules, "the page shows the latest result")
}

func TestEmptyHostMeansLoopback(t *testing.T) {
	for _, addr := range []string{":0", "localhost:0"} {
		d, err := dashboard.Start(context.Background(), dashboard.Addr(addr))
		require.NoError(t, err, addr)
		assert.True(t, strings.HasPrefix(d.URL(), "http://127.0.0.1:"), "%s → %s", addr, d.URL())
		require.NoError(t, d.Close())
	}
}

// A world with TLS and SASL: the dashboard's own clients use the world's
// security, so offsets, groups and messages still show.
func TestSecuredWorld(t *testing.T) {
	f := start(t, broker.KafkaTLS(""), broker.KafkaSASL(broker.SASLScramSHA256, "alice", "alice-secret"))
	cl, err := kgo.NewClient(append(kafkaOpts(f.w), f.w.KafkaClientOptions()...)...)
	require.NoError(t, err)
	defer cl.Close()
	rec := &kgo.Record{Topic: tick.DefaultTopic, Key: []byte("k"), Value: []byte("v")}
	require.NoError(t, cl.ProduceSync(context.Background(), rec).FirstErr())
	eventually(t, 10*time.Second, "the record counted on the page", func() (bool, string) {
		s := f.state(t)
		if s.World == nil || len(s.World.Topics) == 0 {
			return false, fmt.Sprintf("%+v", s.Errors)
		}
		return s.World.Topics[0].Records == 1, fmt.Sprintf("records %d, errors %v", s.World.Topics[0].Records, s.Errors)
	})
	code, body := f.get(t, fmt.Sprintf("api/messages?topic=%s&partition=%d&offset=%d", tick.DefaultTopic, rec.Partition, rec.Offset))
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"key":"k"`)
}

// Changes made outside the page (a scenario's faults, a Go test) show in the
// event log too; the page's own actions are logged once.
func TestEventLogObservesOutsideChanges(t *testing.T) {
	f := start(t)
	c := f.w.Coordinator()
	require.NoError(t, c.StopBroker(0)) // not through the page
	eventually(t, 10*time.Second, "the outside stop in the event log", func() (bool, string) {
		for _, e := range f.state(t).Events {
			if e.Action == "observed" && e.Detail == "broker 0 went down" {
				return true, ""
			}
		}
		return false, fmt.Sprint(f.state(t).Events)
	})
	code, body := f.post(t, "api/faults", dashboard.Action{Action: "stop-broker", Broker: ptr(int32(1))}, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, c.RestartBroker(0))
	eventually(t, 10*time.Second, "the outside restart in the event log", func() (bool, string) {
		for _, e := range f.state(t).Events {
			if e.Action == "observed" && e.Detail == "broker 0 is up again" {
				return true, ""
			}
		}
		return false, fmt.Sprint(f.state(t).Events)
	})
	for _, e := range f.state(t).Events {
		assert.NotEqual(t, "broker 1 went down", e.Detail, "the page's own stop is logged once, as its action")
	}
}

// Kafka request faults: the Coordinator's FailKafka and DelayKafka.
func TestKafkaFaultActions(t *testing.T) {
	f := start(t)
	code, body := f.post(t, "api/faults", dashboard.Action{Action: "kafka-errors", On: true, API: "produce"}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "NOT_LEADER_FOR_PARTITION on every Produce request")

	cl, err := kgo.NewClient(append(kafkaOpts(f.w), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(2*time.Second))...)
	require.NoError(t, err)
	defer cl.Close()
	err = cl.ProduceSync(context.Background(), &kgo.Record{Topic: tick.DefaultTopic, Value: []byte("x")}).FirstErr()
	require.Error(t, err, "every Produce fails while the fault is on")

	s := f.state(t)
	require.NotNil(t, s.World)
	eventually(t, 5*time.Second, "the active Kafka fault with its hits", func() (bool, string) {
		s = f.state(t)
		for _, a := range s.World.Faults {
			if a.Kind == "kafka-errors" && a.Hits > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", s.World.Faults)
	})
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "kafka-errors", On: false}, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: tick.DefaultTopic, Value: []byte("y")}).FirstErr())

	code, body = f.post(t, "api/faults", dashboard.Action{Action: "kafka-latency", On: true, API: "Fetch", LatencyMS: 5}, nil)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "+5ms on every Fetch request")
	code, body = f.post(t, "api/faults", dashboard.Action{Action: "kafka-latency", On: false}, nil)
	require.Equal(t, http.StatusOK, code, body)

	for _, tc := range []struct {
		a    dashboard.Action
		want string
	}{
		{dashboard.Action{Action: "kafka-errors", On: true}, "needs \\\"api\\\""},
		{dashboard.Action{Action: "kafka-errors", On: true, API: "Teleport"}, "not a Kafka request name"},
		{dashboard.Action{Action: "kafka-errors", On: true, API: "Produce", Error: "OOPS"}, "not a Kafka error name"},
		{dashboard.Action{Action: "kafka-latency", On: true, API: "Fetch", LatencyMS: 120_000}, "latency_ms"},
	} {
		code, body := f.post(t, "api/faults", tc.a, nil)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, body, tc.want)
	}
}

func TestCloseStopsServingAndRefusesWatch(t *testing.T) {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	d, err := dashboard.Start(ctx, dashboard.Addr("127.0.0.1:0"), dashboard.SampleInterval(20*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, d.Watch(ctx, dashboard.Target{World: w}))

	// An open event stream does not keep Close waiting.
	resp, err := http.Get(d.URL() + "api/events")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	require.NoError(t, err)
	assert.Contains(t, string(buf[:n]), "event: state")

	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "Close is idempotent")
	_, err = http.Get(d.URL() + "api/state")
	assert.Error(t, err, "nothing listens after Close")
	err = d.Watch(ctx, dashboard.Target{World: w})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after Close")
}

func TestVerifyWithoutWorld(t *testing.T) {
	d, err := dashboard.Start(context.Background(), dashboard.Addr("127.0.0.1:0"))
	require.NoError(t, err)
	defer d.Close()
	f := &fixture{d: d, url: d.URL()}
	code, body := f.post(t, "api/verify", map[string]any{}, nil)
	assert.Equal(t, http.StatusConflict, code, body)
	assert.Contains(t, body, "no world attached")
}

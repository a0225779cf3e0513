package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/tick"
)

// TestSinkMetricsAddr: tickflow sink --metrics-addr serves the sink's
// metrics while it runs; they count what was produced.
func TestSinkMetricsAddr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := broker.Start(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	const n = 300
	var recs []*kgo.Record
	for i := range n {
		v, _ := json.Marshal(tick.Tick{Symbol: fmt.Sprintf("S%d", i%4), TradeDate: "2024-03-04", Close: 1, Volume: int64(i)})
		recs = append(recs, &kgo.Record{Topic: tick.DefaultTopic, Key: fmt.Appendf(nil, "S%d", i%4), Value: v})
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	brokers := w.KafkaAddrs()[0]
	cmd := tickflowCommand(ctx, "sink", "--brokers", brokers, "--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(),
		"--access-key", broker.AccessKey, "--secret-key", broker.SecretKey, "--flush-interval", "200ms", "--metrics-addr", randomAddr)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	re := regexp.MustCompile(`Prometheus metrics at (http://127\.0\.0\.1:\d+/metrics)`)
	sc := bufio.NewScanner(stderr)
	url := ""
	for url == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	require.NotEmpty(t, url)
	go func() {
		for sc.Scan() {
		}
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		require.NoError(t, err)
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		written, lagged := -1.0, 0.0
		if f := fams["tickflow_sink_records_written_total"]; f != nil {
			written = f.GetMetric()[0].GetCounter().GetValue()
		}
		if f := fams["tickflow_sink_lag"]; f != nil {
			for _, m := range f.GetMetric() {
				lagged += m.GetGauge().GetValue()
			}
		}
		if written == n && lagged == 0 && fams["tickflow_sink_lag"] != nil {
			assert.Equal(t, float64(n), fams["tickflow_sink_records_consumed_total"].GetMetric()[0].GetCounter().GetValue())
			assert.Contains(t, fams, "tickflow_sink_upload_duration_seconds")
			assert.Contains(t, fams, "go_goroutines", "Go runtime metrics too")
			break
		}
		require.True(t, time.Now().Before(deadline), "metrics never showed %d rows written and no lag (written %v, lag %v)", n, written, lagged)
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}

func TestSinkMetricsAddrBad(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	for _, addr := range []string{taken.Addr().String(), "nowhere", "metrics.example.com:9464"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := tickflowCommand(ctx, "sink", "--brokers", "127.0.0.1:1", "--bucket", "tickflow-lake", "--s3-endpoint", "http://127.0.0.1:1", "--metrics-addr", addr)
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%s: %v %s", addr, err, out)
		assert.Equal(t, exitUsage, ee.ExitCode(), "%s: %s", addr, out)
		assert.Contains(t, string(out), "--metrics-addr", addr)
	}
}

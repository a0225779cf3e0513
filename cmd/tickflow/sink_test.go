package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness"
)

// A running sink is never silent: progress lines on stderr (plain lines when
// stderr is not a terminal) with records, rows, objects, partitions and lag.
func TestSinkShowsProgress(t *testing.T) {
	old := sinkProgressEvery
	sinkProgressEvery = 50 * time.Millisecond
	t.Cleanup(func() { sinkProgressEvery = old })
	w := harness.Start(t, harness.Partitions(2))
	produced := w.ProduceSynthetic(t, 500, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, msg, code := runCmdCtx(ctx, t, "sink", "--brokers", strings.Join(w.KafkaAddrs(), ","),
		"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--topic", w.Topic(), "--group", "progress-test",
		"--flush-interval", "200ms", "--until-idle", "500ms", "--json")
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	assert.Regexp(t, `tickflow sink: [0-9,]+ records? consumed, [0-9,]+ rows? written in [0-9,]+ objects?, [0-9] of 2 partitions owned( \(not [0-9 ]+\))?, group lag [0-9,]+`, stderr)
	assert.Contains(t, out, `"consumed":`+strconv.Itoa(len(produced)))
}

// Keys of record values that are not lake columns are ignored and counted:
// `sink --json` reports them as unknown_fields, the text summary names them.
func TestSinkCountsUnknownFields(t *testing.T) {
	w := harness.Start(t, harness.Partitions(1))
	cl := w.KafkaClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, v := range []string{
		`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5}`,
		`{"symbol":"HSI","trade_date":"2010-01-12","close":22400,"exchange":"HKEX","seq":2,"src":{"a":1}}`,
	} {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: w.Topic(), Value: []byte(v)}).FirstErr())
	}
	args := []string{"sink", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(),
		"--topic", w.Topic(), "--flush-interval", "200ms", "--until-idle", "500ms"}
	out, stderr, msg, code := runCmdCtx(ctx, t, append(args, "--group", "unknown-json", "--json")...)
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.EqualValues(t, 3, got["unknown_fields"])
	assert.EqualValues(t, 2, got["written"])
	if runtime.GOOS == "linux" {
		assert.Greater(t, got["peak_rss_bytes"], float64(1<<20), "the process's peak RSS (VmHWM)")
	}
	assert.Contains(t, stderr, "not lake columns", "one warning says where such a record is")

	// Another prefix: the lake there is empty, so the sink reads from the start.
	out, stderr, msg, code = runCmdCtx(ctx, t, append(args, "--group", "unknown-text", "--prefix", "text")...)
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	assert.Contains(t, out, "ignored 3 keys of record values that are not lake columns")
}

// Issue 21, point 0: the progress line reports the group's lag over the
// whole topic and which partitions this member does not own, never "lag 0"
// while records wait in a partition another member holds.
func TestSinkProgressShowsGroupLag(t *testing.T) {
	oldEvery, oldLag := sinkProgressEvery, groupLagEvery
	sinkProgressEvery, groupLagEvery = 50*time.Millisecond, 0
	t.Cleanup(func() { sinkProgressEvery, groupLagEvery = oldEvery, oldLag })
	w := harness.Start(t, harness.Partitions(1))
	w.ProduceSynthetic(t, 500, 3)
	const group = "lag-test"
	// Another member holds the only partition and commits nothing.
	other := w.KafkaClient(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(w.Topic()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for got := 0; got == 0; {
		fs := other.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got = fs.NumRecords()
	}
	var stdout, stderr syncBuffer
	sctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- runDemoCmd(sctx, t, &stdout, &stderr, "sink", "--brokers", strings.Join(w.KafkaAddrs(), ","),
			"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--topic", w.Topic(), "--group", group,
			"--flush-interval", "200ms")
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "0 of 1 partition owned, group lag 500") },
		30*time.Second, 20*time.Millisecond, "stderr: %s", stderr.String())
	stop()
	assert.Equal(t, exitOK, <-done, stderr.String())
	assert.NotContains(t, stderr.String(), "lag 0")
}

// Issue 21, point 1: a store that ignores If-None-Match (some S3-compatible
// stores and gateways) is refused before the sink joins the group, in one
// line naming the endpoint, what it does not support and the way out; the
// unsafe flag runs anyway and warns.
func TestSinkRefusesStoreWithoutConditionalWrites(t *testing.T) {
	w := harness.Start(t, harness.Partitions(1))
	w.ProduceSynthetic(t, 50, 3)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.Header.Del("If-None-Match") // a gateway that drops the header
		fake.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"sink", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--s3-endpoint", srv.URL, "--bucket", "lake",
		"--topic", w.Topic(), "--flush-interval", "200ms", "--until-idle", "500ms"}
	_, stderr, msg, code := runCmdCtx(ctx, t, args...)
	require.Equal(t, exitUsage, code, "%s\n%s", msg, stderr)
	assert.Contains(t, msg, "--s3-endpoint "+srv.URL+": ")
	assert.Contains(t, msg, "If-None-Match")
	assert.Contains(t, msg, "--unsafe-no-conditional-writes")
	assert.NotContains(t, msg, "\n")
	assert.NotContains(t, msg, "sink: ")

	out, stderr, msg, code := runCmdCtx(ctx, t, append(args, "--unsafe-no-conditional-writes")...)
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	assert.Contains(t, stderr, "UNSAFE")
	assert.Contains(t, out, "consumed 50 records")
}

// Issue 21, point 2: a sink started with another --format (or --gzip,
// --prefix) on a group committed under the old settings would write the
// committed offsets under a second key beside the first; it refuses, exit
// 2, in one line naming the partition and both settings, and writes nothing.
func TestSinkRefusesOtherLayout(t *testing.T) {
	w := harness.Start(t, harness.Partitions(1))
	w.ProduceSynthetic(t, 50, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"sink", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(),
		"--topic", w.Topic(), "--group", "layout-test", "--flush-interval", "200ms", "--until-idle", "500ms"}
	_, stderr, msg, code := runCmdCtx(ctx, t, args...)
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	w.ProduceSynthetic(t, 50, 4)
	out, stderr, msg, code := runCmdCtx(ctx, t, append(args, "--format", "json", "--gzip")...)
	require.Equal(t, exitUsage, code, "%s\n%s", msg, stderr)
	assert.Contains(t, msg, "partition 0 (committed at 50 under layout 1, --format parquet, compression snappy, --prefix \"\")")
	assert.Contains(t, msg, "this sink has layout 1, --format json, compression gzip")
	assert.NotContains(t, msg, "\n")
	assert.Contains(t, out, "wrote 0 rows")
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/tick"
)

// TestMain lets the test binary stand in for the goconsumer binary: with
// GOCONSUMER_AS_MAIN=1 it runs main, so the test can start real processes
// and kill -9 them.
func TestMain(m *testing.M) {
	if os.Getenv("GOCONSUMER_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestObjectKey(t *testing.T) {
	assert.Equal(t, "lake/stock-ticks/3/00000000000000000042.json", ObjectKey("lake/", "stock-ticks", 3, 42, true))
	assert.Equal(t, "_rejected/stock-ticks/0/00000000000000000007", ObjectKey("", "stock-ticks", 0, 7, false))
	assert.True(t, isJSONObject([]byte(` {"symbol":"HSI","volume":1}`)))
	for _, v := range []string{"", "not json at all", `{"symbol":"N225","trade_date":`, `[1,2]`, `"x"`} {
		assert.False(t, isJSONObject([]byte(v)), "%q", v)
	}
}

// TestInteropExactUnderKillRebalanceAndS3Errors runs the consumer as processes:
// one is killed with SIGKILL mid-way, two more share the group (a
// rebalance), one of them stops with SIGTERM while S3 answers 503 to a
// share of the PUTs. Every produced record must end up in exactly one
// object, under the key its partition and offset give.
func TestInteropExactUnderKillRebalanceAndS3Errors(t *testing.T) {
	// Real processes for ~15 s: with the other real-client tests.
	if os.Getenv("TICKFLOW_INTEROP") != "1" {
		t.Skip("set TICKFLOW_INTEROP=1 (make interop) to run the consumer as processes")
	}
	w := harness.Start(t)
	const n = 2000
	produced := w.ProduceSynthetic(t, n, 1)
	group, prefix := "goconsumer-test", "lake/"
	s3c := w.S3Client(t)

	env := append(os.Environ(),
		"GOCONSUMER_AS_MAIN=1",
		"KAFKA_BOOTSTRAP_SERVERS="+strings.Join(w.KafkaAddrs(), ","),
		"KAFKA_TOPIC="+w.Topic(), "KAFKA_GROUP_ID="+group,
		"AWS_ENDPOINT_URL_S3="+w.S3Endpoint(), "AWS_ENDPOINT_URL="+w.S3Endpoint(),
		"TICKFLOW_BUCKET="+w.Bucket(), "TICKFLOW_PREFIX="+prefix,
		"AWS_REGION="+w.Region(), "AWS_DEFAULT_REGION="+w.Region(),
		"AWS_ACCESS_KEY_ID="+broker.AccessKey, "AWS_SECRET_ACCESS_KEY="+broker.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=", "AWS_SHARED_CREDENTIALS_FILE=",
		"KAFKA_SESSION_TIMEOUT_MS=6000", "CONSUMER_WORKERS=16", "CONSUMER_MAX_POLL_RECORDS=200",
	)
	start := func(instance string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(env, "TICKFLOW_INSTANCE="+instance)
		cmd.Stderr = &testLog{t: t}
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	countObjects := func() int {
		var k int
		p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(w.Bucket()), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			require.NoError(t, err)
			k += len(page.Contents)
		}
		return k
	}
	waitObjects := func(atLeast int) {
		deadline := time.Now().Add(60 * time.Second)
		for countObjects() < atLeast {
			require.True(t, time.Now().Before(deadline), "fewer than %d objects after 60s", atLeast)
			time.Sleep(50 * time.Millisecond)
		}
	}

	a := start("0")
	waitObjects(n / 5)
	require.NoError(t, a.Process.Signal(syscall.SIGKILL))
	_ = a.Wait()

	s3fault := w.Faults().FailS3(broker.S3Fault{Op: "PUT", Status: 503, Share: 0.2, Count: 100, Seed: 1})
	b, c := start("1"), start("2")
	waitObjects(n / 2)
	require.NoError(t, b.Process.Signal(syscall.SIGTERM))
	require.NoError(t, b.Wait(), "SIGTERM must stop the consumer with exit 0")

	w.WaitCaughtUp(t, group, 90*time.Second)
	require.NoError(t, c.Process.Signal(syscall.SIGTERM))
	require.NoError(t, c.Wait())

	assert.Positive(t, s3fault.Hits(), "PUTs answered 503")

	// Exactly one object per produced record, holding that record.
	require.Equal(t, n, countObjects(), "objects under %s", prefix)
	for _, p := range produced {
		key := ObjectKey(prefix, w.Topic(), p.Partition, p.Offset, true)
		out, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(w.Bucket()), Key: aws.String(key)})
		require.NoError(t, err, "record %v: object %s", p, key)
		body, err := io.ReadAll(out.Body)
		_ = out.Body.Close()
		require.NoError(t, err)
		var got tick.Tick
		require.NoError(t, json.Unmarshal(body, &got), "object %s", key)
		require.Equal(t, p.Tick.Symbol, got.Symbol, "object %s", key)
		require.Equal(t, p.Tick.TradeDate, got.TradeDate, "object %s", key)
		require.Equal(t, p.Tick.Volume, got.Volume, "object %s", key)
		require.Equal(t, p.Tick.Close, got.Close, "object %s", key)
	}
}

// testLog writes a child process's stderr to the test log.
type testLog struct{ t *testing.T }

func (l *testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

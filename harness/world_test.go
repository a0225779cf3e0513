package harness_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/tickflow/tickflow/harness"
)

// TestMain checks that no goroutine of any kind (labelled or not) is left
// once every test's worlds are closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		opts                []harness.Option
		brokers, partitions int
		topic, bucket       string
	}{
		{"defaults", nil, 3, 6, "stock-ticks", "tickflow-lake"},
		{"one broker", []harness.Option{harness.Brokers(1)}, 1, 6, "stock-ticks", "tickflow-lake"},
		{"five brokers twelve partitions", []harness.Option{harness.Brokers(5), harness.Partitions(12)}, 5, 12, "stock-ticks", "tickflow-lake"},
		{"topic and bucket", []harness.Option{harness.Topic("trades"), harness.Bucket("my-lake"), harness.Partitions(2)}, 3, 2, "trades", "my-lake"},
		{"data dir", []harness.Option{harness.DataDir(t.TempDir())}, 3, 6, "stock-ticks", "tickflow-lake"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := harness.Start(t, tc.opts...)
			assert.Len(t, w.KafkaAddrs(), tc.brokers)
			assert.Equal(t, tc.topic, w.Topic())
			assert.Equal(t, tc.bucket, w.Bucket())
			assert.Equal(t, tc.partitions, w.Partitions())
			topics, err := w.Coordinator().Topics(context.Background())
			require.NoError(t, err)
			require.Len(t, topics, 1)
			assert.Equal(t, tc.topic, topics[0].Name)
			assert.Len(t, topics[0].Partitions, tc.partitions)
			_, err = w.S3Client(t).HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: &tc.bucket})
			assert.NoError(t, err, "the bucket exists")
		})
	}
}

func TestStartBadOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opt  harness.Option
		want string
	}{
		{"zero brokers", harness.Brokers(0), "harness.Brokers(0)"},
		{"too many brokers", harness.Brokers(17), "harness.Brokers(17)"},
		{"zero partitions", harness.Partitions(0), "harness.Partitions(0)"},
		{"negative partitions", harness.Partitions(-3), "harness.Partitions(-3)"},
		{"uppercase bucket", harness.Bucket("My_Lake"), `Bucket("My_Lake")`},
		{"short bucket", harness.Bucket("ab"), `Bucket("ab")`},
		{"ip bucket", harness.Bucket("10.0.0.1"), `Bucket("10.0.0.1")`},
		{"bad topic", harness.Topic("stock ticks"), `Topic("stock ticks")`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w *harness.World
			r := run(t.Name(), func(t testing.TB) { w = harness.Start(t, tc.opt) })
			assert.True(t, r.Failed(), "Start must fail the test")
			assert.Nil(t, w, "Start must stop the test before returning")
			assert.Contains(t, r.Messages(), tc.want)
		})
	}
}

func TestKafkaClientAndS3Client(t *testing.T) {
	t.Parallel()
	w := harness.Start(t, harness.Partitions(1))
	ctx := context.Background()

	cl := w.KafkaClient(t, kgo.ConsumeTopics(w.Topic()))
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr())
	fs := cl.PollFetches(ctx)
	require.NoError(t, fs.Err())
	require.Equal(t, 1, fs.NumRecords())
	assert.Equal(t, "hello", string(fs.Records()[0].Value))

	sc := w.S3Client(t)
	bucket, key := w.Bucket(), "some/key"
	_, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader([]byte("body"))})
	require.NoError(t, err)
	out, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	require.NoError(t, err)
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "body", string(b))
	got, _, err := w.Store().Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "body", string(got), "Store reads the same bucket")
}

func TestLeakCheckReportsLeakedGoroutines(t *testing.T) {
	t.Parallel()
	// A client created for another (longer-lived) test and never closed
	// keeps goroutines of the world running after the world's cleanup.
	longer := &recordingTB{name: "longer"}
	defer longer.runCleanups()
	r := run(t.Name(), func(t testing.TB) {
		w := harness.Start(t, harness.LeakWait(200*time.Millisecond))
		w.KafkaClient(longer)
	})
	assert.True(t, r.Failed())
	assert.Contains(t, r.Messages(), "goroutines of the world still run after cleanup")
	assert.Contains(t, r.Messages(), "kgo", "the message shows the leaked stacks")

	clean := run(t.Name(), func(t testing.TB) {
		w := harness.Start(t, harness.LeakWait(time.Second))
		w.KafkaClient(t)
	})
	assert.False(t, clean.Failed(), clean.Messages())
}

func TestImportHasNoDuckDB(t *testing.T) {
	t.Parallel()
	goBin := filepath.Join(runtimeGOROOT(t), "bin", "go")
	cmd := exec.Command(goBin, "list", "-deps", "github.com/tickflow/tickflow/harness")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // importing harness must not need cgo
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/tickflow/tickflow/broker", "sanity: the list is the dependency graph")
	for _, d := range deps {
		assert.NotContains(t, d, "duckdb", "harness must not link DuckDB (cgo)")
	}
}

func runtimeGOROOT(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			return root
		}
		t.Skipf("go tool not found: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestNoGoroutineLeftAfterCleanup closes worlds that did some work and then
// asks goleak, which sees every goroutine of the process (labelled or not),
// that none is left. It is not parallel: parallel tests wait until the
// sequential ones are done, so nothing else is running.
func TestNoGoroutineLeftAfterCleanup(t *testing.T) {
	for i := range 3 {
		r := run(t.Name(), func(t testing.TB) {
			w := harness.Start(t, harness.Brokers(i+1))
			produced := w.ProduceSynthetic(t, 200, uint64(i))
			cl := w.KafkaClient(t, kgo.ConsumeTopics(w.Topic()))
			fs := cl.PollFetches(context.Background())
			require.NoError(t, fs.Err())
			assert.Len(t, w.ReadTopic(t), len(produced))
			_, err := w.Store().List(context.Background(), "")
			require.NoError(t, err)
		})
		require.False(t, r.Failed(), r.Messages())
	}
	goleak.VerifyNone(t)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/demo"
	"github.com/tickflow/tickflow/harness/objstore"
)

// runDemoCmd runs the CLI in-process and returns stdout, stderr and the
// exit code main would use.
func runDemoCmd(ctx context.Context, t *testing.T, stdout, stderr *syncBuffer, args ...string) int {
	t.Helper()
	root := newRoot()
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	stderr.WriteString(err.Error())
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDemoBadFlags(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-ticks.csv")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"zero records", []string{"--records", "0"}, "--records 0"},
		{"negative records", []string{"--records", "-5"}, "--records -5"},
		{"zero consumers", []string{"--consumers", "0"}, "--consumers 0"},
		{"zero partitions", []string{"--partitions", "0"}, "--partitions 0"},
		{"negative rate", []string{"--rate", "-1"}, "--rate -1"},
		{"unknown format", []string{"--format", "avro"}, `--format "avro"`},
		{"missing csv", []string{"--csv", missing}, missing + ": no such file"},
		{"csv is a directory", []string{"--csv", dir}, "is a directory"},
		{"records and csv", []string{"--records", "5", "--csv", missing}, "pick one source"},
		{"seed without records", []string{"--seed", "3"}, "--seed seeds the synthetic generator"},
		{"zero drain timeout", []string{"--drain-timeout", "0s"}, "--drain-timeout 0s"},
		{"not a number", []string{"--records", "many"}, "--records"},
		{"unknown flag", []string{"--brokers", "5"}, "unknown flag"},
		{"positional argument", []string{"extra"}, "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := runDemoCmd(t.Context(), t, &stdout, &stderr, append([]string{"demo"}, tc.args...)...)
			assert.Equal(t, exitUsage, code, stderr.String())
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String(), "nothing on stdout for a usage error")
		})
	}
}

// demoJSON is the part of `demo --json` this test reads.
type demoJSON struct {
	OK             bool     `json:"ok"`
	Problems       []string `json:"problems"`
	Produced       int64    `json:"produced"`
	SkippedBadRows int      `json:"skipped_bad_rows"`
	LandedRows     int64    `json:"landed_rows"`
	Distinct       int64    `json:"distinct"`
	Duplicates     int64    `json:"duplicates"`
	Gaps           int64    `json:"gaps"`
	Objects        int      `json:"objects"`
	Format         string   `json:"format"`
	Lake           struct {
		URL      string `json:"url"`
		Endpoint string `json:"endpoint"`
		Bucket   string `json:"bucket"`
		Local    string `json:"local"`
	} `json:"lake"`
	SampleQuery []map[string]any `json:"sample_query"`
	Connect     *struct {
		KafkaBootstrap string `json:"kafka_bootstrap"`
		S3Endpoint     string `json:"s3_endpoint"`
		Bucket         string `json:"bucket"`
		AccessKey      string `json:"access_key"`
		SecretKey      string `json:"secret_key"`
	} `json:"connect"`
}

func TestDemoJSON(t *testing.T) {
	var stdout, stderr syncBuffer
	code := runDemoCmd(t.Context(), t, &stdout, &stderr, "demo", "--json")
	require.Equal(t, exitOK, code, stderr.String())
	var got demoJSON
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	require.NoError(t, dec.Decode(&got), "stdout must be one JSON document: %s", stdout.String())
	assert.False(t, dec.More(), "anything after the JSON document on stdout")
	assert.Empty(t, stderr.String(), "no progress with --json")
	assertSnakeKeys(t, "demo --json", []byte(stdout.String()))

	assert.True(t, got.OK, got.Problems)
	assert.Positive(t, got.Produced)
	assert.Equal(t, 1, got.SkippedBadRows, "the sample's cut-off last line")
	assert.Equal(t, got.Produced, got.LandedRows)
	assert.Equal(t, got.Produced, got.Distinct)
	assert.Zero(t, got.Duplicates)
	assert.Zero(t, got.Gaps)
	assert.Positive(t, got.Objects)
	assert.Equal(t, "parquet", got.Format)
	assert.Equal(t, "s3://tickflow-lake/stock_ticks/", got.Lake.URL)
	assert.Nil(t, got.Connect, "connect info only with --keep-serving")
	// The sample query (DuckDB) agrees with the summary.
	require.Len(t, got.SampleQuery, 1)
	assert.Equal(t, "HSI", got.SampleQuery[0]["symbol"])
	assert.EqualValues(t, got.Produced, got.SampleQuery[0]["rows"])
}

func TestDemoTextWithOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lake")
	var stdout, stderr syncBuffer
	code := runDemoCmd(t.Context(), t, &stdout, &stderr, "demo", "--records", "3000", "--consumers", "3", "--format", "json", "--out", out)
	require.Equal(t, exitOK, code, stderr.String())
	text := stdout.String()
	for _, want := range []string{
		"Sample Athena query", "SELECT symbol, count(*)", "3000  3000",
		"3,000 synthetic ticks", "3 sink consumers", "json lake",
		"s3://tickflow-lake/stock_ticks/", out + "/stock_ticks/",
		"\nOK: 3,000 produced = 3,000 landed",
	} {
		assert.Contains(t, text, want)
	}
	assert.Regexp(t, `landed rows\s+3,000\s+read back from the lake`, text)
	// Progress went to stderr, as plain lines (not a terminal).
	assert.Contains(t, stderr.String(), "tickflow demo: producing")
	assert.NotContains(t, stderr.String(), "\r")
	// The local copy is a lake of JSON objects.
	matches, err := filepath.Glob(filepath.Join(out, "stock_ticks", "dt=*", "hour=*", "*.json"))
	require.NoError(t, err)
	assert.NotEmpty(t, matches)
}

func TestDemoFailureExitsOne(t *testing.T) {
	var stdout, stderr syncBuffer
	code := runDemoCmd(t.Context(), t, &stdout, &stderr, "demo", "--records", "200", "--drain-timeout", "1ns")
	assert.Equal(t, exitViolation, code, stderr.String())
	assert.Contains(t, stdout.String(), "FAIL:")
	assert.Contains(t, stderr.String(), "timed out")
}

func TestDemoKeepServing(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	codes := make(chan int, 1)
	go func() {
		codes <- runDemoCmd(ctx, t, &stdout, &stderr, "demo", "--records", "100", "--json", "--keep-serving")
	}()

	// Wait for the summary: the world is then up and stays up.
	var got demoJSON
	require.Eventually(t, func() bool {
		return json.Unmarshal([]byte(stdout.String()), &got) == nil
	}, 60*time.Second, 20*time.Millisecond, "no JSON summary; stderr: %s", stderr.String())
	require.True(t, got.OK, got.Problems)
	require.NotNil(t, got.Connect)
	assert.Contains(t, got.Connect.KafkaBootstrap, "127.0.0.1:")
	assert.Equal(t, got.Lake.Endpoint, got.Connect.S3Endpoint)

	// A client with the printed settings sees the lake.
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: got.Connect.S3Endpoint, Bucket: got.Connect.Bucket,
		AccessKey: got.Connect.AccessKey, SecretKey: got.Connect.SecretKey})
	require.NoError(t, err)
	objs, err := st.List(ctx, "stock_ticks/")
	require.NoError(t, err)
	assert.Len(t, objs, got.Objects)

	select {
	case code := <-codes:
		t.Fatalf("demo --keep-serving returned %d before it was stopped", code)
	default:
	}
	cancel() // what SIGINT does to cmd.Context()
	select {
	case code := <-codes:
		assert.Equal(t, exitOK, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("demo --keep-serving did not stop after cancellation")
	}
}

// Point 18: with --keep-serving the connection block comes after the
// summary and its verdict, where the eye is when the demo starts waiting.
func TestDemoTextConnectionBlockLast(t *testing.T) {
	var buf bytes.Buffer
	sum := &demo.Summary{OK: true, Produced: 3, LandedRows: 3}
	conn := &demoConnect{KafkaBootstrap: "127.0.0.1:9092", Topic: "stock-ticks", S3Endpoint: "http://127.0.0.1:9000",
		Bucket: "tickflow-lake", Region: "us-east-1", AccessKey: "tickflow", SecretKey: "tickflow-secret"}
	require.NoError(t, writeDemoText(&buf, sum, nil, conn, false))
	out := buf.String()
	serving := strings.Index(out, "Serving (Ctrl-C to stop)")
	require.Positive(t, serving, out)
	var summary bytes.Buffer
	require.NoError(t, sum.WriteText(&summary))
	verdict := strings.Index(out, strings.TrimSpace(summary.String()))
	require.GreaterOrEqual(t, verdict, 0, out)
	assert.Greater(t, serving, verdict, "the connection block follows the summary:\n%s", out)
	assert.True(t, strings.HasSuffix(out, "-c 5 -e\n"), "the connection block ends the output:\n%q", out)
}

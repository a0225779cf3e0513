package broker

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// linesWith returns the log lines holding every one of parts.
func linesWith(log string, parts ...string) []string {
	var out []string
next:
	for _, l := range strings.Split(log, "\n") {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// With a debug logger (serve --verbose) the world logs one line per Kafka
// request (API, client id, topics) and one well-formed line per S3 request.
func TestVerboseLogsRequests(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := startWorld(t, Brokers(2), Logger(logger))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...), kgo.ClientID("verbose-test"))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: DefaultTopic, Value: []byte("v")}).FirstErr())

	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.S3Endpoint()+"/"+w.Bucket()+"/dir/hello.txt", strings.NewReader("hello"))
	require.NoError(t, err)
	resp := signedDo(t, req)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, w.S3Endpoint()+"/"+w.Bucket()+"/missing.txt", nil)
	require.NoError(t, err)
	resp = signedDo(t, req)
	resp.Body.Close()

	log := buf.String()
	assert.NotEmpty(t, linesWith(log, `msg="kafka request"`, "api=Produce", "client=verbose-test", "topics="+DefaultTopic), log)
	assert.NotEmpty(t, linesWith(log, `msg="kafka request"`, "api=Metadata", "client=verbose-test"), log)
	assert.NotEmpty(t, linesWith(log, `msg="s3 request"`, "method=PUT", "op=PUT", "bucket="+w.Bucket(), "key=dir/hello.txt", "status=200", "bytes_in=5"), log)
	assert.NotEmpty(t, linesWith(log, `msg="s3 request"`, "method=GET", "key=missing.txt", "status=404"), log)
	assert.Empty(t, linesWith(log, "CREATE OBJECT:"), "gofakes3's run-together INFO lines are not logged")
}

// Without debug logging no request lines are written.
func TestQuietWorldLogsNoRequests(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := startWorld(t, Brokers(1), Logger(logger))
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: DefaultTopic, Value: []byte("v")}).FirstErr())
	assert.Empty(t, linesWith(buf.String(), "request"))
}

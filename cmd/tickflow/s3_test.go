package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/internal/testnet"
)

// runCmdCtx runs the CLI in-process under ctx and returns stdout, stderr, the
// error message and the exit code.
func runCmdCtx(ctx context.Context, t *testing.T, args ...string) (stdout, stderr, msg string, code int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return out.String(), errOut.String(), "", exitOK
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "plain error %v", err)
	return out.String(), errOut.String(), ee.Error(), ee.code
}

// fakeS3 serves an S3 with one bucket, "lake", on loopback.
func fakeS3(t *testing.T) string {
	t.Helper()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

// Point 1: the sink checks the bucket before it starts.
func TestSinkMissingBucketExits2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang fails, not blocks
	defer cancel()
	_, _, msg, code := runCmdCtx(ctx, t, "sink", "--brokers", "127.0.0.1:1", "--s3-endpoint", fakeS3(t),
		"--bucket", "no-such-bucket", "--access-key", "k", "--secret-key", "s")
	require.NoError(t, ctx.Err(), "sink ran until the test's deadline")
	assert.Equal(t, exitUsage, code, msg)
	assert.Contains(t, msg, "--bucket no-such-bucket: no such bucket")
	assert.NotContains(t, msg, "\n")
}

// Point 16: bucket names S3 refuses are refused before any request.
func TestBucketNamesS3Refuses(t *testing.T) {
	for _, args := range [][]string{
		{"sink", "--brokers", "127.0.0.1:1", "--bucket", "My_Bucket", "--s3-endpoint", "http://127.0.0.1:1"},
		{"verify", "--bucket", "My_Bucket", "--s3-endpoint", "http://127.0.0.1:1"},
	} {
		_, _, msg, code := runCmdCtx(context.Background(), t, args...)
		assert.Equal(t, exitUsage, code, msg)
		assert.Contains(t, msg, `--bucket My_Bucket: bucket name "My_Bucket" has 'M'`)
	}
}

// Point 3: an S3 endpoint that accepts connections and never answers ends
// verify, query and sink with one line after --s3-timeout.
func TestSilentS3EndpointTimesOut(t *testing.T) {
	url := testnet.SilentEndpoint(t)
	for name, args := range map[string][]string{
		"verify": {"verify", "--s3-endpoint", url, "--bucket", "lake"},
		"query":  {"query", "SELECT 1", "--s3-endpoint", url, "--bucket", "lake"},
		"sink":   {"sink", "--brokers", "127.0.0.1:1", "--s3-endpoint", url, "--bucket", "lake"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			args = append(args, "--s3-timeout", "100ms", "--access-key", "k", "--secret-key", "s")
			_, _, msg, code := runCmdCtx(ctx, t, args...)
			require.NoError(t, ctx.Err(), "%s hung until the test's deadline", name)
			assert.Equal(t, exitUsage, code, msg)
			assert.Contains(t, msg, "--s3-endpoint "+url+": no answer within 100ms")
			assert.NotContains(t, msg, "\n")
		})
	}
}

// Point 7: with a local endpoint and no credentials anywhere, the commands
// use the ones serve prints, and say so.
func TestLocalEndpointDefaultsToServeCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	var note bytes.Buffer
	ak, sk := localCredentials(&note, "http://127.0.0.1:9000", "", "")
	assert.Equal(t, "tickflow", ak)
	assert.Equal(t, "tickflow-secret", sk)
	assert.Contains(t, note.String(), "using tickflow serve's (tickflow / tickflow-secret)")

	for _, tc := range []struct{ endpoint, key string }{
		{"", ""},                         // real AWS: the SDK chain
		{"https://s3.example.com", ""},   // remote endpoint: the SDK chain
		{"http://localhost:9000", "own"}, // given keys win
	} {
		note.Reset()
		ak, _ := localCredentials(&note, tc.endpoint, tc.key, "x")
		assert.Equal(t, tc.key, ak, tc.endpoint)
		assert.Empty(t, note.String())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "from-env")
	ak, _ = localCredentials(&note, "http://127.0.0.1:9000", "", "")
	assert.Empty(t, ak, "the environment's credentials are the SDK's to use")

	// And the README's example runs without any: verify a serve-like S3.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, msg, code := runCmdCtx(ctx, t, "verify", "--s3-endpoint", fakeS3(t), "--bucket", "lake")
	assert.Equal(t, exitUsage, code)
	assert.True(t, strings.Contains(msg, "no objects under the table location"), msg)
}

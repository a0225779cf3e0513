package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/broker"
)

// With the world's signature checks on, wrong keys or a wrong region end
// sink and verify at once with one line naming the flags and serve's keys.
func TestS3WrongCredentialsOneLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := broker.Start(ctx, broker.Brokers(1))
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong access key", []string{"--access-key", "nobody", "--secret-key", broker.SecretKey}, "refused the credentials"},
		{"wrong secret", []string{"--access-key", broker.AccessKey, "--secret-key", "typo"}, "refused the credentials"},
		{"wrong region", []string{"--access-key", broker.AccessKey, "--secret-key", broker.SecretKey, "--region", "eu-west-1"}, "refused the credentials"},
	} {
		for _, cmd := range []string{"sink", "verify"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				args := append([]string{cmd, "--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket()}, tc.args...)
				if cmd == "sink" {
					args = append(args, "--brokers", w.KafkaAddrs()[0])
				}
				_, _, msg, code := runCmdCtx(ctx, t, args...)
				require.NoError(t, ctx.Err())
				assert.Equal(t, exitUsage, code, msg)
				assert.Contains(t, msg, tc.want)
				assert.Contains(t, msg, "tickflow-secret", "names serve's keys for a local endpoint")
				assert.NotContains(t, msg, "\n")
			})
		}
	}
}

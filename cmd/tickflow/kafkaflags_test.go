package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/broker"
)

// Bad combinations of the Kafka security flags are refused before anything
// connects, with one line naming the flag.
func TestKafkaSecurityFlagsRefused(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o644))
	for _, tc := range []struct {
		name     string
		args     []string
		password string
		want     string
	}{
		{"user without mechanism", []string{"--sasl-user", "u"}, "p", "--sasl-user u: needs --sasl"},
		{"unknown mechanism", []string{"--sasl", "gssapi", "--sasl-user", "u"}, "p", `--sasl "gssapi": want plain, scram-sha-256, scram-sha-512 or aws-msk-iam`},
		{"scram without user", []string{"--sasl", "scram-sha-512"}, "p", "--sasl scram-sha-512: needs --sasl-user"},
		{"no password in the environment", []string{"--sasl", "plain", "--sasl-user", "u"}, "", "--sasl plain: set the password in $TICKFLOW_SASL_PASSWORD"},
		{"msk iam without tls", []string{"--sasl", "aws-msk-iam"}, "", "--sasl aws-msk-iam: needs --tls"},
		{"msk iam with a user", []string{"--sasl", "aws-msk-iam", "--tls", "--sasl-user", "u"}, "", "--sasl-user u: not used with --sasl aws-msk-iam"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, "", "--tls-cert c.pem: needs --tls-key"},
		{"key without cert", []string{"--tls-key", "k.pem"}, "", "--tls-key k.pem: needs --tls-cert"},
		{"missing CA file", []string{"--tls-ca", "/nonexistent/ca.pem"}, "", "--tls-ca /nonexistent/ca.pem"},
		{"CA file without PEM", []string{"--tls-ca", notPEM}, "", "no PEM certificate"},
	} {
		for _, cmd := range []string{"produce", "sink", "verify"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				t.Setenv(saslPasswordEnv, tc.password)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				args := []string{cmd, "--brokers", "127.0.0.1:1"}
				switch cmd {
				case "sink":
					args = append(args, "--bucket", "b", "--s3-endpoint", "http://127.0.0.1:1")
				case "verify":
					args = append(args, "--dir", t.TempDir())
				}
				_, _, msg, code := runCmdCtx(ctx, t, append(args, tc.args...)...)
				require.NoError(t, ctx.Err())
				assert.Equal(t, exitUsage, code, msg)
				assert.Contains(t, msg, tc.want)
				assert.NotContains(t, msg, "\n")
			})
		}
	}
	t.Run("verify security flags without --brokers", func(t *testing.T) {
		_, _, msg, code := runCmdCtx(context.Background(), t, "verify", "--dir", t.TempDir(), "--tls")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, msg, "only apply with --brokers")
	})
}

// Against brokers requiring TLS and SCRAM-SHA-512: produce, sink and verify
// with the right settings give a complete, clean lake; a wrong password, a
// missing CA or no security at all end in one line naming what to fix.
func TestKafkaTLSAndSCRAM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := broker.Start(ctx, broker.Brokers(2), broker.KafkaTLS(t.TempDir()),
		broker.KafkaSASL(broker.SASLScramSHA512, "alice", "s3cret"), broker.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	files, ok := w.TLSFiles()
	require.True(t, ok)
	boot := strings.Join(w.KafkaAddrs(), ",")
	sec := []string{"--brokers", boot, "--tls-ca", files.CAFile, "--sasl", "scram-sha-512", "--sasl-user", "alice"}

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			args     []string
			password string
			want     string
		}{
			{"wrong password", sec, "wrong", "check the password in $TICKFLOW_SASL_PASSWORD"},
			{"unknown user", []string{"--brokers", boot, "--tls-ca", files.CAFile, "--sasl", "scram-sha-512", "--sasl-user", "bob"}, "s3cret", "--sasl-user bob"},
			{"CA not given", []string{"--brokers", boot, "--tls", "--sasl", "scram-sha-512", "--sasl-user", "alice"}, "s3cret", "--tls-ca"},
			{"no TLS", []string{"--brokers", boot, "--sasl", "scram-sha-512", "--sasl-user", "alice"}, "s3cret", "TLS"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Setenv(saslPasswordEnv, tc.password)
				_, _, msg, code := runCmdCtx(ctx, t, append([]string{"produce", "--synthetic", "10"}, tc.args...)...)
				require.NoError(t, ctx.Err())
				assert.Equal(t, exitUsage, code, msg)
				assert.Contains(t, msg, tc.want)
				assert.NotContains(t, msg, "\n")
			})
		}
	})

	t.Run("msk iam where it is not offered", func(t *testing.T) {
		// MSK IAM signs with the AWS credential chain; these brokers offer
		// only SCRAM, and the one line says so.
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		t.Setenv("AWS_REGION", "eu-west-1")
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		_, _, msg, code := runCmdCtx(ctx, t, "produce", "--synthetic", "10", "--brokers", boot, "--tls-ca", files.CAFile, "--sasl", "aws-msk-iam")
		require.NoError(t, ctx.Err())
		assert.Equal(t, exitUsage, code, msg)
		assert.Contains(t, msg, "--sasl aws-msk-iam: the brokers at "+boot+" do not offer this mechanism")
		assert.NotContains(t, msg, "\n")
	})

	t.Run("pipeline", func(t *testing.T) {
		t.Setenv(saslPasswordEnv, "s3cret")
		out, _, msg, code := runCmdCtx(ctx, t, append([]string{"produce", "--synthetic", "600", "--json"}, sec...)...)
		require.Equal(t, exitOK, code, msg)
		assert.Contains(t, out, `"produced":600`)
		s3 := []string{"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey}
		out, _, msg, code = runCmdCtx(ctx, t, append(append([]string{"sink", "--until-idle", "2s", "--flush-interval", "200ms",
			"--session-timeout", "1s", "--heartbeat-interval", "200ms", "--json"}, sec...), s3...)...)
		require.Equal(t, exitOK, code, msg)
		var st struct{ Written int64 }
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		assert.Equal(t, int64(600), st.Written)
		out, _, msg, code = runCmdCtx(ctx, t, append(append([]string{"verify", "--expect-records", "600"}, sec...), s3...)...)
		assert.Equal(t, exitOK, code, "%s\n%s", msg, out)
	})
}

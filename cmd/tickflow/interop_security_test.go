package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropSecurity starts `tickflow serve --tls --sasl scram-sha-512` and
// shows its auth configuration working with every client users have: the
// printed kcat, kafka-python and tickflow examples run as printed (TLS +
// SCRAM included), tickflow produce + sink + verify give a clean lake, and a
// wrong password fails in kcat, kafka-python and tickflow. `make interop`
// runs it.
func TestInteropSecurity(t *testing.T) {
	if os.Getenv("TICKFLOW_INTEROP") != "1" {
		t.Skip("interop test against kcat and kafka-python with TLS and SASL: run `make interop` (sets TICKFLOW_INTEROP=1)")
	}
	bin := os.Getenv("TICKFLOW_BIN")
	if bin == "" {
		t.Skip("needs TICKFLOW_BIN (make interop builds it)")
	}
	needClient(t, "kcat", "kcat", "-V")
	needClient(t, "python3-kafka", interopPython, "-c", "import kafka")
	p := startServe(t, "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--ui", "off", "--tls", "--sasl", "scram-sha-512")
	in := p.info(t)
	require.NotNil(t, in.TLS, "serve --tls prints the CA")
	require.NotNil(t, in.SASL, "serve --sasl prints the login")
	assert.Equal(t, "SASL_SSL", in.KafkaSecurity)
	assert.FileExists(t, in.TLS.CAFile)
	assert.Equal(t, "SCRAM-SHA-512", in.SASL.Mechanism)

	home := t.TempDir()
	env := []string{"PATH=" + filepath.Dir(bin) + ":/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8"}
	// The printed examples, exactly as printed.
	ex := in.Examples
	for _, c := range []string{ex.KcatMetadata, ex.KcatProduce} {
		assert.Contains(t, c, "security.protocol=sasl_ssl")
		runClient(t, env, nil, "/bin/sh", "-c", c)
	}
	assert.Contains(t, ex.KafkaPython, "security_protocol='SASL_SSL'")
	runClient(t, env, nil, interopPython, "-c", ex.KafkaPython)
	if filepath.Base(bin) == "tickflow" {
		runClient(t, env, nil, "/bin/sh", "-c", ex.TickflowProduce)
	}
	// kafka-python produces and consumes (as a consumer group) over SASL_SSL
	// + SCRAM, on a topic of its own: tickflow's batches are snappy, which
	// Debian's kafka-python cannot decode without python3-snappy.
	pyRoundTrip := fmt.Sprintf(`from kafka import KafkaConsumer, KafkaProducer
sec = dict(bootstrap_servers=%s, security_protocol='SASL_SSL', ssl_cafile=%s, sasl_mechanism=%s, sasl_plain_username=%s, sasl_plain_password=%s)
p = KafkaProducer(**sec)
for i in range(20):
    p.send('interop-secure-python', ('tick-%%d' %% i).encode())
p.flush()
c = KafkaConsumer('interop-secure-python', group_id='interop-secure', auto_offset_reset='earliest', consumer_timeout_ms=8000, **sec)
print(len({m.value for m in c}))
# Close explicitly: kafka-python 2.0.2 can deadlock at interpreter exit when
# a consumer's coordinator is only garbage-collected (heartbeat thread lock).
c.close()
p.close()`, "["+pyQuoteList(in.KafkaBrokers)+"]",
		pyQuote(in.TLS.CAFile), pyQuote(in.SASL.Mechanism), pyQuote(in.SASL.User), pyQuote(in.SASL.Password))
	n := strings.TrimSpace(string(runClient(t, env, nil, interopPython, "-c", pyRoundTrip)))
	assert.Equal(t, "20", n, "kafka-python read back, as a consumer group, the 20 records it produced over SASL_SSL")
	consumed := string(runClient(t, env, nil, "/bin/sh", "-c", ex.KcatConsume))
	assert.Contains(t, consumed, `"trade_date":"2010-01-11"`, "kcat consumes what kcat produced over SASL_SSL")
	assert.Contains(t, consumed, `"trade_date": "2010-01-11"`, "and what kafka-python produced")

	// tickflow's own produce → sink → verify over TLS + SCRAM.
	boot := in.KafkaBootstrap
	sec := []string{"--brokers", boot, "--tls-ca", in.TLS.CAFile, "--sasl", "scram-sha-512", "--sasl-user", in.SASL.User}
	s3 := []string{"--s3-endpoint", in.S3Endpoint, "--bucket", in.Bucket, "--access-key", in.AccessKey, "--secret-key", in.SecretKey, "--prefix", "secure"}
	good := append(env, saslPasswordEnv+"="+in.SASL.Password)
	out := runClient(t, good, nil, bin, append([]string{"produce", "--topic", "secure-ticks", "--synthetic", "3000"}, sec...)...)
	assert.Contains(t, string(out), "produced 3000 records")
	out = runClient(t, good, nil, bin, append(append([]string{"sink", "--topic", "secure-ticks", "--group", "secure-sink",
		"--until-idle", "3s", "--flush-interval", "500ms"}, sec...), s3...)...)
	assert.Contains(t, string(out), "wrote 3000 rows")
	out = runClient(t, good, nil, bin, append(append([]string{"verify", "--topic", "secure-ticks", "--group", "secure-sink", "--expect-records", "3000"}, sec...), s3...)...)
	assert.Contains(t, string(out), "OK", "verify over TLS + SCRAM: %s", out)

	// A wrong password fails, with one line in tickflow's case.
	bad := append(env, saslPasswordEnv+"=wrong")
	msg := runClientFail(t, bad, bin, append([]string{"produce", "--synthetic", "10"}, sec...)...)
	assert.Contains(t, msg, "check the password in $TICKFLOW_SASL_PASSWORD")
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(msg), "\n")+1, "one line: %q", msg)
	kcatBad := strings.Replace(ex.KcatMetadata, "sasl.password="+in.SASL.Password, "sasl.password=wrong", 1) + " -m 5"
	msg = runClientFail(t, env, "/bin/sh", "-c", kcatBad)
	assert.Contains(t, msg, "SASL authentication error")
	pyBad := strings.Replace(ex.KafkaPython, "sasl_plain_password='"+in.SASL.Password+"'", "sasl_plain_password='wrong', api_version=(2, 0, 0), max_block_ms=5000", 1)
	require.NotEqual(t, ex.KafkaPython, pyBad)
	msg = runClientFail(t, env, interopPython, "-c", pyBad)
	assert.Contains(t, msg, "kafka.errors.", "kafka-python raises: %s", lastLineOf(msg))

	assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM), "stderr:\n%s", p.stderr.String())
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
)

// Bounds for every serve process a test starts: none of them may hang a run.
const (
	serveReadyTimeout = 30 * time.Second // start → connection info printed
	serveExitTimeout  = 20 * time.Second // signal or bad input → process gone
	serveLifetime     = 3 * time.Minute  // hard kill, whatever happens
)

// randomAddr is the address every test passes: loopback, a free port each time.
const randomAddr = "127.0.0.1:0"

// TestHelperProcessTickflow is not a test: tickflowCommand re-executes the
// test binary with -test.run selecting it, and it becomes the tickflow CLI,
// so serve can be tested as a real process (signals, exit codes, stdout)
// without a separate go build.
func TestHelperProcessTickflow(t *testing.T) {
	if os.Getenv("TICKFLOW_HELPER_PROCESS") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args))
}

// tickflowCommand runs `tickflow args...`: the binary in TICKFLOW_BIN when
// set (make interop builds it), else this test binary as the CLI.
func tickflowCommand(ctx context.Context, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if bin := os.Getenv("TICKFLOW_BIN"); bin != "" {
		cmd = exec.CommandContext(ctx, bin, args...)
	} else {
		cmd = exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestHelperProcessTickflow$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), "TICKFLOW_HELPER_PROCESS=1")
	}
	// If the process is killed, do not wait long for pipes held by strays.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// serveOutput is a bytes.Buffer safe for a process writer and a test reader.
type serveOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveProc is one running `tickflow serve`.
type serveProc struct {
	cmd     *exec.Cmd
	lines   chan string // stdout, line by line; closed at EOF
	stderr  *serveOutput
	done    chan struct{} // closed once the process has exited
	waitErr error         // cmd.Wait's result, set before done closes
	started time.Time
}

// startServe starts `tickflow serve args...` and kills it at cleanup.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveLifetime)
	p := &serveProc{
		cmd:    tickflowCommand(ctx, append([]string{"serve"}, args...)...),
		lines:  make(chan string, 1024),
		stderr: &serveOutput{},
		done:   make(chan struct{}),
	}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.started = time.Now()
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.waitErr = p.cmd.Wait() // only after every read, as os/exec requires
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		cancel()
	})
	return p
}

// line returns the next stdout line, failing if the process exits first or
// nothing arrives in time.
func (p *serveProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		require.True(t, ok, "serve closed stdout early; stderr:\n%s", p.stderr.String())
		return l
	case <-time.After(serveReadyTimeout):
		require.FailNow(t, "serve printed nothing", "waited %s; stderr:\n%s", serveReadyTimeout, p.stderr.String())
		return ""
	}
}

// info reads the --json line and decodes it, checking every field is present.
func (p *serveProc) info(t *testing.T) serveInfo {
	t.Helper()
	l := p.line(t)
	t.Logf("serve ready after %s", time.Since(p.started).Round(time.Millisecond))
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(l), &raw), "serve --json printed %q", l)
	for _, k := range []string{"kafka_bootstrap", "kafka_brokers", "topic", "partitions", "auto_create_topics",
		"s3_endpoint", "region", "bucket", "access_key", "secret_key", "examples"} {
		assert.Contains(t, raw, k, "serve --json output lacks %q", k)
	}
	var in serveInfo
	dec := json.NewDecoder(strings.NewReader(l))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&in))
	return in
}

// stop sends sig and returns the exit code, failing if the process does not
// exit in time.
func (p *serveProc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	return p.wait(t)
}

func (p *serveProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(serveExitTimeout):
		require.FailNow(t, "serve did not exit", "waited %s; stderr:\n%s", serveExitTimeout, p.stderr.String())
	}
	if p.waitErr != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, p.waitErr, &ee)
	}
	return p.cmd.ProcessState.ExitCode()
}

// rest returns the stdout lines printed after what the test already read;
// valid once the process has exited.
func (p *serveProc) rest() []string {
	var out []string
	for l := range p.lines {
		out = append(out, l)
	}
	return out
}

func serveKafkaClient(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RetryTimeout(20 * time.Second),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// consumeN polls cl until n records arrived or ctx ends.
func serveConsumeN(ctx context.Context, t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			require.FailNowf(t, "consume timed out", "got %d of %d records", len(got), n)
		}
		require.NoError(t, fs.Err0())
		got = append(got, fs.Records()...)
	}
	require.Len(t, got, n, "more records than produced")
	return got
}

func serveProduceN(ctx context.Context, t *testing.T, cl *kgo.Client, topic, prefix string, n int) map[string]string {
	t.Helper()
	want := make(map[string]string, n)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		k, v := fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf(`{"symbol":"HSI","seq":%d,"prefix":%q}`, i, prefix)
		want[k] = v
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v)}
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	return want
}

func recordsByKey(recs []*kgo.Record) map[string]string {
	m := make(map[string]string, len(recs))
	for _, r := range recs {
		m[string(r.Key)] = string(r.Value)
	}
	return m
}

func s3Store(t *testing.T, in serveInfo) objstore.Store {
	t.Helper()
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: in.S3Endpoint, Bucket: in.Bucket, Region: in.Region,
		AccessKey: in.AccessKey, SecretKey: in.SecretKey,
	})
	require.NoError(t, err)
	return st
}

func assertLoopback(t *testing.T, what, hostport string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	if assert.NoError(t, err, "%s %q", what, hostport) {
		assert.True(t, ap.Addr().IsLoopback(), "%s %q is not loopback", what, hostport)
		assert.NotZero(t, ap.Port(), "%s %q has no port", what, hostport)
	}
}

func TestServeJSONAndClients(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		brokers    int
		topic      string
		partitions int
		bucket     string
		sig        syscall.Signal
	}{
		{"defaults", nil, broker.DefaultBrokers, broker.DefaultTopic, broker.DefaultPartitions, broker.DefaultBucket, syscall.SIGTERM},
		{"one broker", []string{"--brokers", "1", "--topic", "ticks.v2", "--partitions", "2"}, 1, "ticks.v2", 2, broker.DefaultBucket, syscall.SIGINT},
		{"five brokers", []string{"--brokers", "5", "--bucket", "my-lake", "--verbose"}, 5, broker.DefaultTopic, broker.DefaultPartitions, "my-lake", syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := startServe(t, append([]string{"--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr}, tc.args...)...)
			in := p.info(t)

			require.Len(t, in.KafkaBrokers, tc.brokers)
			assert.Equal(t, strings.Join(in.KafkaBrokers, ","), in.KafkaBootstrap)
			for _, a := range in.KafkaBrokers {
				assertLoopback(t, "broker", a)
			}
			u, err := url.Parse(in.S3Endpoint)
			require.NoError(t, err)
			assert.Equal(t, "http", u.Scheme)
			assertLoopback(t, "s3 endpoint", u.Host)
			assert.Equal(t, tc.topic, in.Topic)
			assert.Equal(t, tc.partitions, in.Partitions)
			assert.Equal(t, tc.bucket, in.Bucket)
			assert.Equal(t, broker.DefaultRegion, in.Region)
			assert.Equal(t, broker.AccessKey, in.AccessKey)
			assert.Equal(t, broker.SecretKey, in.SecretKey)
			assert.True(t, in.AutoCreateTopics)
			assert.Contains(t, in.Examples.KcatMetadata, in.KafkaBootstrap)
			assert.Contains(t, in.Examples.AWSList, in.S3Endpoint)
			assert.Contains(t, in.Examples.AWSList, "s3://"+in.Bucket+"/")
			assert.Contains(t, in.Examples.KafkaPython, "value_serializer=lambda x: dumps(x).encode('utf-8')")
			assert.Contains(t, in.Examples.Boto3, in.S3Endpoint)

			// The metadata matches what was printed.
			cl := serveKafkaClient(t, in.KafkaBrokers)
			adm := kadm.NewClient(cl)
			bm, err := adm.ListBrokers(ctx)
			require.NoError(t, err)
			var advertised []string
			for _, b := range bm {
				advertised = append(advertised, net.JoinHostPort(b.Host, fmt.Sprint(b.Port)))
			}
			assert.ElementsMatch(t, in.KafkaBrokers, advertised)
			td, err := adm.ListTopics(ctx, in.Topic)
			require.NoError(t, err)
			require.NoError(t, td[in.Topic].Err)
			assert.Len(t, td[in.Topic].Partitions, tc.partitions)

			// A kgo client produces and consumes through the printed bootstrap.
			want := serveProduceN(ctx, t, cl, in.Topic, tc.name, 60)
			cons := serveKafkaClient(t, strings.Split(in.KafkaBootstrap, ","), kgo.ConsumeTopics(in.Topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			assert.Equal(t, want, recordsByKey(serveConsumeN(ctx, t, cons, len(want))))

			// S3 through the printed endpoint and credentials.
			st := s3Store(t, in)
			require.NoError(t, st.Put(ctx, "serve-test/a.json", []byte(`{"a":1}`), nil))
			body, _, err := st.Get(ctx, "serve-test/a.json")
			require.NoError(t, err)
			assert.Equal(t, `{"a":1}`, string(body))

			cl.Close()
			cons.Close()
			assert.Equal(t, exitOK, p.stop(t, tc.sig), "stderr:\n%s", p.stderr.String())
			assert.Empty(t, p.rest(), "--json must print exactly one line on stdout")
			if !hasArg(tc.args, "--verbose") {
				assert.Empty(t, p.stderr.String(), "serve is quiet without --verbose")
			} else {
				assert.Contains(t, p.stderr.String(), "level=", "--verbose logs to stderr")
			}
		})
	}
}

func hasArg(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestServeTextOutput(t *testing.T) {
	p := startServe(t, "--kafka-addr", randomAddr, "--s3-addr", randomAddr)
	var lines []string
	for {
		l := p.line(t)
		lines = append(lines, l)
		if l == serveReadyLine {
			break
		}
	}
	text := strings.Join(lines, "\n")
	boot := fieldAfter(t, lines, "bootstrap servers")
	endpoint := fieldAfter(t, lines, "endpoint")
	for _, a := range strings.Split(boot, ",") {
		assertLoopback(t, "broker", a)
	}
	for _, want := range []string{
		"region             " + broker.DefaultRegion,
		"bucket             " + broker.DefaultBucket,
		"access key         " + broker.AccessKey,
		"secret key         " + broker.SecretKey,
		"kcat -b " + boot + " -L",
		"kcat -b " + boot + " -t " + broker.DefaultTopic + " -P",
		"aws --endpoint-url " + endpoint + " s3 ls s3://" + broker.DefaultBucket + "/",
		"AWS_ACCESS_KEY_ID=" + broker.AccessKey,
		"KafkaProducer(bootstrap_servers=[",
		"value_serializer=lambda x: dumps(x).encode('utf-8')",
		"boto3.client('s3', endpoint_url='" + endpoint + "'",
	} {
		assert.Contains(t, text, want)
	}

	// The printed bootstrap is usable as printed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := serveKafkaClient(t, strings.Split(boot, ","))
	serveProduceN(ctx, t, cl, broker.DefaultTopic, "text", 5)
	cl.Close()

	assert.Equal(t, exitOK, p.stop(t, os.Interrupt))
	assert.Empty(t, p.rest())
	assert.Contains(t, p.stderr.String(), "stopped")
}

// fieldAfter returns the value printed after label on its line.
func fieldAfter(t *testing.T, lines []string, label string) string {
	t.Helper()
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), label+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	require.FailNowf(t, "label missing", "no %q line in:\n%s", label, strings.Join(lines, "\n"))
	return ""
}

func TestServeBadInput(t *testing.T) {
	// A port held by the test: serve must refuse it, not steal or hang.
	taken, err := net.Listen("tcp", randomAddr)
	require.NoError(t, err)
	t.Cleanup(func() { taken.Close() })
	file := filepath.Join(t.TempDir(), "plain-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))

	tests := []struct {
		name string
		args []string
		flag string // the flag the one-line error must name
	}{
		{"unknown flag", []string{"--nope"}, "--nope"},
		{"positional argument", []string{"extra"}, "extra"},
		{"zero brokers", []string{"--brokers", "0"}, "--brokers"},
		{"too many brokers", []string{"--brokers", "17"}, "--brokers"},
		{"brokers not a number", []string{"--brokers", "three"}, "--brokers"},
		{"kafka addr without port", []string{"--kafka-addr", "127.0.0.1"}, "--kafka-addr"},
		{"kafka addr host name", []string{"--kafka-addr", "kafka.example.com:9092"}, "--kafka-addr"},
		{"kafka addr bad port", []string{"--kafka-addr", "127.0.0.1:99999"}, "--kafka-addr"},
		{"kafka addr unspecified", []string{"--kafka-addr", "0.0.0.0:0"}, "--kafka-addr"},
		{"kafka ports past 65535", []string{"--kafka-addr", "127.0.0.1:65534", "--brokers", "3"}, "--kafka-addr"},
		{"kafka addr taken", []string{"--kafka-addr", taken.Addr().String()}, "--kafka-addr"},
		{"kafka addr not local", []string{"--kafka-addr", "192.0.2.1:0"}, "--kafka-addr"},
		{"s3 addr malformed", []string{"--s3-addr", "nine-thousand"}, "--s3-addr"},
		{"s3 addr taken", []string{"--s3-addr", taken.Addr().String()}, "--s3-addr"},
		{"s3 inside broker ports", []string{"--kafka-addr", "127.0.0.1:40100", "--s3-addr", "127.0.0.1:40101"}, "--s3-addr"},
		{"data dir is a file", []string{"--data-dir", file}, "--data-dir"},
		{"data dir under a file", []string{"--data-dir", filepath.Join(file, "world")}, "--data-dir"},
		{"zero partitions", []string{"--partitions", "0"}, "--partitions"},
		{"bad topic", []string{"--topic", "stock ticks"}, "--topic"},
		{"bad bucket", []string{"--bucket", "My_Bucket"}, "--bucket"},
		{"bad s3 auth", []string{"--s3-auth", "maybe"}, "--s3-auth"},
		{"bad sasl", []string{"--sasl", "gssapi"}, "--sasl"},
		{"empty sasl user", []string{"--sasl", "plain", "--sasl-user", ""}, "--sasl-user"},
		{"prefix with ..", []string{"--prefix", "a/../b"}, "--prefix"},
		{"prefix from /", []string{"--prefix", "/warehouse"}, "--prefix"},
		{"table missing", []string{"--table", filepath.Join(file, "none.sql")}, "--table"},
		{"table not a definition", []string{"--table", file}, "--table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), serveExitTimeout)
			defer cancel()
			args := []string{"serve", "--json"}
			if !hasArg(tc.args, "--kafka-addr") {
				args = append(args, "--kafka-addr", randomAddr)
			}
			if !hasArg(tc.args, "--s3-addr") {
				args = append(args, "--s3-addr", randomAddr)
			}
			cmd := tickflowCommand(ctx, append(args, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			require.NoError(t, ctx.Err(), "serve hung on bad input; stderr:\n%s", stderr.String())
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "serve accepted bad input: err=%v stdout=%q", err, stdout.String())
			assert.Equal(t, exitUsage, ee.ExitCode())
			assert.Empty(t, stdout.String(), "nothing on stdout when serve does not start")
			msg := strings.TrimRight(stderr.String(), "\n")
			assert.NotContains(t, msg, "\n", "the error is one line")
			assert.Contains(t, msg, tc.flag)
			assert.NotContains(t, msg, "panic")
			// The CLI's language: flags, not Go packages or option calls.
			assert.NotContains(t, msg, "broker:")
			assert.NotRegexp(t, `\b(KafkaAddr|S3Addr|DataDir|Brokers|Partitions|Topic|Bucket)\(`, msg)
			if tc.flag == "--s3-addr" {
				assert.NotContains(t, msg, ":9092", "an --s3-addr hint must not suggest a Kafka port")
			}
		})
	}
}

// TestServeDataDirPersists stops a serve with --data-dir and starts another
// on the same directory (on new random ports): records, a group's committed
// offsets and S3 objects are all still there.
func TestServeDataDirPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "world") // created by serve
	args := []string{"--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--data-dir", dir}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n, group, key = 120, "persist-readers", "lake/persist.json"
	body := []byte(`{"persisted":true}`)

	first := startServe(t, args...)
	in := first.info(t)
	assert.Equal(t, dir, in.DataDir)
	cl := serveKafkaClient(t, in.KafkaBrokers)
	want := serveProduceN(ctx, t, cl, in.Topic, "persist", n)
	grp := serveKafkaClient(t, in.KafkaBrokers, kgo.ConsumeTopics(in.Topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	serveConsumeN(ctx, t, grp, n)
	require.NoError(t, grp.CommitUncommittedOffsets(ctx))
	grp.Close()
	cl.Close()
	require.NoError(t, s3Store(t, in).Put(ctx, key, body, nil))
	require.Equal(t, exitOK, first.stop(t, syscall.SIGTERM), "stderr:\n%s", first.stderr.String())

	second := startServe(t, args...)
	in2 := second.info(t)
	cons := serveKafkaClient(t, in2.KafkaBrokers, kgo.ConsumeTopics(in2.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	assert.Equal(t, want, recordsByKey(serveConsumeN(ctx, t, cons, n)), "records survive a restart")

	adm := kadm.NewClient(serveKafkaClient(t, in2.KafkaBrokers))
	offsets, err := adm.FetchOffsets(ctx, group)
	require.NoError(t, err)
	ends, err := adm.ListEndOffsets(ctx, in2.Topic)
	require.NoError(t, err)
	var committed int64
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offsets.Lookup(e.Topic, e.Partition)
		if e.Offset > 0 && assert.True(t, ok, "no committed offset for partition %d", e.Partition) {
			assert.Equal(t, e.Offset, o.At, "committed offset of partition %d", e.Partition)
			committed += o.At
		}
	})
	assert.EqualValues(t, n, committed, "committed offsets survive a restart")

	got, _, err := s3Store(t, in2).Get(ctx, key)
	require.NoError(t, err, "S3 objects survive a restart")
	assert.Equal(t, body, got)

	cons.Close()
	assert.Equal(t, exitOK, second.stop(t, syscall.SIGTERM), "stderr:\n%s", second.stderr.String())
}

// TestServeDataDirLocked: a second serve on a directory in use must refuse
// it (exit 2, naming --data-dir) rather than share and corrupt it.
func TestServeDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--data-dir", dir)
	p.info(t)

	ctx, cancel := context.WithTimeout(context.Background(), serveExitTimeout)
	defer cancel()
	cmd := tickflowCommand(ctx, "serve", "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--data-dir", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "second serve hung; stderr:\n%s", stderr.String())
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "second serve on the same --data-dir started")
	assert.Equal(t, exitUsage, ee.ExitCode())
	assert.Contains(t, stderr.String(), "--data-dir")
	assert.Empty(t, stdout.String())

	assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM))
}

// TestServeFlagDefaults pins the defaults docs/serve.md promises users: fixed
// well-known ports, so examples and configs written once keep working.
func TestServeFlagDefaults(t *testing.T) {
	fl := newServeCmd().Flags()
	for _, tc := range []struct{ flag, want string }{
		{"brokers", "3"},
		{"kafka-addr", "127.0.0.1:9092"},
		{"s3-addr", "127.0.0.1:9000"},
		{"topic", "stock-ticks"},
		{"partitions", "6"},
		{"bucket", broker.DefaultBucket},
		{"data-dir", ""},
		{"json", "false"},
		{"verbose", "false"},
		{"prefix", ""},
		{"table", ""},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			f := fl.Lookup(tc.flag)
			require.NotNil(t, f, "serve has no --%s", tc.flag)
			assert.Equal(t, tc.want, f.DefValue)
		})
	}
}

// TestServeStoppedDuringStart: a signal that arrives while the world starts
// is a requested stop (exit 0, nothing printed), not an error.
func TestServeStoppedDuringStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := runServe(ctx, &stdout, &stderr, serveFlags{
		brokers: 1, kafkaAddr: randomAddr, s3Addr: randomAddr, topic: broker.DefaultTopic,
		partitions: 1, bucket: broker.DefaultBucket, json: true,
	})
	assert.NoError(t, err)
	assert.Empty(t, stdout.String())
}

// TestServeDataDirKeepsPartitions: --partitions cannot change a topic that
// --data-dir already holds; serve reports the real count and warns.
func TestServeDataDirKeepsPartitions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "world")
	args := []string{"--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr, "--data-dir", dir}
	first := startServe(t, append(args, "--partitions", "6")...)
	assert.Equal(t, 6, first.info(t).Partitions)
	require.Equal(t, exitOK, first.stop(t, syscall.SIGTERM), "stderr:\n%s", first.stderr.String())
	assert.NotContains(t, first.stderr.String(), "did not apply")

	second := startServe(t, append(args, "--partitions", "3")...)
	in := second.info(t)
	adm := kadm.NewClient(serveKafkaClient(t, in.KafkaBrokers))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	td, err := adm.ListTopics(ctx, in.Topic)
	require.NoError(t, err)
	require.Len(t, td[in.Topic].Partitions, 6, "the persisted topic keeps its partitions")
	assert.Equal(t, 6, in.Partitions, "serve --json reports the topic's real partition count")
	require.Equal(t, exitOK, second.stop(t, syscall.SIGTERM))
	assert.Contains(t, second.stderr.String(), "already has 6 partitions; --partitions 3 did not apply")
}

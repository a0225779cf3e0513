package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// Debian's clients, by absolute path where PATH may hold others (pyenv puts
// a python3 without kafka-python and an aws shim first).
const (
	interopPython = "/usr/bin/python3"
	interopAWS    = "/usr/bin/aws"
)

// clientTimeout bounds every client command; each is killed at its deadline.
const clientTimeout = 90 * time.Second

// TestInteropRealClients starts `tickflow serve` and drives it with the
// clients users have: kcat (librdkafka), the aws CLI, kafka-python written
// like the seed project, and boto3. `make interop` runs it (and CI); it
// needs apt packages kcat, awscli, python3-kafka and python3-boto3.
func TestInteropRealClients(t *testing.T) {
	if os.Getenv("TICKFLOW_INTEROP") != "1" {
		t.Skip("interop test against kcat, aws CLI, kafka-python and boto3: run `make interop` (sets TICKFLOW_INTEROP=1)")
	}
	p := startServe(t, "--json", "--kafka-addr", randomAddr, "--s3-addr", randomAddr)
	in := p.info(t)
	t.Logf("serve: kafka %s, s3 %s", in.KafkaBootstrap, in.S3Endpoint)

	t.Run("kcat metadata", func(t *testing.T) { interopKcatMetadata(t, in) })
	t.Run("kcat produce consume", func(t *testing.T) { interopKcatRoundTrip(t, in) })
	t.Run("aws cli", func(t *testing.T) { interopAWSCLI(t, in) })
	t.Run("kafka-python", func(t *testing.T) { interopKafkaPython(t, in) })
	t.Run("boto3", func(t *testing.T) { interopBoto3(t, in) })
	t.Run("boto3 conditional writes", func(t *testing.T) { interopBoto3Conditional(t, in) })
	t.Run("s3 signatures", func(t *testing.T) { interopS3Auth(t, in) })
	t.Run("printed examples", func(t *testing.T) { interopPrintedExamples(t, in) })

	start := time.Now()
	assert.Equal(t, exitOK, p.stop(t, syscall.SIGTERM), "stderr:\n%s", p.stderr.String())
	t.Logf("serve shut down in %s", time.Since(start).Round(time.Millisecond))
}

// needClient returns when the probe command runs. A missing client fails
// the test under CI (CI set to anything but "", "0" or "false"), where
// .ci/run installs it, and skips it locally; either way the message names
// the apt package.
func needClient(t *testing.T, pkg string, probe ...string) {
	t.Helper()
	msg, fail := clientProblem(os.Getenv("CI"), pkg, probe...)
	switch {
	case msg == "":
		return
	case fail:
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// clientProblem runs probe and says what is wrong with the client ("" when
// it runs), and whether that fails the test under the CI value ci.
func clientProblem(ci, pkg string, probe ...string) (msg string, fail bool) {
	out, err := exec.Command(probe[0], probe[1:]...).CombinedOutput()
	if err == nil {
		return "", false
	}
	why := err.Error()
	if l := lastLineOf(string(out)); l != "" {
		why += ": " + l
	}
	msg = fmt.Sprintf("%s is not usable (%s): install it with `apt-get install -y %s`",
		strings.Join(probe, " "), why, pkg)
	return msg, underCI(ci)
}

// underCI reads the CI environment variable the way CI services set it
// (true, 1, yes).
func underCI(ci string) bool {
	switch strings.ToLower(strings.TrimSpace(ci)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// A missing client fails (not skips) under CI, whatever truthy value CI has.
func TestInteropMissingClientFailsUnderCI(t *testing.T) {
	for ci, fail := range map[string]bool{"true": true, "1": true, "yes": true, "": false, "false": false, "0": false} {
		msg, gotFail := clientProblem(ci, "no-such-package", "tickflow-no-such-client-binary", "--version")
		assert.Contains(t, msg, "apt-get install -y no-such-package")
		assert.Equal(t, fail, gotFail, "CI=%q", ci)
	}
	msg, fail := clientProblem("true", "coreutils", "true")
	assert.Empty(t, msg)
	assert.False(t, fail)
}

func lastLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// clientEnv is the environment for client commands: no AWS settings from the
// caller (profiles, endpoints, ~/.aws) and a scratch HOME, so only what serve
// printed is used.
func clientEnv(t *testing.T, in serveInfo) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "HOME" || k == "PYTHONPATH" || k == "PYTHONHOME" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"AWS_ACCESS_KEY_ID="+in.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+in.SecretKey,
		"AWS_DEFAULT_REGION="+in.Region,
		"AWS_CONFIG_FILE="+filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"PYTHONDONTWRITEBYTECODE=1",
	)
}

// runClient runs a client command with a deadline and returns its stdout;
// it fails the test with stderr on a non-zero exit.
func runClient(t *testing.T, env []string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s timed out after %s; stderr:\n%s", name, clientTimeout, stderr.String())
	require.NoError(t, err, "%s %s\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), stderr.String(), stdout.String())
	t.Logf("%s %s: %s", filepath.Base(name), firstArgs(args), time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

// runClientFail runs a client command that must fail and returns its stderr.
func runClientFail(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s timed out after %s; stderr:\n%s", name, clientTimeout, stderr.String())
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s %s should fail", name, strings.Join(args, " "))
	return stderr.String()
}

func firstArgs(args []string) string {
	if len(args) > 6 {
		args = args[:6]
	}
	s := strings.Join(args, " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// kcatMetadata is the part of `kcat -L -J` the test checks.
type kcatMetadata struct {
	Brokers []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
		} `json:"partitions"`
	} `json:"topics"`
}

func interopKcatMetadata(t *testing.T, in serveInfo) {
	needClient(t, "kcat", "kcat", "-V")
	out := runClient(t, clientEnv(t, in), nil, "kcat", "-b", in.KafkaBootstrap, "-L", "-J", "-m", "20")
	var md kcatMetadata
	require.NoError(t, json.Unmarshal(out, &md), "kcat -L -J printed %q", out)
	var names []string
	ids := map[int32]bool{}
	for _, b := range md.Brokers {
		names = append(names, b.Name)
		ids[b.ID] = true
	}
	assert.ElementsMatch(t, in.KafkaBrokers, names, "kcat -L lists every broker at its printed address")
	var found bool
	for _, tp := range md.Topics {
		if tp.Topic != in.Topic {
			continue
		}
		found = true
		assert.Len(t, tp.Partitions, in.Partitions)
		for _, p := range tp.Partitions {
			assert.True(t, ids[p.Leader], "partition %d leader %d is not a listed broker", p.Partition, p.Leader)
		}
	}
	assert.True(t, found, "kcat -L does not list topic %q", in.Topic)
}

// kcatMessage is one `kcat -C -J` line.
type kcatMessage struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// interopKcatRoundTrip produces tick lines with keys through kcat to a topic
// that does not exist yet (auto-created by librdkafka's metadata request),
// consumes them back with kcat, and compares payloads byte for byte.
func interopKcatRoundTrip(t *testing.T, in serveInfo) {
	needClient(t, "kcat", "kcat", "-V")
	const topic, n = "interop-kcat", 300
	want := map[string]string{}
	var input bytes.Buffer
	for i, tk := range sampleTicks(t, n) {
		b, err := json.Marshal(tk)
		require.NoError(t, err)
		if i%50 == 0 { // not only ASCII JSON: bytes must survive as sent
			b = append(b, []byte(` ✓ "quoted" \ tab	end`)...)
		}
		k := fmt.Sprintf("%s-%04d", tk.Symbol, i)
		want[k] = string(b)
		fmt.Fprintf(&input, "%s|%s\n", k, b)
	}
	env := clientEnv(t, in)
	runClient(t, env, input.Bytes(), "kcat", "-b", in.KafkaBootstrap, "-t", topic, "-P", "-K", "|",
		"-X", "acks=all", "-X", "message.timeout.ms=30000")
	out := runClient(t, env, nil, "kcat", "-b", in.KafkaBootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-J",
		"-m", "30")
	got := map[string]string{}
	lastOffset := map[int32]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		var m kcatMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "kcat -C -J line %q", sc.Text())
		require.NotNil(t, m.Key)
		require.NotNil(t, m.Payload)
		_, dup := got[*m.Key]
		assert.False(t, dup, "key %s consumed twice", *m.Key)
		got[*m.Key] = *m.Payload
		if last, ok := lastOffset[m.Partition]; ok {
			assert.Greater(t, m.Offset, last, "partition %d offsets out of order", m.Partition)
		}
		lastOffset[m.Partition] = m.Offset
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, want, got)
	assert.Greater(t, len(lastOffset), 1, "keys should spread over the auto-created topic's partitions")
}

func interopAWSCLI(t *testing.T, in serveInfo) {
	needClient(t, "awscli", interopAWS, "--version")
	env := clientEnv(t, in)
	dir := t.TempDir()
	small := filepath.Join(dir, "ticks.json")
	big := filepath.Join(dir, "big.bin") // over the CLI's 8 MiB multipart threshold
	smallBody := []byte(`{"symbol":"HSI","trade_date":"2010-01-11","close":22411.5}` + "\n")
	bigBody := bytes.Repeat([]byte("0123456789abcdef"), 10*1024*1024/16+123)
	require.NoError(t, os.WriteFile(small, smallBody, 0o644))
	require.NoError(t, os.WriteFile(big, bigBody, 0o644))
	base := "s3://" + in.Bucket + "/interop/aws/"
	aws := func(args ...string) []byte {
		return runClient(t, env, nil, interopAWS, append([]string{"--endpoint-url", in.S3Endpoint}, args...)...)
	}

	aws("s3", "cp", small, base+"dt=2010-01-11/ticks.json")
	aws("s3", "cp", big, base+"big.bin")
	ls := string(aws("s3", "ls", "--recursive", base))
	assert.Contains(t, ls, fmt.Sprintf("%d interop/aws/dt=2010-01-11/ticks.json", len(smallBody)))
	assert.Contains(t, ls, fmt.Sprintf("%d interop/aws/big.bin", len(bigBody)))
	top := string(aws("s3", "ls", "s3://"+in.Bucket+"/"))
	assert.Contains(t, top, "PRE interop/")

	back := filepath.Join(dir, "back.bin")
	aws("s3", "cp", base+"big.bin", back)
	got, err := os.ReadFile(back)
	require.NoError(t, err)
	assert.Equal(t, sha256.Sum256(bigBody), sha256.Sum256(got), "multipart object read back differs")

	// Operations the fake cannot do are refused with 501, not applied wrongly
	// (gofakes3 alone would store the tagging XML as the object's content).
	msg := runClientFail(t, env, interopAWS, "--endpoint-url", in.S3Endpoint, "s3api", "put-object-tagging",
		"--bucket", in.Bucket, "--key", "interop/aws/dt=2010-01-11/ticks.json", "--tagging", "TagSet=[{Key=k,Value=v}]")
	assert.Contains(t, msg, "NotImplemented")

	// And the Go client sees what the CLI wrote, untouched by the refused call.
	body, _, err := s3Store(t, in).Get(context.Background(), "interop/aws/dt=2010-01-11/ticks.json")
	require.NoError(t, err)
	assert.Equal(t, smallBody, body)
}

func interopKafkaPython(t *testing.T, in serveInfo) {
	needClient(t, "python3-kafka", interopPython, "-c", "import kafka")
	const topic, n = "interop-python-ticks", 500 // new: exists only if serve auto-creates it for Metadata v1
	csvPath, err := filepath.Abs("../../testdata/indexProcessed-HSI.csv")
	require.NoError(t, err)
	out := runClient(t, clientEnv(t, in), nil, interopPython,
		interopScript(t, "kafka_python_roundtrip.py"), in.KafkaBootstrap, topic, csvPath, fmt.Sprint(n))
	t.Logf("kafka-python: %s", bytes.TrimSpace(out))
	var sum struct {
		Ticks int `json:"ticks"`
	}
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(lastLineBytes(out)), &sum))
	assert.Equal(t, n, sum.Ticks)

	// What Python sent is what the pipeline reads: every value decodes as a tick.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := serveKafkaClient(t, in.KafkaBrokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	want := sampleTicks(t, n)
	seen := map[tick.Tick]int{}
	for _, r := range serveConsumeN(ctx, t, cl, n) {
		var tk tick.Tick
		require.NoError(t, json.Unmarshal(r.Value, &tk), "value %q", r.Value)
		seen[tk]++
	}
	for _, tk := range want {
		seen[tk]--
	}
	for tk, c := range seen {
		assert.Zero(t, c, "tick %+v: count differs between sent and stored", tk)
	}
}

func interopBoto3(t *testing.T, in serveInfo) {
	needClient(t, "python3-boto3", interopPython, "-c", "import boto3")
	out := runClient(t, clientEnv(t, in), nil, interopPython,
		interopScript(t, "boto3_roundtrip.py"), in.S3Endpoint, in.Bucket, "interop/boto3")
	t.Logf("boto3: %s", bytes.TrimSpace(out))

	objs, err := s3Store(t, in).List(context.Background(), "interop/boto3/")
	require.NoError(t, err)
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	// Five JSON objects were put, one deleted; the multipart object stays.
	assert.Len(t, keys, 5, "objects boto3 left: %v", keys)
	assert.Contains(t, keys, "interop/boto3/big.bin")
}

// interopBoto3Conditional checks If-None-Match/If-Match on PutObject,
// CompleteMultipartUpload and CopyObject the way AWS answers them.
func interopBoto3Conditional(t *testing.T, in serveInfo) {
	needClient(t, "python3-boto3", interopPython, "-c", "import boto3")
	out := runClient(t, clientEnv(t, in), nil, interopPython,
		interopScript(t, "boto3_conditional.py"), in.S3Endpoint, in.Bucket, "interop/conditional")
	t.Logf("boto3: %s", bytes.TrimSpace(out))
	assert.Contains(t, string(lastLineBytes(out)), `"conditional_checks": 11`)
}

// interopS3Auth shows the aws CLI and boto3 refused with wrong keys, the
// way AWS refuses them, and working with the printed ones.
func interopS3Auth(t *testing.T, in serveInfo) {
	needClient(t, "awscli", interopAWS, "--version")
	needClient(t, "python3-boto3", interopPython, "-c", "import boto3")
	for _, tc := range []struct {
		name, key, secret, region, want string
	}{
		{"wrong access key", "AKIAWRONGKEY", in.SecretKey, in.Region, "InvalidAccessKeyId"},
		{"wrong secret key", in.AccessKey, in.SecretKey + "-typo", in.Region, "SignatureDoesNotMatch"},
	} {
		bad := in
		bad.AccessKey, bad.SecretKey, bad.Region = tc.key, tc.secret, tc.region
		msg := runClientFail(t, clientEnv(t, bad), interopAWS, "--endpoint-url", in.S3Endpoint, "s3", "ls", "s3://"+in.Bucket+"/")
		assert.Contains(t, msg, tc.want, "aws s3 ls with a %s", tc.name)
	}
	assert.Contains(t, string(runClient(t, clientEnv(t, in), nil, interopAWS, "--endpoint-url", in.S3Endpoint,
		"s3", "ls", "s3://"+in.Bucket+"/")), "PRE interop/", "the printed keys work")
	// A wrong region is answered AuthorizationHeaderMalformed naming the
	// right one, and the CLI re-signs for it and succeeds, as against AWS.
	otherRegion := in
	otherRegion.Region = "eu-central-1"
	assert.Contains(t, string(runClient(t, clientEnv(t, otherRegion), nil, interopAWS, "--endpoint-url", in.S3Endpoint,
		"s3", "ls", "s3://"+in.Bucket+"/")), "PRE interop/", "the CLI follows the region the error names")
	url := strings.TrimSpace(string(runClient(t, clientEnv(t, in), nil, interopAWS, "--endpoint-url", in.S3Endpoint,
		"s3", "presign", "s3://"+in.Bucket+"/interop/aws/dt=2010-01-11/ticks.json", "--expires-in", "300")))
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "aws s3 presign URL: %s", body)

	out := runClient(t, clientEnv(t, in), nil, interopPython,
		interopScript(t, "boto3_auth.py"), in.S3Endpoint, in.Bucket, "interop/auth")
	t.Logf("boto3: %s", bytes.TrimSpace(out))
	assert.Contains(t, string(lastLineBytes(out)), `"refused": 4`)
}

// interopPrintedExamples runs the examples serve printed, exactly as
// printed, through sh and python: what users copy must work.
func interopPrintedExamples(t *testing.T, in serveInfo) {
	needClient(t, "kcat", "kcat", "-V")
	needClient(t, "awscli", interopAWS, "--version")
	needClient(t, "python3-kafka", interopPython, "-c", "import kafka")
	needClient(t, "python3-boto3", interopPython, "-c", "import boto3")
	// Only the variables a user's shell has: the examples carry their own
	// AWS settings.
	home := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true"}
	ex := in.Examples
	for _, c := range []string{ex.KcatMetadata, ex.KcatProduce} {
		runClient(t, env, nil, "/bin/sh", "-c", c)
	}
	runClient(t, env, nil, interopPython, "-c", ex.KafkaPython)
	consumed := string(runClient(t, env, nil, "/bin/sh", "-c", ex.KcatConsume))
	assert.Contains(t, consumed, `"trade_date":"2010-01-11"`, "kcat consume example shows the kcat produce example's tick")
	assert.Contains(t, consumed, `"trade_date": "2010-01-11"`, "kcat consume example shows the kafka-python example's tick")

	runClient(t, env, nil, "/bin/sh", "-c", ex.AWSCopy)
	assert.Contains(t, string(runClient(t, env, nil, "/bin/sh", "-c", ex.AWSList)), "hello.txt")
	assert.Contains(t, string(runClient(t, env, nil, interopPython, "-c", ex.Boto3)), "'hello.txt'")
}

// interopScript returns the absolute path of a script in testdata/interop
// (clients run in a scratch directory).
func interopScript(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "interop", name))
	require.NoError(t, err)
	require.FileExists(t, p)
	return p
}

func lastLineBytes(b []byte) []byte {
	return []byte(lastLineOf(string(b)))
}

// sampleTicks returns the first n ticks of the embedded HSI sample, the
// same rows kafka_python_roundtrip.py reads from the CSV.
func sampleTicks(t *testing.T, n int) []tick.Tick {
	t.Helper()
	f, err := os.Open("../../testdata/indexProcessed-HSI.csv")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	require.True(t, sc.Scan(), "header")
	var out []tick.Tick
	for len(out) < n && sc.Scan() {
		var tk tick.Tick
		var vol float64
		_, err := fmt.Sscanf(strings.ReplaceAll(sc.Text(), ",", " "), "%s %s %g %g %g %g %g %g %g",
			&tk.Symbol, &tk.TradeDate, &tk.Open, &tk.High, &tk.Low, &tk.Close, &tk.AdjClose, &vol, &tk.CloseUSD)
		require.NoError(t, err, "line %q", sc.Text())
		tk.Volume = int64(vol)
		out = append(out, tk)
	}
	require.Len(t, out, n)
	return out
}

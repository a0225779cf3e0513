package program

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCoordinates() Coordinates {
	return Coordinates{Brokers: []string{"127.0.0.1:1", "127.0.0.1:2"}, Topic: "t.1", Group: "g", S3Endpoint: "http://127.0.0.1:3",
		Bucket: "b", Prefix: "p/", Region: "us-east-1"}
}

func TestExpand(t *testing.T) {
	got := testCoordinates().Expand("run --kafka {brokers} --topic {topic} --group {group} --s3 {s3} s3://{bucket}/{prefix} #{instance} {region} {unknown}", 7)
	assert.Equal(t, "run --kafka 127.0.0.1:1,127.0.0.1:2 --topic t.1 --group g --s3 http://127.0.0.1:3 s3://b/p/ #7 us-east-1 {unknown}", got)
}

func TestEnvNeverLeaksARealProfile(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root", "AWS_PROFILE=prod", "AWS_ACCESS_KEY_ID=AKIAREAL", "AWS_SESSION_TOKEN=tok",
		"KAFKA_BOOTSTRAP_SERVERS=prod:9092", "TICKFLOW_PREFIX=other"}
	env := map[string]string{}
	for _, kv := range testCoordinates().Env(base, 3, "") {
		k, v, _ := strings.Cut(kv, "=")
		_, dup := env[k]
		require.False(t, dup, "%s set twice", k)
		env[k] = v
	}
	access, secret := Credentials(3)
	for k, want := range map[string]string{
		"PATH": "/bin", "HOME": "/root",
		"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1,127.0.0.1:2", "KAFKA_TOPIC": "t.1", "KAFKA_GROUP_ID": "g",
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3", "AWS_ENDPOINT_URL": "http://127.0.0.1:3",
		"TICKFLOW_BUCKET": "b", "TICKFLOW_PREFIX": "p/", "TICKFLOW_INSTANCE": "3",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"KAFKA_SESSION_TIMEOUT_MS": strconv.FormatInt(SessionHint.Milliseconds(), 10),
	} {
		assert.Equal(t, want, env[k], k)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		_, ok := env[k]
		assert.False(t, ok, "%s must not reach the program", k)
	}
}

func TestCredentialsPerInstance(t *testing.T) {
	seen := map[string]bool{}
	for i := range 20 {
		a, s := Credentials(i)
		assert.False(t, seen[a], "instance %d shares an access key", i)
		seen[a] = true
		assert.NotEmpty(t, s)
		assert.Equal(t, i, InstanceOf(a))
	}
	for _, a := range []string{"", "AKIAIOSFODNN7EXAMPLE", "TICKFLOW", "TICKFLOWabcdefghijkl", "tickflow"} {
		assert.Equal(t, -1, InstanceOf(a), a)
	}
}

// A signal reaches the whole group: a wrapper script's child dies with it.
func TestSignalTakesTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	p, err := Start("sleep 300 & echo $! > "+pidFile+"; echo started; wait", dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { p.Signal(syscall.SIGKILL) })
	var child int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && child > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, syscall.Kill(child, 0), "the child runs")
	p.Kill()
	assert.True(t, p.Exited())
	assert.Equal(t, "killed by SIGKILL", ExitText(p.Err()))
	assert.True(t, KilledBySignal(p.Err()))
	assert.Eventually(t, func() bool { return syscall.Kill(child, 0) != nil }, 10*time.Second, 10*time.Millisecond,
		"the wrapper's child %d outlived SIGKILL to the group", child)
	assert.Contains(t, p.Output(), "started")
}

func TestTerminate(t *testing.T) {
	p, err := Start("trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.05; done", "", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.Output(), "up") }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Terminate(10*time.Second))
	assert.Contains(t, p.Output(), "bye")

	stubborn, err := Start("trap '' TERM; echo up; while :; do sleep 0.05; done", "", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(stubborn.Output(), "up") }, 10*time.Second, 10*time.Millisecond)
	err = stubborn.Terminate(200 * time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not stop within 200ms of SIGTERM; killed")
	assert.ErrorIs(t, err, ErrStopTimeout)

	failing, err := Start("echo oops >&2; exit 3", "", nil)
	require.NoError(t, err)
	<-failing.Done()
	assert.Equal(t, "3", ExitText(failing.Err()))
	assert.False(t, KilledBySignal(failing.Err()))
	assert.Equal(t, "oops", failing.Output())
}

func TestOutputKeepsHeadAndTail(t *testing.T) {
	var o output
	_, _ = o.Write([]byte("HEAD"))
	chunk := strings.Repeat("x", 1024)
	for range 200 {
		_, _ = o.Write([]byte(chunk))
	}
	_, _ = o.Write([]byte("TAIL"))
	s := o.String()
	assert.True(t, strings.HasPrefix(s, "HEAD"))
	assert.True(t, strings.HasSuffix(s, "TAIL"))
	assert.Contains(t, s, "bytes not kept")
	assert.Less(t, len(s), 2*outputKeep+100)
}

func TestTailCutsAtALine(t *testing.T) {
	p, err := Start("printf 'first line\\nsecond line\\nthird\\n'", "", os.Environ())
	require.NoError(t, err)
	<-p.Done()
	assert.Equal(t, "…\nthird", p.Tail(10))
	assert.Equal(t, "first line\nsecond line\nthird", p.Tail(1000))
	q, err := Start("true", "", os.Environ())
	require.NoError(t, err)
	<-q.Done()
	assert.Equal(t, "(no output)", q.Tail(10))
}

func TestSimpleCommand(t *testing.T) {
	for cmd, want := range map[string]bool{
		"python3 consumer.py":                       true,
		"  /usr/bin/node examples/node/consumer.js": true,
		"FOO=1 ./myconsumer -mode exact":            true,
		"cd x && python3 c.py":                      false,
		"python3 c.py | tee log":                    false,
		"python3 c.py > log":                        false,
		"python3 c.py; echo done":                   false,
		"exec python3 c.py":                         false,
		"echo $(date)":                              false,
		"a\nb":                                      false,
		"":                                          false,
		"FOO=1":                                     false,
		"FOO=1 exec prog":                           false,
		"python3 -c 'print(1)'":                     false,
	} {
		assert.Equal(t, want, simpleCommand(cmd), "%q", cmd)
	}
	assert.Equal(t, "exec python3 consumer.py", execCommand("  python3   consumer.py "))
	assert.Equal(t, "FOO=1 B_2=x exec ./c -v", execCommand("FOO=1 B_2=x ./c -v"))
}

// Variable assignments before a simple command reach the program, which
// replaces the shell.
func TestStartSimpleCommandWithAssignments(t *testing.T) {
	p, err := Start("TICKFLOW_TEST_A=1 TICKFLOW_TEST_B=two env", "", os.Environ())
	require.NoError(t, err)
	<-p.Done()
	require.NoError(t, p.Err(), p.Output())
	assert.Contains(t, p.Output(), "TICKFLOW_TEST_A=1")
	assert.Contains(t, p.Output(), "TICKFLOW_TEST_B=two")
}

// A simple command that stops cleanly on SIGTERM exits 0: the shell handed
// over to it instead of dying of the signal sent to the group.
func TestTerminateSimpleCommandExitsClean(t *testing.T) {
	script := filepath.Join(t.TempDir(), "stops-cleanly.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\ntrap 'echo stopping; exit 0' TERM\necho ready\nwhile :; do sleep 0.05; done\n"), 0o755))
	p, err := Start(script, "", os.Environ())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.Output(), "ready") }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Terminate(10*time.Second))
	assert.NoError(t, p.Err(), "output: %s", p.Output())
	assert.Contains(t, p.Output(), "stopping")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
)

var snakeKey = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// assertSnakeKeys fails for any object key in the JSON document(s) that is
// not snake_case (docs/cli-conventions.md).
func assertSnakeKeys(t *testing.T, what string, data []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	n := 0
	for dec.More() {
		var v any
		require.NoError(t, dec.Decode(&v), "%s: not JSON: %s", what, data)
		var bad []string
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if !snakeKey.MatchString(k) {
						bad = append(bad, path+"."+k)
					}
					walk(path+"."+k, e)
				}
			case []any:
				for _, e := range x {
					walk(path+"[]", e)
				}
			}
		}
		walk(what, v)
		assert.Empty(t, bad, "JSON keys that are not snake_case")
		n++
	}
	assert.Positive(t, n, "%s printed no JSON", what)
}

func TestJSONKeysAreSnakeCase(t *testing.T) {
	out, _, msg, code := runCmdCtx(context.Background(), t, "verify", "--json", "--dir", filepath.Join(fixtureLakes, "good-json"))
	require.Equal(t, exitOK, code, msg)
	assertSnakeKeys(t, "verify --json", []byte(out))

	out, _, msg, code = runCmdCtx(context.Background(), t, "scenario", "list", "--json")
	require.Equal(t, exitOK, code, msg)
	assertSnakeKeys(t, "scenario list --json", []byte(out))

	w := harness.Start(t, harness.Partitions(2))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers := strings.Join(w.KafkaAddrs(), ",")
	out, _, msg, code = runCmdCtx(ctx, t, "produce", "--json", "--brokers", brokers, "--topic", w.Topic(), "--synthetic", "7")
	require.Equal(t, exitOK, code, msg)
	assertSnakeKeys(t, "produce --json", []byte(out))

	out, _, msg, code = runCmdCtx(ctx, t, "sink", "--json", "--brokers", brokers, "--topic", w.Topic(),
		"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey,
		"--until-idle", "2s", "--flush-interval", "100ms", "--session-timeout", "6s")
	require.Equal(t, exitOK, code, msg)
	assertSnakeKeys(t, "sink --json", []byte(out))
	var st struct {
		Consumed  int64            `json:"consumed"`
		Committed map[string]int64 `json:"committed"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.EqualValues(t, 7, st.Consumed)
	var committed int64
	for _, o := range st.Committed {
		committed += o
	}
	assert.EqualValues(t, 7, committed)
}

// Human output names counts in the right number and never shows Go syntax.
func TestHumanOutputOneVoice(t *testing.T) {
	assert.Equal(t, "1 record", plural(1, "record", ""))
	assert.Equal(t, "0 records", plural(int64(0), "record", ""))
	assert.Equal(t, "2 entries", plural(2, "entry", "entries"))
	assert.Equal(t, "0:14286 1:3 10:7", partitionOffsets(map[int32]int64{10: 7, 0: 14286, 1: 3}))
	assert.Equal(t, "none", partitionOffsets(nil))

	w := harness.Start(t, harness.Partitions(1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers := strings.Join(w.KafkaAddrs(), ",")
	out, _, msg, code := runCmdCtx(ctx, t, "produce", "--brokers", brokers, "--topic", w.Topic(), "--synthetic", "1")
	require.Equal(t, exitOK, code, msg)
	assert.Contains(t, out, "produced 1 record to "+w.Topic())
	out, _, msg, code = runCmdCtx(ctx, t, "sink", "--brokers", brokers, "--topic", w.Topic(),
		"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--access-key", broker.AccessKey, "--secret-key", broker.SecretKey,
		"--until-idle", "2s", "--flush-interval", "100ms", "--session-timeout", "6s")
	require.Equal(t, exitOK, code, msg)
	assert.Contains(t, out, "consumed 1 record, wrote 1 row in 1 object")
	assert.Contains(t, out, "committed offsets 0:1")
	assert.NotContains(t, out, "map[")
}

// Point 9: verify --help lists every rule it can report, and its hints name
// flags, not Go identifiers.
func TestVerifyHelpAndHintsSpeakCLI(t *testing.T) {
	out, _, msg, code := runCmdCtx(context.Background(), t, "verify", "--help")
	require.Equal(t, exitOK, code, msg)
	for _, r := range lake.Rules {
		assert.Contains(t, out, r.ID+" "+r.Name, "verify --help lacks rule %s", r.ID)
	}

	out, _, _, code = runCmdCtx(context.Background(), t, "verify", "--dir", filepath.Join(fixtureLakes, "bad-gap"))
	require.Equal(t, exitViolation, code)
	assert.Regexp(t, `--skipped-offsets \d+:\d+(-\d+)?`, out)
	assert.Contains(t, out, "--brokers")
	assert.Contains(t, out, "--production")
	for _, goName := range []string{"lake.SkippedOffsets", "production mode", "map["} {
		assert.NotContains(t, out, goName)
	}
}

// Point 13: errors name the flag, the value and the fix, never a Go package;
// DuckDB's multi-line SQL errors become one line plus the caret line.
func TestErrorsSpeakCLI(t *testing.T) {
	_, _, msg, code := runCmdCtx(context.Background(), t, "verify", "--dir", filepath.Join(t.TempDir(), "nope"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, msg, "--dir ")
	assert.Contains(t, msg, "no such folder; give the folder that holds stock_ticks/")
	assert.NotContains(t, msg, "objstore")

	_, _, msg, code = runCmdCtx(context.Background(), t, "query", "SELECT x FROM stock_ticks", "--dir", filepath.Join(fixtureLakes, "good-json"))
	require.Equal(t, exitUsage, code, msg)
	lines := strings.Split(msg, "\n")
	require.Len(t, lines, 2, "one line plus the caret line:\n%s", msg)
	assert.Contains(t, lines[0], `Referenced column "x" not found`)
	assert.True(t, strings.HasSuffix(lines[0], "SELECT x FROM stock_ticks"), lines[0])
	// The caret sits under the x once "tickflow: " is printed before the message.
	col := strings.Index(lines[1], "^")
	require.GreaterOrEqual(t, col, 0, lines[1])
	assert.Equal(t, "x", string(("tickflow: " + lines[0])[col]), "caret under the bad column:\ntickflow: %s\n%s", lines[0], lines[1])
}

func TestSQLErrorLines(t *testing.T) {
	in := "query: Parser Error: syntax error at or near \"FORM\"\n\nLINE 1: SELECT * FORM t\n                 ^"
	got := sqlErrorLines(in, 0)
	assert.Equal(t, "query: Parser Error: syntax error at or near \"FORM\" (line 1): SELECT * FORM t\n"+
		strings.Repeat(" ", len("query: Parser Error: syntax error at or near \"FORM\" (line 1): SELECT * "))+"^", got)
	assert.Equal(t, "query: no such table", sqlErrorLines("query: no such table", 10))
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// Point 13: unreachable endpoints are named by their flag, without package
// prefixes or SDK dumps.
func TestUnreachableEndpointsSpeakCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := closedAddr(t)
	_, _, msg, code := runCmdCtx(ctx, t, "produce", "--brokers", addr, "--synthetic", "1")
	assert.Equal(t, exitUsage, code)
	assert.True(t, strings.HasPrefix(msg, "--brokers "+addr+": no Kafka broker reachable"), msg)
	assert.NotContains(t, msg, "produce: ")

	for _, args := range [][]string{
		{"sink", "--brokers", addr, "--bucket", "tickflow-lake"},
		{"verify", "--bucket", "tickflow-lake"},
	} {
		_, _, msg, code = runCmdCtx(ctx, t, append(args, "--s3-endpoint", "http://"+addr, "--access-key", "k", "--secret-key", "s")...)
		assert.Equal(t, exitUsage, code, msg)
		assert.Equal(t, "--s3-endpoint http://"+addr+": connection refused; check that an S3 server listens there (tickflow serve prints its endpoint)", msg)
	}
}

// Point 10: scripts in the docs run the built binary; `go run` does not pass
// SIGTERM to the program it starts, so a `kill` would leave serve running.
func TestDocsRunTheBuiltBinary(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	docs = append(docs, "../../README.md")
	require.Greater(t, len(docs), 2)
	for _, p := range docs {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "go run ./cmd/tickflow") && !strings.Contains(line, "go run ./cmd/tickflow demo") {
				t.Errorf("%s:%d runs a long-lived command through go run; use bin/tickflow (make build): %s", p, i+1, line)
			}
		}
	}
}

package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness"
)

const dirtyTSV = "../../testdata/indexData-GSPTSE-raw.tsv"

// Point 15: repeated problems print a few lines and a count per kind.
func TestProduceSummarisesRepeatedBadRows(t *testing.T) {
	w := harness.Start(t, harness.Partitions(1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, stderr, msg, code := runCmdCtx(ctx, t, "produce", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--topic", w.Topic(), "--csv", dirtyTSV)
	require.Equal(t, exitOK, code, msg)
	m := regexp.MustCompile(`skipped (\d+) bad rows`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	skipped, _ := strconv.Atoi(m[1])
	require.Greater(t, skipped, 10, "the sample has many null rows")

	full := strings.Count(stderr, `skipped: indexData-GSPTSE-raw.tsv:`)
	assert.LessOrEqual(t, full, 2*badRowsShown, "rows printed in full:\n%s", stderr)
	assert.Contains(t, stderr, "skipped "+m[1]+" bad rows in all:")
	sum := regexp.MustCompile(`(?m)^  (\d+) rows: column Open is "null" \(indexData-GSPTSE-raw.tsv:\d+`).FindStringSubmatch(stderr)
	require.NotNil(t, sum, stderr)
	n, _ := strconv.Atoi(sum[1])
	assert.Greater(t, n, badRowsShown)
	assert.LessOrEqual(t, n, skipped)
	assert.Less(t, strings.Count(stderr, "\n"), 15, "the summary is short:\n%s", stderr)
}

// Point 15: --strict says how many good rows went before the bad one.
func TestProduceStrictCountsRowsSent(t *testing.T) {
	w := harness.Start(t, harness.Partitions(1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _, msg, code := runCmdCtx(ctx, t, "produce", "--strict", "--brokers", strings.Join(w.KafkaAddrs(), ","), "--topic", w.Topic(), "--csv", dirtyTSV)
	require.Equal(t, exitUsage, code, msg)
	m := regexp.MustCompile(`produced (\d+) (records?)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.NotEqual(t, "0", m[1], "the sample starts with good rows")
	rows := " good rows"
	if m[1] == "1" {
		rows = " good row"
	}
	assert.Contains(t, msg, m[1]+rows+" before it already sent to "+w.Topic())
	assert.Contains(t, msg, "indexData-GSPTSE-raw.tsv:")
	assert.NotContains(t, msg, "produce: ")
}

// Point 13: bad flag values name the flag.
func TestProduceFlagErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--synthetic", "-1"}, "--synthetic -1"},
		{[]string{"--rate", "-2"}, "--rate -2"},
		{[]string{"--speedup", "-3"}, "--speedup -3"},
		{[]string{"--csv", dir}, "--csv " + dir + ": is a directory"},
	} {
		_, _, msg, code := runCmdCtx(context.Background(), t, append([]string{"produce", "--brokers", "127.0.0.1:1"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, msg)
		assert.Contains(t, msg, tc.want)
	}
}

// Point 12: a paced produce prints progress lines when stderr is not a
// terminal, and Ctrl-C ends either pacing mode with one summary line.
func TestProducePacedProgressAndInterrupt(t *testing.T) {
	old := produceProgressEvery
	produceProgressEvery = 20 * time.Millisecond
	t.Cleanup(func() { produceProgressEvery = old })
	w := harness.Start(t, harness.Partitions(1))
	brokers := strings.Join(w.KafkaAddrs(), ",")
	for name, pacing := range map[string][]string{
		"rate":    {"--rate", "5", "--synthetic", "1000"},
		"speedup": {"--speedup", "1"}, // the HSI sample: the second tick is due a day later
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- runDemoCmd(ctx, t, &stdout, &stderr, append([]string{"produce", "--brokers", brokers, "--topic", w.Topic()}, pacing...)...)
			}()
			deadline := time.After(time.Minute)
			for !regexp.MustCompile(`tickflow produce: [1-9][0-9,]* (of [0-9,]+ )?records acknowledged`).MatchString(stderr.String()) {
				select {
				case code := <-done:
					require.FailNow(t, "produce ended early", "exit %d\n%s", code, stderr.String())
				case <-deadline:
					require.FailNow(t, "no progress line", stderr.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
			cancel() // Ctrl-C
			code := <-done
			assert.Equal(t, exitInterrupted, code)
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			require.Len(t, lines, 1, stdout.String())
			assert.Regexp(t, `^interrupted: produced [1-9]\d* records? to `+w.Topic()+`, skipped 0 bad rows$`, lines[0])
			assert.Contains(t, stderr.String(), errSummaryPrinted.Error(), "the exit error is the silent one")
		})
	}
}

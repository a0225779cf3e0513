package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness"
)

// A running sink is never silent: progress lines on stderr (plain lines when
// stderr is not a terminal) with records, rows, objects, partitions and lag.
func TestSinkShowsProgress(t *testing.T) {
	old := sinkProgressEvery
	sinkProgressEvery = 50 * time.Millisecond
	t.Cleanup(func() { sinkProgressEvery = old })
	w := harness.Start(t, harness.Partitions(2))
	produced := w.ProduceSynthetic(t, 500, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, msg, code := runCmdCtx(ctx, t, "sink", "--brokers", strings.Join(w.KafkaAddrs(), ","),
		"--s3-endpoint", w.S3Endpoint(), "--bucket", w.Bucket(), "--topic", w.Topic(), "--group", "progress-test",
		"--flush-interval", "200ms", "--until-idle", "500ms", "--json")
	require.Equal(t, exitOK, code, "%s\n%s", msg, stderr)
	assert.Regexp(t, `tickflow sink: [0-9,]+ records? consumed, [0-9,]+ rows? written in [0-9,]+ objects?, [0-9] partitions? owned, lag [0-9,]+`, stderr)
	assert.Contains(t, out, `"consumed":`+strconv.Itoa(len(produced)))
}

package scenarios

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

func runTimeoutRetries(t *testing.T, h *hooks) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := testConfig(t)
	cfg.hooks = h
	res := Run(ctx, "produce-timeout-retries", cfg)
	t.Logf("%s: %s notes=%v failures=%v", res.Scenario, res.Status(), res.Notes, res.Failures)
	require.Empty(t, res.Error)
	return res
}

// The scenario reports both runs: the idempotent one without duplicates,
// the other with, counted from the log.
func TestProduceTimeoutRetriesReportsBothRuns(t *testing.T) {
	t.Parallel()
	res := runTimeoutRetries(t, nil)
	require.True(t, res.Pass, "%v", res.Failures)
	require.Len(t, res.ProducerRuns, 2)
	idem, unsafe := res.ProducerRuns[0], res.ProducerRuns[1]
	assert.True(t, idem.Idempotent)
	assert.False(t, unsafe.Idempotent)
	for _, r := range res.ProducerRuns {
		assert.Positive(t, r.FaultHits)
		assert.Zero(t, r.Lost)
		assert.Equal(t, r.Acknowledged, r.Distinct)
		assert.Equal(t, r.Distinct+r.Duplicated, r.InLog)
	}
	assert.Zero(t, idem.Duplicated)
	assert.Positive(t, unsafe.Duplicated)
	assert.NotEmpty(t, unsafe.DuplicateExamples)
	assert.Zero(t, res.Duplicated, "only the idempotent run's duplicates count against the scenario")
}

// It fails if idempotence stops preventing duplicates...
func TestProduceTimeoutRetriesFailsWithoutIdempotence(t *testing.T) {
	t.Parallel()
	res := runTimeoutRetries(t, &hooks{noIdempotence: true})
	assert.False(t, res.Pass)
	assert.Positive(t, res.Duplicated)
	assert.True(t, anyContains(res.Failures, "idempotent producer: "), "%v", res.Failures)
}

// ...and if the fault stops producing duplicates without it: a fault that
// refuses before the append shows nothing.
func TestProduceTimeoutRetriesFailsWhenTheFaultDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	res := runTimeoutRetries(t, &hooks{produceFault: func(e *env) *broker.Fault {
		return e.coord.FailKafka(kmsg.Produce, kerr.NotLeaderForPartition, 1)
	}})
	assert.False(t, res.Pass)
	assert.True(t, anyContains(res.Failures, "producer without idempotence: no duplicates"), "%v", res.Failures)
}

// The judgement itself: lost acknowledged records fail either run.
func TestJudgeTimeoutRetries(t *testing.T) {
	ok := []ProducerRun{{Name: "idempotent", Acknowledged: 10, Distinct: 10}, {Name: "not idempotent", Acknowledged: 10, Distinct: 10, Duplicated: 3}}
	assert.False(t, judgeTimeoutRetries(ok).failed)
	lost := []ProducerRun{ok[0], ok[1]}
	lost[1].Lost = 2
	c := judgeTimeoutRetries(lost)
	assert.True(t, c.failed)
	assert.Contains(t, c.failures[0], "2 acknowledged records are not in the log")
}

// A user's consumer cannot run it: it runs no consumer.
func TestProduceTimeoutRetriesRefusesAConsumer(t *testing.T) {
	res := Run(context.Background(), "produce-timeout-retries", Config{Consumer: &Consumer{Command: "true"}})
	assert.Contains(t, res.Error, "judges the producer")
	s, err := Lookup("produce-timeout-retries")
	require.NoError(t, err)
	assert.False(t, s.ForConsumer())
}

func anyContains(xs []string, sub string) bool {
	for _, x := range xs {
		if strings.Contains(x, sub) {
			return true
		}
	}
	return false
}

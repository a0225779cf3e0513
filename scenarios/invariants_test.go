package scenarios

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

// TestBrokenSinkIsCaught proves the invariants can fail: with the sink's
// test-only commit-before-upload switch, a crash before the upload loses
// the committed range, and the scenario must report lost records.
func TestBrokenSinkIsCaught(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Lookup("sink-crash-mid-flush")
	require.NoError(t, err)
	cfg := testConfig(t)
	cfg.SinkOptions = append(cfg.SinkOptions, sink.UnsafeCommitBeforeUpload())
	res := s.Run(ctx, cfg)
	t.Logf("%s: lost=%d gaps=%d failures=%v notes=%v", res.Status(), res.Lost, res.Gaps, res.Failures, res.Notes)
	require.Empty(t, res.Error, "the scenario must run to its check")
	assert.False(t, res.Pass, "a sink that commits before uploading must fail the crash scenario")
	assert.Positive(t, res.Lost, "lost records must be detected")
	assert.Positive(t, res.Gaps, "offset gaps must be detected")
	// What a user sees: the failure, its seed and the command replaying it.
	var b strings.Builder
	require.NoError(t, WriteTable(&b, []Result{res}))
	assert.Contains(t, b.String(), "FAIL sink-crash-mid-flush (seed 1; replay: tickflow scenario run sink-crash-mid-flush --seed 1")
	assert.Contains(t, b.String(), "0 of 1 scenarios passed")
	assert.Contains(t, res.Line(), "(replay: --seed 1)")
}

// TestInvariantsCatchTampering runs a clean pipeline, damages the lake or
// the group in one way per case, and checks that verify reports exactly
// that kind of problem.
func TestInvariantsCatchTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, ctx context.Context, e *env)
		check  func(t *testing.T, c counts)
		want   string // substring of a failure
	}{
		{"untouched lake passes", func(*testing.T, context.Context, *env) {},
			func(t *testing.T, c counts) { assert.False(t, c.failed, "%v", c.failures) }, ""},
		{"deleted object is lost records and a gap", func(t *testing.T, ctx context.Context, e *env) {
			objs, err := e.check.List(ctx, tick.Table+"/")
			require.NoError(t, err)
			require.NotEmpty(t, objs)
			require.NoError(t, e.check.Delete(ctx, objs[len(objs)/2].Key))
		}, func(t *testing.T, c counts) {
			assert.Positive(t, c.lost)
			assert.Positive(t, c.gaps)
		}, "not in the lake"},
		{"copied object is duplicates and an overlap", func(t *testing.T, ctx context.Context, e *env) {
			objs, err := e.check.List(ctx, tick.Table+"/")
			require.NoError(t, err)
			src := objs[len(objs)/2].Key
			body, obj, err := e.check.Get(ctx, src)
			require.NoError(t, err)
			_, p, start, ok := sink.ParseObjectName(src)
			require.True(t, ok)
			// Same rows, a start offset one later: a second writer's cut.
			meta := map[string]string{}
			for k, v := range obj.Metadata {
				meta[k] = v
			}
			meta[sink.MetaStartOffset] = strconv.FormatInt(start+1, 10)
			dst := src[:strings.LastIndexByte(src, '/')+1] + e.topic + "+" + strconv.Itoa(int(p)) + "+" + padOffset(start+1) + ".parquet"
			require.NoError(t, e.check.Put(ctx, dst, body, meta))
		}, func(t *testing.T, c counts) {
			assert.Positive(t, c.duplicated)
			assert.Positive(t, c.overlaps)
		}, "duplicates"},
		{"rewound commit", func(t *testing.T, ctx context.Context, e *env) {
			var offs kadm.Offsets
			offs.Add(kadm.Offset{Topic: e.topic, Partition: 0, At: 1, LeaderEpoch: -1})
			resp, err := e.adm.CommitOffsets(ctx, e.group, offs)
			require.NoError(t, err)
			require.NoError(t, resp.Error())
		}, func(t *testing.T, c counts) { assert.True(t, c.failed) }, "committed offset 1"},
		{"commit ahead of the lake", func(t *testing.T, ctx context.Context, e *env) {
			ends, err := e.adm.ListEndOffsets(ctx, e.topic)
			require.NoError(t, err)
			end, ok := ends.Lookup(e.topic, 0)
			require.True(t, ok)
			var offs kadm.Offsets
			offs.Add(kadm.Offset{Topic: e.topic, Partition: 0, At: end.Offset + 3, LeaderEpoch: -1})
			resp, err := e.adm.CommitOffsets(ctx, e.group, offs)
			require.NoError(t, err)
			require.NoError(t, resp.Error())
		}, func(t *testing.T, c counts) { assert.True(t, c.failed) }, "but its last object ends at"},
		{"missing dead letter", func(t *testing.T, ctx context.Context, e *env) {
			e.poison[partOff{0, 0}] = true // claims offset 0 was poison
		}, func(t *testing.T, c counts) { assert.Equal(t, int64(1), c.poison) }, "is not in stock-ticks.dlq"},
		{"record never produced", func(t *testing.T, ctx context.Context, e *env) {
			delete(e.expected, 7)
		}, func(t *testing.T, c counts) { assert.True(t, c.failed) }, "never produced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			e, err := newEnv(ctx, Config{Seed: 3}, "tamper", 0, envOptions{})
			require.NoError(t, err)
			t.Cleanup(e.close)
			require.NoError(t, e.pipeline(ctx, 600, loadOptions{}, nil))
			tc.tamper(t, ctx, e)
			c, err := e.verify(ctx)
			require.NoError(t, err)
			tc.check(t, c)
			if tc.want != "" {
				assert.True(t, c.failed)
				assert.Contains(t, strings.Join(c.failures, "\n"), tc.want)
			}
		})
	}
}

func padOffset(o int64) string {
	s := strconv.FormatInt(o, 10)
	return strings.Repeat("0", 20-len(s)) + s
}

func TestLookup(t *testing.T) {
	names := Names()
	require.GreaterOrEqual(t, len(names), 14)
	for _, n := range names {
		s, err := Lookup(n)
		require.NoError(t, err)
		assert.Equal(t, n, s.Name)
		assert.NotEmpty(t, s.Description)
		assert.Regexp(t, `^[a-z0-9]+(-[a-z0-9]+)*$`, n, "names are kebab-case")
		assert.GreaterOrEqual(t, s.Iterations(true), s.Iterations(false))
	}
	_, err := Lookup("no-such-scenario")
	require.ErrorIs(t, err, ErrUnknown)
	assert.Contains(t, err.Error(), "happy-path", "the error lists the valid names")

	res := Run(context.Background(), "no-such-scenario", Config{Seed: 5})
	assert.False(t, res.Pass)
	assert.Equal(t, "ERROR", res.Status())
	assert.Equal(t, int64(5), res.Seed)

	_, err = RunAll(context.Background(), []string{"happy-path", "nope"}, Config{}, nil, nil)
	require.ErrorIs(t, err, ErrUnknown, "unknown names are refused before anything runs")
}

// A scenario whose world cannot start (here: ctx already cancelled) is an
// error, never a pass.
func TestPreconditionIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, "happy-path", Config{Seed: 9})
	assert.False(t, res.Pass)
	assert.Equal(t, "ERROR", res.Status())
	assert.Contains(t, res.Error, ErrPrecondition.Error())
}

// TestLatePutWithoutConditionalWritesIsCaught proves the two-owner
// invariants can fail: with plain PUTs (no If-None-Match) a PUT held at a
// proxy past its writer's death lands after the next owner wrote the same
// key with another cut, and the checker must see the overlap.
func TestLatePutWithoutConditionalWritesIsCaught(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.TickflowBin = tickflowBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, err := newEnv(ctx, cfg, "hung-put-unsafe", 0, envOptions{})
	require.NoError(t, err)
	defer e.close()
	unsafe := "--unsafe-unconditional-put"
	// The first sink cuts every 50 records (the load is there before it
	// starts), the next one every 7: the late object overlaps.
	err = e.hungPutWith(ctx, 12*time.Second,
		[]string{"--flush-records", "50", "--flush-interval", "1h", unsafe}, []string{"--flush-records", "7", unsafe}, true)
	require.NoError(t, err)
	c, err := e.verify(ctx)
	require.NoError(t, err)
	t.Logf("lost=%d duplicated=%d overlaps=%d gaps=%d notes=%v failures=%v", c.lost, c.duplicated, c.overlaps, c.gaps, e.notes, c.failures)
	assert.True(t, c.failed, "a late unconditional PUT must break the lake and be caught")
	assert.Positive(t, c.overlaps+c.gaps, "the overwritten object's range no longer tiles")
}

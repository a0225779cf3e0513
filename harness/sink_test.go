package harness_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/sink"
	"github.com/tickflow/tickflow/harness/tick"
)

func rowsOf(t testing.TB, ps []harness.Produced) []tick.Row {
	rows := make([]tick.Row, len(ps))
	for i, p := range ps {
		r, err := p.Row()
		require.NoError(t, err)
		rows[i] = r
	}
	return rows
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format sink.Format
		sinks  int
	}{
		{"parquet one sink", sink.Parquet, 1},
		{"json two sinks", sink.JSON, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := harness.Start(t)
			sample := w.ProduceSample(t)
			require.Greater(t, len(sample), 5000)
			produced := append(sample, w.ProduceSynthetic(t, 500, 7)...)
			for range tc.sinks {
				w.StartSink(t, sink.WithFormat(tc.format))
			}
			w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)

			l := w.Lake(t)
			l.RequireComplete(produced)
			rep := l.RequireContractClean(lake.ExpectRecords(int64(len(produced))))
			assert.Equal(t, string(tc.format), rep.Format)
			l.RequireRows(rowsOf(t, produced))
		})
	}
}

func TestProduceAndReadTopic(t *testing.T) {
	t.Parallel()
	w := harness.Start(t, harness.Partitions(3))
	ticks := harness.SyntheticTicks(t, 100, 1)
	require.Len(t, ticks, 100)
	produced := w.Produce(t, ticks...)
	require.Len(t, produced, 100)
	offsets := map[int32]map[int64]bool{}
	for i, p := range produced {
		assert.Equal(t, ticks[i], p.Tick, "in the order given")
		assert.Equal(t, p.Tick.Symbol, p.Key, "keyed by symbol")
		if offsets[p.Partition] == nil {
			offsets[p.Partition] = map[int64]bool{}
		}
		assert.False(t, offsets[p.Partition][p.Offset], "offset %d/%d given twice", p.Partition, p.Offset)
		offsets[p.Partition][p.Offset] = true
	}
	assert.ElementsMatch(t, produced, w.ReadTopic(t), "ReadTopic returns what Produce wrote")
	assert.Equal(t, ticks, harness.SyntheticTicks(t, 100, 1), "deterministic for a seed")
}

func TestWaitCaughtUpReportsLaggingPartitions(t *testing.T) {
	t.Parallel()
	w := harness.Start(t, harness.Partitions(2))
	produced := w.Produce(t, harness.SyntheticTicks(t, 20, 3)...)
	ends := map[int32]int64{}
	for _, p := range produced {
		ends[p.Partition] = max(ends[p.Partition], p.Offset+1)
	}
	require.Len(t, ends, 2, "both partitions have records")

	// Group g commits partition 0 one short of its end and never commits 1.
	adm := kadm.NewClient(w.KafkaClient(t))
	var offs kadm.Offsets
	offs.AddOffset(w.Topic(), 0, ends[0]-1, -1)
	resp, err := adm.CommitOffsets(context.Background(), "g", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())

	r := run(t.Name(), func(rt testing.TB) { w.WaitCaughtUp(rt, "g", 300*time.Millisecond) })
	require.True(t, r.Failed())
	msg := r.Messages()
	assert.Contains(t, msg, `WaitCaughtUp("g")`)
	assert.Contains(t, msg, "stock-ticks/0 committed "+itoa(ends[0]-1)+" end "+itoa(ends[0]))
	assert.Contains(t, msg, "stock-ticks/1 committed -1 end "+itoa(ends[1]))

	r = run(t.Name(), func(rt testing.TB) { w.WaitCaughtUp(rt, "nobody", 100*time.Millisecond) })
	assert.Contains(t, r.Messages(), `no group "nobody"`)

	offs = kadm.Offsets{}
	offs.AddOffset(w.Topic(), 0, ends[0], -1)
	offs.AddOffset(w.Topic(), 1, ends[1], -1)
	resp, err = adm.CommitOffsets(context.Background(), "g", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	w.WaitCaughtUp(t, "g", 10*time.Second)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestLakeAssertionsReportProblems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := harness.Start(t, harness.Partitions(2))
	produced := w.ProduceSynthetic(t, 40, 5)
	s := w.StartSink(t, sink.WithFormat(sink.JSON))
	w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
	require.NoError(t, s.Stop())
	l := w.Lake(t)
	l.RequireComplete(produced)
	l.RequireContractClean()

	t.Run("missing", func(t *testing.T) {
		later := w.ProduceSynthetic(t, 3, 9) // after the sink stopped: never in the lake
		r := run(t.Name(), func(rt testing.TB) { w.Lake(rt).RequireComplete(append(produced, later...)) })
		require.True(t, r.Failed())
		msg := r.Messages()
		assert.Contains(t, msg, "3 missing, 0 duplicated, 0 differ")
		for _, p := range later {
			assert.Contains(t, msg, p.String())
		}
	})
	t.Run("differ", func(t *testing.T) {
		changed := append([]harness.Produced(nil), produced...)
		changed[0].Tick.Close += 1
		r := run(t.Name(), func(rt testing.TB) { w.Lake(rt).RequireComplete(changed) })
		assert.Contains(t, r.Messages(), "0 missing, 0 duplicated, 1 differ")
		r = run(t.Name(), func(rt testing.TB) { w.Lake(rt).RequireRows(rowsOf(t, changed)) })
		assert.Contains(t, r.Messages(), "1 missing, 1 unexpected")
	})
	t.Run("duplicated and contract", func(t *testing.T) {
		objs, err := w.Store().List(ctx, "stock_ticks/")
		require.NoError(t, err)
		require.NotEmpty(t, objs)
		body, obj, err := w.Store().Get(ctx, objs[0].Key)
		require.NoError(t, err)
		// A copy under another name: every row of that object twice, and
		// a second object starting at the same offset (rule L12).
		copyKey := strings.TrimSuffix(objs[0].Key, ".json") + "-copy.json"
		require.NoError(t, w.Store().Put(ctx, copyKey, body, obj.Metadata))
		r := run(t.Name(), func(rt testing.TB) { w.Lake(rt).RequireComplete(produced) })
		assert.Regexp(t, `0 missing, [1-9][0-9]* duplicated`, r.Messages())
		assert.Contains(t, r.Messages(), "×2")
		r = run(t.Name(), func(rt testing.TB) { w.Lake(rt).RequireContractClean() })
		require.True(t, r.Failed())
		assert.Contains(t, r.Messages(), "L12 deterministic-names")
		assert.Contains(t, r.Messages(), copyKey)
	})
}

func TestFaultsFailTheTest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		do   func(w *harness.World)
		want string
	}{
		{"stop the controller", func(w *harness.World) { w.Faults().StopBroker(2) }, "StopBroker(2)"},
		{"stop an unknown broker", func(w *harness.World) { w.Faults().StopBroker(9) }, "no broker with id 9"},
		{"restart a live broker", func(w *harness.World) { w.Faults().RestartBroker(0) }, "already up"},
		{"move to an unknown broker", func(w *harness.World) { w.Faults().MoveLeader("stock-ticks", 0, 7) }, "MoveLeader"},
		{"bad S3 fault", func(w *harness.World) { w.Faults().FailS3(broker.S3Fault{Op: "FROB"}) }, `Op "FROB" is unknown`},
		{"produce fault before the append", func(w *harness.World) { w.Faults().FailProduceAfterAppend(kerr.NotLeaderForPartition, 1) }, "not one a broker answers after an append"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t.Name(), func(rt testing.TB) { tc.do(harness.Start(rt)) })
			assert.True(t, r.Failed())
			assert.Contains(t, r.Messages(), tc.want)
		})
	}
}

func TestSinkErrorReported(t *testing.T) {
	t.Parallel()
	crash := func(ev sink.HookEvent) error {
		if ev.Point == sink.AfterUpload {
			return errors.New("simulated crash after upload")
		}
		return nil
	}
	// A test that calls Stop sees the error and owns it.
	w := harness.Start(t, harness.Partitions(1))
	w.ProduceSynthetic(t, 10, 1)
	s := w.StartSink(t, sink.Hook(crash))
	select {
	case <-s.Done():
	case <-time.After(time.Minute):
		t.Fatal("the sink did not stop after the hook's crash")
	}
	assert.ErrorContains(t, s.Stop(), "simulated crash after upload")

	// A test that never looks is failed at cleanup.
	r := run(t.Name(), func(rt testing.TB) {
		w := harness.Start(rt, harness.Partitions(1))
		w.ProduceSynthetic(rt, 10, 1)
		s := w.StartSink(rt, sink.Hook(crash))
		select {
		case <-s.Done():
		case <-time.After(time.Minute):
		}
	})
	assert.True(t, r.Failed())
	assert.Contains(t, r.Messages(), "harness: sink stopped with an error")
}

// TestPartialTicks: ticks without some values, produced through the harness
// (tick.Marshal writes their NULLs as null), land with those columns NULL in
// both formats; the lake is contract-clean and holds exactly the rows.
func TestPartialTicks(t *testing.T) {
	t.Parallel()
	for _, format := range []sink.Format{sink.Parquet, sink.JSON} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			// One partition and one hour: one object, whose full tick gives a
			// crawler sampling a JSON file a value in every column (a JSON file
			// with a column null on every line is typed string by a crawler:
			// C01, see docs/lake-contract.md).
			w := harness.Start(t, harness.Partitions(1))
			ticks := []tick.Tick{
				{Symbol: "HSI", TradeDate: "2010-01-11", Close: 22411.5, Null: tick.AllValues &^ tick.NullClose},
				{Symbol: "HSI", TradeDate: "2010-01-12", Open: 1, High: 2, Low: 0.5, Close: 1.5, AdjClose: 1.5, Volume: 0, CloseUSD: 0.2},
				{Symbol: "NYA", TradeDate: "2010-01-12", Open: 0, Close: 7, Volume: 5, Null: tick.NullHigh | tick.NullLow | tick.NullAdjClose | tick.NullCloseUSD},
			}
			produced := w.Produce(t, ticks...)
			w.StartSink(t, sink.WithFormat(format))
			w.WaitCaughtUp(t, harness.SinkGroup, time.Minute)
			l := w.Lake(t)
			l.RequireContractClean(lake.ExpectRecords(int64(len(produced))))
			l.RequireRows(rowsOf(t, produced))
			nulls := 0
			for _, r := range l.Rows() {
				if r.Null != 0 {
					nulls++
				}
			}
			assert.Equal(t, 2, nulls, "rows with NULLs read back as such")
		})
	}
}

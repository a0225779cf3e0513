package sink

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

func TestEndToEndTwoConsumers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"parquet", nil},
		{"json.gz", []Option{WithFormat(JSON), Gzip()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 6)
			produced := produceTicks(t, w, true, 1400)
			opts := append([]Option{FlushRecords(500)}, tc.opts...)
			a, stopA := runSink(t, w, opts...)
			b, stopB := runSink(t, w, opts...)
			waitWritten(t, produced, a, b)
			require.NoError(t, stopA())
			require.NoError(t, stopB())
			objs := readLake(t, w.store)
			requireExactlyOnce(t, objs, produced)
			assert.Equal(t, a.Stats().Objects+b.Stats().Objects >= int64(len(objs)), true)
			ext := Extension(Parquet, false)
			if tc.opts != nil {
				ext = "json.gz"
			}
			for _, o := range objs {
				assert.Contains(t, o.key, "."+ext)
			}
		})
	}
}

func TestCommitAfterUpload(t *testing.T) {
	w := newWorld(t, 3)
	produced := produceTicks(t, w, false, 700)
	var mu sync.Mutex
	var events []HookEvent
	hook := Hook(func(ev HookEvent) error {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		return nil
	})
	s, stop := runSink(t, w, FlushRecords(100), hook)
	waitWritten(t, produced, s)
	require.NoError(t, stop())
	mu.Lock()
	defer mu.Unlock()
	uploaded := map[[2]int64]bool{} // (partition, end) of uploaded objects
	commits := 0
	for _, ev := range events {
		switch ev.Point {
		case AfterUpload:
			uploaded[[2]int64{int64(ev.Partition), ev.End}] = true
		case AfterCommit:
			commits++
			assert.True(t, uploaded[[2]int64{int64(ev.Partition), ev.End}], "commit of %d@%d before its object was uploaded", ev.Partition, ev.End)
		}
	}
	assert.Positive(t, commits)
	st := s.Stats()
	for p, off := range st.Committed {
		assert.True(t, uploaded[[2]int64{int64(p), off}], "committed %d@%d", p, off)
	}
}

// errCrash is what a test hook returns to kill a sink at a chosen point.
var errCrash = errors.New("crash injected by test")

func TestCrashBetweenUploadAndCommit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		unsafe   bool
		point    HookPoint
		wantLoss bool
	}{
		{"after upload before commit", false, AfterUpload, false},
		{"before upload", false, BeforeUpload, false},
		{"unsafe commit-before-upload loses data", true, BeforeUpload, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 1)
			produced := produceTicks(t, w, true, 0) // one partition, ~5.7k records
			var hits atomic.Int32
			crash := Hook(func(ev HookEvent) error {
				// Let two objects through, crash at the third.
				if ev.Point == tc.point && hits.Add(1) == 3 {
					return errCrash
				}
				return nil
			})
			opts := []Option{FlushRecords(300), crash}
			if tc.unsafe {
				opts = append(opts, UnsafeCommitBeforeUpload())
			}
			_, stopA := runSink(t, w, opts...)
			require.Eventually(t, func() bool { return hits.Load() >= 3 }, 30*time.Second, 10*time.Millisecond)
			require.ErrorIs(t, stopA(), errCrash)

			// A second member with a different cut picks the partition up.
			b, stopB := runSink(t, w, FlushRecords(700))
			if tc.wantLoss {
				require.Eventually(t, func() bool { return b.Stats().Committed[0] == produced }, 30*time.Second, 10*time.Millisecond)
				require.NoError(t, stopB())
				var n int64
				for _, o := range readLake(t, w.store) {
					n += int64(len(o.rows))
				}
				assert.Less(t, n, produced, "committing before upload must lose the crashed range")
				return
			}
			require.Eventually(t, func() bool { return b.Stats().Committed[0] == produced }, 30*time.Second, 10*time.Millisecond)
			require.NoError(t, stopB())
			requireExactlyOnce(t, readLake(t, w.store), produced)
		})
	}
}

// failingStore fails the first n Puts (or all when n < 0).
type failingStore struct {
	objstore.Store
	always bool
	n      atomic.Int64
	puts   atomic.Int64
}

func (f *failingStore) Put(ctx context.Context, key string, body []byte, meta map[string]string) error {
	f.puts.Add(1)
	if f.always || f.n.Add(-1) >= 0 {
		return errors.New("SlowDown: injected")
	}
	return f.Store.Put(ctx, key, body, meta)
}

func (f *failingStore) PutIfAbsent(ctx context.Context, key string, body []byte, meta map[string]string) error {
	f.puts.Add(1)
	if f.always || f.n.Add(-1) >= 0 {
		return errors.New("SlowDown: injected")
	}
	return f.Store.PutIfAbsent(ctx, key, body, meta)
}

func TestS3Retry(t *testing.T) {
	t.Run("transient failures are retried", func(t *testing.T) {
		w := newWorld(t, 2)
		produced := produceTicks(t, w, false, 300)
		fs := &failingStore{Store: w.store}
		fs.n.Store(5)
		w.store = fs
		s, stop := runSink(t, w, Retry(10, time.Millisecond, 10*time.Millisecond))
		waitWritten(t, produced, s)
		require.NoError(t, stop())
		assert.GreaterOrEqual(t, s.Stats().Retries, int64(5))
		requireExactlyOnce(t, readLake(t, fs.Store), produced)
	})
	t.Run("persistent failure names the key and commits nothing", func(t *testing.T) {
		w := newWorld(t, 1)
		produceTicks(t, w, false, 50)
		fs := &failingStore{Store: w.store, always: true}
		w.store = fs
		s, err := New(context.Background(), w.brokers, fs, KafkaOptions(fastKafka...), FlushInterval(50*time.Millisecond), Retry(3, time.Millisecond, 5*time.Millisecond))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = s.Run(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "stock_ticks/dt=")
		assert.Contains(t, err.Error(), "after 3 attempts")
		assert.Equal(t, int64(3), fs.puts.Load())
		for _, off := range s.Stats().Committed {
			assert.Zero(t, off, "only the fence (start offset 0) may be committed")
		}
	})
}

func TestDeadLetters(t *testing.T) {
	w := newWorld(t, 1)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(tick.DefaultTopic))
	require.NoError(t, err)
	defer cl.Close()
	good := `{"symbol":"HSI","trade_date":"2010-01-04","open":1,"high":2,"low":0.5,"close":1.5,"adj_close":1.5,"volume":3,"close_usd":0.2}`
	values := []string{
		good, "not json", good, `{"symbol":"HSI","trade_date":"04/01/2010"}`, `{"trade_date":"2010-01-04"}`,
		`{"symbol":"HSI","trade_date":"2010-01-04","volume":1.5}`, good, "{}",
	}
	poison := map[int64]bool{1: true, 3: true, 4: true, 5: true, 7: true}
	for i, v := range values {
		r := &kgo.Record{Value: []byte(v), Timestamp: base.Add(time.Duration(i) * time.Second)}
		require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
	}
	s, stop := runSink(t, w)
	if !assert.Eventually(t, func() bool { return s.Stats().DLQ == int64(len(poison)) && s.Stats().Written == 3 }, 5*time.Second, 10*time.Millisecond) {
		t.Fatalf("%+v %v", s.Stats(), stop())
	}
	require.NoError(t, stop())
	objs := readLake(t, w.store)
	requireExactlyOnce(t, objs, 3)
	dlq := 0
	var end int64
	for _, o := range objs {
		dlq += o.dlq
		end = max(end, o.end)
	}
	// A trailing dead letter rides with the open segment: it is inside the
	// last range if it arrived before the flush, otherwise it waits for a row.
	require.True(t, end == 7 || end == 8, "end %d", end)
	inRange := 0
	for off := range poison {
		if off < end {
			inRange++
		}
	}
	assert.Equal(t, inRange, dlq, "every poison offset inside an object range is counted in its metadata")

	dc, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(tick.DefaultTopic+".dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer dc.Close()
	got := map[int64]map[string]string{}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(got) < len(poison) && cctx.Err() == nil {
		dc.PollFetches(cctx).EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			off, _ := strconv.ParseInt(h[HeaderOffset], 10, 64)
			got[off] = h
		})
	}
	require.Len(t, got, len(poison))
	for off, h := range got {
		assert.True(t, poison[off], "offset %d is not poison", off)
		assert.Equal(t, tick.DefaultTopic, h[HeaderTopic])
		assert.Equal(t, "0", h[HeaderPartition])
		assert.NotEmpty(t, h[HeaderError])
		assert.Equal(t, strconv.FormatInt(base.Add(time.Duration(off)*time.Second).UnixMilli(), 10), h[HeaderTimestamp])
	}
	assert.Contains(t, got[3][HeaderError], "trade_date")
	assert.Contains(t, got[4][HeaderError], "symbol")
}

func TestNewErrors(t *testing.T) {
	w := newWorld(t, 1)
	ctx := context.Background()
	_, err := New(ctx, nil, w.store)
	assert.ErrorContains(t, err, "no brokers")
	_, err = New(ctx, w.brokers, nil)
	assert.ErrorContains(t, err, "no object store")
	_, err = New(ctx, w.brokers, w.store, WithFormat("csv"))
	assert.ErrorContains(t, err, `unknown format "csv"`)
	_, err = New(ctx, []string{"127.0.0.1:1"}, w.store, func(c *config) { c.pingTimeout = time.Second })
	assert.ErrorContains(t, err, "no Kafka broker reachable at 127.0.0.1:1")
}

// TestDeadLettersOfOldRecords: a sink catching up on records older than
// kgo's delivery timeout must still dead-letter them. The dead letter is
// stamped with the time it was produced (kgo times a record out that long
// after its own timestamp); the source timestamp travels in a header.
func TestDeadLettersOfOldRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		age  time.Duration
	}{
		{"an hour old", time.Hour},
		{"two years old", 2 * 365 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 1)
			ctx := context.Background()
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(tick.DefaultTopic))
			require.NoError(t, err)
			defer cl.Close()
			old := time.Now().Add(-tc.age).Truncate(time.Millisecond)
			good := `{"symbol":"HSI","trade_date":"2010-01-04","close":1.5}`
			for i, v := range []string{good, "poison", good, "poison"} {
				r := &kgo.Record{Value: []byte(v), Timestamp: old.Add(time.Duration(i) * time.Millisecond)}
				require.NoError(t, cl.ProduceSync(ctx, r).FirstErr())
			}
			before := time.Now().Add(-time.Second)
			// A delivery timeout far shorter than the records' age.
			s, stop := runSink(t, w, KafkaOptions(kgo.RecordDeliveryTimeout(5*time.Second)))
			require.Eventually(t, func() bool { return s.Stats().DLQ == 2 && s.Stats().Written == 2 }, 20*time.Second, 10*time.Millisecond)
			require.NoError(t, stop(), "a dead letter of an old record must not time out")

			dc, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(tick.DefaultTopic+".dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			require.NoError(t, err)
			defer dc.Close()
			var got []*kgo.Record
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			for len(got) < 2 && cctx.Err() == nil {
				dc.PollFetches(cctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
			}
			require.Len(t, got, 2)
			for _, r := range got {
				assert.False(t, r.Timestamp.Before(before), "dead letter stamped %v, want the time it was produced", r.Timestamp)
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[kv.Key] = string(kv.Value)
				}
				off, err := strconv.ParseInt(h[HeaderOffset], 10, 64)
				require.NoError(t, err)
				assert.Equal(t, strconv.FormatInt(old.Add(time.Duration(off)*time.Millisecond).UnixMilli(), 10), h[HeaderTimestamp])
			}
		})
	}
}

// TestTrailingDeadLetters: dead letters at the end of a partition are
// committed (carried in the commit metadata) within FlushInterval, so the
// group's lag reaches 0; the next object is still named from the carried
// range's start and counts its dead letters, so the lake tiles.
func TestTrailingDeadLetters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool // a new member picks the partition up after the carry commit
		crash   bool // ...and the first new member dies before its upload
	}{
		{"same member", false, false},
		{"next member", true, false},
		{"next member crashes before upload", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 1)
			ctx := context.Background()
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(tick.DefaultTopic))
			require.NoError(t, err)
			defer cl.Close()
			good := `{"symbol":"HSI","trade_date":"2010-01-04","close":1.5}`
			send := func(values ...string) {
				for _, v := range values {
					require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Timestamp: base}).FirstErr())
				}
			}
			send(good, good, good) // offsets 0-2: the first object
			a, stopA := runSink(t, w)
			require.Eventually(t, func() bool { return a.Stats().Committed[0] == 3 }, 20*time.Second, 10*time.Millisecond)
			send("poison", "poison") // offsets 3-4: only dead letters after the last object
			require.Eventually(t, func() bool { return a.Stats().Committed[0] == 5 }, 20*time.Second, 10*time.Millisecond,
				"trailing dead letters must be committed")
			adm := kadm.NewClient(cl)
			offs, err := adm.FetchOffsets(ctx, "tickflow-sink")
			require.NoError(t, err)
			o, ok := offs.Lookup(tick.DefaultTopic, 0)
			require.True(t, ok)
			start, dlq, ok := ParseCarryMetadata(o.Metadata)
			require.True(t, ok, "commit metadata %q", o.Metadata)
			assert.Equal(t, int64(3), start)
			assert.Equal(t, 2, dlq)

			last := a
			if tc.restart {
				require.NoError(t, stopA())
			}
			send(good, "poison", good) // offsets 5, 7 rows, 6 a dead letter
			if tc.crash {
				b, stopB := runSink(t, w, Hook(func(ev HookEvent) error {
					if ev.Point == BeforeUpload {
						return errCrash
					}
					return nil
				}))
				require.Eventually(t, func() bool { return b.Stats().Consumed >= 3 }, 20*time.Second, 10*time.Millisecond)
				require.ErrorIs(t, stopB(), errCrash)
			}
			if tc.restart {
				last, _ = runSink(t, w)
			}
			require.Eventually(t, func() bool { return last.Stats().Committed[0] == 8 }, 20*time.Second, 10*time.Millisecond)
			objs := readLake(t, w.store)
			requireExactlyOnce(t, objs, 5)
			var ranges [][3]int64
			for _, o := range objs {
				ranges = append(ranges, [3]int64{o.start, o.end, int64(o.dlq)})
			}
			sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
			// The cut after offset 3 depends on timing (FlushInterval); the
			// object after the first must start at the carried range.
			require.GreaterOrEqual(t, len(ranges), 2, "objects %v", ranges)
			assert.Equal(t, [3]int64{0, 3, 0}, ranges[0], "objects [start, end, dlq]: %v", ranges)
			assert.Equal(t, int64(3), ranges[1][0], "the next object is named from the carried range: %v", ranges)
			assert.GreaterOrEqual(t, ranges[1][2], int64(2), "and counts its dead letters: %v", ranges)
			assert.Equal(t, int64(8), ranges[len(ranges)-1][1], "objects %v", ranges)
		})
	}
}

func TestCarryMetadata(t *testing.T) {
	for _, tc := range []struct {
		in    string
		start int64
		dlq   int
		ok    bool
	}{
		{CarryMetadata(12, 3), 12, 3, true},
		{"tickflow-next-start=0;tickflow-dlq=1", 0, 1, true},
		{"", 0, 0, false},
		{"kgo-member-id-123", 0, 0, false},
		{"tickflow-next-start=x;tickflow-dlq=1", 0, 0, false},
		{"tickflow-next-start=-1;tickflow-dlq=1", 0, 0, false},
		{"tickflow-dlq=1;tickflow-next-start=3", 0, 0, false},
	} {
		start, dlq, ok := ParseCarryMetadata(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		if tc.ok {
			assert.Equal(t, tc.start, start, tc.in)
			assert.Equal(t, tc.dlq, dlq, tc.in)
		}
	}
}

package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFailKafkaProduce(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		count    int
		retries  int   // kgo.RecordRetries; 0 = default
		wantErrs []int // indexes of the produce calls that must fail
	}{
		// Retriable: an idempotent producer retries through the faults.
		{name: "not leader x3, retried", err: kerr.NotLeaderForPartition, count: 3},
		// Not retriable: each of the next 2 produce calls fails, the third works.
		{name: "authorization x2", err: kerr.TopicAuthorizationFailed, count: 2, wantErrs: []int{0, 1}},
		// A non-kerr error becomes UNKNOWN_SERVER_ERROR; one try makes it fail the record.
		{name: "plain error becomes unknown server error", err: errors.New("boom"), count: 1, retries: 1, wantErrs: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorld(t, Brokers(2), Partitions(1))
			opts := []kgo.Opt{kgo.DefaultProduceTopic(DefaultTopic)}
			if tt.retries > 0 {
				opts = append(opts, kgo.RecordRetries(tt.retries))
			}
			cl := newClient(t, w, opts...)
			ctx := context.Background()
			// Warm up so the fault hits produce requests only.
			require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("warm")).FirstErr())

			f := w.Coordinator().FailKafka(kmsg.Produce, tt.err, tt.count)
			failed := map[int]bool{}
			for i := 0; i < 3; i++ {
				err := cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr()
				if err != nil {
					failed[i] = true
					var ke *kerr.Error
					require.ErrorAs(t, err, &ke)
					if want, ok := tt.err.(*kerr.Error); ok {
						assert.Equal(t, want, ke)
					} else {
						assert.Equal(t, kerr.UnknownServerError, ke)
					}
				}
			}
			want := map[int]bool{}
			for _, i := range tt.wantErrs {
				want[i] = true
			}
			assert.Equal(t, want, failed)
			assert.Equal(t, tt.count, f.Hits())

			// The fault is used up: later produce calls succeed.
			require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr())
			assert.Equal(t, tt.count, f.Hits())
		})
	}
}

func TestFailKafkaUntilRemoved(t *testing.T) {
	w := startWorld(t, Brokers(1), Partitions(1))
	cl := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic))
	ctx := context.Background()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("warm")).FirstErr())

	f := w.Coordinator().FailKafka(kmsg.Produce, kerr.TopicAuthorizationFailed, 0)
	for i := 0; i < 3; i++ {
		assert.ErrorIs(t, cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(), kerr.TopicAuthorizationFailed)
	}
	assert.Equal(t, 3, f.Hits())
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	require.NoError(t, f.Wait(wctx, 3))
	f.Remove()
	f.Remove() // idempotent
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr())
}

func TestDelayKafka(t *testing.T) {
	w := startWorld(t, Brokers(1), Partitions(1))
	cl := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic))
	ctx := context.Background()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("warm")).FirstErr())

	const d = 200 * time.Millisecond
	f := w.Coordinator().DelayKafka(kmsg.Produce, d)
	start := time.Now()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("slow")).FirstErr())
	assert.GreaterOrEqual(t, time.Since(start), d)
	assert.Equal(t, 1, f.Hits())

	// Other request kinds are not delayed (and not counted).
	_, err := w.Coordinator().Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, f.Hits())

	f.Remove()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("fast")).FirstErr())
	assert.Equal(t, 1, f.Hits())

	// A delay in progress is released by Close.
	stuck := w.Coordinator().DelayKafka(kmsg.Produce, time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cl.ProduceSync(pctx, kgo.StringRecord("stuck")).FirstErr() }()
	require.NoError(t, stuck.Wait(pctx, 1))
	require.NoError(t, w.Close())
	cl.Close()
	<-done // success or error both fine: it must not wait out the hour
	assert.NoError(t, pctx.Err(), "Close did not release the delayed request")
}

func TestWatchKafka(t *testing.T) {
	w := startWorld(t, Brokers(1), Partitions(1))
	cl := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic))
	ctx := context.Background()
	var seen []string // fn runs on the cluster loop, one request at a time
	var mu sync.Mutex
	stop := w.Coordinator().WatchKafka(kmsg.Produce, func(req kmsg.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range tp.Partitions {
				seen = append(seen, fmt.Sprintf("partition %d", p.Partition))
			}
		}
	})
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("watched")).FirstErr(), "a watch does not answer the request")
	mu.Lock()
	assert.Equal(t, []string{"partition 0"}, seen)
	mu.Unlock()
	stop()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("not watched")).FirstErr())
	mu.Lock()
	assert.Len(t, seen, 1, "no call after stop")
	mu.Unlock()
}

// endOffset is partition 0's end offset of topic.
func endOffset(t *testing.T, w *World, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := w.adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	o, ok := ends.Lookup(topic, 0)
	require.True(t, ok)
	require.NoError(t, o.Err)
	return o.Offset
}

// A Produce answered REQUEST_TIMED_OUT or NOT_ENOUGH_REPLICAS_AFTER_APPEND
// after the append: the client, told it failed, retries; without idempotence
// the retry is a second copy in the log (so the first attempt was appended),
// with idempotence the broker recognises it and the log has one copy.
func TestFailProduceAfterAppend(t *testing.T) {
	for _, ke := range []*kerr.Error{kerr.RequestTimedOut, kerr.NotEnoughReplicasAfterAppend} {
		for _, idem := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/idempotent=%v", ke.Message, idem), func(t *testing.T) {
				w := startWorld(t, Brokers(2), Partitions(1))
				opts := []kgo.Opt{kgo.DefaultProduceTopic(DefaultTopic), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond })}
				if !idem {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				cl := newClient(t, w, opts...)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("warm")).FirstErr())

				f := w.Coordinator().FailProduceAfterAppend(DefaultTopic, ke, 2)
				require.NoError(t, f.Err())
				res := cl.ProduceSync(ctx, kgo.StringRecord("once"))
				require.NoError(t, res.FirstErr(), "the client retried through the fault")
				assert.Equal(t, 2, f.Hits())
				want := int64(1 + 1 + 2) // warm, the record, two appended-then-failed attempts retried
				if idem {
					want = 1 + 1
				}
				assert.Equal(t, want, endOffset(t, w, DefaultTopic))

				// Used up: the next record is appended once.
				require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr())
				assert.Equal(t, want+1, endOffset(t, w, DefaultTopic))
				assert.Equal(t, 2, f.Hits())
			})
		}
	}
}

// Only the errors a broker gives after an append are accepted; another
// gives a handle whose Err says so and that faults nothing. A fault for
// another topic leaves this one alone.
func TestFailProduceAfterAppendRefusals(t *testing.T) {
	w := startWorld(t, Brokers(1), Partitions(1))
	f := w.Coordinator().FailProduceAfterAppend("", kerr.NotLeaderForPartition, 1)
	require.Error(t, f.Err())
	assert.Contains(t, f.Err().Error(), "kerr.RequestTimedOut or kerr.NotEnoughReplicasAfterAppend")
	other := w.Coordinator().FailProduceAfterAppend("other-topic", kerr.RequestTimedOut, 0)
	defer other.Remove()
	cl := newClient(t, w, kgo.DefaultProduceTopic(DefaultTopic), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr())
	assert.Equal(t, int64(1), endOffset(t, w, DefaultTopic))
	assert.Zero(t, f.Hits())
	assert.Zero(t, other.Hits())
}

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

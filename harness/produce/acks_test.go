package produce

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/tick"
)

// wireProduce is what a Produce request carried: its acks and whether its
// batches were idempotent (a producer id).
type wireProduce struct {
	acks       int16
	idempotent bool
}

// Acks and Idempotent reach the wire: the Produce requests carry the acks
// asked for, and a producer id only when idempotence is on.
func TestProduceAcksAndIdempotenceOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want wireProduce
	}{
		{"default", nil, wireProduce{-1, true}},
		{"acks=all", []Option{Acks(AcksAll)}, wireProduce{-1, true}},
		{"acks=all,idempotent=false", []Option{Idempotent(false)}, wireProduce{-1, false}},
		{"acks=1,idempotent=false", []Option{Acks(Acks1), Idempotent(false)}, wireProduce{1, false}},
		{"acks=0,idempotent=false", []Option{Acks(Acks0), Idempotent(false)}, wireProduce{0, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, tick.DefaultTopic))
			require.NoError(t, err)
			t.Cleanup(c.Close)
			var (
				mu   sync.Mutex
				seen []wireProduce
			)
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				r := req.(*kmsg.ProduceRequest)
				for _, tp := range r.Topics {
					for _, p := range tp.Partitions {
						var b kmsg.RecordBatch
						if b.ReadFrom(p.Records) == nil {
							mu.Lock()
							seen = append(seen, wireProduce{r.Acks, b.ProducerID >= 0})
							mu.Unlock()
						}
					}
				}
				return nil, nil, false
			})
			p, err := New(context.Background(), c.ListenAddrs(), append([]Option{testOpts()}, tc.opts...)...)
			require.NoError(t, err)
			defer p.Close()
			res, err := p.Produce(context.Background(), Synthetic(50, 1))
			require.NoError(t, err)
			assert.Equal(t, int64(50), res.Produced)
			if tc.want.acks == 0 {
				// Nothing answers acks=0: wait until the log has them all.
				require.Eventually(t, func() bool { return logSize(t, c.ListenAddrs()) == 50 }, 20*time.Second, 10*time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen)
			for _, s := range seen {
				assert.Equal(t, tc.want, s)
			}
		})
	}
}

// Idempotence needs acks=all: asking for both with acks 1 or 0 is refused
// before anything connects, and so is an unknown acks value.
func TestProduceAcksValidation(t *testing.T) {
	for _, a := range []string{Acks1, Acks0} {
		_, err := New(context.Background(), []string{"127.0.0.1:1"}, Acks(a))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "idempotent producer needs acks=all")
	}
	_, err := New(context.Background(), []string{"127.0.0.1:1"}, Acks("2"), Idempotent(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown acks "2"`)
}

// logSize is the number of records in the default topic (sum of end
// offsets).
func logSize(t *testing.T, brokers []string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, tick.DefaultTopic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// A Produce answered REQUEST_TIMED_OUT after the broker appended it is
// retried by the client: without idempotence the retry is appended again
// (duplicates), with it the broker recognises the retry (none).
func TestProduceIdempotenceAgainstTimeoutsAfterAppend(t *testing.T) {
	const n, faults = 300, 4
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, tick.DefaultTopic))
			require.NoError(t, err)
			t.Cleanup(c.Close)
			// kfake answers REQUEST_TIMED_OUT on Produce after the append.
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: faults})
			p, err := New(context.Background(), c.ListenAddrs(), testOpts(), Idempotent(idem))
			require.NoError(t, err)
			defer p.Close()
			res, err := p.Produce(context.Background(), Synthetic(n, 1))
			require.NoError(t, err)
			require.Equal(t, int64(n), res.Produced)
			require.Equal(t, faults, h.Hits())
			total := logSize(t, c.ListenAddrs())
			recs := consumeAll(t, c.ListenAddrs(), int(total))
			distinct := map[string]int{}
			for _, r := range recs {
				distinct[string(r.Value)]++
			}
			require.Len(t, distinct, n, "every record is in the log")
			dups := len(recs) - len(distinct)
			t.Logf("idempotent=%v: %d records in the log, %d duplicates after %d REQUEST_TIMED_OUT answers", idem, len(recs), dups, h.Hits())
			if idem {
				assert.Zero(t, dups)
			} else {
				assert.Positive(t, dups)
			}
		})
	}
}

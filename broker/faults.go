package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fault is a handle to an installed fault (Kafka or S3). Faults stay until
// Remove, until their count is used up, or until the world closes.
type Fault struct {
	hits   func() int
	remove func()
	once   sync.Once
	err    error
}

// Hits is how many requests the fault has answered (failed, delayed or hung)
// so far.
func (f *Fault) Hits() int {
	if f.hits == nil {
		return 0
	}
	return f.hits()
}

// Remove uninstalls the fault; requests it is delaying or hanging are
// released. Safe to call more than once.
func (f *Fault) Remove() {
	f.once.Do(func() {
		if f.remove != nil {
			f.remove()
		}
	})
}

// Err reports why the fault could not be installed (a bad S3Fault field);
// such a fault matches nothing. nil for a working fault.
func (f *Fault) Err() error { return f.err }

// Wait blocks until the fault has answered at least n requests or ctx is
// done (returning ctx's error).
func (f *Fault) Wait(ctx context.Context, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for f.Hits() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: fault answered %d of %d requests: %w", f.Hits(), n, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// FailKafka makes the next count requests with API key key fail with err,
// which should be a *kerr.Error (for example kerr.NotLeaderForPartition on
// kmsg.Produce, kerr.RebalanceInProgress on kmsg.OffsetCommit); any other
// error becomes UNKNOWN_SERVER_ERROR. count <= 0 means until Remove. Per-
// partition requests (Produce, Fetch, ...) fail per partition, like a real
// broker would answer. The request is refused before the broker acts on it,
// except for the errors a real broker gives after doing the work
// (REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND on Produce,
// REQUEST_TIMED_OUT on OffsetCommit and the admin requests): those are
// answered after it; FailProduceAfterAppend says so by name.
func (c *Coordinator) FailKafka(key kmsg.Key, err error, count int) *Fault {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		ke = kerr.UnknownServerError
	}
	if count <= 0 {
		count = -1
	}
	h := c.w.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{key}, Err: ke, Count: count})
	return &Fault{hits: h.Hits, remove: h.Remove}
}

// FailProduceAfterAppend makes the next count Produce requests (to topic,
// or to any topic when topic is "") be appended to the log as usual and then
// answered with err, which must be kerr.RequestTimedOut or
// kerr.NotEnoughReplicasAfterAppend: the records are in the log while the
// client is told they failed. A client that retries without idempotence
// appends them again (duplicates); an idempotent one is recognised by its
// producer id and sequence, answered with the original offset, and nothing
// is duplicated. count <= 0 means until Remove.
//
// Hits counts the requests answered with err. One sent to a broker that
// does not lead the partition is answered with err too, without an append
// (a real broker would say NOT_LEADER_FOR_PARTITION). With acks=0 nothing
// is answered at all, so the fault changes nothing the client sees. Any
// other err gives a Fault whose Err says why and which matches nothing.
func (c *Coordinator) FailProduceAfterAppend(topic string, err error, count int) *Fault {
	var ke *kerr.Error
	if !errors.As(err, &ke) || (ke != kerr.RequestTimedOut && ke != kerr.NotEnoughReplicasAfterAppend) {
		return &Fault{err: fmt.Errorf("broker: FailProduceAfterAppend: error %v is not one a broker answers after an append; use kerr.RequestTimedOut or kerr.NotEnoughReplicasAfterAppend", err)}
	}
	if count <= 0 {
		count = -1
	}
	h := c.w.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: ke, Count: count})
	return &Fault{hits: h.Hits, remove: h.Remove}
}

// DelayKafka adds latency d to every request with API key key until Remove
// (or Close). Requests later on the same connection wait behind a delayed
// one, as they would behind a slow broker; other connections keep going.
func (c *Coordinator) DelayKafka(key kmsg.Key, d time.Duration) *Fault {
	var (
		hits    atomic.Int64
		removed = make(chan struct{})
		gone    atomic.Bool
	)
	cl := c.w.cluster
	done := c.w.done
	cl.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		if gone.Load() {
			cl.DropControl()
			return nil, nil, false
		}
		hits.Add(1)
		// SleepControl yields the cluster loop while we wait; a plain
		// sleep here would stall every broker.
		cl.SleepControl(func() {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-removed:
			case <-done:
			}
		})
		return nil, nil, false
	})
	return &Fault{
		hits: func() int { return int(hits.Load()) },
		remove: func() {
			gone.Store(true)
			close(removed)
		},
	}
}

// WatchKafka calls fn with every request with API key key that a broker
// receives, before the broker answers it, until stop is called (or the world
// closes). Scenarios use it to see each OffsetCommit as it arrives, e.g. to
// kill a consumer right after it committed. fn runs on the cluster's loop:
// keep it quick (record, signal) and do not call back into the world.
func (c *Coordinator) WatchKafka(key kmsg.Key, fn func(kmsg.Request)) (stop func()) {
	var gone atomic.Bool
	cl := c.w.cluster
	cl.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if gone.Load() {
			cl.DropControl()
			return nil, nil, false
		}
		fn(req)
		return nil, nil, false
	})
	return func() { gone.Store(true) }
}

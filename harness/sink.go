package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/sink"
)

// SinkGroup is the consumer group StartSink's sinks join unless given
// sink.Group: the group to pass to WaitCaughtUp.
const SinkGroup = "tickflow-sink"

// SinkStopTimeout bounds how long stopping a sink may take (its final flush
// and commit) before the test fails.
const SinkStopTimeout = 60 * time.Second

// Sink is a tickflow sink running in the test (see StartSink).
type Sink struct {
	t      testing.TB
	s      *sink.Sink
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, set before done is closed

	stopOnce sync.Once
	stopped  atomic.Bool // Stop was called: the test has seen Run's error
	stopErr  error
}

// StartSink runs tickflow's exactly-once sink (harness/sink) against the
// world, as a member of SinkGroup, writing to the bucket's root. Test
// defaults: the world's topic, flushes every 200 ms, quick S3 retries and
// Kafka timings as KafkaOptions; opts override them (sink.Group,
// sink.Prefix, sink.WithFormat, sink.FlushRecords, sink.Hook, ...). Start
// several for a group of several members. The sink stops at t's cleanup
// (flushing and committing), and an error it stopped with fails t unless
// the test called Stop itself.
func (w *World) StartSink(t testing.TB, opts ...sink.Option) *Sink {
	t.Helper()
	cfg := w.S3Config()
	cfg.MaxAttempts = 1 // the sink retries itself, with backoff
	st, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("harness: StartSink: S3 store: %v", err)
	}
	defaults := []sink.Option{
		sink.Topic(w.Topic()),
		sink.KafkaOptions(fastKafka()...),
		sink.FlushInterval(200 * time.Millisecond),
		sink.Retry(8, 20*time.Millisecond, 500*time.Millisecond),
		sink.CallTimeout(10 * time.Second),
	}
	s := &Sink{t: t, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	w.do(func() {
		s.s, err = sink.New(ctx, w.KafkaAddrs(), st, append(defaults, opts...)...)
		if err != nil {
			return
		}
		go func() {
			defer close(s.done)
			s.err = s.s.Run(ctx)
		}()
	})
	if err != nil {
		cancel()
		t.Fatalf("harness: StartSink: %v", err)
	}
	t.Cleanup(func() {
		err := s.stop()
		if !s.stopped.Load() && err != nil {
			t.Errorf("harness: sink stopped with an error: %v", err)
		}
	})
	return s
}

// Stats returns what the sink has done so far.
func (s *Sink) Stats() sink.Stats { return s.s.Stats() }

// Done is closed when the sink has stopped: after Stop, or on its own after
// an error (for example a sink.Hook that simulated a crash).
func (s *Sink) Done() <-chan struct{} { return s.done }

// Stop stops the sink (a clean shutdown: it flushes and commits what it
// holds) and returns the error Run returned, nil after a clean run. A sink
// that does not stop within SinkStopTimeout fails the test. Safe to call
// more than once.
func (s *Sink) Stop() error {
	s.t.Helper()
	err := s.stop()
	s.stopped.Store(true)
	return err
}

func (s *Sink) stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case <-s.done:
			s.stopErr = s.err
		case <-time.After(SinkStopTimeout):
			s.stopErr = fmt.Errorf("sink did not stop within %s", SinkStopTimeout)
			s.t.Errorf("harness: %v", s.stopErr)
		}
		if errors.Is(s.stopErr, context.Canceled) {
			s.stopErr = nil
		}
	})
	return s.stopErr
}

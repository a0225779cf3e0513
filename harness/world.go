package harness

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
)

// StartTimeout bounds Start: a world that is not up by then fails the test
// instead of hanging it.
const StartTimeout = 30 * time.Second

// World is a running Kafka cluster and S3 server for one test, plus the
// helpers that drive them. Create it with Start; t.Cleanup closes it. All
// methods are safe for concurrent use.
type World struct {
	t     testing.TB
	cfg   config
	bw    *broker.World
	label string // pprof label value every goroutine of this world carries

	storeOnce sync.Once
	store     *objstore.S3
	storeErr  error

	prodOnce sync.Once
	prod     *kgo.Client
	prodErr  error
}

// Start starts a world for t: Kafka brokers and an S3 server on random
// 127.0.0.1 ports, the topic and the bucket. It returns when both accept
// requests. t.Cleanup stops everything the world and its helpers started
// and then fails t if any of their goroutines is still running. Invalid
// options fail t at once with a message naming the option.
func Start(t testing.TB, opts ...Option) *World {
	t.Helper()
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("harness.Start: %v", err)
		return nil
	}
	w := &World{t: t, cfg: cfg}
	w.label = fmt.Sprintf("%p", w)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	var err error
	// Every goroutine the world starts inherits this label, so the leak
	// check can find this world's goroutines among those of worlds running
	// in parallel.
	w.do(func() { w.bw, err = broker.Start(ctx, cfg.brokerOptions()...) })
	if err != nil {
		t.Fatalf("harness.Start: %v", err)
		return nil
	}
	t.Cleanup(w.close)
	return w
}

// do runs fn with this world's goroutine label.
func (w *World) do(fn func()) {
	pprof.Do(context.Background(), pprof.Labels(leakLabel, w.label), func(context.Context) { fn() })
}

// close runs at cleanup, after the cleanups of everything started later
// (clients, sinks), because t.Cleanup runs last-registered first.
func (w *World) close() {
	if w.prod != nil {
		w.prod.Close()
	}
	if err := w.bw.Close(); err != nil {
		w.t.Errorf("harness: close world: %v", err)
	}
	// Closing is asynchronous (connections notice EOF a moment later), so
	// the check waits up to leakWait for the world's goroutines to end.
	if w.cfg.leakCheck {
		if leaked := waitGoroutinesGone(w.label, w.cfg.leakWait); leaked != "" {
			w.t.Errorf("harness: goroutines of the world still run after cleanup (close what you started from them, or use harness.NoLeakCheck):\n%s", leaked)
		}
	}
}

// KafkaAddrs returns the bootstrap addresses ("127.0.0.1:port") of the
// brokers that are up, ordered by broker id.
func (w *World) KafkaAddrs() []string { return w.bw.KafkaAddrs() }

// Topic returns the world's topic (the Topic option, default "stock-ticks").
func (w *World) Topic() string { return w.cfg.topic }

// Partitions returns the partition count the world's topic was created with.
func (w *World) Partitions() int { return w.cfg.partitions }

// S3Endpoint returns the S3 endpoint URL "http://127.0.0.1:port" (use
// path-style addressing and any credentials, e.g. broker.AccessKey).
func (w *World) S3Endpoint() string { return w.bw.S3Endpoint() }

// Bucket returns the bucket created at start.
func (w *World) Bucket() string { return w.bw.Bucket() }

// Region returns the S3 region to configure clients with.
func (w *World) Region() string { return w.bw.Region() }

// Coordinator returns the owner of cluster state (brokers, topics, leaders,
// groups and offsets) and of the fault knobs, with plain error returns.
// Faults is the same with test-failing verbs.
func (w *World) Coordinator() *broker.Coordinator { return w.bw.Coordinator() }

// S3Config returns the settings for an S3 client of this world's bucket.
func (w *World) S3Config() objstore.S3Config {
	return objstore.S3Config{
		Endpoint: w.S3Endpoint(), Bucket: w.Bucket(), Region: w.Region(),
		AccessKey: broker.AccessKey, SecretKey: broker.SecretKey,
	}
}

// Store returns the world's bucket as an objstore.Store (the seam the sink
// writes through and the lake checker reads through).
func (w *World) Store() objstore.Store {
	w.storeOnce.Do(func() {
		w.store, w.storeErr = objstore.NewS3(context.Background(), w.S3Config())
	})
	if w.storeErr != nil {
		w.t.Fatalf("harness: S3 store for %s: %v", w.S3Endpoint(), w.storeErr)
	}
	return w.store
}

// S3Client returns an aws-sdk-go-v2 S3 client for the world's endpoint
// (path-style, static credentials). Use it with Bucket().
func (w *World) S3Client(t testing.TB) *s3.Client {
	t.Helper()
	cl, err := objstore.NewS3Client(context.Background(), w.S3Config())
	if err != nil {
		t.Fatalf("harness: S3 client for %s: %v", w.S3Endpoint(), err)
	}
	return cl
}

// KafkaOptions returns the franz-go options KafkaClient starts from: the
// world's brokers, DefaultProduceTopic(Topic()), and timings that suit a
// fake cluster on loopback (metadata refreshed after 100 ms instead of 5 s,
// so a leader move or a stopped broker is noticed at once; short retry
// backoffs; bounded dials; fast group heartbeats). Pass them to your own
// code under test when it builds its own client.
func (w *World) KafkaOptions() []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(w.KafkaAddrs()...),
		kgo.DefaultProduceTopic(w.cfg.topic),
	}, fastKafka()...)
}

// fastKafka are the timing options of KafkaOptions.
func fastKafka() []kgo.Opt {
	return []kgo.Opt{
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.MetadataMaxAge(2 * time.Second),
		kgo.RetryBackoffFn(backoff),
		kgo.DialTimeout(2 * time.Second),
		kgo.RetryTimeout(30 * time.Second),
		kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.SessionTimeout(6 * time.Second),
		kgo.RebalanceTimeout(6 * time.Second),
	}
}

// backoff grows from 10 ms to 250 ms: quick enough that a test recovers
// from a fault in well under a second.
func backoff(tries int) time.Duration {
	d := 10 * time.Millisecond << min(tries, 5)
	return min(d, 250*time.Millisecond)
}

// KafkaClient returns a franz-go client for the world with KafkaOptions
// followed by opts (add kgo.ConsumerGroup, kgo.ConsumeTopics, ...). It is
// closed at t's cleanup, before the world stops.
func (w *World) KafkaClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	var (
		cl  *kgo.Client
		err error
	)
	w.do(func() { cl, err = kgo.NewClient(append(w.KafkaOptions(), opts...)...) })
	if err != nil {
		t.Fatalf("harness: kafka client for %v: %v", w.KafkaAddrs(), err)
	}
	t.Cleanup(cl.Close)
	return cl
}

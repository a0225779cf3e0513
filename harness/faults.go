package harness

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/broker"
)

// Faults are the Coordinator's fault verbs in test form: a verb that cannot
// be carried out fails the test that called Start (so call them from that
// test's goroutine), and every installed fault is removed at cleanup. Get
// them with World.Faults.
//
// kfake has no replication: stopping a broker or moving a leader moves
// leadership only, so no acknowledged record can be lost by it. These faults
// test a client's retries and rebalances, not data loss in Kafka. The one
// that damages data is FailProduceAfterAppend: a producer that retries
// without idempotence duplicates records.
type Faults struct{ w *World }

// Faults returns the world's fault verbs.
func (w *World) Faults() *Faults { return &Faults{w: w} }

// StopBroker takes broker id down: its port refuses connections, open
// connections are cut and its partitions get new leaders. The controller
// (the highest id) and the last live broker cannot be stopped.
func (f *Faults) StopBroker(id int32) {
	f.w.t.Helper()
	if err := f.w.Coordinator().StopBroker(id); err != nil {
		f.w.t.Fatalf("harness: Faults().StopBroker(%d): %v", id, err)
	}
}

// RestartBroker brings a stopped broker back on its old address.
func (f *Faults) RestartBroker(id int32) {
	f.w.t.Helper()
	if err := f.w.Coordinator().RestartBroker(id); err != nil {
		f.w.t.Fatalf("harness: Faults().RestartBroker(%d): %v", id, err)
	}
}

// MoveLeader makes broker the leader of topic/partition.
func (f *Faults) MoveLeader(topic string, partition, broker int32) {
	f.w.t.Helper()
	if err := f.w.Coordinator().MoveLeader(topic, partition, broker); err != nil {
		f.w.t.Fatalf("harness: Faults().MoveLeader(%q, %d, %d): %v", topic, partition, broker, err)
	}
}

// ShuffleLeaders gives every partition a random live leader and a new
// leader epoch, like a controller failover.
func (f *Faults) ShuffleLeaders() {
	f.w.t.Helper()
	if err := f.w.Coordinator().ShuffleLeaders(); err != nil {
		f.w.t.Fatalf("harness: Faults().ShuffleLeaders(): %v", err)
	}
}

// FailKafka makes the next count requests with API key key fail with err
// (a *kerr.Error such as kerr.NotLeaderForPartition); count <= 0 means
// until Remove. The returned handle counts hits (Hits, Wait).
func (f *Faults) FailKafka(key kmsg.Key, err error, count int) *broker.Fault {
	return f.track(f.w.Coordinator().FailKafka(key, err, count))
}

// FailProduceAfterAppend makes the next count Produce requests to the
// world's topic be appended and then answered with err (kerr.RequestTimedOut
// or kerr.NotEnoughReplicasAfterAppend; another error fails the test): the
// records are in the log while the producer is told they failed, so a
// non-idempotent retry duplicates them. count <= 0 means until Remove.
func (f *Faults) FailProduceAfterAppend(err error, count int) *broker.Fault {
	f.w.t.Helper()
	h := f.w.Coordinator().FailProduceAfterAppend(f.w.Topic(), err, count)
	if err := h.Err(); err != nil {
		f.w.t.Fatalf("harness: Faults().FailProduceAfterAppend: %v", err)
	}
	return f.track(h)
}

// DelayKafka adds latency d to every request with API key key until Remove.
func (f *Faults) DelayKafka(key kmsg.Key, d time.Duration) *broker.Fault {
	return f.track(f.w.Coordinator().DelayKafka(key, d))
}

// FailS3 fails, slows or hangs the S3 requests s selects. A fault with a bad
// field fails the test.
func (f *Faults) FailS3(s broker.S3Fault) *broker.Fault {
	f.w.t.Helper()
	h := f.w.Coordinator().FailS3(s)
	if err := h.Err(); err != nil {
		f.w.t.Fatalf("harness: Faults().FailS3: %v", err)
	}
	return f.track(h)
}

func (f *Faults) track(h *broker.Fault) *broker.Fault {
	// Removing releases requests the fault is delaying or hanging, so the
	// world can close promptly.
	f.w.t.Cleanup(h.Remove)
	return h
}

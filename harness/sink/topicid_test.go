package sink

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickflow/tickflow/harness/tick"
)

// The topic is deleted and re-created while the sink runs. The new
// incarnation's partitions restart at offset 0 under a new topic ID; kgo
// never adopts the new ID, so fetches answer UNKNOWN_TOPIC_ID. On main the
// sink logged that as a retriable fetch error forever. It must stop with
// ErrTopicRecreated, naming the topic, both IDs and what to do.
func TestTopicRecreatedWhileRunningStops(t *testing.T) {
	w := newWorld(t, 1)
	old := produceTicks(t, w, false, 200)
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(200*time.Millisecond), FlushRecords(100))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitCommitted(t, w, s, old)
	oldID := s.currentTopicID()
	require.NotEmpty(t, oldID)

	adm := admin(t, w)
	_, err = adm.DeleteTopic(context.Background(), tick.DefaultTopic)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := adm.CreateTopic(context.Background(), 1, 1, nil, tick.DefaultTopic)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	td, err := adm.ListTopics(context.Background(), tick.DefaultTopic)
	require.NoError(t, err)
	newID := td[tick.DefaultTopic].ID.String()
	require.NotEqual(t, oldID, newID)
	produceTicks(t, w, false, 100)

	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("the sink still runs 60s after its topic was re-created; Run after cancel: %v", <-done)
	}
	require.ErrorIs(t, runErr, ErrTopicRecreated)
	for _, want := range []string{tick.DefaultTopic, oldID, newID, "re-created"} {
		assert.Contains(t, runErr.Error(), want)
	}
}

// armedMetadataFault fails the Metadata requests that name only topic,
// from the moment any SyncGroup is seen (the sink's consumer has the
// metadata it needs to join) until count requests were failed (-1: for
// ever). So the sink joins, is assigned, and then cannot learn the topic's
// ID. It returns how many requests it failed; the faults are removed at
// the end of the test, or by calling remove.
func armedMetadataFault(t testing.TB, c *kfake.Cluster, topic string, count int64) (hits *atomic.Int64, remove func()) {
	var armed atomic.Bool
	hits = &atomic.Int64{}
	onSync := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.SyncGroup}, Observe: true, Count: -1,
		When: func(kmsg.Request) bool { armed.Store(true); return false }})
	meta := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Count: -1, Err: kerr.LeaderNotAvailable,
		When: func(r kmsg.Request) bool {
			m := r.(*kmsg.MetadataRequest)
			if !armed.Load() || len(m.Topics) != 1 || m.Topics[0].Topic == nil || *m.Topics[0].Topic != topic {
				return false
			}
			if count >= 0 && hits.Load() >= count {
				return false
			}
			hits.Add(1)
			return true
		}})
	remove = func() { onSync.Remove(); meta.Remove() }
	t.Cleanup(remove)
	return hits, remove
}

// A topic ID lookup that fails for a moment at assignment is retried: the
// commits carry the topic's ID. On main the first failure returned "" and
// the sink ran without incarnation checks (commits and objects without a
// topic ID).
func TestTopicIDLookupRetried(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 200)
	hits, remove := armedMetadataFault(t, w.cluster, tick.DefaultTopic, 3)
	var logs syncBuffer
	s, stop := runSink(t, w, FlushRecords(100), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	waitCommitted(t, w, s, produced)
	require.NoError(t, stop())
	assert.Positive(t, hits.Load(), "the fault never fired: the sink did not ask the brokers for the topic's ID")
	assert.Contains(t, logs.String(), "topic ID lookup failed; retrying")
	remove()
	td, err := admin(t, w).ListTopics(context.Background(), tick.DefaultTopic)
	require.NoError(t, err)
	require.NoError(t, td[tick.DefaultTopic].Err)
	want := td[tick.DefaultTopic].ID.String()
	require.NotEqual(t, kadm.TopicID{}.String(), want)
	assert.Equal(t, want, s.currentTopicID())
	for _, o := range readLake(t, w.store) {
		h, err := w.store.Head(context.Background(), o.key)
		require.NoError(t, err)
		assert.Equal(t, want, h.Metadata[MetaTopicID], o.key)
	}
}

// A topic ID lookup that keeps failing is an error within a bounded
// budget, naming the topic: never a silent run without incarnation checks.
func TestTopicIDLookupFailsLoudly(t *testing.T) {
	w := newWorld(t, 1)
	produceTicks(t, w, false, 200)
	armedMetadataFault(t, w.cluster, tick.DefaultTopic, -1)
	s, runErr, ok := runUntil(t, w, 40*time.Second, FlushRecords(100), func(c *config) { c.topicIDBudget = 2 * time.Second })
	require.True(t, ok, "the sink ran on without its topic's ID; Run then returned %v", runErr)
	require.ErrorIs(t, runErr, ErrTopicID)
	assert.Contains(t, runErr.Error(), tick.DefaultTopic)
	assert.Zero(t, s.Stats().Written, "nothing written without the topic's ID")
}

// Fetches that keep answering UNKNOWN_TOPIC_ID while the brokers' metadata
// still names the sink's topic ID (a broker that lost the topic, a
// deletion the metadata has not caught up with) end Run with ErrTopicID
// once they persist for the budget. On main they were warned about as a
// retriable fetch error for ever.
func TestUnknownTopicIDPersistsIsAnError(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 200)
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(200*time.Millisecond), FlushRecords(100),
		func(c *config) { c.topicIDBudget = 2 * time.Second })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitCommitted(t, w, s, produced)
	f := w.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: tick.DefaultTopic, Err: kerr.UnknownTopicID, Count: -1})
	t.Cleanup(f.Remove)
	produceTicks(t, w, false, 50)
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("the sink still runs 60s after its fetches started answering UNKNOWN_TOPIC_ID; Run after cancel: %v", <-done)
	}
	require.ErrorIs(t, runErr, ErrTopicID)
	for _, want := range []string{tick.DefaultTopic, "UNKNOWN_TOPIC_ID", s.currentTopicID()} {
		assert.Contains(t, runErr.Error(), want)
	}
}

// An assignment that finds the topic under another ID than an earlier
// assignment of the same run saw is a re-created topic: ErrTopicRecreated,
// naming both IDs, not a silent switch to the new ID.
func TestLookupTopicIDChanged(t *testing.T) {
	w := newWorld(t, 1)
	s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...))
	require.NoError(t, err)
	t.Cleanup(s.client.Close)
	id, err := s.lookupTopicID(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, id)
	old := kadm.TopicID{1, 2, 3}.String()
	s.topicID.Store(&old)
	_, err = s.lookupTopicID(context.Background())
	require.ErrorIs(t, err, ErrTopicRecreated)
	assert.Contains(t, err.Error(), old)
	assert.Contains(t, err.Error(), id)
}

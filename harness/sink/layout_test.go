package sink

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// allKeys lists every object of the bucket, sorted.
func allKeys(t testing.TB, w *world) []string {
	t.Helper()
	objs, err := w.store.List(context.Background(), "")
	require.NoError(t, err)
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

// committedMeta reads the group's committed offsets and metadata.
func committedMeta(t testing.TB, w *world, group string) map[int32]kadm.OffsetResponse {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	require.NoError(t, err)
	out := map[int32]kadm.OffsetResponse{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == tick.DefaultTopic {
			out[o.Partition] = o
		}
	})
	return out
}

// Issue 21, point 2: the key of an object is derived from the layout
// settings as well as the start offset. Two sinks in sequence over one
// group with a different --format, --gzip or --prefix computed different
// keys for the same committed offset, so both layouts landed (before: the
// second sink wrote the rest of the topic, and its first key never met the
// first sink's possibly in-flight object). The second now refuses before
// it writes anything, naming the partitions and both settings.
func TestRefusesToResumeUnderOtherLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"format", []Option{WithFormat(JSON)}, "--format json, compression none"},
		{"gzip", []Option{WithFormat(JSON), Gzip()}, "--format json, compression gzip"},
		{"prefix", []Option{Prefix("other/")}, `--prefix "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 2)
			first := produceTicks(t, w, false, 300)
			a, stopA := runSink(t, w, FlushRecords(100))
			waitCommitted(t, w, a, first)
			require.NoError(t, stopA())
			for p, o := range committedMeta(t, w, a.cfg.group) {
				cm, ok := ParseCommitMeta(o.Metadata)
				require.True(t, ok, o.Metadata)
				assert.Equal(t, Layout{Version: LayoutVersion, Format: Parquet, Compression: "snappy"}, cm.Layout, "partition %d", p)
			}
			before := allKeys(t, w)
			produceTicks(t, w, false, 300)

			b, err := New(context.Background(), w.brokers, w.store, append([]Option{KafkaOptions(fastKafka...),
				FlushInterval(100 * time.Millisecond), FlushRecords(100), UntilIdle(2 * time.Second)}, tc.opts...)...)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = b.Run(ctx)
			require.ErrorIs(t, err, ErrLayoutChanged)
			msg := err.Error()
			assert.Contains(t, msg, "partition 0 (committed at")
			assert.Contains(t, msg, "partition 1 (committed at")
			assert.Contains(t, msg, "layout 1, --format parquet, compression snappy, --prefix \"\"")
			assert.Contains(t, msg, tc.want)
			assert.Equal(t, before, allKeys(t, w), "nothing written under the new layout")
			assert.Zero(t, b.Stats().Written)
		})
	}
}

// Commit metadata written by the previous tickflow (tickflow/2, no layout)
// is accepted whatever the settings, and the layout is recorded from the
// next commit on.
func TestAcceptsCommitWithoutLayout(t *testing.T) {
	w := newWorld(t, 1)
	produced := produceTicks(t, w, false, 200)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	require.NoError(t, err)
	old := CommitMeta{NextStart: 0, TopicID: ""}.String()
	require.Contains(t, old, "tickflow/2;")
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: tick.DefaultTopic, Partition: 0, At: 0, LeaderEpoch: -1, Metadata: old})
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "tickflow-sink", offs)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	cl.Close()

	s, stop := runSink(t, w, WithFormat(JSON), FlushRecords(50))
	waitCommitted(t, w, s, produced)
	require.NoError(t, stop())
	requireExactlyOnce(t, readLake(t, w.store), produced)
	cm, ok := ParseCommitMeta(committedMeta(t, w, "tickflow-sink")[0].Metadata)
	require.True(t, ok)
	assert.Equal(t, Layout{Version: LayoutVersion, Format: JSON, Compression: "none"}, cm.Layout)
}

func TestCommitMetaLayoutRoundTrip(t *testing.T) {
	m := CommitMeta{NextStart: 7, DLQ: 1, TopicID: "id", LastKey: "a;b",
		Layout: Layout{Version: 1, Format: JSON, Compression: "gzip", Prefix: "we;ird=pre fix/x"}}
	got, ok := ParseCommitMeta(m.String())
	require.True(t, ok, m.String())
	assert.Equal(t, m, got)
	// A tickflow/2 record with layout fields, or a tickflow/3 one without, is not ours.
	for _, bad := range []string{
		"tickflow/2;next-start=1;dlq=0;expired=0;topic-id=;layout=1;format=json;compression=none;prefix=;last=",
		"tickflow/3;next-start=1;dlq=0;expired=0;topic-id=;last=",
		"tickflow/3;next-start=1;dlq=0;expired=0;topic-id=;layout=0;format=json;compression=none;prefix=;last=",
	} {
		_, ok := ParseCommitMeta(bad)
		assert.False(t, ok, bad)
	}
}

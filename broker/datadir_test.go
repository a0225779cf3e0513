package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDataDirPersistsRecordsOffsetsObjects(t *testing.T) {
	dir := t.TempDir()
	kport := freePortRun(t, 2)
	sport := freePortRun(t, 1)
	opts := []Option{
		Brokers(2), Partitions(2), DataDir(dir),
		KafkaAddr(fmt.Sprintf("127.0.0.1:%d", kport)),
		S3Addr(fmt.Sprintf("127.0.0.1:%d", sport)),
	}
	ctx := context.Background()

	// First life: 20 records, a group that commits the first 12, one object.
	w, err := Start(ctx, opts...)
	require.NoError(t, err)
	firstAddrs, firstS3 := w.KafkaAddrs(), w.S3Endpoint()

	prod := newClient(t, w, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &kgo.Record{Topic: DefaultTopic, Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))})
	}
	require.NoError(t, prod.ProduceSync(ctx, recs...).FirstErr())
	prod.Close()

	cons := newClient(t, w, kgo.ConsumerGroup("sink"), kgo.ConsumeTopics(DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	var got int
	for got < 20 {
		fs := cons.PollFetches(ctx)
		require.NoError(t, fs.Err())
		got += fs.NumRecords()
	}
	var cerr error
	cons.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		DefaultTopic: {0: {Epoch: -1, Offset: 6}, 1: {Epoch: -1, Offset: 6}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { cerr = err })
	require.NoError(t, cerr)
	cons.Close()

	store := newStore(t, w)
	require.NoError(t, store.Put(ctx, "stock_ticks/a.json", []byte(`{"a":1}`), nil))

	// A second world cannot share the directory meanwhile.
	_, err = Start(ctx, Brokers(1), DataDir(dir))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use")

	require.NoError(t, w.Close())

	// Second life on the same ports and directory.
	w2 := startWorld(t, opts...)
	assert.Equal(t, firstAddrs, w2.KafkaAddrs())
	assert.Equal(t, firstS3, w2.S3Endpoint())

	body, _, err := newStore(t, w2).Get(ctx, "stock_ticks/a.json")
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(body))

	groups, err := w2.Coordinator().Groups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	assert.Equal(t, "sink", groups[0].Group)
	require.Len(t, groups[0].Offsets, 2)
	for _, o := range groups[0].Offsets {
		assert.Equal(t, int64(6), o.Committed)
		assert.Equal(t, int64(10), o.End)
		assert.Equal(t, int64(4), o.Lag)
	}

	// The group resumes at its commits; a fresh reader sees all 20.
	resume := newClient(t, w2, kgo.ConsumerGroup("sink"), kgo.ConsumeTopics(DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	assert.Len(t, consumeAll(t, resume, 8), 8)
	all := newClient(t, w2, kgo.ConsumeTopics(DefaultTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := consumeAll(t, all, 20)
	assert.Len(t, seen, 20)
}

func TestDataDirAddsNewTopicsOnRestart(t *testing.T) {
	dir := t.TempDir()
	w, err := Start(context.Background(), Brokers(1), DataDir(dir))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	w2 := startWorld(t, Brokers(1), DataDir(dir), Topic("other", 2), Topic(DefaultTopic, DefaultPartitions))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	topics, err := w2.Coordinator().Topics(ctx)
	require.NoError(t, err)
	var names []string
	for _, tp := range topics {
		names = append(names, tp.Name)
	}
	assert.Equal(t, []string{"other", DefaultTopic}, names)
}

func TestDataDirNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write to read-only directories")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(dir, 0o500))
	_, err := Start(context.Background(), DataDir(dir))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DataDir")
}

package sink

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// newWorldSmallDLQ is newWorld with a dead-letter topic whose
// max.message.bytes is dlqMax.
func newWorldSmallDLQ(t testing.TB, partitions int32, dlqMax int) *world {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, tick.DefaultTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	v := strconv.Itoa(dlqMax)
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, map[string]*string{"max.message.bytes": &v}, tick.DefaultTopic+".dlq")
	require.NoError(t, err)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s", MaxAttempts: 1})
	require.NoError(t, err)
	return &world{brokers: c.ListenAddrs(), store: st, cluster: c}
}

// Issue 21, point 9: a poison record larger than the dead-letter topic's
// max.message.bytes was produced whole, the broker refused it, the sink
// exited, and every restart hit the same record again (a crash loop).
// Now the whole record goes to S3 under _dead_letters/ and a truncated
// copy, with its original size and the object's address, to the topic; the
// record counts as dead-lettered and its offset is covered.
func TestDeadLetterTooLargeForTopic(t *testing.T) {
	const dlqMax = 4096
	w := newWorldSmallDLQ(t, 1, dlqMax)
	before := produceTicks(t, w, false, 100)
	big := make([]byte, 64<<10) // random: compression cannot bring it under the limit
	_, _ = rand.Read(big)
	key := []byte("poison-key")
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	res := cl.ProduceSync(context.Background(), &kgo.Record{Topic: tick.DefaultTopic, Partition: 0, Key: key, Value: big,
		Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("test")}}})
	require.NoError(t, res.FirstErr())
	poisonOff := res[0].Record.Offset
	after := produceTicks(t, w, false, 100)
	rows := before + after

	s, stop := runSink(t, w, FlushRecords(50), Prefix("pre"))
	waitCommitted(t, w, s, rows+1)
	require.NoError(t, stop(), "the sink neither exits nor crash-loops on the record")
	assert.EqualValues(t, 1, s.Stats().DLQ)
	assert.EqualValues(t, rows, s.Stats().Written)

	// The lake tiles the partition, the dead letter counted in its object.
	objs, err := w.store.List(context.Background(), "pre/"+tick.Table+"/")
	require.NoError(t, err)
	dlq := 0
	var covered []int64
	for _, o := range objs {
		h, err := w.store.Head(context.Background(), o.Key)
		require.NoError(t, err)
		n, _ := strconv.Atoi(h.Metadata[MetaDLQ])
		dlq += n
		st, _ := strconv.ParseInt(h.Metadata[MetaStartOffset], 10, 64)
		end, _ := strconv.ParseInt(h.Metadata[MetaEndOffset], 10, 64)
		if st <= poisonOff && poisonOff < end {
			covered = append(covered, st)
		}
	}
	assert.Equal(t, 1, dlq, "the dead letter is counted in the lake's metadata")
	assert.Len(t, covered, 1, "the poison offset is covered by one object")

	// The whole record is in S3, outside the table.
	okey := DeadLetterKey("pre", tick.DefaultTopic, 0, poisonOff)
	assert.Equal(t, "pre/_dead_letters/"+tick.DefaultTopic+"/0/"+strconv.FormatInt(poisonOff, 10), okey)
	body, o, err := w.store.Get(context.Background(), okey)
	require.NoError(t, err)
	assert.Equal(t, big, body)
	assert.Equal(t, strconv.FormatInt(poisonOff, 10), o.Metadata[MetaDLOffset])
	assert.Equal(t, "cG9pc29uLWtleQ==", o.Metadata[MetaDLKey])

	// The topic has a truncated copy that fits, pointing at it.
	fc, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(tick.DefaultTopic+".dlq"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer fc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := fc.PollFetches(ctx)
	require.NoError(t, fs.Err())
	recs := fs.Records()
	require.Len(t, recs, 1)
	r := recs[0]
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	assert.Equal(t, "true", h[HeaderTruncated])
	assert.Equal(t, strconv.Itoa(len(big)), h[HeaderOriginalSize])
	assert.Equal(t, "s3://lake/"+okey, h[HeaderObject])
	assert.Equal(t, strconv.FormatInt(poisonOff, 10), h[HeaderOffset])
	assert.Equal(t, "test", h["source"], "the source's small headers are kept")
	assert.Equal(t, key, r.Key)
	assert.NotEmpty(t, r.Value)
	assert.Equal(t, big[:len(r.Value)], r.Value)
	assert.Less(t, recordSize(r)+dlqOverhead, dlqMax+1)
}

// Dead letters that each fit the topic's max.message.bytes, but not two
// together: kgo would put them in one batch, which the broker refuses as a
// whole. With a topic limit below kgo's batch limit they go one at a time.
func TestDeadLettersEachFitButNotTogether(t *testing.T) {
	const dlqMax = 4096
	w := newWorldSmallDLQ(t, 1, dlqMax)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	for range 5 {
		v := make([]byte, 2500)
		_, _ = rand.Read(v)
		require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: tick.DefaultTopic, Partition: 0, Value: v}).FirstErr())
	}
	rows := produceTicks(t, w, false, 50)
	s, stop := runSink(t, w, FlushRecords(50))
	waitCommitted(t, w, s, rows+5)
	require.NoError(t, stop())
	assert.EqualValues(t, 5, s.Stats().DLQ)
	objs, err := w.store.List(context.Background(), DeadLetterPrefix+"/")
	require.NoError(t, err)
	assert.Empty(t, objs, "each fits the topic: none goes to S3")
}

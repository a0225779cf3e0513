package sink

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// Issue 21, point 7: after a 412 the sink adopted whatever object held its
// key on the strength of the object's metadata alone, and continued from
// the end it claimed: an object whose size or counts cannot be what the
// metadata says made the sink skip the range (loss). It now refuses it,
// naming the key, and writes nothing past it.
func TestAdoptsOnlyWholeObjects(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta map[string]string
		want string
	}{
		{"size differs", map[string]string{MetaStartOffset: "0", MetaEndOffset: "250", MetaRecords: "250", MetaDLQ: "0", MetaBytes: "123456"},
			"is not whole"},
		{"more rows than offsets", map[string]string{MetaStartOffset: "0", MetaEndOffset: "250", MetaRecords: "300", MetaDLQ: "0"},
			"impossible range"},
		{"no rows", map[string]string{MetaStartOffset: "0", MetaEndOffset: "250", MetaRecords: "0", MetaDLQ: "0"},
			"impossible range"},
		{"end before start", map[string]string{MetaStartOffset: "0", MetaEndOffset: "0", MetaRecords: "1", MetaDLQ: "0"},
			"tickflow-end-offset"},
	} {
		for _, path := range []string{"listing", "412"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				w := newWorld(t, 1)
				produceTicks(t, w, false, 300)
				var before []string
				var from int64
				if path == "412" {
					// A first sink commits, with metadata: the next owner
					// resumes without listing, and meets the object as a 412.
					a, stopA := runSink(t, w, FlushRecords(100))
					waitCommitted(t, w, a, 300)
					require.NoError(t, stopA())
					from = 300
					produceTicks(t, w, false, 300) // timestamps from base again
					before = allKeys(t, w)
				}
				meta := map[string]string{}
				for k, v := range tc.meta {
					meta[k] = v
				}
				meta[MetaStartOffset] = strconv.FormatInt(from, 10)
				end, _ := strconv.ParseInt(tc.meta[MetaEndOffset], 10, 64)
				meta[MetaEndOffset] = strconv.FormatInt(from+end, 10)
				key := ObjectKey("", tick.PartitionPath(base), tick.DefaultTopic, 0, from, "parquet")
				require.NoError(t, w.store.Put(context.Background(), key, []byte("not parquet"), meta))
				s, err := New(context.Background(), w.brokers, w.store, KafkaOptions(fastKafka...), FlushInterval(100*time.Millisecond),
					FlushRecords(100), UntilIdle(2*time.Second))
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err = s.Run(ctx)
				require.ErrorIs(t, err, errForeignObject)
				assert.Contains(t, err.Error(), key)
				assert.Contains(t, err.Error(), tc.want)
				assert.Zero(t, s.Stats().Adopted)
				for p, off := range s.Stats().Committed {
					assert.LessOrEqual(t, off, from, "partition %d committed past a range the lake does not hold", p)
				}
				want := append(before, key)
				sort.Strings(want)
				assert.Equal(t, want, allKeys(t, w), "nothing written past it")
			})
		}
	}
}

func TestCheckWhole(t *testing.T) {
	ok := map[string]string{MetaRecords: "90", MetaDLQ: "5", MetaExpired: "5", MetaBytes: "10"}
	h := objstoreObject(ok, 10)
	require.NoError(t, checkWhole("k", h, 100, 200))
	require.NoError(t, checkWhole("k", objstoreObject(map[string]string{MetaRecords: "90"}, 10), 100, 200), "gaps (transaction markers) are fine")
	require.NoError(t, checkWhole("k", objstoreObject(map[string]string{}, 10), 100, 200), "no counts: not checked")
	require.ErrorIs(t, checkWhole("k", objstoreObject(ok, 11), 100, 200), errForeignObject)
	require.ErrorIs(t, checkWhole("k", h, 100, 199), errForeignObject)
}

func objstoreObject(meta map[string]string, size int64) objstore.Object {
	return objstore.Object{Key: "k", Size: size, Metadata: meta}
}

package lake_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

// TestSinkJSONEncodingIsClean: JSON Lines written with tick.AppendJSONRow (the
// sink's encoder) pass every rule and read back as the same rows.
func TestSinkJSONEncodingIsClean(t *testing.T) {
	ctx := context.Background()
	rows, err := lake.ReadRows(ctx, fixtureStore(t, "good-parquet"), "")
	require.NoError(t, err)
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	for _, o := range fixture(t, "good-json").Objects {
		// Re-encode each object's rows with the sink's encoder, same keys.
		objRows, err := lake.ReadRows(ctx, singleObject(t, o.Path, o.Body), "")
		require.NoError(t, err)
		var body []byte
		for _, r := range objRows {
			body = tick.AppendJSONRow(body, r)
		}
		require.NoError(t, st.Put(ctx, o.Path, body, nil))
	}
	rep, err := lake.Check(ctx, st, "", lake.ExpectRecords(int64(len(rows))))
	require.NoError(t, err)
	assert.Empty(t, rep.Violations)
	back, err := lake.ReadRows(ctx, st, "")
	require.NoError(t, err)
	assert.Equal(t, rows, back)
}

func singleObject(t *testing.T, key string, body []byte) objstore.Store {
	t.Helper()
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), key, body, nil))
	return st
}

// TestReadRowsKeepsNulls: ReadRows returns NULL values as NULL (Row.Null),
// not 0, from Parquet (OPTIONAL columns) and JSON Lines (null) alike, and a
// real 0 as 0.
func TestReadRowsKeepsNulls(t *testing.T) {
	ctx := context.Background()
	pq, err := lake.ReadRows(ctx, fixtureStore(t, "good-nulls-parquet"), "")
	require.NoError(t, err)
	js, err := lake.ReadRows(ctx, fixtureStore(t, "good-nulls-json"), "")
	require.NoError(t, err)
	require.Len(t, pq, 25)
	assert.Equal(t, pq, js)
	for _, r := range pq {
		switch r.KafkaOffset % 4 {
		case 1:
			assert.Equal(t, tick.AllValues&^tick.NullClose, r.Null, "offset %d", r.KafkaOffset)
			assert.NotZero(t, r.Close)
		case 2:
			assert.Equal(t, tick.NullAdjClose, r.Null, "offset %d", r.KafkaOffset)
			assert.Zero(t, r.Volume)
		default:
			assert.Zero(t, r.Null, "offset %d", r.KafkaOffset)
		}
	}
}

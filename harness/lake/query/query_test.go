//go:build cgo

package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake/query"
	"github.com/tickflow/tickflow/harness/objstore"
	"github.com/tickflow/tickflow/harness/tick"
)

const lakes = "../../../testdata/lakes"

var athenaToDuck = map[string]string{"string": "VARCHAR", "date": "DATE", "double": "DOUBLE", "bigint": "BIGINT", "timestamp": "TIMESTAMP", "int": "INTEGER"}

func TestCountAndSchema(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"good-parquet", "good-json"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(lakes, name)
			res, err := query.Run(ctx, dir, "SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM stock_ticks")
			require.NoError(t, err)
			require.Len(t, res.Rows, 1)
			assert.EqualValues(t, 25, res.Rows[0][0])
			assert.EqualValues(t, 25, res.Rows[0][1])

			desc, err := query.Run(ctx, dir, "DESCRIBE stock_ticks")
			require.NoError(t, err)
			var got, want []string
			for _, r := range desc.Rows {
				got = append(got, r[0].(string)+" "+r[1].(string))
			}
			for _, c := range tick.Columns {
				want = append(want, c.Name+" "+athenaToDuck[c.Type])
			}
			want = append(want, "dt VARCHAR", "hour VARCHAR")
			assert.Equal(t, want, got)

			part, err := query.Run(ctx, dir, "SELECT dt, hour, count(*) FROM stock_ticks GROUP BY dt, hour ORDER BY dt, hour")
			require.NoError(t, err)
			require.Len(t, part.Rows, 3)
			assert.Equal(t, []any{"2024-01-05", "10", int64(10)}, part.Rows[0])
			assert.Equal(t, []any{"2024-01-06", "00", int64(5)}, part.Rows[2])

			ts, err := query.Run(ctx, dir, "SELECT CAST(event_time AS VARCHAR), CAST(trade_date AS VARCHAR), close_usd FROM stock_ticks WHERE kafka_partition = 0 AND kafka_offset = 1")
			require.NoError(t, err)
			require.Len(t, ts.Rows, 1)
			assert.Equal(t, "2024-01-05 10:07:01", ts.Rows[0][0])
			assert.Equal(t, "2010-01-05", ts.Rows[0][1])
			assert.InDelta(t, 2580.25, ts.Rows[0][2], 1e-9)
		})
	}
}

// TestParquetAndJSONAgree: both good lakes hold the same rows as Athena sees them.
func TestParquetAndJSONAgree(t *testing.T) {
	const q = "SELECT * FROM stock_ticks ORDER BY kafka_partition, kafka_offset"
	pq, err := query.Run(context.Background(), filepath.Join(lakes, "good-parquet"), q)
	require.NoError(t, err)
	js, err := query.Run(context.Background(), filepath.Join(lakes, "good-json"), q)
	require.NoError(t, err)
	assert.Equal(t, pq.Columns, js.Columns)
	assert.Equal(t, pq.Rows, js.Rows)
}

// TestNullsAreNull: a lake of partial ticks, as the sink writes them,
// reads in SQL with NULL where a record lacked a value: aggregates skip
// those (count(open) excludes them, min(open) is a real price, not an
// invented 0) while a real volume 0 is counted. Parquet and JSON agree.
func TestNullsAreNull(t *testing.T) {
	const q = `SELECT count(*), count(open), count(high), count(close), count(adj_close), count(volume), count(close_usd),
		count(*) FILTER (WHERE volume = 0), count(*) FILTER (WHERE open IS NULL), min(open) >= 20000, min(close) >= 20000
		FROM stock_ticks`
	// 25 records: 7 carried only symbol, trade_date and close (offset%4 == 1),
	// 6 had volume 0 and no adj_close (offset%4 == 2); see the fixtures.
	want := []any{int64(25), int64(18), int64(18), int64(25), int64(12), int64(18), int64(18), int64(6), int64(7), true, true}
	var all []*query.Result
	for _, name := range []string{"good-nulls-parquet", "good-nulls-json"} {
		t.Run(name, func(t *testing.T) {
			res, err := query.Run(context.Background(), filepath.Join(lakes, name), q)
			require.NoError(t, err)
			require.Len(t, res.Rows, 1)
			assert.Equal(t, want, res.Rows[0])
			every, err := query.Run(context.Background(), filepath.Join(lakes, name), "SELECT * FROM stock_ticks ORDER BY kafka_partition, kafka_offset")
			require.NoError(t, err)
			all = append(all, every)
		})
	}
	require.Len(t, all, 2)
	assert.Equal(t, all[0].Rows, all[1].Rows, "Parquet and JSON Lines give the same rows, NULLs included")
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, dir, sql, want string
	}{
		{"unknown column", filepath.Join(lakes, "good-parquet"), "SELECT price FROM stock_ticks", "price"},
		{"no lake", t.TempDir(), "SELECT 1", "has no stock_ticks/ folder"},
		{"syntax", filepath.Join(lakes, "good-json"), "SELEKT 1", "syntax"},
		{"empty sql", filepath.Join(lakes, "good-json"), "  ", "empty SQL"},
		{"mixed formats", filepath.Join(lakes, "bad-mixed-formats"), "SELECT 1", "L04"},
		{"another table", filepath.Join(lakes, "good-parquet"), "SELECT count(*) FROM clicks", "--table FILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := query.Run(ctx, tc.dir, tc.sql)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := query.Run(ctx, filepath.Join(lakes, "good-parquet"), "SELECT price FROM stock_ticks")
	assert.Contains(t, err.Error(), "kafka_offset, dt, hour", "the error lists the view's columns")
}

func TestRunStore(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("lake"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: srv.URL, Bucket: "lake", AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	root := filepath.Join(lakes, "good-parquet")
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "stock_ticks"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		return st.Put(ctx, "prod/"+filepath.ToSlash(rel), b, nil)
	}))
	res, err := query.RunStore(ctx, st, "prod", "SELECT count(*) FROM stock_ticks")
	require.NoError(t, err)
	assert.EqualValues(t, 25, res.Rows[0][0])
	_, err = query.RunStore(ctx, st, "missing", "SELECT 1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing/stock_ticks/")
}

func TestWrite(t *testing.T) {
	res, err := query.Run(context.Background(), filepath.Join(lakes, "good-parquet"),
		"SELECT symbol, trade_date, event_time, close FROM stock_ticks WHERE kafka_partition = 1 ORDER BY kafka_offset LIMIT 2")
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.Write(&buf, query.Table))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, strings.Index(lines[0], "trade_date"), strings.Index(lines[2], "2010-01-04"), "columns aligned:\n%s", buf.String())
	assert.Contains(t, lines[2], "2024-01-05 10:00:00.000")
	assert.Equal(t, "(2 rows)", lines[4])

	buf.Reset()
	require.NoError(t, res.Write(&buf, query.CSV))
	assert.Equal(t, "symbol,trade_date,event_time,close\nNYA,2010-01-04,2024-01-05 10:00:00.000,20150\nHSI,2010-01-05,2024-01-05 10:07:01.000,20151\n", buf.String())

	buf.Reset()
	require.NoError(t, res.Write(&buf, query.JSON))
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rows))
	require.Len(t, rows, 2)
	assert.Equal(t, "NYA", rows[0]["symbol"])
	assert.Equal(t, 20150.0, rows[0]["close"])

	assert.Error(t, res.Write(&buf, query.Format("xml")))
}

// TestWriteCountsRowsInEnglish: the table output's last line counts in
// English as Trino's CLI does (docs/cli-conventions.md): "(1 row)", "(0 rows)".
func TestWriteCountsRowsInEnglish(t *testing.T) {
	for _, c := range []struct {
		rows [][]any
		want string
	}{{nil, "(0 rows)"}, {[][]any{{1}}, "(1 row)"}, {[][]any{{1}, {2}}, "(2 rows)"}} {
		var buf bytes.Buffer
		require.NoError(t, (&query.Result{Columns: []string{"_col0"}, Rows: c.rows}).Write(&buf, query.Table))
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		assert.Equal(t, c.want, lines[len(lines)-1], buf.String())
	}
}

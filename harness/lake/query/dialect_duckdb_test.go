//go:build cgo

package query_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake/query"
)

// TestAthenaFunctions: every translated function gives Athena's (Trino's)
// answer, one expression each over the stock_ticks fixture.
func TestAthenaFunctions(t *testing.T) {
	day := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		expr string
		want any
	}{
		{"approx_distinct(symbol)", int64(2)},
		{"approx_distinct(symbol, 0.01)", int64(2)},
		{"approx_percentile(x, 0.5)", int32(2)},
		{"date_format(TIMESTAMP '2024-01-05 10:11:12', '%Y-%m-%d %H:%i:%s')", "2024-01-05 10:11:12"},
		{"date_parse('2024-01-05 10:11:12', '%Y-%m-%d %H:%i:%s')", day("2024-01-05 10:11:12")},
		{"format_datetime(TIMESTAMP '2024-01-05 10:11:12', 'yyyy-MM-dd''T''HH:mm:ss')", "2024-01-05T10:11:12"},
		{"parse_datetime('05/01/2024 10:11', 'dd/MM/yyyy HH:mm')", day("2024-01-05 10:11:00")},
		{"from_iso8601_timestamp('2024-01-05T10:11:12+01:00')", day("2024-01-05 09:11:12")},
		{"from_iso8601_date('2024-01-05')", day("2024-01-05 00:00:00")},
		{"regexp_like('abc', 'b')", true},
		{"element_at(ARRAY[10, 20, 30], -1)", int32(30)},
		{"element_at(MAP(ARRAY['a'], ARRAY[1]), 'a')", int32(1)},
		{"cardinality(ARRAY[1, 2, 3])", int64(3)},
		{"cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", int64(2)},
		{"try_cast('x' AS bigint)", nil},
		{"date_trunc('month', TIMESTAMP '2024-01-05 10:11:12')", day("2024-01-01 00:00:00")},
		{"from_unixtime(1704449730)", day("2024-01-05 10:15:30")},
		{"from_unixtime(0, 'Asia/Tokyo')", day("1970-01-01 09:00:00")},
		{"to_unixtime(TIMESTAMP '2024-01-05 10:15:30')", 1704449730.0},
		{"date_add('hour', 2, TIMESTAMP '2024-01-05 23:00:00')", day("2024-01-06 01:00:00")},
		{"date_diff('day', TIMESTAMP '2024-01-05 23:00:00', TIMESTAMP '2024-01-06 01:00:00')", int64(0)},
		{"json_extract_scalar('{\"a\": {\"b\": 7}}', '$.a.b')", "7"},
		{"day_of_week(DATE '2024-01-07')", int64(7)},
		{"day_of_year(DATE '2024-02-01')", int64(32)},
		{"week_of_year(DATE '2024-01-07')", int64(1)},
		{"year_of_week(DATE '2024-12-30')", int64(2025)},
		{"last_day_of_month(DATE '2024-02-07')", day("2024-02-29 00:00:00")},
		{"array_join(ARRAY['a', 'b'], '-')", "a-b"},
		{"cardinality(regexp_split('a1b2c', '[0-9]'))", int64(3)},
		{"levenshtein_distance('kitten', 'sitting')", int64(3)},
		{"hamming_distance('abc', 'abd')", int64(1)},
		{"codepoint('A')", int32(65)},
		{"is_nan(nan())", true},
		{"infinity() > 1e308", true},
		{"rand() < 1", true},
		{"truncate(CAST(2.7 AS double))", 2.0},
		{"every(x > 0)", true},
		{"from_utf8(to_utf8('hé'))", "hé"},
		{"count_if(x > 1)", int64(2)},
		{"arbitrary(1)", int32(1)},
		{"element_at(CAST(ARRAY['1', '2'] AS array(bigint)), 2)", int64(2)},
		{"element_at(CAST(MAP(ARRAY['a'], ARRAY[1]) AS map(varchar, bigint)), 'a')", int64(1)},
		{"cardinality(filter(ARRAY[1, 2, 3], v -> v > 1))", int64(2)},
	}
	dir := filepath.Join(lakes, "good-parquet")
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			q := fmt.Sprintf("SELECT %s FROM (SELECT x, CASE WHEN x = 1 THEN 'HSI' ELSE 'NYA' END AS symbol FROM (VALUES (1), (2), (3)) v(x)) s", tc.expr)
			res, err := query.Run(context.Background(), dir, q)
			require.NoError(t, err)
			require.Len(t, res.Rows, 3-2*boolInt(isAggregate(tc.expr)))
			got := res.Rows[0][0]
			if w, ok := tc.want.(time.Time); ok {
				g, ok := got.(time.Time)
				require.True(t, ok, "%T %v", got, got)
				assert.True(t, w.Equal(g), "%v, want %v", g, w)
				return
			}
			if f, ok := got.(float64); ok {
				if w, ok := tc.want.(float64); ok {
					assert.InDelta(t, w, f, 1e-9)
					return
				}
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, "_col0", res.Columns[0])
		})
	}
	res, err := query.Run(context.Background(), dir, "SELECT CAST(ROW(1, 'a') AS ROW(x int, y varchar)).y")
	require.NoError(t, err)
	assert.Equal(t, []string{"y"}, res.Columns, "a row field is named after the field, as in Athena")
	assert.Equal(t, "a", res.Rows[0][0])
}

func isAggregate(expr string) bool {
	for _, a := range []string{"approx_", "every(", "count_if(", "arbitrary("} {
		if len(expr) >= len(a) && expr[:len(a)] == a {
			return true
		}
	}
	return false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

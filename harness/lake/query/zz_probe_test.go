//go:build cgo

package query

import (
	"database/sql"
	"fmt"
	"testing"
)

func TestZZProbe(t *testing.T) {
	db, _ := sql.Open("duckdb", "")
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"SET TimeZone='UTC'",
		"SELECT current_setting('TimeZone')",
		"SELECT (MAP {'a': 1, 'b': 2})['a'], ([10,20,30])[1], ([10,20,30])[-1], ([10,20,30])[5]",
		"SELECT cardinality([1,2,3])",
		"SELECT cardinality(MAP {'a': 1})",
		"SELECT try_cast('x' AS bigint), try_cast('12' AS integer), try_cast('1.5' AS double), try_cast('2024-01-01' AS timestamp), try_cast('a' AS varchar(3)), try_cast('1.25' AS decimal(10,2)), try_cast('1' AS real)",
		"SELECT TIMESTAMP '2024-01-01 10:00:00' + CAST(3 AS BIGINT) * CAST('1 ' || 'hour' AS INTERVAL)",
		"SELECT date_sub('day', TIMESTAMP '2024-01-01 23:00', TIMESTAMP '2024-01-02 01:00'), date_diff('day', TIMESTAMP '2024-01-01 23:00', TIMESTAMP '2024-01-02 01:00')",
		"CREATE MACRO tf_x(a) AS a + 1, (a, b) AS a + b",
		"SELECT tf_x(1), tf_x(1, 5)",
		"CREATE MACRO element_at(a, b) AS a[b]",
		"SELECT element_at([1,2], 2)",
		"CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)",
		"SELECT approx_distinct(i) FROM range(100) t(i)",
		"SELECT to_timestamp(1700000000), epoch(to_timestamp(1700000000)), epoch(TIMESTAMP '2024-01-01')",
		"SELECT CAST('2024-01-05T10:00:00Z' AS TIMESTAMPTZ), CAST('2024-01-05T10:00:00+02:00' AS TIMESTAMPTZ), CAST('2024-01-05' AS TIMESTAMPTZ), CAST('2024-01-05T10:00:00.123' AS TIMESTAMPTZ)",
		"SELECT date_trunc('day', DATE '2024-01-05'), date_trunc('hour', TIMESTAMP '2024-01-05 10:11:12')",
		"SELECT strftime(TIMESTAMP '2024-01-05 10:11:12.345', '%Y-%m-%d %H:%M:%S.%f %a %b %B %A %p %I %j %-d %e')",
		"SELECT count(*), 1+1, max(i) FROM range(3) t(i)",
		"SELECT if(true, 1, 2), coalesce(null, 1), json_extract_string('{\"a\":1}', '$.a')",
		"SELECT foo(1)",
		"SELECT approx_distinct(i, 0.01) FROM range(100) t(i)",
		"SELECT regexp_matches('abc', 'b'), regexp_split_to_array('a1b2c', '[0-9]')",
		"SELECT  approx_quantile(i, 0.5), levenshtein('ab','ac'), isodow(DATE '2024-01-07'), dayofyear(DATE '2024-01-07'), last_day(DATE '2024-02-07'), isnan('NaN'::DOUBLE), array_to_string(['a','b'], ',')",
	} {
		rows, err := db.Query(q)
		if err != nil {
			fmt.Printf("%s\n  ERR %v\n", q, err)
			continue
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			rows.Scan(p...)
			fmt.Printf("%s\n  %v %v\n", q, cols, v)
		}
		rows.Close()
	}
}

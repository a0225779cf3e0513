//go:build cgo

package query_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/query"
)

// clicksDDL is a table query has never seen: JSON Lines (OpenX), partitioned
// by dt only, with an array and a map.
const clicksDDL = `CREATE EXTERNAL TABLE web.clicks (
  user_id bigint,
  url string,
  ts timestamp,
  tags array<string>,
  attrs map<string,string>,
  epoch_s bigint
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://lake/web/clicks/'`

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func clicksLake(t *testing.T) (string, *lake.TableDef) {
	t.Helper()
	def, err := lake.ParseTable("clicks.sql", []byte(clicksDDL))
	require.NoError(t, err)
	dir := t.TempDir()
	put(t, dir, "web/clicks/dt=2024-01-05/part-0.json", []byte(
		`{"user_id": 1, "url": "https://a.example/x", "ts": "2024-01-05 10:15:30", "tags": ["a", "b"], "attrs": {"ref": "google"}, "epoch_s": 1704449730}
{"user_id": 2, "url": "https://b.example/y", "ts": "2024-01-05 11:00:00", "tags": [], "attrs": {}, "epoch_s": 1704452400}
{"user_id": 1, "url": "https://a.example/z", "ts": "2024-01-05 23:59:59", "tags": ["c"], "attrs": {"ref": "bing"}, "epoch_s": 1704499199}
`))
	put(t, dir, "web/clicks/dt=2024-01-06/part-0.json.gz", gz(t, []byte(
		`{"user_id": 3, "url": "https://c.example/", "ts": "2024-01-06 00:00:01", "tags": ["a"], "attrs": {"ref": "google"}, "epoch_s": 1704499201}
`)))
	put(t, dir, "web/clicks/dt=2024-01-06/_SUCCESS", []byte("x"))        // hidden: Athena skips it
	put(t, dir, "web/clicks/stray.json", []byte(`{"user_id": 99}`+"\n")) // not in a partition folder
	return dir, def
}

// TestTableClicks: Athena-dialect SQL, each translated function, over a
// JSON table partitioned by dt that query has never seen.
func TestTableClicks(t *testing.T) {
	dir, def := clicksLake(t)
	ctx := context.Background()
	run := func(t *testing.T, sql string) *query.Result {
		t.Helper()
		res, err := query.RunTable(ctx, dir, def, sql)
		require.NoError(t, err, sql)
		return res
	}
	ts := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		require.NoError(t, err)
		return v
	}

	t.Run("describe", func(t *testing.T) {
		res := run(t, "DESCRIBE clicks")
		var got []string
		for _, r := range res.Rows {
			got = append(got, r[0].(string)+" "+r[1].(string))
		}
		assert.Equal(t, []string{"user_id BIGINT", "url VARCHAR", "ts TIMESTAMP", "tags VARCHAR[]", "attrs MAP(VARCHAR, VARCHAR)", "epoch_s BIGINT", "dt VARCHAR"}, got)
	})
	t.Run("approx_distinct and _col names, qualified names", func(t *testing.T) {
		for _, from := range []string{`"default"."clicks"`, "web.clicks", "default.clicks", "awsdatacatalog.web.clicks", "clicks"} {
			res := run(t, "SELECT dt, count(*), approx_distinct(user_id) FROM "+from+" GROUP BY dt ORDER BY dt")
			assert.Equal(t, []string{"dt", "_col1", "_col2"}, res.Columns, from)
			assert.Equal(t, [][]any{{"2024-01-05", int64(3), int64(2)}, {"2024-01-06", int64(1), int64(1)}}, res.Rows, from)
		}
	})
	t.Run("date_format and date_parse", func(t *testing.T) {
		res := run(t, "SELECT date_format(ts, '%Y-%m-%d %H:%i:%s'), date_format(ts, '%e %M %Y, %W %r') AS long, date_parse('05/01/2024 10:15', '%d/%m/%Y %H:%i') FROM clicks WHERE user_id = 2")
		assert.Equal(t, []string{"_col0", "long", "_col2"}, res.Columns)
		assert.Equal(t, []any{"2024-01-05 11:00:00", "5 January 2024, Friday 11:00:00 AM", ts("2024-01-05 10:15:00")}, res.Rows[0])
	})
	t.Run("from_iso8601_timestamp, from_unixtime, to_unixtime", func(t *testing.T) {
		res := run(t, `SELECT count(*) FILTER (WHERE ts < from_iso8601_timestamp('2024-01-05T11:00:00Z')),
			count(*) FILTER (WHERE from_unixtime(epoch_s) = ts), sum(to_unixtime(ts) - epoch_s),
			min(from_iso8601_timestamp('2024-01-05T12:00:00+02:00')) FROM clicks`)
		require.Len(t, res.Rows, 1)
		assert.EqualValues(t, 1, res.Rows[0][0])
		assert.EqualValues(t, 4, res.Rows[0][1])
		assert.EqualValues(t, 0, res.Rows[0][2])
		assert.True(t, ts("2024-01-05 10:00:00").Equal(res.Rows[0][3].(time.Time)), "%v", res.Rows[0][3])
	})
	t.Run("regexp_like, element_at, cardinality, try_cast, date_trunc", func(t *testing.T) {
		res := run(t, `SELECT count_if(regexp_like(url, '^https://a\.')), max(element_at(tags, 1)), max(element_at(tags, 5)),
			max(element_at(attrs, 'ref')), sum(cardinality(tags)), sum(cardinality(attrs)),
			max(try_cast(url AS bigint)), max(try_cast('42' AS bigint)), min(date_trunc('hour', ts))
			FROM clicks WHERE dt = '2024-01-05'`)
		assert.Equal(t, []any{int64(2), "c", nil, "google", int64(3), int64(2), nil, int64(42), ts("2024-01-05 10:00:00")}, res.Rows[0])
		for i, c := range res.Columns {
			assert.Equal(t, "_col"+string(rune('0'+i)), c)
		}
	})
	t.Run("arrays, maps and structs print as in Athena", func(t *testing.T) {
		res := run(t, "SELECT tags, attrs, CAST(ROW(user_id, url) AS ROW(id bigint, url varchar)) FROM clicks WHERE user_id = 1 ORDER BY ts LIMIT 1")
		var buf bytes.Buffer
		require.NoError(t, res.Write(&buf, query.CSV))
		assert.Equal(t, "tags,attrs,_col2\n\"[a, b]\",{ref=google},\"{id=1, url=https://a.example/x}\"\n", buf.String())
	})
	t.Run("date_add and date_diff count like Trino", func(t *testing.T) {
		res := run(t, `SELECT date_add('day', 1, ts), date_diff('day', ts, TIMESTAMP '2024-01-06 10:15:29') FROM clicks WHERE user_id = 1 AND dt = '2024-01-05' ORDER BY ts LIMIT 1`)
		assert.Equal(t, []any{ts("2024-01-06 10:15:30"), int64(0)}, res.Rows[0])
	})
}

// TestTableUnknownFunction: a function neither DuckDB nor the translation
// knows is an error naming it and what to use, not DuckDB's message alone.
func TestTableUnknownFunction(t *testing.T) {
	dir, def := clicksLake(t)
	for sql, want := range map[string][]string{
		"SELECT url_extract_host(url) FROM clicks": {"url_extract_host", "Athena (Trino) function", "regexp_extract"},
		"SELECT no_such_function(url) FROM clicks": {"no_such_function", "neither a DuckDB function nor an Athena (Trino) function tickflow translates", "docs/query.md"},
		// Trino's other URL functions name a DuckDB expression too, not
		// DuckDB's spelling-alike guess (url_extract_path is not json_extract_path).
		"SELECT url_extract_path(url) FROM clicks":             {"url_extract_path is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT url_extract_query(url) FROM clicks":            {"url_extract_query is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT url_extract_protocol(url) FROM clicks":         {"url_extract_protocol is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT url_extract_port(url) FROM clicks":             {"url_extract_port is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT url_extract_fragment(url) FROM clicks":         {"url_extract_fragment is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT url_extract_parameter(url, 'ref') FROM clicks": {"url_extract_parameter is an Athena (Trino) function", "regexp_extract(url, "},
		"SELECT date_format(ts, '%D') FROM clicks":             {"%D", "not supported"},
		"SELECT date_format(ts, format_col) FROM clicks":       {"string literal"},
	} {
		_, err := query.RunTable(context.Background(), dir, def, sql)
		require.Error(t, err, sql)
		for _, w := range want {
			assert.Contains(t, err.Error(), w, sql)
		}
	}
	// DuckDB's "Did you mean" is spelled alike, not the same function: it is
	// offered as a name to check, never as "use X".
	_, err := query.RunTable(context.Background(), dir, def, "SELECT bogus_fn(url) FROM clicks")
	require.Error(t, err)
	assert.NotRegexp(t, `use "[a-z_]+" \(DuckDB's closest name\)`, err.Error())
	assert.Contains(t, err.Error(), "spelled alike")
	_, err = query.RunTable(context.Background(), dir, def, "SELECT 1 FROM other.clicks")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the table here is clicks, also reachable as web.clicks, "default"."clicks"`)
	_, err = query.RunTable(context.Background(), dir, def, "SELECT nosuch FROM clicks")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "table web.clicks has columns user_id, url, ts, tags, attrs, epoch_s, dt")
}

// ordersDDL is a delimited text table: '|' fields, a header line, \N NULLs.
const ordersDDL = `CREATE EXTERNAL TABLE orders (order_id int, amount decimal(10,2), placed timestamp, note string)
PARTITIONED BY (region string)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
LOCATION 's3://lake/shop/orders/'
TBLPROPERTIES ('skip.header.line.count'='1')`

// TestTableCSV: a CSV table answers Athena-dialect SQL: its delimiter, no
// quoting, a skipped header, unparsable numbers as NULL (LazySimpleSerDe),
// gzip, the partition from the folder.
func TestTableCSV(t *testing.T) {
	def, err := lake.ParseTable("orders.sql", []byte(ordersDDL), lake.AcceptText())
	require.NoError(t, err)
	dir := t.TempDir()
	put(t, dir, "shop/orders/region=eu/a.csv", []byte("order_id|amount|placed|note\n1|10.50|2024-01-05 10:00:00|first\n2|oops|2024-01-05 11:00:00|\n3|7.25|\\N|third, with \"comma\"\n"))
	put(t, dir, "shop/orders/region=us/b.csv.gz", gz(t, []byte("order_id|amount|placed|note\n4|100.00|2024-01-06 09:30:00|big\n")))
	ctx := context.Background()

	res, err := query.RunTable(ctx, dir, def, "SELECT region, count(*), CAST(sum(amount) AS double), count(placed) FROM orders GROUP BY 1 ORDER BY 1")
	require.NoError(t, err)
	assert.Equal(t, []string{"region", "_col1", "_col2", "_col3"}, res.Columns)
	assert.Equal(t, [][]any{{"eu", int64(3), 17.75, int64(2)}, {"us", int64(1), 100.0, int64(1)}}, res.Rows)

	res, err = query.RunTable(ctx, dir, def, `SELECT order_id, amount IS NULL, note, date_format(placed, '%Y/%m/%d %H:%i'), to_unixtime(placed)
		FROM "default".orders ORDER BY order_id`)
	require.NoError(t, err)
	require.Len(t, res.Rows, 4)
	assert.Equal(t, []any{int32(2), true, "", "2024/01/05 11:00", 1704452400.0}, res.Rows[1])
	assert.Equal(t, []any{int32(3), false, `third, with "comma"`, nil, nil}, res.Rows[2])

	// A tab-separated Glue table without a header, Ctrl-A default aside.
	glue := `{"Table": {"Name": "tsv", "DatabaseName": "shop", "StorageDescriptor": {"Columns": [{"Name": "k", "Type": "string"}, {"Name": "n", "Type": "int"}],
		"Location": "s3://lake/tsv/", "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
		"SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "Parameters": {"field.delim": "\t"}}}}}`
	tsv, err := lake.ParseTable("tsv.json", []byte(glue), lake.AcceptText())
	require.NoError(t, err)
	put(t, dir, "tsv/x.tsv", []byte("a\t1\nb\t2\n"))
	res, err = query.RunTable(ctx, dir, tsv, "SELECT sum(n), array_join(array_agg(k ORDER BY k), ',') FROM shop.tsv")
	require.NoError(t, err)
	assert.Equal(t, []any{int64(3), "a,b"}, res.Rows[0])
}

// TestTableOpenCSV: OpenCSVSerde's quoting and escaping; every field is
// text, an empty one is an empty string.
func TestTableOpenCSV(t *testing.T) {
	ddl := `CREATE EXTERNAL TABLE people (name string, city string, age int)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"')
LOCATION 's3://lake/people/'`
	def, err := lake.ParseTable("people.sql", []byte(ddl), lake.AcceptText())
	require.NoError(t, err)
	dir := t.TempDir()
	put(t, dir, "people/a.csv", []byte("\"Doe, Jane\",Paris,41\nBob,,x\n"))
	res, err := query.RunTable(context.Background(), dir, def, "SELECT name, city, age FROM people ORDER BY name")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"Bob", "", nil}, {"Doe, Jane", "Paris", int32(41)}}, res.Rows)
}

// TestTableParquet: a Parquet table (Glue JSON) with two partition keys; a
// declared column no file has reads as NULL, as in Athena.
func TestTableParquet(t *testing.T) {
	dir := filepath.Join(lakes, "good-clicks")
	b, err := os.ReadFile(filepath.Join(dir, "clicks.glue.json"))
	require.NoError(t, err)
	def, err := lake.ParseTable("clicks.glue.json", b)
	require.NoError(t, err)
	res, err := query.RunTable(context.Background(), dir, def, "SELECT count(*) FROM clicks")
	require.NoError(t, err)
	assert.Equal(t, []string{"_col0"}, res.Columns)
	assert.EqualValues(t, 12, res.Rows[0][0])

	res, err = query.RunTable(context.Background(), dir, def, "SELECT day, region, count(*) AS n FROM clicks GROUP BY ALL ORDER BY ALL")
	require.NoError(t, err)
	assert.Len(t, res.Rows, 3)

	def.Columns = append(def.Columns, lake.Column{Name: "added_later", Type: "string"})
	res, err = query.RunTable(context.Background(), dir, def, "SELECT count(added_later), count(*) FROM clicks")
	require.NoError(t, err)
	assert.Equal(t, []any{int64(0), int64(12)}, res.Rows[0])

	_, err = query.RunTable(context.Background(), t.TempDir(), def, "SELECT 1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no data objects for table clicks")
}

// TestURLSuggestionsRun: the expression the error offers for each of Trino's
// url_extract_* runs as given and answers what Trino answers for the same
// URL (java.net.URI: path, query and fragment percent-decoded; the
// parameter split from the decoded query).
func TestURLSuggestionsRun(t *testing.T) {
	dir, def := clicksLake(t)
	const u = "http://example.com:8080/path1/p%20q.php?k1=v1&ref=a%2Fb#Ref1"
	for fn, want := range map[string]any{
		"url_extract_host":      "example.com",
		"url_extract_protocol":  "http",
		"url_extract_port":      int64(8080),
		"url_extract_path":      "/path1/p q.php",
		"url_extract_query":     "k1=v1&ref=a/b",
		"url_extract_fragment":  "Ref1",
		"url_extract_parameter": "a/b",
	} {
		_, err := query.RunTable(context.Background(), dir, def, "SELECT "+fn+"(url) FROM clicks")
		require.Error(t, err, fn)
		_, use, ok := strings.Cut(err.Error(), "; use ")
		require.True(t, ok, err.Error())
		expr := strings.ReplaceAll(use, "NAME", "ref")
		res, err := query.RunTable(context.Background(), dir, def, "SELECT "+expr+" FROM (SELECT '"+u+"' AS url)")
		require.NoError(t, err, "%s: %s", fn, expr)
		assert.Equal(t, want, res.Rows[0][0], "%s: %s", fn, expr)
	}
}

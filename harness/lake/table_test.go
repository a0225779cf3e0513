package lake_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

func TestParseTableFormats(t *testing.T) {
	cases := []struct {
		file, name, location, format, serde string
		cols, keys                          []string
	}{
		{"good-clicks/clicks.glue.json", "clicks", "s3://web-lake/events/clicks/", lake.FormatParquet, lake.SerDeParquet,
			[]string{"user_id bigint", "url string", "referrer string", "duration_ms int", "clicked_at timestamp"}, []string{"day string", "region string"}},
		{"good-orders/orders.sql", "orders", "s3://shop-lake/orders/", lake.FormatJSON, lake.SerDeOpenXJSON,
			[]string{"order_id string", "customer_id bigint", "amount decimal(12,2)", "currency string",
				"items array<struct<sku:string,qty:int,price:decimal(12,2)>>", "ordered_at timestamp"}, []string{"dt string"}},
		{"good-sensors/sensors.sql", "sensor_readings", "s3://iot-lake/raw/sensor_readings/", lake.FormatParquet, lake.SerDeParquet,
			[]string{"device_id string", "reading struct<temperature:double,humidity:float,ok:boolean>", "samples array<double>",
				"labels map<string,string>", "battery double", "calibration decimal(6,3)", "read_at timestamp"}, []string{"site string", "hour int"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(lakesDir, tc.file))
			require.NoError(t, err)
			def, err := lake.ParseTable(tc.file, b)
			require.NoError(t, err)
			assert.Equal(t, tc.name, def.Name)
			assert.Equal(t, tc.location, def.Location)
			assert.Equal(t, tc.format, def.Format)
			assert.Equal(t, tc.serde, def.SerDe)
			assert.Equal(t, tc.file, def.Source)
			assert.Equal(t, tc.cols, colStrings(def.Columns))
			assert.Equal(t, tc.keys, colStrings(def.PartitionKeys))
			assert.False(t, def.Crawled)
		})
	}
}

func colStrings(cols []lake.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + " " + c.Type
	}
	return out
}

// TestParseTableRoundTrip: what `tickflow ddl` prints (DDL and Glue JSON,
// both formats) parses back to the built-in table's columns and keys.
func TestParseTableRoundTrip(t *testing.T) {
	want := lake.StockTicks()
	for _, format := range []string{"parquet", "json"} {
		ddl, err := lake.DDL("s3://lake-bucket/p/", lake.DDLFormat(format))
		require.NoError(t, err)
		glue, err := lake.GlueTableInput("s3://lake-bucket/p/", lake.DDLFormat(format))
		require.NoError(t, err)
		for name, src := range map[string][]byte{"ddl.sql": []byte(ddl), "glue.json": glue} {
			def, err := lake.ParseTable(name, src)
			require.NoError(t, err, name)
			assert.Equal(t, colStrings(want.Columns), colStrings(def.Columns), name)
			assert.Equal(t, colStrings(want.PartitionKeys), colStrings(def.PartitionKeys), name)
			assert.Equal(t, format, def.Format, name)
			assert.Equal(t, "s3://lake-bucket/p/stock_ticks/", def.Location, name)
			assert.Equal(t, "true", def.Parameters["projection.enabled"], name)
		}
	}
}

func TestParseTableCrawled(t *testing.T) {
	src := `{"Table": {"Name": "clicks", "DatabaseName": "web", "Parameters": {"UPDATED_BY_CRAWLER": "clicks-crawler", "classification": "json"},
  "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}], "Location": "s3://b/clicks/",
  "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}}}}`
	def, err := lake.ParseTable("t.json", []byte(src))
	require.NoError(t, err)
	assert.True(t, def.Crawled)
	assert.Equal(t, "web", def.Database)
}

// TestParseTableErrors: every bad definition is a DefinitionError naming
// the file, line and column and saying how to fix it.
func TestParseTableErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"empty", "", 1, 1, "the file is empty"},
		{"not DDL", "SELECT 1", 1, 1, "not a table definition: expected CREATE"},
		{"unterminated string", "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/t/", 1, 42, "unterminated ' quote"},
		{"unknown type", "CREATE TABLE t (\n  a integer,\n  b text\n) STORED AS PARQUET LOCATION 's3://b/t/'", 3, 5, `unknown type "text"`},
		{"decimal too wide", "CREATE TABLE t (a decimal(39,2)) STORED AS PARQUET LOCATION 's3://b/t/'", 1, 19, "precision must be 1–38"},
		{"map key nested", "CREATE TABLE t (a map<array<int>,int>) STORED AS PARQUET LOCATION 's3://b/t/'", 1, 23, "map key must be a primitive"},
		{"struct dup field", "CREATE TABLE t (a struct<x:int,X:int>) STORED AS PARQUET LOCATION 's3://b/t/'", 1, 32, "appears twice"},
		{"missing comma", "CREATE TABLE t (a int b int) STORED AS PARQUET LOCATION 's3://b/t/'", 1, 23, `expected "," or ")"`},
		{"two statements", "CREATE TABLE t (a int) STORED AS PARQUET LOCATION 's3://b/t/'; DROP TABLE t", 1, 64, "one statement per file"},
		{"orc", "CREATE TABLE t (a int) STORED AS ORC LOCATION 's3://b/t/'", 1, 34, "STORED AS ORC is not supported"},
		{"no format", "CREATE TABLE t (a int) LOCATION 's3://b/t/'", 1, 14, "unsupported format"},
		{"location not s3", "CREATE TABLE t (a int) STORED AS PARQUET LOCATION '/data/t/'", 1, 51, "is not s3://bucket/path/"},
		{"dup column", "CREATE TABLE t (a int, A string) STORED AS PARQUET LOCATION 's3://b/t/'", 1, 24, "declared twice"},
		{"projection type", "CREATE TABLE t (a int) PARTITIONED BY (k string) STORED AS PARQUET LOCATION 's3://b/t/'\nTBLPROPERTIES ('projection.enabled'='true', 'projection.k.type'='list')", 2, 45, "projection.k.type"},
		{"projection missing", "CREATE TABLE t (a int) PARTITIONED BY (k string) STORED AS PARQUET LOCATION 's3://b/t/'\nTBLPROPERTIES ('projection.enabled'='true')", 2, 1, "projection.k.type: missing"},
		{"json array", "[1,2]", 1, 1, "not an object"},
		{"json no table", `{"Foo": 1}`, 1, 1, "not a Glue table"},
		{"json trailing", `{"Table": {"Name": "t"}} x`, 1, 26, "more data after the JSON object"},
		{"json no columns", `{"Table": {"Name": "t", "StorageDescriptor": {"Location": "s3://b/t/", "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"}}}`, 1, 46, "no columns"},
		{"json column not object", "{\"Table\": {\"Name\": \"t\", \"StorageDescriptor\": {\"Columns\": [\n  \"a int\"]}}}", 2, 3, "column 1 is a string"},
		{"json parameter not string", `{"Table": {"Name": "t", "Parameters": {"projection.enabled": true}, "StorageDescriptor": {}}}`, 1, 62, "quote the value"},
		{"json name number", `{"Table": {"Name": 5}}`, 1, 20, `"Name" is a number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lake.ParseTable("def.txt", []byte(tc.src))
			require.Error(t, err)
			var de *lake.DefinitionError
			require.True(t, errors.As(err, &de), "%T %v", err, err)
			assert.Equal(t, "def.txt", de.File)
			assert.Equal(t, [2]int{tc.line, tc.col}, [2]int{de.Line, de.Col}, "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("def.txt:%d:%d: ", de.Line, de.Col)), err.Error())
		})
	}
}

// TestWithTableOverS3: the same lake and definition give the same report
// from a folder that mirrors the bucket and from the bucket itself.
func TestWithTableOverS3(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"bad-clicks-projection", "bad-orders-decimal", "good-sensors"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(lakesDir, name)
			fx := fixture(t, name)
			b, err := os.ReadFile(filepath.Join(dir, fx.Table))
			require.NoError(t, err)
			def, err := lake.ParseTable(fx.Table, b)
			require.NoError(t, err)
			local, err := objstore.NewDir(dir)
			require.NoError(t, err)
			s3 := fakeS3(t, nil)
			upload(t, s3, "", fx.Objects, nil)
			a, err := lake.Check(ctx, local, "", lake.WithTable(def))
			require.NoError(t, err)
			c, err := lake.Check(ctx, s3, "", lake.WithTable(def))
			require.NoError(t, err)
			assert.Equal(t, a.Violations, c.Violations)
			assert.Equal(t, a.Rows, c.Rows)
			assert.Equal(t, a.Location, c.Location)
		})
	}
}

func TestWithTableWrongFolder(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(lakesDir, "good-clicks", "clicks.glue.json"))
	require.NoError(t, err)
	def, err := lake.ParseTable("clicks.glue.json", b)
	require.NoError(t, err)
	st, err := objstore.NewDir(filepath.Join(lakesDir, "good-clicks", "events"))
	require.NoError(t, err)
	_, err = lake.Check(context.Background(), st, "", lake.WithTable(def))
	require.ErrorIs(t, err, lake.ErrEmptyLake)
	assert.Contains(t, err.Error(), "mirrors bucket web-lake")
	assert.Contains(t, err.Error(), "events/clicks/")
}

// ExampleParseTable checks a lake against a table definition as `aws glue
// get-table` prints it.
func ExampleParseTable() {
	src := []byte(`{"Table": {"Name": "clicks",
	  "StorageDescriptor": {"Location": "s3://web-lake/events/clicks/",
	    "Columns": [{"Name": "user_id", "Type": "bigint"}, {"Name": "url", "Type": "string"}],
	    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}},
	  "PartitionKeys": [{"Name": "day", "Type": "string"}]}}`)
	def, err := lake.ParseTable("clicks.json", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(def.Name, def.Format, def.Location, len(def.Columns), "columns")
	// A folder that mirrors the bucket web-lake: the table is under events/clicks/.
	//   rep, err := lake.Check(ctx, st, "", lake.WithTable(def))

	_, err = lake.ParseTable("bad.sql", []byte("CREATE EXTERNAL TABLE t (\n  id bigint,\n  price money\n) STORED AS PARQUET LOCATION 's3://b/t/'"))
	fmt.Println(err)
	// Output:
	// clicks parquet s3://web-lake/events/clicks/ 2 columns
	// bad.sql:3:9: unknown type "money"; fix: use a Glue/Hive type: string, tinyint, smallint, int, bigint, float, double, boolean, date, timestamp, binary, decimal(p,s), char(n), varchar(n), array<T>, map<K,V>, struct<name:T,...>
}

// TestTimestampEncodingsReported: the report states every Parquet timestamp
// column's unit and isAdjustedToUTC.
func TestTimestampEncodingsReported(t *testing.T) {
	for name, want := range map[string][]lake.TimestampColumn{
		"good-clicks": {{Column: "clicked_at", Encoding: "INT64 TIMESTAMP(MILLIS), isAdjustedToUTC=true", Files: 3}},
		"bad-clicks-micros": {
			{Column: "clicked_at", Encoding: "INT64 TIMESTAMP(MICROS), isAdjustedToUTC=true", Files: 1},
			{Column: "clicked_at", Encoding: "INT64 TIMESTAMP(MILLIS), isAdjustedToUTC=true", Files: 2},
		},
		"bad-int96": {{Column: "event_time", Encoding: "INT96 (legacy, no time zone semantics)", Files: 5}},
	} {
		t.Run(name, func(t *testing.T) {
			fx := fixture(t, name)
			opts := []lake.Option{}
			if fx.Table != "" {
				b, err := os.ReadFile(filepath.Join(lakesDir, name, fx.Table))
				require.NoError(t, err)
				def, err := lake.ParseTable(fx.Table, b)
				require.NoError(t, err)
				opts = append(opts, lake.WithTable(def))
			}
			rep, err := lake.Check(context.Background(), fixtureStore(t, name), "", opts...)
			require.NoError(t, err)
			assert.Equal(t, want, rep.Timestamps)
			var b strings.Builder
			require.NoError(t, rep.WriteText(&b))
			assert.Contains(t, b.String(), want[0].Encoding)
		})
	}
}

// TestDottedTopicNames: topic names may contain dots (and end in .json);
// the object name is still read from its known extension.
func TestDottedTopicNames(t *testing.T) {
	good := fixture(t, "good-json").Objects
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	for _, o := range good {
		if o.Path == "README.md" {
			continue
		}
		require.NoError(t, st.Put(context.Background(), strings.Replace(o.Path, "stock-ticks+", "prod.ticks.v2.json+", 1), o.Body, nil))
	}
	rep, err := lake.Check(context.Background(), st, "", lake.ExpectRecords(25))
	require.NoError(t, err)
	assert.Empty(t, rep.Violations)
	assert.Len(t, rep.Partitions, 2)
}

func TestProjectionRelativeDates(t *testing.T) {
	ddl := "CREATE EXTERNAL TABLE recent (a int) PARTITIONED BY (dt string) STORED AS PARQUET LOCATION 's3://b-lake/recent/'\n" +
		"TBLPROPERTIES ('projection.enabled'='true','projection.dt.type'='date','projection.dt.format'='yyyyMMdd','projection.dt.range'='NOW-7DAYS,NOW')"
	def, err := lake.ParseTable("recent.sql", []byte(ddl))
	require.NoError(t, err)
	type row struct {
		A int32 `parquet:"a"`
	}
	body := parquetBytes(t, []row{{1}, {2}})
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	// Yesterday is projected; a folder from two years ago and one in another
	// format (2024-01-05 instead of 20240105) are not.
	now := time.Now().UTC()
	for _, d := range []string{now.AddDate(0, 0, -1).Format("20060102"), now.AddDate(-2, 0, 0).Format("20060102"), "2024-01-05"} {
		require.NoError(t, st.Put(context.Background(), "recent/dt="+d+"/part-0.parquet", body, nil))
	}
	rep, err := lake.Check(context.Background(), st, "", lake.WithTable(def))
	require.NoError(t, err)
	assert.Equal(t, []string{"L01", "L25"}, rep.Rules(), "%v", rep.Violations)
	for _, v := range rep.Violations {
		switch v.Rule {
		case "L25":
			assert.Equal(t, "recent/dt="+now.AddDate(-2, 0, 0).Format("20060102")+"/", v.Key)
			assert.Contains(t, v.Message, "2 rows")
		case "L01":
			assert.Equal(t, "recent/dt=2024-01-05/", v.Key)
			assert.Contains(t, v.Message, "yyyyMMdd")
		}
	}
}

// TestCrawledTable: a Glue table a crawler maintains is judged by the
// crawler's view (L05, C01); the same table without a crawler by how Athena
// reads each file (L19).
func TestCrawledTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(lakesDir, "good-clicks", "clicks.glue.json"))
	require.NoError(t, err)
	crawled := strings.Replace(string(b), `"EXTERNAL": "TRUE",`, `"EXTERNAL": "TRUE", "UPDATED_BY_CRAWLER": "clicks-crawler",`, 1)
	require.NotEqual(t, string(b), crawled)
	def, err := lake.ParseTable("clicks.glue.json", []byte(crawled))
	require.NoError(t, err)
	require.True(t, def.Crawled)
	for lakeName, want := range map[string][]string{
		"good-clicks":        nil,
		"bad-clicks-renamed": {"C01", "L05"},
	} {
		rep, err := lake.Check(context.Background(), fixtureStore(t, lakeName), "", lake.WithTable(def))
		require.NoError(t, err)
		if want == nil {
			assert.Empty(t, rep.Violations, lakeName)
			require.Len(t, rep.Tables, 1)
			assert.Equal(t, "clicks", rep.Tables[0].Name)
			continue
		}
		assert.Equal(t, want, rep.Rules(), "%s: %v", lakeName, rep.Violations)
	}
}

// TestJSONKindFlipsUndeclared: in a crawled table a key the table does not
// declare must keep one JSON kind, or the crawler's type flips (L07).
func TestJSONKindFlipsUndeclared(t *testing.T) {
	good := fixture(t, "good-json").Objects
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	n := 0
	for _, o := range good {
		if !strings.HasSuffix(o.Path, ".json") {
			continue
		}
		venue := `"venue":"HKEX",`
		if n == 0 {
			venue = `"venue":{"code":"HKEX"},`
		}
		n++
		require.NoError(t, st.Put(context.Background(), o.Path, []byte(strings.ReplaceAll(string(o.Body), `{"symbol"`, `{`+venue+`"symbol"`)), nil))
	}
	rep, err := lake.Check(context.Background(), st, "")
	require.NoError(t, err)
	var l07 []lake.Violation
	for _, v := range rep.Violations {
		if v.Rule == "L07" {
			l07 = append(l07, v)
		}
	}
	require.Len(t, l07, 1, "%v", rep.Violations)
	assert.Contains(t, l07[0].Message, "key venue is written as struct in 5 lines here but as string in most lines")
}

// TestDeclaredColumnNeverWritten: a declared column that no file carries
// is NULL in every row (L19), named once for the table.
func TestDeclaredColumnNeverWritten(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(lakesDir, "good-clicks", "clicks.glue.json"))
	require.NoError(t, err)
	src := strings.Replace(string(b), `{"Name": "url", "Type": "string"},`, `{"Name": "url", "Type": "string"}, {"Name": "campaign", "Type": "string"},`, 1)
	def, err := lake.ParseTable("clicks.glue.json", []byte(src))
	require.NoError(t, err)
	rep, err := lake.Check(context.Background(), fixtureStore(t, "good-clicks"), "", lake.WithTable(def))
	require.NoError(t, err)
	require.Len(t, rep.Violations, 1, "%v", rep.Violations)
	v := rep.Violations[0]
	assert.Equal(t, "L19", v.Rule)
	assert.Equal(t, "events/clicks/", v.Key)
	assert.Contains(t, v.Message, "declared column campaign is in none of the 3 data files")
}

// TestKafkaColumnsWithoutSinkNames: a table of another sink with Kafka
// coordinate columns gets the offset coverage, not tickflow's naming rule.
func TestKafkaColumnsWithoutSinkNames(t *testing.T) {
	ddl := "CREATE EXTERNAL TABLE events (id string, kafka_partition int, kafka_offset bigint) STORED AS PARQUET LOCATION 's3://ev-lake/events/'"
	def, err := lake.ParseTable("events.sql", []byte(ddl))
	require.NoError(t, err)
	type ev struct {
		ID        string `parquet:"id"`
		Partition int32  `parquet:"kafka_partition"`
		Offset    int64  `parquet:"kafka_offset"`
	}
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, st.Put(ctx, "events/part-0000.parquet", parquetBytes(t, []ev{{"a", 0, 0}, {"b", 0, 1}}), nil))
	require.NoError(t, st.Put(ctx, "events/part-0001.parquet", parquetBytes(t, []ev{{"c", 0, 3}}), nil))
	rep, err := lake.Check(ctx, st, "", lake.WithTable(def))
	require.NoError(t, err)
	require.Len(t, rep.Violations, 1, "%v", rep.Violations)
	assert.Equal(t, "L12", rep.Violations[0].Rule)
	assert.Contains(t, rep.Violations[0].Message, "offsets 2 are missing")
	require.Len(t, rep.Partitions, 1)
	assert.Equal(t, int64(3), rep.Partitions[0].Distinct)
}

// ExampleWithTable checks a folder that mirrors the bucket web-lake against
// the clicks table as `aws glue get-table` printed it.
func ExampleWithTable() {
	ctx := context.Background()
	b, err := os.ReadFile("../../testdata/lakes/bad-clicks-renamed/clicks.glue.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	def, err := lake.ParseTable("clicks.glue.json", b)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := objstore.NewDir("../../testdata/lakes/bad-clicks-renamed") // aws s3 sync s3://web-lake DIR
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := lake.Check(ctx, st, "", lake.WithTable(def))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Location, rep.Rows, "rows", rep.OK())
	for _, v := range rep.Violations {
		fmt.Println(v.Rule, v.Key)
	}
	// Output:
	// events/clicks/ 12 rows false
	// L19 events/clicks/day=2024-03-01/region=eu/part-00000.parquet
}

// TestJSONIntegerInDoubleColumn: 5 in a double column reads as 5.0 through
// the SerDe; it matters only where a crawler infers the type.
func TestJSONIntegerInDoubleColumn(t *testing.T) {
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, st.Put(context.Background(), "prices/p.json", []byte("{\"sku\":\"a\",\"price\":5}\n{\"sku\":\"b\",\"price\":5.5}\n"), nil))
	ddl := "CREATE EXTERNAL TABLE prices (sku string, price double) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://shop-lake/prices/'"
	def, err := lake.ParseTable("prices.sql", []byte(ddl))
	require.NoError(t, err)
	rep, err := lake.Check(context.Background(), st, "", lake.WithTable(def))
	require.NoError(t, err)
	assert.Empty(t, rep.Violations)

	def.Crawled = true
	rep, err = lake.Check(context.Background(), st, "", lake.WithTable(def))
	require.NoError(t, err)
	assert.Contains(t, rep.Rules(), "L07")
}

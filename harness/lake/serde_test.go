package lake_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// clicksDDL is a table of a user's own: JSON Lines partitioned by dt only,
// read by the SerDe serde with the extra SERDEPROPERTIES props.
func clicksDDL(serde, props string) string {
	ddl := "CREATE EXTERNAL TABLE web.clicks (user_id bigint, url string, clicked_at timestamp)\n" +
		"PARTITIONED BY (dt string)\n" +
		"ROW FORMAT SERDE '" + serde + "'\n"
	if props != "" {
		ddl += "WITH SERDEPROPERTIES (" + props + ")\n"
	}
	return ddl + "LOCATION 's3://web-lake/events/clicks/'"
}

// checkClicks checks lines (path → JSON Lines) against the clicks table.
func checkClicks(t *testing.T, ddl string, objects map[string]string, opts ...lake.Option) *lake.Report {
	t.Helper()
	def, err := lake.ParseTable("clicks.sql", []byte(ddl))
	require.NoError(t, err)
	st, err := objstore.NewDir(t.TempDir())
	require.NoError(t, err)
	for p, body := range objects {
		require.NoError(t, st.Put(context.Background(), p, []byte(body), nil))
	}
	rep, err := lake.Check(context.Background(), st, "", append(opts, lake.WithTable(def))...)
	require.NoError(t, err)
	return rep
}

func rulesOf(rep *lake.Report, id string) []lake.Violation {
	var out []lake.Violation
	for _, v := range rep.Violations {
		if v.Rule == id {
			out = append(out, v)
		}
	}
	return out
}

// TestFixTextsNameTheTable: a wrong folder layout in a table of the user's
// own gets a fix with the table's own location and partition keys, in the
// violation and in the report's text, never the built-in stock_ticks'.
func TestFixTextsNameTheTable(t *testing.T) {
	line := `{"user_id":1,"url":"/a","clicked_at":"2024-03-01 09:00:00.000"}` + "\n"
	rep := checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), map[string]string{
		"events/clicks/dt=2024-03-01/part-0.json": line,
		"events/clicks/2024/03/02/part-0.json":    line,
	})
	l01 := rulesOf(rep, "L01")
	require.Len(t, l01, 1, "%v", rep.Violations)
	assert.Contains(t, l01[0].Fix, "events/clicks/dt=")
	assert.NotContains(t, l01[0].Fix, "stock_ticks")
	assert.NotContains(t, l01[0].Fix, "hour")
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.NotContains(t, buf.String(), "stock_ticks")
	assert.NotContains(t, buf.String(), "hour=HH")
	assert.Contains(t, buf.String(), "events/clicks/dt=")
	for _, v := range rep.Violations {
		assert.NotContains(t, v.Fix, "stock_ticks", "%v", v)
	}
}

// TestCrawlerPredictionOnlyWhenCrawled: a table no crawler manages gets no
// crawler prediction and no C01 unless asked (PredictCrawler); a table
// whose Glue parameters name a crawler gets them.
func TestCrawlerPredictionOnlyWhenCrawled(t *testing.T) {
	line := `{"user_id":1,"url":"/a","clicked_at":"2024-03-01 09:00:00.000"}` + "\n"
	objects := map[string]string{ // a crawler would make two tables of these
		"events/clicks/dt=2024-03-01/part-0.json": line,
		"events/clicks/part-root.json":            line,
	}
	rep := checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), objects)
	assert.Empty(t, rulesOf(rep, "C01"), "%v", rep.Violations)
	assert.Empty(t, rep.Tables)
	assert.False(t, rep.Crawled)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.NotContains(t, buf.String(), "PREDICTED GLUE TABLES")
	assert.Contains(t, buf.String(), "crawler prediction (C01) not made")

	rep = checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), objects, lake.PredictCrawler())
	assert.NotEmpty(t, rulesOf(rep, "C01"), "%v", rep.Violations)
	assert.Len(t, rep.Tables, 2)

	crawled := clicksDDL(lake.SerDeOpenXJSON, "") + " TBLPROPERTIES ('CrawlerSchemaDeserializerVersion'='1.0', 'classification'='json')"
	rep = checkClicks(t, crawled, objects)
	assert.True(t, rep.Crawled)
	assert.NotEmpty(t, rulesOf(rep, "C01"), "%v", rep.Violations)
}

// TestJSONFollowsSerDe: what a JSON value is worth depends on the SerDe the
// table declares, as Athena engine 3 (Trino's openxjson and json readers)
// parses it. Errors fail the check, warnings mark behaviour that differs
// between engine versions.
func TestJSONFollowsSerDe(t *testing.T) {
	const openx, hive = lake.SerDeOpenXJSON, lake.SerDeHiveJSON
	cases := []struct {
		name, serde, props string
		line               string // the clicked line's fields after user_id
		errs, warns        []string
		msg                string // in the first finding's message
	}{
		{name: "openx quoted bigint", serde: openx, line: `"user_id":"9000000001","url":"/a","clicked_at":"2024-03-01 09:00:00.000"`},
		{name: "hive quoted bigint", serde: hive, line: `"user_id":"9000000001","url":"/a","clicked_at":"2024-03-01 09:00:00.000"`,
			errs: []string{"L07"}, msg: "the Hive JSON SerDe reads integers only from JSON numbers"},
		{name: "openx ISO 8601 Z", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T09:00:00Z"`},
		{name: "openx ISO 8601 offset", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T10:00:00.250+01:00"`},
		{name: "openx ISO 8601 no zone", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T09:00:00"`},
		{name: "openx epoch millis", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":1709283600000`},
		{name: "openx quoted epoch seconds", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"1709283600"`},
		{name: "openx date only", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01"`, errs: []string{"L22"}, msg: "neither a date-time"},
		{name: "hive ISO 8601 Z", serde: hive, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T09:00:00Z"`,
			errs: []string{"L22"}, msg: "ISO 8601 with a zone"},
		{name: "hive ISO 8601 no zone", serde: hive, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T09:00:00"`, warns: []string{"L22"}},
		{name: "hive date only", serde: hive, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01"`, warns: []string{"L22"}, msg: "date without a time of day"},
		{name: "hive epoch millis", serde: hive, line: `"user_id":1,"url":"/a","clicked_at":1709283600000`, errs: []string{"L22"}, msg: "timestamp.formats=millis"},
		{name: "hive epoch millis declared", serde: hive, props: `'timestamp.formats'='millis'`, line: `"user_id":1,"url":"/a","clicked_at":1709283600000`},
		{name: "hive ISO Z declared", serde: hive, props: `'timestamp.formats'='yyyy-MM-dd\'T\'HH:mm:ssZZ'`, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01T09:00:00Z"`},
		{name: "openx own format", serde: openx, props: `'timestamp.formats'='dd/MM/yyyy HH:mm'`, line: `"user_id":1,"url":"/a","clicked_at":"01/03/2024 09:00"`},
		{name: "openx own format missing", serde: openx, line: `"user_id":1,"url":"/a","clicked_at":"01/03/2024 09:00"`, errs: []string{"L22"}},
		{name: "openx own format other value", serde: openx, props: `'timestamp.formats'='dd/MM/yyyy HH:mm'`, line: `"user_id":1,"url":"/a","clicked_at":"March 1st"`,
			errs: []string{"L22"}, msg: `matches none of timestamp.formats "dd/MM/yyyy HH:mm"`},
		{name: "openx not a number", serde: openx, line: `"user_id":"C-1","url":"/a","clicked_at":"2024-03-01 09:00:00"`, errs: []string{"L07"}, msg: "HIVE_BAD_DATA"},
		{name: "openx not a number, null for invalid", serde: openx, props: `'use.null.for.invalid.data'='true'`, line: `"user_id":"C-1","url":"/a","clicked_at":"2024-03-01 09:00:00"`,
			errs: []string{"L07"}, msg: "Athena returns NULL for it"},
		{name: "openx fraction in bigint", serde: openx, line: `"user_id":12.5,"url":"/a","clicked_at":"2024-03-01 09:00:00"`, warns: []string{"L07"}, msg: "truncate"},
		{name: "hive fraction in bigint", serde: hive, line: `"user_id":12.5,"url":"/a","clicked_at":"2024-03-01 09:00:00"`, warns: []string{"L07"}},
		{name: "openx integral double in bigint", serde: openx, line: `"user_id":12.0,"url":"/a","clicked_at":"2024-03-01 09:00:00"`},
		{name: "openx upper-case key", serde: openx, line: `"User_ID":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"`},
		{name: "openx case-sensitive", serde: openx, props: `'case.insensitive'='false'`, line: `"User_ID":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"`,
			errs: []string{"L21"}, msg: "reads as NULL"},
		{name: "openx case-sensitive mapped", serde: openx, props: `'case.insensitive'='false', 'mapping.user_id'='User_ID'`, line: `"User_ID":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"`},
		{name: "hive upper-case key", serde: hive, line: `"User_ID":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"`, warns: []string{"L21"}, msg: "lowercases keys"},
		{name: "duplicate by case", serde: openx, line: `"user_id":1,"USER_ID":2,"url":"/a","clicked_at":"2024-03-01 09:00:00"`, errs: []string{"L21"}, msg: "Duplicate key"},
		{name: "hive ignore.malformed.json", serde: hive, props: `'ignore.malformed.json'='true'`, line: `"user_id":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"`,
			warns: []string{"L06"}, msg: "only the OpenX SerDe reads"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := checkClicks(t, clicksDDL(tc.serde, tc.props), map[string]string{
				"events/clicks/dt=2024-03-01/part-0.json": `{"user_id":2,"url":"/b","clicked_at":"2024-03-01 09:30:00.000"}` + "\n{" + tc.line + "}\n",
			})
			var errs, warns []string
			for _, v := range rep.Errors() {
				errs = append(errs, v.Rule)
			}
			for _, v := range rep.Warnings() {
				warns = append(warns, v.Rule)
			}
			assert.Equal(t, tc.errs, errs, "%v", rep.Violations)
			assert.Equal(t, tc.warns, warns, "%v", rep.Violations)
			if tc.msg != "" && assert.NotEmpty(t, rep.Violations) {
				assert.Contains(t, rep.Violations[0].Message, tc.msg)
			}
		})
	}
}

// TestMeasuredClicksOpenXvsHive is the table of the user's own
// (clicks, JSON, dt only): with OpenX its quoted bigint and ISO timestamp
// are clean and the wrong folder's fix names clicks; with the Hive JSON
// SerDe both values are still errors.
func TestMeasuredClicksOpenXvsHive(t *testing.T) {
	objects := map[string]string{
		"events/clicks/dt=2024-03-01/part-0.json": `{"user_id":"9000000001","url":"/a","clicked_at":"2024-03-01T09:00:00Z"}` + "\n",
		"events/clicks/2024/03/02/part-0.json":    `{"user_id":9000000002,"url":"/b","clicked_at":"2024-03-02 09:00:00"}` + "\n",
	}
	rep := checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), objects)
	assert.Equal(t, []string{"L01"}, rep.Rules(), "%v", rep.Violations)
	assert.Empty(t, rep.Tables)
	for _, v := range rep.Violations {
		assert.NotContains(t, v.Fix, "stock_ticks")
		assert.NotContains(t, v.Fix, "doubles with a decimal point")
		assert.NotContains(t, v.Message, "Athena returns NULL")
	}
	rep = checkClicks(t, clicksDDL(lake.SerDeHiveJSON, ""), objects)
	assert.Equal(t, []string{"L01", "L07", "L22"}, rep.Rules(), "%v", rep.Violations)
}

// TestJSONObjectInStringColumn: OpenX (Trino) returns an object's JSON text
// for a string column (a warning: other engine versions fail); the Hive JSON
// SerDe reads strings only from scalars (an error).
func TestJSONObjectInStringColumn(t *testing.T) {
	objects := map[string]string{
		"events/clicks/dt=2024-03-01/part-0.json": `{"user_id":1,"url":{"path":"/a"},"clicked_at":"2024-03-01 09:00:00"}` + "\n",
	}
	rep := checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), objects)
	assert.True(t, rep.OK(), "%v", rep.Violations)
	assert.Equal(t, []string{"L07"}, rep.Rules())
	rep = checkClicks(t, clicksDDL(lake.SerDeHiveJSON, ""), objects)
	assert.False(t, rep.OK())
	assert.Equal(t, []string{"L07"}, rep.Rules())
}

// TestOpenXQuotedIntRange: a quoted number is still range-checked (L20).
func TestOpenXQuotedIntRange(t *testing.T) {
	ddl := "CREATE EXTERNAL TABLE web.clicks (user_id int, url string) PARTITIONED BY (dt string) " +
		"ROW FORMAT SERDE '" + lake.SerDeOpenXJSON + "' LOCATION 's3://web-lake/events/clicks/'"
	rep := checkClicks(t, ddl, map[string]string{
		"events/clicks/dt=2024-03-01/part-0.json": `{"user_id":"3000000000","url":"/a"}` + "\n" + `{"user_id":"1e3","url":"/b"}` + "\n",
	})
	assert.Equal(t, []string{"L20"}, rep.Rules(), "%v", rep.Violations)
}

// TestOpenXScalarLine: OpenX reads a line that is not an object or array
// as a row of NULLs (no error); the Hive JSON SerDe fails the query. Both
// are L06.
func TestOpenXScalarLine(t *testing.T) {
	objects := map[string]string{
		"events/clicks/dt=2024-03-01/part-0.json": `{"user_id":1,"url":"/a","clicked_at":"2024-03-01 09:00:00"}` + "\n" + `"just a string"` + "\n",
	}
	rep := checkClicks(t, clicksDDL(lake.SerDeOpenXJSON, ""), objects)
	l06 := rulesOf(rep, "L06")
	require.Len(t, l06, 1, "%v", rep.Violations)
	assert.Contains(t, l06[0].Message, "row whose columns are all NULL")
	rep = checkClicks(t, clicksDDL(lake.SerDeHiveJSON, ""), objects)
	l06 = rulesOf(rep, "L06")
	require.Len(t, l06, 1, "%v", rep.Violations)
	assert.Contains(t, l06[0].Message, "HIVE_CURSOR_ERROR")
}

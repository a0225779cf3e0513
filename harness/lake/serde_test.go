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

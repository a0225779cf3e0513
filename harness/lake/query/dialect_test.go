package query_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake/query"
)

func TestTranslate(t *testing.T) {
	clicks := query.TableName{Name: "clicks", Database: "web"}
	cases := []struct{ name, in, want string }{
		{"count star", "SELECT count(*) FROM clicks", `SELECT count(*) AS "_col0" FROM clicks`},
		{"named and unnamed", "SELECT dt, count(*), max(x) AS m, y z, t.a, 1 FROM clicks t GROUP BY dt",
			`SELECT dt, count(*) AS "_col1", max(x) AS m, y z, t.a, 1 AS "_col5" FROM clicks t GROUP BY dt`},
		{"case and interval", "SELECT CASE WHEN a THEN 1 END, INTERVAL '1' DAY, x IS NULL, NOT b FROM clicks",
			`SELECT CASE WHEN a THEN 1 END AS "_col0", INTERVAL '1' DAY AS "_col1", x IS NULL AS "_col2", NOT b AS "_col3" FROM clicks`},
		{"distinct and subquery", "SELECT DISTINCT upper(a) FROM (SELECT lower(b) FROM clicks)",
			`SELECT DISTINCT upper(a) AS "_col0" FROM (SELECT lower(b) AS "_col0" FROM clicks)`},
		{"unit words as aliases", "SELECT x day, count(*) hour, INTERVAL 2 HOUR, current_date, count(*) OVER w FROM clicks",
			`SELECT x day, count(*) hour, INTERVAL 2 HOUR AS "_col2", current_date AS "_col3", count(*) OVER w AS "_col4" FROM clicks`},
		{"array types", "SELECT CAST(x AS array(array(bigint))) AS a FROM clicks", "SELECT CAST(x AS bigint[][]) AS a FROM clicks"},
		{"row field", "SELECT CAST(r AS ROW(x int)).x, (r).y FROM clicks", `SELECT CAST(r AS ROW(x int)).x AS "x", (r).y AS "y" FROM clicks`},
		{"star", "SELECT *, count(*) OVER () FROM clicks", `SELECT *, count(*) OVER () AS "_tf_unnamed_1" FROM clicks`},
		{"describe untouched", "DESCRIBE clicks", "DESCRIBE clicks"},
		{"date_format", "SELECT date_format(ts, '%Y-%m-%d %H:%i:%s') AS d FROM clicks", "SELECT strftime(ts, '%Y-%m-%d %H:%M:%S') AS d FROM clicks"},
		{"date_parse", "SELECT date_parse('05/01/2024', '%d/%m/%Y') d", "SELECT strptime('05/01/2024', '%d/%m/%Y') d"},
		{"qualified", `SELECT a FROM "default"."clicks" JOIN web.clicks c ON true JOIN awsdatacatalog.web.clicks x ON true`,
			`SELECT a FROM "clicks" JOIN clicks c ON true JOIN clicks x ON true`},
		{"other database kept", "SELECT a FROM other.clicks", "SELECT a FROM other.clicks"},
		{"column refs kept", "SELECT c.clicks.a FROM clicks c", "SELECT c.clicks.a FROM clicks c"},
		{"strings and comments kept", "SELECT 'date_format(x, 1)' AS s -- count(*)\nFROM clicks", "SELECT 'date_format(x, 1)' AS s -- count(*)\nFROM clicks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := query.Translate(tc.in, clicks)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"SELECT date_format(ts, fmt) FROM clicks", "SELECT date_format(ts) FROM clicks", "SELECT date_format(ts, '%D') FROM clicks"} {
		_, err := query.Translate(bad, clicks)
		assert.Error(t, err, bad)
	}
}

func TestJodaFormat(t *testing.T) {
	for in, want := range map[string]string{
		"yyyy-MM-dd HH:mm:ss":          "%Y-%m-%d %H:%M:%S",
		"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'": "%Y-%m-%dT%H:%M:%S.%gZ",
		"EEEE, d MMMM yy h:mm a":       "%A, %-d %B %y %-I:%M %p",
		"'it''s' 100%":                 "it's 100%%",
	} {
		got, err := query.JodaFormat(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := query.JodaFormat("yyyy G")
	assert.Error(t, err)
}

func TestMySQLFormat(t *testing.T) {
	for in, want := range map[string]string{
		"%Y-%m-%d %H:%i:%s":    "%Y-%m-%d %H:%M:%S",
		"%Y-%m-%dT%H:%i:%s.%f": "%Y-%m-%dT%H:%M:%S.%f",
		"%e %M %Y, %W %r":      "%-d %B %Y, %A %I:%M:%S %p",
		"%c/%e/%y %k:%i %T %%": "%-m/%-d/%y %-H:%M %H:%M:%S %%",
	} {
		got, err := query.MySQLFormat(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := query.MySQLFormat("%D")
	assert.Error(t, err)
	assert.False(t, errors.Is(err, query.ErrUnknownFunction))
}

// FuzzTranslate: no input makes Translate panic, and text without a
// function it rewrites, a select list or a qualified name comes back as is.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{"SELECT count(*) FROM t", "SELECT .x", "SELECT x.", "SELECT (", "SELECT date_format(", "array(", "'", `"`, "/*", "SELECT a.b.c.d.e FROM x.y", "SELECT CAST(r AS ROW(x int)).x", "SELECT format_datetime(x, 'yyyy''x')"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = query.Translate(s, query.TableName{Name: "t", Database: "d"})
	})
}

package lake_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/lake/internal/fixtures"
	"github.com/tickflow/tickflow/harness/objstore"
)

var update = flag.Bool("update", false, "rewrite golden files")

const lakesDir = "../../testdata/lakes"

// TestFixtures: every fixture lake trips exactly its intended rules; the good
// ones are clean and predict the one contract table.
func TestFixtures(t *testing.T) {
	cases := []struct {
		lake   string
		rules  []string // exactly these rule IDs, nil for a clean lake
		tables int      // predicted Glue tables (crawled tables only)
		// partitionN: the prediction has partition_N keys
		partitionN bool
		rows       int64
	}{
		{lake: "good-parquet", tables: 1, rows: 25},
		{lake: "good-json", tables: 1, rows: 25},
		{lake: "good-nulls-parquet", tables: 1, rows: 25},
		{lake: "good-nulls-json", tables: 1, rows: 25},
		{lake: "bad-optional-int32-volume", rules: []string{"C01", "L11"}, tables: 1, rows: 25},
		{lake: "bad-json-array", rules: []string{"C01", "L06"}, tables: 3, rows: 20},
		{lake: "bad-json-pretty", rules: []string{"L06"}, tables: 1, rows: 20},
		{lake: "bad-root-file", rules: []string{"C01", "L02"}, tables: 2, rows: 28},
		{lake: "bad-success-marker", rules: []string{"L03"}, tables: 1, rows: 25},
		{lake: "bad-mixed-formats", rules: []string{"C01", "L04"}, tables: 3, rows: 25},
		{lake: "bad-extra-column", rules: []string{"C01", "L05"}, tables: 1, rows: 25},
		{lake: "bad-renamed-column", rules: []string{"C01", "L05"}, tables: 1, rows: 25},
		{lake: "bad-json-volume-double", rules: []string{"C01", "L07"}, tables: 1, rows: 25},
		{lake: "bad-non-hive", rules: []string{"C01", "L01"}, tables: 1, partitionN: true, rows: 25},
		{lake: "bad-kafka-partition-folder", rules: []string{"C01", "L01", "L13"}, tables: 1, rows: 25},
		{lake: "bad-dt-column", rules: []string{"C01", "L09"}, tables: 1, rows: 25},
		{lake: "bad-dt-colon", rules: []string{"L01", "L16"}, tables: 1, rows: 25},
		{lake: "bad-mixed-case-key", rules: []string{"L01"}, tables: 1, rows: 25},
		{lake: "bad-column-name", rules: []string{"C01", "L08"}, tables: 1, rows: 25},
		{lake: "bad-int96", rules: []string{"L11"}, tables: 1, rows: 25},
		{lake: "bad-nanos", rules: []string{"L11"}, tables: 1, rows: 25},
		{lake: "bad-overlap", rules: []string{"L12"}, tables: 1, rows: 30},
		{lake: "bad-gap", rules: []string{"L12"}, tables: 1, rows: 23},
		{lake: "bad-truncated-parquet", rules: []string{"L04"}, tables: 1, rows: 20},

		// Tables other than stock_ticks, each checked with its own definition:
		// no crawler manages them, so no crawler prediction (tables 0).
		{lake: "good-clicks", rows: 12},
		{lake: "bad-clicks-int32-bigint", rules: []string{"L11"}, rows: 12},
		{lake: "bad-clicks-binary-string", rules: []string{"L11"}, rows: 12},
		{lake: "bad-clicks-micros", rules: []string{"L11"}, rows: 12},
		{lake: "bad-clicks-int64-time", rules: []string{"L11"}, rows: 12},
		{lake: "bad-clicks-renamed", rules: []string{"L19"}, rows: 12},
		{lake: "bad-clicks-projection", rules: []string{"L25"}, rows: 20},
		{lake: "bad-clicks-projection-empty", rules: []string{"L15", "L26"}, rows: 12},
		{lake: "bad-clicks-hidden", rules: []string{"L03"}, rows: 12},
		{lake: "bad-clicks-region-column", rules: []string{"L09"}, rows: 12},
		{lake: "bad-clicks-nested-root", rules: []string{"L23"}, rows: 16},
		{lake: "good-orders", rows: 6},
		{lake: "bad-orders-decimal", rules: []string{"L17"}, rows: 6},
		{lake: "bad-orders-int-range", rules: []string{"L20"}, rows: 6},
		{lake: "bad-orders-key-case", rules: []string{"L21"}, rows: 6},
		{lake: "bad-orders-iso-time", rules: []string{"L22"}, rows: 6},
		{lake: "good-orders-openx-lenient", rows: 6},
		{lake: "bad-orders-us-time", rules: []string{"L22"}, rows: 6},
		{lake: "bad-orders-hive-quoted", rules: []string{"L07"}, rows: 6},
		{lake: "good-orders-hive", rows: 6},
		{lake: "bad-orders-kind", rules: []string{"L07"}, rows: 6},
		{lake: "bad-orders-items-object", rules: []string{"L18"}, rows: 6},
		{lake: "good-sensors", rows: 9},
		{lake: "bad-sensors-float-double", rules: []string{"L11"}, rows: 9},
		{lake: "bad-sensors-decimal", rules: []string{"L17"}, rows: 9},
		{lake: "bad-sensors-nested", rules: []string{"L18"}, rows: 9},
		{lake: "bad-sensors-hour-digits", rules: []string{"L25"}, rows: 12},
	}
	byName := map[string]fixtures.Lake{}
	for _, l := range fixtures.Lakes() {
		byName[l.Name] = l
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.lake, func(t *testing.T) {
			covered[tc.lake] = true
			fx, ok := byName[tc.lake]
			require.True(t, ok, "no fixture %s", tc.lake)
			assert.ElementsMatch(t, fx.Rules, tc.rules, "the fixture's README and this test disagree")
			st, err := objstore.NewDir(filepath.Join(lakesDir, tc.lake))
			require.NoError(t, err)
			opts := []lake.Option{lake.Production(fx.Production())}
			if fx.Table != "" {
				p := filepath.Join(lakesDir, tc.lake, fx.Table)
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				def, err := lake.ParseTable(p, b)
				require.NoError(t, err)
				opts = append(opts, lake.WithTable(def))
			}
			rep, err := lake.Check(context.Background(), st, "", opts...)
			require.NoError(t, err)
			got := rep.Rules()
			if tc.rules == nil {
				assert.Empty(t, got, "violations: %v", rep.Violations)
				assert.True(t, rep.OK())
			} else {
				assert.Equal(t, tc.rules, got, "violations: %v", rep.Violations)
				onlyWarnings := true
				for _, id := range tc.rules {
					for _, r := range lake.Rules {
						if r.ID == id && r.Severity == lake.Error {
							onlyWarnings = false
						}
					}
				}
				assert.Equal(t, onlyWarnings, rep.OK())
			}
			assert.Equal(t, tc.rows, rep.Rows)
			require.Len(t, rep.Tables, tc.tables, "tables: %+v", rep.Tables)
			hasN := false
			for _, tb := range rep.Tables {
				for _, k := range tb.PartitionKeys {
					if len(k.Name) > 10 && k.Name[:10] == "partition_" {
						hasN = true
					}
				}
			}
			assert.Equal(t, tc.partitionN, hasN, "partition_N keys in %+v", rep.Tables)
			for _, v := range rep.Violations {
				assert.NotEmpty(t, v.Key, "%v", v)
				assert.NotEmpty(t, v.Fix, "%v", v)
				assert.NotEmpty(t, v.Source, "%v", v)
			}
		})
	}
	// Every generated fixture is in the table above.
	for _, l := range fixtures.Lakes() {
		assert.True(t, covered[l.Name], "fixture %s has no test case", l.Name)
	}
}

// TestFixturesAreGenerated: the committed fixtures are exactly what the
// generator writes (byte for byte), so they can always be regenerated.
func TestFixturesAreGenerated(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, fixtures.Write(dir))
	var n int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want, err := os.ReadFile(p)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(lakesDir, rel))
		require.NoError(t, err, "fixture %s missing: run go generate ./harness/lake", rel)
		assert.Equal(t, want, got, "fixture %s differs from the generator: run go generate ./harness/lake", rel)
		n++
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, n, 40)
}

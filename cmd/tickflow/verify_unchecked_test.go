package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
)

// TestVerifyNothingSkippedInSilence: a table without kafka_partition/
// kafka_offset columns (issue 20: "4338 rows, 0 distinct records … OK")
// says what it could not check, --strict fails it, and an expected count it
// cannot confirm is never OK.
func TestVerifyNothingSkippedInSilence(t *testing.T) {
	dir := filepath.Join(fixtureLakes, "good-clicks")
	def := filepath.Join(dir, "clicks.glue.json")
	base := []string{"verify", "--dir", dir, "--table", def}
	cases := []struct {
		name    string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		{"unchecked rules are listed", nil, exitOK, []string{
			"distinct records not counted",
			"L12 not checked: table clicks has no integer kafka_partition/kafka_offset columns",
			"R01 not checked: no --expect-records N",
			"K01, K02, K03 not checked: no --brokers",
			"OK: the lake meets the contract (0 warnings; not checked: L12, R01, K01, K02, K03)",
		}, []string{"0 distinct records"}},
		{"--strict fails them", []string{"--strict"}, exitViolation, []string{
			"FAIL (--strict): rules not checked: L12, R01, K01, K02, K03",
			"verify: --strict: rules not checked: L12, R01, K01, K02, K03",
		}, []string{"OK:"}},
		{"more records expected than rows", []string{"--expect-records", "5000"}, exitViolation, []string{
			"R01 record-count", "expected 5000 records but the lake holds only 12 rows", "at least 4988 records are missing",
			// a table of your own: no offset coverage to look at, no sink to re-run
			"fix: table clicks has no kafka_partition/kafka_offset columns, so verify cannot name the missing records: compare with the source and deliver them again with the consumer that writes clicks",
		}, []string{"OK:", "see offset coverage", "re-run the sink"}},
		{"as many rows as expected cannot confirm the count", []string{"--expect-records", "12"}, exitViolation, []string{
			"R01 record-count", "cannot be confirmed", "fix: drop --expect-records, or write kafka_partition/kafka_offset columns",
		}, []string{"OK:"}},
		{"Kafka flags need --brokers", []string{"--expect-drained"}, exitUsage, []string{"--expect-drained", "--brokers"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runVerifyDLQ(t, append(base, tc.args...)...)
			all := out + errOut
			assert.Equal(t, tc.code, code, all)
			for _, s := range tc.want {
				assert.Contains(t, all, s)
			}
			for _, s := range tc.notWant {
				assert.NotContains(t, all, s)
			}
		})
	}

	t.Run("json carries the unchecked list", func(t *testing.T) {
		out, errOut, code := runVerifyDLQ(t, append(base, "--json", "--strict")...)
		assert.Equal(t, exitViolation, code, errOut)
		var rep lake.Report
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		assert.False(t, rep.RecordsCounted)
		assert.True(t, rep.Strict)
		assert.Equal(t, []string{"L12", "R01", "K01", "K02", "K03"}, rep.UncheckedRules())
		for _, u := range rep.Unchecked {
			assert.NotEmpty(t, u.Reason, u.Rule)
		}
	})

	t.Run("--strict without --brokers fails a clean, counted lake", func(t *testing.T) {
		out, errOut, code := runVerifyDLQ(t, "verify", "--dir", filepath.Join(fixtureLakes, "good-parquet"), "--expect-records", "25", "--strict")
		assert.Equal(t, exitViolation, code, out+errOut)
		assert.Contains(t, out, "K01, K02, K03 not checked: no --brokers")
		assert.NotContains(t, out, "R01 not checked")
	})
}

package lake_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/objstore"
)

// TestWithKafka checks good-parquet (partition 0: offsets 0–14, partition
// 1: 0–9) against Kafka offsets written by hand, one situation per case;
// TestVerifyAgainstKafka (cmd/tickflow) does it against a live world.
func TestWithKafka(t *testing.T) {
	part := func(p int32, start, end, committed int64) lake.KafkaPartOffsets {
		return lake.KafkaPartOffsets{Partition: p, LogStart: start, End: end, Committed: committed}
	}
	type miss struct {
		p    int32
		rule string
		r    lake.OffsetRange
	}
	cases := []struct {
		name  string
		parts []lake.KafkaPartOffsets
		opts  []lake.Option
		rules []string // error rules, sorted
		miss  []miss
		in    string // a message fragment
	}{
		{name: "complete", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 0, 10, 10)}},
		{name: "log start above the lake's first offset is fine", parts: []lake.KafkaPartOffsets{part(0, 5, 15, 15), part(1, 10, 10, 10)}},
		{name: "records after the commit: fine", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 0, 12, 10)}},
		{name: "records after the commit with ExpectDrained", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 0, 12, 10)},
			opts: []lake.Option{lake.ExpectDrained()}, rules: []string{"K02"}, miss: []miss{{1, "K02", lake.OffsetRange{First: 10, Last: 11}}},
			in: "Kafka partition 1: offsets 10–11 are in Kafka"},
		{name: "committed beyond the lake", parts: []lake.KafkaPartOffsets{part(0, 0, 20, 20), part(1, 0, 10, 10)},
			rules: []string{"K03"}, miss: []miss{{0, "K03", lake.OffsetRange{First: 15, Last: 19}}}, in: "after the lake's last offset 14"},
		{name: "a dead letter at the end is held", parts: []lake.KafkaPartOffsets{part(0, 0, 16, 16), part(1, 0, 10, 10)},
			opts: []lake.Option{lake.SkippedOffsets(0, 15)}},
		{name: "a partition the lake has nothing of, committed", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 0, 10, 10), part(2, 0, 5, 5)},
			rules: []string{"K03"}, miss: []miss{{2, "K03", lake.OffsetRange{First: 0, Last: 4}}}, in: "the lake holds none of this partition"},
		{name: "a partition the lake has nothing of, not committed", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 0, 10, 10), part(2, 3, 5, -1)},
			rules: []string{"K02"}, miss: []miss{{2, "K02", lake.OffsetRange{First: 3, Last: 4}}}, in: "committed nothing for it"},
		{name: "lake offsets beyond the end", parts: []lake.KafkaPartOffsets{part(0, 0, 10, 10), part(1, 0, 10, 10)},
			rules: []string{"K02"}, miss: []miss{{0, "K02", lake.OffsetRange{First: 10, Last: 14}}}, in: "Kafka never wrote them"},
		{name: "a partition Kafka does not have", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15)},
			rules: []string{"K02"}, in: "Kafka partition 1: the lake holds offsets 0–9 but topic t has only 1 partitions"},
		{name: "committed below the log start", parts: []lake.KafkaPartOffsets{part(0, 0, 15, 15), part(1, 12, 15, 10)},
			rules: []string{"K01"}, miss: []miss{{1, "K01", lake.OffsetRange{First: 10, Last: 11}}}, in: "expired (log start 12) before group g read them"},
		{name: "allow gaps: holes at the ends are not checked", parts: []lake.KafkaPartOffsets{part(0, 0, 20, 20), part(1, 0, 10, 10)},
			opts: []lake.Option{lake.AllowOffsetGaps()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := &lake.KafkaOffsets{Brokers: "b:9092", Topic: "t", Group: "g", Partitions: tc.parts}
			rep, err := lake.Check(context.Background(), fixtureStore(t, "good-parquet"), "", append(tc.opts, lake.WithKafka(k))...)
			require.NoError(t, err)
			var rules []string
			for _, v := range rep.Errors() {
				if len(rules) == 0 || rules[len(rules)-1] != v.Rule {
					rules = append(rules, v.Rule)
				}
			}
			assert.Equal(t, tc.rules, rules, "%v", rep.Violations)
			assert.Equal(t, len(tc.rules) == 0, rep.OK())
			require.NotNil(t, rep.Kafka)
			assert.Equal(t, "g", rep.Kafka.Group)
			var got []miss
			for _, kp := range rep.Kafka.Partitions {
				for _, m := range kp.Missing {
					got = append(got, miss{kp.Partition, m.Rule, m.OffsetRange})
				}
			}
			assert.Equal(t, tc.miss, got)
			if tc.in != "" {
				var msgs []string
				for _, v := range rep.Violations {
					msgs = append(msgs, v.Message)
				}
				assert.Contains(t, strings.Join(msgs, "\n"), tc.in)
			}
		})
	}
}

// TestUnchecked: every completeness rule that cannot run is listed, with its
// reason, and Strict fails on it.
func TestUnchecked(t *testing.T) {
	clicks := func(t *testing.T) lake.Option {
		def, err := lake.ParseTable("clicks.glue.json", readFixtureFile(t, "good-clicks", "clicks.glue.json"))
		require.NoError(t, err)
		return lake.WithTable(def)
	}
	committed := &lake.KafkaOffsets{Topic: "t", Group: "g", Partitions: []lake.KafkaPartOffsets{
		{Partition: 0, End: 15, Committed: 15}, {Partition: 1, End: 10, Committed: 10}}}
	none := &lake.KafkaOffsets{Topic: "t", Group: "nobody", Partitions: []lake.KafkaPartOffsets{
		{Partition: 0, End: 15, Committed: -1}, {Partition: 1, End: 10, Committed: -1}}}
	cases := []struct {
		name      string
		lake      string
		opts      func(t *testing.T) []lake.Option
		unchecked []string
		reason    string // of the first unchecked rule
		rules     []string
	}{
		{"everything given", "good-parquet", func(*testing.T) []lake.Option {
			return []lake.Option{lake.ExpectRecords(25), lake.WithKafka(committed)}
		}, nil, "", nil},
		{"no count, no Kafka", "good-parquet", func(*testing.T) []lake.Option { return nil },
			[]string{"R01", "K01", "K02", "K03"}, "no --expect-records N", nil},
		{"a group without commits", "good-parquet", func(*testing.T) []lake.Option {
			return []lake.Option{lake.ExpectRecords(25), lake.WithKafka(none)}
		}, []string{"K03"}, "group nobody has no committed offsets for topic t", nil},
		{"allow gaps", "good-parquet", func(*testing.T) []lake.Option {
			return []lake.Option{lake.ExpectRecords(25), lake.WithKafka(committed), lake.AllowOffsetGaps()}
		}, []string{"L12", "K02", "K03"}, "--allow-gaps", nil},
		{"no offset columns", "good-clicks", func(t *testing.T) []lake.Option { return []lake.Option{clicks(t)} },
			[]string{"L12", "R01", "K01", "K02", "K03"}, "table clicks has no integer kafka_partition/kafka_offset columns", nil},
		{"no offset columns, with Kafka", "good-clicks", func(t *testing.T) []lake.Option {
			return []lake.Option{clicks(t), lake.ExpectRecords(0), lake.WithKafka(committed)}
		}, []string{"L12", "K01", "K02", "K03"}, "table clicks has no", nil},
		{"no offset columns and more records expected than rows", "good-clicks", func(t *testing.T) []lake.Option {
			return []lake.Option{clicks(t), lake.ExpectRecords(5000)}
		}, []string{"L12", "K01", "K02", "K03"}, "table clicks", []string{"R01"}},
		{"no offset columns and as many rows as expected: still not OK", "good-clicks", func(t *testing.T) []lake.Option {
			return []lake.Option{clicks(t), lake.ExpectRecords(12)}
		}, []string{"L12", "K01", "K02", "K03"}, "table clicks", []string{"R01"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, strict := range []bool{false, true} {
				opts := tc.opts(t)
				if strict {
					opts = append(opts, lake.Strict())
				}
				rep, err := lake.Check(context.Background(), fixtureStore(t, tc.lake), "", opts...)
				require.NoError(t, err)
				assert.Equal(t, tc.unchecked, rep.UncheckedRules())
				assert.Equal(t, tc.rules, rep.Rules())
				if len(tc.unchecked) > 0 {
					assert.Contains(t, rep.Unchecked[0].Reason, tc.reason)
				}
				wantOK := len(tc.rules) == 0 && (!strict || len(tc.unchecked) == 0)
				assert.Equal(t, wantOK, rep.OK(), "strict=%v", strict)
				assert.Equal(t, strict && len(tc.unchecked) > 0, rep.StrictFailure())

				var buf strings.Builder
				require.NoError(t, rep.WriteText(&buf))
				out := buf.String()
				for _, id := range tc.unchecked {
					assert.Contains(t, out, id)
				}
				if len(tc.unchecked) > 0 {
					assert.Contains(t, out, "NOT CHECKED")
					assert.Contains(t, out, " not checked: "+tc.reason)
				} else {
					assert.NotContains(t, out, "NOT CHECKED")
				}
				if wantOK {
					assert.Contains(t, out, "OK: the lake meets the contract")
				} else {
					assert.Contains(t, out, "FAIL")
				}
				if tc.lake == "good-clicks" {
					assert.Contains(t, out, "distinct records not counted")
				}
			}
		})
	}
}

func readFixtureFile(t *testing.T, lakeName, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lakesDir, lakeName, file))
	require.NoError(t, err)
	return b
}

// A lake whose first object of a partition is gone, where Kafka's log
// no longer reaches back that far: offsets cannot show the loss, so the
// report says what it could not check (and --strict fails) instead of OK;
// a record count catches it.
func TestFirstObjectGoneBelowTheLogStart(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join(lakesDir, "good-parquet"))))
	require.NoError(t, os.Remove(filepath.Join(dir, "stock_ticks/dt=2024-01-05/hour=10/stock-ticks+1+00000000000000000000.parquet")))
	st, err := objstore.NewDir(dir)
	require.NoError(t, err)
	k := &lake.KafkaOffsets{Brokers: "b:9092", Topic: "t", Group: "g", Partitions: []lake.KafkaPartOffsets{
		{Partition: 0, LogStart: 0, End: 15, Committed: 15}, {Partition: 1, LogStart: 7, End: 10, Committed: 10}}}

	rep, err := lake.Check(context.Background(), st, "", lake.WithKafka(k))
	require.NoError(t, err)
	assert.Empty(t, rep.Errors(), "offsets alone show no hole")
	assert.Contains(t, rep.UncheckedRules(), "K01")
	var reasons []string
	for _, u := range rep.Unchecked {
		reasons = append(reasons, u.Reason)
	}
	assert.Contains(t, strings.Join(reasons, "\n"), "partition 1 (lake from 5, log from 7: 0–4)")
	var buf strings.Builder
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), "NOT CHECKED")

	rep, err = lake.Check(context.Background(), st, "", lake.WithKafka(k), lake.Strict())
	require.NoError(t, err)
	assert.False(t, rep.OK(), "--strict fails what could not be checked")

	rep, err = lake.Check(context.Background(), st, "", lake.WithKafka(k), lake.ExpectRecords(25))
	require.NoError(t, err)
	assert.Equal(t, []string{"R01"}, rep.Rules(), "a record count sees the 5 missing records")
	assert.NotContains(t, rep.UncheckedRules(), "K01")

	// The same lake complete: nothing to say.
	rep, err = lake.Check(context.Background(), fixtureStore(t, "good-parquet"), "", lake.WithKafka(k))
	require.NoError(t, err)
	assert.NotContains(t, rep.UncheckedRules(), "K01")
	assert.True(t, rep.OK())
}

package demo

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tickflow/tickflow/harness/lake"
)

// The tiling check must fail for every way a lake can miss offsets that
// lake.Check alone cannot see (it only knows the offsets the lake has).
func TestCoverage(t *testing.T) {
	full := lake.PartitionCoverage{Partition: 0, Objects: 2, Rows: 10, Distinct: 10, FirstOffset: 0, LastOffset: 9}
	tests := []struct {
		name         string
		parts        []lake.PartitionCoverage
		ends         map[int32]int64
		wantGaps     int64
		wantOverlaps int
		wantProblem  string // "" when the lake tiles
	}{
		{"tiles", []lake.PartitionCoverage{full}, map[int32]int64{0: 10, 1: 0}, 0, 0, ""},
		{"head missing", []lake.PartitionCoverage{{Partition: 0, Distinct: 7, FirstOffset: 3, LastOffset: 9}},
			map[int32]int64{0: 10}, 3, 0, "starts at offset 3"},
		{"tail missing", []lake.PartitionCoverage{{Partition: 0, Distinct: 8, FirstOffset: 0, LastOffset: 7}},
			map[int32]int64{0: 10}, 2, 0, "ends at offset 7, the partition at 9"},
		{"hole", []lake.PartitionCoverage{{Partition: 0, Distinct: 9, FirstOffset: 0, LastOffset: 9,
			Gaps: []lake.OffsetRange{{First: 4, Last: 4}}}}, map[int32]int64{0: 10}, 1, 0, "offsets missing"},
		{"partition missing", []lake.PartitionCoverage{full}, map[int32]int64{0: 10, 1: 5}, 5, 0, "partition 1: offsets 0–4"},
		{"unknown partition", []lake.PartitionCoverage{full, {Partition: 7, Distinct: 1}}, map[int32]int64{0: 10}, 0, 0, "partition 7, which the topic does not have"},
		{"overlap", []lake.PartitionCoverage{{Partition: 0, Distinct: 10, FirstOffset: 0, LastOffset: 9, Overlaps: 1}},
			map[int32]int64{0: 10}, 0, 1, "overlap"},
		{"dead letters declared", []lake.PartitionCoverage{{Partition: 0, Distinct: 9, Skipped: 1, FirstOffset: 0, LastOffset: 9}},
			map[int32]int64{0: 10}, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gaps, overlaps, problems := coverage(&lake.Report{Partitions: tc.parts}, tc.ends)
			assert.Equal(t, tc.wantGaps, gaps)
			assert.Equal(t, tc.wantOverlaps, overlaps)
			if tc.wantProblem == "" {
				assert.Empty(t, problems)
				return
			}
			assert.NotEmpty(t, problems)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tc.wantProblem)
			}
			assert.True(t, found, "want a problem with %q, got %v", tc.wantProblem, problems)
		})
	}
}

func TestGroup(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		assert.Equal(t, want, group(in))
	}
}

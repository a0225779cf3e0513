package lake_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tickflow/tickflow/harness/lake"
	"github.com/tickflow/tickflow/harness/sink"
)

func TestParseSkippedOffsets(t *testing.T) {
	cases := []struct {
		in   string
		want map[int32][]int64
		err  string
	}{
		{"", map[int32][]int64{}, ""},
		{"0:5", map[int32][]int64{0: {5}}, ""},
		{" 0:7, 0:5 ,3:9-11,0:5", map[int32][]int64{0: {5, 7}, 3: {9, 10, 11}}, ""},
		{"0:4-4", map[int32][]int64{0: {4}}, ""},
		{"5", nil, "no ':'"},
		{"x:5", nil, "partition is not a number"},
		{"-1:5", nil, "partition is not a number"},
		{"0:x", nil, "offset is not a number"},
		{"0:9-3", nil, "range end"},
		{"0:0-5000000000", nil, "range longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := lake.ParseSkippedOffsets(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Contains(t, err.Error(), tc.in, "the error names the item")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestDeadLetterHeadersMatchSink: lake repeats the sink's header names so
// it does not import the sink; they must not drift apart.
func TestDeadLetterHeadersMatchSink(t *testing.T) {
	assert.Equal(t, []string{sink.HeaderTopic, sink.HeaderPartition, sink.HeaderOffset}, lake.DeadLetterHeaders())
}

func TestDeadLettersCount(t *testing.T) {
	d := &lake.DeadLetters{Offsets: map[int32][]int64{0: {1, 2}, 4: {9}}}
	assert.EqualValues(t, 3, d.Count())
	assert.EqualValues(t, 0, (&lake.DeadLetters{}).Count())
}
